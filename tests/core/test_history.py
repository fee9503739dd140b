"""Every change is attributed: user, IP and user agent for requests; a named actor otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.models import Account, User
from cards.models import Card
from cards.services import card_issue, card_set_limit
from core.audit import AuditContextMiddleware, system_actor
from core.history import HistoryBypassError, audited_bulk_update
from spending.models import SpendingCategory


def run_in_request(user, action, *, ip="203.0.113.7", agent="OpsBrowser/1.0", **meta):
    """Run `action` inside the audit middleware, as a request from `user` would."""
    request = RequestFactory().post("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent, **meta)
    request.user = user

    def view(req):
        action()
        return HttpResponse("ok")

    return AuditContextMiddleware(view)(request)


def test_request_change_records_user_ip_and_user_agent(acme, operator):
    card = card_issue(account=acme, memo="Travel")
    run_in_request(
        operator,
        lambda: card_set_limit(
            card=card, spend_limit=Decimal("250.00"), spend_limit_duration="MONTHLY"
        ),
    )
    latest = card.history.latest()
    assert latest.history_user == operator
    assert latest.history_ip == "203.0.113.7"
    assert latest.history_user_agent == "OpsBrowser/1.0"
    assert latest.history_actor == ""
    assert latest.spend_limit == Decimal("250.00")
    previous = latest.prev_record
    changed = {change.field for change in latest.diff_against(previous).changes}
    assert "spend_limit" in changed
    assert "memo" not in changed


def test_forwarded_for_is_trusted_only_behind_configured_proxies(acme, operator, settings):
    card = card_issue(account=acme)

    def change_to(limit):
        # A different limit each time: an unchanged limit writes no history row.
        return lambda: card_set_limit(
            card=card, spend_limit=Decimal(limit), spend_limit_duration="MONTHLY"
        )

    run_in_request(operator, change_to("10.00"), ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert card.history.latest().history_ip == "10.0.0.2"

    settings.TRUSTED_PROXY_COUNT = 1
    run_in_request(
        operator, change_to("20.00"), ip="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9"
    )
    assert card.history.latest().history_ip == "198.51.100.9"


def test_command_changes_name_the_command_as_actor(db):
    call_command("load_mcc")
    row = SpendingCategory.history.filter(mcc="7995").get()
    assert row.history_actor == "command:load_mcc"
    assert row.history_user is None
    assert row.history_type == "+"


def test_worker_changes_name_the_worker(acme):
    with system_actor("worker:webhooks"):
        card = card_issue(account=acme)
    assert card.history.get().history_actor == "worker:webhooks"


def test_password_hash_never_enters_history(customer_admin):
    history_model = User.history.model
    assert "password" not in {f.name for f in history_model._meta.fields}


@pytest.mark.parametrize(
    "write",
    [
        lambda: Account.objects.update(name="renamed"),
        lambda: Account.objects.filter(name="Acme Corp").update(balance=0),
        lambda: Account.all_objects.update(name="renamed"),
        lambda: Account.objects.bulk_update(list(Account.objects.all()), ["name"]),
    ],
    ids=["update", "filtered-update", "all-objects-update", "bulk-update"],
)
def test_bulk_writes_that_would_skip_history_raise(acme, write):
    with pytest.raises(HistoryBypassError):
        write()
    acme.refresh_from_db()
    assert acme.name == "Acme Corp"


def test_audited_bulk_update_writes_one_history_row_per_object(acme):
    cards = [card_issue(account=acme, memo=f"card {n}") for n in range(3)]
    for card in cards:
        card.memo = card.memo.upper()
    with system_actor("command:fix_memos"):
        audited_bulk_update(Card, cards, ["memo"])
    for card in cards:
        latest = card.history.latest()
        assert latest.memo == card.memo
        assert latest.history_actor == "command:fix_memos"
    assert Card.objects.filter(memo__startswith="CARD").count() == 3


def test_soft_delete_and_undelete_are_recorded(acme, operator):
    card = card_issue(account=acme)
    run_in_request(operator, card.delete)
    run_in_request(operator, card.undelete)
    deleted_row, restored_row = card.history.order_by("history_id")[1:]
    assert deleted_row.deleted is not None
    assert restored_row.deleted is None
    assert {deleted_row.history_user, restored_row.history_user} == {operator}
