"""The users API: list, create, change, soft delete, history; the owner-role rules."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.errors import LastOwner
from accounts.models import Role, User
from accounts.services import user_create, user_delete


def create(client, **fields):
    return client.post("/api/v1/users/", {"email": "new@acme.test", **fields}, format="json")


def error(response) -> dict:
    return response.json()["errors"][0]


def test_create_masks_phone_and_never_echoes_date_of_birth(api_client, customer_admin, acme):
    response = create(
        api_client(customer_admin),
        role="analyst",
        first_name="Nia",
        last_name="New",
        phone="+1 555 010 9876",
        date_of_birth="1990-02-03",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "new@acme.test"
    assert body["role"] == "analyst"
    assert body["phone_last_four"] == "9876"
    assert "phone" not in body
    assert "date_of_birth" not in body
    assert "id" not in body
    user = User.objects.get(token=body["token"])
    assert user.account == acme
    assert user.phone == "+1 555 010 9876"
    assert user.date_of_birth == datetime.date(1990, 2, 3)
    assert not user.has_usable_password()


def test_create_rejects_a_taken_email_case_insensitively(api_client, customer_admin, globex):
    user_create(email="Taken@Globex.test", account=globex)
    response = create(api_client(customer_admin), email="taken@globex.test")
    assert response.status_code == 400
    assert error(response)["attr"] == "email"


@pytest.mark.parametrize(
    ("payload", "attr", "code"),
    [
        ({"email": "not-an-email"}, "email", "invalid"),
        ({"role": "superhero"}, "role", "invalid_choice"),
        ({"date_of_birth": "yesterday"}, "date_of_birth", "invalid"),
        ({"first_name": "x" * 151}, "first_name", "max_length"),
    ],
)
def test_create_validation_errors_have_codes(api_client, customer_admin, payload, attr, code):
    response = create(api_client(customer_admin), **payload)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert error(response) | {"detail": ""} == {"attr": attr, "code": code, "detail": ""}


def test_only_an_owner_may_create_an_owner(api_client, customer_admin, customer_owner):
    response = create(api_client(customer_admin), role="owner")
    assert response.status_code == 403
    assert error(response)["code"] == "owner_role_required"
    response = create(api_client(customer_owner), role="owner")
    assert response.status_code == 201, response.json()


def test_only_an_owner_may_grant_or_remove_the_owner_role(
    api_client, customer_admin, customer_owner, cardholder, acme
):
    admin = api_client(customer_admin)
    response = admin.patch(f"/api/v1/users/{cardholder.token}/", {"role": "owner"})
    assert response.status_code == 403
    assert error(response)["code"] == "owner_role_required"
    second = user_create(email="sam@acme.test", account=acme, role=Role.OWNER)
    response = admin.patch(f"/api/v1/users/{second.token}/", {"role": "admin"})
    assert response.status_code == 403
    assert error(response)["code"] == "owner_role_required"
    response = admin.patch(f"/api/v1/users/{second.token}/", {"is_active": False})
    assert error(response)["code"] == "owner_role_required"
    # An admin may still change an owner's other details.
    response = admin.patch(f"/api/v1/users/{second.token}/", {"first_name": "Sam"})
    assert response.status_code == 200, response.json()
    owner = api_client(customer_owner)
    response = owner.patch(f"/api/v1/users/{cardholder.token}/", {"role": "owner"})
    assert response.status_code == 200, response.json()
    assert response.json()["role"] == "owner"


def test_the_last_owner_cannot_be_demoted_deactivated_or_deleted(api_client, customer_owner, acme):
    client = api_client(customer_owner)
    for payload in ({"role": "admin"}, {"is_active": False}):
        response = client.patch(f"/api/v1/users/{customer_owner.token}/", payload)
        assert response.status_code == 409
        assert error(response)["code"] == "last_owner"
    other = user_create(email="oli@acme.test", account=acme, role=Role.OWNER)
    other_client = api_client(other)
    # Two owners: one may step down; then the other is the last one.
    response = client.patch(f"/api/v1/users/{customer_owner.token}/", {"role": "admin"})
    assert response.status_code == 200, response.json()
    response = api_client(customer_owner).delete(f"/api/v1/users/{other.token}/")
    assert response.status_code == 403
    assert error(response)["code"] == "owner_role_required"
    helper = user_create(email="pat@acme.test", account=acme, role=Role.ADMIN)
    response = other_client.delete(f"/api/v1/users/{helper.token}/")
    assert response.status_code == 204


def test_a_user_cannot_delete_themselves(api_client, customer_admin):
    response = api_client(customer_admin).delete(f"/api/v1/users/{customer_admin.token}/")
    assert response.status_code == 409
    assert error(response)["code"] == "cannot_delete_self"


def test_an_owner_may_delete_another_owner_but_not_the_last(api_client, customer_owner, acme):
    ivy = user_create(email="ivy@acme.test", account=acme, role=Role.OWNER)
    response = api_client(ivy).delete(f"/api/v1/users/{customer_owner.token}/")
    assert response.status_code == 204
    # Through the API an owner removing another owner always leaves one (themselves); the
    # console (no actor) meets the rule directly.
    with pytest.raises(LastOwner):
        user_delete(user=ivy)
    assert User.objects.filter(pk=ivy.pk).exists()


def test_delete_is_a_soft_delete(api_client, customer_admin, cardholder):
    client = api_client(customer_admin)
    response = client.delete(f"/api/v1/users/{cardholder.token}/")
    assert response.status_code == 204
    row = User.all_objects.get(pk=cardholder.pk)
    assert row.deleted is not None
    listed = [u["token"] for u in client.get("/api/v1/users/").json()["results"]]
    assert str(cardholder.token) not in listed
    assert client.get(f"/api/v1/users/{cardholder.token}/").status_code == 404
    assert client.delete(f"/api/v1/users/{cardholder.token}/").status_code == 404


def test_another_accounts_user_is_not_found(api_client, customer_admin, other_customer):
    client = api_client(customer_admin)
    url = f"/api/v1/users/{other_customer.token}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"first_name": "X"}).status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get(f"{url}history/").status_code == 404
    other_customer.refresh_from_db()
    assert other_customer.first_name == ""
    assert other_customer.deleted is None


def test_list_shows_only_the_callers_account(api_client, customer_admin, other_customer):
    emails = [
        u["email"] for u in api_client(customer_admin).get("/api/v1/users/").json()["results"]
    ]
    assert emails == ["ada@acme.test"]


def test_list_filters_by_role(api_client, customer_admin, customer_analyst, cardholder):
    body = api_client(customer_admin).get("/api/v1/users/?role=analyst").json()
    assert [u["email"] for u in body["results"]] == ["ann@acme.test"]


def test_patch_changes_details_and_keeps_pii_masked(api_client, customer_admin, cardholder):
    response = api_client(customer_admin).patch(
        f"/api/v1/users/{cardholder.token}/",
        {"last_name": "Ulm", "phone": "+44 20 7946 0018", "date_of_birth": None},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["last_name"] == "Ulm"
    assert body["phone_last_four"] == "0018"
    assert "date_of_birth" not in body


def test_analyst_reads_but_does_not_write(api_client, customer_analyst, cardholder):
    client = api_client(customer_analyst)
    assert client.get("/api/v1/users/").status_code == 200
    assert client.get(f"/api/v1/users/{cardholder.token}/").status_code == 200
    assert create(client).status_code == 403
    assert client.patch(f"/api/v1/users/{cardholder.token}/", {"last_name": "X"}).status_code == 403
    assert client.delete(f"/api/v1/users/{cardholder.token}/").status_code == 403


def test_plain_user_has_no_access(api_client, cardholder):
    client = api_client(cardholder)
    assert client.get("/api/v1/users/").status_code == 403
    assert client.get(f"/api/v1/users/{cardholder.token}/").status_code == 403


def test_a_deleted_users_history_is_kept_and_attributed(api_client, customer_admin, cardholder):
    client = api_client(customer_admin)
    client.patch(f"/api/v1/users/{cardholder.token}/", {"first_name": "Uma", "phone": "5550001111"})
    client.delete(f"/api/v1/users/{cardholder.token}/")
    # The row is deleted, so its history is read in the console; through the API it is gone.
    assert client.get(f"/api/v1/users/{cardholder.token}/history/").status_code == 404
    entries = [
        row for row in User.all_objects.get(pk=cardholder.pk).history.order_by("-history_id")
    ]
    assert entries[0].history_user_id == customer_admin.pk
    assert entries[0].history_api_key == client.api_key.prefix


def test_history_endpoint(api_client, customer_admin, cardholder):
    client = api_client(customer_admin)
    client.patch(f"/api/v1/users/{cardholder.token}/", {"first_name": "Uma", "phone": "5550001111"})
    response = client.get(f"/api/v1/users/{cardholder.token}/history/")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["change"] for e in entries] == ["changed", "created"]
    latest = entries[0]
    assert latest["user"] == {"token": str(customer_admin.token), "email": "ada@acme.test"}
    assert latest["api_key"] == client.api_key.prefix
    assert {"field": "first_name", "old": "", "new": "Uma"} in latest["changes"]
    phone = next(c for c in latest["changes"] if c["field"] == "phone")
    assert phone["new"] == "••••1111"
    created = {c["field"]: c["new"] for c in entries[1]["changes"]}
    assert created["account"] == str(cardholder.account.token)
    assert "id" not in created


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/users/?page_size=100")
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_rows(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    user_create(email="u1@acme.test", account=acme)
    assert len(client.get("/api/v1/users/").json()["results"]) == 2
    few = _list_queries(client)
    for n in range(2, 12):
        user_create(email=f"u{n}@acme.test", account=acme, phone=f"555{n:04d}")
    assert len(client.get("/api/v1/users/").json()["results"]) == 12
    assert _list_queries(client) == few


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    import threading

    from django.db import connection as thread_connection

    from accounts.errors import OwnerRoleRequired
    from accounts.services import account_create, user_update
    from core.tenancy import account_scope

    account = account_create(name="Race Co")
    first = user_create(email="first@race.test", account=account, role=Role.OWNER)
    second = user_create(email="second@race.test", account=account, role=Role.OWNER)
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(actor, target):
        try:
            barrier.wait()
            with account_scope(account.pk, "tests:race"):
                user_update(user=target, actor=actor, role=Role.ADMIN)
            outcomes.append("demoted")
        except (LastOwner, OwnerRoleRequired):
            # Whoever comes second is no longer an owner, or would remove the last one.
            outcomes.append("refused")
        finally:
            thread_connection.close()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["demoted", "refused"]
    assert User.objects.filter(account=account, role=Role.OWNER).count() == 1
