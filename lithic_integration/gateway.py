"""The one door to Lithic's API: every outbound call goes through the official `lithic` SDK here.

- Amounts cross in `lithic_integration.money` (Decimal dollars here, integer cents at Lithic;
  `to_cents` refuses sub-cent amounts rather than rounding them).
- Errors leave as one of two domain errors: `LithicUnavailable` (network, timeout, 5xx, rate
  limit: try again later, nothing is known to have changed) and `LithicRejected` (a 4xx: Lithic
  read the request and refused it; retrying the same request will not help, an operator must look).
- Without `LITHIC_API_KEY` outbound calls are off (`outbound_enabled()` is False) and every call
  raises `LithicOutboundDisabled`: nothing here pretends to have reached Lithic.

The SDK retries (timeouts, 408/409/429/5xx) with the same request, but Lithic's client does not
send an `Idempotency-Key` by itself, so creates pass one explicitly, derived from our own token:
a retry by the SDK, the sync worker or an operator then never makes a second object.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import lithic
from django.conf import settings

from cards.services import ProcessorCard
from lithic_integration.errors import (
    LithicOutboundDisabled,
    LithicRejected,
    LithicUnavailable,
)
from lithic_integration.money import from_cents, to_cents

IDEMPOTENCY_HEADER = "Idempotency-Key"
# A card's tag naming its spending profile; the profile's auth rule applies to every card with
# that tag (one CARD_TAG entity), so cards join and leave a rule by their own update.
PROFILE_TAG = "spending_profile"


# --- The client --------------------------------------------------------------------------------


def outbound_enabled() -> bool:
    """Whether changes are sent to Lithic at all (a LITHIC_API_KEY is configured)."""
    return bool(settings.LITHIC_API_KEY)


@functools.lru_cache(maxsize=4)
def _client_for(
    api_key: str, environment: str, base_url: str, timeout: float, max_retries: int
) -> lithic.Lithic:
    options: dict[str, Any] = {
        "api_key": api_key,
        "timeout": timeout,
        "max_retries": max_retries,
        "webhook_secret": settings.LITHIC_WEBHOOK_SECRET or None,
    }
    if base_url:
        options["base_url"] = base_url
    else:
        # base_url=None makes the SDK use the environment even if LITHIC_BASE_URL is exported.
        options["environment"] = environment
        options["base_url"] = None
    return lithic.Lithic(**options)


_short_budget: ContextVar[bool] = ContextVar("lithic_short_budget", default=False)


@contextmanager
def short_budget() -> Iterator[None]:
    """Calls inside get LITHIC_ON_COMMIT_TIMEOUT_SECONDS and LITHIC_ON_COMMIT_MAX_RETRIES.

    For the push a request makes once its change has committed: the caller is waiting, and a
    push that fails is retried by `sync_lithic` anyway, so an unreachable Lithic costs the
    request a few seconds, not the full budget of every SDK retry.
    """
    token = _short_budget.set(True)
    try:
        yield
    finally:
        _short_budget.reset(token)


def client() -> lithic.Lithic:
    """The SDK client for the current settings (cached per configuration)."""
    if not outbound_enabled():
        raise LithicOutboundDisabled(
            "Outbound sync to Lithic is off: LITHIC_API_KEY is not set, changes stay local."
        )
    if _short_budget.get():
        timeout, retries = (
            settings.LITHIC_ON_COMMIT_TIMEOUT_SECONDS,
            settings.LITHIC_ON_COMMIT_MAX_RETRIES,
        )
    else:
        timeout, retries = settings.LITHIC_TIMEOUT_SECONDS, settings.LITHIC_MAX_RETRIES
    return _client_for(
        settings.LITHIC_API_KEY,
        settings.LITHIC_ENVIRONMENT,
        settings.LITHIC_BASE_URL,
        float(timeout),
        int(retries),
    )


def _call(what: str, fn, *args, **kwargs):
    """Run one SDK call, mapping its failures to our two domain errors."""
    try:
        return fn(*args, **kwargs)
    except lithic.APITimeoutError as exc:
        raise LithicUnavailable(f"{what}: Lithic did not answer in time") from exc
    except lithic.APIConnectionError as exc:
        raise LithicUnavailable(f"{what}: Lithic could not be reached ({exc})") from exc
    except lithic.APIStatusError as exc:
        status = exc.status_code
        detail = _error_detail(exc)
        if status >= 500 or status in (408, 409, 429):
            raise LithicUnavailable(f"{what}: Lithic answered {status}: {detail}") from exc
        raise LithicRejected(
            f"{what}: Lithic refused it ({status}): {detail}", status_code=status
        ) from exc
    except lithic.APIResponseValidationError as exc:
        raise LithicUnavailable(f"{what}: Lithic's answer was not understood") from exc


def _error_detail(exc: lithic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail") or body
        return str(message)[:500]
    return (exc.message or "")[:500]


# --- Cards -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LithicCard(ProcessorCard):
    """The fields of Lithic's card object this product keeps, in our units: what the cards app
    applies (`ProcessorCard`), plus Lithic's token and the profile tag."""

    token: str = ""
    profile_tag: str = ""  # the PROFILE_TAG tag: the spending profile whose rule covers it

    @classmethod
    def from_sdk(cls, card: Any) -> LithicCard:
        tags = getattr(card, "tags", None) or {}
        return cls(
            token=str(card.token),
            state=str(card.state),
            type=str(card.type),
            last_four=str(card.last_four or ""),
            spend_limit=from_cents(card.spend_limit),
            spend_limit_duration=str(card.spend_limit_duration),
            memo=str(card.memo or ""),
            profile_tag=str(tags.get(PROFILE_TAG) or ""),
        )


def card_create(
    *,
    idempotency_key: str,
    type: str,
    spend_limit: Decimal,
    spend_limit_duration: str,
    memo: str = "",
    state: str | None = None,
    account_token: str | None = None,
    product_id: str | None = None,
    profile_token: str | None = None,
) -> LithicCard:
    """Create a card at Lithic; the same idempotency key always yields the same card."""
    body: dict[str, Any] = {
        "type": type,
        "spend_limit": to_cents(spend_limit),
        "spend_limit_duration": spend_limit_duration,
        "memo": memo,
    }
    if state is not None:
        body["state"] = state
    if profile_token:
        body["tags"] = {PROFILE_TAG: profile_token}
    if account_token:
        body["account_token"] = account_token
    if product_id:
        body["product_id"] = product_id
    card = _call(
        "create card",
        client().cards.create,
        **body,
        extra_headers={IDEMPOTENCY_HEADER: idempotency_key},
    )
    return LithicCard.from_sdk(card)


def card_update(
    *,
    card_token: str,
    spend_limit: Decimal,
    spend_limit_duration: str,
    memo: str,
    profile_token: str | None,
    state: str | None = None,
) -> LithicCard:
    """Set a card's state, limit, memo and profile tag at Lithic (absolute values, so a repeat
    is harmless; no profile removes the tag)."""
    body: dict[str, Any] = {
        "spend_limit": to_cents(spend_limit),
        "spend_limit_duration": spend_limit_duration,
        "memo": memo,
        "tags": {PROFILE_TAG: profile_token or None},
    }
    if state is not None:
        body["state"] = state
    card = _call("update card", client().cards.update, str(card_token), **body)
    return LithicCard.from_sdk(card)


def card_get(*, card_token: str) -> LithicCard:
    """Lithic's current view of one card."""
    return LithicCard.from_sdk(_call("get card", client().cards.retrieve, str(card_token)))


def cards_iter(*, page_size: int = 100) -> Iterator[LithicCard]:
    """Every card of the program, page after page (cursor pagination)."""
    pages = _call("list cards", client().cards.list, page_size=page_size)
    for card in _auto_paging("list cards", pages):
        yield LithicCard.from_sdk(card)


# --- Transactions ------------------------------------------------------------------------------


def transactions_iter(
    *, begin: datetime.datetime | None = None, page_size: int = 100
) -> Iterator[dict]:
    """Every card transaction since `begin`, each as Lithic's JSON object (amounts in cents)."""
    params: dict[str, Any] = {"page_size": page_size}
    if begin is not None:
        params["begin"] = begin
    pages = _call("list transactions", client().transactions.list, **params)
    for txn in _auto_paging("list transactions", pages):
        yield txn.to_dict(mode="json")


def _auto_paging(what: str, first_page) -> Iterator[Any]:
    # The SDK's auto-paging fetches the next page (`starting_after` the last token) while the
    # caller iterates; its failures are mapped like any other call's.
    items = iter(first_page)
    while True:
        try:
            item = _call(what, next, items)
        except StopIteration:
            return
        yield item


# --- Auth rules (v2) ---------------------------------------------------------------------------


def auth_rule_create(
    *, idempotency_key: str, name: str, profile_token: str, parameters: dict
) -> str:
    """Create, in draft, a CONDITIONAL_ACTION rule on every card tagged with the profile;
    returns its token."""
    rule = _call(
        "create auth rule",
        client().auth_rules.v2.create,
        type="CONDITIONAL_ACTION",
        event_stream="AUTHORIZATION",
        name=name,
        entities={"include": [{"type": "CARD_TAG", "key": PROFILE_TAG, "value": profile_token}]},
        parameters=parameters,
        extra_headers={IDEMPOTENCY_HEADER: idempotency_key},
    )
    return str(rule.token)


def auth_rule_draft(*, rule_token: str, parameters: dict) -> None:
    """Put new parameters on a rule as its draft version."""
    _call("draft auth rule", client().auth_rules.v2.draft, str(rule_token), parameters=parameters)


def auth_rule_promote(*, rule_token: str) -> None:
    """Make the rule's draft its active version (also re-activates an inactive rule)."""
    _call("promote auth rule", client().auth_rules.v2.promote, str(rule_token))


def auth_rule_deactivate(*, rule_token: str) -> None:
    """Stop enforcing a rule (Lithic keeps it; a later draft + promote brings it back)."""
    _call("deactivate auth rule", client().auth_rules.v2.update, str(rule_token), state="INACTIVE")


def auth_rule_backtest_create(
    *, rule_token: str, start: datetime.datetime, end: datetime.datetime
) -> str:
    """Ask Lithic for a backtest of the rule over start..end; returns the backtest's token."""
    created = _call(
        "create auth rule backtest",
        client().auth_rules.v2.backtests.create,
        str(rule_token),
        start=start,
        end=end,
    )
    if not created.backtest_token:
        raise LithicUnavailable("create auth rule backtest: Lithic returned no backtest token")
    return str(created.backtest_token)
