"""Compare our cards and transactions with Lithic's, and optionally take Lithic's side.

Lithic is the system of record for what happened on the network (transactions) and for what a
card is at the processor. Every difference found is a `Difference`; `--fix` applies Lithic's
object through the same code the webhooks use (`card_apply`, `transaction_apply_lithic`),
then compares again, so a fix that did not take is still reported.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from cards.models import Card
from core.errors import DomainError
from lithic_integration import gateway as lithic_gateway
from lithic_integration.cards import card_apply
from lithic_integration.money import from_cents
from lithic_integration.transactions import (
    settled_amount,
    transaction_amount,
    transaction_apply_lithic,
)
from transactions.models import Transaction
from transactions.selectors import latest_balance_reports

CARD_FIELDS = ("state", "last_four", "type", "spend_limit", "spend_limit_duration")


@dataclass
class Difference:
    kind: str  # "card" or "transaction"
    token: str  # Lithic's token
    what: str  # e.g. "missing here", "state", "amount"
    ours: str = ""
    lithic: str = ""
    fixable: bool = False
    fixed: bool = False
    note: str = ""


def compare_card(local: Card, lithic: lithic_gateway.LithicCard) -> list[Difference]:
    found = []
    profile = str(local.profile.token) if local.profile is not None else ""
    if profile != lithic.profile_tag:
        # Which profile rule covers the card is ours to say: the fix is a push, not --fix.
        found.append(
            Difference(
                kind="card",
                token=lithic.token,
                what="profile tag",
                ours=profile or "-",
                lithic=lithic.profile_tag or "-",
                note="push ours: sync_lithic or 'Push to Lithic now'",
            )
        )
    for field in CARD_FIELDS:
        ours, theirs = getattr(local, field), getattr(lithic, field)
        if ours != theirs:
            note = ""
            if local.lithic_sync_status in ("PENDING", "REJECTED") and field != "last_four":
                note = f"local change {local.lithic_sync_status.lower()}"
            found.append(
                Difference(
                    kind="card",
                    token=lithic.token,
                    what=field,
                    ours=str(ours),
                    lithic=str(theirs),
                    fixable=True,
                    note=note,
                )
            )
    return found


def reconcile_cards(*, fix: bool) -> list[Difference]:
    """Every card at Lithic against ours, and ours with a Lithic token that Lithic lacks."""
    local_by_token = {
        str(card.lithic_card_token): card
        for card in Card.all_objects.filter(lithic_card_token__isnull=False).select_related(
            "profile"
        )
    }
    seen: set[str] = set()
    differences: list[Difference] = []
    for lithic in lithic_gateway.cards_iter():
        seen.add(lithic.token)
        local = local_by_token.get(lithic.token)
        if local is None:
            differences.append(
                Difference(
                    kind="card",
                    token=lithic.token,
                    what="missing here",
                    lithic=f"{lithic.type} {lithic.state} ••{lithic.last_four}",
                    note="made outside this back office; not adopted",
                )
            )
            continue
        found = compare_card(local, lithic)
        if found and fix:
            try:
                local = card_apply(lithic=lithic)
            except DomainError as exc:
                for difference in found:
                    difference.note = exc.message
            else:
                still = {d.what for d in compare_card(local, lithic)}
                for difference in found:
                    difference.fixed = difference.fixable and difference.what not in still
        differences.extend(found)
    for token, local in local_by_token.items():
        if token not in seen:
            differences.append(
                Difference(
                    kind="card",
                    token=token,
                    what="missing at Lithic",
                    ours=f"{local.type} {local.state} ••{local.last_four}",
                )
            )
    return differences


def _lithic_transaction_amounts(payload: dict) -> tuple[str, object, object]:
    return (
        str(payload.get("status") or ""),
        _dollars(transaction_amount(payload)),
        _dollars(settled_amount(payload)),
    )


def _dollars(cents):
    try:
        return from_cents(cents)
    except DomainError:
        return cents


def compare_transaction(local, payload: dict) -> list[Difference]:
    status, amount, settled = _lithic_transaction_amounts(payload)
    token = str(payload.get("token"))
    found = []
    for what, ours, theirs in (
        ("status", local.status, status),
        ("amount", local.amount, amount),
        ("settled_amount", local.settled_amount, settled),
    ):
        if ours != theirs:
            found.append(
                Difference(
                    kind="transaction",
                    token=token,
                    what=what,
                    ours=str(ours),
                    lithic=str(theirs),
                    fixable=True,
                )
            )
    return found


def reconcile_transactions(*, since: datetime.datetime, fix: bool) -> list[Difference]:
    """Lithic's transactions since `since` against ours (looked up by token), and ours since
    then that Lithic does not know."""
    differences: list[Difference] = []
    seen: set[str] = set()
    for payload in lithic_gateway.transactions_iter(begin=since):
        token = str(payload.get("token"))
        seen.add(token)
        local = Transaction.objects.filter(token=token).first()
        if local is None:
            status, amount, _ = _lithic_transaction_amounts(payload)
            found = [
                Difference(
                    kind="transaction",
                    token=token,
                    what="missing here",
                    lithic=f"{status} {amount}",
                    fixable=True,
                )
            ]
        else:
            found = compare_transaction(local, payload)
        if found and fix:
            try:
                local = transaction_apply_lithic(payload)
            except DomainError as exc:
                for difference in found:
                    difference.note = exc.message
            else:
                still = {d.what for d in compare_transaction(local, payload)}
                for difference in found:
                    difference.fixed = difference.what not in still
        differences.extend(found)
    ours_since = Transaction.objects.filter(transaction_date__gte=since).values_list(
        "token", "status", "amount"
    )
    for ours_token, status, amount in ours_since.iterator():
        if str(ours_token) not in seen:
            differences.append(
                Difference(
                    kind="transaction",
                    token=str(ours_token),
                    what="missing at Lithic",
                    ours=f"{status} {amount}",
                )
            )
    return differences


def reconcile_balances() -> list[Difference]:
    """The accounts whose latest balance reported by Lithic differs from ours then.

    Not fixable here: the ledger is ours and Lithic's is Lithic's, and a difference means a
    money event one side has and the other has not; the transactions above usually name it.
    """
    differences = []
    for report in latest_balance_reports():
        if report.matches is False:
            differences.append(
                Difference(
                    kind="balance",
                    token=str(report.financial_account_token),
                    what="balance",
                    ours=f"{report.our_balance} (held {report.our_held})",
                    lithic=f"{report.lithic_total} (pending {report.lithic_pending})",
                    note=f"reported {report.reported_at:%Y-%m-%d %H:%M} UTC: {report.difference}",
                )
            )
    return differences


def format_table(differences: Iterable[Difference]) -> list[str]:
    """A plain-text table, one line per difference."""
    header = ("kind", "Lithic token", "difference", "ours", "Lithic", "fixed", "note")
    rows = [
        (
            d.kind,
            d.token,
            d.what,
            d.ours,
            d.lithic,
            "yes" if d.fixed else ("no" if d.fixable else "-"),
            d.note,
        )
        for d in differences
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return lines
