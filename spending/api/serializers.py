from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from spending.models import (
    AuthRuleBacktest,
    ProfileCategory,
    SpendingCategory,
    SpendingProfile,
    SpendLimitDuration,
)

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.00")}
MCC_LIST = serializers.ListField(child=serializers.CharField(min_length=4, max_length=4))


class SpendingCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = SpendingCategory
        fields = (
            "mcc",
            "description",
            "group",
            "range_start",
            "range_end",
            "is_high_risk",
            "risk_reason",
        )
        read_only_fields = fields


class AuthRuleBacktestSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuthRuleBacktest
        fields = (
            "backtest_token",
            "status",
            "start",
            "end",
            "results",
            "requested_at",
            "reported_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "results": {
                "help_text": "Lithic's statistics for the rule's current and draft versions: "
                "approved, declined and example events"
            }
        }


class SpendingProfileSerializer(serializers.ModelSerializer):
    allowed_mccs = serializers.SerializerMethodField(
        help_text="Merchant category codes allowed; when any is set, every other is declined"
    )
    blocked_mccs = serializers.SerializerMethodField(help_text="Merchant category codes declined")

    class Meta:
        model = SpendingProfile
        fields = (
            "token",
            "name",
            "description",
            "spend_limit",
            "spend_limit_duration",
            "allowed_mccs",
            "blocked_mccs",
            "lithic_auth_rule_token",
            "lithic_sync_status",
            "lithic_sync_error",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "lithic_sync_status": {
                "help_text": "Whether Lithic's auth rule matches this profile: SYNCED, PENDING "
                "(on its way), REJECTED (Lithic refused it, see lithic_sync_error) or "
                "LOCAL_ONLY (outbound sync is off in this environment)."
            },
            "lithic_sync_error": {"help_text": "Lithic's last refusal or failure, if any"},
        }

    # The rules are prefetched by the selector (ordered by MCC): no query per profile.
    @extend_schema_field(MCC_LIST)
    def get_allowed_mccs(self, profile) -> list[str]:
        return _codes(profile, ProfileCategory.Rule.ALLOWED)

    @extend_schema_field(MCC_LIST)
    def get_blocked_mccs(self, profile) -> list[str]:
        return _codes(profile, ProfileCategory.Rule.BLOCKED)


def _codes(profile, rule: str) -> list[str]:
    return [row.category.mcc for row in profile.category_rules.all() if row.rule == rule]


class MccField(serializers.RegexField):
    default_error_messages = {"invalid": "A merchant category code is 4 digits."}

    def __init__(self, **kwargs):
        super().__init__(r"^[0-9]{4}$", **kwargs)


class _ProfileInput(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    spend_limit = serializers.DecimalField(
        **MONEY, required=False, allow_null=True, help_text="Set together with its duration"
    )
    spend_limit_duration = serializers.ChoiceField(
        choices=SpendLimitDuration.choices, required=False, allow_null=True
    )
    allowed_mccs = serializers.ListField(
        child=MccField(),
        required=False,
        max_length=1000,
        help_text="Replaces the allowed categories; when any is set, every other is declined",
    )
    blocked_mccs = serializers.ListField(
        child=MccField(),
        required=False,
        max_length=1000,
        help_text="Replaces the blocked categories",
    )


class SpendingProfileCreateSerializer(_ProfileInput):
    name = serializers.CharField(max_length=100)

    def validate(self, attrs):
        limit, duration = attrs.get("spend_limit"), attrs.get("spend_limit_duration")
        if (limit is None) != (duration is None):
            missing = "spend_limit" if limit is None else "spend_limit_duration"
            raise serializers.ValidationError(
                {missing: "A spend limit and its duration are set together (or both left out)."},
                code="limit_and_duration_together",
            )
        return attrs


class SpendingProfileUpdateSerializer(_ProfileInput):
    name = serializers.CharField(max_length=100, required=False)
