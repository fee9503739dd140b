"""`make run`'s database: scripts/with_services.sh with SERVICES_PGDATA keeps a PostgreSQL data
directory between runs (decision 68), and `--probe` says whether it can run here at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.processes import ROOT

SCRIPT = ROOT / "scripts" / "with_services.sh"


def with_services(*args: str, pgdata: Path, keys: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "SERVICES_PGDATA": str(pgdata)}
    if not keys:
        env.pop("FERNET_KEYS", None)
        env.pop("SECRET_KEY", None)
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture
def parent():
    # Under /tmp and open to others: as root the server runs as the postgres user.
    path = Path(tempfile.mkdtemp(prefix="kept_pgdata."))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_kept_cluster_keeps_its_rows_and_the_callers_keys(parent):
    pgdata = parent / "data"
    first = with_services(
        "bash",
        "-c",
        'psql "$DATABASE_MIGRATE_URL" -Atqc'
        ' "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"'
        ' && psql "$DATABASE_ADMIN_URL" -Atc "SHOW fsync"'
        ' && echo "keys: ${FERNET_KEYS:-none}"',
        pgdata=pgdata,
        keys=False,
    )
    assert first.returncode == 0, first.stderr
    # Kept data is written durably, and its keys are the caller's (.env), never made up here.
    assert first.stdout.split() == ["on", "keys:", "none"]

    second = with_services(
        "bash",
        "-c",
        'psql "$DATABASE_MIGRATE_URL" -Atc "SELECT x FROM kept"'
        ' && psql "$DATABASE_URL" -Atc "SELECT 1"',
        pgdata=pgdata,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["42", "1"]  # the same roles, the row still there
    assert (pgdata / "PG_VERSION").exists()
    assert not (pgdata / "postmaster.pid").exists()  # stopped after each run


def test_the_probe_finds_postgresql_and_starts_nothing(parent):
    probed = with_services("--probe", pgdata=parent / "data")

    assert probed.returncode == 0, probed.stderr
    assert (Path(probed.stdout.strip()) / "initdb").exists()
    assert not (parent / "data" / "PG_VERSION").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_the_probe_refuses_a_directory_the_server_cannot_reach(parent):
    closed = parent / "closed"
    closed.mkdir(mode=0o700)

    probed = with_services("--probe", pgdata=closed / "data")

    assert probed.returncode != 0
    assert "the postgres user cannot reach" in probed.stderr
