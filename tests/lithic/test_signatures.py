"""Standard Webhooks verification, checked against the Lithic SDK's own test vector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lithic_integration import signatures

VECTOR = json.loads(Path("tests/fixtures/lithic/sdk_signature_vector.json").read_text())
SECRET = VECTOR["secret"]
BODY = VECTOR["body"].encode()
TIMESTAMP = int(VECTOR["webhook-timestamp"])


def headers(**overrides) -> dict[str, str]:
    values = {
        name: VECTOR[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def test_sdk_vector_is_exactly_the_values_the_issue_gives():
    assert SECRET == "whsec_zlFsbBZ8Xcodlpcu6NDTdSzZRLSdhkst"
    assert VECTOR["webhook-id"] == "msg_2Lh9KRb0pzN4LePd3XiA4v12Axj"
    assert TIMESTAMP == 1676312382
    assert VECTOR["webhook-signature"] == "v1,Dwa0AHInLL3XFo2sxcHamOQDrJNi7F654S3L6skMAOI="


def test_sdk_vector_verifies():
    assert signatures.verify(secret=SECRET, headers=headers(), body=BODY, now=TIMESTAMP) == (
        "msg_2Lh9KRb0pzN4LePd3XiA4v12Axj"
    )


def test_sign_reproduces_the_sdk_signature():
    signed = signatures.sign(
        secret=SECRET, msg_id=VECTOR["webhook-id"], timestamp=TIMESTAMP, body=BODY
    )
    assert signed == VECTOR["webhook-signature"]


def test_one_changed_byte_of_the_body_is_refused():
    tampered = BODY.replace(b"sit Lorem", b"sit Lorex", 1)
    with pytest.raises(signatures.SignatureError):
        signatures.verify(secret=SECRET, headers=headers(), body=tampered, now=TIMESTAMP)


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_or_future_timestamp_is_refused(skew):
    with pytest.raises(signatures.SignatureError, match="tolerance"):
        signatures.verify(secret=SECRET, headers=headers(), body=BODY, now=TIMESTAMP + skew)


@pytest.mark.parametrize("skew", [-300, 300])
def test_five_minutes_either_way_is_accepted(skew):
    assert (
        signatures.verify(secret=SECRET, headers=headers(), body=BODY, now=TIMESTAMP + skew)
        == VECTOR["webhook-id"]
    )


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_unsigned_request_is_refused(missing):
    with pytest.raises(signatures.SignatureError, match="missing"):
        signatures.verify(
            secret=SECRET, headers=headers(**{missing: None}), body=BODY, now=TIMESTAMP
        )


def test_signed_timestamp_cannot_be_moved():
    # Replaying an old request with a fresh timestamp header breaks the signature.
    moved = headers(**{"webhook-timestamp": str(TIMESTAMP + 60)})
    with pytest.raises(signatures.SignatureError, match="no matching"):
        signatures.verify(secret=SECRET, headers=moved, body=BODY, now=TIMESTAMP + 60)


def test_one_good_signature_among_several_is_enough():
    several = headers(
        **{"webhook-signature": "v1,AAAA v2,xyz garbage " + VECTOR["webhook-signature"]}
    )
    assert (
        signatures.verify(secret=SECRET, headers=several, body=BODY, now=TIMESTAMP)
        == (VECTOR["webhook-id"])
    )


@pytest.mark.parametrize(
    "value", ["9" * 400, "9" * 13, "-1676312382", "1676312382.5", " 1676312382", "1_676_312_382"]
)
def test_a_timestamp_that_is_no_time_is_refused_not_crashing(value):
    # A 400-digit integer parses, and then overflowed the float comparison with the clock.
    with pytest.raises(signatures.SignatureError, match="not an integer of seconds"):
        signatures.verify(
            secret=SECRET, headers=headers(**{"webhook-timestamp": value}), body=BODY, now=TIMESTAMP
        )


@pytest.mark.parametrize("value", ["v1,", "v1,!!!notbase64", "nonsense", "v1,AAAA"])
def test_malformed_signatures_are_refused_not_crashing(value):
    with pytest.raises(signatures.SignatureError):
        signatures.verify(
            secret=SECRET, headers=headers(**{"webhook-signature": value}), body=BODY, now=TIMESTAMP
        )


def test_wrong_secret_is_refused():
    with pytest.raises(signatures.SignatureError):
        signatures.verify(secret="whsec_" + "A" * 32, headers=headers(), body=BODY, now=TIMESTAMP)


def test_no_configured_secret_refuses_everything():
    with pytest.raises(signatures.SignatureError, match="no signing secret"):
        signatures.verify(secret="", headers=headers(), body=BODY, now=TIMESTAMP)


def test_non_utf8_body_is_refused():
    with pytest.raises(signatures.SignatureError):
        signatures.verify(secret=SECRET, headers=headers(), body=b"\xff\xfe", now=TIMESTAMP)


@pytest.mark.django_db
def test_endpoint_accepts_the_vector_at_its_time_and_refuses_it_now(
    client, settings, monkeypatch, asa_process
):
    settings.LITHIC_ASA_SECRET = SECRET
    # Now (years later) the vector is stale: refused, nothing recorded.
    response = client.post(
        "/lithic/asa/", data=BODY, content_type="application/json", headers=headers()
    )
    assert response.status_code == 401
    # At its own time it verifies; the body is not an authorization, so it is a recorded decline.
    monkeypatch.setattr(signatures.time, "time", lambda: TIMESTAMP)
    response = client.post(
        "/lithic/asa/", data=BODY, content_type="application/json", headers=headers()
    )
    assert response.status_code == 200
    # Not an authorization: no token to repeat, and the malformed request's decline.
    assert response.json() == {"result": "SUSPECTED_FRAUD"}
