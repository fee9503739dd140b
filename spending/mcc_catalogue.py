"""The ISO 18245 catalogue as shipped by the `iso18245` package, with our high-risk flags."""

from __future__ import annotations

from dataclasses import dataclass

import iso18245

# Codes an account may block wholesale with the `block_high_risk_mcc` setting.
HIGH_RISK_MCC: dict[str, str] = {
    # Gambling: betting, casinos, lotteries, horse and dog racing.
    "7800": "gambling",
    "7801": "gambling",
    "7802": "gambling",
    "7995": "gambling",
    "9406": "gambling",
    # Quasi-cash: cash disbursements, ATM, quasi-cash at member institutions, stored value.
    "6010": "quasi_cash",
    "6011": "quasi_cash",
    "6012": "quasi_cash",
    "6050": "quasi_cash",
    "6540": "quasi_cash",
    # Non-fiat and foreign currency, where card networks put crypto purchases.
    "6051": "crypto",
    # Wire transfers, money orders and money-transfer funding.
    "4829": "wire_transfer",
    "6536": "wire_transfer",
    "6537": "wire_transfer",
    "6538": "wire_transfer",
    # Adult content and services.
    "5967": "adult",
    "7297": "adult",
    # Dating and escort services.
    "7273": "dating",
}


@dataclass(frozen=True)
class CatalogueEntry:
    mcc: str
    description: str
    group: str
    range_start: str
    range_end: str
    risk_reason: str

    @property
    def is_high_risk(self) -> bool:
        return bool(self.risk_reason)


def catalogue() -> list[CatalogueEntry]:
    entries = []
    for item in iso18245.get_all_mccs():
        description = (
            item.iso_description
            or item.visa_description
            or item.mastercard_description
            or item.usda_description
            or item.range.description
        )
        entries.append(
            CatalogueEntry(
                mcc=item.mcc,
                description=description[:255],
                group=item.range.description[:255],
                range_start=item.range.start,
                range_end=item.range.end,
                risk_reason=HIGH_RISK_MCC.get(item.mcc, ""),
            )
        )
    return entries
