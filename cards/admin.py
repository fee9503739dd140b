"""Operator console for card products and cards.

A card's state changes only through cards.services (the pause/unpause actions); its Lithic
token, last four digits and type come from Lithic and are never typed in.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext

from cards.models import Card, CardProduct, CardState
from cards.services import card_set_limit, card_set_state, card_update
from core.admin import RECORD_FIELDSET, BusinessModelAdmin, DeletedFilter, highlight_deleted
from core.errors import DomainError
from spending.admin import LITHIC_SYNC_FIELDSET, LITHIC_SYNC_READONLY, LithicSyncColumnMixin

_LIMIT_FIELDS = frozenset({"spend_limit", "spend_limit_duration"})
_SERVICE_FIELDS = frozenset({"memo", "profile"})


@admin.register(CardProduct)
class CardProductAdmin(BusinessModelAdmin):
    list_display = (
        highlight_deleted,
        "account",
        "card_type",
        "default_spend_limit",
        "default_spend_limit_duration",
        "default_profile",
        "is_active",
    )
    list_select_related = ("account", "default_profile")
    list_filter = (DeletedFilter, "card_type", "is_active", "default_spend_limit_duration")
    search_fields = ("^name", "=token", "^account__name")
    search_help_text = "Start of the product or account name, or an exact token."
    autocomplete_fields = ("account", "default_profile")
    change_readonly_fields = ("account",)
    fieldsets = (
        (None, {"fields": ("account", "name", "description", "card_type", "is_active")}),
        (
            "Defaults for new cards",
            {
                "fields": (
                    ("default_spend_limit", "default_spend_limit_duration"),
                    "default_profile",
                )
            },
        ),
        ("Lithic", {"fields": ("lithic_product_id",)}),
        RECORD_FIELDSET,
    )


@admin.register(Card)
class CardAdmin(LithicSyncColumnMixin, BusinessModelAdmin):
    list_display = (
        highlight_deleted,
        "account",
        "cardholder",
        "product",
        "state",
        "spend_limit",
        "spend_limit_duration",
        "lithic_sync",
        "created_at",
    )
    list_select_related = ("account", "cardholder", "product")
    list_filter = (DeletedFilter, "lithic_sync_status", "state", "type", "spend_limit_duration")
    search_fields = ("=token", "=lithic_card_token", "=last_four")
    search_help_text = "Exact token, Lithic card token or last four digits."
    autocomplete_fields = ("account", "cardholder", "product", "profile")
    readonly_fields = (
        "lithic_card_token",
        "last_four",
        "type",
        "state",
        *LITHIC_SYNC_READONLY,
        *BusinessModelAdmin.readonly_fields,
    )
    change_readonly_fields = ("account",)
    fieldsets = (
        (None, {"fields": ("account", "cardholder", "memo")}),
        ("Lithic", {"fields": ("lithic_card_token", "last_four", "type", "state")}),
        (
            "Rules",
            {"fields": ("product", "profile", ("spend_limit", "spend_limit_duration"))},
        ),
        LITHIC_SYNC_FIELDSET,
        RECORD_FIELDSET,
    )
    actions: tuple[str, ...] = (*BusinessModelAdmin.actions, "pause_cards", "unpause_cards")

    def has_add_permission(self, request):
        # Cards are issued through cards.services.card_issue (the API), which applies the
        # product's defaults; the console manages cards that exist.
        return False

    def save_model(self, request, obj, form, change):
        # What Lithic must hear about (limit, memo, profile) goes through the services, which
        # also record the pending push; the other descriptive fields are saved as edited.
        changed = set(form.changed_data)
        if changed & _LIMIT_FIELDS:
            card_set_limit(
                card=obj,
                spend_limit=obj.spend_limit,
                spend_limit_duration=obj.spend_limit_duration,
            )
        if changed & _SERVICE_FIELDS:
            card_update(
                card=obj,
                memo=obj.memo if "memo" in changed else None,
                profile=obj.profile if "profile" in changed else None,
                clear_profile="profile" in changed and obj.profile is None,
            )
        other_fields = changed - _LIMIT_FIELDS - _SERVICE_FIELDS
        if other_fields:
            obj.save(update_fields=other_fields)

    @admin.action(permissions=["change"], description="Pause selected cards")
    def pause_cards(self, request, queryset):
        self._move_cards(request, queryset, to_state=CardState.PAUSED, verb="paused")

    @admin.action(permissions=["change"], description="Unpause selected cards")
    def unpause_cards(self, request, queryset):
        self._move_cards(
            request,
            queryset,
            to_state=CardState.OPEN,
            verb="unpaused",
            only_from=CardState.PAUSED,
        )

    def _move_cards(self, request, queryset, *, to_state, verb, only_from=None):
        moved, unchanged, problems = 0, 0, []
        for card in queryset:
            if card.deleted is not None:
                problems.append(f"{card} ({card.token}): deleted cards are left as they are.")
                continue
            if card.state == to_state:
                unchanged += 1
                continue
            if only_from is not None and card.state not in (only_from, CardState.CLOSED):
                problems.append(f"{card} ({card.token}): it is {card.get_state_display()}.")
                continue
            try:
                card_set_state(card=card, state=to_state)
            except DomainError as exc:
                problems.append(f"{card} ({card.token}): {exc.message}")
                continue
            moved += 1
        if moved:
            self.message_user(
                request,
                f"{moved} {model_ngettext(self.opts, moved)} {verb}.",
                messages.SUCCESS,
            )
        if unchanged:
            self.message_user(
                request,
                f"{unchanged} {model_ngettext(self.opts, unchanged)} already {verb}.",
                messages.INFO,
            )
        for problem in problems:
            self.message_user(request, f"Not {verb}: {problem}", messages.WARNING)
