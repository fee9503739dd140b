"""Reads may go to replicas; writes, transactions and pinned code use the primary."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Account
from config.db_router import PrimaryReplicaRouter, use_primary

router = PrimaryReplicaRouter()


def test_without_replicas_everything_uses_the_primary(settings):
    settings.DATABASE_REPLICA_ALIASES = []
    assert router.db_for_read(Account) == "default"
    assert router.db_for_write(Account) == "default"


def test_reads_go_to_a_replica_outside_transactions(settings, db):
    settings.DATABASE_REPLICA_ALIASES = ["replica_0"]
    # pytest-django wraps the test in a transaction; leave it to see the outside behaviour.
    from django.db import connections

    in_block = connections["default"].in_atomic_block
    connections["default"].in_atomic_block = False
    try:
        assert router.db_for_read(Account) == "replica_0"
        with use_primary():
            assert router.db_for_read(Account) == "default"
    finally:
        connections["default"].in_atomic_block = in_block
    with transaction.atomic():
        assert router.db_for_read(Account) == "default"


def test_migrations_only_run_on_the_primary():
    assert router.allow_migrate("default", "accounts")
    assert not router.allow_migrate("replica_0", "accounts")
