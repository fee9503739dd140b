"""A real streaming replica, measured: a standby of a private cluster (pg_basebackup -R).

The monitor (core.replicas) is pointed at the module's own primary and replica. Lag is made by
pausing the replica's replay while the primary writes; the replica is stopped, hung and
finally promoted, and each time the monitor says so and stops offering it for reads.
"""

from __future__ import annotations

import copy
import os
import signal
import time

import pytest
from django.db import connections

from core.replicas import ReplicaMonitor
from tests.processes import PrivatePostgres, PrivateReplica

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def cluster():
    primary = PrivatePostgres()
    replica = PrivateReplica(primary)
    try:
        primary.psql("CREATE TABLE ticks (n int)", database="app")
        primary.psql("GRANT SELECT, INSERT ON ticks TO app", database="app")
        replica.wait_replayed()
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()


def _alias(name: str, port: int) -> str:
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict.update(NAME="app", USER="app", PASSWORD="app", HOST="127.0.0.1", PORT=port)
    settings_dict["OPTIONS"].pop("pool", None)
    connections.settings[name] = settings_dict
    return name


@pytest.fixture
def monitor(cluster, settings):
    primary, replica = cluster
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 1.0
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0.1
    measured = ReplicaMonitor(
        primary=_alias("private_primary", primary.port),
        replicas=[_alias("private_replica", replica.port)],
        background=False,  # measured when the test says
    )
    yield measured
    measured.stop()
    for name in ("private_primary", "private_replica"):
        del connections.settings[name]


def write(primary) -> None:
    primary.psql("INSERT INTO ticks VALUES (1)", database="app")


def measure_for(monitor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        monitor.refresh()
        time.sleep(0.1)


def test_a_replica_that_keeps_up_serves_reads(cluster, monitor):
    primary, replica = cluster
    write(primary)
    replica.wait_replayed()
    measure_for(monitor, 0.3)

    state = monitor.states()["private_replica"]
    assert state.healthy and state.detail == "ok"
    assert state.lag_seconds is not None and state.lag_seconds < 1.0
    assert monitor.usable() == ["private_replica"]


def test_a_lagging_replica_is_skipped_until_it_catches_up(cluster, monitor):
    primary, replica = cluster
    measure_for(monitor, 0.3)
    replica.pause_replay()
    try:
        # The primary writes on; the replica receives the WAL and applies none of it.
        for _ in range(15):
            write(primary)
            measure_for(monitor, 0.1)
        state = monitor.states()["private_replica"]
        assert not state.healthy
        assert state.detail.startswith("lagging")
        assert state.lag_seconds > 1.0
        assert monitor.usable() == []
    finally:
        replica.resume_replay()
    replica.wait_replayed()
    measure_for(monitor, 0.3)
    assert monitor.usable() == ["private_replica"]


def test_an_idle_primary_is_no_lag(cluster, monitor):
    # Lag is an LSN compare: nothing committed for a while is not lag.
    primary, replica = cluster
    write(primary)
    replica.wait_replayed()
    measure_for(monitor, 2.0)
    assert monitor.usable() == ["private_replica"]
    since_last_commit = float(
        replica.psql("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())")
    )
    assert since_last_commit > 1.0  # what a timestamp compare would have called lag


def test_a_stopped_replica_is_skipped_and_comes_back(cluster, monitor):
    _primary, replica = cluster
    measure_for(monitor, 0.2)
    replica.stop()
    try:
        measure_for(monitor, 0.2)
        state = monitor.states()["private_replica"]
        assert not state.healthy and state.detail.startswith("down")
        assert monitor.usable() == []
    finally:
        replica.start()
    measure_for(monitor, 0.5)
    assert monitor.usable() == ["private_replica"]


def test_a_hung_replica_costs_the_measurement_a_second_and_is_skipped(cluster, monitor):
    _primary, replica = cluster
    measure_for(monitor, 0.2)
    # The backend that answers the monitor stops answering (its process is stopped).
    backends = replica.psql(
        "SELECT pid FROM pg_stat_activity WHERE usename = 'app' AND backend_type = 'client backend'"
    ).split()
    assert backends
    for pid in backends:
        os.kill(int(pid), signal.SIGSTOP)
    try:
        started = time.monotonic()
        monitor.refresh()
        took = time.monotonic() - started
        state = monitor.states()["private_replica"]
        assert not state.healthy and "QueryTimeout" in state.detail
        assert took < 3.0
    finally:
        for pid in backends:
            os.kill(int(pid), signal.SIGCONT)
    measure_for(monitor, 0.3)
    assert monitor.usable() == ["private_replica"]


def test_measurements_too_old_are_not_trusted(cluster, monitor):
    measure_for(monitor, 0.3)
    assert monitor.usable() == ["private_replica"]
    time.sleep(0.5)  # three rounds (0.3 s) without a measurement, as if the thread were stuck
    assert monitor.usable() == []


def test_a_promoted_replica_is_no_longer_a_replica(cluster, monitor):
    # Last in the module: the replica stays a primary of its own.
    primary, replica = cluster
    measure_for(monitor, 0.2)
    replica.promote()
    write(primary)
    measure_for(monitor, 0.3)
    state = monitor.states()["private_replica"]
    assert not state.healthy
    assert state.detail == "not a standby (promoted?)"
    assert monitor.usable() == []
