"""One error format for every failure, each with a stable code:

{"type": "validation_error" | "client_error" | "server_error",
 "errors": [{"code": "...", "detail": "...", "attr": "field or null"}]}
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from accounts.api.throttling import ApiKeyRateThrottle
from cards.services import card_issue, card_product_create
from core.audit import system_actor

CARDS = "/api/v1/cards/"


@pytest.fixture
def card(acme):
    with system_actor("test:fixtures"):
        product = card_product_create(account=acme, name="Basic", default_spend_limit=Decimal(1))
        return card_issue(account=acme, product=product)


def error_of(response, status: int, *, kind: str = "client_error") -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "errors"}
    assert body["type"] == kind
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}
        assert error["code"] and isinstance(error["detail"], str)
    return body["errors"][0]


def test_400_validation_error_names_the_field(api_client, customer_admin):
    error = error_of(api_client(customer_admin).post(CARDS, {}), 400, kind="validation_error")
    assert (error["code"], error["attr"]) == ("required", "product")


def test_400_malformed_json(api_client, customer_admin):
    response = api_client(customer_admin).generic(
        "POST", CARDS, data="{not json", content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "parse_error"


def test_400_wrong_type_is_not_a_500(api_client, customer_admin, card):
    client = api_client(customer_admin)
    response = client.patch(f"{CARDS}{card.token}/", {"spend_limit": ["x"], "memo": {"a": 1}})
    error = error_of(response, 400, kind="validation_error")
    assert error["attr"] in ("spend_limit", "memo")


def test_401_without_a_key(client, db):
    assert error_of(client.get(CARDS), 401)["code"] == "not_authenticated"


def test_401_with_a_wrong_key(client, db):
    response = client.get(CARDS, HTTP_AUTHORIZATION="Api-Key nope.nothing")
    assert error_of(response, 401)["code"] == "invalid_api_key"
    assert response["WWW-Authenticate"] == "Api-Key"


def test_403_role_refused(api_client, customer_analyst, card):
    response = api_client(customer_analyst).post(f"{CARDS}{card.token}/pause/")
    assert error_of(response, 403)["code"] == "permission_denied"


def test_404_unknown_token(api_client, customer_admin):
    response = api_client(customer_admin).get(f"{CARDS}{uuid.uuid4()}/")
    assert error_of(response, 404)["code"] == "not_found"


@pytest.mark.parametrize("token", ["not-a-uuid", "123", "0" * 40])
def test_404_malformed_token_in_the_url(api_client, customer_admin, token):
    client = api_client(customer_admin)
    assert error_of(client.get(f"{CARDS}{token}/"), 404)["code"] == "not_found"
    assert error_of(client.post(f"{CARDS}{token}/pause/"), 404)["code"] == "not_found"


def test_405_method_not_allowed(api_client, customer_admin, card):
    response = api_client(customer_admin).delete(f"{CARDS}{card.token}/")
    assert error_of(response, 405)["code"] == "method_not_allowed"


def test_409_domain_rule_broken(api_client, customer_admin, card):
    client = api_client(customer_admin)
    client.post(f"{CARDS}{card.token}/close/")
    response = client.post(f"{CARDS}{card.token}/unpause/")
    assert error_of(response, 409)["code"] == "card_closed"


def test_415_wrong_content_type(api_client, customer_admin, card):
    response = api_client(customer_admin).generic(
        "PATCH", f"{CARDS}{card.token}/", data="memo=x", content_type="text/plain"
    )
    assert error_of(response, 415)["code"] == "unsupported_media_type"


def test_422_malformed_idempotency_key(api_client, customer_admin, card):
    response = api_client(customer_admin).post(
        f"{CARDS}{card.token}/pause/", HTTP_IDEMPOTENCY_KEY="k" * 300
    )
    assert error_of(response, 422)["code"] == "idempotency_key_invalid"


@pytest.fixture
def three_per_minute(monkeypatch):
    # SimpleRateThrottle copies DEFAULT_THROTTLE_RATES at import: patch the copy it reads.
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})


def test_429_throttled_with_retry_after(api_client, customer_admin, three_per_minute):
    client = api_client(customer_admin)
    for _ in range(3):
        assert client.get(CARDS).status_code == 200
    response = client.get(CARDS)
    assert error_of(response, 429)["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_throttle_is_per_api_key(api_client, customer_admin, three_per_minute):
    busy, other = api_client(customer_admin), api_client(customer_admin)
    for _ in range(3):
        busy.get(CARDS)
    assert busy.get(CARDS).status_code == 429
    assert other.get(CARDS).status_code == 200


def test_a_server_error_has_the_same_format(api_client, customer_admin, card, monkeypatch):
    from cards.api import views

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "card_set_state", broken)
    client = api_client(customer_admin)
    client.raise_request_exception = False
    response = client.post(f"{CARDS}{card.token}/pause/")
    error = error_of(response, 500, kind="server_error")
    assert "boom" not in error["detail"]
