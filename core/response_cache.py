"""Cached reads that are never stale: keyed by generations the database keeps.

Every table behind a cached read has statement triggers (core.migration_ops) that bump a
generation in `cache_generations`, per account and resource (`account:<id>:cards`) or globally
(`global:spending_categories`), in the transaction that changes its rows. A cached read first
reads the generations it depends on, from the database its rows would come from (the primary,
or the request's replica), and looks for an entry under exactly those generations; on a miss it
reads the rows after the generations and stores what it made under them.

So a committed change is never served stale: from the moment a reader can see the new rows, it
sees the new generation and misses. Invalidation is part of the commit, so nothing is lost when
Redis is down, hung or flushed at that moment: a Redis that comes back holds entries under
generations nobody asks for any more. The price is one small query per cached read, which is
also what lets a replica's reader get the replica's version of the page, and a writer (who
reads the primary, core.read_your_writes) the primary's.

SQLite has no triggers: `make run`'s demo reads uncached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, router

from core.cache import breaker
from core.models import CacheGeneration

GLOBAL = "global:"
_GENERATIONS_SQL = "SELECT key, value FROM cache_generations WHERE key = ANY(%s)"


def enabled() -> bool:
    """On, with PostgreSQL's triggers, unless Redis is known to be away (no generation read
    for a cache that cannot answer)."""
    return (
        settings.API_LIST_CACHE_SECONDS > 0
        and connection.vendor == "postgresql"
        and (not settings.REDIS_URL or breaker.allows())
    )


def generation_keys(resources: Sequence[str], *, account_id: int | None) -> list[str]:
    """`cards` is the account's (`account:<id>:cards`); `global:...` names itself."""
    return [
        resource if resource.startswith(GLOBAL) else f"account:{account_id}:{resource}"
        for resource in resources
    ]


def generations(keys: Sequence[str]) -> tuple[int, ...]:
    """The current generation of each key (0: never changed), as the reader's database has it
    (the router's choice for this request: the primary, or the request's replica)."""
    database = router.db_for_read(CacheGeneration)
    with connections[database].cursor() as cursor:
        cursor.execute(_GENERATIONS_SQL, [list(keys)])
        found = dict(cursor.fetchall())
    return tuple(found.get(key, 0) for key in keys)


def entry_key(namespace: str, parts: Iterable[object], *, keys: Sequence[str]) -> str:
    """The cache key of an entry: its parts, the generation keys they were read under, and the
    database (another database's account 7 is another account)."""
    text = "\x1f".join(str(part) for part in (connection.settings_dict["NAME"], *keys, *parts))
    return f"{namespace}:{hashlib.sha256(text.encode()).hexdigest()}"


def get(key: str) -> bytes | None:
    return cache.get(key)


def put(key: str, content: bytes) -> None:
    cache.set(key, content, timeout=settings.API_LIST_CACHE_SECONDS)
