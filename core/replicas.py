"""Which read replicas may serve reads now, as this process has measured them.

A background thread of each process measures, every `DATABASE_REPLICA_CHECK_SECONDS`:

- the primary's WAL position (`pg_current_wal_lsn()`), kept with the time it was read;
- each replica's: still a standby (`pg_is_in_recovery()`; a promoted one no longer follows the
  primary) and how far it has replayed (`pg_last_wal_replay_lsn()`).

A replica's lag is the age of the newest primary position it has replayed: it holds every
commit older than that. This is an LSN compare, so an idle primary shows no lag, and a replica
that stopped receiving WAL shows it as soon as the primary writes. A replica that is down, no
longer a standby, or lagging past `DATABASE_REPLICA_MAX_LAG_SECONDS` is skipped, and so are
they all once the measurements themselves are older than three rounds. With none left, reads go
to the primary. A connection failure at query time marks the replica down at once
(`report_failure`), until the thread measures it healthy again.

Each measurement connects on its own (not through Django), with libpq's connect timeout and a
timeout of its own on each query, so a hung server costs the thread a second and never a
request anything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections import deque
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import pq

log = logging.getLogger(__name__)

PRIMARY = "default"
QUERY_TIMEOUT_SECONDS = 1.0
_LIBPQ_KEYS = ("dbname", "user", "password", "host", "port", "connect_timeout", "sslmode")
_PRIMARY_SQL = b"SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"
_REPLICA_SQL = b"SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() - '0/0'::pg_lsn"


@dataclass(frozen=True)
class ReplicaState:
    healthy: bool
    lag_seconds: float | None  # None: not known (down, or no longer a standby)
    detail: str  # "ok", or why the replica is skipped
    checked_at: float  # time.monotonic() of the measurement


class QueryTimeout(Exception):
    pass


def _connect_params(alias: str) -> dict:
    params = connections[alias].get_connection_params()
    return {key: params[key] for key in _LIBPQ_KEYS if params.get(key) not in (None, "")}


def _query_one(conn: psycopg.Connection, query: bytes, timeout: float) -> tuple:
    """The one row of `query`, or QueryTimeout once `timeout` has passed (a hung server)."""
    pgconn = conn.pgconn
    pgconn.send_query(query)  # a blocking connection sends it whole, or raises
    deadline = time.monotonic() + timeout
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([pgconn.socket], [], [], left)[0]:
            raise QueryTimeout(f"no answer within {timeout:.1f} s")
    row: tuple = ()
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise psycopg.OperationalError(result.get_error_message())
        row = tuple(
            None if (value := result.get_value(0, column)) is None else value.decode()
            for column in range(result.nfields)
        )
    return row


class ReplicaMonitor:
    """The measurements of one process (see the module's docstring): of the replicas in
    `DATABASE_REPLICA_ALIASES` against the primary `default`, unless told others."""

    def __init__(
        self, *, primary: str = PRIMARY, replicas: list[str] | None = None, background=True
    ) -> None:
        self._primary = primary
        self._replicas = replicas
        self._background = background  # False: measured only when `refresh()` is called
        self._lock = threading.Lock()
        self._measuring = threading.Lock()  # one round at a time: the thread's or a caller's
        self._samples: deque[tuple[float, int]] = deque()
        self._states: dict[str, ReplicaState] = {}
        self._conns: dict[str, psycopg.Connection] = {}
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()

    # --- what the router asks ------------------------------------------------------------

    def usable(self) -> list[str]:
        """The replicas that may serve a read now, healthy as of a recent measurement."""
        aliases = self.aliases
        if not aliases:
            return []
        self._ensure_thread()
        fresh_after = time.monotonic() - 3 * float(settings.DATABASE_REPLICA_CHECK_SECONDS)
        with self._lock:
            return [
                alias
                for alias in aliases
                if (state := self._states.get(alias)) is not None
                and state.healthy
                and state.checked_at >= fresh_after
            ]

    @property
    def aliases(self) -> list[str]:
        return settings.DATABASE_REPLICA_ALIASES if self._replicas is None else self._replicas

    def states(self) -> dict[str, ReplicaState]:
        with self._lock:
            return dict(self._states)

    def report_failure(self, alias: str, error: BaseException) -> None:
        """A connection to `alias` failed: skip it until it is measured healthy again."""
        with self._lock:
            self._states[alias] = ReplicaState(
                healthy=False,
                lag_seconds=None,
                detail=f"down: {type(error).__name__}",
                checked_at=time.monotonic(),
            )

    # --- measuring ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """One round of measurements: the primary's position, then each replica's."""
        with self._measuring:
            self._refresh()

    def _refresh(self) -> None:
        now = time.monotonic()
        position = self._measure(self._primary, _PRIMARY_SQL)
        window = float(settings.DATABASE_REPLICA_MAX_LAG_SECONDS) + 10 * float(
            settings.DATABASE_REPLICA_CHECK_SECONDS
        )
        with self._lock:
            if isinstance(position, tuple) and position[0] is not None:
                self._samples.append((now, int(float(position[0]))))
            while self._samples and self._samples[0][0] < now - window:
                self._samples.popleft()
        for alias in self.aliases:
            measured = self._measure(alias, _REPLICA_SQL)
            state = self._judge(measured, now=time.monotonic())
            with self._lock:
                self._states[alias] = state

    def _judge(self, measured: tuple | str, *, now: float) -> ReplicaState:
        if isinstance(measured, str):
            return ReplicaState(False, None, measured, now)
        in_recovery, replayed = measured
        if in_recovery != "t" or replayed is None:
            return ReplicaState(False, None, "not a standby (promoted?)", now)
        replayed_lsn = int(float(replayed))
        with self._lock:
            samples = list(self._samples)
        if not samples:
            return ReplicaState(False, None, "primary position unknown", now)
        # The newest primary position this replica has reached: it holds every commit before.
        reached = [taken for taken, lsn in samples if lsn <= replayed_lsn]
        lag = now - reached[-1] if reached else now - samples[0][0]
        if not reached or lag > float(settings.DATABASE_REPLICA_MAX_LAG_SECONDS):
            return ReplicaState(False, lag, f"lagging {lag:.1f} s", now)
        return ReplicaState(True, lag, "ok", now)

    def _measure(self, alias: str, query: bytes) -> tuple | str:
        """The row, or a description of why there is none."""
        try:
            conn = self._conns.get(alias)
            if conn is None or conn.closed:
                conn = psycopg.connect(**_connect_params(alias), autocommit=True)
                self._conns[alias] = conn
            return _query_one(conn, query, QUERY_TIMEOUT_SECONDS)
        except (psycopg.Error, QueryTimeout, OSError) as exc:
            self._drop(alias)
            return f"down: {type(exc).__name__}"

    def _drop(self, alias: str) -> None:
        conn = self._conns.pop(alias, None)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    # --- the thread ----------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if not self._background:
            return
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == pid and self._thread is not None and self._thread.is_alive():
                return
            # A forked child inherits the parent's state but none of its threads or sockets.
            self._pid = pid
            self._conns = {}
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="replica-monitor", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                self.refresh()
            except Exception:  # never let the thread die; the states then go stale
                log.exception("measuring the read replicas failed")
            stop.wait(float(settings.DATABASE_REPLICA_CHECK_SECONDS))

    def stop(self) -> None:
        """Stop the thread and close its connections (tests, and process shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None
        with self._measuring:
            for alias in list(self._conns):
                self._drop(alias)
        with self._lock:
            self._states.clear()
            self._samples.clear()


monitor = ReplicaMonitor()
