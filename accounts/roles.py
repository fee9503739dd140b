"""Who may do what through the API: one table, role × resource × action.

Owners and admins manage everything in their account; analysts read everything and write
nothing; plain users see their own cards and transactions and may pause their own card (the
"own" part is enforced by the selectors, which scope a user's querysets to what they hold).
An action missing from the table is refused.
"""

from __future__ import annotations

from accounts.models import Role

MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
READERS = frozenset({Role.OWNER, Role.ADMIN, Role.ANALYST})
EVERYONE = frozenset(Role)

_READ = ("list", "retrieve", "history")
_WRITE = ("create", "update", "partial_update", "destroy")


def _managed(read=READERS, write=MANAGERS) -> dict[str, frozenset]:
    return {**dict.fromkeys(_READ, read), **dict.fromkeys(_WRITE, write)}


POLICY: dict[str, dict[str, frozenset]] = {
    "account": {
        "retrieve": READERS,
        "update": MANAGERS,
        "partial_update": MANAGERS,
        "history": READERS,
    },
    "users": _managed(),
    "addresses": _managed(),
    "account_settings": _managed(),
    "card_products": _managed(),
    "spending_profiles": {**_managed(), "backtests": READERS},
    "spending_categories": {"list": EVERYONE, "retrieve": EVERYONE},
    "cards": {
        **_managed(read=EVERYONE),
        "pause": MANAGERS | {Role.USER},
        "unpause": MANAGERS,
        "close": MANAGERS,
    },
    "transactions": {"list": EVERYONE, "retrieve": EVERYONE},
    "disputes": {"list": EVERYONE, "retrieve": EVERYONE},
    "balance_reports": {"list": READERS},
}

# Roles whose reads are limited to what they hold themselves (their cards and transactions).
OWN_ONLY = frozenset({Role.USER})


def role_may(role: str, resource: str, action: str) -> bool:
    return role in POLICY.get(resource, {}).get(action, frozenset())
