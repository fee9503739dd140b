"""The audit trail: every change to business data across all models, who made it (operator,
API key or system actor), deletes and undeletes said as such, filtered, paged and exported."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import SecurityEvent, SecurityEventKind
from accounts.services import user_create
from core.audit import system_actor
from core.audit_trail import Filters, audit_page, change_kind
from core.soft_delete import soft_delete, undelete
from core.tenancy import no_scope
from spending.models import SpendingProfile
from spending.services import spending_profile_create
from tests.conftest import PASSWORD
from tests.console import console_login

pytestmark = pytest.mark.django_db

AUDIT = "/admin/audit/"


@pytest.fixture
def changes(acme, globex, customer_admin, api_client, operator_client, fixture_actor):
    """A profile made by a command, renamed through the API, deleted and undeleted by an
    operator; and a profile of another account."""
    with system_actor("command:setup"):
        travel = spending_profile_create(account=acme, name="Travel")
        spending_profile_create(account=globex, name="Globex rules")
    api = api_client(customer_admin)
    renamed = api.patch(
        f"/api/v1/spending-profiles/{travel.token}/", {"name": "Travel 2027"}, format="json"
    )
    assert renamed.status_code == 200, renamed.content
    changelist = "/admin/spending/spendingprofile/"
    operator_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [travel.pk], "post": "yes"}
    )
    operator_client.post(
        f"{changelist}?deleted=deleted_only",
        {"action": "undelete_selected", "_selected_action": [travel.pk], "post": "yes"},
    )
    return {"travel": travel, "api_key": api.api_key}


def rows(response) -> list[dict]:
    return response.context["entries"]


def test_the_trail_says_who_did_what_across_models(operator_client, changes, customer_admin):
    entries = [e for e in rows(operator_client.get(AUDIT)) if e["type"] == "Spending profile"]
    travel = [e for e in entries if e["record"].id == changes["travel"].pk]
    assert [(e["kind"], e["who"]) for e in travel] == [
        ("Undeleted", "ops@cardops.test (operations)"),
        ("Deleted", "ops@cardops.test (operations)"),
        ("Changed", customer_admin.email),
        ("Created", "command:setup"),
    ]
    renamed = travel[2]
    assert [(c.field, c.old, c.new) for c in renamed["changes"]] == [
        ("name", "Travel", "Travel 2027")
    ]
    page = operator_client.get(AUDIT).content.decode()
    assert "Undeleted" in page and 'id="audit-link"' in page


def test_filters_by_actor_type_account_and_time(operator_client, changes, acme, globex):
    by_operator = rows(operator_client.get(AUDIT, {"actor": "OPS@cardops.test"}))
    assert {e["kind"] for e in by_operator} == {"Deleted", "Undeleted"}
    by_command = rows(operator_client.get(AUDIT, {"actor": "command:setup"}))
    assert {e["label"] for e in by_command} == {"Travel", "Globex rules"}  # as they were then
    by_key = rows(operator_client.get(AUDIT, {"actor": changes["api_key"].prefix}))
    assert [e["kind"] for e in by_key] == ["Changed"]

    profiles = rows(operator_client.get(AUDIT, {"type": "spending.spendingprofile"}))
    assert {e["type"] for e in profiles} == {"Spending profile"}
    globex_only = rows(operator_client.get(AUDIT, {"account": str(globex.token)}))
    assert globex_only and all(
        getattr(e["record"], "account_id", e["record"].id) == globex.pk for e in globex_only
    )
    yesterday = (timezone.now() - datetime.timedelta(days=1)).date().isoformat()
    assert rows(operator_client.get(AUDIT, {"until": yesterday})) == []
    bad = operator_client.get(AUDIT, {"account": "not an id"})
    assert bad.status_code == 200 and "An account id" in bad.content.decode()


def test_pages_go_back_in_time_without_overlap(operator_client, acme, fixture_actor):
    with system_actor("command:bulk"):
        profile = spending_profile_create(account=acme, name="P0")
        for n in range(1, 60):
            profile.description = f"v{n}"
            profile.save()
    first = rows(operator_client.get(AUDIT, {"actor": "command:bulk"}))
    assert len(first) == 50
    older_link = operator_client.get(AUDIT, {"actor": "command:bulk"}).context["older"]
    second = rows(operator_client.get(f"{AUDIT}?{older_link}"))
    assert len(second) == 10
    seen = [e["record"].history_id for e in first + second]
    assert len(seen) == len(set(seen)) == 60


def test_csv_export_is_logged(operator_client, changes):
    response = operator_client.get(AUDIT, {"type": "spending.spendingprofile", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:6] == ["time", "who", "type", "object id", "object", "change"]
    assert {line[5] for line in lines[1:]} == {"Created", "Changed", "Deleted", "Undeleted"}
    export = SecurityEvent.objects.get(kind=SecurityEventKind.EXPORT)
    assert export.target == "audit trail" and "spending.spendingprofile" in export.detail


def test_only_operators_with_the_permission_see_it(client, fixture_actor):
    viewer = user_create(email="vic@cardops.test", account=None, password=PASSWORD, is_staff=True)
    console_login(client, viewer)
    assert client.get(AUDIT).status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="view_audit_trail"))
    assert client.get(AUDIT).status_code == 200


def test_soft_delete_and_undelete_outside_the_console_read_the_same(acme, fixture_actor):
    profile = spending_profile_create(account=acme, name="Short-lived")
    soft_delete(obj=profile)
    undelete(obj=SpendingProfile.all_objects.get(pk=profile.pk))
    page = audit_page(Filters(type="spending.spendingprofile"))
    assert [change_kind(record) for record in page] == ["Undeleted", "Deleted", "Created"]


def test_the_csv_streams_in_the_operators_scope_after_the_request(operator_client, changes):
    response = operator_client.get(AUDIT, {"format": "csv"})
    with no_scope():  # as a server streams it: after the request's middleware has ended
        body = b"".join(response.streaming_content).decode()
    types = {line[2] for line in csv.reader(io.StringIO(body))}
    assert "spending.spendingprofile" in types  # a table under row-level security


def test_reading_the_audit_trail_is_logged(operator_client, changes):
    operator_client.get(AUDIT, {"actor": "command:setup"})
    read = SecurityEvent.objects.filter(kind=SecurityEventKind.OPERATOR_READ).latest("seq")
    assert read.detail.startswith("audit") and "command" in read.detail
