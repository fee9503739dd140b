"""The operator console: every page renders, PII stays out of lists, deletes stay soft."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalChanges

from accounts.models import (
    Account,
    AccountSetting,
    Address,
    ApiKey,
    IdempotencyRecord,
    SecurityEvent,
    SecurityRefusalWindow,
    User,
)
from accounts.security import security_event_record
from accounts.services import account_setting_set, address_add, api_key_create
from cards.models import Card, CardProduct, CardState
from cards.services import card_issue, card_product_create, card_set_state
from core.admin import (
    COUNTED_AT_MOST,
    ESTIMATED_COUNT_THRESHOLD,
    BusinessModelAdmin,
    EstimatedCountPaginator,
    FinancialRecordAdmin,
)
from core.roles import owner_connection
from core.soft_delete import soft_delete
from spending.models import AuthRuleBacktest, ProfileCategory, SpendingCategory, SpendingProfile
from spending.services import mcc_catalogue_load, profile_category_set, spending_profile_create
from transactions.authorization import AuthorizationRequest, authorize
from transactions.disputes import DisputeEventReport, DisputeReport, dispute_apply
from transactions.events import Event, NetworkTransaction, transaction_apply_network
from transactions.models import (
    AccountFunds,
    BalanceReport,
    DailyRollup,
    Dispute,
    DisputeEvent,
    LedgerEntry,
    MerchantName,
    SpendCounter,
    Transaction,
    TransactionEnhancedData,
    TransactionEvent,
    TransactionKey,
    UnmatchedAuthorization,
)
from webhooks.models import Webhook
from webhooks.services import delivery_parse, webhook_receive

CONSOLE_APPS = ("accounts", "spending", "cards", "transactions", "webhooks")
# The database's own index of the transactions' ids and tokens: each shows with its transaction.
# The security log's refusal counters: each window's count is in the log itself.
# The overview's daily rollups and the merchant names: derived from the transactions, shown as
# the overview and used by the search.
NOT_IN_CONSOLE = {TransactionKey, SecurityRefusalWindow, DailyRollup, MerchantName}
PHONE = "+1 555 010 4477"
TAX_ID = "12-3456789"
ACCOUNT_STREET = "1 Market Street"
USER_STREET = "9 Elm Road"
PII = (PHONE, TAX_ID, ACCOUNT_STREET, USER_STREET)

CONSOLE_ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in CONSOLE_APPS
    ),
    key=lambda item: item[0]._meta.label,
)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def make_transaction(card: Card, *, amount: str = "42.10", mcc: str = "5812") -> Transaction:
    """A purchase on `card`, decided by the authorization engine as Lithic's request would be."""
    token = str(uuid.uuid4())
    authorize(
        AuthorizationRequest(
            token=token,
            status="AUTHORIZATION",
            amount=Decimal(amount),
            currency="USD",
            card_token=str(card.lithic_card_token),
            mcc=mcc,
            merchant_descriptor="CORNER GROCERY",
            merchant_city="SPRINGFIELD",
            merchant_country="USA",
            card_present=True,
            created=None,
            request_id=f"msg_{uuid.uuid4().hex}",
        )
    )
    return Transaction.objects.get(token=token)


def settle(txn: Transaction) -> TransactionEvent:
    """Lithic's clearing of `txn`, applied as its webhook is; the clearing event."""
    clearing = Event(token=uuid.uuid4(), type="CLEARING", amount=txn.amount, created=timezone.now())
    card = Card.objects.get(pk=txn.card_id)
    transaction_apply_network(
        NetworkTransaction(
            token=txn.token,
            card_token=card.lithic_card_token,
            created=txn.transaction_date,
            events=[clearing],
            amount=txn.amount,
        )
    )
    return TransactionEvent.objects.get(token=clearing.token)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; these tests are about pages, not password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def console(acme, customer_admin, fixture_actor) -> dict:
    """One row of every console model, built through the services where they exist."""
    mcc_catalogue_load()
    grocery = SpendingCategory.objects.get(mcc="5411")
    account_address = address_add(
        owner=acme,
        address_type="billing",
        line1=ACCOUNT_STREET,
        city="Springfield",
        postal_code="12345",
        is_primary=True,
    )
    address_add(
        owner=customer_admin,
        address_type="shipping",
        line1=USER_STREET,
        city="Shelbyville",
        postal_code="54321",
    )
    setting = account_setting_set(account=acme, key="statement_day", value=15)
    profile = spending_profile_create(
        account=acme, name="Travel", spend_limit=Decimal("500.00"), spend_limit_duration="MONTHLY"
    )
    rule = profile_category_set(profile=profile, category=grocery, rule="BLOCKED")
    product = card_product_create(account=acme, name="Virtual travel", default_profile=profile)
    card = card_issue(
        account=acme,
        product=product,
        cardholder=customer_admin,
        last_four="4242",
        lithic_card_token=uuid.uuid4(),
    )
    # Money rows come from the services that write them in production: the authorization
    # engine (hold, counters, the account's funds and opening entry), Lithic's clearing
    # (settlement entry), a request for a card unknown here, the inbox, a dispute.
    transaction = make_transaction(card)
    event = settle(transaction)
    transaction.refresh_from_db()
    funds = AccountFunds.objects.get(account=acme)
    ledger_entry = LedgerEntry.objects.get(kind="SETTLEMENT", transaction_id=transaction.pk)
    counter = SpendCounter.objects.get(scope="CARD", owner_id=card.pk, period="life")
    unmatched_token = str(uuid.uuid4())
    authorize(
        AuthorizationRequest(
            token=unmatched_token,
            status="AUTHORIZATION",
            amount=Decimal("5.00"),
            currency="USD",
            card_token=str(uuid.uuid4()),
            mcc="5812",
            merchant_descriptor="CORNER GROCERY",
            merchant_city="",
            merchant_country="USA",
            card_present=False,
            created=None,
            request_id="msg_unknown_card",
        )
    )
    unmatched = UnmatchedAuthorization.objects.get(token=unmatched_token)
    card_created = {
        "event_type": "card.created",
        "token": str(uuid.uuid4()),
        "card_token": str(card.lithic_card_token),
        "state": "OPEN",
    }
    webhook_receive(
        webhook_id="msg_2f4c9a", delivery=delivery_parse(body=json.dumps(card_created).encode())
    )
    webhook = Webhook.objects.get(webhook_id="msg_2f4c9a")
    security_event = security_event_record(kind="webhook_bad_signature", detail="x")
    dispute = dispute_apply(
        DisputeReport(
            token=uuid.uuid4(),
            source="MANAGED",
            opened_at=timezone.now(),
            updated_at=timezone.now(),
            payload={},
            card_token=card.lithic_card_token,
            transaction_token=transaction.token,
            case_id="ROL1",
            amount=transaction.amount,
            events=[
                DisputeEventReport(
                    token=uuid.uuid4(), type="WORKFLOW", created=timezone.now(), action="OPENED"
                )
            ],
        )
    )
    dispute_event = dispute.events.get()
    enhanced = TransactionEnhancedData.objects.create(
        token=uuid.uuid4(),
        account=acme,
        transaction=transaction,
        event_token=event.token,
        common={"tax": {}, "line_items": []},
    )
    balance_report = BalanceReport.objects.create(
        account=acme,
        financial_account_token=uuid.uuid4(),
        financial_account_type="ISSUING",
        currency="USD",
        lithic_total=acme.balance,
        lithic_pending=Decimal("0.00"),
        lithic_available=acme.balance,
        matches=True,
        reported_at=timezone.now(),
    )
    backtest = AuthRuleBacktest.objects.create(
        backtest_token=uuid.uuid4(), account=acme, profile=profile, status="REQUESTED"
    )
    api_key, _ = api_key_create(user=customer_admin, name="ERP sync")
    idempotency_record = IdempotencyRecord.objects.create(
        api_key=api_key,
        account=acme,
        key="order-1",
        request_fingerprint="0" * 64,
        state=IdempotencyRecord.State.COMPLETED,
        response_status=201,
        response_body={"token": str(card.token)},
    )
    return {
        ApiKey: api_key,
        IdempotencyRecord: idempotency_record,
        Account: acme,
        User: customer_admin,
        Address: account_address,
        AccountSetting: setting,
        SpendingCategory: grocery,
        SpendingProfile: profile,
        ProfileCategory: rule,
        CardProduct: product,
        Card: card,
        Transaction: transaction,
        TransactionEvent: event,
        AccountFunds: funds,
        LedgerEntry: ledger_entry,
        SpendCounter: counter,
        UnmatchedAuthorization: unmatched,
        Webhook: webhook,
        SecurityEvent: security_event,
        Dispute: dispute,
        DisputeEvent: dispute_event,
        TransactionEnhancedData: enhanced,
        BalanceReport: balance_report,
        AuthRuleBacktest: backtest,
    }


def get_with_queries(client, url: str, params=None):
    """A GET and the SQL it ran, read before the next request resets the connection's log."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return response, [query["sql"] for query in captured.captured_queries]


def operator_request(operator):
    request = RequestFactory().get("/admin/")
    request.user = operator
    return request


def test_every_console_model_is_registered():
    expected = {
        model
        for label in CONSOLE_APPS
        for model in apps.get_app_config(label).get_models()
        if not issubclass(model, HistoricalChanges) and model not in NOT_IN_CONSOLE
    }
    assert expected == {model for model, _ in CONSOLE_ADMINS}


@pytest.mark.parametrize(
    ("model", "model_admin"), CONSOLE_ADMINS, ids=[m._meta.label for m, _ in CONSOLE_ADMINS]
)
def test_admin_pages_render(model, model_admin, console, operator, operator_client):
    obj = console[model]
    request = operator_request(operator)

    changelist = operator_client.get(admin_url(model, "changelist"))
    assert changelist.status_code == 200
    content = changelist.content.decode()
    for plaintext in PII:
        assert plaintext not in content

    add = operator_client.get(admin_url(model, "add"))
    if isinstance(model_admin, FinancialRecordAdmin):
        assert add.status_code == 403
    else:
        assert add.status_code == (200 if model_admin.has_add_permission(request) else 403)

    assert operator_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    assert operator_client.get(admin_url(model, "history", obj.pk)).status_code == 200
    delete = operator_client.get(admin_url(model, "delete", obj.pk))
    assert delete.status_code == (200 if model_admin.has_delete_permission(request, obj) else 403)

    if isinstance(model_admin, BusinessModelAdmin):
        with_deleted = operator_client.get(admin_url(model, "changelist"), {"deleted": "deleted"})
        assert with_deleted.status_code == 200
        version = obj.history.latest()
        version_page = operator_client.get(admin_url(model, "simple_history", obj.pk, version.pk))
        assert version_page.status_code == 200
        assert "hard_delete_soft_deleted" not in model_admin.get_actions(request)


def test_business_admins_offer_undelete_and_only_soft_delete(operator):
    request = operator_request(operator)
    for model, model_admin in CONSOLE_ADMINS:
        if not isinstance(model_admin, BusinessModelAdmin):
            continue
        actions = model_admin.get_actions(request)
        assert "hard_delete_soft_deleted" not in actions, model
        if model_admin.has_delete_permission(request):
            assert {"delete_selected", "undelete_selected"} <= set(actions), model


def test_financial_admins_are_read_only(operator):
    request = operator_request(operator)
    # The inbox's only actions queue events again; they change no recorded content.
    inbox_actions = {"retry_events", "replay_events"}
    for model in (Transaction, TransactionEvent, Webhook, SecurityEvent):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        expected = inbox_actions if model is Webhook else set()
        assert set(model_admin.get_actions(request)) == expected, model


def test_changelist_action_soft_deletes_and_undelete_restores(console, operator, operator_client):
    profile = console[SpendingProfile]
    changelist = admin_url(SpendingProfile, "changelist")

    confirm = operator_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [profile.pk]}
    )
    assert confirm.status_code == 200
    assert "This is a <strong>soft delete</strong>" in confirm.content.decode()

    deleted = operator_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [profile.pk], "post": "yes"},
        follow=True,
    )
    assert deleted.redirect_chain[-1][1] == 302
    assert "Soft-deleted 1 spending profile: they are kept" in deleted.content.decode()
    assert not SpendingProfile.objects.filter(pk=profile.pk).exists()
    assert SpendingProfile.all_objects.get(pk=profile.pk).deleted is not None
    assert profile.name not in operator_client.get(changelist).content.decode()
    shown = operator_client.get(changelist, {"deleted": "deleted"}).content.decode()
    assert f'<span class="deleted">{profile.name}</span>' in shown

    history = operator_client.get(admin_url(SpendingProfile, "history", profile.pk))
    assert history.status_code == 200
    assert reverse("admin:accounts_user_change", args=[operator.pk]) in history.content.decode()
    assert operator.email in history.content.decode()
    assert profile.history.latest().history_user == operator

    deleted_only = f"{changelist}?deleted=deleted_only"
    undelete_confirm = operator_client.post(
        deleted_only, {"action": "undelete_selected", "_selected_action": [profile.pk]}
    )
    assert undelete_confirm.status_code == 200
    assert "Are you sure you want to undelete" in undelete_confirm.content.decode()

    restored = operator_client.post(
        deleted_only,
        {"action": "undelete_selected", "_selected_action": [profile.pk], "post": "yes"},
        follow=True,
    )
    assert restored.status_code == 200
    assert "Undeleted 1 spending profile." in restored.content.decode()
    assert SpendingProfile.objects.get(pk=profile.pk).deleted is None
    latest = profile.history.latest()
    assert latest.history_user == operator
    assert latest.deleted is None


def test_delete_view_soft_deletes(console, operator, operator_client):
    product = console[CardProduct]
    page = operator_client.get(admin_url(CardProduct, "delete", product.pk)).content.decode()
    assert "This is a <strong>soft delete</strong>" in page
    assert "will be deleted" not in page

    response = operator_client.post(
        admin_url(CardProduct, "delete", product.pk), {"post": "yes"}, follow=True
    )

    assert response.redirect_chain == [(admin_url(CardProduct, "changelist"), 302)]
    assert "was soft-deleted: it is kept, with its history" in response.content.decode()
    assert CardProduct.all_objects.get(pk=product.pk).deleted is not None
    assert product.history.latest().history_user == operator


def test_history_page_shows_request_details(console, operator_client):
    account = console[Account]
    operator_client.post(
        admin_url(Account, "changelist"),
        {"action": "delete_selected", "_selected_action": [account.pk], "post": "yes"},
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) " + "A" * 200,
    )

    content = operator_client.get(admin_url(Account, "history", account.pk)).content.decode()

    assert "127.0.0.1" in content
    assert "Mozilla/5.0 (X11; Linux x86_64)" in content
    assert "A" * 100 not in content
    assert "test:fixtures" in content
    # One "who" column, and the soft delete said as such (not "Changed" with an empty diff).
    assert '<td class="history-change">Deleted</td>' in content
    assert '<td class="history-change">Created</td>' in content
    operator_client.post(
        f"{admin_url(Account, 'changelist')}?deleted=deleted_only",
        {"action": "undelete_selected", "_selected_action": [account.pk], "post": "yes"},
    )
    content = operator_client.get(admin_url(Account, "history", account.pk)).content.decode()
    assert '<td class="history-change">Undeleted</td>' in content
    assert "ops@cardops.test (operations)" in content


def test_undelete_clash_is_an_error_message(console, operator_client):
    profile = console[SpendingProfile]
    soft_delete(obj=profile)
    spending_profile_create(account=profile.account, name=profile.name)

    response = operator_client.post(
        f"{admin_url(SpendingProfile, 'changelist')}?deleted=deleted_only",
        {"action": "undelete_selected", "_selected_action": [profile.pk], "post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert "cannot be restored" in response.content.decode()
    assert SpendingProfile.all_objects.get(pk=profile.pk).deleted is not None


def test_soft_deleted_row_is_viewable_not_editable(console, operator_client):
    product = console[CardProduct]
    soft_delete(obj=product)
    url = admin_url(CardProduct, "change", product.pk)

    assert operator_client.get(url).status_code == 200
    assert operator_client.post(url, {"name": "Renamed"}).status_code == 403
    assert CardProduct.all_objects.get(pk=product.pk).name == "Virtual travel"


def test_duplicate_live_name_is_a_form_error(console, operator_client):
    profile = console[SpendingProfile]
    response = operator_client.post(
        admin_url(SpendingProfile, "add"),
        {
            "account": profile.account_id,
            "name": profile.name,
            "category_rules-TOTAL_FORMS": "0",
            "category_rules-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert SpendingProfile.objects.filter(name=profile.name).count() == 1


def test_history_diff_masks_pii(customer_admin, operator_client):
    customer_admin.phone = "+1 555 010 9999"
    customer_admin.save(update_fields=["phone"])

    content = operator_client.get(admin_url(User, "history", customer_admin.pk)).content.decode()

    assert "•••• 4477" in content
    assert "•••• 9999" in content
    assert PHONE not in content
    assert "+1 555 010 9999" not in content


def test_account_setting_form_shows_registry_errors(acme, operator_client):
    url = admin_url(AccountSetting, "add")

    out_of_range = operator_client.post(
        url, {"account": acme.pk, "key": "statement_day", "value": "45"}
    )
    unknown = operator_client.post(url, {"account": acme.pk, "key": "overdraft", "value": "true"})
    saved = operator_client.post(
        url, {"account": acme.pk, "key": "low_balance_alert_threshold", "value": "250.50"}
    )

    assert out_of_range.status_code == 200
    assert "between 1 and 28" in out_of_range.content.decode()
    assert unknown.status_code == 200
    assert "Unknown setting" in unknown.content.decode()
    assert saved.status_code == 302
    assert AccountSetting.objects.get(account=acme, key="low_balance_alert_threshold").value == (
        "250.50"
    )


def test_user_add_form_sets_a_password(acme, operator_client):
    password = "plum-orchard-lantern-72"
    response = operator_client.post(
        admin_url(User, "add"),
        {
            "email": "Bea@Acme.test",
            "usable_password": "true",
            "password1": password,
            "password2": password,
            "account": acme.pk,
            "role": "user",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email__iexact="bea@acme.test")
    assert user.account == acme
    assert user.check_password(password)


def test_pause_action_pauses_open_cards_and_warns_on_closed(console, operator_client):
    open_card = console[Card]
    closed_card = card_issue(account=open_card.account, last_four="1111")
    card_set_state(card=closed_card, state=CardState.CLOSED)

    response = operator_client.post(
        admin_url(Card, "changelist"),
        {"action": "pause_cards", "_selected_action": [open_card.pk, closed_card.pk]},
        follow=True,
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "1 card paused." in content
    assert "A closed card cannot be reopened." in content
    open_card.refresh_from_db()
    closed_card.refresh_from_db()
    assert open_card.state == CardState.PAUSED
    assert closed_card.state == CardState.CLOSED

    operator_client.post(
        admin_url(Card, "changelist"),
        {"action": "unpause_cards", "_selected_action": [open_card.pk]},
    )
    open_card.refresh_from_db()
    assert open_card.state == CardState.OPEN


def test_transaction_changelist_queries_do_not_grow_with_rows(console, operator_client):
    card = console[Card]
    url = admin_url(Transaction, "changelist")
    for _ in range(2):
        make_transaction(card)
    operator_client.get(url)  # the session's first request notes its time (a session write)

    _, few = get_with_queries(operator_client, url)
    for _ in range(17):
        make_transaction(card)
    _, many = get_with_queries(operator_client, url)

    assert Transaction.objects.count() == 20
    assert len(many) == len(few)
    # Session, contexts, count, rows, the account filter's accounts; and the operator's read in
    # the security log: the chain's lock, its last row and the insert, in a savepoint. Inside
    # the test's transaction the count and the rows each take a savepoint and keep the
    # settings they change to themselves (core.admin._local_settings): four more each.
    assert len(few) <= 17


def test_token_search_uses_exact_uuid_match(console, operator_client):
    transaction = console[Transaction]
    url = admin_url(Transaction, "changelist")

    found, queries = get_with_queries(operator_client, url, {"q": str(transaction.token)})
    missing = operator_client.get(url, {"q": "not-a-token"})

    assert found.context["cl"].result_count == 1
    search = [sql for sql in queries if 'FROM "transactions"' in sql]
    assert search
    assert not any("UPPER(" in sql for sql in search)
    assert any(
        f"'{transaction.token}'::uuid" in sql or transaction.token.hex in sql for sql in search
    )
    assert missing.status_code == 200
    assert missing.context["cl"].result_count == 0


def test_webhook_search_matches_whole_ids(console, operator_client):
    webhook = console[Webhook]
    url = admin_url(Webhook, "changelist")

    by_id = operator_client.get(url, {"q": webhook.webhook_id})
    by_event = operator_client.get(url, {"q": webhook.event_token})
    partial = operator_client.get(url, {"q": webhook.webhook_id[:5]})

    assert by_id.context["cl"].result_count == 1
    assert by_event.context["cl"].result_count == 1
    assert partial.context["cl"].result_count == 0


def test_account_search_by_tax_id_uses_blind_index(acme, globex, operator_client):
    response = operator_client.get(admin_url(Account, "changelist"), {"q": "123456789"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [acme]


def test_autocomplete_leaves_out_deleted_rows(acme, globex, operator_client):
    soft_delete(obj=globex)
    params = {"app_label": "cards", "model_name": "card", "field_name": "account"}

    acme_hits = operator_client.get(reverse("admin:autocomplete"), {**params, "term": "Acme"})
    globex_hits = operator_client.get(reverse("admin:autocomplete"), {**params, "term": "Glo"})

    assert [hit["text"] for hit in acme_hits.json()["results"]] == ["Acme Corp"]
    assert globex_hits.json()["results"] == []


def test_big_unfiltered_list_uses_the_row_estimate(console, operator_client, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "_estimated_count", lambda self: 2_500_000)

    response, queries = get_with_queries(operator_client, admin_url(Transaction, "changelist"))

    assert response.context["cl"].result_count == 2_500_000
    assert not any("COUNT(" in sql.upper() for sql in queries)
    assert "about 2,500,000 transactions" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_row_estimates_are_used_only_for_big_lists(console):
    # Only the owner may ANALYZE (core.roles), as autovacuum does in production.
    with owner_connection(), connection.cursor() as cursor:
        cursor.execute("ANALYZE transactions")

    unfiltered = EstimatedCountPaginator(Transaction.objects.all(), 100)
    filtered = EstimatedCountPaginator(Transaction.objects.filter(status="SETTLED"), 100)

    assert unfiltered._estimated_count() == 1
    assert unfiltered.count == 1
    # A filtered list is estimated by the planner, and counted exactly while it is small.
    assert filtered._estimated_count() is not None
    assert filtered._estimated_count() <= ESTIMATED_COUNT_THRESHOLD
    assert filtered.count == 1


def test_the_planner_estimate_compiles_nothing(console):
    filtered = Transaction.objects.filter(status="SETTLED").order_by("-transaction_date", "-id")
    sql, params = filtered.values("pk").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # Every plan now costs enough for JIT, as a filter over millions of rows does.
        cursor.execute("SELECT set_config('jit_above_cost', '0', true)")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plain = cursor.fetchone()[0]
        estimated = EstimatedCountPaginator(filtered, 100)._plan()

    assert "JIT" in plain[0]
    assert "JIT" not in estimated
    assert estimated["Plan"]["Plan Rows"] >= 1


def test_bounded_reads_compile_nothing_and_sort_nothing(console):
    # What the server's settings were while a row was read, or counted: a list's page and
    # its capped count stop after a few rows, and run without JIT and without sorting.
    read_with = RawSQL("current_setting('jit') || ' ' || current_setting('enable_sort')", ())
    ordered = Transaction.objects.annotate(read_with=read_with).order_by("-transaction_date")
    # A filter the planner thinks small: counted, up to COUNTED_AT_MOST, with JIT off.
    jit_off = Transaction.objects.extra(where=["current_setting('jit') = 'off'"])  # noqa: S610

    rows = list(EstimatedCountPaginator(ordered, 100).page(1).object_list)
    counted = EstimatedCountPaginator(jit_off, 100)

    assert [row.read_with for row in rows] == ["off off"]
    assert counted.count == 1
    assert not counted.estimated
    assert list(ordered)[0].read_with == "on on"  # elsewhere, the server's own settings


def test_a_page_in_the_second_half_is_read_from_the_end(acme, fixture_actor):
    card = card_issue(account=acme)
    Transaction.objects.bulk_create(
        Transaction(
            account_id=acme.pk,
            card=card,
            amount=Decimal("1.00"),
            status="SETTLED",
            transaction_date=timezone.now() - datetime.timedelta(minutes=index % 7),
        )
        for index in range(250)
    )
    ordered = Transaction.objects.order_by("-transaction_date", "-id")
    expected = list(ordered)
    paginator = EstimatedCountPaginator(ordered, 100)
    pages = [list(paginator.page(number).object_list) for number in (1, 2, 3)]
    assert pages == [expected[:100], expected[100:200], expected[200:]]
    with_orphans = EstimatedCountPaginator(ordered, 120, orphans=20)
    assert list(with_orphans.page(2).object_list) == expected[120:]


def test_transaction_detail_is_read_only(console, operator_client):
    transaction = console[Transaction]
    url = admin_url(Transaction, "change", transaction.pk)

    page = operator_client.get(url)

    assert page.status_code == 200
    assert 'name="amount"' not in page.content.decode()
    assert operator_client.post(url, {"amount": "1.00"}).status_code == 403
    assert operator_client.get(admin_url(Transaction, "delete", transaction.pk)).status_code == 403


def test_user_list_shows_phone_last_four_only(customer_admin, operator_client):
    content = operator_client.get(admin_url(User, "changelist")).content.decode()

    assert "•••• 4477" in content
    assert PHONE not in content
    assert customer_admin.date_of_birth.isoformat() not in content


def test_a_filtered_list_counts_no_further_than_it_must(acme, operator_client, fixture_actor):
    card = card_issue(account=acme)
    Transaction.objects.bulk_create(
        Transaction(account_id=acme.pk, card=card, amount=Decimal("1.00"), status="SETTLED")
        for _ in range(COUNTED_AT_MOST + 5)
    )
    response = operator_client.get(
        admin_url(Transaction, "changelist"), {"status__exact": "SETTLED"}
    )
    assert response.context["cl"].paginator.capped
    assert "more than 1,000 transactions" in response.content.decode()
    assert len(response.context["cl"].result_list) == 100
