"""The console's view of the sync with Lithic: a banner of what is out of step, and a push.

The cards and spending apps show the sync status of their rows (a column, a filter, the
fields); what needs Lithic itself (whether sending is on, the push) is added here, on top of
their admin classes, so that those apps never import this one.
"""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.utils import timezone

from cards.admin import CardAdmin as CardsCardAdmin
from cards.models import Card
from core.errors import DomainError
from lithic_integration import gateway as lithic_gateway
from lithic_integration.auth_rules import (
    spending_profile_push_now,
    spending_profile_request_backtest,
)
from lithic_integration.cards import card_push_now
from lithic_integration.outbox import sync_counts
from spending.admin import SpendingProfileAdmin as SpendingSpendingProfileAdmin
from spending.models import LithicSyncStatus, SpendingProfile

BACKTEST_DAYS = 30


class LithicSyncAdminMixin(admin.ModelAdmin):
    """What is out of step with Lithic: a banner with counts, and "Push to Lithic now".

    `push_now(obj)` (set by the admin class) pushes one row and returns its new sync status.
    """

    def push_now(self, obj) -> str:
        raise NotImplementedError

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._announce_sync_state(request)
        return super().changelist_view(request, extra_context=extra_context)

    def _announce_sync_state(self, request) -> None:
        counts = sync_counts(model=self.model)
        plural = self.model._meta.verbose_name_plural
        if not lithic_gateway.outbound_enabled():
            self.message_user(
                request,
                "Outbound sync to Lithic is off (LITHIC_API_KEY is not set): changes to "
                f"{plural} stay in this database and nothing is sent to Lithic.",
                messages.WARNING,
            )
            return
        pending = counts[LithicSyncStatus.PENDING]
        rejected = counts[LithicSyncStatus.REJECTED]
        local_only = counts[LithicSyncStatus.LOCAL_ONLY]
        if pending or rejected or local_only:
            self.message_user(
                request,
                f"Out of step with Lithic: {pending} pending, {rejected} rejected by Lithic, "
                f"{local_only} local only ({plural}). Filter by 'Lithic sync' to see them.",
                messages.ERROR if rejected else messages.WARNING,
            )

    @admin.action(permissions=["change"], description="Push to Lithic now")
    def push_to_lithic(self, request, queryset):
        if not lithic_gateway.outbound_enabled():
            self.message_user(
                request,
                "Outbound sync to Lithic is off (LITHIC_API_KEY is not set): nothing was sent.",
                messages.ERROR,
            )
            return
        outcomes: dict[str, int] = {}
        for obj in queryset:
            status = self.push_now(obj)
            outcomes[status] = outcomes.get(status, 0) + 1
        synced = outcomes.pop(LithicSyncStatus.SYNCED, 0)
        if synced:
            self.message_user(request, f"{synced} now in step with Lithic.", messages.SUCCESS)
        for status, n in outcomes.items():
            self.message_user(
                request,
                f"{n} still {status.lower()}: see 'last Lithic error' on each.",
                messages.ERROR,
            )


admin.site.unregister(Card)
admin.site.unregister(SpendingProfile)


@admin.register(Card)
class CardAdmin(LithicSyncAdminMixin, CardsCardAdmin):
    actions = (*CardsCardAdmin.actions, "push_to_lithic")

    def push_now(self, obj) -> str:
        return card_push_now(card=obj)


@admin.register(SpendingProfile)
class SpendingProfileAdmin(LithicSyncAdminMixin, SpendingSpendingProfileAdmin):
    actions = (*SpendingSpendingProfileAdmin.actions, "push_to_lithic", "backtest_at_lithic")

    def push_now(self, obj) -> str:
        return spending_profile_push_now(profile=obj)

    @admin.action(permissions=["change"], description="Backtest the rule at Lithic (30 days)")
    def backtest_at_lithic(self, request, queryset):
        end = timezone.now()
        start = end - datetime.timedelta(days=BACKTEST_DAYS)
        for profile in queryset:
            try:
                backtest = spending_profile_request_backtest(profile=profile, start=start, end=end)
            except DomainError as exc:
                self.message_user(request, f"{profile}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"{profile}: Lithic is running backtest {backtest.backtest_token}; its report "
                "will appear on the profile.",
                messages.SUCCESS,
            )
