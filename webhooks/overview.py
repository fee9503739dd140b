"""The overview's section on Lithic's events: the inbox waiting, failing and dead."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from core.admin import overview_section
from core.panels import Figure, overview_panel
from webhooks.models import Webhook, WebhookStatus

WAITING = (WebhookStatus.PENDING, WebhookStatus.PROCESSING)


def _list(**filters: str) -> str:
    return f"{reverse('admin:webhooks_webhook_changelist')}?{urlencode(filters)}"


@overview_section
def webhook_inbox_section(request):
    if not request.user.has_perm("webhooks.view_webhook"):
        return None
    # Three small index ranges (status, received_at): processed events are never read.
    open_statuses = (*WAITING, WebhookStatus.FAILED, WebhookStatus.DEAD)
    rows = (
        Webhook.objects.filter(status__in=open_statuses)
        .values("status")
        .annotate(n=Count("id"), oldest=Min("received_at"))
        .order_by()
    )
    by_status = {row["status"]: row for row in rows}
    waiting = sum(by_status.get(s, {}).get("n", 0) for s in WAITING)
    oldest = min((by_status[s]["oldest"] for s in WAITING if s in by_status), default=None)
    failed = by_status.get(WebhookStatus.FAILED, {}).get("n", 0)
    dead = by_status.get(WebhookStatus.DEAD, {}).get("n", 0)
    age = timesince(oldest, timezone.now()) if oldest else "–"
    return overview_panel(
        id="overview-webhooks",
        title="Lithic events inbox",
        order=70,
        figures=[
            Figure(
                "webhooks-pending", f"{waiting:,}", "waiting", _list(status__in=",".join(WAITING))
            ),
            Figure(
                "webhooks-oldest",
                age,
                "oldest waiting",
                bad=oldest is not None and (timezone.now() - oldest).total_seconds() > 300,
            ),
            Figure(
                "webhooks-failed",
                f"{failed:,}",
                "failed, will retry",
                _list(status__exact=WebhookStatus.FAILED),
                bad=bool(failed),
            ),
            Figure(
                "webhooks-dead",
                f"{dead:,}",
                "dead (retries exhausted)",
                _list(status__exact=WebhookStatus.DEAD),
                bad=bool(dead),
            ),
        ],  # fmt: skip
    )
