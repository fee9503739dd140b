"""A pool whose idle connections all broke at once (a PostgreSQL restart) still serves at once.

The pool is the backend's own (core.postgresql), built as the responder builds it: two
connections, a checkout timeout of a short deadline, the check of `CONN_HEALTH_CHECKS`. Its
connections are ended by the server, as a restart ends them.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from core.postgresql.base import ConnectionPool, DatabaseWrapper

pytestmark = pytest.mark.django_db

TIMEOUT = 0.4


@pytest.fixture
def pool():
    settings = {
        **connection.settings_dict,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            **connection.settings_dict["OPTIONS"],
            "pool": {"min_size": 2, "max_size": 2, "timeout": TIMEOUT},
        },
    }
    wrapper = DatabaseWrapper(settings, alias="pool_under_test")
    wrapper.pool.open(wait=True, timeout=10)
    try:
        yield wrapper.pool
    finally:
        wrapper.close_pool()


def _server_ends(pids: set[int]) -> None:
    """The server ends these backends, and they are gone before this returns."""
    params = connection.get_connection_params()
    with psycopg.connect(conninfo="", **{**params, "autocommit": True}) as other:
        for pid in pids:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        until = time.monotonic() + 10
        while other.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)]
        ).fetchone() != (0,):
            assert time.monotonic() < until, "the backends did not end"
            time.sleep(0.01)


def test_the_backends_pool_checks_its_connections(pool):
    assert isinstance(pool, ConnectionPool)
    assert pool.get_stats()["pool_available"] == 2


def test_every_idle_connection_broken_at_once_a_checkout_gets_a_new_one_in_time(pool):
    held = [pool.getconn(), pool.getconn()]
    broken = {conn.info.backend_pid for conn in held}
    for conn in held:
        pool.putconn(conn)
    _server_ends(broken)

    started = time.monotonic()
    conn = pool.getconn()
    try:
        elapsed = time.monotonic() - started
        assert conn.info.backend_pid not in broken
        assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.putconn(conn)
    assert elapsed < TIMEOUT
