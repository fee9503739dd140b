from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import Account, Address, Role, User
from cards.models import Card, CardProduct
from demo import bulk
from spending.models import SpendingCategory, SpendingProfile
from transactions.models import Transaction, TransactionStatus

# The bulk history alone: what these tests are about (tests/demo/test_live.py has the rest).
SMALL_PROGRAM = {
    "accounts": 2,
    "users_per_account": 4,
    "cards_per_account": 3,
    "transactions": 500,
    "live": 0,
    "no_progress": True,
}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO(), **{**SMALL_PROGRAM, **options})
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed()


def snapshot() -> dict:
    """The seeded data without database ids, external tokens or load timestamps."""
    return {
        "accounts": sorted(Account.objects.values_list("name", "balance", "tax_id")),
        "users": sorted(
            (u.email, u.role, u.first_name, u.last_name, u.phone, u.date_of_birth)
            for u in User.objects.filter(account__isnull=False)
        ),
        "cards": sorted(Card.objects.values_list("last_four", "state", "type", "spend_limit")),
        "amounts": Counter(Transaction.objects.values_list("amount", flat=True)),
        "transactions": Counter(
            Transaction.objects.values_list(
                "card__last_four", "merchant_descriptor", "mcc", "status", "settled_amount"
            )
        ),
    }


def test_seed_demo_creates_what_was_asked(seeded):
    assert Account.objects.count() == 2
    assert User.objects.filter(account__isnull=False).count() == 8
    assert Card.objects.count() == 6
    assert CardProduct.objects.count() == 4
    assert Transaction.objects.count() == 500
    assert 4 <= SpendingProfile.objects.count() <= 6
    # business and billing per account, shipping per user
    assert Address.objects.count() == 2 * 2 + 8
    assert "accounts           2" in seeded
    assert "transactions       500 (500 in bulk, 0 live)" in seeded


def test_seed_demo_loads_the_mcc_catalogue_when_missing(seeded):
    assert SpendingCategory.objects.filter(mcc="7995", is_high_risk=True).exists()


def test_every_account_has_every_role(seeded):
    for account in Account.objects.all():
        roles = set(account.users.values_list("role", flat=True))
        assert roles == {Role.OWNER, Role.ADMIN, Role.USER, Role.ANALYST}


def test_every_user_has_pii_and_a_shipping_address(seeded):
    for user in User.objects.filter(account__isnull=False):
        assert user.first_name and user.last_name and user.phone and user.date_of_birth
        assert user.addresses.filter(address_type=Address.Type.SHIPPING, is_primary=True).exists()


def test_transactions_belong_to_their_cards_account(seeded):
    assert not Transaction.objects.exclude(account_id=F("card__account_id")).exists()


def test_amounts_are_non_negative_decimals_in_cents(seeded):
    for amount, settled in Transaction.objects.values_list("amount", "settled_amount"):
        for value in (amount, settled):
            assert isinstance(value, Decimal)
            assert value.as_tuple().exponent == -2
            assert value >= 0


def test_transactions_spread_over_the_last_year(seeded):
    now = timezone.now()
    months = (
        Transaction.objects.annotate(month=TruncMonth("transaction_date"))
        .values_list("month", flat=True)
        .distinct()
    )
    assert len(set(months)) > 6
    assert not Transaction.objects.filter(transaction_date__gt=now).exists()
    assert not Transaction.objects.filter(
        transaction_date__lt=now - datetime.timedelta(days=bulk.WINDOW_DAYS + 1)
    ).exists()


def test_statuses_are_mostly_settled_with_some_of_each(seeded):
    statuses = Counter(Transaction.objects.values_list("status", flat=True))
    assert statuses[TransactionStatus.SETTLED] > 0.7 * 500
    for status in ("PENDING", "DECLINED", "VOIDED"):
        assert statuses[status] > 0, status


def test_declined_transactions_have_a_reason(seeded):
    declined = Transaction.objects.filter(status=TransactionStatus.DECLINED)
    assert declined.exists()
    for result, reason, settled in declined.values_list(
        "result", "declined_reason", "settled_amount"
    ):
        assert reason
        assert result and result != "APPROVED"
        assert settled == Decimal("0.00")


def test_history_names_the_command(seeded):
    for model in (Account, User, Card, SpendingProfile):
        history = model.history.filter(history_type="+")
        assert history.exists()
        assert set(history.values_list("history_actor", flat=True)) == {"command:seed_demo"}


def test_pii_is_ciphertext_in_the_table(seeded, raw_sql):
    users = {u.pk: u for u in User.objects.filter(account__isnull=False)}
    rows = raw_sql("SELECT id, phone, date_of_birth FROM users WHERE id = ANY(%s)", [list(users)])
    assert len(rows) == len(users)
    for user_id, phone, date_of_birth in rows:
        user = users[user_id]
        assert user.phone.encode() not in bytes(phone)
        assert user.date_of_birth.isoformat().encode() not in bytes(date_of_birth)
    for account in Account.objects.all():
        [(tax_id,)] = raw_sql("SELECT tax_id FROM accounts WHERE id = %s", [account.pk])
        assert account.tax_id and account.tax_id.encode() not in bytes(tax_id)
    for address in Address.objects.all():
        [(line1,)] = raw_sql("SELECT line1 FROM addresses WHERE id = %s", [address.pk])
        assert address.line1.encode() not in bytes(line1)


def test_if_empty_is_a_no_op_once_accounts_exist(seeded):
    before = (Account.all_objects.count(), User.all_objects.count(), Transaction.objects.count())
    out = seed(if_empty=True)
    assert "nothing seeded" in out
    after = (Account.all_objects.count(), User.all_objects.count(), Transaction.objects.count())
    assert after == before


def test_same_seed_gives_the_same_data(db):
    snapshots = []
    for _ in range(2):
        # Each run in a savepoint that is rolled back, so the second starts from the same state.
        with transaction.atomic():
            seed(seed=7)
            snapshots.append(snapshot())
            transaction.set_rollback(True)
    assert snapshots[0] == snapshots[1]
    assert sum(snapshots[0]["amounts"].values()) == 500


def test_a_different_seed_gives_different_data(db):
    snapshots = []
    for value in (7, 8):
        with transaction.atomic():
            seed(seed=value)
            snapshots.append(snapshot())
            transaction.set_rollback(True)
    assert snapshots[0]["amounts"] != snapshots[1]["amounts"]


def test_seeding_twice_adds_a_second_program(seeded):
    seed(accounts=1, transactions=10)
    assert Account.objects.count() == 3
    emails = list(User.objects.values_list("email", flat=True))
    assert len(emails) == len({e.lower() for e in emails})


def test_transactions_only_adds_to_the_existing_cards(seeded):
    cards = set(Card.objects.values_list("id", flat=True))
    out = seed(transactions_only=True, transactions=120, accounts=9)
    assert Account.objects.count() == 2
    assert Transaction.objects.count() == 620
    assert set(Transaction.objects.values_list("card_id", flat=True)) <= cards
    assert "transactions       120 (120 in bulk, 0 live)" in out


def test_transactions_only_needs_cards(db):
    with pytest.raises(CommandError, match="no open, paused or closed cards"):
        seed(transactions_only=True)


def test_too_few_users_for_every_role_is_refused(db):
    with pytest.raises(CommandError, match="users-per-account"):
        seed(users_per_account=3)
    assert not Account.all_objects.exists()


def test_generated_rows_fill_every_column_but_the_id():
    columns = {f.column for f in Transaction._meta.concrete_fields if not f.primary_key}
    assert set(bulk.TRANSACTION_COLUMNS) == columns
    assert len(bulk.TRANSACTION_COLUMNS) == len(columns)
