"""The Auth Stream Access engine: decide an authorization and record it, in one transaction.

The decision, in order, each step with Lithic's result:
1. card known, OPEN (PENDING_* only card-not-present), account ACTIVE   else CARD_PAUSED
2. merchant category allowed by the profile and the high-risk rule       else UNAUTHORIZED_MERCHANT
3. the card's and the profile's spend limits for their windows          else VELOCITY_EXCEEDED
4. the account's available balance (posted balance minus open holds)   else INSUFFICIENT_FUNDS
5. APPROVED, and the hold is placed.

Steps 3-5 run under the account's row lock (`ledger.account_lock`): every writer of an
account's money takes it first, so two authorizations racing on one card or account are
decided one after the other on current counters, and together never pass a limit or the balance.
The hot path is plain SQL (the statements below); `bench/bench_asa.py` drives the same
statements through pgbench as the floor.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.settings_registry import get_spec, parse_setting
from cards.models import CardState
from transactions import ledger
from transactions.models import CounterScope, TransactionStatus, TransactionType

APPROVED = "APPROVED"
CARD_PAUSED = "CARD_PAUSED"
UNAUTHORIZED_MERCHANT = "UNAUTHORIZED_MERCHANT"
VELOCITY_EXCEEDED = "VELOCITY_EXCEEDED"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
SUSPECTED_FRAUD = "SUSPECTED_FRAUD"

HIGH_RISK_SETTING = "block_high_risk_mcc"
EVENT_NAMESPACE = uuid.UUID("5f1f6a52-5a8e-4c56-9a8d-0b7a3c1e2d11")
DEBIT_TYPES = frozenset({TransactionType.AUTHORIZATION, TransactionType.FINANCIAL_AUTHORIZATION})
CREDIT_TYPES = frozenset(
    {TransactionType.CREDIT_AUTHORIZATION, TransactionType.FINANCIAL_CREDIT_AUTHORIZATION}
)
BODY_KEPT = 8_000

# One statement for the whole budget: the decision's statements, lock waits included.
TIMEOUT_SQL = "SELECT set_config('statement_timeout', %s, true)"

STORED_ANSWER_SQL = """
SELECT result, declined_reason FROM transactions WHERE token = %s
UNION ALL
SELECT result, reason FROM unmatched_authorizations WHERE token = %s
LIMIT 1
"""

# Everything steps 1 and 2 need, in one round trip.
CARD_SQL = """
SELECT c.id, c.account_id, c.state, c.deleted IS NOT NULL, c.spend_limit, c.spend_limit_duration,
       c.profile_id, a.status, a.deleted IS NOT NULL, p.spend_limit, p.spend_limit_duration,
       (SELECT pc.rule FROM profile_categories pc
          JOIN spending_categories sc ON sc.id = pc.category_id
         WHERE pc.profile_id = c.profile_id AND pc.deleted IS NULL AND sc.mcc = %(mcc)s
         LIMIT 1),
       EXISTS (SELECT 1 FROM profile_categories pc
                WHERE pc.profile_id = c.profile_id AND pc.deleted IS NULL
                  AND pc.rule = 'ALLOWED'),
       COALESCE((SELECT sc.is_high_risk FROM spending_categories sc
                  WHERE sc.mcc = %(mcc)s AND sc.deleted IS NULL), false),
       (SELECT s.value FROM account_settings s
         WHERE s.account_id = c.account_id AND s.key = %(setting)s AND s.deleted IS NULL)
FROM cards c
JOIN accounts a ON a.id = c.account_id
LEFT JOIN spending_profiles p ON p.id = c.profile_id
WHERE c.lithic_card_token = %(card_token)s
"""

INSERT_TRANSACTION_SQL = """
WITH t AS (
    INSERT INTO transactions
        (token, account_id, card_id, profile_id, amount, settled_amount, hold_amount,
         refunded_amount, currency, merchant_descriptor, merchant_city, merchant_country, mcc,
         type, status, result, declined_reason, counted, decision, transaction_date,
         created_at, updated_at, deleted)
    VALUES (%(token)s, %(account_id)s, %(card_id)s, %(profile_id)s, %(amount)s, 0,
            %(hold)s, 0, %(currency)s, %(descriptor)s, %(city)s, %(country)s, %(mcc)s,
            %(type)s, %(status)s, %(result)s, %(reason)s, %(counted)s, %(decision)s::jsonb,
            %(now)s, %(now)s, %(now)s, NULL)
    RETURNING id
)
INSERT INTO transaction_events
    (token, account_id, transaction_id, type, amount, result, created, recorded_at, deleted)
SELECT %(event_token)s, %(account_id)s, t.id, %(type)s, %(amount)s, %(result)s, %(created)s,
       %(now)s, NULL
FROM t
"""

UNMATCHED_ANSWER_SQL = "SELECT result, reason FROM unmatched_authorizations WHERE token = %s"

UNMATCHED_SQL = """
INSERT INTO unmatched_authorizations
    (token, account_id, card_token, result, reason, body, received_at, deleted)
VALUES (%s, %s, %s, %s, %s, %s, now(), NULL)
ON CONFLICT (token) WHERE token <> '' DO NOTHING
"""


@dataclass(frozen=True)
class AuthorizationRequest:
    token: str
    status: str
    amount: Decimal
    currency: str
    card_token: str
    mcc: str
    merchant_descriptor: str
    merchant_city: str
    merchant_country: str
    card_present: bool
    created: datetime.datetime | None


@dataclass(frozen=True)
class Answer:
    token: str | None
    result: str
    reason: str = ""
    replay: bool = False

    def as_json(self) -> dict[str, Any]:
        # Never `approved_amount`: its presence is a partial approval, which we never give.
        return {"token": self.token, "result": self.result}


@dataclass
class _Card:
    id: int
    account_id: int
    state: str
    deleted: bool
    spend_limit: Decimal
    spend_limit_duration: str
    profile_id: int | None
    account_status: str
    account_deleted: bool
    profile_limit: Decimal | None
    profile_limit_duration: str | None
    mcc_rule: str | None
    has_allow_list: bool
    mcc_high_risk: bool
    block_high_risk: bool
    trace: list[dict[str, Any]] = field(default_factory=list)


def record_unmatched(
    *, token: str, card_token: str, result: str, reason: str, body: bytes, account_id=None
) -> Answer:
    """Record a request that cannot become a Transaction; a retry gets the first answer."""
    kept = body[:BODY_KEPT].decode(errors="replace")
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        _set_timeout(cursor)
        cursor.execute(UNMATCHED_SQL, [token, account_id, card_token, result, reason, kept])
        if token:
            cursor.execute(UNMATCHED_ANSWER_SQL, [token])
            result, reason = cursor.fetchone()
    return Answer(token or None, result, reason)


def _set_timeout(cursor) -> None:
    cursor.execute(TIMEOUT_SQL, [f"{settings.ASA_STATEMENT_TIMEOUT_MS}ms"])


def authorize(request: AuthorizationRequest, *, body: bytes = b"") -> Answer:
    """Decide and record one authorization; the same token again returns the first answer."""
    try:
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            return _authorize(cursor, request, body)
    except IntegrityError:
        # A concurrent request with the same token recorded its answer first.
        stored = stored_answer(request.token)
        if stored is None:
            raise
        return stored


def stored_answer(token: str) -> Answer | None:
    with connection.cursor() as cursor:
        cursor.execute(STORED_ANSWER_SQL, [token, token])
        row = cursor.fetchone()
    return None if row is None else Answer(token, row[0], row[1], replay=True)


def _card_from_row(row: tuple) -> _Card:
    stored_setting = row[14]
    if stored_setting is None:
        block_high_risk = get_spec(HIGH_RISK_SETTING).default
    else:
        if isinstance(stored_setting, str):
            stored_setting = json.loads(stored_setting)
        block_high_risk = parse_setting(HIGH_RISK_SETTING, stored_setting)
    return _Card(*row[:14], block_high_risk=bool(block_high_risk))


def _card_refusal(card: _Card, request: AuthorizationRequest) -> str:
    if card.deleted:
        return "card deleted"
    if card.state == CardState.CLOSED:
        return "card closed"
    if card.state == CardState.PAUSED:
        return "card paused"
    if card.state in (CardState.PENDING_ACTIVATION, CardState.PENDING_FULFILLMENT):
        if request.card_present:
            return f"card {card.state.lower()}: only card-not-present use is allowed"
    elif card.state != CardState.OPEN:
        return f"card state {card.state}"
    if card.account_deleted:
        return "account deleted"
    if card.account_status != "ACTIVE":
        return f"account {card.account_status.lower()}"
    return ""


def _merchant_refusal(card: _Card, mcc: str) -> str:
    if card.mcc_rule == "BLOCKED":
        return f"MCC {mcc} blocked by the card's spending profile"
    if card.has_allow_list and card.mcc_rule != "ALLOWED":
        return f"MCC {mcc} not in the card's spending profile allow-list"
    if card.block_high_risk and card.mcc_high_risk:
        return f"MCC {mcc} is high-risk and the account blocks high-risk categories"
    return ""


def _limit_check(
    *, what: str, limit: Decimal, duration: str, spent: Decimal, amount: Decimal
) -> dict[str, Any]:
    remaining = limit - spent
    return {
        "rule": what,
        "limit": str(limit),
        "duration": duration,
        "spent": str(spent),
        "remaining": str(remaining),
        "amount": str(amount),
        "passed": amount <= remaining,
    }


def _authorize(cursor, request: AuthorizationRequest, body: bytes) -> Answer:
    # One round trip: the budget for what follows, an earlier answer, and the card.
    timeout = f"{settings.ASA_STATEMENT_TIMEOUT_MS}ms"
    card_params = {
        "mcc": request.mcc,
        "setting": HIGH_RISK_SETTING,
        "card_token": request.card_token,
    }
    _, stored, card_rows = ledger.run_batch(
        cursor,
        [(TIMEOUT_SQL, [timeout]), (STORED_ANSWER_SQL, [request.token, request.token]),
         (CARD_SQL, card_params)],
    )  # fmt: skip
    if stored:
        return Answer(request.token, stored[0][0], stored[0][1], replay=True)

    card = _card_from_row(card_rows[0]) if card_rows else None
    if card is None:
        cursor.execute(
            UNMATCHED_SQL,
            [request.token, None, request.card_token, CARD_PAUSED, "unknown card",
             body[:BODY_KEPT].decode(errors="replace")],
        )  # fmt: skip
        return Answer(request.token, CARD_PAUSED, "unknown card")
    now = timezone.now()
    trace = card.trace

    refusal = _card_refusal(card, request)
    trace.append(
        {"rule": "card_and_account", "card_state": card.state,
         "account_status": card.account_status, "passed": not refusal}
    )  # fmt: skip
    if refusal:
        return _record(cursor, request, card, now, CARD_PAUSED, refusal)
    if request.status == TransactionType.BALANCE_INQUIRY:
        return _record(cursor, request, card, now, APPROVED, status=TransactionStatus.SETTLED)
    if request.status in CREDIT_TYPES:
        # Money coming in: no merchant, limit or balance rule applies; it posts when it settles.
        return _record(cursor, request, card, now, APPROVED, status=TransactionStatus.PENDING)

    refusal = _merchant_refusal(card, request.mcc)
    trace.append(
        {"rule": "merchant_category", "mcc": request.mcc, "profile_rule": card.mcc_rule,
         "profile_has_allow_list": card.has_allow_list, "mcc_high_risk": card.mcc_high_risk,
         "account_blocks_high_risk": card.block_high_risk, "passed": not refusal}
    )  # fmt: skip
    if refusal:
        return _record(cursor, request, card, now, UNAUTHORIZED_MERCHANT, refusal)

    card_period = ledger.period_for(card.spend_limit_duration, now)
    profile_period = ledger.period_for(card.profile_limit_duration, now)
    locked = ledger.account_lock(
        cursor, card.account_id, counters=(card.id, card_period, card.profile_id, profile_period)
    )
    balance, held, spent = locked.balance, locked.held, locked.spent
    if locked.deleted or locked.status != "ACTIVE":
        # Changed between the card read and the lock.
        reason = "account deleted" if locked.deleted else f"account {locked.status.lower()}"
        trace.append({"rule": "account_under_lock", "account_status": locked.status})
        return _record(cursor, request, card, now, CARD_PAUSED, reason)

    amount = request.amount
    zero = Decimal("0.00")
    checks = []
    if card.spend_limit > 0:
        used = spent.get((CounterScope.CARD, card_period), zero) if card_period else zero
        checks.append(
            _limit_check(what="card_spend_limit", limit=card.spend_limit,
                         duration=card.spend_limit_duration, spent=used, amount=amount)
        )  # fmt: skip
    else:
        trace.append({"rule": "card_spend_limit", "limit": "none", "passed": True})
    if card.profile_limit is not None and card.profile_limit > 0:
        used = spent.get((CounterScope.PROFILE, profile_period), zero) if profile_period else zero
        checks.append(
            _limit_check(what="profile_spend_limit", limit=card.profile_limit,
                         duration=card.profile_limit_duration, spent=used, amount=amount)
        )  # fmt: skip
    for check in checks:
        trace.append(check)
        if not check["passed"]:
            reason = (
                f"{check['rule'].replace('_', ' ')} {check['limit']} {check['duration']}: "
                f"{check['remaining']} left, {amount} asked"
            )
            return _record(cursor, request, card, now, VELOCITY_EXCEEDED, reason)

    available = balance - held
    funds_ok = amount <= available
    trace.append(
        {"rule": "available_balance", "balance": str(balance), "held": str(held),
         "available": str(available), "amount": str(amount), "passed": funds_ok}
    )  # fmt: skip
    if not funds_ok:
        reason = f"available balance {available}, {amount} asked"
        return _record(cursor, request, card, now, INSUFFICIENT_FUNDS, reason)

    windows = ledger.counter_windows(card_id=card.id, profile_id=card.profile_id, moment=now)
    account_id = card.account_id
    return _record(
        cursor, request, card, now, APPROVED, hold=amount, counted=True,
        then=[
            ledger.counters_add_statement(account_id=account_id, windows=windows, delta=amount),
            ledger.funds_hold_statement(account_id=account_id, delta=amount),
        ],
    )  # fmt: skip


def _record(
    cursor,
    request: AuthorizationRequest,
    card: _Card,
    now: datetime.datetime,
    result: str,
    reason: str = "",
    *,
    status: str | None = None,
    hold: Decimal = Decimal("0.00"),
    counted: bool = False,
    then: list[ledger.Statement] = (),
) -> Answer:
    if status is None:
        status = TransactionStatus.PENDING if result == APPROVED else TransactionStatus.DECLINED
    card.trace.append({"result": result, "reason": reason})
    insert = (
        INSERT_TRANSACTION_SQL,
        {
            "token": request.token,
            "account_id": card.account_id,
            "card_id": card.id,
            "profile_id": card.profile_id if counted else None,
            "amount": request.amount,
            "hold": hold,
            "currency": request.currency,
            "descriptor": request.merchant_descriptor,
            "city": request.merchant_city,
            "country": request.merchant_country,
            "mcc": request.mcc,
            "type": request.status,
            "status": str(status),
            "result": result,
            "reason": reason,
            "counted": counted,
            "decision": json.dumps({"checked_at": now.isoformat(), "steps": card.trace}),
            "now": now,
            "event_token": uuid.uuid5(EVENT_NAMESPACE, f"{request.token}:{request.status}"),
            "created": request.created or now,
        },
    )
    # The record and the approval's counter and hold changes go in one round trip.
    counts = ledger.run_batch(cursor, [insert, *then])
    if then and counts[-1] != 1:
        raise RuntimeError(f"hold on account {card.account_id} would go negative")
    return Answer(request.token, result, reason)
