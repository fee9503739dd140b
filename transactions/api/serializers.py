from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from transactions.models import Transaction, TransactionEvent


@extend_schema_field(OpenApiTypes.UUID)
class TokenOfField(serializers.Field):
    """The token of a related row reached through `source` (read-only, null when absent)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return str(value.token)


class TransactionEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TransactionEvent
        fields = ("type", "amount", "result", "created")
        read_only_fields = fields


class TransactionSerializer(serializers.ModelSerializer):
    card = TokenOfField(help_text="The card's token")
    cardholder = TokenOfField(
        source="card.cardholder", allow_null=True, help_text="The cardholder's (user's) token"
    )

    class Meta:
        model = Transaction
        fields = (
            "token",
            "card",
            "cardholder",
            "amount",
            "settled_amount",
            "currency",
            "merchant_descriptor",
            "merchant_city",
            "merchant_country",
            "mcc",
            "type",
            "status",
            "result",
            "declined_reason",
            "transaction_date",
            "created_at",
        )
        read_only_fields = fields


class TransactionDetailSerializer(TransactionSerializer):
    events = TransactionEventSerializer(many=True, read_only=True)

    class Meta(TransactionSerializer.Meta):
        fields = (*TransactionSerializer.Meta.fields, "events")
        read_only_fields = fields
