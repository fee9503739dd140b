"""The overview's section on console logins: who is locked out now."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from core.admin import overview_section
from core.panels import Figure, overview_panel


@overview_section
def lockouts_section(request):
    if not request.user.has_perm("axes.view_accessattempt"):
        return None
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    locked = AccessAttempt.objects.filter(
        attempt_time__gt=since, failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).count()
    return overview_panel(
        id="overview-lockouts",
        title="Console logins",
        order=90,
        figures=[
            Figure(
                "lockouts",
                f"{locked:,}",
                "locked out now",
                reverse("admin:axes_accessattempt_changelist"),
                bad=bool(locked),
            )
        ],
    )
