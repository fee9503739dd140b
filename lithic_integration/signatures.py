"""Standard Webhooks signatures, as Lithic signs ASA requests and event webhooks.

`webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256>` over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64 part of a `whsec_` secret.
The HMAC itself comes from the `standardwebhooks` library (the scheme Lithic's SDK uses); this
module adds what the library's `verify()` lacks for a server: an injectable clock, refusing
malformed headers instead of raising arbitrary exceptions, and no JSON parsing of the body (a
malformed body with a good signature is Lithic's, and is answered, not refused).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import time
from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret
MIN_KEY_BYTES = 16
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class SignatureError(Exception):
    """The request is not signed with our secret, or not recently: refuse it (401)."""

    code = "bad_signature"


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name) or headers.get(name.title()) or ""
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value Lithic sends for this body (used by tests and the bench)."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body.decode())


def secret_problem(secret: str) -> str:
    """Why `secret` cannot sign or verify anything, or "" when it can.

    A Standard Webhooks secret is `whsec_` followed by base64 of the key; `whsec_` alone (or
    base64 of nothing) would make an HMAC with an empty key, which anyone can compute.
    """
    raw = secret.strip()
    key = raw[len(SECRET_PREFIX) :] if raw.startswith(SECRET_PREFIX) else raw
    if not key:
        return "it has no key after `whsec_`"
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return "the part after `whsec_` is not base64"
    if len(decoded) < MIN_KEY_BYTES:
        return f"its key is {len(decoded)} bytes; at least {MIN_KEY_BYTES} are needed"
    return ""


def verify_any(*, secrets: list[str], headers: Mapping[str, str], body: bytes) -> str:
    """The webhook-id of a request signed with any of `secrets` (rotation), or SignatureError.

    Lithic keeps the previous secret valid for a while after a rotation, so the current one and
    those being retired are all tried; with none at all every request is refused.
    """
    first_error: SignatureError | None = None
    for secret in secrets or [""]:
        try:
            return verify(secret=secret, headers=headers, body=body)
        except SignatureError as exc:
            first_error = first_error or exc
    assert first_error is not None  # noqa: S101 - the loop ran at least once
    raise first_error


def configured_secrets(current: str, others: list[str]) -> list[str]:
    """The secrets to try, current first, without blanks or repeats."""
    return list(dict.fromkeys(s.strip() for s in [current, *others] if s and s.strip()))


def verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Check a signed request; returns its webhook-id or raises SignatureError."""
    if not secret:
        # An unset secret must refuse everything, not accept an empty HMAC key.
        raise SignatureError("no signing secret configured")
    msg_id = _header(headers, ID_HEADER)
    raw_timestamp = _header(headers, TIMESTAMP_HEADER)
    signatures = _header(headers, SIGNATURE_HEADER)
    # Seconds since the epoch, as digits; a number too long to be a time is no timestamp (and
    # would overflow the float comparison below).
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit() and len(raw_timestamp) <= 12):
        raise SignatureError("webhook-timestamp is not an integer of seconds")
    timestamp = int(raw_timestamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp outside the tolerance")
    try:
        expected = sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    except (UnicodeDecodeError, binascii.Error, ValueError):
        raise SignatureError("body or secret cannot be signed") from None
    expected_bytes = base64.b64decode(expected.split(",", 1)[1])
    for candidate in signatures.split(" "):
        version, _, value = candidate.partition(",")
        if version != "v1" or not value:
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected_bytes, given):
            return msg_id
    raise SignatureError("no matching signature")
