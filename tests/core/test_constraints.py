"""Constraints live in the database: raw SQL that breaks a CHECK or UNIQUE rule fails.

Every statement here bypasses the ORM (no `full_clean()`, no service), so a passing test proves
PostgreSQL itself refuses the row. Each rejection also checks *which* constraint fired, so a test
cannot pass on an unrelated NOT NULL or foreign-key error.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cached_property

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, ProgrammingError, connection, transaction
from psycopg.types.json import Jsonb

from accounts.models import Account, AccountSetting, Address, User
from cards.models import Card, CardProduct
from core.roles import append_only_tables
from spending.models import AuthRuleBacktest, ProfileCategory, SpendingCategory, SpendingProfile
from transactions.models import (
    BalanceReport,
    Dispute,
    DisputeEvent,
    Transaction,
    TransactionEnhancedData,
    TransactionEvent,
    TransactionKey,
)
from webhooks.models import Webhook

MODELS = [
    Account,
    User,
    Address,
    AccountSetting,
    SpendingCategory,
    SpendingProfile,
    ProfileCategory,
    CardProduct,
    Card,
    Transaction,
    TransactionEvent,
    Webhook,
    Dispute,
    DisputeEvent,
    TransactionEnhancedData,
    BalanceReport,
    AuthRuleBacktest,
]

TABLES = [
    "accounts",
    "users",
    "addresses",
    "account_settings",
    "spending_categories",
    "spending_profiles",
    "profile_categories",
    "card_products",
    "cards",
    "transactions",
    "transaction_events",
    "webhooks",
    "disputes",
    "dispute_events",
    "transaction_enhanced_data",
    "balance_reports",
    "auth_rule_backtests",
]

BUSINESS_TABLES = TABLES[:9]

COVERED_CONSTRAINTS = [
    "accounts_status_valid",
    "accounts_balance_gte_0",
    "accounts_currency_iso4217",
    "accounts_lithic_account_token_uniq",
    "users_email_ci_uniq",
    "users_role_valid",
    "users_account_required_unless_staff",
    "addresses_type_valid",
    "addresses_country_iso3166",
    "addresses_one_primary_per_owner_type",
    "account_settings_account_key_uniq",
    "spending_categories_mcc_uniq",
    "spending_categories_mcc_format",
    "spending_categories_risk_reason_iff_high_risk",
    "spending_categories_risk_reason_valid",
    "spending_profiles_account_name_uniq",
    "spending_profiles_lithic_auth_rule_token_uniq",
    "spending_profiles_spend_limit_gte_0",
    "spending_profiles_duration_valid",
    "spending_profiles_limit_and_duration_together",
    "profile_categories_uniq",
    "profile_categories_rule_valid",
    "card_products_account_name_uniq",
    "card_products_card_type_valid",
    "card_products_default_spend_limit_gte_0",
    "card_products_duration_valid",
    "cards_lithic_card_token_uniq",
    "cards_type_valid",
    "cards_state_valid",
    "cards_spend_limit_gte_0",
    "cards_spend_limit_duration_valid",
    "cards_last_four_format",
    "transactions_status_valid",
    "transactions_type_valid",
    "transactions_amount_gte_0",
    "transactions_settled_amount_gte_0",
    "transactions_currency_iso4217",
    "transactions_mcc_format",
    "transactions_declined_has_reason",
    "transactions_hold_amount_gte_0",
    "transactions_settled_covers_refunded",
    "transactions_hold_only_while_pending",
    "transaction_events_type_valid",
    "webhooks_status_valid",
    "webhooks_due_has_next_attempt",
    "webhooks_lease_iff_processing",
    "webhooks_processed_has_processed_at",
    "cards_lithic_sync_status_valid",
    "spending_profiles_lithic_sync_status_valid",
    "accounts_lithic_financial_account_token_uniq",
    "transaction_events_source_valid",
    "disputes_source_valid",
    "disputes_credited_gte_0",
    "auth_rule_backtests_status_valid",
]

COVERED_UNIQUE_COLUMNS = [
    *(f"{table}.token" for table in BUSINESS_TABLES),
    "transaction_keys.token",
    "transaction_events.token",
    "webhooks.webhook_id",
    "disputes.token",
    "dispute_events.token",
    "transaction_enhanced_data.token",
    "auth_rule_backtests.backtest_token",
]


class Sql(str):
    """An SQL expression written into the statement rather than bound as a parameter."""

    __slots__ = ()


NOW = Sql("now()")
NEW_UUID = Sql("gen_random_uuid()")
FIXED_UUID = "6f1c2b9e-3d4a-4c7b-9e8f-0a1b2c3d4e5f"
CIPHERTEXT = b"not-a-real-fernet-token"


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def violated_constraint(error: IntegrityError) -> str | None:
    return error.__cause__.diag.constraint_name


@contextmanager
def violates(constraint: str) -> Iterator[None]:
    """The block must fail with an IntegrityError raised by `constraint`, in a savepoint."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    assert violated_constraint(excinfo.value) == constraint, excinfo.value


class Rows:
    """Valid rows for each table, written with raw SQL."""

    def __init__(self, account_id: int, other_account_id: int, account_type_id: int):
        self.account_id = account_id
        self.other_account_id = other_account_id
        self.account_type_id = account_type_id
        self._sequence = itertools.count(1)

    @cached_property
    def profile_id(self) -> int:
        return self.insert("spending_profiles")

    @cached_property
    def card_id(self) -> int:
        return self.insert("cards")

    @cached_property
    def transaction_id(self) -> int:
        return self.insert("transactions")

    def build(self, table: str, **overrides) -> dict:
        """A valid row for `table` with `overrides` applied; parent rows are written here."""
        n = next(self._sequence)
        row = getattr(self, f"_{table}")(n, overrides)
        if table in BUSINESS_TABLES:
            row = {"deleted": None, "token": NEW_UUID, "created_at": NOW, "updated_at": NOW} | row
        return row | overrides

    def write(self, table: str, row: dict) -> int:
        columns = ", ".join(quote(column) for column in row)
        values = ", ".join(v if isinstance(v, Sql) else "%s" for v in row.values())
        params = [v for v in row.values() if not isinstance(v, Sql)]
        sql = f"INSERT INTO {quote(table)} ({columns}) VALUES ({values}) RETURNING id"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def insert(self, table: str, **overrides) -> int:
        return self.write(table, self.build(table, **overrides))

    def update(self, table: str, row_id: int, **changes) -> None:
        assignments = ", ".join(
            f"{quote(column)} = {value if isinstance(value, Sql) else '%s'}"
            for column, value in changes.items()
        )
        params = [v for v in changes.values() if not isinstance(v, Sql)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(table)} SET {assignments} WHERE id = %s", [*params, row_id]
            )
            assert cursor.rowcount == 1

    def exists(self, table: str, row_id: int) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {quote(table)} WHERE id = %s", [row_id])
            return cursor.fetchone()[0] == 1

    def assert_rejected(self, table: str, constraint: str, **changes) -> None:
        """Both an INSERT of a row with `changes` and an UPDATE of a valid row to them fail."""
        row = self.build(table, **changes)
        with violates(constraint):
            self.write(table, row)
        row_id = self.insert(table)
        if table in append_only_tables():
            # The runtime role cannot UPDATE these at all (core.roles): nothing to violate.
            with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
                self.update(table, row_id, **changes)
            return
        with violates(constraint):
            self.update(table, row_id, **changes)

    def _accounts(self, n: int, overrides: dict) -> dict:
        return {
            "name": f"Account {n}",
            "status": "ACTIVE",
            "balance": Decimal("0.00"),
            "currency": "USD",
            "lithic_account_token": None,
            "lithic_financial_account_token": None,
            "tax_id": CIPHERTEXT,
            "tax_id_index": None,
        }

    def _users(self, n: int, overrides: dict) -> dict:
        return {
            "password": "!unusable",
            "last_login": None,
            "is_superuser": False,
            "email": f"user{n}@example.test",
            "role": "user",
            "first_name": "",
            "last_name": "",
            "phone": CIPHERTEXT,
            "date_of_birth": None,
            "is_active": True,
            "is_staff": False,
            "date_joined": NOW,
            "account_id": self.account_id,
        }

    def _addresses(self, n: int, overrides: dict) -> dict:
        return {
            "account_id": self.account_id,
            "owner_type_id": self.account_type_id,
            "owner_id": self.account_id,
            "address_type": "billing",
            "is_primary": False,
            "line1": CIPHERTEXT,
            "line2": CIPHERTEXT,
            "city": "Springfield",
            "region": "",
            "postal_code": f"{10000 + n}",
            "country": "US",
        }

    def _account_settings(self, n: int, overrides: dict) -> dict:
        return {"account_id": self.account_id, "key": f"setting_{n}", "value": Jsonb(30)}

    def _spending_categories(self, n: int, overrides: dict) -> dict:
        return {
            "mcc": f"{5000 + n:04d}",
            "description": f"Category {n}",
            "group": "Retail outlet services",
            "range_start": "5000",
            "range_end": "5599",
            "is_high_risk": False,
            "risk_reason": "",
        }

    def _spending_profiles(self, n: int, overrides: dict) -> dict:
        return {
            "account_id": self.account_id,
            "name": f"Profile {n}",
            "description": "",
            "lithic_auth_rule_token": None,
            "spend_limit": None,
            "spend_limit_duration": None,
        }

    def _profile_categories(self, n: int, overrides: dict) -> dict:
        return {
            "account_id": self.account_id,
            "profile_id": overrides.get("profile_id") or self.profile_id,
            "category_id": overrides.get("category_id") or self.insert("spending_categories"),
            "rule": "BLOCKED",
        }

    def _card_products(self, n: int, overrides: dict) -> dict:
        return {
            "account_id": self.account_id,
            "name": f"Product {n}",
            "description": "",
            "card_type": "VIRTUAL",
            "default_spend_limit": Decimal("0.00"),
            "default_spend_limit_duration": "MONTHLY",
            "default_profile_id": None,
            "lithic_product_id": "",
            "is_active": True,
        }

    def _cards(self, n: int, overrides: dict) -> dict:
        return {
            "account_id": self.account_id,
            "cardholder_id": None,
            "product_id": None,
            "profile_id": None,
            "lithic_card_token": None,
            "last_four": "",
            "type": "VIRTUAL",
            "state": "OPEN",
            "spend_limit": Decimal("0.00"),
            "spend_limit_duration": "MONTHLY",
            "memo": "",
        }

    def _transactions(self, n: int, overrides: dict) -> dict:
        return {
            "deleted": None,
            "token": NEW_UUID,
            "account_id": self.account_id,
            "card_id": overrides.get("card_id") or self.card_id,
            "amount": Decimal("12.50"),
            "settled_amount": Decimal("0.00"),
            "currency": "USD",
            "merchant_descriptor": "",
            "merchant_city": "",
            "merchant_country": "",
            "mcc": "",
            "type": "AUTHORIZATION",
            "status": "PENDING",
            "result": "",
            "declined_reason": "",
            "transaction_date": NOW,
            "created_at": NOW,
            "updated_at": NOW,
        }

    def _transaction_events(self, n: int, overrides: dict) -> dict:
        return {
            "deleted": None,
            "token": NEW_UUID,
            "account_id": self.account_id,
            "transaction_id": overrides.get("transaction_id") or self.transaction_id,
            "type": "AUTHORIZATION",
            "amount": Decimal("12.50"),
            "result": "APPROVED",
            "created": NOW,
            "recorded_at": NOW,
        }

    @cached_property
    def dispute_id(self) -> int:
        return self.insert("disputes")

    def _disputes(self, n: int, overrides: dict) -> dict:
        zero = Decimal("0.00")
        return {
            "token": NEW_UUID,
            "source": "MANAGED",
            "account_id": self.account_id,
            "card_id": None,
            "transaction_id": None,
            "transaction_token": None,
            "case_id": f"CASE{n}",
            "network": "VISA",
            "currency": "USD",
            "status": "OPEN",
            "disposition": "",
            "reason": "",
            "amount": Decimal("10.00"),
            "recovered_amount": zero,
            "written_off_amount": zero,
            "denied_amount": zero,
            "remaining_amount": Decimal("10.00"),
            "credited": zero,
            "opened_at": NOW,
            "lithic_updated_at": NOW,
            "payload": Jsonb({}),
            "recorded_at": NOW,
            "updated_at": NOW,
        }

    def _dispute_events(self, n: int, overrides: dict) -> dict:
        return {
            "deleted": None,
            "token": NEW_UUID,
            "dispute_id": overrides.get("dispute_id") or self.dispute_id,
            "account_id": self.account_id,
            "type": "WORKFLOW",
            "action": "OPENED",
            "amount": None,
            "polarity": "",
            "reason": "",
            "created": NOW,
            "credit": Decimal("0.00"),
            "data": Jsonb({}),
            "recorded_at": NOW,
        }

    def _transaction_enhanced_data(self, n: int, overrides: dict) -> dict:
        return {
            "token": NEW_UUID,
            "account_id": self.account_id,
            "transaction_id": overrides.get("transaction_id") or self.transaction_id,
            "event_token": NEW_UUID,
            "common": Jsonb({}),
            "fleet": Jsonb([]),
            "recorded_at": NOW,
            "updated_at": NOW,
        }

    def _balance_reports(self, n: int, overrides: dict) -> dict:
        zero = Decimal("0.00")
        return {
            "deleted": None,
            "account_id": None,
            "financial_account_token": NEW_UUID,
            "financial_account_type": "ISSUING",
            "currency": "USD",
            "lithic_total": zero,
            "lithic_pending": zero,
            "lithic_available": zero,
            "our_balance": None,
            "our_held": None,
            "our_available": None,
            "matches": None,
            "difference": "",
            "last_transaction_token": None,
            "reported_at": NOW,
            "recorded_at": NOW,
        }

    def _auth_rule_backtests(self, n: int, overrides: dict) -> dict:
        return {
            "backtest_token": NEW_UUID,
            "account_id": None,
            "profile_id": None,
            "rule_token": None,
            "status": "REQUESTED",
            "start": None,
            "end": None,
            "results": None,
            "requested_by": "",
            "requested_at": NOW,
            "reported_at": None,
        }

    def _webhooks(self, n: int, overrides: dict) -> dict:
        return {
            "deleted": None,
            "webhook_id": f"msg_{n}",
            "event_token": "",
            "event_type": "card.created",
            "account_id": None,
            "payload": Jsonb({"event_type": "card.created"}),
            "status": "PENDING",
            "attempts": 0,
            "last_error": "",
            "received_at": NOW,
            "next_attempt_at": NOW,
            "processed_at": None,
            "locked_by": "",
            "locked_until": None,
        }


@pytest.fixture
def rows(acme, globex) -> Rows:
    return Rows(
        account_id=acme.pk,
        other_account_id=globex.pk,
        account_type_id=ContentType.objects.get_for_model(Account).pk,
    )


# --- Coverage of the declared constraints ---------------------------------------------------


def test_the_covered_models_are_the_constrained_tables():
    assert [model._meta.db_table for model in MODELS] == TABLES


def test_every_declared_constraint_has_a_test():
    declared = {constraint.name for model in MODELS for constraint in model._meta.constraints}
    missing = declared - set(COVERED_CONSTRAINTS)
    assert not missing, f"constraints without a test in this module: {sorted(missing)}"
    stale = set(COVERED_CONSTRAINTS) - declared
    assert not stale, f"tested constraints no model declares any more: {sorted(stale)}"


def test_every_unique_column_has_a_test():
    declared = {
        f"{model._meta.db_table}.{field.column}"
        # The keys are written by the database itself, as transactions are inserted.
        for model in [*MODELS, TransactionKey]
        for field in model._meta.concrete_fields
        if field.unique and not field.primary_key
    }
    missing = declared - set(COVERED_UNIQUE_COLUMNS)
    assert not missing, f"unique columns without a test in this module: {sorted(missing)}"
    stale = set(COVERED_UNIQUE_COLUMNS) - declared
    assert not stale, f"tested unique columns no model declares any more: {sorted(stale)}"


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=TABLES)
def test_declared_constraints_exist_in_the_database(model):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    missing = {c.name for c in model._meta.constraints} - set(constraints)
    assert not missing, f"declared on {model.__name__} but not in the database: {missing}"


@pytest.mark.parametrize("table", TABLES)
def test_a_valid_row_is_accepted(rows, table):
    row_id = rows.insert(table)
    assert rows.exists(table, row_id)


# --- accounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("DORMANT", id="unknown"),
        pytest.param("active", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_account_status_must_be_known(rows, status):
    rows.assert_rejected("accounts", "accounts_status_valid", status=status)


@pytest.mark.parametrize(
    "balance",
    [
        pytest.param(Decimal("-0.01"), id="one-cent-below-zero"),
        pytest.param(Decimal("-25000.00"), id="large-overdraft"),
    ],
)
def test_account_balance_cannot_go_negative(rows, balance):
    rows.assert_rejected("accounts", "accounts_balance_gte_0", balance=balance)


def test_account_balance_cannot_be_debited_below_zero(rows, acme):
    with violates("accounts_balance_gte_0"), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts SET balance = balance - %s WHERE id = %s",
            [acme.balance + Decimal("0.01"), acme.pk],
        )


def test_account_balance_of_zero_is_allowed(rows):
    assert rows.exists("accounts", rows.insert("accounts", balance=Decimal("0.00")))


@pytest.mark.parametrize(
    "currency",
    [
        pytest.param("usd", id="lowercase"),
        pytest.param("Usd", id="mixed-case"),
        pytest.param("US", id="two-letters"),
        pytest.param("U5D", id="digit"),
        pytest.param("", id="empty"),
    ],
)
def test_account_currency_must_be_iso4217(rows, currency):
    rows.assert_rejected("accounts", "accounts_currency_iso4217", currency=currency)


# --- users -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        pytest.param("superuser", id="unknown"),
        pytest.param("OWNER", id="uppercase"),
        pytest.param("", id="empty"),
    ],
)
def test_user_role_must_be_known(rows, role):
    rows.assert_rejected("users", "users_role_valid", role=role)


def test_customer_user_requires_an_account(rows):
    rows.assert_rejected(
        "users", "users_account_required_unless_staff", account_id=None, is_staff=False
    )


def test_staff_user_may_have_no_account(rows):
    assert rows.exists("users", rows.insert("users", account_id=None, is_staff=True))


def test_staff_user_cannot_lose_staff_status_without_an_account(rows):
    operator_id = rows.insert("users", account_id=None, is_staff=True)
    with violates("users_account_required_unless_staff"):
        rows.update("users", operator_id, is_staff=False)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("a@x.test", "a@x.test", id="identical"),
        pytest.param("a@x.test", "A@X.test", id="different-case"),
        pytest.param("Ops@Example.test", "ops@example.TEST", id="mixed-case-both"),
    ],
)
def test_user_email_is_unique_case_insensitively_among_live_users(rows, first, second):
    rows.insert("users", email=first)
    row = rows.build("users", email=second)
    with violates("users_email_ci_uniq"):
        rows.write("users", row)


def test_user_email_is_unique_across_accounts(rows):
    rows.insert("users", email="a@x.test")
    row = rows.build("users", email="A@x.test", account_id=rows.other_account_id)
    with violates("users_email_ci_uniq"):
        rows.write("users", row)


def test_user_email_cannot_be_changed_to_a_taken_one(rows):
    rows.insert("users", email="a@x.test")
    other_id = rows.insert("users", email="b@x.test")
    with violates("users_email_ci_uniq"):
        rows.update("users", other_id, email="A@X.TEST")


def test_user_email_is_reusable_after_soft_delete(rows):
    rows.insert("users", email="a@x.test", deleted=NOW)
    assert rows.exists("users", rows.insert("users", email="A@X.test"))


def test_soft_deleted_user_cannot_be_restored_over_a_live_email(rows):
    deleted_id = rows.insert("users", email="a@x.test", deleted=NOW)
    rows.insert("users", email="A@X.test")
    with violates("users_email_ci_uniq"):
        rows.update("users", deleted_id, deleted=None)


# --- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address_type",
    [
        pytest.param("home", id="unknown"),
        pytest.param("BILLING", id="uppercase"),
        pytest.param("", id="empty"),
    ],
)
def test_address_type_must_be_known(rows, address_type):
    rows.assert_rejected("addresses", "addresses_type_valid", address_type=address_type)


@pytest.mark.parametrize(
    "country",
    [
        pytest.param("us", id="lowercase"),
        pytest.param("U", id="one-letter"),
        pytest.param("U1", id="digit"),
        pytest.param("", id="empty"),
    ],
)
def test_address_country_must_be_iso3166_alpha2(rows, country):
    rows.assert_rejected("addresses", "addresses_country_iso3166", country=country)


def test_owner_has_at_most_one_live_primary_address_per_type(rows):
    rows.insert("addresses", address_type="billing", is_primary=True)
    row = rows.build("addresses", address_type="billing", is_primary=True)
    with violates("addresses_one_primary_per_owner_type"):
        rows.write("addresses", row)


def test_address_cannot_be_promoted_to_a_second_primary(rows):
    rows.insert("addresses", address_type="billing", is_primary=True)
    other_id = rows.insert("addresses", address_type="billing", is_primary=False)
    with violates("addresses_one_primary_per_owner_type"):
        rows.update("addresses", other_id, is_primary=True)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"is_primary": False}, id="second-non-primary"),
        pytest.param({"is_primary": True, "address_type": "shipping"}, id="primary-of-other-type"),
    ],
)
def test_other_addresses_of_the_owner_beside_a_primary_are_allowed(rows, second):
    rows.insert("addresses", address_type="billing", is_primary=True)
    row_id = rows.insert("addresses", **({"address_type": "billing"} | second))
    assert rows.exists("addresses", row_id)


def test_primary_address_is_allowed_for_another_owner(rows):
    rows.insert("addresses", is_primary=True)
    row_id = rows.insert(
        "addresses",
        is_primary=True,
        account_id=rows.other_account_id,
        owner_id=rows.other_account_id,
    )
    assert rows.exists("addresses", row_id)


def test_primary_address_is_allowed_for_a_user_owner_with_the_same_id(rows):
    user_type_id = ContentType.objects.get_for_model(User).pk
    rows.insert("addresses", is_primary=True)
    row_id = rows.insert("addresses", is_primary=True, owner_type_id=user_type_id)
    assert rows.exists("addresses", row_id)


def test_primary_address_is_replaceable_after_soft_delete(rows):
    rows.insert("addresses", is_primary=True, deleted=NOW)
    assert rows.exists("addresses", rows.insert("addresses", is_primary=True))


# --- account_settings ------------------------------------------------------------------------


def test_account_setting_key_is_unique_per_account_among_live_rows(rows):
    rows.insert("account_settings", key="card_limit_default")
    row = rows.build("account_settings", key="card_limit_default")
    with violates("account_settings_account_key_uniq"):
        rows.write("account_settings", row)


def test_account_setting_key_is_reusable_after_soft_delete(rows):
    rows.insert("account_settings", key="card_limit_default", deleted=NOW)
    row_id = rows.insert("account_settings", key="card_limit_default")
    assert rows.exists("account_settings", row_id)


def test_account_setting_key_is_allowed_in_another_account(rows):
    rows.insert("account_settings", key="card_limit_default")
    row_id = rows.insert(
        "account_settings", key="card_limit_default", account_id=rows.other_account_id
    )
    assert rows.exists("account_settings", row_id)


# --- spending_categories ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "mcc",
    [
        pytest.param("581", id="three-digits"),
        pytest.param("58a1", id="letter"),
        pytest.param(" 581", id="leading-space"),
        pytest.param("", id="empty"),
    ],
)
def test_spending_category_mcc_must_be_four_digits(rows, mcc):
    rows.assert_rejected("spending_categories", "spending_categories_mcc_format", mcc=mcc)


@pytest.mark.parametrize(
    ("is_high_risk", "risk_reason"),
    [
        pytest.param(True, "", id="high-risk-without-reason"),
        pytest.param(False, "gambling", id="reason-without-high-risk"),
    ],
)
def test_spending_category_has_a_risk_reason_iff_high_risk(rows, is_high_risk, risk_reason):
    rows.assert_rejected(
        "spending_categories",
        "spending_categories_risk_reason_iff_high_risk",
        is_high_risk=is_high_risk,
        risk_reason=risk_reason,
    )


def test_spending_category_risk_reason_must_be_a_known_reason(rows):
    rows.assert_rejected(
        "spending_categories",
        "spending_categories_risk_reason_valid",
        is_high_risk=True,
        risk_reason="whatever",
    )


@pytest.mark.parametrize(
    ("is_high_risk", "risk_reason"),
    [
        pytest.param(True, "gambling", id="high-risk-with-reason"),
        pytest.param(False, "", id="ordinary"),
    ],
)
def test_spending_category_risk_reason_consistent_with_high_risk_is_allowed(
    rows, is_high_risk, risk_reason
):
    row_id = rows.insert("spending_categories", is_high_risk=is_high_risk, risk_reason=risk_reason)
    assert rows.exists("spending_categories", row_id)


def test_spending_category_mcc_is_unique_among_live_rows(rows):
    rows.insert("spending_categories", mcc="7995")
    row = rows.build("spending_categories", mcc="7995")
    with violates("spending_categories_mcc_uniq"):
        rows.write("spending_categories", row)


def test_spending_category_mcc_is_reusable_after_soft_delete(rows):
    rows.insert("spending_categories", mcc="7995", deleted=NOW)
    assert rows.exists("spending_categories", rows.insert("spending_categories", mcc="7995"))


# --- spending_profiles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spend_limit",
    [
        pytest.param(Decimal("-0.01"), id="one-cent-below-zero"),
        pytest.param(Decimal("-500.00"), id="negative"),
    ],
)
def test_spending_profile_spend_limit_cannot_be_negative(rows, spend_limit):
    rows.assert_rejected(
        "spending_profiles",
        "spending_profiles_spend_limit_gte_0",
        spend_limit=spend_limit,
        spend_limit_duration="MONTHLY",
    )


@pytest.mark.parametrize(
    "duration",
    [
        pytest.param("WEEKLY", id="unknown"),
        pytest.param("monthly", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_spending_profile_duration_must_be_known(rows, duration):
    rows.assert_rejected(
        "spending_profiles",
        "spending_profiles_duration_valid",
        spend_limit=Decimal("100.00"),
        spend_limit_duration=duration,
    )


@pytest.mark.parametrize(
    ("spend_limit", "duration"),
    [
        pytest.param(Decimal("100.00"), None, id="limit-without-duration"),
        pytest.param(None, "MONTHLY", id="duration-without-limit"),
    ],
)
def test_spending_profile_limit_and_duration_are_set_together(rows, spend_limit, duration):
    rows.assert_rejected(
        "spending_profiles",
        "spending_profiles_limit_and_duration_together",
        spend_limit=spend_limit,
        spend_limit_duration=duration,
    )


@pytest.mark.parametrize(
    ("spend_limit", "duration"),
    [
        pytest.param(None, None, id="neither"),
        pytest.param(Decimal("0.00"), "TRANSACTION", id="zero-per-transaction"),
        pytest.param(Decimal("2500.00"), "MONTHLY", id="monthly"),
    ],
)
def test_spending_profile_with_limit_and_duration_together_is_allowed(rows, spend_limit, duration):
    row_id = rows.insert(
        "spending_profiles", spend_limit=spend_limit, spend_limit_duration=duration
    )
    assert rows.exists("spending_profiles", row_id)


def test_spending_profile_name_is_unique_per_account_among_live_rows(rows):
    rows.insert("spending_profiles", name="Travel")
    row = rows.build("spending_profiles", name="Travel")
    with violates("spending_profiles_account_name_uniq"):
        rows.write("spending_profiles", row)


def test_spending_profile_name_is_reusable_after_soft_delete(rows):
    rows.insert("spending_profiles", name="Travel", deleted=NOW)
    assert rows.exists("spending_profiles", rows.insert("spending_profiles", name="Travel"))


def test_spending_profile_name_is_allowed_in_another_account(rows):
    rows.insert("spending_profiles", name="Travel")
    row_id = rows.insert("spending_profiles", name="Travel", account_id=rows.other_account_id)
    assert rows.exists("spending_profiles", row_id)


def test_soft_deleted_spending_profile_cannot_be_restored_over_a_live_name(rows):
    deleted_id = rows.insert("spending_profiles", name="Travel", deleted=NOW)
    rows.insert("spending_profiles", name="Travel")
    with violates("spending_profiles_account_name_uniq"):
        rows.update("spending_profiles", deleted_id, deleted=None)


# --- profile_categories ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param("ALLOW", id="unknown"),
        pytest.param("allowed", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_profile_category_rule_must_be_allowed_or_blocked(rows, rule):
    rows.assert_rejected("profile_categories", "profile_categories_rule_valid", rule=rule)


def test_profile_category_is_unique_per_profile_among_live_rows(rows):
    category_id = rows.insert("spending_categories")
    rows.insert("profile_categories", category_id=category_id, rule="BLOCKED")
    row = rows.build("profile_categories", category_id=category_id, rule="ALLOWED")
    with violates("profile_categories_uniq"):
        rows.write("profile_categories", row)


def test_profile_category_is_reusable_after_soft_delete(rows):
    category_id = rows.insert("spending_categories")
    rows.insert("profile_categories", category_id=category_id, deleted=NOW)
    row_id = rows.insert("profile_categories", category_id=category_id)
    assert rows.exists("profile_categories", row_id)


def test_profile_category_is_allowed_in_another_profile(rows):
    category_id = rows.insert("spending_categories")
    rows.insert("profile_categories", category_id=category_id)
    other_profile_id = rows.insert("spending_profiles")
    row_id = rows.insert("profile_categories", category_id=category_id, profile_id=other_profile_id)
    assert rows.exists("profile_categories", row_id)


# --- card_products ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card_type",
    [
        pytest.param("PREPAID", id="unknown"),
        pytest.param("virtual", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_card_product_type_must_be_known(rows, card_type):
    rows.assert_rejected("card_products", "card_products_card_type_valid", card_type=card_type)


@pytest.mark.parametrize(
    "limit",
    [
        pytest.param(Decimal("-0.01"), id="one-cent-below-zero"),
        pytest.param(Decimal("-1000.00"), id="negative"),
    ],
)
def test_card_product_default_spend_limit_cannot_be_negative(rows, limit):
    rows.assert_rejected(
        "card_products", "card_products_default_spend_limit_gte_0", default_spend_limit=limit
    )


@pytest.mark.parametrize(
    "duration",
    [
        pytest.param("WEEKLY", id="unknown"),
        pytest.param("monthly", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_card_product_default_duration_must_be_known(rows, duration):
    rows.assert_rejected(
        "card_products", "card_products_duration_valid", default_spend_limit_duration=duration
    )


def test_card_product_name_is_unique_per_account_among_live_rows(rows):
    rows.insert("card_products", name="Travel card")
    row = rows.build("card_products", name="Travel card")
    with violates("card_products_account_name_uniq"):
        rows.write("card_products", row)


def test_card_product_name_is_reusable_after_soft_delete(rows):
    rows.insert("card_products", name="Travel card", deleted=NOW)
    assert rows.exists("card_products", rows.insert("card_products", name="Travel card"))


def test_card_product_name_is_allowed_in_another_account(rows):
    rows.insert("card_products", name="Travel card")
    row_id = rows.insert("card_products", name="Travel card", account_id=rows.other_account_id)
    assert rows.exists("card_products", row_id)


# --- cards -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card_type",
    [
        pytest.param("PREPAID", id="unknown"),
        pytest.param("virtual", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_card_type_must_be_known(rows, card_type):
    rows.assert_rejected("cards", "cards_type_valid", type=card_type)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param("ACTIVE", id="unknown"),
        pytest.param("open", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_card_state_must_be_known(rows, state):
    rows.assert_rejected("cards", "cards_state_valid", state=state)


@pytest.mark.parametrize(
    "limit",
    [
        pytest.param(Decimal("-0.01"), id="one-cent-below-zero"),
        pytest.param(Decimal("-1000.00"), id="negative"),
    ],
)
def test_card_spend_limit_cannot_be_negative(rows, limit):
    rows.assert_rejected("cards", "cards_spend_limit_gte_0", spend_limit=limit)


@pytest.mark.parametrize(
    "duration",
    [
        pytest.param("WEEKLY", id="unknown"),
        pytest.param("monthly", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_card_spend_limit_duration_must_be_known(rows, duration):
    rows.assert_rejected("cards", "cards_spend_limit_duration_valid", spend_limit_duration=duration)


@pytest.mark.parametrize(
    "last_four",
    [
        pytest.param("123", id="three-digits"),
        pytest.param("12a4", id="letter"),
        pytest.param("abcd", id="letters"),
        pytest.param(" 123", id="leading-space"),
    ],
)
def test_card_last_four_must_be_empty_or_four_digits(rows, last_four):
    rows.assert_rejected("cards", "cards_last_four_format", last_four=last_four)


@pytest.mark.parametrize(
    "last_four",
    [pytest.param("", id="empty"), pytest.param("4242", id="four-digits")],
)
def test_card_last_four_empty_or_four_digits_is_allowed(rows, last_four):
    assert rows.exists("cards", rows.insert("cards", last_four=last_four))


# --- transactions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("APPROVED", id="unknown"),
        pytest.param("pending", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_transaction_status_must_be_known(rows, status):
    rows.assert_rejected("transactions", "transactions_status_valid", status=status)


@pytest.mark.parametrize(
    "transaction_type",
    [
        pytest.param("REFUND", id="unknown"),
        pytest.param("authorization", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_transaction_type_must_be_known(rows, transaction_type):
    rows.assert_rejected("transactions", "transactions_type_valid", type=transaction_type)


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(Decimal("-0.01"), id="one-cent-below-zero"),
        pytest.param(Decimal("-12.50"), id="negative"),
    ],
)
def test_transaction_amount_cannot_be_negative(rows, amount):
    rows.assert_rejected("transactions", "transactions_amount_gte_0", amount=amount)


@pytest.mark.parametrize(
    "settled_amount",
    [
        pytest.param(Decimal("-0.01"), id="one-cent-below-zero"),
        pytest.param(Decimal("-12.50"), id="negative"),
    ],
)
def test_transaction_settled_amount_cannot_be_negative(rows, settled_amount):
    rows.assert_rejected(
        "transactions", "transactions_settled_amount_gte_0", settled_amount=settled_amount
    )


@pytest.mark.parametrize(
    "currency",
    [
        pytest.param("usd", id="lowercase"),
        pytest.param("US", id="two-letters"),
        pytest.param("U5D", id="digit"),
        pytest.param("", id="empty"),
    ],
)
def test_transaction_currency_must_be_iso4217(rows, currency):
    rows.assert_rejected("transactions", "transactions_currency_iso4217", currency=currency)


@pytest.mark.parametrize(
    "mcc",
    [
        pytest.param("581", id="three-digits"),
        pytest.param("58a1", id="letter"),
        pytest.param(" 581", id="leading-space"),
    ],
)
def test_transaction_mcc_must_be_empty_or_four_digits(rows, mcc):
    rows.assert_rejected("transactions", "transactions_mcc_format", mcc=mcc)


@pytest.mark.parametrize("mcc", [pytest.param("", id="empty"), pytest.param("5812", id="mcc")])
def test_transaction_mcc_empty_or_four_digits_is_allowed(rows, mcc):
    assert rows.exists("transactions", rows.insert("transactions", mcc=mcc))


def test_declined_transaction_must_have_a_reason(rows):
    rows.assert_rejected(
        "transactions", "transactions_declined_has_reason", status="DECLINED", declined_reason=""
    )


def test_declined_transaction_with_a_reason_is_allowed(rows):
    row_id = rows.insert("transactions", status="DECLINED", declined_reason="UNAUTHORIZED_MERCHANT")
    assert rows.exists("transactions", row_id)


def test_transaction_hold_cannot_be_negative(rows):
    rows.assert_rejected(
        "transactions", "transactions_hold_amount_gte_0", hold_amount=Decimal("-0.01")
    )


@pytest.mark.parametrize(
    ("settled_amount", "refunded_amount"),
    [
        pytest.param(Decimal("10.00"), Decimal("10.01"), id="more-than-settled"),
        pytest.param(Decimal("10.00"), Decimal("-0.01"), id="negative"),
    ],
)
def test_transaction_refund_stays_within_the_settled_amount(rows, settled_amount, refunded_amount):
    rows.assert_rejected(
        "transactions",
        "transactions_settled_covers_refunded",
        status="SETTLED",
        settled_amount=settled_amount,
        refunded_amount=refunded_amount,
    )


@pytest.mark.parametrize("status", ["SETTLED", "DECLINED", "VOIDED", "EXPIRED"])
def test_transaction_hold_only_while_pending(rows, status):
    rows.assert_rejected(
        "transactions",
        "transactions_hold_only_while_pending",
        status=status,
        declined_reason="x",
        hold_amount=Decimal("1.00"),
    )


# --- transaction_events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        pytest.param("PURCHASE", id="unknown"),
        pytest.param("clearing", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_transaction_event_type_must_be_known(rows, event_type):
    rows.assert_rejected("transaction_events", "transaction_events_type_valid", type=event_type)


# --- webhooks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        pytest.param("DONE", id="unknown"),
        pytest.param("pending", id="lowercase"),
        pytest.param("", id="empty"),
    ],
)
def test_webhook_status_must_be_known(rows, status):
    rows.assert_rejected("webhooks", "webhooks_status_valid", status=status)


@pytest.mark.parametrize(
    "first_deleted",
    [pytest.param(None, id="first-live"), pytest.param(NOW, id="first-soft-deleted")],
)
def test_webhook_id_is_unique(rows, first_deleted):
    rows.insert("webhooks", webhook_id="msg_2Lh9KX4pQ", deleted=first_deleted)
    row = rows.build("webhooks", webhook_id="msg_2Lh9KX4pQ")
    with violates("webhooks_webhook_id_key"):
        rows.write("webhooks", row)


@pytest.mark.parametrize("status", ["PENDING", "FAILED"])
def test_webhook_waiting_for_a_worker_must_say_when_it_is_due(rows, status):
    rows.assert_rejected(
        "webhooks", "webhooks_due_has_next_attempt", status=status, next_attempt_at=None
    )


@pytest.mark.parametrize("status", ["DEAD", "IGNORED"])
def test_webhook_no_longer_queued_needs_no_due_time(rows, status):
    assert rows.exists("webhooks", rows.insert("webhooks", status=status, next_attempt_at=None))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"status": "PROCESSING"}, id="processing-without-lease"),
        pytest.param({"status": "PROCESSING", "locked_until": NOW}, id="processing-without-worker"),
        pytest.param({"locked_by": "w1", "locked_until": NOW}, id="lease-while-pending"),
        pytest.param({"locked_by": "w1"}, id="worker-while-pending"),
    ],
)
def test_webhook_has_a_lease_exactly_while_processing(rows, changes):
    rows.assert_rejected("webhooks", "webhooks_lease_iff_processing", **changes)


def test_webhook_processing_with_a_lease_is_allowed(rows):
    row_id = rows.insert("webhooks", status="PROCESSING", locked_by="w1", locked_until=NOW)
    assert rows.exists("webhooks", row_id)


def test_processed_webhook_must_say_when(rows):
    rows.assert_rejected(
        "webhooks", "webhooks_processed_has_processed_at", status="PROCESSED", processed_at=None
    )


@pytest.mark.parametrize(
    ("table", "constraint"),
    [
        ("cards", "cards_lithic_sync_status_valid"),
        ("spending_profiles", "spending_profiles_lithic_sync_status_valid"),
    ],
)
@pytest.mark.parametrize("status", ["DONE", "synced", ""])
def test_lithic_sync_status_must_be_known(rows, table, constraint, status):
    rows.assert_rejected(table, constraint, lithic_sync_status=status)


# --- External and public tokens --------------------------------------------------------------

LITHIC_TOKENS = [
    pytest.param("accounts", "lithic_account_token", id="account"),
    pytest.param("accounts", "lithic_financial_account_token", id="financial-account"),
    pytest.param("cards", "lithic_card_token", id="card"),
    pytest.param("spending_profiles", "lithic_auth_rule_token", id="auth-rule"),
]


@pytest.mark.parametrize(("table", "column"), LITHIC_TOKENS)
def test_lithic_token_may_be_unset_on_many_rows(rows, table, column):
    first_id = rows.insert(table, **{column: None})
    second_id = rows.insert(table, **{column: None})
    assert rows.exists(table, first_id)
    assert rows.exists(table, second_id)


@pytest.mark.parametrize(
    "first_deleted",
    [pytest.param(None, id="first-live"), pytest.param(NOW, id="first-soft-deleted")],
)
@pytest.mark.parametrize(("table", "column"), LITHIC_TOKENS)
def test_lithic_token_is_unique_when_set(rows, table, column, first_deleted):
    rows.insert(table, **{column: FIXED_UUID, "deleted": first_deleted})
    row = rows.build(table, **{column: FIXED_UUID})
    with violates(f"{table}_{column}_uniq"):
        rows.write(table, row)


@pytest.mark.parametrize(("table", "column"), LITHIC_TOKENS)
def test_lithic_token_cannot_be_changed_to_a_taken_one(rows, table, column):
    rows.insert(table, **{column: FIXED_UUID})
    other_id = rows.insert(table)
    with violates(f"{table}_{column}_uniq"):
        rows.update(table, other_id, **{column: FIXED_UUID})


@pytest.mark.parametrize(
    "first_deleted",
    [pytest.param(None, id="first-live"), pytest.param(NOW, id="first-soft-deleted")],
)
@pytest.mark.parametrize("table", [*BUSINESS_TABLES, "transactions", "transaction_events"])
def test_row_token_is_unique(rows, table, first_deleted):
    rows.insert(table, token=FIXED_UUID, deleted=first_deleted)
    row = rows.build(table, token=FIXED_UUID)
    # A partitioned table's tokens are unique through its keys (transactions.partitioning).
    constraint = "transaction_keys_token_key" if table == "transactions" else f"{table}_token_key"
    with violates(constraint):
        rows.write(table, row)


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("disputes", "token"),
        ("dispute_events", "token"),
        ("transaction_enhanced_data", "token"),
        ("auth_rule_backtests", "backtest_token"),
    ],
)
def test_lithic_record_token_is_unique(rows, table, column):
    rows.insert(table, **{column: FIXED_UUID})
    row = rows.build(table, **{column: FIXED_UUID})
    with violates(f"{table}_{column}_key"):
        rows.write(table, row)


# --- Lithic's events beyond transactions --------------------------------------------------------


@pytest.mark.parametrize("source", ["asa", "OPERATOR", ""])
def test_transaction_event_source_must_be_known(rows, source):
    rows.assert_rejected("transaction_events", "transaction_events_source_valid", source=source)


@pytest.mark.parametrize("source", ["V1", "managed", ""])
def test_dispute_source_must_be_known(rows, source):
    rows.assert_rejected("disputes", "disputes_source_valid", source=source)


def test_dispute_cannot_have_credited_less_than_nothing(rows):
    rows.assert_rejected("disputes", "disputes_credited_gte_0", credited=Decimal("-0.01"))


@pytest.mark.parametrize("status", ["DONE", "requested", ""])
def test_backtest_status_must_be_known(rows, status):
    rows.assert_rejected("auth_rule_backtests", "auth_rule_backtests_status_valid", status=status)


# --- Column CHECKs of positive integer fields ------------------------------------------------


def test_address_owner_id_cannot_be_negative(rows):
    rows.assert_rejected("addresses", "addresses_owner_id_check", owner_id=-1)


def test_webhook_attempts_cannot_be_negative(rows):
    rows.assert_rejected("webhooks", "webhooks_attempts_check", attempts=-1)
