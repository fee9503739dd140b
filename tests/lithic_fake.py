"""A local HTTP fake of the Lithic endpoints we use, driven through the real `lithic` SDK.

It keeps cards, auth rules, backtests and transactions in memory, logs every request (method,
path, query, headers, JSON body), honours `Idempotency-Key` on POSTs the way Lithic does (the
same key answers with the first response, nothing is made twice), and answers as Lithic's
OpenAPI document says: a request body the operation does not accept is a 400, and every answer
it gives is checked against the operation's declared status codes and schemas
(tests/lithic_spec.py); what does not conform is collected in `spec_problems`, which the
`lithic_fake` fixture requires to be empty. It injects faults:

- `fail_next(n, status=500)`: the next n requests are answered with that status, untouched;
- `lose_next_response(n)`: the next n requests are carried out, then answered 500, as when the
  response is lost on the way back;
- `hang_next(n, seconds)`: the next n requests are carried out, then answered only after
  `seconds` (past the client's timeout).
"""

from __future__ import annotations

import copy
import datetime
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests import lithic_payloads, lithic_spec

API_KEY = "test-lithic-key"


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: dict | None


@dataclass
class Fault:
    kind: str  # "fail" (answer without acting), "lose" (act, answer 500), "hang" (act, answer late)
    status: int = 500
    seconds: float = 0.0
    body: dict = field(default_factory=dict)


def _error(message: str) -> dict:
    """Lithic's error body (schema `error`)."""
    return {"debugging_request_id": str(uuid.uuid4()), "message": message}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


class LithicFake:
    def __init__(self):
        self.cards: dict[str, dict] = {}
        self.auth_rules: dict[str, dict] = {}
        self.backtests: dict[str, dict] = {}
        self.transactions: dict[str, dict] = {}
        self.requests: list[LoggedRequest] = []
        self.spec_problems: list[str] = []
        self.faults: list[Fault] = []
        self._idempotent: dict[str, tuple[int, dict]] = {}
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life cycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LithicFake:
        lithic_spec.warm()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- test helpers -----------------------------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 500, message: str = "") -> None:
        body = _error(message or f"fake Lithic error {status}")
        self.faults.extend(Fault("fail", status=status, body=body) for _ in range(n))

    def lose_next_response(self, n: int = 1) -> None:
        self.faults.extend(Fault("lose") for _ in range(n))

    def hang_next(self, n: int = 1, *, seconds: float = 1.0) -> None:
        self.faults.extend(Fault("hang", seconds=seconds) for _ in range(n))

    def calls(
        self, method: str | None = None, path: str | None = None, *, path_prefix: str = ""
    ) -> list[LoggedRequest]:
        """The logged requests with this method and exact path, or path prefix."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (path is None or r.path == path)
            and r.path.startswith(path_prefix)
        ]

    def add_card(self, **values) -> dict:
        """A card made at Lithic directly (e.g. from Lithic's dashboard)."""
        card = self._new_card({"type": "VIRTUAL", **values})
        card.update({k: v for k, v in values.items() if k in card})
        return card

    def add_transaction(
        self,
        *,
        card_token: str,
        amount: int,
        status: str = "SETTLED",
        settled: int | None = None,
        events: list[dict] | None = None,
        token: str | None = None,
    ) -> dict:
        """A transaction Lithic has (schema `card_transaction`): authorized `amount` and, when
        SETTLED, cleared `settled` (default the same); or exactly the `events` given."""
        created = _now()
        if events is None:
            events = [lithic_payloads.transaction_event("AUTHORIZATION", amount, created)]
            if status == "SETTLED":
                cleared = amount if settled is None else settled
                events.append(lithic_payloads.transaction_event("CLEARING", cleared, created))
        txn = lithic_payloads.card_transaction(
            card_token, token or str(uuid.uuid4()), events, status=status, created=created
        )
        with self._lock:
            self.transactions[txn["token"]] = txn
        return txn

    # --- the API ----------------------------------------------------------------------------

    def _new_card(self, body: dict) -> dict:
        token = str(uuid.uuid4())
        card_type = body.get("type", "VIRTUAL")
        state = body.get("state", "OPEN")
        if card_type == "PHYSICAL" and state == "OPEN":
            state = "PENDING_FULFILLMENT"
        card = {
            "token": token,
            "account_token": body.get("account_token") or str(uuid.uuid4()),
            "card_program_token": str(uuid.uuid4()),
            "created": _now(),
            "last_four": f"{random.randint(0, 9999):04d}",  # noqa: S311
            "pin_status": "NOT_SET",
            "spend_limit": body.get("spend_limit", 0),
            "spend_limit_duration": body.get("spend_limit_duration", "TRANSACTION"),
            "state": state,
            "type": card_type,
            "memo": body.get("memo", ""),
            "tags": dict(body.get("tags") or {}),
            "funding": None,
        }
        with self._lock:
            self.cards[token] = card
        return card

    def _rule_view(self, rule: dict) -> dict:
        view = copy.deepcopy(rule)
        view["card_tokens"] = [
            e["token"] for e in rule["entities"]["include"] if e["type"] == "CARD"
        ]
        return view

    def rules_covering(self, card_token: str) -> list[dict]:
        """The active rules Lithic would run for this card's authorizations."""
        card = self.cards[card_token]

        def matches(entity: dict) -> bool:
            if entity["type"] == "CARD":
                return entity["token"] == card_token
            if entity["type"] == "CARD_TAG":
                return card["tags"].get(entity["key"]) == entity["value"]
            return entity["type"] == "PROGRAM"

        return [
            rule
            for rule in self.auth_rules.values()
            if rule["state"] == "ACTIVE"
            and rule["current_version"] is not None
            and any(matches(e) for e in rule["entities"]["include"])
        ]

    def route(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict]:
        parts = [p for p in path.split("/") if p]
        body = body or {}
        if parts[:2] == ["v1", "cards"]:
            if len(parts) == 2 and method == "POST":
                return 200, self._new_card(body)
            if len(parts) == 2 and method == "GET":
                return 200, self._page(list(self.cards.values()), query)
            card = self.cards.get(parts[2]) if len(parts) == 3 else None
            if card is None:
                return 404, _error("card not found")
            if method == "GET":
                return 200, card
            if method == "PATCH":
                if card["state"] == "CLOSED" and body.get("state") not in (None, "CLOSED"):
                    return 400, _error("Card is closed and cannot be modified")
                for key in ("state", "spend_limit", "spend_limit_duration", "memo"):
                    if key in body:
                        card[key] = body[key]
                # Tags merge: a key set to null is removed, omitted keys stay.
                for key, value in (body.get("tags") or {}).items():
                    if value is None:
                        card["tags"].pop(key, None)
                    else:
                        card["tags"][key] = value
                return 200, card
        if parts[:2] == ["v2", "auth_rules"]:
            if len(parts) == 2 and method == "POST":
                entities = body.get("entities") or {}
                if not entities.get("include"):
                    return 400, _error("include must contain at least one entity")
                token = str(uuid.uuid4())
                rule = {
                    "token": token,
                    "name": body.get("name"),
                    "type": body.get("type"),
                    "event_stream": body.get("event_stream", "AUTHORIZATION"),
                    "state": "ACTIVE",
                    "entities": {
                        "include": list(entities["include"]),
                        "exclude": list(entities.get("exclude") or []),
                    },
                    "account_tokens": [],
                    "business_account_tokens": [],
                    "program_level": False,
                    "lithic_managed": False,
                    "current_version": None,
                    "draft_version": {
                        "parameters": body.get("parameters"),
                        "version": 1,
                        "state": "SHADOWING",
                        "error": None,
                    },
                }
                with self._lock:
                    self.auth_rules[token] = rule
                return 201, self._rule_view(rule)
            rule = self.auth_rules.get(parts[2]) if len(parts) >= 3 else None
            if rule is None:
                return 404, _error("auth rule not found")
            if len(parts) == 3 and method == "GET":
                return 200, self._rule_view(rule)
            if len(parts) == 3 and method == "PATCH":
                if "entities" in body:
                    if not (body["entities"] or {}).get("include"):
                        return 400, _error("include must contain at least one entity")
                    rule["entities"] = {
                        "include": list(body["entities"]["include"]),
                        "exclude": list(body["entities"].get("exclude") or []),
                    }
                if body.get("state") == "INACTIVE":
                    rule["state"] = "INACTIVE"
                return 200, self._rule_view(rule)
            if len(parts) == 4 and parts[3] == "draft" and method == "POST":
                version = (rule["current_version"] or {}).get("version", 0) + 1
                rule["draft_version"] = {
                    "parameters": body.get("parameters"),
                    "version": version,
                    "state": "SHADOWING",
                    "error": None,
                }
                return 200, self._rule_view(rule)
            if len(parts) == 4 and parts[3] == "promote" and method == "POST":
                draft = rule["draft_version"]
                if draft is None:
                    return 400, _error("no draft version to promote")
                rule["current_version"] = {
                    "parameters": draft["parameters"],
                    "version": draft["version"],
                }
                rule["draft_version"] = None
                rule["state"] = "ACTIVE"
                return 200, self._rule_view(rule)
            if len(parts) == 4 and parts[3] == "backtests" and method == "POST":
                backtest = {
                    "backtest_token": str(uuid.uuid4()),
                    "rule_token": rule["token"],
                    "start": body.get("start"),
                    "end": body.get("end"),
                }
                with self._lock:
                    self.backtests[backtest["backtest_token"]] = backtest
                return 200, {"backtest_token": backtest["backtest_token"]}
        if parts[:2] == ["v1", "transactions"] and method == "GET" and len(parts) == 2:
            rows = list(self.transactions.values())
            begin = query.get("begin")
            if begin:
                rows = [t for t in rows if t["created"] >= begin.replace("+00:00", "Z")[:19]]
            return 200, self._page(rows, query)
        return 404, _error(f"no route {method} {path}")

    def _page(self, rows: list[dict], query: dict) -> dict:
        size = int(query.get("page_size", 50))
        after = query.get("starting_after")
        if after:
            tokens = [r["token"] for r in rows]
            rows = rows[tokens.index(after) + 1 :] if after in tokens else []
        return {"data": rows[:size], "has_more": len(rows) > size}

    def handle(self, method: str, raw_path: str, headers: dict, raw_body: bytes):
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body = json.loads(raw_body) if raw_body else None
        with self._lock:
            self.requests.append(LoggedRequest(method, split.path, query, headers, body))
            fault = self.faults.pop(0) if self.faults else None
        if headers.get("authorization") != API_KEY:
            return 401, _error("Please provide API key in Authorization header"), 0.0
        if fault is not None and fault.kind == "fail":
            return fault.status, fault.body, 0.0
        if method in ("POST", "PATCH", "PUT"):
            problems = lithic_spec.request_problems(method, split.path, body or {})
            if problems:
                # Lithic refuses what its schema does not allow; so would the real one.
                self.spec_problems += [f"request {method} {split.path}: {p}" for p in problems]
                return 400, _error("; ".join(problems)[:500]), 0.0
        key = headers.get("idempotency-key") if method == "POST" else None
        with self._lock:
            if key and key in self._idempotent:
                status, payload = self._idempotent[key]
            else:
                status, payload = self.route(method, split.path, query, body)
                payload = copy.deepcopy(payload)
                if key:
                    self._idempotent[key] = (status, payload)
        problems = lithic_spec.response_problems(method, split.path, status, payload)
        self.spec_problems += [f"response {method} {split.path}: {p}" for p in problems]
        if fault is not None and fault.kind == "lose":
            return 500, {"message": "fake Lithic lost the response"}, 0.0
        if fault is not None and fault.kind == "hang":
            return status, payload, fault.seconds
        return status, payload, 0.0

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload, delay = fake.handle(self.command, self.path, headers, raw)
                if delay:
                    time.sleep(delay)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    # Tells the SDK to wait 1 ms before its own retry, so tests stay fast.
                    self.send_header("retry-after-ms", "1")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format, *args):
                pass

        return Handler
