"""Reading the fields of Lithic's payloads: tokens, times and text, or LithicPayloadInvalid."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from lithic_integration.errors import LithicPayloadInvalid


def token(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise LithicPayloadInvalid(f"{what} is not a token: {str(value)[:40]!r}") from None


def optional_token(value: Any, what: str) -> uuid.UUID | None:
    return None if value in (None, "") else token(value, what)


def moment(value: Any, what: str) -> datetime.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise LithicPayloadInvalid(f"{what} is not an ISO 8601 date-time: {str(value)[:40]!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.UTC)
    return parsed


def optional_moment(value: Any, what: str) -> datetime.datetime | None:
    return None if value in (None, "") else moment(value, what)


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LithicPayloadInvalid(f"{what} is not an object")
    return value


def part(owner: Any, key: str) -> dict[str, Any]:
    """`owner[key]` when both are objects, else {}: for the parts a payload may leave out."""
    value = owner.get(key) if isinstance(owner, dict) else None
    return value if isinstance(value, dict) else {}


def text(value: Any, limit: int) -> str:
    return "" if value is None else str(value)[:limit]
