"""Django's PostgreSQL backend, with every transaction opened in the current tenant context.

The cursor compares what this transaction was told with `core.tenancy.current_scope()` before
each statement. When they differ (a new transaction, a context switched mid-transaction, a
savepoint rolled back over the setting) it sends

    SELECT set_config('app.account_id', ..., true), ...; <the statement>

as one query: Django binds parameters client-side and psycopg sends the text with the simple
query protocol, so both run in one round trip and in one transaction (an implicit one under
autocommit). The settings are transaction-local: they end at COMMIT or ROLLBACK.

Server-side cursors are refused (`DISABLE_SERVER_SIDE_CURSORS` is set for this backend): a
`WITH HOLD` cursor declared under autocommit would run its query outside any context.

`run_prepared` sends several statements in one round trip as prepared statements (psycopg's
pipeline mode, server-side binding), with the context first when the transaction needs it. Each
statement is planned once per connection instead of at every call: this is the authorization
responder's path, where planning (the policies' conditions included) was most of the database's
time.

With `OPTIONS["pool"]`, connections come from `ConnectionPool` below: psycopg's pool, which
checks every idle connection once it finds one broken at checkout (after a restart).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import psycopg_pool
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base as postgresql
from psycopg import pq, sql
from psycopg_pool.base import AttemptWithBackoff

from core import replicas
from core.db import use_primary
from core.tenancy import (
    ACCOUNT_SETTING,
    ACTOR_SETTING,
    ALL_ACCOUNTS_SETTING,
    Scope,
    current_scope,
)

# What a connection's open transaction was told; absent: nothing yet (a fresh transaction).
_APPLIED = "_tenant_scope_applied"
_UNKNOWN = object()


def context_sql(value: Scope | None) -> str:
    """The statement that puts `value` into the current transaction (no placeholders)."""
    if value is None:
        account, all_accounts, actor = "", "", ""
    else:
        account = "" if value.account_id is None else str(int(value.account_id))
        all_accounts = "on" if value.all_accounts else ""
        actor = value.actor  # checked against ACTOR_PATTERN: no quote, no percent sign
    return (
        f"SELECT set_config('{ACCOUNT_SETTING}', '{account}', true), "
        f"set_config('{ALL_ACCOUNTS_SETTING}', '{all_accounts}', true), "
        f"set_config('{ACTOR_SETTING}', '{actor}', true)"
    )


def _needs_context(conn, value: Scope | None) -> bool:
    if conn.info.transaction_status == pq.TransactionStatus.IDLE:
        # The statement opens a transaction, which starts without any context.
        return value is not None
    return getattr(conn, _APPLIED, _UNKNOWN) != value


def _after(conn, value: Scope | None, query: Any) -> None:
    # Only the head of the text is looked at: statements can be long (batches, bulk inserts).
    head = query[:32].lstrip()[:8].upper() if isinstance(query, str) else ""
    if head == "ROLLBACK":
        # ROLLBACK TO SAVEPOINT undoes a setting made after the savepoint: ask again.
        setattr(conn, _APPLIED, _UNKNOWN)
    else:
        setattr(conn, _APPLIED, value)


class TenantCursor(postgresql.Cursor):
    """Client-side binding cursor (Django's default) that carries the tenant context."""

    def execute(self, query, params=None, **kwargs):
        conn = self.connection
        value = current_scope()
        if not _needs_context(conn, value):
            result = super().execute(query, params, **kwargs)
            _after(conn, value, query)
            return result
        text = query.as_string(conn) if isinstance(query, sql.Composable) else query
        if isinstance(text, bytes):
            text = text.decode()
        super().execute(context_sql(value) + ";\n" + text, params, **kwargs)
        self.nextset()  # past the settings' row: the caller sees its own statement's result
        _after(conn, value, text)
        return self

    def executemany(self, query, params_seq, **kwargs):
        conn = self.connection
        value = current_scope()
        if _needs_context(conn, value):
            if conn.autocommit:
                with conn.transaction():
                    self._set_context(value)
                    return super().executemany(query, params_seq, **kwargs)
            self._set_context(value)
        return super().executemany(query, params_seq, **kwargs)

    def copy(self, statement, params=None, **kwargs):
        conn = self.connection
        value = current_scope()
        if _needs_context(conn, value):
            if conn.autocommit:
                raise RuntimeError("COPY under a tenant context must run inside a transaction")
            self._set_context(value)
        return super().copy(statement, params, **kwargs)

    def _set_context(self, value: Scope | None) -> None:
        super().execute(context_sql(value))
        setattr(self.connection, _APPLIED, value)


def run_prepared(
    cursor, statements: Sequence[tuple[str, Sequence[Any] | Mapping[str, Any]]]
) -> list[list[tuple] | int]:
    """Run `statements` (Django's `%s` / `%(name)s` placeholders) in one round trip, each as a
    prepared statement of this connection; each one's rows, or its row count.

    `cursor` is a Django cursor of this backend. The statements run in order, each with its own
    snapshot in READ COMMITTED, inside the open transaction (or one of their own under
    autocommit); the first error aborts the rest and is raised as Django raises it.
    """
    db = cursor.db
    db.validate_no_broken_transaction()
    conn = cursor.cursor.connection
    value = current_scope()
    started = time.monotonic()
    with db.wrap_database_errors:
        if conn.autocommit:
            setattr(conn, _APPLIED, _UNKNOWN)  # the transaction opened here has no context yet
            with conn.transaction():
                results = _pipeline(conn, value, statements)
        else:
            results = _pipeline(conn, value, statements)
    if db.queries_logged:
        # What Django's debug cursor records: the batch as one query, as the server ran it.
        text = ";\n".join(db.ops.compose_sql(query, params) for query, params in statements)
        db.queries_log.append({"sql": text, "time": f"{time.monotonic() - started:.3f}"})
    return results


def _pipeline(conn, value: Scope | None, statements) -> list[list[tuple] | int]:
    cursors = []
    try:
        with conn.pipeline():
            if _needs_context(conn, value):
                # Not prepared: it has no parameters and nothing to plan.
                setting = psycopg.Cursor(conn)
                cursors.append(setting)
                setting.execute(context_sql(value))
            for query, params in statements:
                statement = psycopg.Cursor(conn)
                cursors.append(statement)
                statement.execute(query, params, prepare=True)
        # Past the pipeline: every statement has its result.
        setattr(conn, _APPLIED, value)
        ran = cursors[len(cursors) - len(statements) :]
        return [c.fetchall() if c.description else c.rowcount for c in ran]
    except BaseException:
        if conn.info.transaction_status == pq.TransactionStatus.INERROR:
            # Only a rollback runs now, and it is not to be prefixed: it resets this itself.
            setattr(conn, _APPLIED, value)
        else:
            setattr(conn, _APPLIED, _UNKNOWN)
        raise
    finally:
        for c in cursors:
            c.close()


class _Reconnection(AttemptWithBackoff):
    """psycopg's reconnection attempts, but starting after 0.1 s and never more than 1 s apart.

    psycopg waits 1 s after a failed attempt, then 2, 4, 8 s and so on. A PostgreSQL restart or
    a failover takes a fraction of a second, and an attempt made during it (the pool replaces a
    broken connection at once) would leave the pool without connections for the next second,
    or longer, after the database is back: every authorization in that time declined.
    """

    INITIAL_DELAY = 0.1
    LONGEST_DELAY = 1.0

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.LONGEST_DELAY)


class ConnectionPool(psycopg_pool.ConnectionPool):
    """psycopg's pool, except that a connection found broken at checkout has every idle one
    checked, and that a failed connection is tried again within 0.1 to 1 s (`_Reconnection`).

    A PostgreSQL restart breaks all the idle connections at once. psycopg's checkout tries the
    next idle connection right after a broken one, but after the second it sleeps before the
    next try (its reconnection back-off: a second, cut to what is left of the checkout's
    timeout), and while it sleeps the new connections the pool opens go to the idle list, not
    to it. With the responder's timeout (what is left of its deadline) the checkout then fails
    although the database is back. Once all the broken ones are gone, the checkout waits for
    the first new connection instead, and gets it within milliseconds of PostgreSQL answering.
    """

    def __init__(self, *args, check=None, **kwargs):
        if check is not None:
            check = functools.partial(self._check_all_if_broken, check)
        super().__init__(*args, check=check, **kwargs)

    # A checkout that finds two broken connections in a row sleeps psycopg's back-off (1 s, cut
    # to what is left of its timeout) before looking again. Asked in slices of this length, it
    # looks again within this long of the database being back.
    CHECKOUT_SLICE_SECONDS = 0.2

    def getconn(self, timeout: float | None = None):
        until = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = until - time.monotonic()
            try:
                return super().getconn(timeout=min(left, self.CHECKOUT_SLICE_SECONDS))
            except psycopg_pool.PoolTimeout:
                if left <= self.CHECKOUT_SLICE_SECONDS:
                    raise

    def _add_connection(self, attempt, growing=False) -> None:
        # Given none, psycopg_pool (3.3) would start its own AttemptWithBackoff.
        attempt = attempt or _Reconnection(timeout=self.reconnect_timeout)
        super()._add_connection(attempt, growing=growing)

    def _check_all_if_broken(self, check, conn) -> None:
        try:
            check(conn)
        except Exception:
            # The idle ones are most likely broken too: check them now, in this checkout.
            self.check()
            raise


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        if self.alias not in settings.DATABASE_REPLICA_ALIASES:
            return super().get_new_connection(conn_params)
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError as exc:  # psycopg_pool.PoolTimeout included
            # A replica that cannot be reached: its reads go to the primary from now on
            # (core.replicas), this one included. The connection comes from the primary's pool
            # and goes back there when this alias closes it.
            replicas.monitor.report_failure(self.alias, exc)
            primary = connections[replicas.PRIMARY]
            return primary.get_new_connection(primary.get_connection_params())

    def on_commit(self, func, robust=False):
        if self.in_atomic_block or not self.get_autocommit():
            return super().on_commit(func, robust)
        with use_primary():  # run now: what it reads was just written
            return super().on_commit(func, robust)

    def run_and_clear_commit_hooks(self):
        # What runs after a commit reads what the commit wrote: the primary's, never a
        # replica's that may not have it yet.
        with use_primary():
            super().run_and_clear_commit_hooks()

    @property
    def pool(self):
        options = self.settings_dict["OPTIONS"].get("pool")
        if (
            options
            and self.alias != NO_DB_ALIAS
            and self.alias not in self._connection_pools
            and self.settings_dict.get("CONN_MAX_AGE", 0) == 0  # or Django's refusal, below
        ):
            # Built as Django builds its own, which is always psycopg_pool's class.
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True
            checks = self.settings_dict["CONN_HEALTH_CHECKS"]
            pool = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check=ConnectionPool.check_connection if checks else None,
                **({} if options is True else options),
            )
            self._connection_pools.setdefault(self.alias, pool)
        return super().pool

    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("cursor_factory") in (None, postgresql.Cursor):
            params["cursor_factory"] = TenantCursor
        return params

    def create_cursor(self, name=None):
        if name:
            raise RuntimeError(
                "server-side cursors are off for this backend: set DISABLE_SERVER_SIDE_CURSORS"
            )
        return super().create_cursor(name)
