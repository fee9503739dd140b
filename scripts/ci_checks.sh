#!/usr/bin/env bash
# The checks `make test` runs, inside scripts/with_services.sh.
# PYTEST_WORKERS: xdist worker count (default 2; 0 runs without xdist).
# PYTEST_ARGS: extra pytest arguments, split with shell quoting rules.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin

# Parsed first so a typo fails fast. shlex instead of eval: quoted arguments
# such as -k "a and b" survive, and nothing in the value gets executed.
mapfile -d '' -t extra < <(
    "$BIN/python" -c 'import os, shlex, sys; sys.stdout.write("".join(a + "\0" for a in shlex.split(os.environ.get("PYTEST_ARGS", ""))))' 2>/dev/null
)
wait "$!" || { echo "ci_checks: cannot parse PYTEST_ARGS: ${PYTEST_ARGS:-}" >&2; exit 2; }


"$BIN/ruff" check .
"$BIN/ruff" format --check .
# The Lithic integration and every services.py / selectors.py (pyproject.toml [tool.mypy]).
DEBUG=true ENV_FILE= "$BIN/mypy"
"$BIN/python" manage.py makemigrations --check --dry-run

workers=${PYTEST_WORKERS:-2}
run_pytest() {
    if [[ $workers == 0 ]]; then
        "$BIN/pytest" "$@"
    else
        # One module, one worker: a module's processes and clusters (module-scoped fixtures)
        # are started once.
        "$BIN/pytest" -n "$workers" -p xdist --dist loadscope "$@"
    fi
}

run_pytest "${extra[@]}"

# Again, through PgBouncer (scripts/with_services.sh WITH_PGBOUNCER=1), the tests of what a
# pooler in transaction mode can break: concurrent authorizations and their locks, the webhook
# workers' claims, the API's tenant context and idempotency, and the outbox's leases. PgBouncer
# 1.18 keeps no prepared statements. The rest of those apps' tests (rules, replies, errors)
# exercise nothing a pooler changes.
PGBOUNCER_SUBSET=(
    tests/transactions/test_asa_concurrency.py tests/transactions/test_asa_incremental.py
    tests/webhooks/test_worker.py tests/transactions/test_inbox_concurrency.py
    tests/test_api_tenancy.py tests/test_api_idempotency.py
    tests/lithic/test_card_push.py tests/lithic/test_profile_push.py
)
if [[ -n ${PGBOUNCER_URL:-} && ${#extra[@]} -eq 0 ]]; then
    echo "ci_checks: the responder, webhook, API and outbox tests through PgBouncer"
    DATABASE_URL=$PGBOUNCER_URL DATABASE_PREPARED_STATEMENTS=false run_pytest "${PGBOUNCER_SUBSET[@]}"
fi
