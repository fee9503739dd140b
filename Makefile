SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
STAMP := $(VENV)/.installed

# Passed through to scripts/ci_checks.sh, e.g. `make test PYTEST_WORKERS=0 PYTEST_ARGS='-k cards'`.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
export PYTEST_WORKERS PYTEST_ARGS

.PHONY: help install run run-sqlite serve-demo test bench lint fmt services-shell clean

help:
	@echo "make run             set up .env, a private PostgreSQL (var/demo-postgres) and Redis, seed demo data, start http://127.0.0.1:8000"
	@echo "make run-sqlite      the same demo on an SQLite file, without its live activity"
	@echo "make test            lint + migration check + pytest against private PostgreSQL and Redis"
	@echo "make bench           run bench/run.py against private PostgreSQL and Redis"
	@echo "make lint | fmt      ruff check and mypy / ruff format"
	@echo "make services-shell  a shell with the private PostgreSQL and Redis running"
	@echo "make clean           remove .venv, db.sqlite3 and var/"

install: $(STAMP)

# Reinstall only when the pinned requirements change.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

# The demo on a PostgreSQL of its own, kept in var/demo-postgres between runs, and a private
# Redis: the authorization engine, the ledger and the webhook inbox are PostgreSQL's, and so is
# row-level security (decision 68). Without PostgreSQL 15 on the machine, the SQLite demo.
DEMO_PGDATA := var/demo-postgres

run: install
	$(PY) scripts/write_env.py
	@if why=$$(SERVICES_PGDATA=$(DEMO_PGDATA) scripts/with_services.sh --probe 2>&1 >/dev/null); then \
		DEBUG=true SERVICES_PGDATA=$(DEMO_PGDATA) scripts/with_services.sh \
			$(MAKE) --no-print-directory serve-demo; \
	else \
		echo "$${why#with_services: error: }: the demo runs on SQLite, without its live activity"; \
		$(MAKE) --no-print-directory serve-demo; \
	fi

# The demo on the SQLite file db.sqlite3 (the .env's DATABASE_URL) and an in-process cache.
run-sqlite: install
	$(PY) scripts/write_env.py
	$(MAKE) --no-print-directory serve-demo

serve-demo:
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_mcc
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py refresh_rollups --days 60
	$(PY) manage.py ensure_admin
	$(PY) manage.py create_api_key --demo --name demo
	$(PY) manage.py runserver 127.0.0.1:8000

test: install
	WITH_PGBOUNCER=1 WITH_BROWSER=1 scripts/with_services.sh scripts/ci_checks.sh

# A quarter of the machine's memory, as PostgreSQL's documentation suggests for a server.
BENCH_SHARED_BUFFERS ?= $(shell awk '/^MemTotal:/ {printf "%dMB", $$2 / 4096}' /proc/meminfo)

bench: install
	PG_SHARED_BUFFERS=$(BENCH_SHARED_BUFFERS) WITH_PGBOUNCER=1 scripts/with_services.sh $(PY) bench/run.py

lint: install
	$(RUFF) check .
	$(RUFF) format --check .
	ENV_FILE= DEBUG=true $(VENV)/bin/mypy

fmt: install
	$(RUFF) format .
	$(RUFF) check --fix .

services-shell:
	scripts/with_services.sh bash

clean:
	rm -rf $(VENV) db.sqlite3 var/
