"""List filters with input boxes (a range of dates or amounts, a code), for lists too large
for a filter that lists every value."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.utils.dateparse import parse_date, parse_datetime


class InputFilter(admin.ListFilter):
    """Input boxes, each a query parameter, submitted together with the list's other filters.

    `inputs`: (parameter, label, placeholder). `apply(queryset, values)` filters with the
    values given (parsed by `parse`, whose ValueError is the list's "invalid filter" page).
    """

    template = "admin/filters/inputs.html"
    inputs: tuple[tuple[str, str, str], ...] = ()

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for parameter, _, _ in self.inputs:
            if parameter in params:
                self.used_parameters[parameter] = params.pop(parameter)[-1]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [parameter for parameter, _, _ in self.inputs]

    def choices(self, changelist):
        mine = set(self.expected_parameters())
        yield {
            "inputs": [
                (parameter, label, placeholder, self.used_parameters.get(parameter, ""))
                for parameter, label, placeholder in self.inputs
            ],
            "hidden": [
                (key, value)
                for key, values in self.request.GET.lists()
                if key not in mine and key != "p"
                for value in values
            ],
            "clear_url": changelist.get_query_string(remove=list(mine)),
            "active": bool(self.used_parameters),
        }

    def parse(self, parameter: str, value: str):
        return value.strip()

    def apply(self, queryset, values: dict):
        raise NotImplementedError

    def queryset(self, request, queryset):
        values = {}
        for parameter, value in self.used_parameters.items():
            if value.strip():
                try:
                    values[parameter] = self.parse(parameter, value)
                except ValueError as exc:
                    raise IncorrectLookupParameters(str(exc)) from exc
        return self.apply(queryset, values) if values else queryset


def parse_moment(value: str) -> datetime.datetime:
    """A UTC day (`2026-12-07`, its midnight) or an ISO 8601 time."""
    value = value.strip()
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"not a date: {value!r}")
        moment = datetime.datetime.combine(day, datetime.time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def parse_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value.strip().lstrip("$").replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount


def range_filter(field: str, title: str, *, kind: str) -> type[InputFilter]:
    """A from/to filter on a date-time (`kind="time"`: from, before) or an amount (`"amount"`:
    from, to, both included). Its parameters are the field's own lookups (`field__gte`, ...),
    so a link built elsewhere (the overview's) fills its boxes."""
    if kind == "time":
        low, high = f"{field}__gte", f"{field}__lt"
        inputs = ((low, "from", "2026-12-01"), (high, "before", "2026-12-08"))
        parse = parse_moment
    else:
        low, high = f"{field}__gte", f"{field}__lte"
        inputs = ((low, "from", "10.00"), (high, "to", "250.00"))
        parse = parse_amount

    class RangeFilter(InputFilter):
        def parse(self, parameter, value):
            return parse(value)

        def apply(self, queryset, values):
            return queryset.filter(**values)

    RangeFilter.title = title
    RangeFilter.inputs = inputs
    RangeFilter.__name__ = f"{field.title().replace('_', '')}RangeFilter"
    return RangeFilter
