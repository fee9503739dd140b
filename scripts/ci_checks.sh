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
if [[ $workers == 0 ]]; then
    exec "$BIN/pytest" "${extra[@]}"
else
    exec "$BIN/pytest" -n "$workers" -p xdist "${extra[@]}"
fi
