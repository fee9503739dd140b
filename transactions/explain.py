"""A transaction's decision trace and events as sentences an operator reads.

The authorization engine (transactions.authorization) stores, on the transaction and on each
later request's event, `{"checked_at": ..., "steps": [...]}`: one dict per rule it checked, in
order, then `{"result": ..., "reason": ...}`. `decision_sentences` turns that into sentences,
the final verdict first. It reads stored JSON: rows written by older code, or by hand, may lack
keys or hold odd types, and every such row still reads as something sensible, never an error.

Everything here is pure except `mcc_descriptions`, the one query for the merchant categories'
names of a whole page.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.money import format_money

# What a sentence says about the authorization, for the page's styling.
APPROVED = "approved"
DECLINED = "declined"
PASSED = "passed"
FAILED = "failed"
NOTE = "note"

RULE_LABELS = {
    "card_and_account": "Card and account",
    "merchant_category": "Merchant category",
    "card_spend_limit": "Card limit",
    "profile_spend_limit": "Profile limit",
    "account_under_lock": "Account re-checked under its lock",
    "available_balance": "Available balance",
    "balance_inquiry": "Balance inquiry",
}

# Where a decline stopped, as the verdict says it ("..., at the card limit").
_STOPPED_AT = {
    "card_and_account": "card and account check",
    "merchant_category": "merchant category check",
    "card_spend_limit": "card limit",
    "profile_spend_limit": "profile limit",
    "account_under_lock": "account check under its lock",
    "available_balance": "available balance check",
}

# Lithic's results of an authorization, as the engine answers them.
RESULT_MEANINGS = {
    "CARD_PAUSED": "the card or the account cannot be used",
    "UNAUTHORIZED_MERCHANT": "the merchant category is not allowed",
    "VELOCITY_EXCEEDED": "over a spend limit",
    "INSUFFICIENT_FUNDS": "not enough available balance",
    "SUSPECTED_FRAUD": "refused as suspected fraud",
}

# Rules whose recorded values do not say why they refused: the engine's reason does.
_REASON_TELLS_MORE = frozenset({"card_and_account", "account_under_lock"})

_DURATIONS = {
    "TRANSACTION": "per transaction",
    "MONTHLY": "per trailing month",
    "ANNUALLY": "per trailing year",
}

_EVENT_SOURCES = {
    "ASA": "from the authorization engine",
    "LITHIC": "reported by Lithic",
    "STATUS": "Lithic's status, reported without events",
}

# Event types whose approval is news; a clearing or a return "approved" is not.
_DECIDED_EVENT_TYPES = frozenset(
    {
        "AUTHORIZATION",
        "AUTHORIZATION_ADVICE",
        "BALANCE_INQUIRY",
        "CREDIT_AUTHORIZATION",
        "CREDIT_AUTHORIZATION_ADVICE",
        "FINANCIAL_AUTHORIZATION",
        "FINANCIAL_CREDIT_AUTHORIZATION",
    }
)

_TEXT_KEPT = 80
# No stored amount has more digits before the point than this (the columns hold 12 or 14).
_DIGITS_KEPT = 15


@dataclass(frozen=True)
class Sentence:
    """One line of an explanation: its text, and whether it tells an approval, a decline, a
    rule passed or failed, or a plain note (`outcome`)."""

    text: str
    outcome: str
    rule: str = ""  # the engine's rule name; "" for the verdict and notes


# --- Reading the stored JSON -------------------------------------------------------------------


def decision_steps(decision: Any) -> list[Any]:
    """The steps of a stored decision: `{"steps": [...]}` as the engine writes it, or a bare
    list; anything else has none. A JSON text (stored encoded twice) is read once more."""
    if isinstance(decision, str):
        try:
            decision = json.loads(decision)
        except ValueError:
            return []
    if isinstance(decision, Mapping):
        if "steps" not in decision and ("rule" in decision or "result" in decision):
            return [decision]  # a single step stored on its own
        decision = decision.get("steps")
    return list(decision) if isinstance(decision, list) else []


def decision_checked_at(decision: Any) -> datetime.datetime | None:
    """When the engine decided (`checked_at`), or None when it is missing or unreadable."""
    if not isinstance(decision, Mapping):
        return None
    value = decision.get("checked_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def decision_result(decision: Any) -> str:
    """The engine's final result (`APPROVED`, `VELOCITY_EXCEEDED`, ...), or "" if none."""
    finals = [
        step
        for step in decision_steps(decision)
        if isinstance(step, Mapping) and "rule" not in step and "result" in step
    ]
    return _text(finals[-1].get("result")) if finals else ""


def decision_mccs(decisions: Iterable[Any]) -> set[str]:
    """The merchant category codes the traces of `decisions` name (four digits each)."""
    codes = set()
    for decision in decisions:
        for step in decision_steps(decision):
            if isinstance(step, Mapping) and step.get("rule") == "merchant_category":
                code = _mcc(step.get("mcc"))
                if code:
                    codes.add(code)
    return codes


def mcc_descriptions(codes: Iterable[str]) -> dict[str, str]:
    """The catalogue's description of each code, in one query (codes not in it are left out)."""
    from spending.models import SpendingCategory

    codes = sorted(set(codes))
    if not codes:
        return {}
    return dict(SpendingCategory.objects.filter(mcc__in=codes).values_list("mcc", "description"))


# --- The decision ------------------------------------------------------------------------------


def decision_sentences(
    decision: Any, *, currency: str = "USD", mcc_names: Mapping[str, str] | None = None
) -> list[Sentence]:
    """The decision as sentences: the verdict first, then each rule checked, in order.

    `mcc_names` maps merchant category codes to their names (`mcc_descriptions`); amounts are
    in `currency`. A transaction the engine did not decide gets one sentence saying so.
    """
    steps = decision_steps(decision)
    if not steps:
        return [
            Sentence(
                "No decision trace: the authorization engine did not decide this "
                "(Lithic reported it, or it was recorded before traces were kept).",
                NOTE,
            )
        ]
    names = mcc_names or {}
    currency = currency if isinstance(currency, str) and currency else "USD"
    rules: list[tuple[str, Sentence]] = []
    results: list[Mapping[str, Any]] = []
    for step in steps:
        if isinstance(step, Mapping) and "rule" not in step and "result" in step:
            results.append(step)
        else:
            rules.append(_rule_sentence(step, currency, names))
    sentences = [_verdict(results[-1] if results else None, rules)]
    sentences += [
        Sentence(f"Also recorded: result {_text(r.get('result'))}.", NOTE) for r in results[:-1]
    ]
    sentences += [sentence for _, sentence in rules]
    return sentences


def decision_title(sentences: list[Sentence]) -> str:
    """The heading of an explanation: "Why it was approved" or "Why it was declined"."""
    outcome = sentences[0].outcome if sentences else NOTE
    if outcome == APPROVED:
        return "Why it was approved"
    if outcome == DECLINED:
        return "Why it was declined"
    return "Why it was approved or declined"


def _verdict(final: Mapping[str, Any] | None, rules: list[tuple[str, Sentence]]) -> Sentence:
    refused = next(((name, s) for name, s in rules if s.outcome == FAILED), None)
    where = ""
    if refused is not None:
        name = refused[0]
        if name in _STOPPED_AT:
            where = f", at the {_STOPPED_AT[name]}"
        elif name:
            where = f', at rule "{name}"'
        else:
            where = ", at an unnamed step"
    result = _text(final.get("result")) if final is not None else ""
    if not result:
        if refused is not None:
            return Sentence(
                f"Declined by the authorization engine{where} (no final result recorded).",
                DECLINED,
            )
        return Sentence("No final result recorded.", NOTE)
    reason = _text(final.get("reason")) if final is not None else ""
    if result == "APPROVED":
        if refused is None and rules:
            return Sentence("Approved by the authorization engine: every rule passed.", APPROVED)
        return Sentence("Approved by the authorization engine.", APPROVED)
    meaning = RESULT_MEANINGS.get(result)
    if meaning:
        text = f"Declined by the authorization engine: {meaning} ({result}){where}"
    else:
        text = f"Declined by the authorization engine ({result}){where}"
    if reason and (refused is None or refused[0] in _REASON_TELLS_MORE):
        text += f": {reason}"
    return Sentence(f"{text}.", DECLINED)


def _rule_sentence(step: Any, currency: str, names: Mapping[str, str]) -> tuple[str, Sentence]:
    if not isinstance(step, Mapping):
        return "", Sentence(f"Unreadable step: {_text(step, repr_it=True)}.", NOTE)
    rule = _text(step.get("rule"))
    passed = _passed(step.get("passed"))
    if rule == "account_under_lock" and "passed" not in step:
        passed = False  # the engine records this check only when it refuses
    build = _RULES.get(rule)
    body = build(step, currency, names) if build else _unknown_rule_body(step)
    label = _rule_label(rule) if rule else "Unnamed step"
    if passed is None:
        verdict, outcome = "outcome not recorded", NOTE
    elif passed:
        verdict, outcome = ("answered" if rule == "balance_inquiry" else "passed"), PASSED
    else:
        verdict, outcome = "declined", FAILED
    # "Merchant category 7995 (...)": the code reads as the label's continuation.
    separator = " " if rule == "merchant_category" else ": "
    text = f"{label}{separator}{body}: {verdict}." if body else f"{label}: {verdict}."
    return rule, Sentence(text, outcome, rule)


def _card_and_account(step: Mapping[str, Any], currency: str, names: Mapping[str, str]) -> str:
    card = _words(step.get("card_state")) or "state not recorded"
    account = _words(step.get("account_status")) or "status not recorded"
    return f"card {card}, account {account}"


def _account_under_lock(step: Mapping[str, Any], currency: str, names: Mapping[str, str]) -> str:
    status = _words(step.get("account_status"))
    return f"account {status}" if status else "account changed while the request waited"


def _merchant_category(step: Mapping[str, Any], currency: str, names: Mapping[str, str]) -> str:
    code = _mcc(step.get("mcc"))
    raw = _text(step.get("mcc"))
    if code:
        name = names.get(code)
        subject = f"{code} ({name})" if name else f"{code} (not in the catalogue)"
    else:
        subject = raw or "(none sent)"
    profile_rule = _text(step.get("profile_rule")).upper()
    allow_list = _passed(step.get("profile_has_allow_list")) is True
    high_risk = _passed(step.get("mcc_high_risk")) is True
    blocks_high_risk = _passed(step.get("account_blocks_high_risk")) is True
    passed = _passed(step.get("passed"))

    if passed is False:
        if profile_rule == "BLOCKED":
            why = ["blocked by the profile"]
        elif allow_list and profile_rule != "ALLOWED":
            why = ["not on the profile's allow-list"]
        elif high_risk and blocks_high_risk:
            why = ["high-risk, and the account blocks high-risk categories"]
        else:
            why = ["refused"]
    else:
        why = []
        if profile_rule == "ALLOWED":
            why.append("on the profile's allow-list" if allow_list else "allowed by the profile")
        if high_risk:
            why.append(
                "high-risk, and the account blocks high-risk categories"
                if blocks_high_risk
                else "high-risk, allowed by the account's setting"
            )
        if not why:
            why.append("no rule restricts it")
    return f"{subject}: {'; '.join(why)}"


def _spend_limit(owner: str):
    def body(step: Mapping[str, Any], currency: str, names: Mapping[str, str]) -> str:
        raw_limit = step.get("limit")
        if isinstance(raw_limit, str) and raw_limit.strip().lower() == "none":
            return "none set"
        limit = _decimal(raw_limit)
        spent = _decimal(step.get("spent"))
        amount = _decimal(step.get("amount"))
        remaining = _decimal(step.get("remaining"))
        if remaining is None and limit is not None and spent is not None:
            remaining = limit - spent
        duration = _text(step.get("duration")).upper()
        per_transaction = duration == "TRANSACTION"

        parts = []
        head = _money(raw_limit, currency) if raw_limit is not None else "limit not recorded"
        period = _DURATIONS.get(duration)
        if duration == "FOREVER":
            period = f"for the {owner}'s whole life"
        elif period is None and duration:
            period = f"per {_words(duration)}"
        if period:
            head += f" {period}"
        window = _text(step.get("window"))
        if window:
            head += f" ({window}, UTC)"
        parts.append(head)

        if spent is not None and (spent != 0 or not per_transaction):
            spent_text = _money(spent, currency)
            already = (
                f"{spent_text} already on this transaction"
                if per_transaction
                else f"spent {spent_text}"
            )
            if remaining is not None and remaining < 0:
                over = _money(-remaining, currency)
                parts.append(f"{already}, already over the limit by {over}")
            elif remaining is not None:
                parts.append(f"{already}, {_money(remaining, currency)} left")
            else:
                parts.append(already)
        elif spent is None and step.get("spent") is not None:
            parts.append(f"spent {_raw(step.get('spent'))}")

        if amount is None:
            if step.get("amount") is not None:
                parts.append(f"this authorization {_raw(step.get('amount'))}")
            return "; ".join(parts)
        asked = f"this authorization {_money(amount, currency)}"
        if remaining is None:
            parts.append(asked)
        elif amount > remaining:
            parts.append(f"{asked} — over the limit by {_money(amount - remaining, currency)}")
        elif per_transaction and not spent:
            parts.append(f"{asked} — within the limit")
        else:
            after = _money(remaining - amount, currency)
            parts.append(f"{asked} — within the limit, {after} left after it")
        return "; ".join(parts)

    return body


def _available_balance(step: Mapping[str, Any], currency: str, names: Mapping[str, str]) -> str:
    balance = _decimal(step.get("balance"))
    held = _decimal(step.get("held"))
    available = _decimal(step.get("available"))
    if available is None and balance is not None and held is not None:
        available = balance - held
    amount = _decimal(step.get("amount"))
    figures = []
    for value, raw, what in (
        (balance, step.get("balance"), "posted"),
        (held, step.get("held"), "held"),
        (available, step.get("available"), "available"),
    ):
        if value is not None:
            figures.append(f"{_money(value, currency)} {what}")
        elif raw is not None:
            figures.append(f"{_raw(raw)} {what}")
    parts = [", ".join(figures)] if figures else []
    if amount is not None:
        asked = f"this authorization {_money(amount, currency)}"
        if available is None:
            parts.append(asked)
        elif amount > available:
            parts.append(f"{asked} — short by {_money(amount - available, currency)}")
        else:
            parts.append(f"{asked} — covered, {_money(available - amount, currency)} left after it")
    return "; ".join(parts)


def _balance_inquiry(step: Mapping[str, Any], currency: str, names: Mapping[str, str]) -> str:
    balance = _decimal(step.get("balance"))
    held = _decimal(step.get("held"))
    figures = []
    if balance is not None:
        figures.append(f"{_money(balance, currency)} posted")
    if held is not None:
        figures.append(f"{_money(held, currency)} held")
    if balance is not None and held is not None:
        figures.append(f"{_money(balance - held, currency)} available")
    return ", ".join(figures)


def _unknown_rule_body(step: Mapping[str, Any]) -> str:
    values = [
        f"{_text(key)}={_raw(value)}"
        for key, value in sorted(step.items(), key=lambda item: str(item[0]))
        if key not in ("rule", "passed")
    ]
    return ", ".join(values)


_RULES = {
    "card_and_account": _card_and_account,
    "merchant_category": _merchant_category,
    "card_spend_limit": _spend_limit("card"),
    "profile_spend_limit": _spend_limit("profile"),
    "account_under_lock": _account_under_lock,
    "available_balance": _available_balance,
    "balance_inquiry": _balance_inquiry,
}


# --- An event ----------------------------------------------------------------------------------


def event_sentence(
    *,
    event_type: str,
    result: str,
    reason: str,
    amount: Any,
    source: str,
    currency: str = "USD",
    type_label: str = "",
) -> str:
    """One event as a line of the transaction's timeline, e.g. "Authorization approved,
    $12.50, from the authorization engine"."""
    what = type_label or _words(event_type).capitalize() or "Event"
    if result and result != "APPROVED":
        what += f" declined ({result})"
    elif event_type in _DECIDED_EVENT_TYPES:
        what += " approved"
    parts = [what]
    value = _decimal(amount)
    if value is not None:
        parts.append(_money(value, currency))
    parts.append(_EVENT_SOURCES.get(source) or f"source {source or 'not recorded'}")
    text = ", ".join(parts)
    return f"{text}: {reason}" if reason else text


# --- Small readers -----------------------------------------------------------------------------


def _rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule) or f'Rule "{rule}"'


def _passed(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _decimal(value: Any) -> Decimal | None:
    """A stored amount (string or number) as a finite Decimal, or None; never through float."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str | int | float | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number.adjusted() > _DIGITS_KEPT:
        return None  # "1e999999" would print a million digits: shown as stored instead
    return number


def _money(value: Any, currency: str) -> str:
    number = value if isinstance(value, Decimal) else _decimal(value)
    if number is None:
        return _raw(value) or "not recorded"
    return format_money(number, currency)


def _mcc(value: Any) -> str:
    text = _text(value)
    return text if len(text) == 4 and text.isascii() and text.isdigit() else ""


def _words(value: Any) -> str:
    """`PENDING_ACTIVATION` as "pending activation"."""
    return _text(value).replace("_", " ").lower()


def _raw(value: Any) -> str:
    """A stored value shown as it is: text as text, anything else as JSON writes it."""
    return _text(value, repr_it=not isinstance(value, str))


def _text(value: Any, *, repr_it: bool = False) -> str:
    """A stored value as short text; `repr_it` shows non-strings as JSON would."""
    if value is None:
        return "" if not repr_it else "null"
    if repr_it:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_KEPT else text[: _TEXT_KEPT - 1] + "…"
