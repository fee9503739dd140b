"""A spending profile compiles to one Auth Rule v2 at Lithic, on the cards tagged with it.

The rule applies to every card tagged `spending_profile=<profile token>` (cards carry the tag
in their own push), so it never lists cards and cards join or leave it without touching it.
"""

from __future__ import annotations

import datetime
from typing import Any

from core.audit import current_audit
from lithic_integration import fields
from lithic_integration import gateway as lithic_gateway
from lithic_integration.outbox import sync_push
from spending.errors import BacktestNotPossible
from spending.models import AuthRuleBacktest, SpendingProfile
from spending.selectors import spending_profile_codes
from spending.services import (
    backtest_record_report,
    backtest_record_request,
    spending_profile_store_rule_token,
)


def mcc_decline_parameters(*, allowed: list[str], blocked: list[str]) -> dict[str, Any] | None:
    """A CONDITIONAL_ACTION that declines what a profile does not allow; None if nothing is.

    With an allow-list every code outside it is declined (a blocked code then needs no rule of
    its own); otherwise the blocked codes are.
    """
    if allowed:
        operation, codes = "IS_NOT_ONE_OF", allowed
    elif blocked:
        operation, codes = "IS_ONE_OF", blocked
    else:
        return None
    return {
        "action": "DECLINE",
        "conditions": [{"attribute": "MCC", "operation": operation, "value": sorted(codes)}],
    }


def spending_profile_rule_parameters(*, profile: SpendingProfile) -> dict[str, Any] | None:
    """The Auth Rule parameters for the profile's live category rules; None when it has none."""
    allowed, blocked = spending_profile_codes(profile=profile)
    return mcc_decline_parameters(allowed=allowed, blocked=blocked)


def spending_profile_push(profile: SpendingProfile) -> None:
    """Make the profile's Lithic rule match it (called by the outbox, outside any transaction).

    A rule exists at Lithic only while the profile has codes to decline; a deleted profile, or
    one without codes, has its rule deactivated. The rule is created in draft and promoted;
    later changes draft new parameters on the same rule and promote them.
    """
    parameters = spending_profile_rule_parameters(profile=profile)
    if profile.is_deleted or parameters is None:
        if profile.lithic_auth_rule_token is not None:
            lithic_gateway.auth_rule_deactivate(rule_token=str(profile.lithic_auth_rule_token))
        return
    rule_token = profile.lithic_auth_rule_token
    if rule_token is None:
        created = lithic_gateway.auth_rule_create(
            idempotency_key=f"auth-rule-create-{profile.token}",
            name=f"Spending profile {profile.token}",
            profile_token=str(profile.token),
            parameters=parameters,
        )
        # Stored as soon as Lithic has made the rule, before promoting it: a push that fails
        # after this point continues on the same rule instead of creating another.
        rule_token = spending_profile_store_rule_token(
            profile_pk=profile.pk, rule_token=created
        ).lithic_auth_rule_token
    else:
        lithic_gateway.auth_rule_draft(rule_token=str(rule_token), parameters=parameters)
    lithic_gateway.auth_rule_promote(rule_token=str(rule_token))


def spending_profile_push_now(*, profile: SpendingProfile, force: bool = True) -> str:
    """Push the profile's rule to Lithic now (the console's action); returns the sync status."""
    return sync_push(model=SpendingProfile, pk=profile.pk, push=spending_profile_push, force=force)


# --- Backtests ---------------------------------------------------------------------------------


def spending_profile_request_backtest(
    *, profile: SpendingProfile, start: datetime.datetime, end: datetime.datetime
) -> AuthRuleBacktest:
    """Ask Lithic to replay `start`..`end` through the profile's rule (current and draft
    versions); the report arrives later as `auth_rules.backtest_report.created`."""
    if profile.lithic_auth_rule_token is None:
        raise BacktestNotPossible(
            "The profile has no rule at Lithic yet (no codes, or not pushed): nothing to backtest."
        )
    backtest_token = lithic_gateway.auth_rule_backtest_create(
        rule_token=str(profile.lithic_auth_rule_token), start=start, end=end
    )
    return backtest_record_request(
        profile=profile,
        backtest_token=backtest_token,
        start=start,
        end=end,
        requested_by=current_audit().actor,
    )


def handle_backtest_report(payload: dict[str, Any]) -> int | None:
    """The inbox worker's handler for `auth_rules.backtest_report.created`."""
    payload = fields.obj(payload, "the backtest report")
    simulated = payload.get("simulation_parameters")
    simulated = simulated if isinstance(simulated, dict) else {}
    results = payload.get("results")
    backtest = backtest_record_report(
        backtest_token=fields.token(payload.get("backtest_token"), "backtest_token"),
        start=fields.optional_moment(simulated.get("start"), "simulation_parameters.start"),
        end=fields.optional_moment(simulated.get("end"), "simulation_parameters.end"),
        results=results if isinstance(results, dict) else {},
    )
    return backtest.account_id
