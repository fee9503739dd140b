"""PII is ciphertext at rest, never returned as ciphertext, and keys rotate."""

from __future__ import annotations

import datetime

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command

from accounts.models import Account, Address, User
from accounts.services import account_create, address_add
from core.encryption import DecryptionError, is_current
from core.key_rotation import rotate_model

PLAINTEXT = {
    "users.phone": "+1 555 010 4477",
    "users.date_of_birth": "1985-04-12",
    "accounts.tax_id": "12-3456789",
    "addresses.line1": "1600 Amphitheatre Pkwy",
}


@pytest.fixture
def pii(acme, customer_admin):
    address_add(
        owner=customer_admin,
        address_type="shipping",
        line1=PLAINTEXT["addresses.line1"],
        city="Mountain View",
        postal_code="94043",
        is_primary=True,
    )
    return acme, customer_admin


def raw_column(raw_sql, table: str, column: str) -> list[bytes]:
    return [bytes(row[0]) for row in raw_sql(f"SELECT {column} FROM {table}") if row[0]]


@pytest.mark.parametrize("qualified", sorted(PLAINTEXT))
def test_pii_columns_hold_no_plaintext(pii, raw_sql, qualified):
    table, column = qualified.split(".")
    values = raw_column(raw_sql, table, column)
    assert values, "expected at least one stored value"
    plain = PLAINTEXT[qualified].encode()
    for value in values:
        assert plain not in value
        assert value.startswith(b"gAAAAA")  # a Fernet token


@pytest.mark.parametrize(
    ("history_column", "live_column"),
    [("users_history.phone", "users.phone"), ("accounts_history.tax_id", "accounts.tax_id")],
)
def test_history_tables_hold_no_plaintext_either(pii, raw_sql, history_column, live_column):
    values = raw_column(raw_sql, *history_column.split("."))
    assert values
    assert all(PLAINTEXT[live_column].encode() not in value for value in values)


def test_encrypted_values_read_back_as_their_types(pii):
    user = User.objects.get(email="ada@acme.test")
    assert user.phone == "+1 555 010 4477"
    assert user.date_of_birth == datetime.date(1985, 4, 12)
    assert user.history.first().phone == "+1 555 010 4477"


def test_value_no_key_decrypts_raises_instead_of_returning_ciphertext(pii, settings):
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError):
        User.objects.get(email="ada@acme.test")


def test_encrypted_columns_refuse_lookups(pii):
    with pytest.raises(FieldError):
        list(User.objects.filter(phone="+1 555 010 4477"))


def test_tax_id_exact_lookup_through_blind_index_ignores_formatting(pii):
    assert list(Account.objects.filter(**Account.tax_id_lookup("123456789"))) == [pii[0]]
    assert not Account.objects.filter(**Account.tax_id_lookup("123456780")).exists()


def test_blind_index_holds_no_plaintext(pii, raw_sql):
    (index,) = raw_sql("SELECT tax_id_index FROM accounts WHERE name = 'Acme Corp'")[0]
    assert len(index) == 64
    assert "3456789" not in index


def _rotate_to_new_key(settings) -> str:
    new_key = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new_key, *settings.FERNET_KEYS]
    return new_key


# Transactional: the command connects as the owner role, which sees committed rows only.
@pytest.mark.django_db(transaction=True)
def test_rotation_reencrypts_every_row_under_the_first_key(pii, raw_sql, settings):
    old_keys = list(settings.FERNET_KEYS)
    new_key = _rotate_to_new_key(settings)
    assert not is_current(raw_column(raw_sql, "users", "phone")[0])
    # Mid-rotation: rows still under the old key are found by the blind index.
    assert Account.objects.filter(**Account.tax_id_lookup("12-3456789")).exists()

    call_command("rotate_encryption_keys", no_progress=True, batch_size=2)

    for table, column in [("users", "phone"), ("addresses", "line1"), ("users_history", "phone")]:
        assert all(is_current(v) for v in raw_column(raw_sql, table, column))
    settings.FERNET_KEYS = [new_key]  # the old key can now be retired
    user = User.objects.get(email="ada@acme.test")
    assert user.phone == "+1 555 010 4477"
    assert Address.objects.get().line1 == PLAINTEXT["addresses.line1"]
    assert Account.objects.filter(**Account.tax_id_lookup("12-3456789")).exists()
    assert old_keys  # kept for clarity of the scenario


# Transactional: the command connects as the owner role, which sees committed rows only.
@pytest.mark.django_db(transaction=True)
def test_rotation_check_reports_pending_rows_and_changes_nothing(pii, raw_sql, settings):
    _rotate_to_new_key(settings)
    before = raw_column(raw_sql, "users", "phone")
    with pytest.raises(CommandError, match="not under the first key"):
        call_command("rotate_encryption_keys", check=True, no_progress=True)
    assert raw_column(raw_sql, "users", "phone") == before
    call_command("rotate_encryption_keys", no_progress=True)
    call_command("rotate_encryption_keys", check=True, no_progress=True)


def test_rotation_resumes_after_an_interruption(acme, raw_sql, settings):
    for n in range(7):
        account_create(name=f"Tenant {n}", tax_id=f"55-00000{n}")
    _rotate_to_new_key(settings)

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(count):
        raise Interrupted

    with pytest.raises(Interrupted):
        rotate_model(Account, batch_size=3, on_batch=stop_after_first_batch)
    tokens = raw_column(raw_sql, "accounts", "tax_id")
    assert sum(is_current(t) for t in tokens) == 3

    stats = rotate_model(Account, batch_size=3)
    assert stats.rotated == len(tokens) - 3
    assert all(is_current(t) for t in raw_column(raw_sql, "accounts", "tax_id"))


@pytest.mark.django_db(transaction=True)
def test_rotation_fails_loudly_when_a_key_is_missing(pii, settings):
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_encryption_keys", no_progress=True)
