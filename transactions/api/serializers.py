from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from transactions.models import (
    BalanceReport,
    Dispute,
    DisputeEvent,
    Transaction,
    TransactionEnhancedData,
    TransactionEvent,
)


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
        fields = ("type", "amount", "result", "reason", "source", "created")
        read_only_fields = fields
        extra_kwargs = {
            "source": {
                "help_text": "LITHIC: reported by Lithic. ASA: our answer to an authorization "
                "request; Lithic's report of the same authorization counts in its place."
            }
        }


class EnhancedDataSerializer(serializers.ModelSerializer):
    class Meta:
        model = TransactionEnhancedData
        fields = ("token", "event_token", "common", "fleet", "updated_at")
        read_only_fields = fields


class TransactionSerializer(serializers.ModelSerializer):
    card = TokenOfField(help_text="The card's token")
    cardholder = serializers.UUIDField(
        source="cardholder_token",
        read_only=True,
        allow_null=True,
        help_text="The cardholder's (user's) token",
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
    disputes = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="token", help_text="Tokens of its disputes"
    )
    enhanced_data = EnhancedDataSerializer(many=True, read_only=True)

    class Meta(TransactionSerializer.Meta):
        fields = (*TransactionSerializer.Meta.fields, "events", "disputes", "enhanced_data")
        read_only_fields = fields


class DisputeEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisputeEvent
        fields = ("created", "type", "action", "amount", "polarity", "reason", "credit")
        read_only_fields = fields


class DisputeSerializer(serializers.ModelSerializer):
    transaction = TokenOfField(allow_null=True, help_text="The disputed transaction's token")
    card = TokenOfField(allow_null=True, help_text="The card's token")

    class Meta:
        model = Dispute
        fields = (
            "token",
            "source",
            "case_id",
            "transaction",
            "card",
            "status",
            "disposition",
            "reason",
            "currency",
            "amount",
            "recovered_amount",
            "written_off_amount",
            "denied_amount",
            "remaining_amount",
            "credited",
            "opened_at",
            "lithic_updated_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "token": {"help_text": "Lithic's dispute token"},
            "credited": {"help_text": "What the dispute has credited your account, net"},
        }


class DisputeDetailSerializer(DisputeSerializer):
    events = DisputeEventSerializer(many=True, read_only=True)

    class Meta(DisputeSerializer.Meta):
        fields = (*DisputeSerializer.Meta.fields, "events")
        read_only_fields = fields


class BalanceReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = BalanceReport
        fields = (
            "reported_at",
            "financial_account_type",
            "currency",
            "lithic_total",
            "lithic_pending",
            "lithic_available",
            "our_balance",
            "our_held",
            "our_available",
            "matches",
            "difference",
        )
        read_only_fields = fields
