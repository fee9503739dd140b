"""Reads that scale, each part measured with and without it in the same run.

1. The API's list cache (core.response_cache): `GET /api/v1/cards/` and
   `GET /api/v1/card-products/` through the whole WSGI stack (Django's test client, a real API
   key, Redis), with the cache on and off (`API_LIST_CACHE_SECONDS=0`). Beside each, the SQL
   that request ran, captured and run again as is on a psycopg connection of the runtime role:
   API p50 minus SQL p50 is what the API adds on top of the database. The transactions list of
   the busiest card, which is not cached (every authorization changes it), is measured the same
   way for comparison.
2. Read throughput: gunicorn web processes (`config.wsgi`) answering a closed loop of clients
   listing the busiest card's transactions (not cached: every request reads the database),
   against the primary alone and against the primary with two streaming replicas made for the
   measurement (pg_basebackup -R; `DATABASE_REPLICA_URLS`).
3. The responder (`config.asa_wsgi`) at 100 and 200 requests/s and in a closed loop, connected
   directly (prepared statements on, the default, and off) and through PgBouncer in transaction
   mode (`WITH_PGBOUNCER=1`; PgBouncer 1.18 keeps no prepared statements).

Knobs: BENCH_ROWS (transactions, default 1,000,000), BENCH_READS_ITERATIONS (per API case),
BENCH_READS_SECONDS (per throughput measurement), BENCH_READS_CLIENTS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from bench import bench_api, bench_asa
from bench.dbroles import account_context

ITERATIONS = int(os.environ.get("BENCH_READS_ITERATIONS", "100"))
SECONDS = float(os.environ.get("BENCH_READS_SECONDS", "15"))
CLIENTS = int(os.environ.get("BENCH_READS_CLIENTS", "8"))
WEB_WORKERS = 4
REPLICAS = 2


def log(message: str) -> None:
    print(f"bench_reads: {message}", file=sys.stderr, flush=True)


def _p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# --- 1. the list cache -------------------------------------------------------------------------


def _request_sql(client, path: str, params: dict) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params, secure=True)
    assert response.status_code == 200, response.content[:300]
    return [bench_api.without_context(q["sql"]) for q in captured.captured_queries]


def _time_api(client, path: str, params: dict) -> list[float]:
    client.get(path, params, secure=True)  # warm (and, with the cache on, stored)
    samples = []
    for _ in range(ITERATIONS):
        started = time.perf_counter()
        response = client.get(path, params, secure=True)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return samples


def _time_sql(conn: psycopg.Connection, queries: list[str], context: str) -> list[float]:
    """The request's statements, each in its own round trip as the request sent them."""
    samples = []
    for _ in range(ITERATIONS):
        started = time.perf_counter()
        conn.execute(context)
        for query in queries:
            cursor = conn.execute(query)
            if cursor.description:
                cursor.fetchall()
        samples.append(time.perf_counter() - started)
        conn.rollback()  # the statements that write (last_used_at) leave nothing
    return samples


def measure_cache(client, account_id: int, cases: list[tuple[str, str, dict]]) -> list[dict]:
    from django.test import override_settings

    rows = []
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        for label, path, params in cases:
            for cached in (False, True):
                overrides = {} if cached else {"API_LIST_CACHE_SECONDS": 0}
                with override_settings(**overrides):
                    client.get(path, params, secure=True)  # stored, when cached
                    queries = _request_sql(client, path, params)
                    api = _p50_ms(_time_api(client, path, params))
                sql = _p50_ms(_time_sql(conn, queries, account_context(account_id)))
                rows.append(
                    {
                        "case": f"{label}, cache {'on' if cached else 'off'}",
                        "api": api,
                        "sql": sql,
                        "queries": len(queries),
                    }
                )
                log(f"{rows[-1]}")
    return rows


# --- 2. read throughput ------------------------------------------------------------------------


async def _get(port: int, path: str, headers: dict[str, str]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1])


async def _closed_loop(port: int, path: str, headers: dict[str, str]) -> dict:
    latencies, statuses = [], {}
    deadline = time.perf_counter() + SECONDS

    async def client() -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            status = await _get(port, path, headers)
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return {"latencies": latencies, "statuses": statuses, "seconds": time.perf_counter() - started}


def measure_throughput(path: str, key: str, replicas: str) -> dict:
    # The servers' own request budget would answer most of these 429.
    extra = {"API_THROTTLE_RATE": "100000000/min"}
    if replicas:
        extra["DATABASE_REPLICA_URLS"] = replicas
    server = bench_asa.Server(app="config.wsgi:application", workers=WEB_WORKERS, extra_env=extra)
    headers = {"Authorization": f"Api-Key {key}", "X-Forwarded-Proto": "https"}
    try:
        asyncio.run(_closed_loop(server.port, path, headers))  # warm: pools, caches
        outcome = asyncio.run(_closed_loop(server.port, path, headers))
    finally:
        server.stop()
    row = {
        "throughput": len(outcome["latencies"]) / outcome["seconds"],
        "p50": _p50_ms(outcome["latencies"]),
        "statuses": outcome["statuses"],
    }
    log(f"reads with {'replicas' if replicas else 'the primary alone'}: {row}")
    return row


@contextlib.contextmanager
def streaming_replicas(count: int) -> Iterator[str]:
    """`count` streaming replicas of the benchmarked cluster (pg_basebackup -R), for this
    measurement only: replaying the other benchmarks' loads would take their CPU. Yields
    their URLs (the runtime role), comma-separated."""
    admin = urlsplit(os.environ["DATABASE_ADMIN_URL"])
    pgbin = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
    root = Path(tempfile.mkdtemp(prefix="bench_reads."))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(root, "postgres", "postgres")
    started, urls = [], []
    try:
        for index in range(count):
            data = root / f"replica_{index}"
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            subprocess.run(
                [*as_pg, str(pgbin / "pg_basebackup"), "-h", admin.hostname, "-p",
                 str(admin.port), "-U", admin.username, "-D", str(data), "-R", "-X", "stream",
                 "-c", "fast"],
                check=True, cwd=root, capture_output=True, timeout=600,
            )  # fmt: skip
            options = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c shared_buffers=1GB "
                "-c fsync=off -c max_connections=200"
            )
            subprocess.run(
                [*as_pg, str(pgbin / "pg_ctl"), "-D", str(data), "-l", str(root / f"{index}.log"),
                 "-o", options, "-w", "-t", "120", "start"],
                check=True, cwd=root, capture_output=True, timeout=180,
            )  # fmt: skip
            started.append(data)
            database = urlsplit(os.environ["DATABASE_URL"]).path
            urls.append(f"postgres://app:app@127.0.0.1:{port}{database}")
            log(f"replica {index} on port {port}")
        yield ",".join(urls)
    finally:
        for data in started:
            subprocess.run(
                [*as_pg, str(pgbin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                cwd=root, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


# --- 3. the responder through PgBouncer ----------------------------------------------------------


def measure_responder(targets: list[dict], label: str, env: dict[str, str]) -> list[dict]:
    server = bench_asa.Server(extra_env=env)
    try:
        bench_asa.measure(server, targets, rate=bench_asa.WARM_UP_RATE, label="warm-up")
        rows = [
            bench_asa.measure(server, targets, rate=rate, label=label)
            for rate in (bench_asa.REFERENCE_RATE // 2, bench_asa.REFERENCE_RATE, None)
        ]
    finally:
        server.stop()
    return [{**row, "label": label} for row in rows]


def run() -> dict:
    import django

    django.setup()
    from django.test import Client

    from accounts.api.throttling import ApiKeyRateThrottle
    from accounts.services import api_key_create
    from core.audit import system_actor

    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "1000000/min", "api_key_local": "1000000/min"}
    stored = bench_api._ensure_rows(bench_api._rows_wanted())
    card, history, _depth, _anchor, owner = bench_api.busiest_card()
    with system_actor("command:bench_reads"):
        _row, key = api_key_create(user=owner, name="bench_reads")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    transactions = {"card": str(card.token), "page_size": bench_api.PAGE_SIZE}
    cache_rows = measure_cache(
        client,
        card.account_id,
        [
            ("cards list", "/api/v1/cards/", {}),
            ("card products list", "/api/v1/card-products/", {}),
            ("transactions of a card (not cached)", "/api/v1/transactions/", transactions),
        ],
    )

    path = f"/api/v1/transactions/?card={card.token}&page_size={bench_api.PAGE_SIZE}"
    primary_only = measure_throughput(path, key, "")
    with streaming_replicas(REPLICAS) as replicas:
        with_replicas = measure_throughput(path, key, replicas)

    targets = bench_asa.prepare_targets()
    with psycopg.connect(bench_asa.harness_dsn()) as conn:
        bench_asa.install_targets(conn, targets)
    responder = measure_responder(targets, "direct, prepared", {})
    responder += measure_responder(
        targets, "direct, unprepared", {"DATABASE_PREPARED_STATEMENTS": "false"}
    )
    bouncer = os.environ.get("PGBOUNCER_URL")
    if bouncer:
        responder += measure_responder(
            targets,
            "through PgBouncer (transaction mode), unprepared",
            {"DATABASE_URL": bouncer, "DATABASE_PREPARED_STATEMENTS": "false"},
        )
    with psycopg.connect(bench_asa.harness_dsn()) as conn:
        conn.execute("DROP TABLE bench_asa_targets")
        conn.commit()

    lines = [
        f"### bench_reads: {stored:,} transactions (the busiest card has {history:,})",
        "",
        "| API request | API p50 ms | SQL p50 ms | API's own (p50) ms | statements |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r['case']} | {r['api']:.1f} | {r['sql']:.2f} | {r['api'] - r['sql']:.1f} | "
            f"{r['queries']} |"
            for r in cache_rows
        ),
        "",
        f"| reads ({CLIENTS} clients, {WEB_WORKERS} web workers, {SECONDS:.0f} s) | "
        "requests/s | p50 ms | answers |",
        "|---|---:|---:|---|",
        f"| primary alone | {primary_only['throughput']:.0f} | {primary_only['p50']:.1f} | "
        f"{primary_only['statuses']} |",
    ]
    lines.append(
        f"| primary + {REPLICAS} streaming replicas | {with_replicas['throughput']:.0f} | "
        f"{with_replicas['p50']:.1f} | {with_replicas['statuses']} |"
    )
    lines += [
        "",
        "| responder | offered | throughput/s | p50 ms | p95 ms | p99 ms | results |",
        "|---|---|---:|---:|---:|---:|---|",
        *(
            f"| {r['label']} | {r['offered']} | {r['throughput']:.0f} | {r['p50']:.1f} | "
            f"{r['p95']:.1f} | {r['p99']:.1f} | {r['results']} |"
            for r in responder
        ),
        "",
        f"Machine: {os.cpu_count()} CPUs shared by PostgreSQL, its replicas, PgBouncer, gunicorn "
        "and the load generator.",
    ]
    return {"results": [], "notes": lines}
