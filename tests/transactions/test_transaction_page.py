"""A transaction's page in the console: who it belongs to (links), why the authorization engine
approved or declined it (sentences, the verdict first), its events as a timeline, its disputes,
and the webhook deliveries that touched it (each way: the webhook's page links back)."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import user_create
from cards.services import card_set_cardholder
from spending.models import ProfileCategory
from spending.services import profile_category_set, spending_profile_create
from tests import lithic_spec
from tests.conftest import PASSWORD
from tests.console import console_login
from tests.lithic_payloads import (
    card_transaction,
    dispute_event,
    enhanced_data,
    managed_dispute,
    transaction_event,
)
from tests.transactions.conftest import asa_body, signed_headers
from transactions.models import Transaction, TransactionEvent
from webhooks.models import Webhook
from webhooks.worker import Worker, WorkerConfig

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "dHJhbnNhY3Rpb24tcGFnZS10ZXN0LXNlY3JldC0wMTI="
INBOX_URL = "/webhooks/lithic/"
T0 = "2026-11-14T15:20:08Z"  # when the ASA requests of asa_body say they happened
WHEN = r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} UTC"  # config/formats/en/formats.py


@pytest.fixture(autouse=True)
def _inbox(settings):
    settings.LITHIC_WEBHOOK_SECRET = SECRET
    settings.LITHIC_WEBHOOK_SECRETS = []
    settings.WEBHOOK_MAX_ATTEMPTS = 3


def deliver(payload: dict, *, check: bool = True) -> Webhook:
    """POST a signed Lithic event to the inbox as Lithic does, run a worker until nothing is due,
    and return the event's inbox row."""
    if check:
        assert lithic_spec.webhook_problems(payload) == []
    body = json.dumps(payload).encode()
    headers = signed_headers(body, secret=SECRET)
    response = Client().post(INBOX_URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    Worker(config=WorkerConfig.from_settings()).run(once=True)
    return Webhook.objects.get(webhook_id=headers["webhook-id"])


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def page(client, txn: Transaction) -> str:
    response = client.get(f"/admin/transactions/transaction/{txn.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def panel_html(html: str, panel_id: str) -> str:
    """The HTML of one panel of a page: up to the next panel or the end of the form."""
    start = html.index(">", html.index(f'id="{panel_id}"')) + 1
    marks = ('<div class="module record-panel"', '<div class="submit-row"', "</form>")
    ends = [html.find(mark, start) for mark in marks]
    return html[start : min(end for end in ends if end != -1)]


def panel(html: str, panel_id: str) -> str:
    return text(panel_html(html, panel_id))


def authorize(asa, card, cents: int, **options) -> Transaction:
    body = asa_body(card, cents, **options)
    asa(body)
    return Transaction.objects.get(token=json.loads(body)["token"])


@pytest.fixture
def card(acme, make_card, categories, cardholder):
    return make_card(
        acme,
        cardholder=cardholder,
        last_four="4242",
        spend_limit=Decimal("100.00"),
        spend_limit_duration="TRANSACTION",
    )


def test_the_page_links_the_card_its_account_and_its_cardholder(
    operator_client, asa, acme, card, cardholder
):
    txn = authorize(asa, card, 1250)
    html = page(operator_client, txn)
    assert re.search(rf'<a href="/admin/cards/card/{card.pk}/change/" id="transaction-card">', html)
    assert f'href="/admin/accounts/account/{acme.pk}/change/" id="transaction-account"' in html
    assert f'href="/admin/accounts/user/{cardholder.pk}/change/" id="transaction-cardholder"' in (
        html
    )
    top = text(html[: html.index('id="transaction-decision"')])
    assert "Virtual card ••4242 (Open)" in top
    assert acme.name in top and cardholder.email in top


def test_a_card_without_a_cardholder_says_so(operator_client, asa, acme, make_card, categories):
    txn = authorize(asa, make_card(acme), 1250)
    assert "None: the card had no cardholder of its own." in text(page(operator_client, txn))


def test_a_decline_says_why_rule_by_rule_with_the_verdict_first(operator_client, asa, card):
    txn = authorize(asa, card, 15000)
    assert txn.status == "DECLINED"
    html = page(operator_client, txn)

    why = panel(html, "transaction-decision")
    assert why.startswith("Why it was declined ")
    verdict = (
        "Declined by the authorization engine: over a spend limit (VELOCITY_EXCEEDED), at the "
        "card limit."
    )
    rules = [
        "Card and account: card open, account active: passed.",
        "Merchant category 5812 (Eating places, restaurants): no rule restricts it: passed.",
        "Card limit: $100.00 per transaction; this authorization $150.00 — over the limit by "
        "$50.00: declined.",
    ]
    positions = [why.index(sentence) for sentence in [verdict, *rules]]
    assert positions == sorted(positions)
    assert re.search(rf"Checked at {WHEN}, in this order:", why)
    assert "Available balance" not in why  # the engine stopped at the limit
    # The decision's fields point to the panel.
    assert re.search(rf'{re.escape(verdict)} <a href="#transaction-decision">', html)


def test_a_refused_merchant_category_is_named_from_the_catalogue(
    operator_client, asa, acme, make_card, categories
):
    profile = spending_profile_create(account=acme, name="No restaurants")
    profile_category_set(
        profile=profile, category=categories["5812"], rule=ProfileCategory.Rule.BLOCKED
    )
    card = make_card(acme, profile=profile)

    blocked = page(operator_client, authorize(asa, card, 500, mcc="5812"))
    assert (
        "Merchant category 5812 (Eating places, restaurants): blocked by the profile: declined."
        in panel(blocked, "transaction-decision")
    )
    # The account blocks high-risk categories by default.
    risky = panel(
        page(operator_client, authorize(asa, card, 500, mcc="7995")), "transaction-decision"
    )
    assert risky.startswith(
        "Why it was declined Declined by the authorization engine: the merchant category is not "
        "allowed (UNAUTHORIZED_MERCHANT), at the merchant category check."
    )
    assert (
        "Merchant category 7995 (Betting, casino gambling): high-risk, and the account blocks "
        "high-risk categories: declined." in risky
    )


def test_an_approval_explains_each_limit_and_the_balance(
    operator_client, asa, acme, make_card, categories
):
    profile = spending_profile_create(
        account=acme, name="Travel", spend_limit=Decimal("500.00"), spend_limit_duration="MONTHLY"
    )
    card = make_card(
        acme, profile=profile, spend_limit=Decimal("100.00"), spend_limit_duration="TRANSACTION"
    )
    authorize(asa, card, 4000)
    txn = authorize(asa, card, 2550)

    why = panel(page(operator_client, txn), "transaction-decision")
    assert why.startswith(
        "Why it was approved Approved by the authorization engine: every rule passed."
    )
    assert (
        "Card limit: $100.00 per transaction; this authorization $25.50 — within the limit: "
        "passed." in why
    )
    assert re.search(
        r"Profile limit: \$500\.00 per trailing month \(\d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d, "
        r"UTC\); spent \$40\.00, \$460\.00 left; this authorization \$25\.50 — within the limit, "
        r"\$434\.50 left after it: passed\.",
        why,
    )
    assert (
        "Available balance: $25,000.00 posted, $40.00 held, $24,960.00 available; this "
        "authorization $25.50 — covered, $24,934.50 left after it: passed." in why
    )


def test_a_later_request_on_the_transaction_gets_its_own_why(
    operator_client, asa, acme, make_card, categories
):
    card = make_card(acme, spend_limit=Decimal("100.00"), spend_limit_duration="FOREVER")
    token = str(uuid.uuid4())
    authorize(asa, card, 5200, token=token, event_token=str(uuid.uuid4()))
    txn = authorize(asa, card, 1800, token=token, event_token=str(uuid.uuid4()))

    why = panel(page(operator_client, txn), "transaction-decision")
    first = (
        "Card limit: $100.00 for the card's whole life; spent $0.00, $100.00 left; this "
        "authorization $52.00 — within the limit, $48.00 left after it: passed."
    )
    later = (
        "Card limit: $100.00 for the card's whole life; spent $52.00, $48.00 left; this "
        "authorization $18.00 — within the limit, $30.00 left after it: passed."
    )
    assert re.search(rf"Later request of \$18\.00 at {WHEN}", why)
    assert why.index(first) < why.index("Later request") < why.index(later)


@pytest.fixture
def lithic_card(acme, make_card, categories, cardholder):
    """A card whose Lithic token the payloads of tests.lithic_payloads use for it."""
    return make_card(acme, cardholder=cardholder, last_four="4242")


@pytest.fixture
def settled(asa, lithic_card):
    """$52.00 approved by our engine, then authorized and cleared as Lithic reports it."""
    txn = authorize(asa, lithic_card, 5200)
    events = [
        transaction_event("AUTHORIZATION", 5200, T0),
        transaction_event("CLEARING", 5200, "2026-11-15T09:00:00Z"),
    ]
    delivery = deliver(
        card_transaction(lithic_card.lithic_card_token, str(txn.token), events, status="SETTLED")
    )
    assert delivery.status == "PROCESSED"
    txn.refresh_from_db()
    assert txn.status == "SETTLED"
    return txn


def test_the_timeline_tells_each_event_once_oldest_first(operator_client, settled):
    html = page(operator_client, settled)
    timeline = panel(html, "transaction-timeline")
    assert timeline == (
        "Timeline When What happened "
        "14 Nov 2026, 15:20:08 UTC Authorization approved, $52.00, from the authorization engine "
        "14 Nov 2026, 15:20:08 UTC Authorization approved, $52.00, reported by Lithic "
        "15 Nov 2026, 09:00:00 UTC Clearing, $52.00, reported by Lithic"
    )
    # Each event once, a link to its own page: the timeline replaces the events' inline.
    for event in TransactionEvent.objects.filter(transaction=settled):
        assert html.count(f'href="/admin/transactions/transactionevent/{event.pk}/change/"') == 1
        assert str(event.token) not in html


def test_a_declined_request_shows_its_reason_in_the_timeline(operator_client, asa, card):
    timeline = panel(page(operator_client, authorize(asa, card, 15000)), "transaction-timeline")
    assert (
        "Authorization declined (VELOCITY_EXCEEDED), $150.00, from the authorization engine: "
        "card spend limit 100.00 TRANSACTION: 100.00 left, 150.00 asked" in timeline
    )


def test_the_deliveries_that_touched_it_are_listed_and_each_links_back(
    operator_client, asa, lithic_card, settled
):
    dispute_token = str(uuid.uuid4())
    dispute = deliver(
        managed_dispute(
            card_token=lithic_card.lithic_card_token,
            transaction_token=str(settled.token),
            token=dispute_token,
            events=[dispute_event("WORKFLOW", "2026-11-20T01:00:00Z", action="OPENED")],
            event_type="dispute_transaction.created",
        )
    )
    clearing = settled.events.get(type="CLEARING")
    extra = deliver(enhanced_data(transaction_token=settled.token, event_token=clearing.token))
    other = authorize(asa, lithic_card, 700)
    unrelated = deliver(
        card_transaction(
            lithic_card.lithic_card_token,
            str(other.token),
            [transaction_event("AUTHORIZATION", 700, T0)],
        )
    )
    assert {dispute.status, extra.status, unrelated.status} == {"PROCESSED"}
    own = Webhook.objects.get(event_token=str(settled.token))

    html = page(operator_client, settled)
    listed = panel_html(html, "transaction-webhooks")
    for webhook in (own, dispute, extra):
        assert f'href="/admin/webhooks/webhook/{webhook.pk}/change/"' in listed
    assert f"/admin/webhooks/webhook/{unrelated.pk}/" not in listed
    rows = text(listed)
    assert rows.index("card_transaction.updated") < rows.index("dispute_transaction.created")
    assert rows.index("dispute_transaction.created") < rows.index(
        "card_transaction.enhanced_data.created"
    )
    assert rows.startswith("Webhook deliveries Lithic's event deliveries about this transaction")
    # The dispute is on the page too (its inline).
    assert dispute.payload["case_id"] in text(html)

    txn_link = f'href="/admin/transactions/transaction/{settled.pk}/change/"'
    for webhook in (own, dispute, extra):
        response = operator_client.get(f"/admin/webhooks/webhook/{webhook.pk}/change/")
        assert response.status_code == 200
        applied = panel_html(response.content.decode(), "webhook-subject")
        assert txn_link in applied
        assert "$52.00 at coffee shop, settled" in text(applied)
    own_page = operator_client.get(f"/admin/webhooks/webhook/{own.pk}/change/").content.decode()
    assert f'href="/admin/cards/card/{lithic_card.pk}/change/"' in panel_html(
        own_page, "webhook-subject"
    )
    dispute_page = operator_client.get(f"/admin/webhooks/webhook/{dispute.pk}/change/")
    assert "/admin/transactions/dispute/" in panel_html(
        dispute_page.content.decode(), "webhook-subject"
    )


def test_a_webhook_about_nothing_recorded_here_says_so(operator_client, acme):
    token, card_token = str(uuid.uuid4()), str(uuid.uuid4())
    waiting = deliver(card_transaction(card_token, token, [transaction_event("AUTHORIZATION", 1)]))
    assert waiting.status == "FAILED"  # no such card (yet)
    applied = panel(
        operator_client.get(f"/admin/webhooks/webhook/{waiting.pk}/change/").content.decode(),
        "webhook-subject",
    )
    assert applied == (
        f"Applied to Transaction {token}: not recorded here (yet) "
        f"Card {card_token}: not recorded here (yet)"
    )

    body = b'{"event_type": "card_transaction.updated", "token": '  # cut short: not JSON
    response = Client().post(
        INBOX_URL,
        data=body,
        content_type="application/json",
        headers=signed_headers(body, secret=SECRET),
    )
    assert response.status_code == 200
    malformed = Webhook.objects.get(status="DEAD")
    applied = panel(
        operator_client.get(f"/admin/webhooks/webhook/{malformed.pk}/change/").content.decode(),
        "webhook-subject",
    )
    assert applied == "Applied to This event names no transaction, card or dispute."


@pytest.mark.parametrize(
    "decision",
    [
        None,
        "not a trace",
        [1, "x", None],
        {"checked_at": 5, "steps": "nope"},
        {"steps": [{"rule": "card_spend_limit", "limit": {"a": 1}, "amount": [1]}, {}]},
        {"checked_at": "2026-13-45", "steps": [{"rule": "merchant_category", "mcc": 7995}]},
    ],
)
def test_odd_stored_decisions_still_read(operator_client, asa, card, decision):
    txn = authorize(asa, card, 1250)
    Transaction.objects.filter(pk=txn.pk).update(decision=decision)
    why = panel(page(operator_client, txn), "transaction-decision")
    assert why.startswith("Why it was")
    assert len(why) > len("Why it was approved or declined ")


def test_a_viewer_sees_only_the_panels_their_permissions_allow(client, settled, fixture_actor):
    viewer = user_create(email="vic@cardops.test", account=None, password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_transaction"))
    console_login(client, viewer)
    html = page(client, settled)
    assert 'id="transaction-decision"' in html
    assert 'id="transaction-timeline"' not in html
    assert 'id="transaction-webhooks"' not in html

    viewer.user_permissions.add(
        Permission.objects.get(codename="view_transactionevent"),
        Permission.objects.get(codename="view_webhook"),
    )
    html = page(client, settled)
    assert 'id="transaction-timeline"' in html and 'id="transaction-webhooks"' in html

    # The webhook's page shows only what the viewer may open: the transaction, not the card.
    own = Webhook.objects.get(event_token=str(settled.token))
    applied = panel_html(
        client.get(f"/admin/webhooks/webhook/{own.pk}/change/").content.decode(),
        "webhook-subject",
    )
    assert "/admin/transactions/transaction/" in applied and "/admin/cards/card/" not in applied


def test_the_page_reads_the_same_number_of_queries_however_many_events(
    operator_client, asa, acme, make_card, categories
):
    card = make_card(acme)
    one = authorize(asa, card, 1000, token=str(uuid.uuid4()), event_token=str(uuid.uuid4()))
    token = str(uuid.uuid4())
    for cents in (1000, 200, 300, 400, 500):
        many = authorize(asa, card, cents, token=token, event_token=str(uuid.uuid4()))
    assert many.events.count() == 5

    counts = []
    for txn in (one, many):
        page(operator_client, txn)  # the session and permissions are read once, then cached
        with CaptureQueriesContext(connection) as captured:
            page(operator_client, txn)
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_the_cardholder_is_the_one_at_authorization_time(
    operator_client, asa, acme, make_card, categories, cardholder, customer_admin
):
    card = make_card(acme, cardholder=cardholder)
    assert asa(asa_body(card, 1250))[1]["result"] == "APPROVED"
    txn = Transaction.objects.get()
    assert txn.cardholder_id == cardholder.pk

    card_set_cardholder(card=card, cardholder=customer_admin)  # the card changes hands
    page = operator_client.get(f"/admin/transactions/transaction/{txn.pk}/change/")
    html = page.content.decode()
    assert (
        f'href="/admin/accounts/user/{cardholder.pk}/change/" id="transaction-cardholder"' in html
    )
    assert "not recorded at the time" not in html
