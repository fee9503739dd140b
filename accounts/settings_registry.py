"""The known account settings: each key's type, default and validation, in one place.

A setting row stores its value as JSON. Decimals are stored as strings so no float ever
touches money; `account_setting_value()` returns the typed value or the default.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class SettingSpec:
    key: str
    type: type
    default: Any
    description: str
    validators: tuple[Callable[[Any], None], ...] = field(default=())


def _between(low, high):
    def check(value):
        if not low <= value <= high:
            raise ValidationError(f"must be between {low} and {high}")

    return check


def _non_negative(value):
    if value < 0:
        raise ValidationError("must not be negative")


def _known_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known IANA time zone")


REGISTRY: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec(
            "block_high_risk_mcc",
            bool,
            True,
            "Decline authorizations at high-risk merchant categories (gambling, quasi-cash, ...).",
        ),
        SettingSpec(
            "default_card_spend_limit",
            Decimal,
            Decimal("1000.00"),
            "Spend limit given to new cards when their product sets none.",
            (_non_negative,),
        ),
        SettingSpec(
            "low_balance_alert_threshold",
            Decimal,
            Decimal("500.00"),
            "Alert the account's admins when the balance drops below this amount.",
            (_non_negative,),
        ),
        SettingSpec(
            "statement_day",
            int,
            1,
            "Day of the month the statement period starts.",
            (_between(1, 28),),
        ),
        SettingSpec(
            "require_card_memo",
            bool,
            False,
            "New cards must be given a memo.",
        ),
        SettingSpec(
            "timezone",
            str,
            "UTC",
            "Time zone for statements and reports (spend windows are always UTC).",
            (_known_timezone,),
        ),
    )
}


# Decimal settings are amounts: they fit the money columns (12 digits, 2 of them cents), and
# anything larger could not even be quantized to cents.
_MONEY_BOUND = Decimal("1e10")


def _fits_money(number: Decimal) -> bool:
    return number.is_finite() and abs(number) < _MONEY_BOUND


def _coerce(spec: SettingSpec, value: Any) -> Any:
    """The typed value for a JSON value, or ValidationError. No silent coercion across types."""
    if spec.type is bool:
        if isinstance(value, bool):
            return value
    elif spec.type is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif spec.type is Decimal:
        # Strings (and integers) only: a JSON float may already have lost cents.
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                pass
            else:
                if _fits_money(number) and number == number.quantize(Decimal("0.01")):
                    return number.quantize(Decimal("0.01"))
        elif isinstance(value, Decimal) and _fits_money(value):
            return value.quantize(Decimal("0.01"))
    elif spec.type is str and isinstance(value, str):
        return value
    # The code goes on the field's error: Django drops a code given beside a dict of errors.
    raise ValidationError(
        {
            "value": ValidationError(
                f"'{spec.key}' expects a {spec.type.__name__}, got {value!r}", code="invalid_type"
            )
        }
    )


def get_spec(key: str) -> SettingSpec:
    try:
        return REGISTRY[key]
    except KeyError:
        raise ValidationError(
            {
                "key": ValidationError(
                    f"Unknown setting '{key}'. Known: {', '.join(sorted(REGISTRY))}",
                    code="unknown_key",
                )
            }
        ) from None


def parse_setting(key: str, stored: Any) -> Any:
    spec = get_spec(key)
    typed = _coerce(spec, stored)
    for validator in spec.validators:
        try:
            validator(typed)
        except ValidationError as exc:
            # Not "invalid": a ModelForm swaps that code for its field's own message.
            raise ValidationError(
                {"value": ValidationError(f"'{key}' {exc.messages[0]}", code="invalid_value")}
            ) from None
    return typed


def validate_setting(key: str, value: Any) -> Any:
    """Validate a value for storage; returns its JSON form (decimals as strings)."""
    typed = parse_setting(key, value)
    return str(typed) if isinstance(typed, Decimal) else typed
