"""State changes of the MCC catalogue and spending profiles."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.soft_delete import soft_delete
from spending.errors import ProfileInUse
from spending.models import AuthRuleBacktest, ProfileCategory, SpendingCategory, SpendingProfile
from spending.signals import spending_profile_changed

# Marks an argument the caller did not pass, so that None can mean "clear this field".
UNSET: Any = object()


@transaction.atomic
def spending_profile_create(
    *,
    account,
    name: str,
    description: str = "",
    spend_limit: Decimal | None = None,
    spend_limit_duration: str | None = None,
    allowed_mccs: Iterable[str] | None = None,
    blocked_mccs: Iterable[str] | None = None,
) -> SpendingProfile:
    """Create a spending profile for an account, with its allowed and blocked categories."""
    profile = SpendingProfile(
        account=account,
        name=name,
        description=description,
        spend_limit=spend_limit,
        spend_limit_duration=spend_limit_duration,
    )
    _check_limit_and_duration(profile)
    _check_profile_name_free(profile)
    profile.full_clean()
    profile.save()
    spending_profile_mark_changed(profile=profile)
    if allowed_mccs is not None or blocked_mccs is not None:
        spending_profile_set_rules(
            profile=profile, allowed_mccs=allowed_mccs, blocked_mccs=blocked_mccs
        )
    return profile


def _check_profile_name_free(profile: SpendingProfile) -> None:
    # Model validation reports the live-name constraint (it has a condition) without a field
    # or code; callers need "this name is taken" on `name`.
    taken = SpendingProfile.objects.filter(account_id=profile.account_id, name=profile.name)
    if profile.pk is not None:
        taken = taken.exclude(pk=profile.pk)
    if taken.exists():
        raise ValidationError(
            {"name": ValidationError("A spending profile with this name exists.", code="unique")}
        )


def _check_limit_and_duration(profile: SpendingProfile) -> None:
    if (profile.spend_limit is None) == (profile.spend_limit_duration is None):
        return
    missing = "spend_limit" if profile.spend_limit is None else "spend_limit_duration"
    raise ValidationError(
        {
            missing: ValidationError(
                "A spend limit and its duration are set together (or both left empty).",
                code="limit_and_duration_together",
            )
        }
    )


@transaction.atomic
def spending_profile_update(
    *,
    profile: SpendingProfile,
    name: str = UNSET,
    description: str = UNSET,
    spend_limit: Decimal | None = UNSET,
    spend_limit_duration: str | None = UNSET,
    allowed_mccs: Iterable[str] | None = None,
    blocked_mccs: Iterable[str] | None = None,
) -> SpendingProfile:
    """Change a profile's fields; a category list that is given replaces that list."""
    profile = SpendingProfile.objects.select_for_update().get(pk=profile.pk)
    wanted = {
        "name": name,
        "description": description,
        "spend_limit": spend_limit,
        "spend_limit_duration": spend_limit_duration,
    }
    changed = [f for f, v in wanted.items() if v is not UNSET and getattr(profile, f) != v]
    for field in changed:
        setattr(profile, field, wanted[field])
    if changed:
        _check_limit_and_duration(profile)
        if "name" in changed:
            _check_profile_name_free(profile)
        profile.full_clean()
        profile.save(update_fields=changed)
    if allowed_mccs is not None or blocked_mccs is not None:
        spending_profile_set_rules(
            profile=profile, allowed_mccs=allowed_mccs, blocked_mccs=blocked_mccs
        )
    return profile


@transaction.atomic
def spending_profile_set_rules(
    *,
    profile: SpendingProfile,
    allowed_mccs: Iterable[str] | None = None,
    blocked_mccs: Iterable[str] | None = None,
) -> SpendingProfile:
    """Replace the allowed and/or the blocked categories of a profile (None leaves a list be).

    A code moved to the other list changes its rule in place; codes left out of a given list
    lose their rule (soft-deleted, so the profile's rule history stays readable).
    """
    given = {
        rule: list(dict.fromkeys(codes))
        for rule, codes in (
            (ProfileCategory.Rule.ALLOWED, allowed_mccs),
            (ProfileCategory.Rule.BLOCKED, blocked_mccs),
        )
        if codes is not None
    }
    field_of = {
        ProfileCategory.Rule.ALLOWED: "allowed_mccs",
        ProfileCategory.Rule.BLOCKED: "blocked_mccs",
    }
    wanted = {code for codes in given.values() for code in codes}
    categories = {c.mcc: c for c in SpendingCategory.objects.filter(mcc__in=wanted)}
    errors: dict[str, list[ValidationError]] = {}
    for rule, codes in given.items():
        unknown = [code for code in codes if code not in categories]
        if unknown:
            errors.setdefault(field_of[rule], []).append(
                ValidationError(
                    "Not a merchant category code of the catalogue: %(codes)s.",
                    code="unknown_mcc",
                    params={"codes": ", ".join(unknown)},
                )
            )
    if len(given) == 2:
        both = sorted(
            set(given[ProfileCategory.Rule.ALLOWED]) & set(given[ProfileCategory.Rule.BLOCKED])
        )
        if both:
            errors.setdefault("blocked_mccs", []).append(
                ValidationError(
                    "A category cannot be both allowed and blocked: %(codes)s.",
                    code="allowed_and_blocked",
                    params={"codes": ", ".join(both)},
                )
            )
    if errors:
        raise ValidationError(errors)

    # Lock the profile first, so two concurrent replacements of its lists run one after the other.
    profile = SpendingProfile.objects.select_for_update().get(pk=profile.pk)
    current = (
        ProfileCategory.objects.select_for_update(of=("self",))
        .filter(profile=profile)
        .select_related("category")
    )
    for row in current:
        if row.rule in given and row.category.mcc not in wanted:
            soft_delete(obj=row)
    for rule, codes in given.items():
        for code in codes:
            profile_category_set(profile=profile, category=categories[code], rule=rule)
    return profile


@transaction.atomic
def spending_profile_delete(*, profile: SpendingProfile) -> None:
    """Soft-delete a profile that no open card and no card product uses any more."""
    # Cards and products live in an app above this one: ask the registry, not an import.
    card_model = apps.get_model("cards", "Card")
    product_model = apps.get_model("cards", "CardProduct")
    profile = SpendingProfile.objects.select_for_update().get(pk=profile.pk)
    cards = card_model.objects.filter(profile=profile).exclude(state="CLOSED").count()
    products = product_model.objects.filter(default_profile=profile).count()
    if cards or products:
        raise ProfileInUse(
            f"The spending profile is used by {cards} card(s) that are not closed and "
            f"{products} card product(s); move them to another profile first."
        )
    soft_delete(obj=profile)
    # Its Lithic rule (if any) is switched off by the push: a deleted profile enforces nothing.
    spending_profile_mark_changed(profile=profile)


@transaction.atomic
def profile_category_set(
    *, profile: SpendingProfile, category: SpendingCategory, rule: str
) -> ProfileCategory:
    """Allow or block one category on a profile (replacing an earlier rule for it)."""
    existing = (
        ProfileCategory.objects.select_for_update()
        .filter(profile=profile, category=category)
        .first()
    )
    if existing is None:
        existing = ProfileCategory(
            account_id=profile.account_id, profile=profile, category=category, rule=rule
        )
        existing.full_clean()
        existing.save()
    elif existing.rule != rule:
        existing.rule = rule
        existing.full_clean()
        existing.save(update_fields=["rule"])
    return existing


CATALOGUE_FIELDS = (
    "description",
    "group",
    "range_start",
    "range_end",
    "is_high_risk",
    "risk_reason",
)


@transaction.atomic
def mcc_catalogue_load() -> dict[str, int]:
    """Create or update every ISO 18245 code; idempotent. Returns the counts of each outcome."""
    from core.history import audited_bulk_create, audited_bulk_update
    from spending.mcc_catalogue import catalogue

    existing = {c.mcc: c for c in SpendingCategory.all_objects.select_for_update()}
    to_create, to_update = [], []
    for entry in catalogue():
        wanted = {
            "description": entry.description,
            "group": entry.group,
            "range_start": entry.range_start,
            "range_end": entry.range_end,
            "is_high_risk": entry.is_high_risk,
            "risk_reason": entry.risk_reason,
        }
        current = existing.get(entry.mcc)
        if current is None:
            to_create.append(SpendingCategory(mcc=entry.mcc, **wanted))
        elif any(getattr(current, name) != value for name, value in wanted.items()):
            for name, value in wanted.items():
                setattr(current, name, value)
            to_update.append(current)
    if to_create:
        audited_bulk_create(SpendingCategory, to_create)
    if to_update:
        audited_bulk_update(SpendingCategory, to_update, CATALOGUE_FIELDS)
    return {
        "created": len(to_create),
        "updated": len(to_update),
        "unchanged": len(existing) - len(to_update),
    }


# --- What the Lithic integration hears ---------------------------------------------------------


def spending_profile_mark_changed(*, profile: SpendingProfile) -> None:
    """Announce, in the caller's transaction, that the profile's rule at the card processor
    (its codes, or its existence) must follow (`spending.signals`)."""
    spending_profile_changed.send(sender=SpendingProfile, pk=profile.pk)


@transaction.atomic
def spending_profile_store_rule_token(*, profile_pk: int, rule_token: str) -> SpendingProfile:
    """Record the token of the profile's rule at Lithic once Lithic has made it (with history)."""
    profile = SpendingProfile.all_objects.select_for_update().get(pk=profile_pk)
    if profile.lithic_auth_rule_token is None:
        profile.lithic_auth_rule_token = uuid.UUID(str(rule_token))
        profile.save(update_fields=["lithic_auth_rule_token"])
    return profile


def profile_category_saved(sender, instance: ProfileCategory, raw: bool = False, **kwargs) -> None:
    """post_save of a category rule: its profile's rule at Lithic must follow.

    A receiver rather than a call in each service, because rules also change through the
    console's inline forms, soft delete and undelete, which all end in `save()`.
    """
    if raw or instance.profile_id is None:
        return
    spending_profile_changed.send(sender=SpendingProfile, pk=instance.profile_id)


# --- Backtests of a profile's rule at Lithic ----------------------------------------------------


@transaction.atomic
def backtest_record_request(
    *,
    profile: SpendingProfile,
    backtest_token: str,
    start: datetime.datetime | None,
    end: datetime.datetime | None,
    requested_by: str,
) -> AuthRuleBacktest:
    """Record a backtest Lithic accepted for the profile's rule; its report comes later."""
    backtest, _ = AuthRuleBacktest.objects.get_or_create(
        backtest_token=uuid.UUID(str(backtest_token)),
        defaults={
            "profile": profile,
            "account_id": profile.account_id,
            "rule_token": profile.lithic_auth_rule_token,
            "status": AuthRuleBacktest.Status.REQUESTED,
            "start": start,
            "end": end,
            "requested_by": requested_by[:255],
            "requested_at": timezone.now(),
        },
    )
    return backtest


@transaction.atomic
def backtest_record_report(
    *,
    backtest_token: uuid.UUID,
    start: datetime.datetime | None,
    end: datetime.datetime | None,
    results: dict[str, Any],
) -> AuthRuleBacktest:
    """Store Lithic's report on the backtest it answers (kept without a profile if the
    backtest was not requested here); the same report again changes nothing."""
    backtest = (
        AuthRuleBacktest.objects.select_for_update().filter(backtest_token=backtest_token).first()
    )
    if backtest is None:
        backtest = AuthRuleBacktest(backtest_token=backtest_token)
    backtest.status = AuthRuleBacktest.Status.REPORTED
    backtest.start = start or backtest.start
    backtest.end = end or backtest.end
    backtest.results = results
    backtest.reported_at = timezone.now()
    backtest.save()
    return backtest
