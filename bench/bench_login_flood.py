"""The console's login page flooded with wrong passwords, and the responder beside it.

In one run, the responder (`config.asa_wsgi` under gunicorn) answers 200 authorizations a
second while the web processes (`config.wsgi`, at nice 10 as docs/operations.md deploys them on
a shared host) take 8 clients posting wrong passwords to `/admin/login/` as fast as they are
answered:
- the web quiet (the reference);
- the flood from one address: django-axes locks it out after 10 failures, and every later
  attempt is refused before hashing;
- the flood from a new address and email each time (a botnet): no lockout applies, and the
  login page's budget of password checks (LOGIN_PASSWORD_CHECKS_PER_SECOND, default 2 a
  second across the processes) refuses the rest with 429 before hashing;
- the same botnet flood with the budget off: every attempt costs an Argon2 hash (the baseline).

Each row: password checks made per second (answers 200), attempts refused per second (429),
and the responder's p50 and p99 meanwhile. The flood's clients run in a process of their own,
so that they do not share the load generator's interpreter (its GIL) and delay its requests.
"""

from __future__ import annotations

import multiprocessing
import sys
import time

import psycopg

from bench import bench_asa, bench_load
from bench.dbroles import harness_dsn

SEED = 42
RATE = bench_asa.REFERENCE_RATE


def log(message: str) -> None:
    print(f"bench_login_flood: {message}", file=sys.stderr, flush=True)


def forget_failures() -> None:
    """No lockout carried from one case to the next."""
    with psycopg.connect(harness_dsn()) as conn:
        conn.execute("DELETE FROM axes_accessattemptexpiration")
        conn.execute("DELETE FROM axes_accessattempt")


def _flood_process(port: int, spread: bool, stop, answers) -> None:
    """The flood's clients (bench_asa.Flood's threads), every answer timed, sent back at the
    end."""
    flood = bench_asa.Flood(port, "", spread=spread, api=False)
    timed: list[tuple[float, str]] = []
    original = flood._count

    def count(key: str) -> None:
        original(key)
        if key.startswith("logins ") or key == "errors":
            timed.append((time.time(), key))

    flood._count = count
    flood.start()
    stop.wait()
    flood.stop()
    answers.put(timed)


def flooded(server, targets, web_env: dict[str, str], *, spread: bool) -> dict:
    forget_failures()
    web = bench_asa.Server(
        app="config.wsgi:application", workers=bench_asa.WORKERS, nice=10, extra_env=web_env
    )
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no pool threads forked
    stop, answers = context.Event(), context.Queue()
    flood = context.Process(target=_flood_process, args=(web.port, spread, stop, answers))
    try:
        flood.start()
        time.sleep(2)
        started = time.time()
        row = bench_asa.measure(server, targets, rate=RATE, label="ours, login flood")
        ended = time.time()
    finally:
        stop.set()
        timed = answers.get(timeout=120)
        flood.join(timeout=60)
        web.stop()

    def per_second(key: str) -> float:
        inside = [t for t, k in timed if k == key and started <= t <= ended]
        return len(inside) / (ended - started)

    row.update(checked=per_second("logins 200"), refused=per_second("logins 429"),
               errors=per_second("errors"))  # fmt: skip
    log(f"{'spread' if spread else 'one address'}: {row['checked']:.1f} checks/s, "
        f"{row['refused']:.1f} refused/s, {row['errors']:.1f} errors/s")  # fmt: skip
    return row


def run() -> dict:
    import django

    django.setup()
    from accounts.models import Account

    if not Account.all_objects.exists():
        bench_load.seed_demo("--accounts", "3", "--transactions", "0", "--seed", str(SEED))
    targets = bench_asa.prepare_targets()
    with psycopg.connect(harness_dsn()) as conn:
        bench_asa.install_targets(conn, targets)
    # The web trusts one proxy, so that the botnet's X-Forwarded-For is its address.
    web_env = {"TRUSTED_PROXY_COUNT": "1"}
    server = bench_asa.Server()
    rows = []
    try:
        bench_asa.measure(server, targets, rate=bench_asa.WARM_UP_RATE, label="warm-up")
        quiet = bench_asa.measure(server, targets, rate=RATE, label="ours, web quiet")
        rows.append(("web quiet", {**quiet, "checked": 0.0, "refused": 0.0}))
        rows.append(("flood from one address", flooded(server, targets, web_env, spread=False)))
        rows.append(
            ("flood from a new address each time", flooded(server, targets, web_env, spread=True))
        )
        rows.append(
            (
                "the same, budget off (baseline)",
                flooded(server, targets, {**web_env, "LOGIN_PASSWORD_CHECKS_PER_SECOND": "0"},
                        spread=True),
            )
        )  # fmt: skip
    finally:
        server.stop()
    with psycopg.connect(harness_dsn()) as conn:
        conn.execute("DROP TABLE bench_asa_targets")
    forget_failures()

    lines = [
        f"### bench_login_flood: the responder at {RATE}/s beside a flooded login page",
        "",
        f"{bench_asa.FLOOD_LOGINS} clients post wrong passwords to /admin/login/; the web "
        "processes run at nice 10.",
        "",
        "| case | password checks/s (200) | refused before hashing/s (429) | ASA p50 ms "
        "| ASA p99 ms | ASA results |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, row in rows:
        results = ", ".join(f"{k} {v}" for k, v in sorted(row["results"].items()))
        lines.append(
            f"| {name} | {row['checked']:.1f} | {row['refused']:.1f} | {row['p50']:.1f} "
            f"| {row['p99']:.1f} | {results} |"
        )
    return {"results": [], "notes": lines}
