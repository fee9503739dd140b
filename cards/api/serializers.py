from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from accounts.selectors import user_list
from cards.models import ISSUABLE_CARD_TYPE_CHOICES, Card, CardProduct, CardType
from cards.selectors import card_product_list
from core.api.fields import TokenRelatedField
from spending.models import SpendLimitDuration
from spending.selectors import spending_profile_list

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.00")}


class CardSerializer(serializers.ModelSerializer):
    product = TokenRelatedField(scope=card_product_list, name="card product", read_only=True)
    profile = TokenRelatedField(
        scope=spending_profile_list, name="spending profile", read_only=True
    )
    cardholder = TokenRelatedField(scope=user_list, name="user", read_only=True)

    class Meta:
        model = Card
        fields = (
            "token",
            "state",
            "type",
            "last_four",
            "memo",
            "spend_limit",
            "spend_limit_duration",
            "product",
            "profile",
            "cardholder",
            "lithic_card_token",
            "lithic_sync_status",
            "lithic_sync_error",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "lithic_sync_status": {
                "help_text": "SYNCED: Lithic holds this card as shown. PENDING: a change is on "
                "its way to Lithic (retried until Lithic confirms). REJECTED: Lithic refused "
                "the change (see lithic_sync_error); support has been told. LOCAL_ONLY: "
                "outbound sync is off in this environment."
            },
            "lithic_sync_error": {"help_text": "Lithic's last refusal or failure, if any"},
        }


class CardIssueSerializer(serializers.Serializer):
    product = TokenRelatedField(
        scope=card_product_list,
        name="card product",
        help_text="The card product to issue from; its type, limit and profile are the defaults.",
    )
    cardholder = TokenRelatedField(scope=user_list, name="user", required=False, allow_null=True)
    memo = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    spend_limit = serializers.DecimalField(**MONEY, required=False, help_text="0 means no limit")
    spend_limit_duration = serializers.ChoiceField(
        choices=SpendLimitDuration.choices, required=False
    )
    profile = TokenRelatedField(
        scope=spending_profile_list, name="spending profile", required=False, allow_null=True
    )


class CardUpdateSerializer(serializers.Serializer):
    memo = serializers.CharField(max_length=255, required=False, allow_blank=True)
    spend_limit = serializers.DecimalField(**MONEY, required=False, help_text="0 means no limit")
    spend_limit_duration = serializers.ChoiceField(
        choices=SpendLimitDuration.choices, required=False
    )
    profile = TokenRelatedField(
        scope=spending_profile_list, name="spending profile", required=False, allow_null=True
    )


class CardProductSerializer(serializers.ModelSerializer):
    default_profile = TokenRelatedField(
        scope=spending_profile_list, name="spending profile", read_only=True, allow_null=True
    )

    class Meta:
        model = CardProduct
        fields = (
            "token",
            "name",
            "description",
            "card_type",
            "default_spend_limit",
            "default_spend_limit_duration",
            "default_profile",
            "is_active",
            "created_at",
        )
        read_only_fields = fields


class CardProductCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    card_type = serializers.ChoiceField(
        choices=ISSUABLE_CARD_TYPE_CHOICES, default=CardType.VIRTUAL
    )
    default_spend_limit = serializers.DecimalField(
        **MONEY, default=Decimal("0.00"), help_text="0 means no limit"
    )
    default_spend_limit_duration = serializers.ChoiceField(
        choices=SpendLimitDuration.choices, default=SpendLimitDuration.MONTHLY
    )
    default_profile = TokenRelatedField(
        scope=spending_profile_list,
        name="spending profile",
        required=False,
        allow_null=True,
        default=None,
        help_text="Spending profile given to cards issued from this product",
    )


class CardProductUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    card_type = serializers.ChoiceField(choices=ISSUABLE_CARD_TYPE_CHOICES, required=False)
    default_spend_limit = serializers.DecimalField(
        **MONEY, required=False, help_text="0 means no limit"
    )
    default_spend_limit_duration = serializers.ChoiceField(
        choices=SpendLimitDuration.choices, required=False
    )
    default_profile = TokenRelatedField(
        scope=spending_profile_list, name="spending profile", required=False, allow_null=True
    )
    is_active = serializers.BooleanField(required=False)


__all__ = [
    "CardIssueSerializer",
    "CardProductCreateSerializer",
    "CardProductSerializer",
    "CardProductUpdateSerializer",
    "CardSerializer",
    "CardType",
    "CardUpdateSerializer",
]
