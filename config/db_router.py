"""Route reads to healthy replicas; everything that must be exact goes to the primary.

Writes, migrations and reads made inside a transaction on the primary use `default`, and so
does everything in a `use_primary()` block: the responder, webhook handlers and workers, the
sync and reconcile commands, on-commit callbacks (core.postgresql), and every request of a
client that wrote within the read-your-writes window (core.read_your_writes). Sessions are
always read from the primary: a login is a write whose next request must find it. Otherwise a
read goes to a replica that core.replicas has measured healthy, the same one for every read of
a request, or to the primary when none is.
"""

from __future__ import annotations

import random

from django.conf import settings
from django.db import connections

from core.db import pinned_to_primary, request_replica, set_request_replica, use_primary
from core.replicas import monitor

__all__ = ["PRIMARY", "PrimaryReplicaRouter", "use_primary"]

PRIMARY = "default"
# Models whose every read is the primary's, wherever it is made.
PRIMARY_ONLY_APPS = frozenset({"sessions"})


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        if not settings.DATABASE_REPLICA_ALIASES or pinned_to_primary():
            return PRIMARY
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        usable = monitor.usable()
        if not usable:
            return PRIMARY
        chosen = request_replica()
        if chosen not in usable:
            chosen = random.choice(usable)  # noqa: S311 - load spreading, not security
            set_request_replica(chosen)
        return chosen

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # Replicas hold the same data as the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY
