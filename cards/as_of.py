"""An account's whole control surface at a past moment, rebuilt from the histories: who could
act and in which role, which cards were in which state with which limits, the spending profiles
and their rules, the settings (`/admin/accounts/<id>/as-of/?at=...`)."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AccountSetting, User
from accounts.panels import change_url
from cards.models import Card
from core.admin import PagePanel, change_page_panel, console_view
from core.money import format_money
from core.panels import Column, table_panel, when
from spending.models import ProfileCategory, SpendingCategory, SpendingProfile
from spending.panels import PER


class AsOfForm(forms.Form):
    at = forms.DateTimeField(
        label="As of (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}),
    )


def _live(rows) -> list:
    """The rows as they were, without those soft-deleted by then."""
    return [row for row in rows if getattr(row, "deleted", None) is None]


def _limit(amount, duration) -> str:
    if not amount:
        return "no limit"
    return f"{format_money(amount)} per {PER.get(duration, duration)}"


def account_surface(account_id: int, at: datetime.datetime) -> list[PagePanel]:
    users = _live(User.history.as_of(at).filter(account_id=account_id).order_by("email"))
    cards = _live(Card.history.as_of(at).filter(account_id=account_id).order_by("id"))
    profiles = _live(
        SpendingProfile.history.as_of(at).filter(account_id=account_id).order_by("name")
    )
    rules = _live(ProfileCategory.history.as_of(at).filter(account_id=account_id))
    settings = _live(AccountSetting.history.as_of(at).filter(account_id=account_id))
    emails = {user.pk: user.email for user in users}
    names = {profile.pk: profile.name for profile in profiles}
    categories = dict(
        SpendingCategory.objects.filter(pk__in={r.category_id for r in rules}).values_list(
            "pk", "mcc"
        )
    )
    return [
        table_panel(
            id="as-of-users", title=f"Users and roles ({len(users)})",
            columns=[Column("Email"), Column("Role"), Column("Active")],
            rows=[(u.email, u.get_role_display(), "yes" if u.is_active else "no")
                  for u in users],
            empty="No users.",
        ),
        table_panel(
            id="as-of-cards", title=f"Cards ({len(cards)})",
            columns=[Column("Card"), Column("Cardholder"), Column("State"), Column("Limit"),
                     Column("Profile")],
            rows=[(f"•••• {c.last_four or '----'}", emails.get(c.cardholder_id, ""),
                   c.get_state_display(), _limit(c.spend_limit, c.spend_limit_duration),
                   names.get(c.profile_id, "")) for c in cards],
            empty="No cards.",
        ),
        table_panel(
            id="as-of-profiles", title=f"Spending profiles ({len(profiles)})",
            columns=[Column("Name"), Column("Limit"), Column("Rules")],
            rows=[(p.name, _limit(p.spend_limit, p.spend_limit_duration),
                   ", ".join(sorted(f"{r.rule} {categories.get(r.category_id, '?')}"
                                    for r in rules if r.profile_id == p.pk)) or "none")
                  for p in profiles],
            empty="No spending profiles.",
        ),
        table_panel(
            id="as-of-settings", title=f"Settings ({len(settings)})",
            columns=[Column("Key"), Column("Value")],
            rows=[(s.key, s.value) for s in sorted(settings, key=lambda s: s.key)],
            empty="No settings.",
        ),
    ]  # fmt: skip


AS_OF_PERMISSIONS = (
    "accounts.view_account", "accounts.view_user", "cards.view_card",
    "spending.view_spendingprofile",
)  # fmt: skip


@console_view("accounts/account/<int:account_id>/as-of/", "account_as_of")
def account_as_of(site, request, account_id: int):
    if not request.user.has_perms(AS_OF_PERMISSIONS):
        raise PermissionDenied
    current = Account.all_objects.filter(pk=account_id).first()
    if current is None:
        raise Http404
    form = AsOfForm(request.GET or None)
    at = form.cleaned_data["at"] if request.GET and form.is_valid() else None
    panels, then = [], None
    if at is not None:
        at = at if timezone.is_aware(at) else at.replace(tzinfo=datetime.UTC)
        if at.microsecond == 0:
            # A time to the second means that whole second: what happened in it is shown.
            at += datetime.timedelta(seconds=1, microseconds=-1)
        then = current.history.filter(history_date__lte=at).order_by("-history_date").first()
        if then is not None:
            panels = account_surface(account_id, at)
    context = {
        **site.each_context(request),
        "title": f"{current.name} as of {when(at)}" if at else f"{current.name} at a past time",
        "account": current,
        "account_url": change_url(current),
        "form": form,
        "at": at,
        "then": then,
        "panels": panels,
    }
    return TemplateResponse(request, "admin/accounts/account/as_of.html", context)


@change_page_panel(Account)
def account_as_of_panel(request, account):
    if not request.user.has_perms(AS_OF_PERMISSIONS):
        return None
    url = reverse("admin:account_as_of", args=(account.pk,))
    return PagePanel(
        id="account-as-of",
        title="At a past time",
        template="admin/accounts/account/as_of_panel.html",
        context={"url": url, "form": AsOfForm()},
        order=90,
    )
