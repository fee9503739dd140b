"""Where reads go: replicas when they are fit, the primary for everything that must be exact."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.db import connections, transaction

from accounts.models import Account
from config.db_router import PrimaryReplicaRouter
from core.commands import AuditedCommand
from core.db import pinned_to_primary, request_pin, use_primary

router = PrimaryReplicaRouter()


class _FitReplicas:
    """What core.replicas answers when both replicas measured healthy."""

    def usable(self):
        return ["replica_0", "replica_1"]


@pytest.fixture
def replicas(settings, monkeypatch):
    settings.DATABASE_REPLICA_ALIASES = ["replica_0", "replica_1"]
    monkeypatch.setattr("config.db_router.monitor", _FitReplicas())


def _outside_the_test_transaction():
    # pytest-django wraps each test in a transaction; reads inside one go to the primary.
    primary = connections["default"]
    saved = primary.in_atomic_block
    primary.in_atomic_block = False
    return primary, saved


def test_without_replicas_everything_uses_the_primary(settings):
    settings.DATABASE_REPLICA_ALIASES = []
    assert router.db_for_read(Account) == "default"
    assert router.db_for_write(Account) == "default"


def test_a_request_reads_one_replica_throughout(replicas, db):
    primary, saved = _outside_the_test_transaction()
    try:
        with request_pin():
            chosen = {router.db_for_read(Account) for _ in range(20)}
        assert len(chosen) == 1 and chosen <= {"replica_0", "replica_1"}
        with request_pin(), use_primary():
            assert router.db_for_read(Account) == "default"
        # Sessions are the primary's: a login's next request finds it.
        assert router.db_for_read(Session) == "default"
    finally:
        primary.in_atomic_block = saved
    with transaction.atomic():
        assert router.db_for_read(Account) == "default"


def test_none_fit_reads_the_primary(settings, monkeypatch, db):
    settings.DATABASE_REPLICA_ALIASES = ["replica_0"]
    monkeypatch.setattr("config.db_router.monitor", type("NoneFit", (), {"usable": list})())
    primary, saved = _outside_the_test_transaction()
    try:
        assert router.db_for_read(Account) == "default"
    finally:
        primary.in_atomic_block = saved


@pytest.mark.django_db(transaction=True)
def test_what_runs_after_a_commit_reads_the_primary():
    seen = []
    with transaction.atomic():
        transaction.on_commit(lambda: seen.append(("after commit", pinned_to_primary())))
    transaction.on_commit(lambda: seen.append(("at once", pinned_to_primary())))
    assert seen == [("after commit", True), ("at once", True)]
    assert not pinned_to_primary()


def test_commands_read_the_primary(db):
    seen = []

    class Command(AuditedCommand):
        def handle(self, *args, **options):
            seen.append(pinned_to_primary())

    Command().execute(no_color=True, force_color=False, skip_checks=True)
    assert seen == [True]


def test_migrations_only_run_on_the_primary():
    assert router.allow_migrate("default", "accounts")
    assert not router.allow_migrate("replica_0", "accounts")


def test_a_pin_set_inside_a_request_ends_with_it():
    from core.db import pin_request_to_primary

    with request_pin():
        pin_request_to_primary()
        assert pinned_to_primary()
    assert not pinned_to_primary()
