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

Identity. The request's `token` names the transaction; the request itself is named by Lithic's
`event_token` when Lithic sends one, and otherwise by the `webhook-id` of its delivery, which
Lithic keeps when it retries a request. A request seen before (the same name) is answered as it
was the first time and changes nothing; a new request on a known transaction (an incremental
authorization) is decided on its own, and its approval adds its amount to the hold.

Deadline. Every statement runs with a statement timeout of what is left of the request's
deadline, and the work is abandoned (rolled back, declined) once the deadline has passed: an
approval is committed only while Lithic is still waiting for it.

The hot path is plain SQL (the statements below); `bench/bench_asa.py` drives the same
statements through pgbench as the floor.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.settings_registry import get_spec, parse_setting
from cards.models import CardState
from core.deadline import Deadline, DeadlinePassed
from spending.models import SpendLimitDuration
from transactions import ledger
from transactions.models import CounterScope, EventSource, TransactionStatus, TransactionType
from transactions.spend_windows import periods_read

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
ZERO = Decimal("0.00")

# The statement timeout of what follows, inside the decision's transaction.
TIMEOUT_SQL = "SELECT set_config('statement_timeout', %s, true)"

# This very request answered before (a retry), or the transaction's card unknown before.
STORED_ANSWER_SQL = """
SELECT result, reason FROM transaction_events WHERE token = %s
UNION ALL
SELECT result, reason FROM unmatched_authorizations WHERE token = %s
LIMIT 1
"""

# The transaction, when an earlier request started it (this one is then an incremental one):
# its id, and its date, which names the one partition it is in (transactions.partitioning).
KNOWN_TRANSACTION_SQL = "SELECT id, transaction_date FROM transaction_keys WHERE token = %s"

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
         WHERE s.account_id = c.account_id AND s.key = %(setting)s AND s.deleted IS NULL),
       c.cardholder_id
FROM cards c
JOIN accounts a ON a.id = c.account_id
LEFT JOIN spending_profiles p ON p.id = c.profile_id
WHERE c.lithic_card_token = %(card_token)s
"""

INSERT_TRANSACTION_SQL = """
WITH t AS (
    INSERT INTO transactions
        (token, account_id, card_id, cardholder_id, profile_id, amount, settled_amount,
         hold_amount, refunded_amount, currency, merchant_descriptor, merchant_city,
         merchant_country, mcc,
         type, status, result, declined_reason, counted, decision, transaction_date,
         created_at, updated_at, deleted)
    VALUES (%(token)s, %(account_id)s, %(card_id)s, %(cardholder_id)s, %(profile_id)s,
            %(amount)s, 0, %(hold)s, 0, %(currency)s, %(descriptor)s, %(city)s, %(country)s,
            %(mcc)s, %(type)s, %(status)s, %(result)s, %(reason)s, %(counted)s, %(decision)s::jsonb,
            %(now)s, %(now)s, %(now)s, NULL)
    RETURNING id
)
INSERT INTO transaction_events
    (token, account_id, transaction_id, type, amount, result, reason, source,
     network_event_token, request_id, decision, created, recorded_at, deleted)
SELECT %(event_token)s, %(account_id)s, t.id, %(type)s, %(amount)s, %(result)s, %(reason)s,
       %(source)s, %(network_event_token)s, %(request_id)s, NULL, %(created)s, %(now)s, NULL
FROM t
"""

# An incremental request on a known transaction: its own event, with its own decision.
INSERT_EVENT_SQL = """
INSERT INTO transaction_events
    (token, account_id, transaction_id, type, amount, result, reason, source,
     network_event_token, request_id, decision, created, recorded_at, deleted)
VALUES (%(event_token)s, %(account_id)s, %(transaction_id)s, %(type)s, %(amount)s, %(result)s,
        %(reason)s, %(source)s, %(network_event_token)s, %(request_id)s, %(decision)s::jsonb,
        %(created)s, %(now)s, NULL)
"""

# The transaction under its row lock (after the account's: the house order), for an
# incremental request's approval.
# What a known transaction has counted so far: a TRANSACTION limit covers all its requests.
TRANSACTION_SPENT_SQL = """
SELECT CASE WHEN counted THEN hold_amount + settled_amount ELSE 0 END
FROM transactions WHERE id = %s AND transaction_date = %s
"""
LOCK_TRANSACTION_SQL = """
SELECT status, hold_amount, settled_amount, counted, profile_id, transaction_date
FROM transactions WHERE id = %s AND transaction_date = %s FOR UPDATE
"""

GROW_HOLD_SQL = """
UPDATE transactions
SET hold_amount = hold_amount + %(amount)s, amount = amount + %(amount)s, status = 'PENDING',
    counted = true, profile_id = %(profile_id)s, updated_at = %(now)s
WHERE id = %(transaction_id)s AND transaction_date = %(transaction_date)s
"""

FUNDS_SQL = """
SELECT a.balance, COALESCE(f.held, 0)
FROM accounts a LEFT JOIN account_funds f ON f.account_id = a.id
WHERE a.id = %s
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
    # Lithic's token for this request, when it sends one (programs in its beta).
    event_token: str | None = None
    # The delivery's `webhook-id`: the same when Lithic retries the request.
    request_id: str = ""

    @property
    def record_token(self) -> uuid.UUID:
        """The token of our record of this request: one per request, the same on a retry."""
        name = f"event:{self.event_token}" if self.event_token else f"msg:{self.request_id}"
        return uuid.uuid5(EVENT_NAMESPACE, f"{self.token}:{name}")


@dataclass(frozen=True)
class Answer:
    token: str | None
    result: str
    reason: str = ""
    replay: bool = False
    # A balance inquiry's answer: the posted balance and what is available to spend.
    balance: Decimal | None = None
    available: Decimal | None = None


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
    cardholder_id: int | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)


def _deadline(deadline: Deadline | None) -> Deadline:
    return deadline or Deadline.after(settings.ASA_DEADLINE_MS)


def _timeout(deadline: Deadline, what: str) -> ledger.Statement:
    """The statement that gives what follows the time left, or DeadlinePassed if none is."""
    return TIMEOUT_SQL, [f"{deadline.check(what)}ms"]


def record_unmatched(
    *,
    token: str,
    card_token: str,
    result: str,
    reason: str,
    body: bytes,
    account_id: int | None = None,
    deadline: Deadline | None = None,
) -> Answer:
    """Record a request that cannot become a Transaction; a retry gets the first answer."""
    deadline = _deadline(deadline)
    kept = kept_body(body)
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(*_timeout(deadline, "recording the request"))
        cursor.execute(UNMATCHED_SQL, [token, account_id, card_token, result, reason, kept])
        if token:
            cursor.execute(UNMATCHED_ANSWER_SQL, [token])
            result, reason = cursor.fetchone()
    return Answer(token or None, result, reason)


def kept_body(body: bytes) -> str:
    """The start of a request body as text PostgreSQL stores: no NUL, no lone surrogate."""
    text = body[:BODY_KEPT].decode("utf-8", "replace")
    return text.replace("\x00", "\\x00")


def authorize(
    request: AuthorizationRequest, *, body: bytes = b"", deadline: Deadline | None = None
) -> Answer:
    """Decide and record one authorization request; the same request again gets the first
    answer and changes nothing. DeadlinePassed: nothing was recorded."""
    deadline = _deadline(deadline)
    for attempt in (1, 2):
        try:
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                answer = _authorize(cursor, request, body, deadline)
                # Past this point the answer is too late for Lithic: roll it back instead.
                deadline.check("committing the decision")
                return answer
        except IntegrityError:
            # A concurrent copy of this request recorded its answer first: that is the answer.
            stored = stored_answer(request, deadline)
            if stored is not None:
                return stored
            if attempt == 2:
                raise
            # Another request of the same transaction created it first: decide again, now as
            # a later request on that transaction.
    raise AssertionError("unreachable")  # pragma: no cover


def stored_answer(request: AuthorizationRequest, deadline: Deadline) -> Answer | None:
    """The answer already recorded for this request, read within what the deadline leaves."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(*_timeout(deadline, "reading the earlier answer"))
        cursor.execute(STORED_ANSWER_SQL, [request.record_token, request.token])
        row = cursor.fetchone()
    return None if row is None else Answer(request.token, row[0], row[1], replay=True)


def _card_from_row(row: Sequence[Any]) -> _Card:
    stored_setting = row[14]
    if stored_setting is None:
        block_high_risk = get_spec(HIGH_RISK_SETTING).default
    else:
        if isinstance(stored_setting, str):
            stored_setting = json.loads(stored_setting)
        block_high_risk = parse_setting(HIGH_RISK_SETTING, stored_setting)
    return _Card(*row[:14], block_high_risk=bool(block_high_risk), cardholder_id=row[15])


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
    *,
    what: str,
    limit: Decimal,
    duration: str,
    periods: tuple[str, str] | None,
    spent: Decimal,
    amount: Decimal,
) -> dict[str, Any]:
    remaining = limit - spent
    check = {
        "rule": what,
        "limit": str(limit),
        "duration": duration,
        "spent": str(spent),
        "remaining": str(remaining),
        "amount": str(amount),
        "passed": amount <= remaining,
    }
    if periods is not None and periods[0] != periods[1]:
        check["window"] = f"{periods[0]} to {periods[1]}"
    return check


@dataclass
class _Context:
    cursor: Any
    request: AuthorizationRequest
    card: _Card
    now: datetime.datetime
    deadline: Deadline
    transaction_id: int | None  # an earlier request started the transaction
    transaction_date: datetime.datetime | None  # ... and its partition

    def record(self, result: str, reason: str = "", **options: Any) -> Answer:
        if self.transaction_id is None:
            return _record_new(self, result, reason, **options)
        return _record_increment(self, result, reason, **options)


def _authorize(cursor, request: AuthorizationRequest, body: bytes, deadline: Deadline) -> Answer:
    # One round trip: the time left, an earlier answer, the transaction, and the card.
    card_params = {
        "mcc": request.mcc,
        "setting": HIGH_RISK_SETTING,
        "card_token": request.card_token,
    }
    _, stored, known, card_rows = ledger.run_batch(
        cursor,
        [_timeout(deadline, "reading the card"),
         (STORED_ANSWER_SQL, [request.record_token, request.token]),
         (KNOWN_TRANSACTION_SQL, [request.token]),
         (CARD_SQL, card_params)],
    )  # fmt: skip
    if stored:
        return Answer(request.token, stored[0][0], stored[0][1], replay=True)

    if not card_rows:
        cursor.execute(
            UNMATCHED_SQL,
            [request.token, None, request.card_token, CARD_PAUSED, "unknown card",
             kept_body(body)],
        )  # fmt: skip
        return Answer(request.token, CARD_PAUSED, "unknown card")
    card = _card_from_row(card_rows[0])
    context = _Context(
        cursor=cursor,
        request=request,
        card=card,
        now=timezone.now(),
        deadline=deadline,
        transaction_id=known[0][0] if known else None,
        transaction_date=known[0][1] if known else None,
    )
    trace = card.trace

    refusal = _card_refusal(card, request)
    trace.append(
        {"rule": "card_and_account", "card_state": card.state,
         "account_status": card.account_status, "passed": not refusal}
    )  # fmt: skip
    if refusal:
        return context.record(CARD_PAUSED, refusal)
    if request.status == TransactionType.BALANCE_INQUIRY:
        return _balance_inquiry(context)
    if request.status in CREDIT_TYPES:
        # Money coming in: no merchant, limit or balance rule applies; it posts when it settles.
        return context.record(APPROVED, status=TransactionStatus.PENDING)

    refusal = _merchant_refusal(card, request.mcc)
    trace.append(
        {"rule": "merchant_category", "mcc": request.mcc, "profile_rule": card.mcc_rule,
         "profile_has_allow_list": card.has_allow_list, "mcc_high_risk": card.mcc_high_risk,
         "account_blocks_high_risk": card.block_high_risk, "passed": not refusal}
    )  # fmt: skip
    if refusal:
        return context.record(UNAUTHORIZED_MERCHANT, refusal)

    now = context.now
    card_periods = periods_read(card.spend_limit_duration if card.spend_limit > 0 else None, now)
    profile_periods = periods_read(card.profile_limit_duration if card.profile_limit else None, now)
    locked = ledger.account_lock(
        cursor,
        card.account_id,
        spend=ledger.SpendQuery(card.id, card_periods, card.profile_id, profile_periods),
        first=_timeout(deadline, "locking the account"),
    )
    balance, held, spent = locked.balance, locked.held, locked.spent
    if locked.deleted or locked.status != "ACTIVE":
        # Changed between the card read and the lock.
        reason = "account deleted" if locked.deleted else f"account {locked.status.lower()}"
        trace.append({"rule": "account_under_lock", "account_status": locked.status})
        return context.record(CARD_PAUSED, reason)

    amount = request.amount
    per_transaction = {
        card.spend_limit_duration if card.spend_limit > 0 else None,
        card.profile_limit_duration if card.profile_limit else None,
    }
    so_far = ZERO
    if context.transaction_id is not None and SpendLimitDuration.TRANSACTION in per_transaction:
        # An incremental authorization: "each individual transaction under the limit" counts
        # what the transaction holds and settled already, under the account lock.
        cursor.execute(TRANSACTION_SPENT_SQL, [context.transaction_id, context.transaction_date])
        so_far = cursor.fetchone()[0]

    def window_spent(scope: str, duration: str | None) -> Decimal:
        return so_far if duration == SpendLimitDuration.TRANSACTION else spent.get(scope, ZERO)

    checks = []
    if card.spend_limit > 0:
        checks.append(
            _limit_check(what="card_spend_limit", limit=card.spend_limit,
                         duration=card.spend_limit_duration, periods=card_periods,
                         spent=window_spent(CounterScope.CARD, card.spend_limit_duration),
                         amount=amount)
        )  # fmt: skip
    else:
        trace.append({"rule": "card_spend_limit", "limit": "none", "passed": True})
    if card.profile_limit is not None and card.profile_limit > 0:
        checks.append(
            _limit_check(what="profile_spend_limit", limit=card.profile_limit,
                         duration=card.profile_limit_duration or "", periods=profile_periods,
                         spent=window_spent(CounterScope.PROFILE, card.profile_limit_duration),
                         amount=amount)
        )  # fmt: skip
    for check in checks:
        trace.append(check)
        if not check["passed"]:
            reason = (
                f"{check['rule'].replace('_', ' ')} {check['limit']} {check['duration']}: "
                f"{check['remaining']} left, {amount} asked"
            )
            return context.record(VELOCITY_EXCEEDED, reason)

    available = balance - held
    funds_ok = amount <= available
    trace.append(
        {"rule": "available_balance", "balance": str(balance), "held": str(held),
         "available": str(available), "amount": str(amount), "passed": funds_ok}
    )  # fmt: skip
    if not funds_ok:
        reason = f"available balance {available}, {amount} asked"
        return context.record(INSUFFICIENT_FUNDS, reason)
    return context.record(APPROVED, hold=amount)


def _balance_inquiry(context: _Context) -> Answer:
    """Card and account pass: answer with the posted balance and what is available."""
    account_id = context.card.account_id
    context.cursor.execute(FUNDS_SQL, [account_id])
    balance, held = context.cursor.fetchone()
    context.card.trace.append(
        {"rule": "balance_inquiry", "balance": str(balance), "held": str(held), "passed": True}
    )
    answer = context.record(APPROVED, status=TransactionStatus.SETTLED)
    return Answer(
        answer.token, answer.result, answer.reason, balance=balance, available=balance - held
    )


def _decision(context: _Context, result: str, reason: str) -> str:
    context.card.trace.append({"result": result, "reason": reason})
    return json.dumps({"checked_at": context.now.isoformat(), "steps": context.card.trace})


def _event_params(context: _Context, result: str, reason: str) -> dict[str, Any]:
    request = context.request
    return {
        "event_token": request.record_token,
        "account_id": context.card.account_id,
        "type": request.status,
        "amount": request.amount,
        "result": result,
        "reason": reason[:255],
        "source": EventSource.ASA.value,
        "network_event_token": request.event_token,
        "request_id": request.request_id[:100],
        # Lithic's `created` is when the transaction first occurred: it dates the first request;
        # a later (incremental) one happens now, after whatever the transaction saw since.
        "created": (request.created if context.transaction_id is None else None) or context.now,
        "now": context.now,
    }


def _record_new(
    context: _Context,
    result: str,
    reason: str = "",
    *,
    status: str | None = None,
    hold: Decimal = ZERO,
) -> Answer:
    """The first request of a transaction: the transaction, its event, and an approval's hold
    and counters, in one round trip."""
    request, card = context.request, context.card
    if status is None:
        status = TransactionStatus.PENDING if result == APPROVED else TransactionStatus.DECLINED
    counted = bool(hold)
    params = _event_params(context, result, reason)
    params.update(
        token=request.token,
        card_id=card.id,
        cardholder_id=card.cardholder_id,
        profile_id=card.profile_id if counted else None,
        hold=hold,
        currency=request.currency,
        descriptor=request.merchant_descriptor,
        city=request.merchant_city,
        country=request.merchant_country,
        mcc=request.mcc,
        status=str(status),
        counted=counted,
        decision=_decision(context, result, reason),
    )
    statements: list[ledger.Statement] = [
        _timeout(context.deadline, "recording the decision"),
        (INSERT_TRANSACTION_SQL, params),
    ]
    if hold:
        statements += _hold_statements(
            card, profile_id=card.profile_id, moment=context.now, spend=hold, hold=hold
        )
    _run(context.cursor, statements, card=card, holds=bool(hold))
    return Answer(request.token, result, reason)


def _hold_statements(
    card: _Card, *, profile_id: int | None, moment: datetime.datetime, spend: Decimal, hold: Decimal
) -> list[ledger.Statement]:
    """An approval's money: `spend` added to the counters of `moment`'s day, `hold` held."""
    windows = ledger.counter_windows(card_id=card.id, profile_id=profile_id, moment=moment)
    return [
        ledger.counters_add_statement(account_id=card.account_id, windows=windows, delta=spend),
        ledger.funds_hold_statement(account_id=card.account_id, delta=hold),
    ]


def _run(cursor, statements: list[ledger.Statement], *, card: _Card, holds: bool) -> None:
    """The record's statements in one round trip; a hold must have been placed."""
    counts = ledger.run_batch(cursor, statements)
    if holds and counts[-1] != 1:
        raise RuntimeError(f"hold on account {card.account_id} would go negative")


def _record_increment(
    context: _Context,
    result: str,
    reason: str = "",
    *,
    status: str | None = None,
    hold: Decimal = ZERO,
) -> Answer:
    """A later request on a known transaction: its own event and, approved, a bigger hold.

    The status of a balance inquiry or a credit is that of the transaction already recorded;
    an approved debit makes the transaction PENDING with the hold grown by its amount.
    """
    cursor, request, card = context.cursor, context.request, context.card
    params = _event_params(context, result, reason)
    params.update(
        transaction_id=context.transaction_id, decision=_decision(context, result, reason)
    )
    statements: list[ledger.Statement] = [
        _timeout(context.deadline, "recording the decision"),
        (INSERT_EVENT_SQL, params),
    ]
    if hold:
        # The account is locked (the approval was decided under its lock); now the transaction.
        cursor.execute(LOCK_TRANSACTION_SQL, [context.transaction_id, context.transaction_date])
        _status, txn_hold, settled, counted, profile_id, dated = cursor.fetchone()
        # A transaction not counted yet (its first request was declined) counts all of it now.
        spend = hold if counted else hold + txn_hold + settled
        profile_id = profile_id if counted else card.profile_id
        statements.append(
            (GROW_HOLD_SQL, {"amount": hold, "profile_id": profile_id, "now": context.now,
                             "transaction_id": context.transaction_id,
                             "transaction_date": context.transaction_date})
        )  # fmt: skip
        statements += _hold_statements(
            card, profile_id=profile_id, moment=dated, spend=spend, hold=hold
        )
    _run(cursor, statements, card=card, holds=bool(hold))
    return Answer(request.token, result, reason)


__all__ = [
    "APPROVED",
    "Answer",
    "AuthorizationRequest",
    "DeadlinePassed",
    "authorize",
    "record_unmatched",
]
