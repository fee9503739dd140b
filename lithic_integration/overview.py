"""The overview's section on the sync with Lithic: what waits to be pushed, what Lithic refused,
and the last reconciliation."""

from __future__ import annotations

from django.core.cache import cache
from django.urls import reverse

from cards.models import Card
from core.admin import overview_section
from core.models import check_run_latest
from core.panels import Figure, overview_panel, when
from lithic_integration import gateway as lithic_gateway
from lithic_integration.outbox import sync_counts
from spending.models import LithicSyncStatus, SpendingProfile

CACHE_KEY = "console:overview:lithic-sync"
CACHE_SECONDS = 60


def _counts() -> dict[str, dict[str, int]]:
    counts = cache.get(CACHE_KEY)
    if counts is None:
        counts = {
            "cards": sync_counts(model=Card),
            "profiles": sync_counts(model=SpendingProfile),
        }
        cache.set(CACHE_KEY, counts, CACHE_SECONDS)
    return counts


@overview_section
def lithic_sync_section(request):
    if not request.user.has_perm("cards.view_card"):
        return None
    counts = _counts()
    figures = []
    for key, label, url_name in (
        ("cards", "cards", "admin:cards_card_changelist"),
        ("profiles", "spending profiles", "admin:spending_spendingprofile_changelist"),
    ):
        pending = counts[key][LithicSyncStatus.PENDING]
        rejected = counts[key][LithicSyncStatus.REJECTED]
        url = reverse(url_name)
        figures += [
            Figure(f"sync-pending-{key}", f"{pending:,}", f"{label} waiting to be pushed",
                   f"{url}?lithic_sync_status__exact=PENDING"),
            Figure(f"sync-rejected-{key}", f"{rejected:,}", f"{label} refused by Lithic",
                   f"{url}?lithic_sync_status__exact=REJECTED", bad=bool(rejected)),
        ]  # fmt: skip
    run = check_run_latest("reconcile_lithic")
    if run is None:
        figures.append(Figure("reconcile", "never run", "reconcile_lithic"))
    else:
        figures.append(
            Figure("reconcile", "in step" if run.ok else "differences",
                   f"reconcile_lithic, {when(run.ran_at)}", bad=not run.ok)
        )  # fmt: skip
    note = (
        run.summary
        if run
        else "Outbound sync is off (no LITHIC_API_KEY)."
        if not lithic_gateway.outbound_enabled()
        else ""
    )
    return overview_panel(
        id="overview-lithic", title="Sync with Lithic", order=80, figures=figures, note=note
    )
