"""Loading transactions: `seed_demo` (COPY fed by the row generator) against a plain CSV COPY.

Both loads write the same kind of rows (the same generator, the same seed) into an empty
`transactions` table with all its indexes. The baseline times only the COPY of a ready CSV file,
so the ratio is what generating rows in Python costs on top of the database's own load speed.
A second, smaller seed_demo run shows that its memory does not grow with the row count.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.dbroles import harness_dsn

ROOT = Path(__file__).resolve().parent.parent
MANAGE = (sys.executable, str(ROOT / "manage.py"))
DEFAULT_ROWS = 1_000_000
SEED = 42
READ_SIZE = 1 << 20


def _rows_wanted() -> int:
    raw = os.environ.get("BENCH_ROWS", "").replace("_", "")
    rows = int(raw) if raw else DEFAULT_ROWS
    if rows < 1:
        raise SystemExit("BENCH_ROWS must be a positive number of rows")
    return rows


def run_measured(*args: str) -> tuple[float, float]:
    """Run a command to completion; its wall time and the peak RSS (MiB) of that process alone.

    os.wait4 gives the resource usage of this one child, where RUSAGE_CHILDREN would report the
    largest of every child this process has waited for so far (migrate included).
    """
    started = time.perf_counter()
    # Child output goes to stderr so that stdout carries only the results table.
    process = subprocess.Popen(args, cwd=ROOT, stdout=sys.stderr)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {process.returncode}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def seed_demo(*options: str) -> tuple[float, float]:
    return run_measured(*MANAGE, "seed_demo", "--no-progress", *options)


def _table_sql(template: str, columns: tuple[str, ...] = ()) -> sql.Composed:
    from transactions.models import Transaction

    return sql.SQL(template).format(
        table=sql.Identifier(Transaction._meta.db_table),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    )


def truncate(conn: psycopg.Connection) -> None:
    # The keys go too (transactions.partitioning): the next load draws the same tokens.
    conn.execute("TRUNCATE transactions, transaction_keys CASCADE")
    conn.commit()


def row_count(conn: psycopg.Connection) -> int:
    count = conn.execute(_table_sql("SELECT count(*) FROM {table}")).fetchone()[0]
    conn.commit()
    return count


def write_csv(path: Path, rows: int) -> None:
    """The rows seed_demo would load, from the same generator and seed, as a CSV file."""
    from django.utils import timezone

    from demo import bulk

    cards = bulk.card_spends()
    generated = bulk.transaction_rows(
        cards=cards, count=rows, rng=bulk.transaction_rng(SEED), now=timezone.now()
    )
    with path.open("w", encoding="utf-8", newline="") as out:
        out.writelines(bulk.csv_lines(generated))


def copy_csv(conn: psycopg.Connection, path: Path) -> float:
    """Seconds for COPY ... FROM STDIN WITH (FORMAT csv) of the file, commit included."""
    from demo import bulk

    statement = _table_sql(
        "COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", bulk.TRANSACTION_COLUMNS
    )
    started = time.perf_counter()
    with conn.cursor() as cursor, cursor.copy(statement) as copy, path.open("rb") as source:
        while data := source.read(READ_SIZE):
            copy.write(data)
    conn.commit()
    return time.perf_counter() - started


def _check_count(conn: psycopg.Connection, expected: int, what: str) -> None:
    found = row_count(conn)
    if found != expected:
        raise RuntimeError(f"{what}: expected {expected} transactions, found {found}")


def run() -> dict:
    import django

    django.setup()

    rows = _rows_wanted()
    small = max(rows // 10, 1_000)
    results = []
    # The superuser's: it empties the table, and the plain-COPY baseline is only possible for a
    # role that row-level security does not apply to (decision 44).
    with psycopg.connect(harness_dsn()) as conn:
        print(f"bench_load: {rows:,} rows", file=sys.stderr)
        seed_demo("--accounts", "3", "--transactions", "0", "--seed", str(SEED))
        truncate(conn)

        seconds, rss = seed_demo(
            "--transactions-only", "--transactions", str(small), "--seed", str(SEED)
        )
        _check_count(conn, small, "seed_demo (small)")
        results.append(
            {"benchmark": "seed_demo --transactions-only (memory check)", "rows": small,
             "seconds": seconds, "peak_rss_mib": rss}
        )  # fmt: skip
        truncate(conn)

        seed_seconds, seed_rss = seed_demo(
            "--transactions-only", "--transactions", str(rows), "--seed", str(SEED)
        )
        _check_count(conn, rows, "seed_demo")
        results.append(
            {"benchmark": "seed_demo --transactions-only (COPY from generator)", "rows": rows,
             "seconds": seed_seconds, "peak_rss_mib": seed_rss}
        )  # fmt: skip

        with tempfile.TemporaryDirectory(prefix="bench_load.") as tmp:
            path = Path(tmp) / "transactions.csv"
            started = time.perf_counter()
            write_csv(path, rows)
            print(
                f"bench_load: wrote {path.stat().st_size / 2**20:,.0f} MiB of CSV in "
                f"{time.perf_counter() - started:.1f} s (not timed)",
                file=sys.stderr,
            )
            truncate(conn)
            copy_seconds = copy_csv(conn, path)
        _check_count(conn, rows, "COPY csv")
        results.append(
            {"benchmark": "baseline: COPY FROM STDIN (FORMAT csv) of a ready file", "rows": rows,
             "seconds": copy_seconds, "peak_rss_mib": None}
        )  # fmt: skip

    seed_rate, copy_rate = rows / seed_seconds, rows / copy_seconds
    notes = [
        f"seed_demo loads at {seed_rate:,.0f} rows/s, plain COPY of a CSV file at "
        f"{copy_rate:,.0f} rows/s: ratio seed_demo / COPY = {seed_rate / copy_rate:.2f} "
        f"(seed_demo takes {seed_seconds / copy_seconds:.1f}x as long, Python start-up and row "
        "generation included).",
        f"seed_demo peak RSS: {results[0]['peak_rss_mib']:.0f} MiB at {small:,} rows, "
        f"{seed_rss:.0f} MiB at {rows:,} rows.",
    ]
    return {"results": results, "notes": notes}
