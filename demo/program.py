"""The demo card program: accounts, people, addresses, settings, profiles, products and cards.

Every row goes through the services (`account_create`, `user_create`, `card_issue` ...), so it is
validated, encrypted and audited like any other write, and its history names the command that
made it. Everything random is drawn from `program_rng(seed)`, so a seed gives the same program
again; external identifiers (Lithic card and account tokens) are `uuid4()` like the real ones,
so that seeding twice into one database does not collide on them.
"""

from __future__ import annotations

import datetime
import itertools
import random
import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from tqdm import tqdm

from accounts.models import Account, Address, Role, User
from accounts.services import account_create, account_setting_set, address_add, user_create
from cards.models import CardState, CardType
from cards.services import card_issue, card_product_create
from demo.merchants import (
    AIRLINE_MCCS,
    CAR_RENTAL_MCCS,
    GROUND_MCCS,
    LODGING_MCCS,
    MEAL_MCCS,
    SOFTWARE_MCCS,
    cents,
)
from demo.summary import SeedSummary
from spending.models import (
    ProfileCategory,
    SpendingCategory,
    SpendingProfile,
    SpendLimitDuration,
)
from spending.services import profile_category_set, spending_profile_create

ROLES_IN_ORDER = (Role.OWNER, Role.ADMIN, Role.ANALYST, Role.USER)

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


def program_rng(seed: int) -> random.Random:
    return random.Random(f"program:{seed}")  # noqa: S311 - demo data, not security


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
        balance=cents(rng.randrange(500_000, 25_000_000)),
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
        "default_card_spend_limit": str(cents(rng.choice((50_000, 100_000, 250_000)))),
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
        default_spend_limit=cents(100_000),
        default_spend_limit_duration=SpendLimitDuration.MONTHLY,
        default_profile=profiles[NO_GAMBLING.name],
        description="Online purchases and subscriptions.",
    )
    physical = card_product_create(
        account=account,
        name="Travel card",
        card_type=CardType.PHYSICAL,
        default_spend_limit=cents(750_000),
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
            spend_limit=cents(rng.choice((25_000, 50_000, 100_000, 200_000)))
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
