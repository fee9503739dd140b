"""Account settings: a registry of known keys, typed values, defaults."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AccountSetting
from accounts.selectors import account_setting_value
from accounts.services import account_setting_set
from accounts.settings_registry import REGISTRY


def test_unset_setting_returns_its_registered_default(acme):
    assert account_setting_value(account=acme, key="block_high_risk_mcc") is True
    assert account_setting_value(account=acme, key="default_card_spend_limit") == Decimal("1000.00")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("block_high_risk_mcc", False, False),
        ("default_card_spend_limit", "250.5", Decimal("250.50")),
        ("default_card_spend_limit", 300, Decimal("300.00")),
        ("statement_day", 15, 15),
        ("timezone", "Europe/Paris", "Europe/Paris"),
    ],
)
def test_set_setting_reads_back_typed(acme, key, value, expected):
    account_setting_set(account=acme, key=key, value=value)
    got = account_setting_value(account=acme, key=key)
    assert got == expected
    assert type(got) is type(expected)


def test_decimal_settings_are_stored_as_strings_never_floats(acme, raw_sql):
    account_setting_set(account=acme, key="default_card_spend_limit", value="99.90")
    (stored,) = raw_sql("SELECT value::text FROM account_settings")[0]
    assert stored == '"99.90"'


def test_unknown_key_is_rejected(acme):
    with pytest.raises(ValidationError) as excinfo:
        account_setting_set(account=acme, key="colour_scheme", value="dark")
    assert "Unknown setting" in str(excinfo.value)
    assert not AccountSetting.objects.exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("block_high_risk_mcc", "yes"),
        ("block_high_risk_mcc", 1),
        ("default_card_spend_limit", 12.5),  # a float may already have lost cents
        ("default_card_spend_limit", "12.345"),
        ("default_card_spend_limit", "-1"),
        ("default_card_spend_limit", "NaN"),
        ("default_card_spend_limit", True),
        ("statement_day", True),
        ("statement_day", 29),
        ("statement_day", "3"),
        ("timezone", "Mars/Olympus"),
        ("timezone", 5),
    ],
)
def test_wrong_type_or_invalid_value_is_rejected(acme, key, value):
    with pytest.raises(ValidationError):
        account_setting_set(account=acme, key=key, value=value)
    assert not AccountSetting.objects.filter(key=key).exists()


def test_setting_again_updates_the_one_row_and_keeps_history(acme):
    account_setting_set(account=acme, key="statement_day", value=5)
    account_setting_set(account=acme, key="statement_day", value=9)
    setting = AccountSetting.objects.get(account=acme, key="statement_day")
    assert setting.value == 9
    assert [h.value for h in setting.history.order_by("history_id")] == [5, 9]


def test_a_raw_invalid_row_fails_model_validation(acme):
    setting = AccountSetting(account=acme, key="statement_day", value="soon")
    with pytest.raises(ValidationError):
        setting.full_clean()


def test_every_registered_default_passes_its_own_validation():
    from accounts.settings_registry import parse_setting, validate_setting

    for key, spec in REGISTRY.items():
        assert parse_setting(key, validate_setting(key, spec.default)) == spec.default
