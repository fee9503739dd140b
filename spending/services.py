"""State changes of the MCC catalogue and spending profiles."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from spending.models import ProfileCategory, SpendingCategory, SpendingProfile


@transaction.atomic
def spending_profile_create(
    *,
    account,
    name: str,
    description: str = "",
    spend_limit: Decimal | None = None,
    spend_limit_duration: str | None = None,
) -> SpendingProfile:
    """Create a spending profile for an account."""
    profile = SpendingProfile(
        account=account,
        name=name,
        description=description,
        spend_limit=spend_limit,
        spend_limit_duration=spend_limit_duration,
    )
    profile.full_clean()
    profile.save()
    return profile


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
