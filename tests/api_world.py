"""A complete set of business objects in one account, built through the services, for the
API-wide tests (role table, cross-tenant walk, query counts, schemathesis)."""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from accounts.models import Account, AccountSetting, Address, Role, User
from accounts.services import account_setting_set, address_add, user_create
from cards.models import Card, CardProduct
from cards.services import card_issue, card_product_create
from core.audit import system_actor
from demo.bulk import transactions_add
from spending.models import AuthRuleBacktest, ProfileCategory, SpendingCategory, SpendingProfile
from spending.services import (
    backtest_record_request,
    profile_category_set,
    spending_profile_create,
)
from transactions.disputes import DisputeEventReport, DisputeReport, dispute_apply
from transactions.models import BalanceReport, Dispute, Transaction
from transactions.services import LithicBalance, balance_report_record

PASSWORD = "correct-horse-battery-staple-9"


def spending_category(
    mcc: str, description: str = "Eating places, restaurants"
) -> SpendingCategory:
    """The MCC catalogue is global reference data; one leaf row is enough for the tests."""
    category = SpendingCategory.objects.filter(mcc=mcc).first()
    if category is None:
        category = SpendingCategory(
            mcc=mcc,
            description=description,
            group="Miscellaneous stores",
            range_start=mcc,
            range_end=mcc,
        )
        category.full_clean()
        category.save()
    return category


@dataclass
class World:
    account: Account
    owner: User
    member: User
    product: CardProduct
    profile: SpendingProfile
    card: Card
    member_card: Card
    address: Address
    user_address: Address
    setting: AccountSetting
    category: SpendingCategory
    rule: ProfileCategory
    transactions: list[Transaction] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    balance_reports: list[BalanceReport] = field(default_factory=list)
    backtests: list[AuthRuleBacktest] = field(default_factory=list)

    def tokens(self) -> dict[str, str]:
        """Every public identifier of this world, by what it names."""
        found = {
            "account": str(self.account.token),
            "owner": str(self.owner.token),
            "member": str(self.member.token),
            "product": str(self.product.token),
            "profile": str(self.profile.token),
            "card": str(self.card.token),
            "member_card": str(self.member_card.token),
            "address": str(self.address.token),
            "user_address": str(self.user_address.token),
        }
        for index, txn in enumerate(self.transactions):
            found[f"transaction_{index}"] = str(txn.token)
        for index, dispute in enumerate(self.disputes):
            found[f"dispute_{index}"] = str(dispute.token)
        for index, backtest in enumerate(self.backtests):
            found[f"backtest_{index}"] = str(backtest.backtest_token)
        return found


def build_world(
    account: Account,
    *,
    slug: str,
    owner: User | None = None,
    member: User | None = None,
    transactions: int = 4,
    seed: int = 7,
) -> World:
    """Users, a profile with a category rule, a product, two cards, addresses, a setting and
    some transactions in `account`, all through the services."""
    with system_actor("test:fixtures"):
        owner = owner or user_create(
            email=f"owner@{slug}.test", account=account, role=Role.OWNER, password=PASSWORD
        )
        member = member or user_create(
            email=f"member@{slug}.test", account=account, role=Role.USER, password=PASSWORD
        )
        category = spending_category("5812")
        profile = spending_profile_create(
            account=account,
            name=f"{slug} travel",
            spend_limit=Decimal("900.00"),
            spend_limit_duration="MONTHLY",
        )
        rule = profile_category_set(
            profile=profile, category=category, rule=ProfileCategory.Rule.ALLOWED
        )
        product = card_product_create(
            account=account,
            name=f"{slug} travel card",
            card_type="VIRTUAL",
            default_spend_limit=Decimal("500.00"),
            default_profile=profile,
        )
        card = card_issue(account=account, product=product, cardholder=owner, memo="Ops")
        member_card = card_issue(account=account, product=product, cardholder=member)
        address = address_add(
            owner=account,
            address_type="billing",
            line1="1 Main St",
            city="Springfield",
            postal_code="12345",
            is_primary=True,
        )
        user_address = address_add(
            owner=member,
            address_type="shipping",
            line1="2 Side St",
            city="Shelbyville",
            postal_code="54321",
        )
        setting = account_setting_set(account=account, key="block_high_risk_mcc", value=False)
        if transactions:
            transactions_add(count=transactions, seed=seed, account_ids=[account.pk])
    txns = list(Transaction.objects.filter(account=account).order_by("id"))
    with system_actor("test:fixtures"):
        own = next((t for t in txns if t.card_id == member_card.pk), txns[0] if txns else None)
        disputes = [dispute_add(own)] if own is not None else []
        reports = balance_reports_add(account, 1)
        backtests = [backtest_add(profile)]
    return World(
        account=account,
        owner=owner,
        member=member,
        product=product,
        profile=profile,
        card=card,
        member_card=member_card,
        address=address,
        user_address=user_address,
        setting=setting,
        category=category,
        rule=rule,
        transactions=txns,
        disputes=disputes,
        balance_reports=reports,
        backtests=backtests,
    )


def dispute_add(txn: Transaction) -> Dispute:
    """A Managed Disputes case on `txn` as Lithic reports it, with a provisional credit."""
    now = timezone.now()
    return dispute_apply(
        DisputeReport(
            token=uuid.uuid4(),
            source=Dispute.Source.MANAGED,
            opened_at=now,
            updated_at=now,
            payload={},
            transaction_token=txn.token,
            case_id=f"CASE-{uuid.uuid4().hex[:8]}",
            status="OPEN",
            amount=txn.amount,
            remaining_amount=txn.amount,
            events=[
                DisputeEventReport(
                    token=uuid.uuid4(),
                    type="CARDHOLDER_LIABILITY",
                    created=now,
                    action="PROVISIONAL_CREDIT_GRANTED",
                    amount=Decimal("1.00"),
                )
            ],
        )
    )


def balance_reports_add(account: Account, count: int) -> list[BalanceReport]:
    """`count` balance reports of Lithic's financial account of `account`."""
    if account.lithic_financial_account_token is None:
        account.lithic_financial_account_token = uuid.uuid4()
        account.save(update_fields=["lithic_financial_account_token"])
    return [
        balance_report_record(
            balance=LithicBalance(
                financial_account_token=account.lithic_financial_account_token,
                financial_account_type="ISSUING",
                currency="USD",
                total=account.balance,
                pending=Decimal("0.00"),
                available=account.balance,
                reported_at=timezone.now(),
            )
        )
        for _ in range(count)
    ]


def backtest_add(profile: SpendingProfile) -> AuthRuleBacktest:
    now = timezone.now()
    return backtest_record_request(
        profile=profile,
        backtest_token=str(uuid.uuid4()),
        start=now - datetime.timedelta(days=30),
        end=now,
        requested_by="test:fixtures",
    )


API_PREFIX = "/api/"
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")
_PATH_CONVERTER = re.compile(r"<(?:\w+:)?(?P<name>\w+)>")


@dataclass(frozen=True)
class ApiRoute:
    template: str  # e.g. "/api/v1/cards/{token}/pause/"
    actions: dict  # method (lower case) -> viewset action
    view: type

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.template))

    def path(self, **values) -> str:
        return self.template.format(**values)


def api_routes() -> list[ApiRoute]:
    """Every viewset route under /api/v1/ (the router's and hand-routed ones, such as the
    caller's account), without the `.json` format-suffix duplicates."""
    from django.urls import URLPattern, URLResolver

    from config import api_urls

    found: list[ApiRoute] = []

    def walk(patterns, prefix: str):
        for entry in patterns:
            text = str(entry.pattern).lstrip("^").rstrip("$")
            text = _PATH_CONVERTER.sub(r"{\g<name>}", _REGEX_GROUP.sub(r"{\g<name>}", text))
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + text)
            elif isinstance(entry, URLPattern):
                actions = getattr(entry.callback, "actions", None)
                if not actions or "{format}" in text:
                    continue
                # DRF answers HEAD with the GET handler; it is not an operation of its own.
                actions = {m: a for m, a in actions.items() if m != "head"}
                found.append(ApiRoute(prefix + text, actions, entry.callback.cls))

    walk(api_urls.urlpatterns, API_PREFIX)
    return [r for r in found if r.template.startswith(f"{API_PREFIX}v1/")]
