"""Route reads to replicas when they exist; everything that must be exact goes to the primary.

Writes, migrations and reads made inside a transaction on the primary use `default`. Code that
must read its own writes or decide on money (authorizations) wraps itself in `use_primary()`.
"""

from __future__ import annotations

import random

from django.conf import settings
from django.db import connections

from core.db import pinned_to_primary, use_primary

__all__ = ["PRIMARY", "PrimaryReplicaRouter", "use_primary"]

PRIMARY = "default"


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        replicas = settings.DATABASE_REPLICA_ALIASES
        if not replicas or pinned_to_primary():
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        return random.choice(replicas)  # noqa: S311 - load spreading, not security

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # Replicas hold the same data as the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY
