"""The OpenAPI document: served, valid, browsable, and true to what the endpoints do (a bounded
schemathesis run over every operation with a valid key: no 5xx, no response off the schema)."""

from __future__ import annotations

import re

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema as validate_openapi
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import api_key_create
from core.audit import system_actor
from tests.api_world import build_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_schema_is_a_valid_openapi_3_document(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    document = (
        response.json() if "json" in response["Content-Type"] else yaml.safe_load(response.content)
    )
    assert document["openapi"].startswith("3.")
    validate_openapi(document)
    assert any(path.startswith("/api/v1/cards/") for path in document["paths"])
    assert document["components"]["securitySchemes"]["ApiKeyAuth"]["in"] == "header"


def test_schema_has_no_numeric_ids(client, db):
    text = client.get("/api/schema/").content.decode()
    assert not re.search(r"^\s+id:\s*$", text, re.MULTILINE), "a numeric id is exposed"


def test_docs_render(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()


# --- schemathesis --------------------------------------------------------------------------


@pytest.fixture
def world(acme, customer_owner):
    return build_world(acme, slug="acme", owner=customer_owner, transactions=8)


@pytest.fixture
def owner_key(world):
    with system_actor("test:fixtures"):
        _api_key, key = api_key_create(user=world.owner, name="schemathesis")
    return key


@pytest.fixture
def api_schema(world):
    # Like Django's test client, keep the test's connection (and its transaction) open across
    # requests; the app is built here, after the settings fixtures its middleware reads.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    # schemathesis 4.32 renames subtests through `node._nodeid`, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _real_token(path: str, world) -> str | None:
    """Half the point is reaching real objects: point token parameters at the world's."""
    by_prefix = {
        "/api/v1/cards/": world.card,
        "/api/v1/card-products/": world.product,
        "/api/v1/spending-profiles/": world.profile,
        "/api/v1/users/": world.member,
        "/api/v1/addresses/": world.address,
        "/api/v1/transactions/": world.transactions[0] if world.transactions else None,
    }
    for prefix, obj in by_prefix.items():
        if path.startswith(prefix) and obj is not None:
            return str(obj.token)
    return None


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_conforms_to_the_schema(case, world, owner_key):
    params = case.path_parameters or {}
    if "token" in params:
        token = _real_token(case.operation.path, world)
        if token is not None:
            params["token"] = token
    if "key" in params:
        params["key"] = world.setting.key
    if "mcc" in params:
        params["mcc"] = world.category.mcc
    # The schema's security scheme makes schemathesis generate an Authorization header of its
    # own; every case must carry the valid key instead.
    case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {owner_key}"}
    case.call_and_validate(checks=CHECKS)
