"""The security log is a hash chain that finds tampering, and a flood cannot fill it."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import ProgrammingError, connection, connections, transaction
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import (
    SecurityEvent,
    SecurityEventKind,
    SecurityEventOutcome,
    SecurityRefusalWindow,
)
from accounts.security import (
    GENESIS_HASH,
    chain_hash,
    security_event_record,
    security_event_record_refusal,
    security_log_flush,
    verify_chain,
)
from core.roles import owner_connection

pytestmark = pytest.mark.django_db

TRIGGER = "security_events_append_only"
# Long windows: a test's refusals never straddle two of them.
WINDOW = 3600
AFTER_THE_WINDOW = timedelta(seconds=2 * WINDOW)


def record(n: int, **fields) -> list[SecurityEvent]:
    return [
        security_event_record(kind=SecurityEventKind.LOGIN_FAILED, detail=f"attempt {i}", **fields)
        for i in range(n)
    ]


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_security_log", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def verify_fails(*args: str) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError, match="NOT intact"):
        call_command("verify_security_log", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def as_owner(*statements: tuple[str, list], trigger_off: bool = True) -> None:
    """Run statements as the owner role with the append-only trigger off: what an attacker
    holding the owner's password (or a superuser) can do."""
    with owner_connection() as owner:
        assert owner
        with transaction.atomic(), connection.cursor() as cursor:
            if trigger_off:
                cursor.execute(f"ALTER TABLE security_events DISABLE TRIGGER {TRIGGER}")
            for sql, params in statements:
                cursor.execute(sql, params)
            if trigger_off:
                cursor.execute(f"ALTER TABLE security_events ENABLE TRIGGER {TRIGGER}")


def test_rows_are_numbered_and_each_hash_covers_the_previous_one():
    events = record(3)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.row_hash
    for event in SecurityEvent.objects.order_by("seq"):  # as stored, not as built
        assert event.row_hash == chain_hash(event.prev_hash, event)
    output = verify()
    assert "intact: 3 row(s)" in output
    assert f"Head 3:{events[-1].row_hash}" in output


def test_an_event_names_its_actor_target_origin_and_outcome(operator):
    request = RequestFactory().post(
        "/admin/login/", REMOTE_ADDR="::ffff:203.0.113.9", HTTP_USER_AGENT="Firefox/140"
    )
    request.user = operator
    event = security_event_record(
        kind=SecurityEventKind.PII_REVEALED,
        request=request,
        outcome=SecurityEventOutcome.SUCCESS,
        target="accounts.account:7.tax_id",
        detail="ticket OPS-12: KYC review",
    )
    stored = SecurityEvent.objects.get(pk=event.pk)
    assert (stored.user, stored.ip, stored.user_agent, stored.path) == (
        operator,
        "203.0.113.9",  # an IPv4-mapped address is kept as IPv4, as hashed
        "Firefox/140",
        "/admin/login/",
    )
    assert (stored.target, stored.outcome) == ("accounts.account:7.tax_id", "success")
    assert stored.row_hash == chain_hash(stored.prev_hash, stored)


@pytest.mark.django_db(transaction=True)
def test_a_row_edited_by_the_owner_role_is_found():
    events = record(4)
    as_owner(("UPDATE security_events SET detail = 'nothing to see' WHERE seq = 2", []))
    problems = verify_fails()
    assert "row 2: its content does not match its hash (edited)" in problems
    assert SecurityEvent.objects.get(pk=events[1].pk).detail == "nothing to see"


@pytest.mark.django_db(transaction=True)
def test_an_edit_that_recomputes_the_rows_own_hash_breaks_the_next_link():
    record(3)
    forged = SecurityEvent.objects.get(seq=2)
    forged.detail = "forged"
    as_owner(
        (
            "UPDATE security_events SET detail = %s, row_hash = %s WHERE seq = 2",
            [forged.detail, chain_hash(forged.prev_hash, forged)],
        )
    )
    assert "row 3: its previous-row hash does not match" in verify_fails()


@pytest.mark.django_db(transaction=True)
def test_a_removed_row_is_found():
    record(4)
    as_owner(("DELETE FROM security_events WHERE seq = 2", []))
    problems = verify_fails()
    assert "row 3: expected row 2 here: rows missing before it" in problems


@pytest.mark.django_db(transaction=True)
def test_a_row_slipped_in_is_found():
    events = record(2)
    as_owner(
        (
            "INSERT INTO security_events (seq, kind, outcome, occurred_at, actor, user_agent, "
            "path, webhook_id, target, detail, count, prev_hash, row_hash) "
            "VALUES (3, 'login', 'success', now(), '', '', '', '', '', 'made up', 1, %s, %s)",
            [events[1].row_hash, "f" * 64],
        ),
        trigger_off=False,  # the trigger refuses changes, not additions
    )
    assert "row 3: its content does not match its hash (edited)" in verify_fails()


@pytest.mark.django_db(transaction=True)
def test_rows_removed_at_the_end_are_found_against_a_recorded_head():
    record(3)
    head = verify().rsplit("Head ", 1)[1].strip()
    as_owner(("DELETE FROM security_events WHERE seq = 3", []))
    assert "intact: 2 row(s)" in verify()  # the chain alone cannot tell
    assert "the recorded head, row 3, is gone" in verify_fails("--expect-head", head)


def test_a_malformed_head_is_a_usage_error():
    with pytest.raises(CommandError, match="--expect-head takes SEQ:HASH"):
        verify("--expect-head", "3:nothex")


def test_the_runtime_role_may_not_truncate_the_log():
    record(1)
    with (
        pytest.raises(ProgrammingError, match="permission denied for table security_events"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE security_events")


@pytest.mark.django_db(transaction=True)
def test_writers_at_once_take_distinct_places_in_one_chain():
    threads, errors = [], []

    def write(n: int) -> None:
        try:
            record(10, target=f"thread:{n}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    for n in range(6):
        threads.append(threading.Thread(target=write, args=(n,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(SecurityEvent.objects.values_list("seq", flat=True)) == list(range(1, 61))
    report, problems = verify_chain()
    assert list(problems) == [] and report.rows == 60


# ----------------------------------------------------------------------------- refusals


def refused(ip: str = "198.51.100.7", path: str = "/webhooks/lithic/"):
    request = RequestFactory().post(path, REMOTE_ADDR=ip)
    return security_event_record_refusal(
        kind=SecurityEventKind.WEBHOOK_BAD_SIGNATURE, request=request, reason="bad signature"
    )


def test_a_flood_from_one_origin_is_one_row_then_one_count(settings):
    settings.SECURITY_LOG_AGGREGATE_SECONDS = WINDOW
    first = refused()
    for _ in range(49):
        assert refused() is None
    assert SecurityEvent.objects.count() == 1 and first.count == 1
    window = SecurityRefusalWindow.objects.get()
    assert window.count == 50 and not window.closed

    assert security_log_flush() == 0  # the window has not ended yet
    assert security_log_flush(now=timezone.now() + AFTER_THE_WINDOW) == 1
    summary = SecurityEvent.objects.get(seq=2)
    assert (summary.kind, summary.ip, summary.count) == (
        SecurityEventKind.WEBHOOK_BAD_SIGNATURE,
        "198.51.100.7",
        49,
    )
    assert summary.occurred_at == window.window_start and summary.window_end == window.last_at
    assert "49 more identical refusals" in summary.detail
    assert SecurityRefusalWindow.objects.get().closed
    assert security_log_flush(now=timezone.now() + AFTER_THE_WINDOW) == 0  # once only
    report, problems = verify_chain()
    assert list(problems) == [] and report.rows == 2


def test_each_origin_and_kind_counts_apart(settings):
    settings.SECURITY_LOG_AGGREGATE_SECONDS = WINDOW
    refused("198.51.100.7")
    refused("198.51.100.8")
    refused("198.51.100.8")
    security_event_record_refusal(
        kind=SecurityEventKind.API_KEY_REFUSED,
        request=RequestFactory().get("/api/v1/cards/", REMOTE_ADDR="198.51.100.7"),
        reason="invalid_api_key",
    )
    assert SecurityEvent.objects.count() == 3
    assert SecurityRefusalWindow.objects.count() == 3


def test_a_single_refusal_in_a_window_leaves_no_summary(settings):
    settings.SECURITY_LOG_AGGREGATE_SECONDS = WINDOW
    refused()
    out = io.StringIO()
    call_command("flush_security_log", stdout=out)
    assert SecurityEvent.objects.count() == 1
    assert security_log_flush(now=timezone.now() + AFTER_THE_WINDOW) == 1
    assert SecurityEvent.objects.count() == 1  # nothing more to say


def test_a_window_opening_sums_up_those_that_ended(settings):
    settings.SECURITY_LOG_AGGREGATE_SECONDS = WINDOW
    refused("198.51.100.7")
    refused("198.51.100.7")
    SecurityRefusalWindow.objects.update(window_start=timezone.now() - AFTER_THE_WINDOW)
    refused("198.51.100.9")  # opens a window: the ended one is written out first
    kinds = list(SecurityEvent.objects.order_by("seq").values_list("ip", "count"))
    assert kinds == [("198.51.100.7", 1), ("198.51.100.9", 1), ("198.51.100.7", 1)]


def test_counting_off_writes_a_row_each(settings):
    settings.SECURITY_LOG_AGGREGATE_SECONDS = 0
    for _ in range(3):
        refused()
    assert SecurityEvent.objects.count() == 3
    assert not SecurityRefusalWindow.objects.exists()


# ----------------------------------------------------------------------------- the console


def test_the_console_filters_the_log_and_its_export_is_logged(operator_client, operator):
    record(2, target="accounts.user:5")
    security_event_record(kind=SecurityEventKind.LOGIN, outcome=SecurityEventOutcome.SUCCESS)
    page = operator_client.get(
        "/admin/accounts/securityevent/", {"kind__exact": SecurityEventKind.LOGIN_FAILED}
    )
    assert page.status_code == 200
    assert page.context["cl"].result_count == 2
    assert b"security-log-export" in page.content
    by_target = operator_client.get("/admin/accounts/securityevent/", {"q": "accounts.user:5"})
    assert by_target.context["cl"].result_count == 2

    export = operator_client.get(
        "/admin/accounts/securityevent/export/", {"kind__exact": SecurityEventKind.LOGIN_FAILED}
    )
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [row["kind"] for row in rows] == ["login_failed", "login_failed"]
    assert {row["target"] for row in rows} == {"accounts.user:5"}

    logged = SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT).get()
    assert logged.user == operator and logged.outcome == SecurityEventOutcome.SUCCESS
    assert logged.target == "accounts.securityevent"
    assert "2 row(s)" in logged.detail and "kind__exact=login_failed" in logged.detail


def test_the_log_is_read_only_in_the_console(operator_client):
    (event,) = record(1)
    assert operator_client.get("/admin/accounts/securityevent/add/").status_code == 403
    change = operator_client.post(
        f"/admin/accounts/securityevent/{event.pk}/change/", {"detail": "rewritten"}
    )
    assert change.status_code == 403
    assert SecurityEvent.objects.get(pk=event.pk).detail == "attempt 0"
