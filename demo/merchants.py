"""Merchants and merchant categories of the demo: who the demo's cards pay, and how much.

Shared by the program (its spending profiles allow some of these categories), the bulk history
and the live activity, so all three tell the same story.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from lithic_integration.money import from_cents


def cents(value: int) -> Decimal:
    """An amount the demo drew in cents, as Lithic reports amounts, as a Decimal."""
    return from_cents(value, "demo amount")


AIRLINE_MCCS = ("4511", "3000", "3009", "3058")
LODGING_MCCS = ("7011", "3504", "3509", "3640")
CAR_RENTAL_MCCS = ("7512", "3357", "3389")
GROUND_MCCS = ("4111", "4112", "4121", "4131", "7523", "4722")
MEAL_MCCS = ("5812", "5814")
SOFTWARE_MCCS = ("5734", "5817", "5818", "7372", "4816")


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

SINGLE_MESSAGE_MCCS = frozenset({"5541", "5542", "7523"})  # unattended terminals: no clearing
TIPPED_MCCS = frozenset({"5812"})


class MerchantPicker:
    """Weighted merchant choice for one kind of card, built once per distinct allow-list."""

    def __init__(self, merchants: Sequence[Merchant]):
        self.merchants = list(merchants)
        self.cum_weights = list(itertools.accumulate(m.weight for m in self.merchants))

    def pick(self, rng: random.Random) -> Merchant:
        return rng.choices(self.merchants, cum_weights=self.cum_weights)[0]


EVERYONE = MerchantPicker(MERCHANTS)


def picker_for(allowed_mccs: frozenset[str]) -> MerchantPicker:
    """The merchants a card on this allow-list can pay (every merchant without one)."""
    if not allowed_mccs:
        return EVERYONE
    fitting = [m for m in MERCHANTS if m.mcc in allowed_mccs]
    return MerchantPicker(fitting) if fitting else EVERYONE
