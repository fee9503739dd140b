"""Listing one card's transactions through the API, first page and a deep page, beside the SQL.

At BENCH_ROWS stored transactions (1,000,000 by default; what bench_load left, topped up with
`seed_demo --transactions-only` if short), `GET /api/v1/transactions/?card=<token>` goes through
the whole WSGI stack (middleware, API-key authentication, throttle, role check, filter, cursor
pagination, serialization) with Django's test client and a real API key. The baseline is the
page query that request ran, captured with CaptureQueriesContext and run as is with psycopg on
its own connection: the difference is what the API adds on top of the database.

The deep page is the page after the row at depth DEEP_ROW (50,000 by default, capped by the
card's history): its cursor is built the way DRF's CursorPagination builds `next`, from that
row's position, so no page before it has to be fetched.
"""

from __future__ import annotations

import base64
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import psycopg

from bench.dbroles import account_context, harness_dsn, policies_off

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROWS = 1_000_000
ITERATIONS = int(os.environ.get("BENCH_API_ITERATIONS", "50"))
DEEP_ROW = int(os.environ.get("BENCH_API_DEEP_ROW", "50000"))
PAGE_SIZE = 50
RLS_ROUNDS = int(os.environ.get("BENCH_RLS_ROUNDS", "3"))
SEED = 42
# What core.postgresql.base sends ahead of a statement that opens a transaction (context_sql),
# as Django's captured queries show it.
CONTEXT_PREFIX = re.compile(r"^SELECT set_config\([^;]*;\s*")


def _rows_wanted() -> int:
    raw = os.environ.get("BENCH_ROWS", "").replace("_", "")
    return int(raw) if raw else DEFAULT_ROWS


def _ensure_rows(rows: int) -> int:

    from bench.bench_load import seed_demo
    from cards.models import Card
    from transactions.models import Transaction

    if not Card.objects.exists():
        seed_demo("--accounts", "3", "--transactions", "0", "--seed", str(SEED))
    stored = Transaction.objects.count()
    if stored < rows:
        print(f"bench_api: adding {rows - stored:,} transactions", file=sys.stderr)
        seed_demo("--transactions-only", "--transactions", str(rows - stored), "--seed", "7")
        stored = Transaction.objects.count()
    # Fresh statistics, as autovacuum would have them in production: measured against a table
    # the planner has not seen since a million rows went in, the first page picks a bad plan
    # until autoanalyze happens to run in the middle of the measurement.
    # As the superuser: the runtime role may not ANALYZE (core.roles); autovacuum would.
    with psycopg.connect(harness_dsn(), autocommit=True) as conn:
        conn.execute(f'ANALYZE "{Transaction._meta.db_table}"')
    return stored


def _cursor(position: str) -> str:
    # DRF CursorPagination.encode_cursor for (offset 0, forward, position).
    return base64.b64encode(urlencode({"p": position}).encode("ascii")).decode("ascii")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _time_api(client, path: str, params: dict) -> list[float]:
    samples = []
    for _ in range(ITERATIONS):
        started = time.perf_counter()
        response = client.get(path, params, secure=True)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:300]
    return samples


def _page_sql(client, path: str, params: dict) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params, secure=True)
    assert response.status_code == 200
    assert len(response.json()["results"]) == PAGE_SIZE, "the page should be full"
    pages = [q["sql"] for q in captured.captured_queries if 'FROM "transactions"' in q["sql"]]
    assert pages, "the request ran no query on transactions"
    return without_context(pages[-1])


def without_context(sql: str) -> str:
    """A captured statement without the tenant context the backend sends in front of it
    (core.postgresql.base): the harness sends the context itself."""
    return CONTEXT_PREFIX.sub("", sql, count=1)


def _time_sql(conn: psycopg.Connection, query: str, context: str) -> list[float]:
    """The page query as the runtime role, in the caller's account context, as the API runs
    it: the context and the query go in one round trip (core.postgresql)."""
    samples = []
    for _ in range(ITERATIONS):
        started = time.perf_counter()
        cursor = conn.execute(f"{context}; {query}")
        cursor.nextset()
        rows = cursor.fetchall()
        samples.append(time.perf_counter() - started)
        assert rows
    conn.commit()
    return samples


def _median(rounds: list[tuple[float, float]]) -> tuple[float, float]:
    """The round (p50, p95) whose p50 is the median (the lower middle one for an even count)."""
    return sorted(rounds)[(len(rounds) - 1) // 2]


def busiest_card():
    """The card with the most transactions, its count, the deep page's depth and the date of
    the row there, and the owner of its account."""
    from django.db.models import Count

    from accounts.models import Role, User
    from cards.models import Card
    from transactions.models import Transaction

    busiest = Transaction.objects.values("card_id").annotate(n=Count("id")).order_by("-n").first()
    card = Card.objects.select_related("account").get(pk=busiest["card_id"])
    depth = min(DEEP_ROW, max(busiest["n"] - PAGE_SIZE - 1, 1))
    anchor = (
        Transaction.objects.filter(card=card)
        .order_by("-transaction_date", "-id")
        .values_list("transaction_date", flat=True)[depth - 1]
    )
    owner = User.objects.filter(account=card.account, role=Role.OWNER).order_by("id").first()
    return card, busiest["n"], depth, anchor, owner


def run() -> dict:
    import django

    django.setup()
    from django.test import Client

    from accounts.api.throttling import ApiKeyRateThrottle
    from accounts.services import api_key_create
    from core.audit import system_actor

    # The benchmark measures the list, not the request budget.
    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "1000000/min"}

    stored = _ensure_rows(_rows_wanted())
    card, history, depth, anchor, owner = busiest_card()
    with system_actor("command:bench_api"):
        _api_key, key = api_key_create(user=owner, name="bench_api")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    path = "/api/v1/transactions/"
    cases = [
        ("first page", {"card": str(card.token), "page_size": PAGE_SIZE}),
        (
            f"deep page (after row {depth:,})",
            {"card": str(card.token), "page_size": PAGE_SIZE, "cursor": _cursor(str(anchor))},
        ),
    ]
    print(
        f"bench_api: {stored:,} transactions; card {card.token} has {history:,}; "
        f"{ITERATIONS} iterations each",
        file=sys.stderr,
    )

    lines = [
        f"### bench_api: one card's transactions at {stored:,} stored "
        f"(card with {history:,}, page of {PAGE_SIZE}, {ITERATIONS} iterations)",
        "",
        "| page | API p50 ms | API p95 ms | SQL p50 ms | SQL p95 ms | API / SQL (p50) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    plans = []
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        for label, params in cases:
            query = _page_sql(client, path, params)
            client.get(path, params, secure=True)  # warm
            api = _percentiles(_time_api(client, path, params))
            sql = _percentiles(_time_sql(conn, query, account_context(card.account_id)))
            lines.append(
                f"| {label} | {api[0]:.1f} | {api[1]:.1f} | {sql[0]:.2f} | {sql[1]:.2f} | "
                f"{api[0] / sql[0]:.1f} |"
            )
            conn.execute(account_context(card.account_id))
            plan = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + query).fetchall()
            conn.commit()
            plans += ["", f"Plan of the {label} query:", "", "```", *(r[0] for r in plan), "```"]
    # Row-level security's cost: the first page with the policies off, then on again, in turns
    # (BENCH_RLS_ROUNDS each way); the median of each side's p50s.
    # Beside each, the page's query alone (planned and run as the API has it: client-side
    # binding, so planned every time), which is where the policies act.
    first_label, first_params = cases[0]
    first_query = _page_sql(client, path, first_params)
    context = account_context(card.account_id)
    offs, ons, sql_offs, sql_ons = [], [], [], []
    runtime = os.environ["DATABASE_URL"]
    with psycopg.connect(harness_dsn()) as admin, psycopg.connect(runtime) as conn:
        for _ in range(RLS_ROUNDS):
            with policies_off(admin):
                client.get(path, first_params, secure=True)
                offs.append(_percentiles(_time_api(client, path, first_params)))
                sql_offs.append(_percentiles(_time_sql(conn, first_query, context)))
            client.get(path, first_params, secure=True)
            ons.append(_percentiles(_time_api(client, path, first_params)))
            sql_ons.append(_percentiles(_time_sql(conn, first_query, context)))
    off, on = _median(offs), _median(ons)
    sql_off, sql_on = _median(sql_offs), _median(sql_ons)
    rounds = f"median of {RLS_ROUNDS}"
    lines.append(
        f"| {first_label}, policies off ({rounds}) | {off[0]:.1f} | {off[1]:.1f} | "
        f"{sql_off[0]:.2f} | {sql_off[1]:.2f} | |"
    )
    lines.append(
        f"| {first_label}, policies on ({rounds}) | {on[0]:.1f} | {on[1]:.1f} | "
        f"{sql_on[0]:.2f} | {sql_on[1]:.2f} | |"
    )
    lines += [
        "",
        f"Row-level security on the API's first page, {RLS_ROUNDS} rounds each way in turns: "
        f"median p50 {on[0]:.1f} ms with the policies ({', '.join(f'{r[0]:.1f}' for r in ons)}), "
        f"{off[0]:.1f} ms without ({', '.join(f'{r[0]:.1f}' for r in offs)}): "
        f"{on[0] / off[0] - 1:+.1%} (target under +5%). Its query alone: median p50 "
        f"{sql_on[0]:.2f} ms with the policies, {sql_off[0]:.2f} ms without "
        f"({sql_on[0] - sql_off[0]:+.2f} ms).",
    ]
    lines += plans
    return {"results": [], "notes": lines}
