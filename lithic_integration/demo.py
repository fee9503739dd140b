"""A realistic demo card program: accounts, people, profiles, cards and a year of transactions.

Business rows go through the services, so they are validated, encrypted and audited like any
other write. Transactions come from one row generator (`transaction_rows`) and are loaded in
bulk: PostgreSQL streams them through COPY, so memory stays flat at millions of rows; other
databases (the SQLite of `make run`) use `bulk_create` in batches.

Everything random is drawn from `random.Random(seed)`, so a seed gives the same program again.
The exceptions are external identifiers (Lithic card, account and transaction tokens), which are
`uuid4()` like the real ones: seeding twice into one database must not collide on them.
"""

from __future__ import annotations

import datetime
import itertools
import random
import re
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg import sql
from tqdm import tqdm

from accounts.models import Account, Address, Role, User
from accounts.selectors import account_setting_value
from accounts.services import account_create, account_setting_set, address_add, user_create
from cards.models import Card, CardState, CardType
from cards.services import card_issue, card_product_create
from lithic_integration.money import from_cents
from spending.models import (
    ProfileCategory,
    SpendingCategory,
    SpendingProfile,
    SpendLimitDuration,
)
from spending.services import mcc_catalogue_load, profile_category_set, spending_profile_create
from transactions import partitioning
from transactions.models import Transaction, TransactionStatus, TransactionType

# The order of the values in every generated row: the COPY column list and the bulk_create
# field names at once. `id` is left to the database.
TRANSACTION_COLUMNS = (
    "token",
    "account_id",
    "card_id",
    "amount",
    "settled_amount",
    "currency",
    "merchant_descriptor",
    "merchant_city",
    "merchant_country",
    "mcc",
    "type",
    "status",
    "result",
    "declined_reason",
    "transaction_date",
    "created_at",
    "updated_at",
    "deleted",
    "hold_amount",
    "refunded_amount",
    "profile_id",
    "counted",
    "decision",
)
STATUS_INDEX = TRANSACTION_COLUMNS.index("status")

COPY_CHUNK_ROWS = 50_000
BULK_CREATE_BATCH = 2_000

WINDOW_DAYS = 365
PENDING_DAYS = 7  # authorizations younger than this may not have cleared yet
PAUSED_DAYS = 21  # paused cards were paused this long ago: newer attempts are declined
CLOSED_DAYS = 60  # closed cards were closed this long ago: they have no newer activity

ROLES_IN_ORDER = (Role.OWNER, Role.ADMIN, Role.ANALYST, Role.USER)

# ----------------------------------------------------------------------------- reference data

COMPANIES = (
    "Northwind Logistics",
    "Bluebird Analytics",
    "Cedar & Pine Architects",
    "Helios Solar Systems",
    "Lakeside Dental Group",
    "Quarry Hill Construction",
    "Brightline Media",
    "Orchard Street Bakery Co",
    "Summit Outdoor Supply",
    "Tidewater Marine Services",
    "Ironwood Software",
    "Harbor View Hospitality",
)
FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Mateo", "Isabella", "Lucas",
    "Mia", "Ethan", "Amelia", "James", "Harper", "Benjamin", "Evelyn", "Henry", "Priya", "Arjun",
    "Mei", "Wei", "Fatima", "Omar", "Chiara", "Luca", "Ingrid", "Lars", "Aisha", "Kwame",
    "Sofia", "Diego", "Hana", "Kenji", "Zoe", "Samuel", "Nora", "Gabriel", "Leah", "Daniel",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Clark", "Lewis", "Patel", "Nguyen", "Kim",
    "Chen", "Singh", "Okafor", "Rossi", "Novak", "Larsen", "Haddad", "Tanaka", "Silva", "Cohen",
)  # fmt: skip
STREETS = (
    "Market Street", "Main Street", "Oak Avenue", "Maple Drive", "Harbor Boulevard",
    "Cedar Lane", "Mission Street", "Elm Street", "Lakeshore Drive", "Park Avenue",
    "Sunset Boulevard", "Washington Avenue", "Pine Street", "Commerce Way", "River Road",
)  # fmt: skip
# (city, region, postal code prefix, area code)
US_CITIES = (
    ("San Francisco", "CA", "941", "415"),
    ("Oakland", "CA", "946", "510"),
    ("Los Angeles", "CA", "900", "213"),
    ("Seattle", "WA", "981", "206"),
    ("Portland", "OR", "972", "503"),
    ("Austin", "TX", "787", "512"),
    ("Denver", "CO", "802", "303"),
    ("Chicago", "IL", "606", "312"),
    ("New York", "NY", "100", "212"),
    ("Brooklyn", "NY", "112", "718"),
    ("Boston", "MA", "021", "617"),
    ("Atlanta", "GA", "303", "404"),
    ("Miami", "FL", "331", "305"),
)
LINE2_CHOICES = ("Suite 100", "Suite 210", "Floor 3", "Unit 4B", "Apt 12", "#502")
SETTING_TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")

AIRLINE_MCCS = ("4511", "3000", "3009", "3058")
LODGING_MCCS = ("7011", "3504", "3509", "3640")
CAR_RENTAL_MCCS = ("7512", "3357", "3389")
GROUND_MCCS = ("4111", "4112", "4121", "4131", "7523", "4722")
MEAL_MCCS = ("5812", "5814")
SOFTWARE_MCCS = ("5734", "5817", "5818", "7372", "4816")


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    description: str
    spend_limit: Decimal
    spend_limit_duration: str
    allowed: tuple[str, ...] = ()
    blocked_risk_reasons: tuple[str, ...] = ()


TRAVEL = ProfileSpec(
    "Travel",
    "Flights, hotels, car rental, ground transport and meals on the road.",
    Decimal("7500.00"),
    SpendLimitDuration.MONTHLY,
    allowed=AIRLINE_MCCS + LODGING_MCCS + CAR_RENTAL_MCCS + GROUND_MCCS + MEAL_MCCS,
)
NO_GAMBLING = ProfileSpec(
    "No gambling",
    "Everything except betting, lotteries and casinos.",
    Decimal("2500.00"),
    SpendLimitDuration.TRANSACTION,
    blocked_risk_reasons=(SpendingCategory.RiskReason.GAMBLING,),
)
SOFTWARE = ProfileSpec(
    "Software and SaaS",
    "Subscriptions, cloud services and software licences only.",
    Decimal("3000.00"),
    SpendLimitDuration.MONTHLY,
    allowed=SOFTWARE_MCCS,
)


@dataclass(frozen=True)
class Merchant:
    descriptor: str
    mcc: str
    places: tuple[tuple[str, str], ...]  # (city, ISO 3166 alpha-2 country)
    min_cents: int
    max_cents: int
    weight: int
    prices: tuple[int, ...] = ()  # subscriptions charge list prices, not arbitrary amounts
    refundable: bool = False

    def amount_cents(self, rng: random.Random) -> int:
        if self.prices:
            return rng.choice(self.prices)
        # The smaller of two uniform draws: most purchases are small, a few are large.
        span = self.max_cents - self.min_cents + 1
        return self.min_cents + min(rng.randrange(span), rng.randrange(span))


_US_HUBS = (("New York", "US"), ("Chicago", "US"), ("San Francisco", "US"), ("Austin", "US"))
_EVERYWHERE = _US_HUBS + (("Seattle", "US"), ("Boston", "US"), ("Denver", "US"), ("Miami", "US"))
_ONLINE_US = (("Seattle", "US"),)

MERCHANTS = (
    # Travel
    Merchant("UNITED 0162338123456", "3000", (("Chicago", "US"), ("Houston", "US")), 8900, 145000, 14, refundable=True),  # noqa: E501
    Merchant("DELTA AIR 0062377741120", "3058", (("Atlanta", "US"), ("New York", "US")), 9900, 128000, 12, refundable=True),  # noqa: E501
    Merchant("AIR CANADA 0142189", "3009", (("Toronto", "CA"), ("Montreal", "CA")), 14900, 98000, 4, refundable=True),  # noqa: E501
    Merchant("SOUTHWEST 5262185550", "4511", (("Dallas", "US"), ("Denver", "US")), 5900, 62000, 10, refundable=True),  # noqa: E501
    Merchant("MARRIOTT HOTELS", "3509", _US_HUBS + (("London", "GB"),), 14900, 92000, 10, refundable=True),  # noqa: E501
    Merchant("HILTON HOTELS", "3504", _US_HUBS + (("Toronto", "CA"),), 12900, 84000, 9, refundable=True),  # noqa: E501
    Merchant("HYATT REGENCY", "3640", _US_HUBS, 16900, 99000, 6, refundable=True),
    Merchant("AIRBNB * HMQX4T2", "7011", (("Lisbon", "PT"), ("Denver", "US"), ("Austin", "US")), 18000, 240000, 5, refundable=True),  # noqa: E501
    Merchant("HERTZ RENT-A-CAR", "3357", _US_HUBS, 6900, 85000, 5, refundable=True),
    Merchant("AVIS RENT A CAR", "3389", _US_HUBS, 5900, 78000, 4, refundable=True),
    Merchant("UBER *TRIP", "4121", _EVERYWHERE, 800, 9500, 60),
    Merchant("LYFT *RIDE", "4121", _EVERYWHERE, 700, 8200, 35),
    Merchant("AMTRAK TICKETS", "4112", (("Washington", "US"), ("New York", "US")), 2900, 32000, 6, refundable=True),  # noqa: E501
    Merchant("MTA*NYCT PAYGO", "4111", (("New York", "US"),), 290, 290, 10),
    Merchant("EXPEDIA 7283412551", "4722", _ONLINE_US, 9900, 180000, 5, refundable=True),
    Merchant("SP+ PARKING", "7523", _US_HUBS, 600, 6500, 14),
    # Meals
    Merchant("SQ *BLUE BOTTLE COFFEE", "5814", (("San Francisco", "US"), ("Oakland", "US")), 450, 2400, 40),  # noqa: E501
    Merchant("STARBUCKS STORE 08321", "5814", _EVERYWHERE, 395, 2600, 55),
    Merchant("CHIPOTLE 1123", "5814", _EVERYWHERE, 950, 6500, 30),
    Merchant("SWEETGREEN", "5814", _US_HUBS, 1150, 9800, 22),
    Merchant("THE CAPITAL GRILLE", "5812", _US_HUBS, 6500, 78000, 8),
    Merchant("DOORDASH*ORDER", "5812", _EVERYWHERE, 1800, 24000, 26),
    # Software and cloud
    Merchant("AMAZON WEB SERVICES", "7372", _ONLINE_US, 1200, 980000, 18),
    Merchant("GOOGLE *CLOUD 4Q2W7", "7372", (("Mountain View", "US"),), 900, 450000, 10),
    Merchant("GITHUB, INC.", "7372", (("San Francisco", "US"),), 0, 0, 14, prices=(400, 2100, 4400, 21000)),  # noqa: E501
    Merchant("SLACK T04A7QK2", "7372", (("San Francisco", "US"),), 0, 0, 14, prices=(875, 1500, 87500)),  # noqa: E501
    Merchant("ATLASSIAN", "7372", (("Sydney", "AU"),), 0, 0, 10, prices=(775, 1525, 81900)),
    Merchant("ZOOM.US 888-799-9666", "4816", (("San Jose", "US"),), 0, 0, 12, prices=(1499, 2199, 14990)),  # noqa: E501
    Merchant("ADOBE *CREATIVE CLD", "5734", (("San Jose", "US"),), 0, 0, 10, prices=(2299, 5999, 8999)),  # noqa: E501
    Merchant("MICROSOFT*365 BUSINESS", "5734", (("Redmond", "US"),), 0, 0, 10, prices=(600, 1250, 2200)),  # noqa: E501
    Merchant("OPENAI *CHATGPT SUBSCR", "5818", (("San Francisco", "US"),), 0, 0, 8, prices=(2000, 3000, 20000)),  # noqa: E501
    Merchant("FIGMA", "5817", (("San Francisco", "US"),), 0, 0, 6, prices=(1500, 4500, 7500)),
    # Office, equipment, shipping, telecom
    Merchant("AMZN Mktp US", "5999", _ONLINE_US, 699, 64000, 40, refundable=True),
    Merchant("STAPLES 00112", "5943", _EVERYWHERE, 1200, 42000, 12, refundable=True),
    Merchant("BEST BUY 00012", "5732", _EVERYWHERE, 2500, 240000, 6, refundable=True),
    Merchant("APPLE.COM/US", "5732", (("Cupertino", "US"),), 9900, 349900, 5, refundable=True),
    Merchant("DELL MARKETING L.P.", "5045", (("Round Rock", "US"),), 45000, 320000, 3, refundable=True),  # noqa: E501
    Merchant("FEDEX 7738291", "4215", _EVERYWHERE, 900, 18000, 16),
    Merchant("UPS*1Z999AA10123", "4215", _EVERYWHERE, 1100, 16000, 12),
    Merchant("VERIZON WRLS P2301", "4814", (("Basking Ridge", "US"),), 4500, 36000, 8),
    Merchant("COMCAST BUSINESS", "4816", (("Philadelphia", "US"),), 8900, 32000, 5),
    # Fuel, advertising, services
    Merchant("SHELL OIL 57442180", "5541", _EVERYWHERE, 2500, 12000, 12),
    Merchant("CHEVRON 0098213", "5542", _EVERYWHERE, 2500, 11000, 10),
    Merchant("FACEBK *ADS 9QK2", "7311", (("Menlo Park", "US"),), 5000, 600000, 10),
    Merchant("GOOGLE *ADS7731029", "7311", (("Mountain View", "US"),), 5000, 800000, 10),
    Merchant("LINKEDIN MARKETING", "7311", (("Sunnyvale", "US"),), 10000, 500000, 4),
    Merchant("WEWORK 0423", "7399", _US_HUBS + (("London", "GB"),), 2900, 180000, 5),
    Merchant("FIVERR", "7399", (("Tel Aviv", "IL"),), 1500, 95000, 4),
    Merchant("EVENTBRITE", "7399", _ONLINE_US, 2500, 150000, 4, refundable=True),
    # Rare: what spending profiles and high-risk rules exist to stop
    Merchant("DRAFTKINGS", "7995", (("Boston", "US"),), 1000, 50000, 2),
    Merchant("NJ LOTTERY ONLINE", "7800", (("Trenton", "US"),), 200, 10000, 1),
    Merchant("COINBASE", "6051", (("San Francisco", "US"),), 5000, 250000, 1),
)  # fmt: skip

# Results as the ASA responder gives them, with the reason an operator reads.
OTHER_DECLINES = (
    ("INSUFFICIENT_FUNDS", "Insufficient funds in the program account", 4),
    ("VELOCITY_EXCEEDED", "Card spend limit reached for the period", 4),
    ("SUSPECTED_FRAUD", "Declined by fraud rules: unusual merchant and amount for this card", 2),
)
_OTHER_DECLINE_CUM = list(itertools.accumulate(weight for _, _, weight in OTHER_DECLINES))
RANDOM_DECLINE_RATE = 0.03
PENDING_RATE = 0.7
VOID_RATE = 0.015
EXPIRY_RATE = 0.004
REFUND_RATE = 0.015
TIP_RATE = 0.5
SINGLE_MESSAGE_MCCS = frozenset({"5541", "5542", "7523"})  # unattended terminals: no clearing
TIPPED_MCCS = frozenset({"5812"})
DECLINED = TransactionStatus.DECLINED

# Spend happens in office hours, UTC-ish for a US program: weight per hour of the day.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 11, 10, 10, 9, 9, 9, 8, 7, 6, 4, 2, 1)
_HOUR_CUM = list(itertools.accumulate(_HOUR_WEIGHTS))


# ------------------------------------------------------------------------------------ results


@dataclass
class SeedSummary:
    accounts: int = 0
    users: int = 0
    addresses: int = 0
    settings: int = 0
    profiles: int = 0
    profile_rules: int = 0
    card_products: int = 0
    cards: Counter = field(default_factory=Counter)  # by state
    transactions: Counter = field(default_factory=Counter)  # by status
    transaction_cards: int = 0
    mcc_loaded: int = 0
    window: tuple[datetime.datetime, datetime.datetime] | None = None


@dataclass(frozen=True)
class CardSpend:
    """What the row generator needs to know about one card."""

    card_id: int
    account_id: int
    currency: str
    state: str
    profile_name: str = ""
    allowed_mccs: frozenset[str] = frozenset()  # non-empty: the profile is an allow-list
    blocked_mccs: frozenset[str] = frozenset()
    high_risk_mccs: frozenset[str] = frozenset()  # empty unless the account blocks high risk

    def refusal(self, mcc: str) -> str:
        """Why the card's rules refuse this MCC, or "" if they do not."""
        if mcc in self.high_risk_mccs:
            return (
                f"Merchant category {mcc} is high-risk and the account blocks high-risk merchants"
            )
        if self.allowed_mccs and mcc not in self.allowed_mccs:
            return (
                f"Merchant category {mcc} is not allowed by spending profile '{self.profile_name}'"
            )
        if mcc in self.blocked_mccs:
            return f"Merchant category {mcc} is blocked by spending profile '{self.profile_name}'"
        return ""


# ------------------------------------------------------------------------ the demo program


def transaction_rng(seed: int) -> random.Random:
    """The random stream of the transaction rows, apart from the program's own stream."""
    return random.Random(f"transactions:{seed}")  # noqa: S311 - demo data, not security


def program_rng(seed: int) -> random.Random:
    return random.Random(f"program:{seed}")  # noqa: S311 - demo data, not security


ZERO = Decimal("0.00")


def _cents(value: int) -> Decimal:
    # The demo draws amounts as Lithic reports them, in cents.
    return from_cents(value, "demo amount")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _email_domain(company: str) -> str:
    # A second program seeded into the same database gets its own domain, not clashing emails.
    base = _slug(company)
    domain, attempt = f"{base}.example", 1
    while User.all_objects.filter(email__iendswith=f"@{domain}").exists():
        attempt += 1
        domain = f"{base}-{attempt}.example"
    return domain


def _address_values(rng: random.Random, *, with_line2: bool) -> dict:
    city, region, zip_prefix, _ = rng.choice(US_CITIES)
    return {
        "line1": f"{rng.randint(1, 4999)} {rng.choice(STREETS)}",
        "line2": rng.choice(LINE2_CHOICES) if with_line2 else "",
        "city": city,
        "region": region,
        "postal_code": f"{zip_prefix}{rng.randint(0, 99):02d}",
        "country": "US",
    }


def _profiles_for_account(rng: random.Random) -> list[ProfileSpec]:
    profiles = [TRAVEL, NO_GAMBLING]
    if rng.random() < 0.6:
        profiles.append(SOFTWARE)
    return profiles


def _create_profiles(
    account: Account, specs: Sequence[ProfileSpec], categories: dict, summary: SeedSummary
) -> dict[str, SpendingProfile]:
    profiles = {}
    for spec in specs:
        profile = spending_profile_create(
            account=account,
            name=spec.name,
            description=spec.description,
            spend_limit=spec.spend_limit,
            spend_limit_duration=spec.spend_limit_duration,
        )
        rules = [(mcc, ProfileCategory.Rule.ALLOWED) for mcc in spec.allowed]
        rules += [
            (category.mcc, ProfileCategory.Rule.BLOCKED)
            for category in categories.values()
            if category.risk_reason in spec.blocked_risk_reasons
        ]
        for mcc, rule in rules:
            profile_category_set(profile=profile, category=categories[mcc], rule=rule)
        summary.profiles += 1
        summary.profile_rules += len(rules)
        profiles[spec.name] = profile
    return profiles


def _card_state(rng: random.Random, card_type: str, *, first: bool) -> str:
    if first:
        return CardState.OPEN  # every account has at least one card in use
    states: tuple[tuple[str, int], ...]
    if card_type == CardType.PHYSICAL:
        states = (
            (CardState.OPEN, 68),
            (CardState.PAUSED, 8),
            (CardState.CLOSED, 8),
            (CardState.PENDING_FULFILLMENT, 8),
            (CardState.PENDING_ACTIVATION, 8),
        )
    else:
        states = ((CardState.OPEN, 78), (CardState.PAUSED, 11), (CardState.CLOSED, 11))
    return rng.choices([s for s, _ in states], weights=[w for _, w in states])[0]


VIRTUAL_MEMOS = (
    "Software subscriptions",
    "Cloud infrastructure",
    "Marketing tools",
    "Office supplies",
    "Team lunches",
    "Recruiting",
    "Conference tickets",
)
PHYSICAL_MEMOS = ("Travel", "Sales travel", "Field operations", "Client dinners", "")


def _account_create_full(
    rng: random.Random,
    *,
    company: str,
    users_per_account: int,
    cards_per_account: int,
    categories: dict,
    summary: SeedSummary,
) -> Account:
    account = account_create(
        name=company,
        balance=_cents(rng.randrange(500_000, 25_000_000)),
        tax_id=f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}",
        lithic_account_token=uuid.uuid4(),
    )
    summary.accounts += 1
    address_add(
        owner=account,
        address_type=Address.Type.BUSINESS,
        is_primary=True,
        **_address_values(rng, with_line2=True),
    )
    address_add(
        owner=account,
        address_type=Address.Type.BILLING,
        is_primary=True,
        **_address_values(rng, with_line2=rng.random() < 0.5),
    )
    summary.addresses += 2

    settings = {
        "block_high_risk_mcc": rng.random() < 0.8,
        "default_card_spend_limit": str(_cents(rng.choice((50_000, 100_000, 250_000)))),
        "statement_day": rng.choice((1, 1, 15, 25)),
        "timezone": rng.choice(SETTING_TIMEZONES),
    }
    for key, value in settings.items():
        account_setting_set(account=account, key=key, value=value)
    summary.settings += len(settings)

    domain = _email_domain(company)
    used_locals: set[str] = set()
    users = []
    for index in range(users_per_account):
        role = (
            ROLES_IN_ORDER[index]
            if index < len(ROLES_IN_ORDER)
            else rng.choice((Role.USER, Role.USER, Role.USER, Role.ADMIN, Role.ANALYST))
        )
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        for n in itertools.count(2):
            if local not in used_locals:
                break
            local = f"{first}.{last}{n}".lower()
        used_locals.add(local)
        _, _, _, area_code = rng.choice(US_CITIES)
        user = user_create(
            email=f"{local}@{domain}",
            account=account,
            role=role,
            first_name=first,
            last_name=last,
            # 555-0100 to 555-0199 are reserved for fiction: never a real person's number.
            phone=f"+1 {area_code} 555 {rng.randint(100, 199):04d}",
            date_of_birth=datetime.date(1960, 1, 1) + datetime.timedelta(rng.randrange(16_000)),
        )
        address_add(
            owner=user,
            address_type=Address.Type.SHIPPING,
            is_primary=True,
            **_address_values(rng, with_line2=rng.random() < 0.3),
        )
        users.append(user)
    summary.users += len(users)
    summary.addresses += len(users)

    profiles = _create_profiles(account, _profiles_for_account(rng), categories, summary)
    virtual = card_product_create(
        account=account,
        name="Virtual team card",
        card_type=CardType.VIRTUAL,
        default_spend_limit=_cents(100_000),
        default_spend_limit_duration=SpendLimitDuration.MONTHLY,
        default_profile=profiles[NO_GAMBLING.name],
        description="Online purchases and subscriptions.",
    )
    physical = card_product_create(
        account=account,
        name="Travel card",
        card_type=CardType.PHYSICAL,
        default_spend_limit=_cents(750_000),
        default_spend_limit_duration=SpendLimitDuration.MONTHLY,
        default_profile=profiles[TRAVEL.name],
        description="Physical card for employees who travel.",
    )
    summary.card_products += 2

    # Analysts read reports; cards go to people who buy things.
    cardholders = [u for u in users if u.role != Role.ANALYST]
    for index in range(cards_per_account):
        product = virtual if index == 0 or rng.random() < 0.6 else physical
        memos = VIRTUAL_MEMOS if product is virtual else PHYSICAL_MEMOS
        memo = rng.choice(memos)
        profile = None
        if memo in ("Software subscriptions", "Cloud infrastructure") and SOFTWARE.name in profiles:
            profile = profiles[SOFTWARE.name]
        state = _card_state(rng, product.card_type, first=index == 0)
        card = card_issue(
            account=account,
            product=product,
            cardholder=rng.choice(cardholders) if rng.random() < 0.85 else None,
            memo=memo,
            profile=profile,
            spend_limit=_cents(rng.choice((25_000, 50_000, 100_000, 200_000)))
            if rng.random() < 0.3
            else None,
            lithic_card_token=uuid.uuid4(),
            last_four=f"{rng.randrange(10_000):04d}",
            state=state,
        )
        summary.cards[card.state] += 1
    return account


def program_create(
    *,
    accounts: int,
    users_per_account: int,
    cards_per_account: int,
    rng: random.Random,
    summary: SeedSummary,
    progress: bool = False,
) -> list[Account]:
    """Create accounts with their users, addresses, settings, profiles, products and cards."""
    wanted = {mcc for spec in (TRAVEL, SOFTWARE) for mcc in spec.allowed}
    categories = {
        c.mcc: c
        for c in SpendingCategory.objects.filter(
            Q(mcc__in=wanted) | Q(risk_reason__in=NO_GAMBLING.blocked_risk_reasons)
        )
    }
    missing = wanted - categories.keys()
    if missing:
        raise ValueError(f"MCC catalogue lacks {', '.join(sorted(missing))}: run load_mcc")

    names = rng.sample(COMPANIES, min(accounts, len(COMPANIES)))
    names += [f"{rng.choice(COMPANIES)} {n}" for n in range(2, accounts - len(names) + 2)]
    bar = tqdm(names, desc="accounts", unit="account", file=sys.stderr, disable=not progress)
    return [
        _account_create_full(
            rng,
            company=company,
            users_per_account=users_per_account,
            cards_per_account=cards_per_account,
            categories=categories,
            summary=summary,
        )
        for company in bar
    ]


# ------------------------------------------------------------------------------- transactions


def card_spends(*, account_ids: Iterable[int] | None = None) -> list[CardSpend]:
    """Live cards that can have transactions, with the rules that decline them, in id order."""
    live = (
        Card.objects.filter(state__in=(CardState.OPEN, CardState.PAUSED, CardState.CLOSED))
        .select_related("account", "profile")
        .order_by("id")
    )
    if account_ids is not None:
        live = live.filter(account_id__in=list(account_ids))
    cards = list(live)

    rules: dict[int, dict[str, set[str]]] = {}
    profile_rules = ProfileCategory.objects.filter(
        profile_id__in={c.profile_id for c in cards if c.profile_id}
    ).values_list("profile_id", "category__mcc", "rule")
    for profile_id, mcc, rule in profile_rules:
        rules.setdefault(profile_id, {}).setdefault(rule, set()).add(mcc)

    high_risk = frozenset(
        SpendingCategory.objects.filter(is_high_risk=True).values_list("mcc", flat=True)
    )
    blocks_high_risk = {
        account.pk: account_setting_value(account=account, key="block_high_risk_mcc")
        for account in {c.account for c in cards}
    }

    spends = []
    for card in cards:
        card_rules = rules.get(card.profile_id, {}) if card.profile_id else {}
        spends.append(
            CardSpend(
                card_id=card.pk,
                account_id=card.account_id,
                currency=card.account.currency,
                state=card.state,
                profile_name=card.profile.name if card.profile else "",
                allowed_mccs=frozenset(card_rules.get(ProfileCategory.Rule.ALLOWED, ())),
                blocked_mccs=frozenset(card_rules.get(ProfileCategory.Rule.BLOCKED, ())),
                high_risk_mccs=high_risk if blocks_high_risk[card.account_id] else frozenset(),
            )
        )
    return spends


class _MerchantPicker:
    """Weighted merchant choice for one kind of card, built once per distinct allow-list."""

    def __init__(self, merchants: Sequence[Merchant]):
        self.merchants = list(merchants)
        self.cum_weights = list(itertools.accumulate(m.weight for m in self.merchants))

    def pick(self, rng: random.Random) -> Merchant:
        return rng.choices(self.merchants, cum_weights=self.cum_weights)[0]


def transaction_rows(
    *,
    cards: Sequence[CardSpend],
    count: int,
    rng: random.Random,
    now: datetime.datetime,
) -> Iterator[tuple]:
    """Yield `count` transaction rows (values in TRANSACTION_COLUMNS order) over the last year.

    A generator on purpose: the loaders stream it, so a million rows never sit in memory.
    """
    if count <= 0:
        return
    if not cards:
        raise ValueError("no cards to put transactions on")
    everyone = _MerchantPicker(MERCHANTS)
    pickers: dict[frozenset[str], _MerchantPicker] = {}
    for card in cards:
        if card.allowed_mccs and card.allowed_mccs not in pickers:
            fitting = [m for m in MERCHANTS if m.mcc in card.allowed_mccs]
            pickers[card.allowed_mccs] = _MerchantPicker(fitting) if fitting else everyone
    # Some cards are used every day, some once a month.
    card_weights = [
        rng.randint(2, 12)
        if c.state == CardState.OPEN
        else (3 if c.state == CardState.PAUSED else 2)
        for c in cards
    ]
    card_cum = list(itertools.accumulate(card_weights))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day = datetime.timedelta(days=1)
    hours = range(24)

    for _ in range(count):
        card = rng.choices(cards, cum_weights=card_cum)[0]
        picker = pickers.get(card.allowed_mccs, everyone)
        # A card on an allow-list is mostly used where it works; the rest are declines.
        merchant = picker.pick(rng) if rng.random() < 0.95 else everyone.pick(rng)
        city, country = rng.choice(merchant.places)

        if card.state == CardState.CLOSED:
            age_days = rng.randrange(CLOSED_DAYS, WINDOW_DAYS)
        else:
            age_days = rng.randrange(WINDOW_DAYS)
        hour = rng.choices(hours, cum_weights=_HOUR_CUM)[0]
        when = (
            midnight
            - age_days * day
            + datetime.timedelta(
                seconds=hour * 3600 + rng.randrange(3600), microseconds=rng.randrange(1_000_000)
            )
        )
        if when > now:
            when -= day

        cents = merchant.amount_cents(rng)
        settled_cents = 0
        result, declined_reason = "APPROVED", ""
        if merchant.refundable and rng.random() < REFUND_RATE:
            # A refund from the merchant: credits are not subject to spending rules.
            kind = TransactionType.CREDIT_AUTHORIZATION
            status, settled_cents = TransactionStatus.SETTLED, cents
        else:
            kind = (
                TransactionType.FINANCIAL_AUTHORIZATION
                if merchant.mcc in SINGLE_MESSAGE_MCCS
                else TransactionType.AUTHORIZATION
            )
            refusal = card.refusal(merchant.mcc)
            if card.state == CardState.PAUSED and age_days < PAUSED_DAYS:
                status, result, declined_reason = DECLINED, "CARD_PAUSED", "Card is paused"
            elif refusal:
                status, result, declined_reason = DECLINED, "UNAUTHORIZED_MERCHANT", refusal
            elif rng.random() < RANDOM_DECLINE_RATE:
                status = DECLINED
                result, declined_reason, _ = rng.choices(
                    OTHER_DECLINES, cum_weights=_OTHER_DECLINE_CUM
                )[0]
            elif age_days < PENDING_DAYS and rng.random() < PENDING_RATE:
                status = TransactionStatus.PENDING
            elif rng.random() < VOID_RATE:
                status = TransactionStatus.VOIDED
            elif age_days > 30 and rng.random() < EXPIRY_RATE:
                status = TransactionStatus.EXPIRED
            else:
                status, settled_cents = TransactionStatus.SETTLED, cents
                if merchant.mcc in TIPPED_MCCS and rng.random() < TIP_RATE:
                    # Restaurants authorize the bill and clear it with the tip added.
                    settled_cents += cents * rng.randint(15, 22) // 100

        yield (
            uuid.uuid4(),
            card.account_id,
            card.card_id,
            _cents(cents),
            _cents(settled_cents),
            card.currency,
            merchant.descriptor,
            city,
            country,
            merchant.mcc,
            kind.value,
            status.value,
            result,
            declined_reason,
            when,
            now,
            now,
            None,
            # Demo history predates the ledger: no open holds and nothing in the spend counters,
            # so `check_ledger` holds on a seeded database.
            ZERO,
            ZERO,
            None,
            False,
            None,
        )


def csv_field(value) -> str:
    """One value as a field of PostgreSQL's CSV format (the loaders' and the benchmark's)."""
    # Strings are always quoted: in PostgreSQL's CSV format an unquoted empty field is NULL,
    # and blank merchant fields and reasons must stay empty strings.
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return str(value)


def csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    """Each row as one line of PostgreSQL's CSV format, newline included."""
    for row in rows:
        yield ",".join(map(csv_field, row)) + "\n"


def _csv_chunk(rows: Iterator[tuple]) -> tuple[bytes, int]:
    """The next COPY_CHUNK_ROWS rows (fewer at the end) as CSV, and how many there are."""
    lines = list(csv_lines(itertools.islice(rows, COPY_CHUNK_ROWS)))
    return "".join(lines).encode(), len(lines)


def _copy_rows(rows: Iterator[tuple], on_rows: Callable[[int], object]) -> None:
    """COPY each chunk into a temporary table, then INSERT ... SELECT it into `transactions`.

    PostgreSQL refuses COPY FROM into a table under row-level security; a temporary table has
    none, and the INSERT then passes the policy's check like any other write (core.tenancy).
    A worker thread makes the next chunk while the server inserts this one (the waiting on the
    server releases the GIL), so generation costs time only where the server would be idle.
    A chunk in flight is a few megabytes of CSV, whatever the number of rows.
    """
    connection.ensure_connection()
    raw = connection.connection
    table = sql.Identifier(Transaction._meta.db_table)
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in TRANSACTION_COLUMNS)
    staging = sql.Identifier("demo_transactions_staging")
    with connection.cursor() as cursor:
        # Through Django's cursor: it carries the tenant context into the transaction.
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {} ON COMMIT DROP AS "
                "SELECT {} FROM {} WITH NO DATA"
            )
            .format(staging, columns, table)
            .as_string(raw)
        )
    copy_statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(staging, columns)
    move_statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}; TRUNCATE {}").format(
        table, columns, columns, staging, staging
    )
    # One COPY per chunk keeps each statement bounded and lets progress advance between them;
    # all of them run inside the caller's transaction. The worker is the only reader of `rows`.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-rows") as worker:
        upcoming = worker.submit(_csv_chunk, rows)
        with raw.cursor() as cursor:
            while True:
                data, count = upcoming.result()
                if not count:
                    return
                upcoming = worker.submit(_csv_chunk, rows)
                with cursor.copy(copy_statement) as copy:
                    copy.write(data)
                cursor.execute(move_statement)
                on_rows(count)


def _bulk_create_rows(rows: Iterator[tuple], on_rows: Callable[[int], object]) -> None:
    while True:
        batch = [
            Transaction(**dict(zip(TRANSACTION_COLUMNS, row, strict=True)))
            for row in itertools.islice(rows, BULK_CREATE_BATCH)
        ]
        if not batch:
            return
        Transaction.objects.bulk_create(batch)
        on_rows(len(batch))


def transactions_load(rows: Iterable[tuple], *, total: int, progress: bool = False) -> Counter:
    """Insert generated rows (COPY on PostgreSQL, bulk_create elsewhere); counts by status."""
    statuses: Counter = Counter()

    def counted(source: Iterable[tuple]) -> Iterator[tuple]:
        for row in source:
            statuses[row[STATUS_INDEX]] += 1
            yield row

    with (
        tqdm(
            total=total, desc="transactions", unit="txn", file=sys.stderr, disable=not progress
        ) as bar,
        transaction.atomic(),
    ):
        loader = _copy_rows if connection.vendor == "postgresql" else _bulk_create_rows
        loader(counted(rows), bar.update)
    return statuses


def transactions_add(
    *,
    count: int,
    seed: int,
    progress: bool = False,
    account_ids: Iterable[int] | None = None,
    summary: SeedSummary | None = None,
) -> SeedSummary:
    """Add `count` transactions spread over the last year across the existing cards."""
    summary = summary or SeedSummary()
    cards = card_spends(account_ids=account_ids)
    if count > 0 and not cards:
        raise ValueError("there are no open, paused or closed cards to add transactions to")
    now = timezone.now()
    if count > 0 and connection.vendor == "postgresql":
        # Each month of the window in its own partition, not the default one.
        with connection.cursor() as cursor:
            partitioning.ensure_partitions(
                cursor,
                now - datetime.timedelta(days=WINDOW_DAYS),
                now,
                months_ahead=partitioning.MONTHS_AHEAD,
            )
    rows = transaction_rows(cards=cards, count=count, rng=transaction_rng(seed), now=now)
    summary.transactions += transactions_load(rows, total=count, progress=progress)
    summary.transaction_cards = len(cards)
    summary.window = (now - datetime.timedelta(days=WINDOW_DAYS), now)
    return summary


@transaction.atomic
def demo_seed(
    *,
    accounts: int,
    users_per_account: int,
    cards_per_account: int,
    transactions: int,
    seed: int,
    progress: bool = False,
) -> SeedSummary:
    """Build a whole demo program in one transaction: all of it or nothing."""
    summary = SeedSummary()
    if not SpendingCategory.all_objects.exists():
        summary.mcc_loaded = mcc_catalogue_load()["created"]
    accounts_created = program_create(
        accounts=accounts,
        users_per_account=users_per_account,
        cards_per_account=cards_per_account,
        rng=program_rng(seed),
        summary=summary,
        progress=progress,
    )
    return transactions_add(
        count=transactions,
        seed=seed,
        progress=progress,
        account_ids=[account.pk for account in accounts_created],
        summary=summary,
    )
