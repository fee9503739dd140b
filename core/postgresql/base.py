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
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base as postgresql
from psycopg import pq, sql

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


class DatabaseWrapper(postgresql.DatabaseWrapper):
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
