"""The console's pages against Django's stock ModelAdmin of the same models, on
BENCH_ADMIN_ROWS transactions (default 10,000,000, in the partitioned table), in one run.

1. Load: `seed_demo` (its bulk path) up to BENCH_ADMIN_ROWS transactions, VACUUM ANALYZE, then
   `refresh_rollups` over the loaded year (timed: what a restore or a bulk load costs once).
2. In a fresh process (bench/settings.py: the console and, at /admin/stock/, the
   stock admin, bench/stock_admin.py), each page as a logged-in operator, p50 of
   BENCH_ADMIN_ITERATIONS requests for ours and of BENCH_ADMIN_STOCK_ITERATIONS for stock
   (its slow pages take seconds each):
   - the overview (stock: the same figures read from `transactions`);
   - the transaction list: first page, each filter (status, declined reason, a month's dates,
     an amount range, a card, an MCC, an account), a search by merchant, the last page;
   - a card's page.
Targets: every page of ours under 300 ms, and at least 10x faster than stock where stock
counts or scans the table.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench import bench_load
from bench.dbroles import harness_dsn

ROOT = Path(__file__).resolve().parent.parent
SEED = 42
ROWS = int(os.environ.get("BENCH_ADMIN_ROWS", "10000000"))
ITERATIONS = int(os.environ.get("BENCH_ADMIN_ITERATIONS", "20"))
STOCK_ITERATIONS = int(os.environ.get("BENCH_ADMIN_STOCK_ITERATIONS", "3"))
TARGET_MS = 300


def log(message: str) -> None:
    print(f"[bench_admin] {message}", file=sys.stderr, flush=True)


def _timed(client, path: str, params: dict, iterations: int) -> float:
    first = client.get(path, params, secure=True)  # warm: caches, connections
    assert first.status_code == 200, (path, params, first.status_code, first.get("Location"))
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        response = client.get(path, params, secure=True)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, params, response.status_code)
    return statistics.median(samples) * 1000


def measure_pages() -> dict[str, dict[str, float]]:
    """{page: {"ours": ms, "stock": ms}}, as a superuser operator with the second factor."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from accounts.services import user_create
    from cards.models import Card
    from core.admin import EstimatedCountPaginator
    from core.audit import system_actor
    from transactions import partitioning
    from transactions.admin import TransactionAdmin
    from transactions.models import Transaction

    with system_actor("command:bench_admin"):
        operator = User.objects.filter(email="bench-ops@cardops.test").first() or user_create(
            email="bench-ops@cardops.test", account=None, password=secrets.token_urlsafe(24),
            is_staff=True, is_superuser=True,
        )  # fmt: skip
    client = Client()
    client.force_login(operator)
    device = TOTPDevice.objects.filter(user=operator, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=operator, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()

    # The newest transaction of a live card (the stock admin does not show deleted ones).
    newest = (
        Transaction.objects.filter(card__deleted__isnull=True)
        .order_by("-transaction_date", "-id")
        .first()
    )
    card = Card.objects.get(pk=newest.card_id)
    merchant = newest.merchant_descriptor
    month = partitioning.month_start(partitioning.now_utc(), -1)
    month_end = partitioning.month_start(partitioning.now_utc(), 0)
    ours_last = EstimatedCountPaginator(
        Transaction.objects.order_by("-transaction_date", "-id"), TransactionAdmin.list_per_page
    ).num_pages
    stock_last = -(-Transaction.objects.count() // TransactionAdmin.list_per_page)
    dates = {"transaction_date__gte": month.isoformat(),
             "transaction_date__lt": month_end.isoformat()}  # fmt: skip
    ours_list, stock_list = (
        "/admin/transactions/transaction/",
        "/admin/stock/transactions/transaction/",
    )
    cases = {
        "overview": ("/admin/", {}, "/admin/stock/overview/", {}),
        "list: first page": (ours_list, {}, stock_list, {}),
        "list: status declined": (ours_list, {"status__exact": "DECLINED"},
                                  stock_list, {"status__exact": "DECLINED"}),
        "list: declined reason": (ours_list, {"result__exact": "INSUFFICIENT_FUNDS"},
                                  stock_list, {"result__exact": "INSUFFICIENT_FUNDS"}),
        "list: a month's dates": (ours_list, dates, stock_list, dates),
        "list: amount range": (ours_list, {"amount__gte": "100", "amount__lte": "150"},
                               stock_list, {"amount__gte": "100", "amount__lte": "150"}),
        "list: a card": (ours_list, {"card": str(card.token)},
                         stock_list, {"card__id__exact": str(card.pk)}),
        "list: an MCC": (ours_list, {"mcc__exact": newest.mcc},
                         stock_list, {"mcc__exact": newest.mcc}),
        "list: an account": (ours_list, {"account__id__exact": str(card.account_id)},
                             stock_list, {"account__id__exact": str(card.account_id)}),
        "list: search by merchant": (ours_list, {"q": merchant[:6].lower()},
                                     stock_list, {"q": merchant[:6].lower()}),
        "list: last page": (ours_list, {"p": str(ours_last)}, stock_list, {"p": str(stock_last)}),
        "a card's page": (f"/admin/cards/card/{card.pk}/change/", {},
                          f"/admin/stock/cards/card/{card.pk}/change/", {}),
    }  # fmt: skip
    figures = {}
    for name, (ours_path, ours_params, stock_path, stock_params) in cases.items():
        ours = _timed(client, ours_path, ours_params, ITERATIONS)
        stock = _timed(client, stock_path, stock_params, STOCK_ITERATIONS)
        figures[name] = {"ours": ours, "stock": stock}
        log(f"{name}: ours {ours:.1f} ms, stock {stock:.1f} ms")
    return figures


def _pages_main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from core.tenancy import system_scope

    with system_scope("bench:bench_admin"):
        figures = measure_pages()
    print(json.dumps(figures))


def pages_in_subprocess() -> dict[str, dict[str, float]]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_admin", "pages"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, env=env,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> dict:
    import django

    django.setup()
    from django.db import connections

    from accounts.models import Account
    from transactions.models import Transaction

    if not Account.all_objects.exists():
        bench_load.seed_demo("--accounts", "3", "--transactions", "0", "--seed", str(SEED))
    have = Transaction.objects.count()
    connections.close_all()
    loads = []
    if have < ROWS:
        log(f"loading {ROWS - have:,} transactions")
        seconds, rss = bench_load.seed_demo(
            "--transactions-only", "--transactions", str(ROWS - have), "--seed", str(SEED)
        )
        loads.append({"benchmark": "bench_admin: seed_demo --transactions-only",
                      "rows": ROWS - have, "seconds": seconds, "peak_rss_mib": rss})  # fmt: skip
    with psycopg.connect(harness_dsn(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "refresh_rollups", "--days", "400"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    rollup_seconds = time.perf_counter() - started
    log(f"refresh_rollups --days 400: {rollup_seconds:.1f} s")
    figures = pages_in_subprocess()
    lines = [
        f"bench_admin: the console against Django's stock ModelAdmin, {ROWS:,} transactions "
        f"(p50 of {ITERATIONS} requests for ours, {STOCK_ITERATIONS} for stock); "
        f"refresh_rollups over 400 days took {rollup_seconds:.1f} s.",
        "",
        "| page | ours ms | stock ms | stock / ours | ours under 300 ms |",
        "|---|---:|---:|---:|---|",
    ]
    for name, row in figures.items():
        ratio = row["stock"] / row["ours"] if row["ours"] else float("inf")
        lines.append(
            f"| {name} | {row['ours']:.1f} | {row['stock']:.1f} | {ratio:.1f}x | "
            f"{'yes' if row['ours'] < TARGET_MS else 'NO'} |"
        )
    return {"results": loads, "notes": ["\n".join(lines)]}


if __name__ == "__main__":
    if sys.argv[1:] == ["pages"]:
        _pages_main()
