"""The demo's live activity: today's card transactions, recorded by the product's own code.

After the bulk history, a few hundred authorization requests of the last hours are decided by
the authorization engine (`transactions.authorization.authorize`, what the signed ASA endpoint
runs once the signature is checked), from request bodies shaped as Lithic sends them. Lithic's
later reports (clearings, two reversals, a refund, a dispute) are stored in the webhook inbox
and applied by the inbox worker, as `process_webhooks` does. So the decision traces, events,
holds, ledger entries and spend counters are what production records, written by production
code: nothing here writes those tables.

A few deliveries fail on purpose, so the console's inbox has something for an operator: two
reports of a card unknown here (FAILED, retried later) and one body cut off in transit (DEAD
on receipt).

PostgreSQL only, as the engine, the ledger and the inbox are (docs/asa.md, docs/webhooks.md).
Random choices come from `live_rng(seed)`; tokens are `uuid4()`, like Lithic's.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import random
import sys
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone
from tqdm import tqdm

from cards.models import Card, CardState
from core.deadline import Deadline
from core.tenancy import system_scope
from demo import payloads
from demo.bulk import CardSpend, card_spends, partitions_ensure
from demo.merchants import (
    EVERYONE,
    LODGING_MCCS,
    SINGLE_MESSAGE_MCCS,
    TIPPED_MCCS,
    Merchant,
    MerchantPicker,
    picker_for,
)
from demo.summary import LiveSummary
from lithic_integration.asa import parse_request
from lithic_integration.views import ASA_SCOPE
from transactions.authorization import APPROVED, Answer, authorize
from transactions.models import (
    Dispute,
    LedgerEntry,
    SpendCounter,
    Transaction,
    TransactionEvent,
    TransactionType,
)
from webhooks.models import Webhook
from webhooks.services import delivery_parse, webhook_receive
from webhooks.views import INBOX_SCOPE
from webhooks.worker import Worker, WorkerConfig

LIVE_DEFAULT = 200
LIVE_HOURS = 8  # the requests are spread over the last hours
# The responder's deadline is Lithic's wait; nothing waits here, and a slow laptop should not
# turn the demo's requests into declines.
DEADLINE_MS = 10_000
CARD_WEIGHTS: dict[str, int] = {CardState.OPEN: 12, CardState.PAUSED: 2, CardState.CLOSED: 1}
FITTING_RATE = 0.9  # a card on an allow-list is mostly used where it works
CREDIT_RATE = 0.03  # a merchant's refund, authorized as a credit
CARD_PRESENT_RATE = 0.4
SETTLE_AFTER = datetime.timedelta(minutes=45)  # younger approvals have not cleared yet
SETTLE_RATE = 0.75
TIP_RATE = 0.5
INCREMENTALS = 2  # hotel stays whose hold grows with a second request
VOIDS = 2
UNKNOWN_CARD_REPORTS = 2


class LiveActivityUnavailable(Exception):
    """The live part cannot run on this database."""


def live_activity_possible() -> str:
    """Why the live part cannot run on this database, or an empty string when it can."""
    if connection.vendor != "postgresql":
        return (
            "the authorization engine, the ledger and the webhook inbox need PostgreSQL "
            "(`make run` shows them where PostgreSQL 15 is installed)"
        )
    return ""


def live_rng(seed: int) -> random.Random:
    """The random stream of the live activity, apart from the program's and the history's."""
    return random.Random(f"live:{seed}")  # noqa: S311 - demo data, not security


@dataclass
class LiveTransaction:
    """One transaction as the demo's merchant and network made it."""

    token: str
    card: CardSpend
    last_four: str
    merchant: Merchant
    city: str
    country: str
    kind: str
    card_present: bool
    created: datetime.datetime
    # (Lithic's event token, cents, when) for each authorization request, the first one first.
    requests: list[tuple[str, int, datetime.datetime]] = field(default_factory=list)
    result: str = ""

    @property
    def cents(self) -> int:
        return self.requests[0][1]

    def body(self, event_token: str, cents: int, created: datetime.datetime) -> dict[str, Any]:
        return payloads.asa_request(
            token=self.token,
            event_token=event_token,
            status=self.kind,
            cents=cents,
            card_token=str(self.card.lithic_card_token),
            last_four=self.last_four,
            descriptor=self.merchant.descriptor,
            mcc=self.merchant.mcc,
            city=self.city,
            country=self.country,
            created=created,
            card_present=self.card_present,
        )

    def report(self, status: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Lithic's `card_transaction.updated` with its authorizations and then `events`."""
        authorizations = [
            payloads.transaction_event(self.kind, cents, created, token=event_token)
            for event_token, cents, created in self.requests
        ]
        return payloads.card_transaction_updated(
            token=self.token,
            card_token=str(self.card.lithic_card_token),
            status=status,
            descriptor=self.merchant.descriptor,
            mcc=self.merchant.mcc,
            city=self.city,
            country=self.country,
            card_present=self.card_present,
            events=authorizations + events,
        )


def _request_decide(body: dict[str, Any]) -> Answer:
    """Decide one request as the ASA endpoint does after the signature check."""
    raw = json.dumps(body).encode()
    with system_scope(ASA_SCOPE):
        request = parse_request(raw, request_id=f"msg_{uuid.uuid4().hex}")
        return authorize(request, body=raw, deadline=Deadline.after(DEADLINE_MS))


def _deliver(body: bytes) -> str:
    """Store one delivery in the webhook inbox, as the receiving endpoint does; its id."""
    webhook_id = f"msg_{uuid.uuid4().hex}"
    with system_scope(INBOX_SCOPE):
        webhook_receive(webhook_id=webhook_id, delivery=delivery_parse(body=body))
    return webhook_id


def _between(
    rng: random.Random, start: datetime.datetime, end: datetime.datetime
) -> datetime.datetime:
    """A moment between `start` and `end`, a second or more after `start` when there is room."""
    span = max((end - start).total_seconds() - 1, 0)
    return start + datetime.timedelta(seconds=1 + span * rng.random())


def _cards(account_ids: Iterable[int] | None) -> tuple[list[CardSpend], dict[int, str]]:
    cards = [c for c in card_spends(account_ids=account_ids) if c.lithic_card_token]
    last_fours = dict(
        Card.all_objects.filter(pk__in=[c.card_id for c in cards]).values_list("pk", "last_four")
    )
    return cards, last_fours


def _authorizations(
    rng: random.Random,
    *,
    cards: list[CardSpend],
    last_fours: dict[int, str],
    count: int,
    now: datetime.datetime,
    progress: bool,
) -> list[LiveTransaction]:
    """`count` transactions of the last hours, each first request decided by the engine."""
    weights = [CARD_WEIGHTS.get(card.state, 1) for card in cards]
    pickers: dict[frozenset[str], MerchantPicker] = {}
    moments = sorted(
        now - datetime.timedelta(seconds=rng.randrange(LIVE_HOURS * 3600)) for _ in range(count)
    )
    made = []
    for moment in tqdm(
        moments, desc="live authorizations", unit="txn", file=sys.stderr, disable=not progress
    ):
        card = rng.choices(cards, weights=weights)[0]
        if card.allowed_mccs not in pickers:
            pickers[card.allowed_mccs] = picker_for(card.allowed_mccs)
        picker = pickers[card.allowed_mccs] if rng.random() < FITTING_RATE else EVERYONE
        merchant = picker.pick(rng)
        city, country = rng.choice(merchant.places)
        if merchant.refundable and rng.random() < CREDIT_RATE:
            kind = TransactionType.CREDIT_AUTHORIZATION
        elif merchant.mcc in SINGLE_MESSAGE_MCCS:
            kind = TransactionType.FINANCIAL_AUTHORIZATION
        else:
            kind = TransactionType.AUTHORIZATION
        txn = LiveTransaction(
            token=str(uuid.uuid4()),
            card=card,
            last_four=last_fours[card.card_id],
            merchant=merchant,
            city=city,
            country=country,
            kind=kind.value,
            card_present=rng.random() < CARD_PRESENT_RATE,
            created=moment,
        )
        txn.requests.append((str(uuid.uuid4()), merchant.amount_cents(rng), moment))
        txn.result = _request_decide(txn.body(*txn.requests[0])).result
        made.append(txn)
    return made


def _incrementals(rng: random.Random, made: list[LiveTransaction], now: datetime.datetime) -> int:
    """A second request on a few approved hotel stays (the stay grew); how many were sent."""
    stays = [
        t
        for t in made
        if t.result == APPROVED
        and t.kind == TransactionType.AUTHORIZATION
        and t.merchant.mcc in LODGING_MCCS
    ]
    others = [t for t in made if t.result == APPROVED and t.kind == TransactionType.AUTHORIZATION]
    chosen = (stays or others)[:INCREMENTALS]
    for txn in chosen:
        extra = max(txn.cents * rng.randint(15, 40) // 100, 100)
        # The engine dates a later request by when it decides it: now.
        txn.requests.append((str(uuid.uuid4()), extra, now))
        _request_decide(txn.body(*txn.requests[-1]))
    return len(chosen)


def _reports(
    rng: random.Random, made: list[LiveTransaction], now: datetime.datetime
) -> list[bytes]:
    """Lithic's reports of what happened next, as webhook bodies in the order they are sent.

    Approvals of the last SETTLE_AFTER have not cleared yet; of the older ones, most clear (a
    restaurant's with the tip), two are reversed, one cleared purchase is partly refunded and
    another disputed; merchants' refunds (credits) all clear.
    """
    bodies: list[bytes] = []
    # Single requests only: a grown hold is a stay still going on.
    approved = [t for t in made if t.result == APPROVED and len(t.requests) == 1]
    old_enough = [t for t in approved if now - t.created >= SETTLE_AFTER]
    purchases = [t for t in old_enough if t.kind != TransactionType.CREDIT_AUTHORIZATION]
    voided = {t.token for t in rng.sample(purchases, min(VOIDS, len(purchases)))}

    settled: list[tuple[LiveTransaction, dict[str, Any]]] = []
    for txn in old_enough:
        if txn.token in voided:
            reversal = payloads.transaction_event(
                "AUTHORIZATION_REVERSAL", txn.cents, _between(rng, txn.created, now)
            )
            bodies.append(_json(txn.report("VOIDED", [reversal])))
            continue
        credit = txn.kind == TransactionType.CREDIT_AUTHORIZATION
        if not credit and rng.random() >= SETTLE_RATE:
            continue
        cents = txn.cents
        if txn.merchant.mcc in TIPPED_MCCS and rng.random() < TIP_RATE:
            cents += cents * rng.randint(15, 22) // 100  # the bill clears with the tip added
        clearing = payloads.transaction_event(
            "CLEARING", cents, _between(rng, txn.created, now - datetime.timedelta(minutes=10))
        )
        bodies.append(_json(txn.report("SETTLED", [clearing])))
        if not credit:
            settled.append((txn, clearing))

    refundable = [pair for pair in settled if pair[0].merchant.refundable] or settled
    refunded = refundable[0] if refundable else None
    if refunded is not None:
        txn, clearing = refunded
        cleared_at = datetime.datetime.fromisoformat(clearing["created"])
        refund = payloads.transaction_event(
            "RETURN", max(clearing["amount"] // 2, 1), _between(rng, cleared_at, now)
        )
        bodies.append(_json(txn.report("SETTLED", [clearing, refund])))
    disputable = [pair for pair in settled if pair is not refunded]
    if disputable:
        txn, clearing = max(disputable, key=lambda pair: pair[1]["amount"])
        opened = _between(rng, datetime.datetime.fromisoformat(clearing["created"]), now)
        dispute = payloads.dispute_transaction_created(
            token=str(uuid.uuid4()),
            card_token=str(txn.card.lithic_card_token),
            transaction_token=txn.token,
            descriptor=txn.merchant.descriptor,
            mcc=txn.merchant.mcc,
            city=txn.city,
            country=txn.country,
            cents=clearing["amount"],
            opened=opened,
            credited=_between(rng, opened, now),
        )
        bodies.append(_json(dispute))
    return bodies


def _failing_reports(rng: random.Random, made: list[LiveTransaction]) -> list[bytes]:
    """Deliveries that will not apply: a card unknown here (twice), and a body cut off."""
    bodies = []
    for _ in range(UNKNOWN_CARD_REPORTS):
        unknown = CardSpend(
            card_id=0, account_id=0, currency="USD", state=CardState.OPEN,
            lithic_card_token=uuid.uuid4(),
        )  # fmt: skip
        stranger = dataclasses.replace(rng.choice(made), token=str(uuid.uuid4()), card=unknown)
        bodies.append(_json(stranger.report("PENDING", [])))
    whole = _json(rng.choice(made).report("PENDING", []))
    bodies.append(whole[: len(whole) // 2])
    return bodies


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """The worker logs each event it runs; the command prints one summary instead."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _totals() -> dict[str, int]:
    return {
        "events": TransactionEvent.all_objects.count(),
        "ledger_entries": LedgerEntry.objects.count(),
        "spend_counters": SpendCounter.objects.count(),
        "disputes": Dispute.objects.count(),
    }


def live_activity_run(
    *,
    count: int,
    seed: int,
    account_ids: Iterable[int] | None = None,
    progress: bool = False,
) -> LiveSummary:
    """Drive `count` card transactions of the last hours through the authorization engine, and
    Lithic's reports of them through the webhook inbox and its worker."""
    reason = live_activity_possible()
    if reason:
        raise LiveActivityUnavailable(reason)
    summary = LiveSummary()
    if count <= 0:
        return summary
    cards, last_fours = _cards(account_ids)
    if not cards:
        raise ValueError("there are no open, paused or closed cards for the live activity")
    rng = live_rng(seed)
    now = timezone.now()
    partitions_ensure(now)
    before = _totals()

    made = _authorizations(
        rng, cards=cards, last_fours=last_fours, count=count, now=now, progress=progress
    )
    incrementals = _incrementals(rng, made, now)
    bodies = _reports(rng, made, now)
    bodies += _failing_reports(rng, made)
    delivered = [_deliver(body) for body in bodies]
    with _quiet("webhooks.worker"):
        Worker(WorkerConfig.from_settings()).run(once=True)

    tokens = [t.token for t in made]
    live = Transaction.objects.filter(token__in=tokens)
    after = _totals()
    summary.requests = len(made) + incrementals
    summary.transactions = live.count()
    summary.results = Counter(t.result for t in made)
    summary.decisions = live.exclude(decision=None).count()
    summary.statuses = Counter(dict(live.values_list("status").annotate(n=Count("id"))))
    summary.open_holds = live.filter(hold_amount__gt=0).count()
    summary.deliveries = len(delivered)
    summary.webhooks = Counter(
        dict(
            Webhook.objects.filter(webhook_id__in=delivered)
            .values_list("status")
            .annotate(n=Count("id"))
        )
    )
    summary.events = after["events"] - before["events"]
    summary.ledger_entries = after["ledger_entries"] - before["ledger_entries"]
    summary.spend_counters = after["spend_counters"] - before["spend_counters"]
    summary.disputes = after["disputes"] - before["disputes"]
    return summary
