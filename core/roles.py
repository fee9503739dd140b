"""Two database roles: the owner migrates and owns every table; the runtime role only serves.

`DATABASE_URL` names the runtime role: requests, workers and commands connect as it. It is
neither superuser nor BYPASSRLS and owns nothing, so it can neither switch row-level security
off nor disable a trigger nor TRUNCATE a table. `DATABASE_MIGRATE_URL` names the owner, and
`manage.py migrate` (core.management.commands.migrate) connects as it. After every migrate the
owner grants the runtime role what it needs (`grant_runtime_privileges`):

- SELECT, INSERT, UPDATE, DELETE on the tables, USAGE on the sequences; nothing else (no
  TRUNCATE, REFERENCES or TRIGGER);
- on append-only tables (models marked `db_append_only`, and every history table) SELECT and
  INSERT only;
- on `django_migrations` SELECT only;
- on partitions nothing: their parent's privileges (and policies) are the ones that apply;
- what an app adds through the `runtime_privileges_granted` signal (transactions: EXECUTE on
  the function that creates partitions ahead of time).

Without DATABASE_MIGRATE_URL one role does both (a development database) and nothing is
granted. SQLite has no roles: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import environ
from django.apps import apps
from django.conf import settings
from django.db import connections
from django.dispatch import Signal
from psycopg import sql
from simple_history.models import HistoricalChanges

_OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT")

runtime_privileges_granted = Signal()
"""Sent after the grants, on the owner's connection: `alias`, `role` (the runtime role)."""

_PARTITIONS_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relispartition AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""


def migrate_url_configured(alias: str = "default") -> bool:
    return bool(settings.DATABASE_MIGRATE_URL) and connections[alias].vendor == "postgresql"


def runtime_role(alias: str = "default") -> str:
    """The runtime role's name, as DATABASE_URL gives it (also while the owner is connected)."""
    connection = connections[alias]
    return getattr(connection, "_runtime_user", None) or connection.settings_dict["USER"]


@contextmanager
def owner_connection(alias: str = "default") -> Iterator[bool]:
    """Connect `alias` as the owner role for the block (True), if DATABASE_MIGRATE_URL is set.

    The database name stays the alias's own (the test runner renames it); the user, password,
    host and port come from DATABASE_MIGRATE_URL. No pool: the block opens one connection.
    """
    if not migrate_url_configured(alias):
        yield False
        return
    if getattr(connections[alias], "_runtime_user", None):
        yield True  # already the owner's (the test runner's migrate inside its own setup)
        return
    owner = environ.Env.db_url_config(settings.DATABASE_MIGRATE_URL)
    connection = connections[alias]
    if connection.in_atomic_block:
        raise RuntimeError("the owner role connects outside any transaction of the runtime role")
    saved = {key: connection.settings_dict.get(key) for key in _OWNER_KEYS}
    saved_options = connection.settings_dict.get("OPTIONS", {})
    connection.close()
    connection._runtime_user = saved["USER"]
    for key in _OWNER_KEYS:
        connection.settings_dict[key] = owner.get(key, saved[key])
    connection.settings_dict["OPTIONS"] = {
        key: value for key, value in saved_options.items() if key != "pool"
    }
    try:
        yield True
    finally:
        connection.close()
        connection.settings_dict.update(saved)
        connection.settings_dict["OPTIONS"] = saved_options
        del connection._runtime_user


def append_only_tables() -> list[str]:
    """Tables the runtime role may only read and add to."""
    tables = {
        model._meta.db_table
        for model in apps.get_models()
        if getattr(model, "db_append_only", False) or issubclass(model, HistoricalChanges)
    }
    return sorted(tables)


def grant_runtime_privileges(alias: str = "default") -> None:
    """Give the runtime role exactly its privileges on every table (idempotent)."""
    connection = connections[alias]
    role = sql.Identifier(runtime_role(alias))
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            role
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role),
        sql.SQL("REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {}").format(role),
    ]
    existing = set(connection.introspection.table_names())
    for table in append_only_tables():
        if table in existing:
            statements.append(
                sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), role)
            )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        cursor.execute(_PARTITIONS_SQL)
        for (partition,) in cursor.fetchall():
            statements.append(
                sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(partition), role)
            )
        for statement in statements:
            cursor.execute(statement.as_string(raw.connection))
    runtime_privileges_granted.send(
        sender=grant_runtime_privileges, alias=alias, role=runtime_role(alias)
    )
