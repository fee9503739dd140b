"""Run the benchmarks against the PostgreSQL in DATABASE_URL and print one markdown table.

Usage: scripts/with_services.sh .venv/bin/python bench/run.py [benchmark ...]   (`make bench`)
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    "bench_load",
    "bench_asa",
    "bench_api",
    "bench_reads",
    "bench_webhooks",
    "bench_scale",
    "bench_login_flood",
    "bench_admin",
)


def _fmt_row(result: dict) -> str:
    rows, seconds, rss = result["rows"], result["seconds"], result["peak_rss_mib"]
    return (
        f"| {result['benchmark']} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} | "
        f"{'n/a' if rss is None else f'{rss:.0f}'} |"
    )


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("The benchmarks need PostgreSQL in DATABASE_URL: run them with `make bench`.")
        return 2

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        check=True,
    )

    from core.tenancy import system_scope

    results, notes = [], []
    for name in names:
        # The harness reads every account's rows through the ORM (row-level security); what
        # it measures (requests, the responder, commands) sets its own context.
        with system_scope(f"bench:{name}"):
            report = importlib.import_module(f"bench.{name}").run()
        results += report["results"]
        notes += report["notes"]

    print()
    if results:
        print("| benchmark | rows | seconds | rows/s | peak RSS MiB |")
        print("|---|---:|---:|---:|---:|")
        for result in results:
            print(_fmt_row(result))
        print()
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
