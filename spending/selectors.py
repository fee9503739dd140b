"""Reads of the MCC catalogue and spending profiles, scoped to what the actor may see."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from spending.models import AuthRuleBacktest, ProfileCategory, SpendingCategory, SpendingProfile


def spending_category_list() -> QuerySet[SpendingCategory]:
    return SpendingCategory.objects.all()


def spending_profile_list(*, actor) -> QuerySet[SpendingProfile]:
    rules = ProfileCategory.objects.select_related("category").order_by("category__mcc")
    return SpendingProfile.objects.filter(account_id=actor.account_id).prefetch_related(
        Prefetch("category_rules", queryset=rules)
    )


def spending_profile_codes(*, profile: SpendingProfile) -> tuple[list[str], list[str]]:
    """The profile's live allowed and blocked merchant category codes."""
    rows = ProfileCategory.objects.filter(profile_id=profile.pk).select_related("category")
    allowed = [r.category.mcc for r in rows if r.rule == ProfileCategory.Rule.ALLOWED]
    blocked = [r.category.mcc for r in rows if r.rule == ProfileCategory.Rule.BLOCKED]
    return allowed, blocked


def spending_profile_backtests(*, profile: SpendingProfile) -> QuerySet[AuthRuleBacktest]:
    """Lithic's backtests of the profile's rule, newest first."""
    return AuthRuleBacktest.objects.filter(profile=profile).order_by("-requested_at", "-id")
