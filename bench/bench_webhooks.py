"""Lithic's event webhooks: receiving signed deliveries over HTTP, and applying them.

In one run, on one database and machine:
- ours: gunicorn serving config.wsgi, `POST /webhooks/lithic/` closed loop at a fixed
  concurrency, every request a freshly signed `card_transaction.updated` delivery under a new
  webhook-id (one in 50 a re-delivery of an earlier one, as Lithic retries); every 200 "stored"
  must be a new row in `webhooks`, every re-delivery must be answered "duplicate";
- the floor: pgbench running the endpoint's own INSERT (webhooks.services._INSERT_SQL) with
  payloads of the same size, at the same concurrency and for as long;
- processing: N stored events that are real lifecycles on the demo cards (an authorization,
  then its clearing or its void, each transaction new) applied by
  `manage.py process_webhooks --once`, by one worker process and then, on the same events with
  the tables reset, by two side by side. Each event must end PROCESSED exactly once, and
  `check_ledger` must pass after each run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg

from bench.bench_asa import (
    MANAGE,
    ROOT,
    SEED,
    Server,
    _closed_loop,
    _env_int,
    _pgbench_sql,
    manage,
    percentile,
    prepare_targets,
    reset,
    run_pgbench,
    signed_post,
)
from bench.dbroles import harness_dsn

SECONDS = _env_int("BENCH_WEBHOOKS_SECONDS", 15)
CONCURRENCY = _env_int("BENCH_WEBHOOKS_CONCURRENCY", 8)
EVENTS = _env_int("BENCH_WEBHOOKS_EVENTS", 10_000)
WORKERS = _env_int("BENCH_WEBHOOKS_WORKERS", max(2, 2 * (os.cpu_count() or 1)))
SECRET = "whsec_" + "YmVuY2gtd2ViaG9va3Mtc2VjcmV0LTAxMjM0NTY3ODk="
PATH = "/webhooks/lithic/"
EVENT_TYPE = "card_transaction.updated"
FIXTURES = ROOT / "tests" / "fixtures" / "lithic"
RESEND_EVERY = 50  # every 50th request re-delivers an earlier webhook-id
FEED_RATE = 3_000  # requests signed in advance per second of measurement: more than ours does
WARM_UP_SECONDS = 2
WARM_UP_REQUESTS = 1_000


def log(message: str) -> None:
    print(f"bench_webhooks: {message}", file=sys.stderr, flush=True)


def _check(what: str, got, wanted) -> None:
    if got != wanted:
        raise RuntimeError(f"bench_webhooks: {what}: got {got!r}, expected {wanted!r}")


# ----------------------------------------------------------------------------- deliveries


_AUTHORIZED, _SETTLED = 5200, 4800  # the fixtures' amounts in cents, wherever they occur


def _template(name: str) -> str:
    """A fixture as compact JSON, its tokens and amounts replaced by placeholders."""

    def mark(value):
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list):
            return [mark(item) for item in value]
        if type(value) is int and value in (_AUTHORIZED, _SETTLED):
            return "@AUTHORIZED@" if value == _AUTHORIZED else "@SETTLED@"
        return value

    body = json.loads((FIXTURES / f"card_transaction_updated_{name}.json").read_text())
    body["token"], body["card_token"] = "@TXN@", "@CARD@"
    for event, placeholder in zip(body["events"], ("@AUTH_EVENT@", "@END_EVENT@"), strict=False):
        event["token"] = placeholder
    return json.dumps(mark(body))


class Lifecycles:
    """Fresh transactions from Lithic's fixtures: new tokens, one of our cards, amounts in cents.

    Each has two deliveries: the authorization, then the clearing (odd n: 400 cents less than
    authorized settles and the rest of the hold is released, as in the fixture) or the void
    (even n: the whole hold released).
    """

    def __init__(self, card_tokens: list[str]):
        self.card_tokens = card_tokens
        self.auth = _template("authorization")
        self.ends = {"CLEARING": _template("clearing"), "VOID": _template("void")}
        self.n = 0

    def next(self) -> tuple[bytes, bytes, str, int]:
        """The authorization body, the final body, the final event type, the cents settled."""
        n, self.n = self.n, self.n + 1
        cents = 1_000 + n % 9_000
        kind = "CLEARING" if n % 2 else "VOID"
        settled = cents - (_AUTHORIZED - _SETTLED) if kind == "CLEARING" else 0
        values = {
            '"@TXN@"': f'"{uuid.uuid4()}"',
            '"@CARD@"': f'"{self.card_tokens[n % len(self.card_tokens)]}"',
            '"@AUTH_EVENT@"': f'"{uuid.uuid4()}"',
            '"@END_EVENT@"': f'"{uuid.uuid4()}"',
            '"@AUTHORIZED@"': str(cents),
            '"@SETTLED@"': str(settled),
        }
        bodies = []
        for template in (self.auth, self.ends[kind]):
            for placeholder, value in values.items():
                template = template.replace(placeholder, value)
            bodies.append(template.encode())
        return bodies[0], bodies[1], kind, settled


def http_feed(port: int, lifecycles: Lifecycles, count: int, rng: random.Random) -> dict:
    """`count` signed requests in sending order: deliveries of fresh lifecycles, and every
    RESEND_EVERY-th a re-delivery (same webhook-id and body, new timestamp and signature) of
    a first delivery at least 2 x CONCURRENCY requests earlier."""
    requests, firsts, resends, bodies = [], [], set(), []
    while len(requests) < count:
        if len(requests) % RESEND_EVERY == RESEND_EVERY - 1 and firsts:
            newest = max(1, len(firsts) - 2 * CONCURRENCY)
            msg_id, body = firsts[rng.randrange(max(0, newest - 1_000), newest)]
            resends.add(len(requests))
        else:
            if not bodies:
                auth, end, _kind, _settled = lifecycles.next()
                bodies = [end, auth]
            msg_id, body = f"msg_{uuid.uuid4().hex}", bodies.pop()
            firsts.append((msg_id, body))
        requests.append(signed_post(port, PATH, body, secret=SECRET, msg_id=msg_id))
    return {"requests": requests, "resends": resends}


def measure_http(
    server: Server, feed: dict, conn: psycopg.Connection, *, seconds: float, label: str = "HTTP"
) -> dict:
    before = _count(conn, "webhooks")
    outcome = asyncio.run(
        _closed_loop(server.port, feed["requests"], CONCURRENCY, seconds, answer="status")
    )
    added = _count(conn, "webhooks") - before
    latencies, results = outcome["latencies"], outcome["results"]
    answered = len(latencies)  # the loop sends the feed in order: these are its first requests
    resent = sum(1 for index in feed["resends"] if index < answered)
    row = {
        "label": "ours: HTTP deliveries",
        "events": answered,
        "seconds": outcome["seconds"],
        "rate": answered / outcome["seconds"],
        "p50": percentile(latencies, 0.50) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "results": results,
        "exhausted": answered == len(feed["requests"]),
    }
    log(
        f"{label} at concurrency {CONCURRENCY}: {row['rate']:,.0f}/s, p50 {row['p50']:.1f} ms, "
        f"p99 {row['p99']:.1f} ms, {results}, {added:,} rows added"
    )
    _check("answers other than 200", sorted(set(results) - {"stored", "duplicate"}), [])
    _check("rows added vs. answered 'stored'", added, results.get("stored", 0))
    _check("answered 'duplicate' vs. re-deliveries sent", results.get("duplicate", 0), resent)
    return row


def _count(conn: psycopg.Connection, table: str, where: str = "") -> int:
    count = conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]
    conn.commit()
    return count


# ----------------------------------------------------------------------------- pgbench floor


def pgbench_script() -> str:
    """The endpoint's INSERT, verbatim, with pgbench variables; half the transactions store an
    authorization body, half a clearing body (variables set with -D), like ours."""
    from webhooks.services import _INSERT_SQL

    def insert(payload: str) -> str:
        return _pgbench_sql(
            _INSERT_SQL,
            named={
                "webhook_id": "'msg_' || :client_id || '_' || :r",
                "event_token": ":t",
                "event_type": f"'{EVENT_TYPE}'",
                "payload": f":{payload}",
                "status": "'PENDING'",
                "last_error": "''",
                "due": "true",
            },
        )

    return (
        "\\set r random(1, 9223372036854775806)\n"
        "\\set t random(1, 9223372036854775806)\n"
        "\\if :r % 2 = 0\n" + insert("auth_body") + "\\else\n" + insert("end_body") + "\\endif\n"
    )


def measure_floor(conn: psycopg.Connection, auth: bytes, end: bytes) -> dict:
    before = _count(conn, "webhooks")
    with tempfile.TemporaryDirectory(prefix="bench_webhooks.") as tmp:
        script = Path(tmp) / "insert.sql"
        script.write_text(pgbench_script())
        floor = run_pgbench(
            script,
            rate=None,
            logdir=Path(tmp),
            clients=CONCURRENCY,
            seconds=SECONDS,
            variables={"auth_body": auth.decode(), "end_body": end.decode()},
            # The inbox's INSERT needs a context under row-level security; a single-statement
            # pgbench transaction cannot carry one, so the floor runs as the superuser.
            dsn=harness_dsn(),
        )
    added = _count(conn, "webhooks") - before
    return {
        "label": "floor: pgbench INSERT",
        "events": added,
        "seconds": float(SECONDS),
        "rate": floor["throughput"],
        "p50": None,
        "p95": None,
        "p99": None,
        "results": {"stored": added},
    }


# ----------------------------------------------------------------------------- processing


def build_events(lifecycles: Lifecycles, count: int) -> dict:
    """`count` deliveries of `count // 2` new transactions: every authorization first, then the
    clearings and voids in a shuffled order, so that each event moves money when it runs."""
    auths, ends, settled_cents, clearings = [], [], 0, 0
    for _ in range(count // 2):
        auth, end, kind, settled = lifecycles.next()
        auths.append(auth)
        ends.append(end)
        settled_cents += settled
        clearings += kind == "CLEARING"
    random.Random(SEED).shuffle(ends)
    rows = [
        {
            "webhook_id": f"msg_{uuid.uuid4().hex}",
            "event_token": json.loads(body)["token"],
            "event_type": EVENT_TYPE,
            "payload": body.decode(),
            "status": "PENDING",
            "last_error": "",
            "due": True,
        }
        for body in auths + ends
    ]
    return {
        "rows": rows,
        "transactions": count // 2,
        "clearings": clearings,
        "settled": Decimal(settled_cents) / 100,
    }


def load_events(conn: psycopg.Connection, events: dict) -> None:
    """Store the events as the endpoint does (its INSERT, in one pipelined batch), not timed."""
    from webhooks.services import _INSERT_SQL

    with conn.cursor() as cursor:
        cursor.executemany(_INSERT_SQL, events["rows"])
    conn.commit()
    conn.execute("ANALYZE webhooks")
    conn.commit()
    _check(
        "pending events loaded",
        _count(conn, "webhooks", "WHERE status = 'PENDING'"),
        len(events["rows"]),
    )


def clear(conn: psycopg.Connection) -> None:
    """bench_asa's reset (transactions, events, counters, ledger, funds) and the inbox."""
    conn.execute("TRUNCATE webhooks")
    conn.commit()
    reset(conn)


_SUMMARY = re.compile(r": (processed \d+(?:, \w+ \d+)*)$", re.MULTILINE)


def run_workers(workers: int) -> tuple[float, list[dict[str, int]]]:
    """`workers` processes of `process_webhooks --once` started together; seconds until the
    last one exits (Python and Django start-up included) and each one's summary."""
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*MANAGE, "process_webhooks", "--once"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    outputs = [process.communicate()[0] for process in processes]
    seconds = time.perf_counter() - started
    summaries = []
    for process, output in zip(processes, outputs, strict=True):
        match = _SUMMARY.search(output)
        if process.returncode != 0 or match is None:
            raise RuntimeError(f"process_webhooks exited {process.returncode}: {output}")
        pairs = (item.rsplit(" ", 1) for item in match.group(1).split(", "))
        summaries.append({name: int(value) for name, value in pairs})
    return seconds, summaries


def verify_processing(conn: psycopg.Connection, events: dict, summaries: list[dict]) -> None:
    total = len(events["rows"])
    statuses = dict(conn.execute("SELECT status, count(*) FROM webhooks GROUP BY status"))
    txns = dict(conn.execute("SELECT status, count(*) FROM transactions GROUP BY status"))
    held = conn.execute("SELECT COALESCE(sum(hold_amount), 0) FROM transactions").fetchone()[0]
    settled = conn.execute(
        "SELECT COALESCE(-sum(amount), 0) FROM ledger_entries WHERE kind = 'SETTLEMENT'"
    ).fetchone()[0]
    conn.commit()
    _check("webhook statuses", statuses, {"PROCESSED": total})
    _check("events the workers processed", sum(s["processed"] for s in summaries), total)
    _check(
        "events failed, dead or lost",
        sum(s["failed"] + s["dead"] + s["lost"] for s in summaries),
        0,
    )
    _check("transaction events", _count(conn, "transaction_events"), total)
    clearings, voids = events["clearings"], events["transactions"] - events["clearings"]
    wanted = {"SETTLED": clearings, "VOIDED": voids}
    _check("transactions", txns, {status: n for status, n in wanted.items() if n})
    _check("open holds", held, Decimal("0.00"))
    _check("settled through the ledger", settled, events["settled"])
    manage("check_ledger")


def measure_processing(conn: psycopg.Connection, events: dict, workers: int) -> dict:
    clear(conn)
    load_events(conn, events)
    seconds, summaries = run_workers(workers)
    verify_processing(conn, events, summaries)
    total = len(events["rows"])
    split = " + ".join(f"{s['processed']:,}" for s in summaries)
    row = {
        "label": f"processing, {workers} worker{'s' if workers > 1 else ''}",
        "events": total,
        "seconds": seconds,
        "rate": total / seconds,
        "p50": None,
        "p95": None,
        "p99": None,
        "results": {"PROCESSED": total},
        "split": split,
    }
    log(f"{row['label']}: {total:,} events in {seconds:.1f} s = {row['rate']:,.0f}/s ({split})")
    return row


# ----------------------------------------------------------------------------- the run


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None else format(value, pattern)


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| webhooks | events | seconds | events/s | p50 ms | p95 ms | p99 ms | results |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        results = ", ".join(f"{k} {v:,}" for k, v in sorted(row["results"].items()))
        if row.get("split"):
            results += f" ({row['split']} by worker)"
        lines.append(
            f"| {row['label']} | {row['events']:,} | {row['seconds']:.1f} | {row['rate']:,.0f} "
            f"| {_fmt(row['p50'], '.1f')} | {_fmt(row['p95'], '.1f')} | {_fmt(row['p99'], '.1f')} "
            f"| {results} |"
        )
    return lines


def run() -> dict:
    import django

    django.setup()
    from django.conf import settings

    from accounts.models import Account

    load_before = os.getloadavg()[0]
    if EVENTS < 2:
        raise SystemExit("bench_webhooks needs BENCH_WEBHOOKS_EVENTS >= 2")
    log(
        f"{SECONDS} s per measurement, concurrency {CONCURRENCY}, {WORKERS} gunicorn workers, "
        f"{EVENTS // 2 * 2:,} events to process"
    )
    if not Account.all_objects.exists():
        manage("load_mcc")
        manage("seed_demo", "--no-progress", "--accounts", "3", "--transactions", "0",
               "--seed", str(SEED))  # fmt: skip
    targets = prepare_targets()  # before the reset: the OPENING entries record the balances
    lifecycles = Lifecycles([target["card_token"] for target in targets])
    accounts = len({target["account_id"] for target in targets})
    rng = random.Random(SEED)

    with psycopg.connect(harness_dsn()) as conn:
        clear(conn)
        server = Server(
            app="config.wsgi:application",
            workers=WORKERS,
            extra_env={"LITHIC_WEBHOOK_SECRET": SECRET},
        )
        try:
            warm_up = http_feed(server.port, lifecycles, WARM_UP_REQUESTS, rng)
            measure_http(server, warm_up, conn, seconds=WARM_UP_SECONDS, label="warm-up")
            started = time.perf_counter()
            feed = http_feed(server.port, lifecycles, FEED_RATE * SECONDS, rng)
            signed = time.perf_counter() - started
            log(f"{len(feed['requests']):,} requests signed in advance in {signed:.1f} s")
            ours = measure_http(server, feed, conn, seconds=SECONDS)
        finally:
            server.stop()
        sample_auth, sample_end, _kind, _settled = lifecycles.next()
        floor = measure_floor(conn, sample_auth, sample_end)
        log(f"floor: pgbench at concurrency {CONCURRENCY}: {floor['rate']:,.0f} tps")

        clear(conn)
        started_up, _ = run_workers(1)  # nothing due: the cost of starting a worker at all
        events = build_events(lifecycles, EVENTS)
        one = measure_processing(conn, events, 1)
        two = measure_processing(conn, events, 2)

    load_after = os.getloadavg()[0]
    body_sizes = sorted({len(sample_auth), len(sample_end)})
    exhausted = (
        f" The {len(feed['requests']):,} requests signed in advance ran out before the "
        f"{SECONDS} s were up."
        if ours["exhausted"]
        else ""
    )
    notes = [
        *table([ours, floor, one, two]),
        "",
        f"Webhooks: ours receives {ours['rate']:,.0f} deliveries/s = "
        f"{ours['rate'] / floor['rate']:.0%} of the pgbench floor {floor['rate']:,.0f} tps (the "
        f"same INSERT, bodies of {body_sizes[0]:,} and {body_sizes[-1]:,} bytes, "
        f"concurrency {CONCURRENCY}, {SECONDS} s). Every 200 was checked against the table: "
        f"{ours['results'].get('stored', 0):,} 'stored' = rows added, "
        f"{ours['results'].get('duplicate', 0):,} re-deliveries answered 'duplicate'; no other "
        f"answer.{exhausted} Processing {len(events['rows']):,} events "
        f"({events['transactions']:,} transactions: {events['clearings']:,} cleared, "
        f"{events['transactions'] - events['clearings']:,} voided, on {len(targets)} cards of "
        f"{accounts} accounts; batch size {settings.WEBHOOK_BATCH_SIZE}): 2 workers / 1 worker "
        f"= {two['rate'] / one['rate']:.2f}x; each time is the whole `process_webhooks --once` "
        f"process, of which {started_up:.1f} s is starting one with nothing due. Every event "
        f"ended PROCESSED once, transaction events, holds and the settled total matched, and "
        f"check_ledger passed after both runs. Machine: {os.cpu_count()} CPUs shared by "
        f"PostgreSQL, gunicorn ({WORKERS} sync workers) or the worker processes, and the load "
        f"generator; 1-minute load average {load_before:.1f} before the run and "
        f"{load_after:.1f} after it.",
    ]
    return {"results": [], "notes": notes}
