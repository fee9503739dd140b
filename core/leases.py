"""Named leases: one holder at a time across processes, without a session lock.

A PostgreSQL session advisory lock belongs to a server connection, and behind PgBouncer in
transaction mode the statement that takes it and the one that releases it can run on two
different server connections: the lock then outlives its holder. A lease is a row instead
(`core_leases`), taken and given back by statements of their own, each its own transaction. A
holder that dies loses it when it expires, so `seconds` must exceed the longest time the work
under it can take.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# Taken when nobody holds the name or the holder's lease has expired; the row returned is ours.
_TAKE_SQL = """
INSERT INTO core_leases (name, holder, expires_at)
VALUES (%s, %s, statement_timestamp() + make_interval(secs => %s))
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
    WHERE core_leases.expires_at < statement_timestamp()
RETURNING holder
"""
_GIVE_BACK_SQL = "DELETE FROM core_leases WHERE name = %s AND holder = %s"

POLL_SECONDS = 0.05


@contextmanager
def lease(name: str, *, seconds: float, wait: bool) -> Iterator[bool]:
    """Yields whether this caller holds the lease `name` (always, when `wait`).

    Meant for work outside any transaction. Inside one, the others see the lease only once the
    transaction commits, and the transaction's own unique-index lock makes them wait until then.
    On a database other than PostgreSQL (the single-process demo) it is always held.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    holder = uuid.uuid4()
    held = _take(name, holder, seconds)
    while wait and not held:
        time.sleep(POLL_SECONDS)
        held = _take(name, holder, seconds)
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute(_GIVE_BACK_SQL, [name, holder])


def _take(name: str, holder: uuid.UUID, seconds: float) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SQL, [name, holder, seconds])
        return cursor.fetchone() is not None
