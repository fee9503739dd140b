from __future__ import annotations

import uuid

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.models import User
from accounts.selectors import user_list
from cards.models import Card
from cards.selectors import card_list
from transactions.models import Transaction, TransactionStatus


class TokenChoiceField(forms.ModelChoiceField):
    """A row named by its token, looked up within what the caller may see: another account's
    token and an unknown one give the same error."""

    default_error_messages = {
        "invalid": "Must be a UUID token.",
        "does_not_exist": "No %(name)s with token %(value)s.",
    }

    def __init__(self, *args, object_name: str = "object", **kwargs):
        self.object_name = object_name
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            token = uuid.UUID(str(value))
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        try:
            return self.queryset.get(token=token)
        except self.queryset.model.DoesNotExist:
            raise ValidationError(
                self.error_messages["does_not_exist"],
                code="does_not_exist",
                params={"name": self.object_name, "value": token},
            ) from None

    def validate(self, value):
        forms.Field.validate(self, value)


@extend_schema_field(OpenApiTypes.UUID)
class TokenFilter(django_filters.ModelChoiceFilter):
    field_class = TokenChoiceField


def _cards(request):
    if request is None or request.user is None:  # schema generation: no caller
        return Card.objects.none()
    return card_list(actor=request.user)


def _users(request):
    if request is None or request.user is None:  # schema generation: no caller
        return User.objects.none()
    return user_list(actor=request.user)


class TransactionFilter(django_filters.FilterSet):
    card = TokenFilter(
        queryset=_cards, field_name="card", object_name="card", help_text="A card's token"
    )
    user = TokenFilter(
        queryset=_users,
        method="filter_cardholder",
        object_name="user",
        help_text="The cardholder's (user's) token: who held the card when it was authorized",
    )
    status = django_filters.ChoiceFilter(choices=TransactionStatus.choices)
    mcc = django_filters.CharFilter(max_length=4, help_text="Merchant category code")
    date_from = django_filters.IsoDateTimeFilter(
        field_name="transaction_date",
        lookup_expr="gte",
        help_text="Transactions at or after this ISO 8601 date-time",
    )
    date_to = django_filters.IsoDateTimeFilter(
        field_name="transaction_date",
        lookup_expr="lte",
        help_text="Transactions at or before this ISO 8601 date-time",
    )
    amount_min = django_filters.NumberFilter(
        field_name="amount", lookup_expr="gte", max_digits=12, decimal_places=2
    )
    amount_max = django_filters.NumberFilter(
        field_name="amount", lookup_expr="lte", max_digits=12, decimal_places=2
    )

    def filter_cardholder(self, queryset, name, value):
        if value is None:
            return queryset
        # Recorded at authorization; for older rows (not recorded then), the card's holder now.
        return queryset.filter(
            Q(cardholder=value) | Q(cardholder__isnull=True, card__cardholder=value)
        )

    class Meta:
        model = Transaction
        fields = (
            "card",
            "user",
            "status",
            "mcc",
            "date_from",
            "date_to",
            "amount_min",
            "amount_max",
        )
