"""The partitioned transactions table at 1,000,000 and at 10,000,000 rows, in one run.

1. Loading: plain COPY of a ready CSV file of BENCH_SCALE_ROWS rows into the empty partitioned
   table (the baseline: the server's own load speed, the key trigger included), then, emptied
   again, `seed_demo --transactions-only` of BENCH_SCALE_BASE rows and of the rest up to
   BENCH_SCALE_ROWS (timed as whole processes; peak RSS of each).
2. Two databases side by side: the benchmarked one holds BENCH_SCALE_BASE rows; a copy of it
   (CREATE DATABASE ... TEMPLATE) receives the rest. Both are vacuumed and analyzed, and every
   dirty page is written out (CHECKPOINT, sync).
3. BENCH_SCALE_ROUNDS rounds (default 3) measure both databases, in alternating order (small
   then big, big then small, ...), so that a machine growing slower or faster during the run
   weighs on both sizes alike. Each round and size:
   - the responder (`config.asa_wsgi` under gunicorn) at 100 and 200 requests/s, p50 and p99
     (BENCH_SCALE_ASA_RATES);
   - the API's first page and a deep page of the busiest card's transactions;
   - the admin's transactions changelist: first page, filtered by status, by card, by a
     month's date range, searched by token, and the last page;
   - two controls whose cost does not depend on the table (CPU work in the bench process, a
     query on no table): a ratio far from 1 there means the machine changed, not the table.
   Each figure is the median of its rounds; the median at the big size is divided by the
   median at the base size (target <= 1.2), and the spread of the rounds' own ratios is shown.

Each database is served with its own cache key prefix, so no cached page of one is read for
the other. Pages are measured in a fresh process per database (its DATABASE_URL).

Knobs: BENCH_SCALE_ROWS (default 10,000,000), BENCH_SCALE_BASE (default 1,000,000),
BENCH_SCALE_ROUNDS, BENCH_ASA_SECONDS (per responder measurement), BENCH_SCALE_ITERATIONS
(requests per page), BENCH_SCALE_COPY=0 (no COPY baseline: about 11 minutes shorter).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import bench_api, bench_asa, bench_load
from bench.dbroles import account_context, harness_dsn

SEED = 42
# The target's rate, and half of it: a machine that cannot answer 200/s measures its queue
# there, at both sizes alike, and the lower rate still shows what the table size costs.
RATES = tuple(int(r) for r in os.environ.get("BENCH_SCALE_ASA_RATES", "100,200").split(","))
ITERATIONS = int(os.environ.get("BENCH_SCALE_ITERATIONS", "60"))
WITH_COPY = os.environ.get("BENCH_SCALE_COPY", "1") != "0"
ROUNDS = int(os.environ.get("BENCH_SCALE_ROUNDS", "3"))
ROOT = Path(__file__).resolve().parent.parent
BIG_DATABASE_SUFFIX = "_scale_big"
TABLES = (
    "transactions, transaction_keys, transaction_events, spend_counters, ledger_entries, "
    "account_funds, unmatched_authorizations, transaction_enhanced_data, disputes, "
    "dispute_events, transactions_retired_spend"
)


def _rows(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "")
    return int(raw) if raw else default


def log(message: str) -> None:
    print(f"bench_scale: {message}", file=sys.stderr, flush=True)


def empty(conn: psycopg.Connection) -> None:
    conn.execute(f"TRUNCATE {TABLES}")
    conn.commit()


def analyze(conn: psycopg.Connection) -> None:
    """VACUUM, ANALYZE, then every dirty page written out, so both sizes are measured on a
    quiet machine.

    VACUUM too: after millions of inserts autovacuum would otherwise run its insert-driven
    vacuum of every partition during the measurements, on the same cores. Then CHECKPOINT and
    sync(2): a load of 10,000,000 rows leaves gigabytes of dirty pages in shared_buffers and
    in the kernel's cache, and their writing-out would otherwise go on during the measurements
    at the big size only.
    """
    conn.commit()
    conn.autocommit = True
    try:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    finally:
        conn.autocommit = False
    os.sync()


def controls(conn: psycopg.Connection) -> dict[str, float]:
    """Work whose cost does not depend on the table's size (best of 5, ms): if the machine got
    slower between the two sizes, these show it, and the ratios above them are suspect."""
    cpu, sql = [], []
    for _ in range(5):
        started = time.perf_counter()
        hashlib.pbkdf2_hmac("sha256", b"bench", b"scale", 100_000)
        cpu.append(time.perf_counter() - started)
        started = time.perf_counter()
        conn.execute("SELECT sum(i) FROM generate_series(1, 1000000) AS i").fetchone()
        sql.append(time.perf_counter() - started)
    conn.commit()
    return {
        "control: CPU work in the bench process (best of 5)": min(cpu) * 1000,
        "control: a query on no table, in PostgreSQL (best of 5)": min(sql) * 1000,
    }


def count(conn: psycopg.Connection) -> int:
    found = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
    conn.commit()
    return found


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(client, path: str, params: dict, *, expect_rows: bool = True) -> float:
    client.get(path, params, secure=True)  # warm
    samples = []
    for _ in range(ITERATIONS):
        started = time.perf_counter()
        response = client.get(path, params, secure=True)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, params, response.status_code)
    if expect_rows:
        assert b"result_list" in response.content or b'"results"' in response.content, path
    return _p50(samples)


def measure_pages(size_label: str) -> tuple[dict[str, float], list[str]]:
    """API and admin pages: p50 ms of each, by name, and the plan of the API's first page."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.api.throttling import ApiKeyRateThrottle
    from accounts.models import User
    from accounts.services import api_key_create, user_create
    from core.audit import system_actor
    from transactions import partitioning
    from transactions.models import Transaction

    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "1000000/min"}
    card, _history, _depth, anchor, owner = bench_api.busiest_card()
    with system_actor("command:bench_scale"):
        _key, secret = api_key_create(user=owner, name=f"bench_scale {size_label}")
        operator = User.objects.filter(email="bench-ops@cardops.test").first() or user_create(
            email="bench-ops@cardops.test",
            account=None,
            password=secrets.token_urlsafe(24),  # never typed: the client is logged in
            is_staff=True,
            is_superuser=True,
        )
    figures = {}
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    path = "/api/v1/transactions/"
    first = {"card": str(card.token), "page_size": bench_api.PAGE_SIZE}
    figures["API first page"] = _timed(api, path, first)
    figures["API deep page"] = _timed(
        api, path, {**first, "cursor": bench_api._cursor(str(anchor))}
    )
    # The first page's query as the API ran it, explained as the runtime role in the account's
    # context: where the time goes at each size.
    query = bench_api._page_sql(api, path, first)
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        samples = bench_api._time_sql(conn, query, account_context(card.account_id))
        figures["API first page, its SQL alone"] = _p50(samples)
        conn.execute(account_context(card.account_id))
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query).fetchall()

    admin = Client()
    admin.force_login(operator)
    # The second factor as the login's pages would record it (accounts.console).
    device = TOTPDevice.objects.filter(user=operator, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=operator, name="bench", confirmed=True)
    session = admin.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    changelist = "/admin/transactions/transaction/"
    month = partitioning.month_start(partitioning.now_utc(), -1)
    month_end = partitioning.month_start(partitioning.now_utc(), 0)
    some = Transaction.objects.filter(card=card).order_by("-transaction_date", "-id").first()
    # The page count the changelist itself shows (its paginator, estimated at this size).
    from core.admin import EstimatedCountPaginator
    from transactions.admin import TransactionAdmin

    last_page = EstimatedCountPaginator(
        Transaction.objects.order_by("-transaction_date", "-id"), TransactionAdmin.list_per_page
    ).num_pages
    cases = {
        "admin first page": {},
        "admin filtered by status": {"status__exact": "DECLINED"},
        "admin filtered by card": {"card__id__exact": str(card.pk)},
        "admin by date range (a month)": {
            "transaction_date__gte": month.isoformat(),
            "transaction_date__lt": month_end.isoformat(),
        },
        "admin search by token": {"q": str(some.token)},
        "admin last page": {"p": str(last_page)},
    }
    for name, params in cases.items():
        figures[name] = _timed(admin, changelist, params)
    log(f"{size_label}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in figures.items()))
    return figures, [row[0] for row in plan]


def measure_responder(targets: list[dict]) -> dict[str, float]:
    server = bench_asa.Server()
    try:
        bench_asa.measure(server, targets, rate=bench_asa.WARM_UP_RATE, label="warm-up")
        figures = {}
        for rate in RATES:
            row = bench_asa.measure(server, targets, rate=rate, label="ours")
            figures[f"ASA p50 at {rate}/s"] = row["p50"]
            figures[f"ASA p99 at {rate}/s"] = row["p99"]
    finally:
        server.stop()
    return figures


def _pages_main(size_label: str) -> None:
    """`python -m bench.bench_scale pages LABEL`: measure_pages in this process, on the
    database of its DATABASE_URL, the result as JSON on stdout."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from core.tenancy import system_scope

    # The harness finds the busiest card through the ORM under row-level security, as
    # bench/run.py does; the requests it measures set their own context.
    with system_scope("bench:bench_scale"):
        figures, plan = measure_pages(size_label)
    print(json.dumps({"figures": figures, "plan": plan}))


def pages_in_subprocess(size_label: str) -> tuple[dict[str, float], list[str]]:
    """measure_pages in a fresh process on the current DATABASE_URL (see `database`)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_scale", "pages", size_label],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["figures"], result["plan"]


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def database(name: str) -> Iterator[None]:
    """Every process started in the block (seed_demo, gunicorn, the pages, check_ledger) works
    on database `name` of the same cluster, with a cache key prefix of its own."""
    keys = ("DATABASE_URL", "DATABASE_MIGRATE_URL", "CACHE_KEY_PREFIX")
    saved = {key: os.environ.get(key) for key in keys}
    for key in keys[:2]:
        if saved[key]:
            os.environ[key] = _with_database(saved[key], name)
    os.environ["CACHE_KEY_PREFIX"] = f"bench_scale_{name}"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def harness(name: str) -> psycopg.Connection:
    """The superuser's connection to database `name`."""
    return psycopg.connect(_with_database(harness_dsn(), name))


def copy_database(source: str, target: str) -> None:
    """`target` as a file copy of `source`, which nobody may be connected to meanwhile."""
    with psycopg.connect(_with_database(harness_dsn(), "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target)))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (source,),
        )
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (source,)
        ).fetchone()[0]
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {} STRATEGY FILE_COPY").format(
                sql.Identifier(target), sql.Identifier(source), sql.Identifier(owner)
            )
        )


def drop_database(name: str) -> None:
    with psycopg.connect(_with_database(harness_dsn(), "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def measure_size(name: str, label: str, targets: list[dict]) -> tuple[dict[str, float], list[str]]:
    """One round's figures for database `name`: controls, the responder, the pages."""
    with harness(name) as conn:
        figures = controls(conn)
    with database(name):
        figures.update(measure_responder(targets))
        pages, plan = pages_in_subprocess(label)
    figures.update(pages)
    return figures, plan


def run() -> dict:
    import django

    django.setup()
    from django.db import connections

    from accounts.models import Account

    big, base = _rows("BENCH_SCALE_ROWS", 10_000_000), _rows("BENCH_SCALE_BASE", 1_000_000)
    if not 0 < base < big:
        raise SystemExit("bench_scale needs 0 < BENCH_SCALE_BASE < BENCH_SCALE_ROWS")
    if ROUNDS < 1:
        raise SystemExit("bench_scale needs BENCH_SCALE_ROUNDS >= 1")
    small_db = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
    big_db = small_db + BIG_DATABASE_SUFFIX
    log(f"{base:,} rows in {small_db}, {big:,} in {big_db}, {ROUNDS} rounds")
    if not Account.all_objects.exists():
        bench_load.seed_demo("--accounts", "3", "--transactions", "0", "--seed", str(SEED))
    targets = bench_asa.prepare_targets()
    connections.close_all()
    loads = []
    with harness(small_db) as conn:
        bench_asa.install_targets(conn, targets)
        empty(conn)
        copy_seconds = None
        if WITH_COPY:
            # The baseline first: the same generator's rows as a CSV file, COPY'd by the server.
            with tempfile.TemporaryDirectory(prefix="bench_scale.") as tmp:
                path = Path(tmp) / "transactions.csv"
                started = time.perf_counter()
                bench_load.write_csv(path, big)
                log(f"wrote {path.stat().st_size / 2**20:,.0f} MiB of CSV in "
                    f"{time.perf_counter() - started:.0f} s (not timed)")  # fmt: skip
                copy_seconds = bench_load.copy_csv(conn, path)
            if count(conn) != big:
                raise RuntimeError("the COPY did not load every row")
            loads.append(("baseline: COPY FROM STDIN (FORMAT csv) of a ready file", big,
                          copy_seconds, None))  # fmt: skip
            log(f"COPY: {big:,} rows in {copy_seconds:.0f} s")
            empty(conn)

        seconds, rss = bench_load.seed_demo(
            "--transactions-only", "--transactions", str(base), "--seed", str(SEED)
        )
        loads.append(("seed_demo --transactions-only, first part", base, seconds, rss))
        analyze(conn)
    seed_base = seconds

    # The big database starts as a copy of the small one and receives the rest.
    started = time.perf_counter()
    copy_database(small_db, big_db)
    log(f"copied {small_db} to {big_db} in {time.perf_counter() - started:.0f} s")
    try:
        with database(big_db):
            seconds, rss = bench_load.seed_demo(
                "--transactions-only", "--transactions", str(big - base), "--seed", str(SEED + 1)
            )
        loads.append(("seed_demo --transactions-only, the rest", big - base, seconds, rss))
        with harness(big_db) as conn:
            found = count(conn)
            analyze(conn)
        seed_total = seed_base + seconds

        sizes = {small_db: f"{base:,}", big_db: f"{found:,}"}
        rounds: dict[str, list[dict[str, float]]] = {small_db: [], big_db: []}
        plans: dict[str, list[str]] = {}
        for number in range(ROUNDS):
            order = (small_db, big_db) if number % 2 == 0 else (big_db, small_db)
            for name in order:
                log(f"round {number + 1} of {ROUNDS}: {sizes[name]} rows")
                figures, plans[name] = measure_size(name, sizes[name], targets)
                rounds[name].append(figures)
        for name in (small_db, big_db):
            with database(name):
                bench_asa.manage("check_ledger")
    finally:
        drop_database(big_db)
    with harness(small_db) as conn:
        conn.execute("DROP TABLE bench_asa_targets")
        conn.commit()

    seed_rate = big / seed_total
    lines = [
        f"### bench_scale: {base:,} and {big:,} transactions in one run, {ROUNDS} rounds",
        "",
        "| load | rows | seconds | rows/s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {rows:,} | {secs:.1f} | {rows / secs:,.0f} | "
            f"{'n/a' if mib is None else f'{mib:.0f}'} |"
            for name, rows, secs, mib in loads
        ),
        "",
        (
            f"seed_demo loaded {big:,} rows at {seed_rate:,.0f} rows/s, plain COPY at "
            f"{big / copy_seconds:,.0f} rows/s: {seed_rate * copy_seconds / big:.0%} of COPY "
            "(target >= 80%)."
            if copy_seconds
            else f"seed_demo loaded {big:,} rows at {seed_rate:,.0f} rows/s (BENCH_SCALE_COPY=0: "
            "no COPY baseline in this run)."
        ),
        "",
        f"Medians of {ROUNDS} rounds, the sizes measured in alternating order.",
        "",
        f"| p50 ms (ASA: as named) | at {base:,} | at {found:,} | ratio (target <= 1.2) "
        "| rounds' ratios |",
        "|---|---:|---:|---:|---|",
    ]
    for name in rounds[small_db][0]:
        smalls = [r[name] for r in rounds[small_db]]
        larges = [r[name] for r in rounds[big_db]]
        small, large = statistics.median(smalls), statistics.median(larges)
        each = ", ".join(f"{b / a:.2f}" for a, b in zip(smalls, larges, strict=True))
        lines.append(f"| {name} | {small:.1f} | {large:.1f} | {large / small:.2f} | {each} |")
    lines += ["", "check_ledger passed on both databases after the run."]
    for name, plan in plans.items():
        lines += ["", f"The API's first page at {sizes[name]} rows (last round):", "", "```",
                  *plan, "```"]  # fmt: skip
    return {"results": [], "notes": lines}


if __name__ == "__main__":
    if sys.argv[1:2] != ["pages"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m bench.bench_scale pages SIZE_LABEL")
    _pages_main(sys.argv[2])
