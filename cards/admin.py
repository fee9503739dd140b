"""Operator console for card products and cards.

A card's state changes only through cards.services: the Pause, Unpause and Close buttons of a
card's page (each asks for a reason, kept in the card's history) and the list's actions. Its
Lithic token, last four digits and type come from Lithic and are never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext, quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from cards.models import Card, CardProduct, CardState
from cards.services import card_set_cardholder, card_set_limit, card_set_state, card_update
from core.admin import (
    RECORD_FIELDSET,
    BusinessModelAdmin,
    DeletedFilter,
    ObjectButton,
    PagePanel,
    ServiceRefusalMixin,
    change_page_panel,
    highlight_deleted,
    money_column,
)
from core.audit import audit_context
from core.errors import DomainError
from core.forms import reason_field
from spending.admin import LITHIC_SYNC_FIELDSET, LITHIC_SYNC_READONLY, LithicSyncColumnMixin
from spending.models import SpendingProfile

_LIMIT_FIELDS = frozenset({"spend_limit", "spend_limit_duration"})
_SERVICE_FIELDS = frozenset({"memo", "profile", "cardholder"})


@dataclass(frozen=True)
class StateMove:
    label: str  # the button: "Pause"
    done: str  # the history's verb: "paused"
    to: str
    allowed_from: frozenset[str]
    warning: str = ""


STATE_MOVES = {
    "pause": StateMove("Pause", "paused", CardState.PAUSED, frozenset({CardState.OPEN})),
    "unpause": StateMove("Unpause", "unpaused", CardState.OPEN, frozenset({CardState.PAUSED})),
    "close": StateMove(
        "Close",
        "closed",
        CardState.CLOSED,
        frozenset(
            {
                CardState.OPEN,
                CardState.PAUSED,
                CardState.PENDING_ACTIVATION,
                CardState.PENDING_FULFILLMENT,
            }
        ),
        warning="Closing is final: a closed card can never be used or reopened.",
    ),  # fmt: skip
}


class CardStateForm(forms.Form):
    reason = reason_field(
        min_length=5,
        help_text="Why (kept in the card's history), e.g. “cardholder reported it lost”.",
    )
    confirm = forms.BooleanField(label="Yes, I am sure")


@admin.register(CardProduct)
class CardProductAdmin(BusinessModelAdmin):
    list_display = (
        highlight_deleted,
        "account",
        "card_type",
        money_column("default_spend_limit"),
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
class CardAdmin(ServiceRefusalMixin, LithicSyncColumnMixin, BusinessModelAdmin):
    list_display = (
        highlight_deleted,
        "account",
        "cardholder",
        "product",
        "state",
        money_column("spend_limit"),
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

    def get_urls(self):
        return [
            path(
                "<path:object_id>/state/<str:move>/",
                self.admin_site.admin_view(self.card_state_view),
                name="cards_card_state",
            ),
            *super().get_urls(),
        ]

    def object_buttons(self, request, obj) -> list[ObjectButton]:
        if not self.has_change_permission(request, obj):
            return []
        return [
            ObjectButton(
                id=f"card-{name}",
                label=move.label,
                url=reverse(f"{self.admin_site.name}:cards_card_state", args=(quote(obj.pk), name)),
            )
            for name, move in STATE_MOVES.items()
            if obj.state in move.allowed_from
        ]

    def card_state_view(self, request, object_id, move):
        """Pause, unpause or close one card: the operator gives a reason and confirms; the
        service makes the change (and tells Lithic), and the reason goes into the history."""
        card = self.get_object(request, unquote(object_id))
        step = STATE_MOVES.get(move)
        if card is None or step is None:
            raise Http404
        if card.deleted is not None or not self.has_change_permission(request, card):
            raise PermissionDenied
        change_url = reverse(f"{self.admin_site.name}:cards_card_change", args=(quote(card.pk),))
        form = CardStateForm(request.POST or None)
        if card.state not in step.allowed_from:
            self.message_user(
                request,
                f"Not {step.done}: the card is {card.get_state_display().lower()}.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            try:
                with audit_context(reason=f"{step.label}: {reason}"):
                    card = card_set_state(card=card, state=step.to)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.log_change(request, card, f"{step.label}: {reason}")
                self.message_user(
                    request, f"Card {card} {step.done}. Reason: {reason}", messages.SUCCESS
                )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{step.label} card {card}",
            "card": card,
            "step": step,
            "form": form,
            "change_url": change_url,
            "opts": self.opts,
            "original": card,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/cards/card/state.html", context)

    def has_add_permission(self, request):
        # Cards are issued through cards.services.card_issue (the API), which applies the
        # product's defaults; the console manages cards that exist.
        return False

    def save_model(self, request, obj, form, change):
        # What Lithic must hear about (limit, memo, profile) goes through the services, which
        # also record the pending push; the cardholder goes through its own (a user of the
        # card's account). The other descriptive fields are saved as edited.
        changed = set(form.changed_data)
        if "cardholder" in changed:
            card_set_cardholder(card=obj, cardholder=obj.cardholder)
        if changed & _LIMIT_FIELDS:
            card_set_limit(
                card=obj,
                spend_limit=obj.spend_limit,
                spend_limit_duration=obj.spend_limit_duration,
            )
        if changed & {"memo", "profile"}:
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


# --- A spending profile's page: the cards that use it -----------------------------------------

PROFILE_CARDS_SHOWN = 20


@change_page_panel(SpendingProfile)
def profile_cards_panel(request, profile) -> PagePanel | None:
    """The cards that use a spending profile, newest first, and a link to the list of all of
    them (the card list filtered by the profile)."""
    if not (request.user.has_perm("cards.view_card") or request.user.has_perm("cards.change_card")):
        return None
    cards = Card.objects.filter(profile=profile)
    total = cards.count()
    changelist = reverse("admin:cards_card_changelist")
    return PagePanel(
        id="profile-cards",
        title=f"Cards using this profile ({total})",
        template="admin/cards/panels/profile_cards.html",
        context={
            "cards": list(cards.select_related("cardholder")[:PROFILE_CARDS_SHOWN]),
            "total": total,
            "more_url": f"{changelist}?profile__id__exact={profile.pk}",
        },
    )
