"""The console's audit trail page (`/admin/audit/`): every change, filtered, and as CSV."""

from __future__ import annotations

import datetime
import uuid

from django import forms
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from accounts.models import Account, SecurityEventKind, SecurityEventOutcome
from accounts.security import security_event_record
from core import audit_trail
from core.audit_trail import Filters
from core.streaming import csv_response

PERMISSION = "accounts.view_audit_trail"
EXPORT_LIMIT = 100_000


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False,
        help_text="An email, a system actor (command:seed_demo) or the start of an API key.",
    )
    type = forms.ChoiceField(required=False, label="Object type")
    account = forms.CharField(required=False, help_text="The account's id or token.")
    since = forms.DateField(required=False, label="From (UTC day)", widget=forms.DateInput(
        attrs={"type": "date"}))  # fmt: skip
    until = forms.DateField(required=False, label="Until (UTC day, included)",
                            widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "All types"), *audit_trail.type_choices()]

    def clean_account(self) -> int | None:
        value = self.cleaned_data["account"].strip()
        if not value:
            return None
        if value.isdigit():
            return int(value)
        try:
            token = uuid.UUID(value)
        except ValueError:
            raise forms.ValidationError("An account id (a number) or token (a UUID).") from None
        account = Account.all_objects.filter(token=token).first()
        if account is None:
            raise forms.ValidationError("No account has this token.")
        return account.pk

    def filters(self) -> Filters:
        data = self.cleaned_data
        day = datetime.timedelta(days=1)

        def midnight(value):
            return datetime.datetime.combine(value, datetime.time.min, tzinfo=datetime.UTC)

        return Filters(
            actor=data["actor"],
            type=data["type"],
            account_id=data["account"],
            since=midnight(data["since"]) if data["since"] else None,
            until=midnight(data["until"]) + day if data["until"] else None,
        )


def _before(request) -> datetime.datetime | None:
    value = request.GET.get("before", "")
    try:
        moment = datetime.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def audit_view(site, request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = AuditFilterForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    if request.GET and not valid:
        rows, filters = [], None
    else:
        filters = form.filters() if request.GET else Filters()
        if request.GET.get("format") == "csv":
            return _export(request, filters)
        rows = audit_trail.audit_page(filters, before=_before(request))
    entries = [
        {
            "record": record,
            "who": audit_trail.who(record),
            "kind": audit_trail.change_kind(record),
            "type": str(record.instance_type._meta.verbose_name).capitalize(),
            "label": audit_trail.object_label(record),
            "url": audit_trail.history_url(record),
            "changes": audit_trail.field_changes(record),
        }
        for record in rows
    ]
    query = request.GET.copy()
    query.pop("before", None)
    older = None
    if len(rows) == audit_trail.PAGE_SIZE:
        query["before"] = rows[-1].history_date.isoformat()
        older = query.urlencode()
    csv_query = request.GET.copy()
    csv_query.pop("before", None)
    csv_query["format"] = "csv"
    context = {
        **site.each_context(request),
        "title": "Audit trail",
        "form": form,
        "entries": entries,
        "older": older,
        "csv_query": csv_query.urlencode(),
    }
    return TemplateResponse(request, "admin/audit.html", context)


def _export(request, filters: Filters):
    security_event_record(
        kind=SecurityEventKind.EXPORT,
        request=request,
        outcome=SecurityEventOutcome.SUCCESS,
        target="audit trail",
        detail=f"filters: {request.GET.urlencode()}",
    )
    columns = ["time", "who", "type", "object id", "object", "change", "reason", "ip", "api key",
               "system actor"]  # fmt: skip
    rows = (
        (
            record.history_date,
            audit_trail.who(record),
            record.instance_type._meta.label_lower,
            record.id,
            audit_trail.object_label(record),
            audit_trail.change_kind(record),
            record.history_change_reason or "",
            record.history_ip or "",
            record.history_api_key,
            record.history_actor,
        )  # fmt: skip
        for record in audit_trail.audit_stream(filters, limit=EXPORT_LIMIT)
    )
    return csv_response(columns, rows, name="audit-trail")
