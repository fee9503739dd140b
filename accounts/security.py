"""The security event log: one call records who did or tried what, to what, from where, and how
it ended.

The log is a hash chain. Rows are numbered by `seq` from 1 without gaps; each row's `row_hash`
is SHA-256 over the previous row's hash and the row's own canonical content (`event_content`).
Appending takes a transaction-scoped lock, so two writers never take the same place in the
chain. `verify_chain` (and `manage.py verify_security_log`) walks the chain and names every row
that was edited, removed or slipped in afterwards.

Refusals of requests from outside (bad signatures, bad API keys) are counted per origin over a
window (`security_event_record_refusal`): the first of a window is written at once, the rest
become one row when the window has ended, so a flood cannot fill the disk.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import (
    SecurityEvent,
    SecurityEventOutcome,
    SecurityRefusalWindow,
)
from core.audit import client_ip, current_audit

logger = logging.getLogger("accounts.security")

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key of the chain's tail ("security log" in ASCII, folded to 63 bits).
CHAIN_LOCK_KEY = int.from_bytes(b"seclog", "big")
# An ended window is summed up only this long after its end, so that a refusal counted a
# moment late (a clock a little behind) still lands in it.
WINDOW_GRACE = timedelta(seconds=5)
# Ended windows summed up per call: a backlog is worked off over several calls.
FLUSH_BATCH = 200
# Closed windows are kept this long (they are counters; the log holds what they counted).
WINDOW_RETENTION = timedelta(days=1)

# Header carrying the message id of a Standard Webhooks request (Lithic events and ASA).
_WEBHOOK_ID_HEADER = "webhook-id"


def _clip(value: str, field: str) -> str:
    return value[: SecurityEvent._meta.get_field(field).max_length]


def _valid_ip(value: str | None) -> str | None:
    """An address as the column stores and returns it, or None.

    A forwarded-for header is client-controlled text; the column only takes addresses. An
    IPv4-mapped IPv6 address is kept as IPv4, and a zone index is dropped, so that the text
    hashed into the chain is the text PostgreSQL gives back.
    """
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_content(event: SecurityEvent) -> str:
    """The row's canonical content: every field but its hashes, as compact sorted JSON."""
    return json.dumps(
        {
            "seq": event.seq,
            "kind": event.kind,
            "outcome": event.outcome,
            "occurred_at": _timestamp(event.occurred_at),
            "user_id": event.user_id,
            "actor": event.actor,
            "ip": event.ip or None,
            "user_agent": event.user_agent,
            "path": event.path,
            "webhook_id": event.webhook_id,
            "target": event.target,
            "detail": event.detail,
            "count": event.count,
            "window_end": _timestamp(event.window_end),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def chain_hash(prev_hash: str, event: SecurityEvent) -> str:
    return hashlib.sha256(f"{prev_hash}\n{event_content(event)}".encode()).hexdigest()


def _lock_chain(alias: str) -> None:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def append(**fields) -> SecurityEvent:
    """Add one row at the end of the chain, in a transaction of its own (or the caller's)."""
    alias = router.db_for_write(SecurityEvent)
    for attempt in range(3):
        try:
            with transaction.atomic(using=alias):
                _lock_chain(alias)
                last = (
                    SecurityEvent.objects.using(alias)
                    .order_by("-seq")
                    .values_list("seq", "row_hash")
                    .first()
                )
                seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
                event = SecurityEvent(seq=seq, prev_hash=prev_hash, **fields)
                # The timestamps as the database keeps them: to the microsecond, in UTC.
                event.occurred_at = event.occurred_at.astimezone(UTC)
                if event.window_end is not None:
                    event.window_end = event.window_end.astimezone(UTC)
                event.row_hash = chain_hash(prev_hash, event)
                event.save(using=alias, force_insert=True)
                return event
        except IntegrityError:
            # SQLite has no advisory lock: two processes took the same place. PostgreSQL never
            # gets here (the lock serialises the writers).
            if attempt == 2 or connections[alias].vendor == "postgresql":
                raise
    raise AssertionError("unreachable")


def user_target(user) -> str:
    """How a user is named as the target of an event."""
    return f"accounts.user:{user.pk}"


def security_event_record(
    *,
    kind: str,
    request: HttpRequest | None = None,
    detail: str = "",
    outcome: str = SecurityEventOutcome.FAILURE,
    target: str = "",
    user=None,
) -> SecurityEvent:
    """Record a security event; origin and actor come from the request or the audit context.

    `user` names the person the event is about when the request's user is not (a failed
    login, a password reset). Callers pass a reason in `detail`, never a request body, a
    secret or a signature.
    """
    audit = current_audit()
    if request is not None:
        ip = client_ip(request)
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        path = request.path
        webhook_id = request.headers.get(_WEBHOOK_ID_HEADER, "")
        acting = getattr(request, "user", None)
    else:
        ip, user_agent, path, webhook_id = audit.ip, audit.user_agent, "", ""
        acting = audit.acting_user()
    if acting is not None and not getattr(acting, "is_authenticated", False):
        acting = None
    return append(
        kind=kind,
        outcome=outcome,
        user=user if user is not None else acting,
        actor=_clip(audit.actor, "actor"),
        ip=_valid_ip(ip),
        user_agent=_clip(user_agent, "user_agent"),
        path=_clip(path, "path"),
        webhook_id=_clip(webhook_id, "webhook_id"),
        target=_clip(target, "target"),
        detail=detail,
    )


def _window_start(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


_UPSERT_SQL = """
INSERT INTO security_refusal_windows
    (kind, origin, target, window_start, count, last_at, path, detail, closed)
VALUES (%s, %s, %s, %s, 1, %s, %s, %s, false)
ON CONFLICT (kind, origin, target, window_start)
DO UPDATE SET count = security_refusal_windows.count + 1, last_at = excluded.last_at
RETURNING count
"""


def _count_refusal(kind: str, origin: str, target: str, path: str, detail: str) -> int:
    """Count one refusal in its window; how many the window holds now (1: it just opened)."""
    now = timezone.now()
    start = _window_start(now, settings.SECURITY_LOG_AGGREGATE_SECONDS)
    alias = router.db_for_write(SecurityRefusalWindow)
    with connections[alias].cursor() as cursor:
        cursor.execute(
            _UPSERT_SQL,
            [kind, origin, target, start, now, _clip(path, "path"), detail],
        )
        return cursor.fetchone()[0]


def security_event_record_refusal(
    *, kind: str, request: HttpRequest, reason: str, target: str = "", origin: str = ""
) -> SecurityEvent | None:
    """Record a refused request (a bad signature, a bad API key, a failed login); never raises.

    `origin` groups the refusals: the client's address unless given (`*` for a refusal that
    is about everyone at once, such as a budget shared by all clients).

    Identical refusals (same kind, origin and target) are counted over a window of
    SECURITY_LOG_AGGREGATE_SECONDS: the first is written at once, the others become one row
    when the window has ended (`security_log_flush`). 0 turns counting off: a row each.

    The refusal stands without its log row: a failing database must not turn a 401 into a
    500, which the sender (Lithic, or an attacker) would see differently.
    """
    try:
        if settings.SECURITY_LOG_AGGREGATE_SECONDS <= 0:
            return security_event_record(kind=kind, request=request, detail=reason, target=target)
        origin = origin or _valid_ip(client_ip(request)) or "unknown"
        target = _clip(target, "target")
        alias = router.db_for_write(SecurityRefusalWindow)
        with transaction.atomic(using=alias):
            if _count_refusal(kind, origin, target, request.path, reason) > 1:
                return None
            event = security_event_record(kind=kind, request=request, detail=reason, target=target)
        security_log_flush()
        return event
    except DatabaseError:
        logger.exception("could not record a refused request (%s) to %s", kind, request.path)
        return None


def security_log_flush(now: datetime | None = None) -> int:
    """Write one row for each ended window that counted more than its first refusal.

    Called when a window opens, and by `manage.py flush_security_log` (from cron, every
    minute) for the windows no later refusal comes after. Safe to run anywhere at once: each
    window is taken by one caller (SKIP LOCKED) and closed in the same transaction as its row.
    Returns how many windows it closed.
    """
    now = now or timezone.now()
    window = timedelta(seconds=max(settings.SECURITY_LOG_AGGREGATE_SECONDS, 1))
    alias = router.db_for_write(SecurityRefusalWindow)
    with transaction.atomic(using=alias):
        ended = list(
            SecurityRefusalWindow.objects.using(alias)
            .select_for_update(skip_locked=True)
            .filter(closed=False, window_start__lt=now - window - WINDOW_GRACE)
            .order_by("window_start", "id")[:FLUSH_BATCH]
        )
        for row in ended:
            if row.count > 1:
                more = row.count - 1
                append(
                    kind=row.kind,
                    outcome=SecurityEventOutcome.FAILURE,
                    occurred_at=row.window_start,
                    window_end=row.last_at,
                    count=more,
                    ip=_valid_ip(row.origin),
                    target=row.target,
                    path=row.path,
                    actor="",
                    detail=(
                        f"{more} more identical refusal{'s' if more > 1 else ''} from this "
                        f"origin in the {window.total_seconds():.0f} s window; the last: "
                        f"{row.detail}"
                    ),
                )
        if ended:
            SecurityRefusalWindow.objects.using(alias).filter(
                pk__in=[row.pk for row in ended]
            ).update(closed=True)
        SecurityRefusalWindow.objects.using(alias).filter(
            closed=True, window_start__lt=now - WINDOW_RETENTION
        ).delete()
    return len(ended)


# ----------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.message}" if self.seq is not None else self.message


@dataclass
class ChainReport:
    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    def __post_init__(self) -> None:
        self.problems: list[ChainProblem] = []


def verify_chain(
    *, expect_head: tuple[int, str] | None = None, batch: int = 5000
) -> tuple[ChainReport, Iterator[ChainProblem]]:
    """Walk the chain from row 1; the report fills in as the problems are read."""
    report = ChainReport()

    def walk() -> Iterator[ChainProblem]:
        alias = router.db_for_write(SecurityEvent)
        expected_seq, prev_hash = 1, GENESIS_HASH
        anchor_seen = expect_head is None
        rows = SecurityEvent.objects.using(alias).order_by("seq").iterator(chunk_size=batch)
        for event in rows:
            report.rows += 1
            if event.seq != expected_seq:
                kind = "missing" if event.seq > expected_seq else "out of order"
                yield ChainProblem(
                    event.seq,
                    f"expected row {expected_seq} here: rows {kind} before it",
                )
            if event.prev_hash != prev_hash:
                yield ChainProblem(
                    event.seq, "its previous-row hash does not match the row before it"
                )
            if event.row_hash != chain_hash(event.prev_hash, event):
                yield ChainProblem(event.seq, "its content does not match its hash (edited)")
            if expect_head is not None and event.seq == expect_head[0]:
                anchor_seen = True
                if event.row_hash != expect_head[1]:
                    yield ChainProblem(event.seq, "its hash is not the recorded head's")
            expected_seq, prev_hash = event.seq + 1, event.row_hash
            report.head_seq, report.head_hash = event.seq, event.row_hash
        if not anchor_seen:
            yield ChainProblem(
                None, f"the recorded head, row {expect_head[0]}, is gone (rows removed at the end)"
            )

    return report, walk()
