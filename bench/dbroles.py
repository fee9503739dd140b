"""Which role each connection of the benchmarks uses.

What is measured connects as the product does: the runtime role of DATABASE_URL, under
row-level security, with a tenant context in each transaction (core.tenancy). The harness's own
connections (emptying tables, ANALYZE, counts, the plain-COPY baseline) connect as the superuser
of DATABASE_ADMIN_URL to the same database: they see every row and may TRUNCATE.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

# What the responder's transactions are told (core.postgresql.context_sql of system:asa).
ASA_CONTEXT = (
    "set_config('app.account_id', '', true), set_config('app.all_accounts', 'on', true), "
    "set_config('app.actor', 'system:asa', true)"
)


def harness_dsn() -> str:
    """The superuser's connection to the benchmarked database."""
    admin = os.environ.get("DATABASE_ADMIN_URL")
    if not admin:
        raise SystemExit("The benchmarks need DATABASE_ADMIN_URL: run them with `make bench`.")
    database = urlsplit(os.environ["DATABASE_URL"]).path
    return urlunsplit(urlsplit(admin)._replace(path=database))


def account_context(account_id: int) -> str:
    """The statement that gives a transaction one account's context, as an API key's."""
    return (
        f"SELECT set_config('app.account_id', '{int(account_id)}', true), "
        "set_config('app.all_accounts', '', true), set_config('app.actor', 'api_key:bench', true)"
    )
