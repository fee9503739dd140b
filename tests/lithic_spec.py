"""Lithic's OpenAPI document as an oracle: is this payload one Lithic could send or accept?

`tests/fixtures/lithic/lithic-openapi.yml` is Lithic's public OpenAPI 3.1 document. Its schemas
are JSON Schema 2020-12, so `jsonschema` checks payloads against them directly:

- `webhook_problems(body)`: a webhook body (ASA request or event) against the schema of its
  `event_type` under `webhooks:`;
- `asa_response_problems(body)`: our ASA answer against `asa-response`;
- `request_problems(method, path, body)` and `response_problems(method, path, status, body)`:
  an API call against its operation under `paths:` (status codes included).

Each returns a list of readable problems, empty when the payload is valid.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent / "fixtures" / "lithic" / "lithic-openapi.yml"
SPEC_URI = "urn:lithic:openapi"
# Schemas that the pinned SDK (0.133.0) has grown past the document; the code follows the SDK
# there (docs/lithic.md). Each entry: (operation or webhook, JSON path of the difference).
SDK_NEWER_THAN_DOCUMENT = {
    # Auth rule entities with `CARD_TAG` (the profile's rule covers its cards by tag).
    ("POST", "/v2/auth_rules", "entities"),
}


@functools.cache
def spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open() as stream:
        return yaml.load(stream, Loader=loader)  # noqa: S506 - a safe loader


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource(contents=spec(), specification=DRAFT202012))


def _absolute(schema: Any) -> Any:
    """The schema with its document-local `$ref`s made absolute, so they resolve anywhere."""
    return json.loads(json.dumps(schema).replace('"#/components/', f'"{SPEC_URI}#/components/'))


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    node: Any = spec()
    for part in pointer.split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return Draft202012Validator(
        _absolute(node), registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _resolve(ref: str) -> Any:
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _problems(validator: Draft202012Validator, body: Any, ignore: set[str] = frozenset()) -> list:
    found = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        if where.split("/")[0] in ignore:
            continue
        found.append(f"{where}: {error.message[:300]}")
    return found


def _json_schema_pointer(content_owner: str) -> str:
    return f"{content_owner}/content/application~1json/schema"


# --- Webhooks (ASA requests and events) ----------------------------------------------------------


def webhook_types() -> list[str]:
    return sorted(spec()["webhooks"])


def webhook_problems(body: Any) -> list[str]:
    """What makes `body` not a webhook Lithic could send (by its own `event_type`)."""
    if not isinstance(body, dict) or not isinstance(body.get("event_type"), str):
        return ["(body): not an object with an event_type"]
    event_type = body["event_type"]
    if event_type not in spec()["webhooks"]:
        return [f"event_type: {event_type!r} is not one of Lithic's webhook types"]
    pointer = _json_schema_pointer(f"webhooks/{event_type}/post/requestBody")
    return _problems(_validator(pointer), body)


def asa_response_problems(body: Any) -> list[str]:
    """What makes `body` not an answer Lithic's ASA accepts."""
    return _problems(_validator("components/schemas/asa-response"), body)


def asa_results() -> list[str]:
    return list(spec()["components"]["schemas"]["asa-response"]["properties"]["result"]["enum"])


# --- The API -----------------------------------------------------------------------------------


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for template in spec()["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        found.append((re.compile(pattern), template))
    # Literal segments win over parameters (`/v1/cards/search_by_pan` before `{card_token}`).
    found.sort(key=lambda item: item[1].count("{"))
    return found


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The path template and operation object for a request, or None if Lithic has none."""
    for pattern, template in _templates():
        if pattern.match(path):
            op = spec()["paths"][template].get(method.lower())
            if op is not None:
                return template, op
    return None


def request_problems(method: str, path: str, body: Any) -> list[str]:
    """What makes this request body one Lithic's operation does not accept."""
    found = operation(method, path)
    if found is None:
        return [f"{method} {path}: no such operation in Lithic's API"]
    template, op = found
    if "requestBody" not in op:
        return [] if body in (None, {}) else [f"{method} {template}: takes no body"]
    escaped = template.replace("/", "~1")
    pointer = _json_schema_pointer(f"paths/{escaped}/{method.lower()}/requestBody")
    ignore = {where for m, p, where in SDK_NEWER_THAN_DOCUMENT if (m, p) == (method, template)}
    return _problems(_validator(pointer), body, ignore)


def warm() -> None:
    """Load the document and check one payload of each kind, so that the first real check (a
    fake's answer, on an SDK client's short timeout) does not pay for loading it."""
    webhook_problems({"event_type": "card.created", "card_token": str(_ZERO_TOKEN)})
    asa_response_problems({"result": "APPROVED"})
    response_problems("GET", f"/v1/cards/{_ZERO_TOKEN}", 404, {"message": ""})


_ZERO_TOKEN = "00000000-0000-4000-8000-000000000000"


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """What makes this answer one Lithic's operation would not give (status code included)."""
    found = operation(method, path)
    if found is None:
        return [f"{method} {path}: no such operation in Lithic's API"]
    template, op = found
    responses = op["responses"]
    if str(status) not in responses:
        return [f"{method} {template}: answers {sorted(responses)}, not {status}"]
    response = responses[str(status)]
    if "$ref" in response:
        response = _resolve(response["$ref"])
    if "content" not in response:
        return [] if body in (None, b"", {}) else [f"{method} {template} {status}: has no body"]
    escaped = template.replace("/", "~1")
    pointer = f"paths/{escaped}/{method.lower()}/responses/{status}"
    if "$ref" in op["responses"][str(status)]:
        pointer = op["responses"][str(status)]["$ref"].removeprefix("#/")
    return _problems(_validator(_json_schema_pointer(pointer)), body)
