"""What the security log records of people's access, and the product's outer surface: bad API
keys, headers, probes, API docs, history as customers see it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Role, SecurityEvent, SecurityEventKind, User
from accounts.services import api_key_revoke, user_update
from core.audit import system_actor
from tests.console import console_login

pytestmark = pytest.mark.django_db

CARDS = "/api/v1/cards/"


def events(kind: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(kind=kind).order_by("seq"))


# ----------------------------------------------------------------------------- who may do what


def test_api_keys_created_and_revoked_are_logged(api_client, customer_admin):
    client = api_client(customer_admin)
    with system_actor("command:test"):
        api_key_revoke(api_key=client.api_key)
    created, revoked = (
        events(SecurityEventKind.API_KEY_CREATED),
        events(SecurityEventKind.API_KEY_REVOKED),
    )
    assert [e.target for e in created] == [f"accounts.apikey:{client.api_key.pk}"]
    assert [e.actor for e in revoked] == ["command:test"]
    assert client.api_key.prefix in revoked[0].detail


def test_role_and_permission_changes_are_logged(customer_owner, customer_admin, operator):
    with system_actor("test:ops"):
        user_update(user=customer_admin, actor=customer_owner, role=Role.USER)
        staff = User.objects.get(pk=operator.pk)
        staff.is_superuser = False
        staff.save()
        staff.groups.add(Group.objects.create(name="Reviewers"))
        staff.user_permissions.add(Permission.objects.get(codename="reveal_pii"))
    details = [e.detail for e in events(SecurityEventKind.ROLE_CHANGED)]
    assert details[:3] == [
        "role: admin → user",
        "is_superuser: True → False",
        "groups added: Reviewers",
    ]
    assert details[3].startswith("permissions added: ") and "Can reveal personal data" in details[3]
    assert events(SecurityEventKind.ROLE_CHANGED)[0].target == f"accounts.user:{customer_admin.pk}"


def test_a_save_that_changes_no_access_logs_nothing(customer_admin, fixture_actor):
    user_update(user=customer_admin, first_name="Ada B.")
    assert not events(SecurityEventKind.ROLE_CHANGED)


def test_an_admin_key_cannot_change_the_owners_email(api_client, customer_admin, customer_owner):
    response = api_client(customer_admin).patch(
        f"/api/v1/users/{customer_owner.token}/", {"email": "mine@evil.test"}, format="json"
    )
    assert response.status_code == 403, response.json()
    assert response.json()["errors"][0]["code"] == "owner_role_required"
    assert User.objects.get(pk=customer_owner.pk).email == "otto@acme.test"
    by_owner = api_client(customer_owner).patch(
        f"/api/v1/users/{customer_owner.token}/", {"email": "otto2@acme.test"}, format="json"
    )
    assert by_owner.status_code == 200


# ----------------------------------------------------------------------------- bad API keys


def bad_key(ip: str = "198.51.100.20", key: str = "abcdefgh.not-a-real-key") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_bad_api_keys_are_refused_logged_and_then_throttled_per_address(
    api_client, customer_admin, settings
):
    settings.API_BAD_KEY_LIMIT = 3
    ip = "198.51.100.21"
    answers = [bad_key(ip).get(CARDS) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert answers[0].json()["errors"][0]["code"] == "invalid_api_key"

    throttled = bad_key(ip).get(CARDS)
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= settings.API_BAD_KEY_WINDOW_SECONDS
    # A valid key from that address is refused too: the flood learns nothing more.
    good = api_client(customer_admin)
    good.defaults["REMOTE_ADDR"] = ip
    assert good.get(CARDS).status_code == 429
    # Another address is not affected.
    good.defaults["REMOTE_ADDR"] = "198.51.100.22"
    assert good.get(CARDS).status_code == 200

    refused = events(SecurityEventKind.API_KEY_REFUSED)
    assert len(refused) == 1 and refused[0].ip == ip  # three refusals, one row so far
    assert "invalid_api_key" in refused[0].detail and "not-a-real-key" not in refused[0].detail
    assert len(events(SecurityEventKind.API_KEY_THROTTLED)) == 1


# ----------------------------------------------------------------------------- history


def test_a_customers_history_names_operators_only_as_operations(
    api_client, customer_admin, operator, acme
):
    console_login(Client(), operator).post(
        f"/admin/accounts/account/{acme.pk}/change/",
        {"name": "Acme Renamed", "status": acme.status, "tax_id": "",
         "settings-TOTAL_FORMS": "0", "settings-INITIAL_FORMS": "0",
         "accounts-address-owner_type-owner_id-TOTAL_FORMS": "0",
         "accounts-address-owner_type-owner_id-INITIAL_FORMS": "0"},
        REMOTE_ADDR="10.9.8.7",
    )  # fmt: skip
    entries = api_client(customer_admin).get("/api/v1/account/history/").json()["results"]
    latest = entries[0]
    assert {"field": "name", "old": "Acme Corp", "new": "Acme Renamed"} in latest["changes"]
    assert latest["user"] is None
    assert latest["actor"] == "Operations"
    assert latest["ip_address"] is None
    assert operator.email not in str(entries) and "10.9.8.7" not in str(entries)


# ----------------------------------------------------------------------------- headers, probes


def test_api_responses_are_never_stored(api_client, customer_admin):
    ok = api_client(customer_admin).get(CARDS)
    refused = bad_key().get(CARDS)
    for response in (ok, refused):
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


def test_the_console_and_the_api_docs_have_a_content_security_policy(operator_client, client):
    for response in (operator_client.get("/admin/"), client.get("/api/docs/")):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "default-src 'self'" in policy


def test_swagger_ui_is_served_from_the_installed_package(client):
    page = client.get("/api/docs/").content.decode()
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "<script>" not in page  # the start-up script is a file of its own (CSP)
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_readiness_details_only_for_loopback_or_operators(client, operator):
    outside = client.get("/readyz/", REMOTE_ADDR="203.0.113.40")
    assert outside.status_code == 200 and outside.json() == {"ready": True}
    assert "checks" in client.get("/readyz/").json()  # the test client is 127.0.0.1
    staff = console_login(Client(), operator).get("/readyz/", REMOTE_ADDR="203.0.113.40")
    assert "checks" in staff.json()
