"""Idempotency-Key on POST, against PostgreSQL: replay, mismatch, per-key scope, a concurrent
duplicate (real threads through a live server), stored client errors, forgotten server
errors, abandoned claims and the purge command."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.api import idempotency
from accounts.models import IdempotencyRecord
from accounts.services import api_key_create
from cards.api import views as card_views
from cards.models import Card
from cards.services import card_product_create
from core.audit import system_actor

CARDS = "/api/v1/cards/"


@pytest.fixture
def product(acme):
    with system_actor("test:fixtures"):
        return card_product_create(
            account=acme, name="Everyday", default_spend_limit=Decimal("100.00")
        )


def post(client, body, key, **extra):
    return client.post(CARDS, body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def test_same_key_and_body_replays_the_first_response_and_issues_one_card(
    api_client, customer_admin, product
):
    client = api_client(customer_admin)
    body = {"product": str(product.token), "memo": "Offsite"}
    first = post(client, body, "order-1")
    second = post(client, body, "order-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Card.objects.filter(memo="Offsite").count() == 1


def test_same_key_with_another_body_is_refused(api_client, customer_admin, product):
    client = api_client(customer_admin)
    assert post(client, {"product": str(product.token)}, "k").status_code == 201
    response = post(client, {"product": str(product.token), "memo": "other"}, "k")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert Card.objects.count() == 1


def test_same_key_on_another_path_is_refused(api_client, customer_admin, product):
    client = api_client(customer_admin)
    token = post(client, {"product": str(product.token)}, "k").json()["token"]
    response = client.post(f"{CARDS}{token}/pause/", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"


def test_keys_are_scoped_per_api_key(api_client, customer_admin, product):
    one, other = api_client(customer_admin), api_client(customer_admin)
    body = {"product": str(product.token)}
    first = post(one, body, "shared")
    second = post(other, body, "shared")
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert first.json()["token"] != second.json()["token"]
    assert Card.objects.count() == 2


def test_a_client_error_is_stored_and_replayed(api_client, customer_admin, product):
    client = api_client(customer_admin)
    body = {"product": str(product.token), "spend_limit": "-5.00"}
    first = post(client, body, "bad-limit")
    second = post(client, body, "bad-limit")
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


def test_a_domain_error_is_stored_and_replayed(api_client, customer_admin, product):
    client = api_client(customer_admin)
    token = post(client, {"product": str(product.token)}, "issue").json()["token"]
    client.post(f"{CARDS}{token}/close/")
    first = client.post(f"{CARDS}{token}/unpause/", HTTP_IDEMPOTENCY_KEY="reopen")
    second = client.post(f"{CARDS}{token}/unpause/", HTTP_IDEMPOTENCY_KEY="reopen")
    assert first.status_code == second.status_code == 409
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


def test_a_server_error_is_not_stored_so_the_retry_runs_again(
    api_client, customer_admin, product, monkeypatch
):
    client = api_client(customer_admin)
    client.raise_request_exception = False

    def broken(**kwargs):
        raise RuntimeError("the card network is down")

    monkeypatch.setattr(card_views, "card_issue", broken)
    body = {"product": str(product.token)}
    failed = post(client, body, "retry-me")
    assert failed.status_code == 500
    assert failed.json()["type"] == "server_error"
    assert not IdempotencyRecord.objects.filter(key="retry-me").exists()
    monkeypatch.undo()
    retried = post(client, body, "retry-me")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert Card.objects.count() == 1


def _claim(client, *, key: str, body: dict, locked_at):
    request = SimpleNamespace(method="POST", path=CARDS, data=body)
    return IdempotencyRecord.objects.create(
        api_key=client.api_key,
        account_id=client.api_key.account_id,
        key=key,
        request_fingerprint=idempotency.fingerprint(request),
        locked_at=locked_at,
    )


def test_a_claim_still_running_refuses_the_duplicate(api_client, customer_admin, product):
    client = api_client(customer_admin)
    body = {"product": str(product.token)}
    _claim(client, key="busy", body=body, locked_at=timezone.now())
    response = post(client, body, "busy")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "idempotency_key_in_use"
    assert Card.objects.count() == 0


def test_an_abandoned_claim_is_taken_over(api_client, customer_admin, product, settings):
    client = api_client(customer_admin)
    body = {"product": str(product.token)}
    stale = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS + 5)
    _claim(client, key="crashed", body=body, locked_at=stale)
    response = post(client, body, "crashed")
    assert response.status_code == 201
    record = IdempotencyRecord.objects.get(key="crashed")
    assert record.state == IdempotencyRecord.State.COMPLETED
    assert record.response_body["token"] == response.json()["token"]
    assert post(client, body, "crashed")["Idempotent-Replayed"] == "true"
    assert Card.objects.count() == 1


@pytest.mark.parametrize("key", ["x" * 256, "line\nbreak", ""])
def test_a_malformed_key_is_refused(api_client, customer_admin, product, key):
    client = api_client(customer_admin)
    response = post(client, {"product": str(product.token)}, key)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_invalid"
    assert Card.objects.count() == 0


def test_the_longest_valid_key_is_accepted(api_client, customer_admin, product):
    client = api_client(customer_admin)
    assert post(client, {"product": str(product.token)}, "k" * 255).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_gets_409_while_the_first_runs(
    live_server, customer_admin, product, monkeypatch
):
    with system_actor("test:fixtures"):
        _api_key, key = api_key_create(user=customer_admin, name="concurrency")
    entered, release = threading.Event(), threading.Event()
    real_issue = card_views.card_issue

    def held_issue(**kwargs):
        entered.set()
        assert release.wait(timeout=30), "the test never released the first request"
        return real_issue(**kwargs)

    monkeypatch.setattr(card_views, "card_issue", held_issue)
    headers = {"Authorization": f"Api-Key {key}", "Idempotency-Key": "together"}
    body = {"product": str(product.token), "memo": "race"}
    results = {}

    def first_request():
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            results["first"] = http.post(CARDS, json=body, headers=headers)

    first = threading.Thread(target=first_request)
    first.start()
    try:
        assert entered.wait(timeout=30), "the first request never reached the service"
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            duplicate = http.post(CARDS, json=body, headers=headers)
        assert duplicate.status_code == 409
        assert duplicate.json()["errors"][0]["code"] == "idempotency_key_in_use"
    finally:
        release.set()
        first.join(timeout=60)
    assert results["first"].status_code == 201, results["first"].text
    assert Card.objects.filter(memo="race").count() == 1
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        replay = http.post(CARDS, json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == results["first"].json()


def test_purge_removes_only_expired_records(api_client, customer_admin, product, settings):
    client = api_client(customer_admin)
    body = {"product": str(product.token)}
    post(client, body, "old")
    post(client, body, "fresh")
    expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1)
    IdempotencyRecord.objects.filter(key="old").update(created_at=expired)
    out = []
    call_command("purge_idempotency_keys", stdout=SimpleNamespace(write=out.append, flush=None))
    assert "Deleted 1 idempotency record" in "".join(out)
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_replay_lasts_at_least_24_hours(settings):
    assert settings.IDEMPOTENCY_KEY_TTL_HOURS >= 24
