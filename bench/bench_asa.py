"""The ASA responder under load: signed HTTP requests against gunicorn on PostgreSQL.

In one run, on one database and machine:
- ours at fixed offered loads (open loop: each request is sent at its scheduled time and its
  latency counts from then, so a slow server cannot hide its queue), and closed-loop throughput
  at a fixed concurrency;
- ours with 10,000 and with N (default 1,000,000) stored transactions, at the same offered load;
- the floor: pgbench running the decision's own SQL statements (transactions.authorization and
  transactions.ledger, the approval path) at the same concurrency and offered load;
- a naive responder (bench/naive_asa.py) that sums the month's transactions per request.
At the end `check_ledger` must pass: balances, holds and counters agree after all that load.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql as pgsql

from bench.dbroles import asa_context, harness_dsn, policies_off

ROOT = Path(__file__).resolve().parent.parent
MANAGE = (sys.executable, str(ROOT / "manage.py"))
DEFAULT_ROWS = 1_000_000
SMALL_ROWS = 10_000
SEED = 42
SECRET = "whsec_" + "YmVuY2gtYXNhLXNlY3JldC0wMTIzNDU2Nzg5YWJj"
RATES = (100, 200, 400)
COMPARE_RATES = (100, 200)
REFERENCE_RATE = 200
# Rounds of the responder with row-level security off, then on again (bench_api does the same).
RLS_ROUNDS = int(os.environ.get("BENCH_RLS_ROUNDS", "3"))
WARM_UP_RATE = 50
BIG = Decimal("100000000.00")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "")
    return int(raw) if raw else default


def _rows_wanted() -> int:
    rows = _env_int("BENCH_ROWS", DEFAULT_ROWS)
    if rows < SMALL_ROWS:
        raise SystemExit(f"bench_asa needs BENCH_ROWS >= {SMALL_ROWS}")
    return rows


SECONDS = _env_int("BENCH_ASA_SECONDS", 15)
CONCURRENCY = _env_int("BENCH_ASA_CONCURRENCY", 8)
WORKERS = _env_int("BENCH_ASA_WORKERS", max(2, 2 * (os.cpu_count() or 1)))


def log(message: str) -> None:
    print(f"bench_asa: {message}", file=sys.stderr, flush=True)


def manage(*args: str) -> None:
    subprocess.run([*MANAGE, *args], cwd=ROOT, check=True, stdout=sys.stderr)


# ----------------------------------------------------------------------------- data


def prepare_targets() -> list[dict]:
    """Open demo cards (they carry the seeded history) made able to approve all run long."""
    from django.db import transaction

    from accounts.models import Account
    from cards.models import Card, CardState
    from cards.services import card_set_limit
    from core.audit import system_actor
    from core.history import history_bypass
    from spending.models import ProfileCategory, SpendingProfile

    with system_actor("command:bench_asa"), transaction.atomic():
        cards = list(
            Card.objects.filter(state=CardState.OPEN, lithic_card_token__isnull=False)
            .exclude(profile=None)
            .order_by("id")
        )
        if not cards:
            raise RuntimeError("no open demo cards with a spending profile to authorize on")
        # Set before the ledger first touches these accounts: their OPENING entries record it.
        with history_bypass("bench set-up: money for the load"):
            Account.all_objects.filter(pk__in={c.account_id for c in cards}).update(
                balance=Decimal("1000000000.00"), status=Account.Status.ACTIVE
            )
        for profile in SpendingProfile.objects.filter(pk__in={c.profile_id for c in cards}):
            profile.spend_limit, profile.spend_limit_duration = BIG, "MONTHLY"
            profile.save(update_fields=["spend_limit", "spend_limit_duration"])
        targets = []
        for card in cards:
            card_set_limit(card=card, spend_limit=BIG, spend_limit_duration="MONTHLY")
            allowed = sorted(
                ProfileCategory.objects.filter(
                    profile_id=card.profile_id, rule="ALLOWED"
                ).values_list("category__mcc", flat=True)
            )
            targets.append(
                {
                    "card_token": str(card.lithic_card_token),
                    "mcc": allowed[0] if allowed else "5999",
                    "account_id": card.account_id,
                    "card_id": card.pk,
                    "profile_id": card.profile_id,
                }
            )
    return targets


def reset(conn: psycopg.Connection) -> None:
    conn.execute(
        "TRUNCATE transactions, transaction_keys, transaction_events, spend_counters, "
        "ledger_entries, account_funds, unmatched_authorizations, transaction_enhanced_data, "
        "disputes, dispute_events, transactions_retired_spend"
    )
    conn.commit()


def load_rows(conn: psycopg.Connection, count: int) -> None:
    started = time.perf_counter()
    manage("seed_demo", "--no-progress", "--transactions-only", "--transactions", str(count),
           "--seed", str(SEED + count))  # fmt: skip
    conn.execute("ANALYZE")
    conn.commit()
    total = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
    conn.commit()
    log(f"{total:,} stored transactions ({time.perf_counter() - started:.0f} s to add {count:,})")


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving the project (or the naive baseline) as in production.

    `app` is the WSGI entry point: `config.asa_wsgi` for the responder's own processes (it
    sets its settings module itself), `config.wsgi` for the web processes.
    """

    def __init__(
        self,
        settings_module: str = "config.settings",
        *,
        app: str = "config.asa_wsgi:application",
        workers: int = WORKERS,
        extra_env: dict[str, str] | None = None,
        nice: int = 0,
    ):
        self.port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DEBUG": "false",
            "LITHIC_ASA_SECRET": SECRET,
            "DATABASE_POOL": "true",
            "DATABASE_POOL_MAX_SIZE": "2",
            "TRUST_X_FORWARDED_PROTO": "true",
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ]
        if nice:
            command = ["nice", "-n", str(nice), *command]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(  # noqa: S310 - our own local server
                    f"http://127.0.0.1:{self.port}/healthz/",
                    headers={"X-Forwarded-Proto": "https"},
                )
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)

    def drain(self, limit: float = 120) -> None:
        """Wait until the server has worked off a queue an overloaded measurement left behind."""
        deadline, quick = time.monotonic() + limit, 0
        while quick < 3 and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                request = urllib.request.Request(  # noqa: S310 - our own local server
                    f"http://127.0.0.1:{self.port}/healthz/",
                    headers={"X-Forwarded-Proto": "https"},
                )
                with urllib.request.urlopen(request, timeout=30):  # noqa: S310
                    pass
            except OSError:
                quick = 0
                continue
            quick = quick + 1 if time.monotonic() - started < 0.05 else 0
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ----------------------------------------------------------------------------- load generator


def signed_post(
    port: int, path: str, body: bytes, *, secret: str = SECRET, msg_id: str | None = None
) -> bytes:
    """A whole HTTP request as Lithic sends it: Standard Webhooks headers signed with `secret`."""
    from lithic_integration import signatures

    msg_id, timestamp = msg_id or f"msg_{uuid.uuid4().hex}", int(time.time())
    signature = signatures.sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Forwarded-Proto: https\r\nConnection: close\r\n"
        f"webhook-id: {msg_id}\r\nwebhook-timestamp: {timestamp}\r\n"
        f"webhook-signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


def request_bytes(port: int, target: dict, rng: random.Random) -> bytes:
    cents = rng.randint(100, 5_000)
    body = json.dumps(
        {"token": str(uuid.uuid4()), "status": "AUTHORIZATION", "created": "2026-01-01T00:00:00Z",
         "amounts": {"cardholder": {"amount": cents, "currency": "USD"}},
         "card": {"token": target["card_token"]},
         "merchant": {"mcc": target["mcc"], "descriptor": "BENCH MERCHANT", "city": "NEW YORK",
                      "country": "USA"},
         "pos": {"entry_mode": {"card": "NOT_PRESENT"}}}
    ).encode()  # fmt: skip
    return signed_post(port, "/lithic/asa/", body)


async def _send(port: int, payload: bytes, answer: str = "result") -> str:
    """The request's outcome: the named field of a 200 answer's JSON, or "HTTP <status>"."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    status = response[9:12]
    if status != b"200":
        return f"HTTP {status.decode(errors='replace')}"
    return json.loads(response.split(b"\r\n\r\n", 1)[1])[answer]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _open_loop(port: int, payloads: list[bytes], rate: float) -> dict:
    latencies, results = [], {}
    started = time.perf_counter()

    async def one(payload: bytes, scheduled: float) -> None:
        try:
            result = await asyncio.wait_for(_send(port, payload), timeout=10)
        except (TimeoutError, OSError) as exc:
            result = type(exc).__name__
        latencies.append(time.perf_counter() - scheduled)
        results[result] = results.get(result, 0) + 1

    tasks = []
    for index, payload in enumerate(payloads):
        scheduled = started + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payload, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "results": results, "seconds": elapsed}


async def _closed_loop(
    port: int, payloads: list[bytes], clients: int, seconds: float, *, answer: str = "result"
) -> dict:
    """Requests in the order of `payloads`, `clients` at a time; each sent when one returns."""
    latencies, results = [], {}
    feed = iter(payloads)
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            payload = next(feed, None)
            if payload is None:
                return
            sent = time.perf_counter()
            result = await _send(port, payload, answer)
            latencies.append(time.perf_counter() - sent)
            results[result] = results.get(result, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return {"latencies": latencies, "results": results, "seconds": time.perf_counter() - started}


def measure(server: Server, targets: list[dict], *, rate: float | None, label: str) -> dict:
    rng = random.Random(f"{label}-{rate}")
    count = int((rate or 2_000) * SECONDS)
    payloads = [request_bytes(server.port, rng.choice(targets), rng) for _ in range(count)]
    if rate is None:
        outcome = asyncio.run(_closed_loop(server.port, payloads, CONCURRENCY, SECONDS))
    else:
        outcome = asyncio.run(_open_loop(server.port, payloads, rate))
    latencies = outcome["latencies"]
    row = {
        "label": label,
        "offered": "closed loop" if rate is None else f"{rate:.0f}/s",
        "requests": len(latencies),
        "throughput": len(latencies) / outcome["seconds"],
        "p50": percentile(latencies, 0.50) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "results": outcome["results"],
    }
    log(f"{label} at {row['offered']}: {row['throughput']:.0f}/s, p50 {row['p50']:.1f} ms, "
        f"p99 {row['p99']:.1f} ms, {row['results']}")  # fmt: skip
    server.drain()
    return row


# ----------------------------------------------------------------------------- pgbench floor


def _pgbench_sql(sql: str, *positional: str, named: dict[str, str] | None = None) -> str:
    for name, value in (named or {}).items():
        sql = sql.replace(f"%({name})s", value)
    parts = sql.split("%s")
    if len(parts) - 1 != len(positional):
        raise ValueError(f"{len(parts) - 1} placeholders, {len(positional)} values")
    out = parts[0]
    for value, part in zip(positional, parts[1:], strict=True):
        out += value + part
    return out.strip() + ";\n"


def pgbench_script(ntargets: int) -> str:
    """The approval path's statements, verbatim from the engine, with pgbench variables."""
    import datetime

    from transactions import authorization as asa
    from transactions import ledger, spend_windows

    now = datetime.datetime.now(tz=datetime.UTC)
    first, last = spend_windows.periods_read("MONTHLY", now)
    day, life = spend_windows.periods_written(now)
    rows = ", ".join(
        f"(:account_id, '{scope}', :{owner}, '{period}', :amount, now())"
        for scope, owner in (("CARD", "card_id"), ("PROFILE", "profile_id"))
        for period in (day, life)
    )
    script = (
        f"\\set n random(1, {ntargets})\n"
        "SELECT card_token, account_id, card_id, profile_id, mcc, "
        "gen_random_uuid() AS txn_token, gen_random_uuid() AS event_token, "
        "(1 + random() * 49)::numeric(12, 2) AS amount FROM bench_asa_targets WHERE n = :n \\gset\n"
        "BEGIN;\n"
    )
    # The first batch also carries the tenant context, as the responder's cursor sends it
    # with the batch's first statement (core.postgresql).
    script += _pgbench_sql(asa.TIMEOUT_SQL, "'1000ms'").replace(
        "SELECT set_config", f"SELECT {asa_context()}, set_config", 1
    )
    script += _pgbench_sql(asa.STORED_ANSWER_SQL, ":event_token", ":txn_token")
    script += _pgbench_sql(asa.KNOWN_TRANSACTION_SQL, ":txn_token")
    script += _pgbench_sql(
        asa.CARD_SQL,
        named={"mcc": ":mcc", "setting": "'block_high_risk_mcc'", "card_token": ":card_token"},
    )
    script += _pgbench_sql(asa.TIMEOUT_SQL, "'1000ms'")
    script += _pgbench_sql(ledger.ACCOUNT_LOCK_SQL, ":account_id")
    script += _pgbench_sql(ledger.FUNDS_READ_SQL, ":account_id")
    script += _pgbench_sql(
        ledger.COUNTERS_READ_SQL,
        ":card_id", f"'{first}'", f"'{last}'", ":profile_id", f"'{first}'", f"'{last}'",
    )  # fmt: skip
    script += _pgbench_sql(asa.TIMEOUT_SQL, "'1000ms'")
    script += _pgbench_sql(
        asa.INSERT_TRANSACTION_SQL,
        named={
            "token": ":txn_token", "account_id": ":account_id", "card_id": ":card_id",
            "profile_id": ":profile_id", "amount": ":amount", "hold": ":amount",
            "currency": "'USD'", "descriptor": "'BENCH MERCHANT'", "city": "'NEW YORK'",
            "country": "'USA'", "mcc": ":mcc", "type": "'AUTHORIZATION'", "status": "'PENDING'",
            "result": "'APPROVED'", "reason": "''", "counted": "true", "decision": "'{}'",
            "now": "now()", "event_token": ":event_token", "created": "now()",
            "source": "'ASA'", "network_event_token": "NULL", "request_id": "'msg_bench'",
        },
    )  # fmt: skip
    script += ledger.COUNTERS_ADD_SQL_HEAD.strip() + " " + rows + ledger.COUNTERS_ADD_SQL_TAIL
    script = script.rstrip() + ";\n"
    script += _pgbench_sql(ledger.FUNDS_HOLD_SQL, ":amount", ":account_id", ":amount")
    script += "COMMIT;\n"
    return script


def run_pgbench(
    script: Path,
    *,
    rate: float | None,
    logdir: Path,
    clients: int = CONCURRENCY,
    seconds: int = SECONDS,
    variables: dict[str, str] | None = None,
    dsn: str | None = None,
) -> dict:
    args = [str(Path(os.environ["PGBIN"]) / "pgbench"), "-n", "-M", "extended",
            "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
            "-f", str(script)]  # fmt: skip
    for name, value in (variables or {}).items():
        args += ["-D", f"{name}={value}"]
    if rate is not None:
        for old in logdir.glob("pgbench_log*"):
            old.unlink()
        args += ["-R", str(rate), "-l", "--log-prefix", str(logdir / "pgbench_log")]
    args.append(dsn or os.environ["DATABASE_URL"])
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr}\n{done.stdout}")
    tps = next(
        float(line.split("=")[1].split()[0])
        for line in done.stdout.splitlines()
        if line.startswith("tps =")
    )
    row = {"label": "floor: pgbench, same SQL", "offered": "closed loop", "throughput": tps,
           "requests": None, "p50": None, "p95": None, "p99": None, "results": {}}  # fmt: skip
    if rate is not None:
        latencies = []
        for path in logdir.glob("pgbench_log*"):
            for line in path.read_text().splitlines():
                latencies.append(int(line.split()[2]) / 1_000_000)
        row.update(
            offered=f"{rate:.0f}/s", requests=len(latencies), p50=percentile(latencies, 0.5) * 1000,
            p95=percentile(latencies, 0.95) * 1000, p99=percentile(latencies, 0.99) * 1000,
        )  # fmt: skip
    log(f"pgbench at {row['offered']}: {tps:.0f} tps, p99 {row['p99']}")
    return row


def install_targets(conn: psycopg.Connection, targets: list[dict]) -> None:
    conn.execute("DROP TABLE IF EXISTS bench_asa_targets")
    conn.execute(
        "CREATE TABLE bench_asa_targets (n int PRIMARY KEY, card_token uuid, account_id bigint, "
        "card_id bigint, profile_id bigint, mcc text)"
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bench_asa_targets VALUES (%s, %s, %s, %s, %s, %s)",
            [(n, t["card_token"], t["account_id"], t["card_id"], t["profile_id"], t["mcc"])
             for n, t in enumerate(targets, start=1)],
        )  # fmt: skip
    # The floor runs as the runtime role, as the responder does (bench.dbroles).
    runtime = urlsplit(os.environ["DATABASE_URL"]).username
    conn.execute(
        pgsql.SQL("GRANT SELECT ON bench_asa_targets TO {}").format(pgsql.Identifier(runtime))
    )
    conn.commit()


# ----------------------------------------------------------------------------- the run


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None else format(value, pattern)


def table(rows: list[dict], stored: dict[str, int]) -> list[str]:
    lines = [
        "| ASA | stored txns | offered | requests | throughput/s | p50 ms | p95 ms | p99 ms "
        "| results |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        results = ", ".join(f"{k} {v}" for k, v in sorted(row["results"].items()))
        lines.append(
            f"| {row['label']} | {stored[row['label']]:,} | {row['offered']} | "
            f"{_fmt(row['requests'], ',')} | {row['throughput']:,.0f} | {_fmt(row['p50'], '.1f')} "
            f"| {_fmt(row['p95'], '.1f')} | {_fmt(row['p99'], '.1f')} | {results or 'n/a'} |"
        )
    return lines


# ----------------------------------------------------------------------------- the web, flooded

FLOOD_LOGINS = 8
FLOOD_API = 4


class Flood:
    """Admin logins with a wrong password and API list requests, sent to the web processes
    from threads until stopped.

    Each login is a different email; with `spread`, each also comes from a different address
    (X-Forwarded-For, the web trusting one proxy), as a botnet's would: no lockout applies, and
    only the login page's budget of password checks stands between the flood and Argon2. The
    answers are counted by status: 200 is a password checked and refused, 429 an attempt
    refused before hashing (the budget, or a lockout)."""

    def __init__(self, port: int, api_key: str, *, spread: bool = False, api: bool = True):
        import threading

        self.base = f"http://127.0.0.1:{port}"
        self.port = port
        self.api_key = api_key
        self.spread = spread
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.counts = {"logins": 0, "api": 0, "errors": 0}
        self.threads = [
            threading.Thread(target=self._login, args=(n,), daemon=True)
            for n in range(FLOOD_LOGINS)
        ]
        if api:
            self.threads += [threading.Thread(target=self._api, daemon=True)
                             for _ in range(FLOOD_API)]  # fmt: skip

    def _count(self, key: str) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _login(self, thread: int) -> None:
        import re

        import requests

        rng = random.Random(thread)
        https = {"X-Forwarded-Proto": "https"}
        attempt = 0
        while not self.stopping.is_set():
            attempt += 1
            if self.spread:
                address = f"10.{thread}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": address}
            try:
                page = requests.get(f"{self.base}/admin/login/", headers=https, timeout=60)
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", ""))
                answer = requests.post(
                    f"{self.base}/admin/login/",
                    data={"csrfmiddlewaretoken": token.group(1),
                          "username": f"x{thread}-{attempt}@bench.test",
                          "password": "not-the-password-123"},
                    headers={**https, "Cookie": f"csrftoken={cookie.group(1)}",
                             "Referer": f"https://127.0.0.1:{self.port}/admin/login/"},
                    timeout=60,
                )  # fmt: skip
                self._count("logins")
                self._count(f"logins {answer.status_code}")
            except Exception:  # noqa: BLE001 - counted, the flood goes on
                self._count("errors")

    def _api(self) -> None:
        import requests

        headers = {"X-Forwarded-Proto": "https", "Authorization": f"Api-Key {self.api_key}"}
        while not self.stopping.is_set():
            try:
                requests.get(f"{self.base}/api/v1/cards/", headers=headers, timeout=60)
                self._count("api")
            except Exception:  # noqa: BLE001 - counted, the flood goes on
                self._count("errors")


def _bench_api_key() -> str:
    from accounts.models import Role, User
    from accounts.services import api_key_create
    from core.audit import system_actor

    owner = User.objects.filter(role=Role.OWNER, is_active=True).order_by("id").first()
    with system_actor("command:bench_asa"):
        _, key = api_key_create(user=owner, name="bench flood")
    return key


def _p50s(runs: list[dict]) -> str:
    return ", ".join(f"{run['p50']:.1f}" for run in runs)


def median_run(runs: list[dict]) -> dict:
    """The run whose p50 is the median of the runs' (the lower middle one for an even count)."""
    return sorted(runs, key=lambda run: run["p50"])[(len(runs) - 1) // 2]


def measure_flooded(targets: list[dict], count: int, keep) -> dict:
    """The responder at the reference rate while its neighbours, the web processes (at a
    lower CPU priority, as docs/operations.md deploys them on a shared host), are flooded;
    then the same with their Redis hung."""
    import redis

    web = Server(app="config.wsgi:application", workers=WORKERS, nice=10)
    server = Server()
    flood = Flood(web.port, _bench_api_key())
    # Hung, not down: the process stopped (SIGSTOP) with its port open, as a stuck server is.
    redis_pid = int(redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["process_id"])
    try:
        measure(server, targets, rate=WARM_UP_RATE, label="warm-up")
        quiet = measure(server, targets, rate=REFERENCE_RATE, label="ours")
        keep(quiet, count, f"ours ({REFERENCE_RATE}/s), web quiet")
        flood.start()
        time.sleep(2)
        flooded = measure(server, targets, rate=REFERENCE_RATE, label="ours, web flooded")
        keep(flooded, count, f"ours ({REFERENCE_RATE}/s), web flooded")
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            hung = measure(server, targets, rate=REFERENCE_RATE, label="ours, Redis hung")
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        keep(hung, count, f"ours ({REFERENCE_RATE}/s), web flooded, its Redis hung")
    finally:
        flood.stop()
        server.stop()
        web.stop()
    log(f"flood: {flood.counts}")
    return flood.counts


def run() -> dict:
    import django

    django.setup()
    from accounts.models import Account

    rows = _rows_wanted()
    log(f"{rows:,} rows, {SECONDS} s per measurement, concurrency {CONCURRENCY}, "
        f"{WORKERS} gunicorn workers")  # fmt: skip
    if not Account.all_objects.exists():
        manage("seed_demo", "--no-progress", "--accounts", "3", "--transactions", "0",
               "--seed", str(SEED))  # fmt: skip
    targets = prepare_targets()
    results, stored = [], {}

    def keep(row: dict, count: int, label: str | None = None) -> None:
        if label:
            row["label"] = label
        stored[row["label"]] = count
        results.append(row)

    with psycopg.connect(harness_dsn()) as conn:
        install_targets(conn, targets)
        reset(conn)
        load_rows(conn, SMALL_ROWS)
        server = Server()
        small = {}
        try:
            measure(server, targets, rate=WARM_UP_RATE, label="warm-up")
            for rate in COMPARE_RATES:
                small[rate] = measure(server, targets, rate=rate, label="ours")
                keep(small[rate], SMALL_ROWS, f"ours @ {SMALL_ROWS:,} ({rate}/s)")
        finally:
            server.stop()
        load_rows(conn, rows - SMALL_ROWS)
        big_count = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
        conn.commit()

        server = Server()
        big = {}
        try:
            measure(server, targets, rate=WARM_UP_RATE, label="warm-up")
            ours_max = measure(server, targets, rate=None, label="ours")
            keep(ours_max, big_count, f"ours @ {rows:,} (max)")
            for rate in RATES:
                big[rate] = measure(server, targets, rate=rate, label="ours")
                keep(big[rate], big_count, f"ours @ {rows:,} ({rate}/s)")
            # Off and on in turns, BENCH_RLS_ROUNDS times each: the median of each side, so
            # that the machine's drift over minutes falls on both alike.
            unpoliced_runs, policed_runs = [], []
            for _ in range(RLS_ROUNDS):
                with policies_off(conn):
                    unpoliced_runs.append(
                        measure(server, targets, rate=REFERENCE_RATE, label="ours, no RLS")
                    )
                policed_runs.append(
                    measure(server, targets, rate=REFERENCE_RATE, label="ours, RLS again")
                )
            unpoliced, policed = median_run(unpoliced_runs), median_run(policed_runs)
            keep(
                unpoliced,
                big_count,
                f"ours @ {rows:,} ({REFERENCE_RATE}/s), policies off (median of {RLS_ROUNDS})",
            )
            keep(
                policed,
                big_count,
                f"ours @ {rows:,} ({REFERENCE_RATE}/s), policies on (median of {RLS_ROUNDS})",
            )
        finally:
            server.stop()

        flood_counts = measure_flooded(targets, big_count, keep)

        server = Server("bench.naive_settings", app="config.wsgi:application")
        naive = {}
        try:
            measure(server, targets, rate=WARM_UP_RATE, label="warm-up")
            naive_max = measure(server, targets, rate=None, label="naive")
            keep(naive_max, big_count, "naive: SUM per request (max)")
            for rate in COMPARE_RATES:
                naive[rate] = measure(server, targets, rate=rate, label="naive")
                keep(naive[rate], big_count, f"naive: SUM per request ({rate}/s)")
        finally:
            server.stop()

        with tempfile.TemporaryDirectory(prefix="bench_asa.") as tmp:
            script = Path(tmp) / "asa.sql"
            script.write_text(pgbench_script(len(targets)))
            floor = run_pgbench(script, rate=None, logdir=Path(tmp))
            keep(floor, big_count, "floor: pgbench, same SQL (max)")
            floor_rate = run_pgbench(script, rate=REFERENCE_RATE, logdir=Path(tmp))
            keep(floor_rate, big_count, "floor: pgbench, same SQL (200/s)")
        conn.execute("DROP TABLE bench_asa_targets")
        conn.commit()

    manage("check_ledger")
    share = ours_max["throughput"] / floor["throughput"]
    growth = ", ".join(
        f"at {rate}/s p99 {big[rate]['p99'] / small[rate]['p99']:.2f}x, "
        f"p50 {big[rate]['p50'] / small[rate]['p50']:.2f}x"
        for rate in COMPARE_RATES
    )
    notes = [
        *table(results, stored),
        "",
        f"ASA targets: p99 at {REFERENCE_RATE}/s = {big[REFERENCE_RATE]['p99']:.1f} ms "
        f"(target < 25 ms); throughput {ours_max['throughput']:,.0f}/s = {share:.0%} of the "
        f"pgbench floor {floor['throughput']:,.0f}/s at concurrency {CONCURRENCY} "
        f"(target >= 40%); {rows:,} vs {SMALL_ROWS:,} rows: {growth} (target <= 1.2x); "
        f"naive max {naive_max['throughput']:,.0f}/s, p99 at {REFERENCE_RATE}/s "
        f"{naive[REFERENCE_RATE]['p99']:.1f} ms. Flood of the web processes while the "
        f"responder ran on its own: {flood_counts['logins']} admin logins and "
        f"{flood_counts['api']} API requests answered ({FLOOD_LOGINS} + {FLOOD_API} clients). "
        f"Row-level security at {REFERENCE_RATE}/s, {RLS_ROUNDS} rounds each way in turns: "
        f"median p50 {policed['p50']:.1f} ms with the policies "
        f"({_p50s(policed_runs)}), {unpoliced['p50']:.1f} ms "
        f"without ({_p50s(unpoliced_runs)}): "
        f"{policed['p50'] / unpoliced['p50'] - 1:+.1%} (target under +5%). "
        "check_ledger passed after the run. "
        f"Machine: {os.cpu_count()} CPUs shared by PostgreSQL, gunicorn and the load generator.",
    ]
    return {"results": [], "notes": notes}
