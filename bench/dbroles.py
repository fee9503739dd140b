"""Which role each connection of the benchmarks uses.

What is measured connects as the product does: the runtime role of DATABASE_URL, under
row-level security, with a tenant context in each transaction (core.tenancy). The harness's own
connections (emptying tables, ANALYZE, counts, the plain-COPY baseline) connect as the superuser
of DATABASE_ADMIN_URL to the same database: they see every row and may TRUNCATE.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def asa_context() -> str:
    """The settings the responder's transactions get (core.postgresql), as the select list of
    pgbench's first statement: a colon starts a pgbench variable, so the actor's is chr(58)."""
    from core.postgresql.base import context_sql
    from core.tenancy import Scope

    statement = context_sql(Scope(actor="system:asa", all_accounts=True))
    return statement.removeprefix("SELECT ").replace("'system:asa'", "'system' || chr(58) || 'asa'")


def harness_dsn() -> str:
    """The superuser's connection to the benchmarked database."""
    admin = os.environ.get("DATABASE_ADMIN_URL")
    if not admin:
        raise SystemExit("The benchmarks need DATABASE_ADMIN_URL: run them with `make bench`.")
    database = urlsplit(os.environ["DATABASE_URL"]).path
    return urlunsplit(urlsplit(admin)._replace(path=database))


def account_context(account_id: int) -> str:
    """The statement that gives a transaction one account's context, as an API key's."""
    from core.postgresql.base import context_sql
    from core.tenancy import Scope

    return context_sql(Scope(actor="api_key:bench", account_id=account_id))


@contextmanager
def policies_off(conn: psycopg.Connection) -> Iterator[None]:
    """Row-level security switched off on every tenant table for the block (the superuser's
    `conn`): what the same requests cost without the policies, measured in the same run."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_policies WHERE policyname = 'tenant_isolation'"
        ).fetchall()
    ]
    for table in tables:
        conn.execute(
            sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(sql.Identifier(table))
        )
    conn.commit()
    try:
        yield
    finally:
        for table in tables:
            conn.execute(
                sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(sql.Identifier(table))
            )
        conn.commit()
