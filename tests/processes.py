"""Real processes for the tests that are about processes: a PostgreSQL cluster of their own
(which a test may stop and start again), a Redis of their own (which a test may hang), and
gunicorn serving the web or the responder, as deployed.

The suite's own PostgreSQL and Redis (scripts/with_services.sh) are shared by every test and
must never be stopped; these are private to the module that starts them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, what: str, seconds: float = 10) -> None:
    """Until something accepts connections on the port, or RuntimeError."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def _pgbin() -> Path:
    if os.environ.get("PGBIN"):
        return Path(os.environ["PGBIN"])
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    return Path("/usr/lib/postgresql/15/bin")


class _Cluster:
    """A PostgreSQL 15 data directory of its own on a free port (started by the subclasses)."""

    def __init__(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.dir / "data"
        self.port = free_port()
        self.bin = _pgbin()
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        """The runtime role's."""
        return f"postgres://app:app@127.0.0.1:{self.port}/app"

    def _as_pg(self, command: list[str]) -> None:
        if IS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, cwd=self.dir, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._as_pg(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
             "-o", options, "-w", "-t", "60", "start"]
        )  # fmt: skip

    def stop(self) -> None:
        self._as_pg([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def psql(self, sql: str, *, database: str = "postgres") -> str:
        done = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", database, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.stdout.strip()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres(_Cluster):
    """A throwaway PostgreSQL 15 cluster on a free port, with the `app` role and database."""

    def __init__(self) -> None:
        super().__init__("private_pg.")
        self._as_pg(
            [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "--encoding=UTF8", "--locale=C"]
        )  # fmt: skip
        self.start()
        # As scripts/with_services.sh: an owner that migrates, a runtime role that serves.
        self.psql("CREATE ROLE app_owner LOGIN PASSWORD 'app_owner'")
        self.psql("CREATE ROLE app LOGIN PASSWORD 'app' NOCREATEDB NOBYPASSRLS")
        self.psql("CREATE DATABASE app OWNER app_owner")

    @property
    def migrate_url(self) -> str:
        return f"postgres://app_owner:app_owner@127.0.0.1:{self.port}/app"

    @property
    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.url, "DATABASE_MIGRATE_URL": self.migrate_url}

    def wal_position(self) -> str:
        """The end of the WAL written so far, everything committed before the call included.

        The suite's clusters commit asynchronously, so a commit can wait in the WAL buffers
        for a moment (under load, for longer than the WAL writer's 200 ms); one synchronous
        commit flushes it along with everything before it. That commit must write WAL of its
        own: a transaction that only took an xid commits asynchronously whatever the setting,
        and the write position returned could then stop short of an earlier commit.
        """
        self.psql(
            "SET synchronous_commit = on; SELECT pg_logical_emit_message(true, 'wal_position', '')"
        )
        return self.psql("SELECT pg_current_wal_lsn()")


class PrivateReplica(_Cluster):
    """A streaming standby of a PrivatePostgres (`pg_basebackup -R`) on a port of its own."""

    def __init__(self, primary: PrivatePostgres) -> None:
        super().__init__("private_pg_replica.")
        self.primary = primary
        self._as_pg(
            [str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
             "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast"]
        )  # fmt: skip
        self.start()

    def pause_replay(self) -> None:
        """The replica keeps receiving WAL but applies none: it lags from now on."""
        self.psql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.psql("SELECT pg_wal_replay_resume()")

    def promote(self) -> None:
        """No longer a standby: a primary of its own, which the primary's writes never reach."""
        self.psql("SELECT pg_promote(true, 60)")

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has applied everything the primary had written when called."""
        target = self.primary.wal_position()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            caught_up = self.psql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
            if caught_up == "t":
                return
            time.sleep(0.05)
        raise TimeoutError("the replica did not catch up")


class PrivatePgBouncer:
    """PgBouncer in transaction mode in front of a cluster, as a deployment would put it."""

    def __init__(self, target: _Cluster) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="private_pgbouncer."))
        self.port = free_port()
        self.target = target
        (self.dir / "users.txt").write_text('"app" "app"\n"app_owner" "app_owner"\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={target.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            f"unix_socket_dir = {self.dir}\n"
            "auth_type = plain\n"
            f"auth_file = {self.dir / 'users.txt'}\n"
            "pool_mode = transaction\n"
            "default_pool_size = 20\nmax_client_conn = 500\n"
            # Its default (15 s) answers every client with an error for that long after one
            # failed attempt to reach PostgreSQL, a restart's few seconds included.
            "server_login_retry = 0.2\n"
            f"logfile = {self.dir / 'log'}\npidfile = {self.dir / 'pid'}\n"
        )
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
            for child in self.dir.iterdir():
                shutil.chown(child, "postgres", "postgres")
        self.start()

    @property
    def url(self) -> str:
        return f"postgres://app:app@127.0.0.1:{self.port}/app"

    def start(self) -> None:
        command = [pgbouncer_binary(), "-d", str(self.dir / "pgbouncer.ini")]
        if IS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, cwd=self.dir, check=True, capture_output=True, timeout=30)
        wait_for_port(self.port, "pgbouncer")

    def stop(self) -> None:
        pid_file = self.dir / "pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # immediate shutdown: clients are disconnected
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if not found:
        raise RuntimeError("pgbouncer is not installed: `make test` installs it")
    return found


class PrivateRedis:
    """A redis-server of the test's own, which it may hang (SIGSTOP) and resume, or kill and
    start again (empty, on the same port)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, "redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def hang(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def destroy(self) -> None:
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(timeout=10)


def project_env(**overrides: str) -> dict[str, str]:
    """The environment of a project process: production settings, no .env file."""
    env = {
        **{key: value for key, value in os.environ.items() if key != "DATABASE_MIGRATE_URL"},
        "ENV_FILE": "",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "TRUST_X_FORWARDED_PROTO": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


class Gunicorn:
    """gunicorn serving `app` (config.wsgi or config.asa_wsgi) with sync workers."""

    def __init__(
        self,
        app: str,
        *,
        env: dict[str, str],
        workers: int = 2,
        nice: int = 0,
        backlog: int = 64,
    ) -> None:
        self.port = free_port()
        command = [
            str(Path(sys.executable).parent / "gunicorn"), app, "--bind",
            f"127.0.0.1:{self.port}", "--workers", str(workers), "--worker-class", "sync",
            "--backlog", str(backlog), "--timeout", "120", "--log-level", "warning",
        ]  # fmt: skip
        if nice:
            command = ["nice", "-n", str(nice), *command]
        # Its log goes to a file: a pipe nobody reads would block the workers once full.
        self.log = tempfile.NamedTemporaryFile(prefix="gunicorn.", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(  # noqa: S310 - our own local server
                    f"{self.url}/healthz/", headers={"X-Forwarded-Proto": "https"}
                )
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"gunicorn {app} did not start:\n{tail}")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, size: int = 3000) -> str:
        return Path(self.log.name).read_bytes()[-size:].decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


SEED_SCRIPT = """
import json, uuid
from decimal import Decimal
import django
django.setup()
from accounts.models import Role
from accounts.services import account_create, api_key_create, user_create
from cards.services import card_issue
from core.audit import system_actor
from spending.models import SpendingCategory
with system_actor("test:processes"):
    SpendingCategory.objects.get_or_create(
        mcc="5812",
        defaults=dict(description="Eating places", group="test", range_start="5812",
                      range_end="5812"),
    )
    account = account_create(name="Process Co", balance=Decimal("1000000.00"))
    owner = user_create(email="owner@process.test", account=account, role=Role.OWNER)
    card = card_issue(account=account, lithic_card_token=uuid.uuid4())
    _, key = api_key_create(user=owner, name="flood")
print(json.dumps({"card_token": str(card.lithic_card_token), "account_id": account.pk,
                  "api_key": key}))
"""


def migrate_and_seed(env: dict[str, str]) -> dict[str, str]:
    """Migrate the database of `env` and give it an account, a card and an API key."""
    import json

    manage("migrate", "--noinput", "-v", "0", env=env)
    done = subprocess.run(
        [sys.executable, "-c", SEED_SCRIPT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_script(code: str, *, env: dict[str, str]) -> str:
    """Run Python `code` in a project process (Django set up first); its last line of output."""
    done = subprocess.run(
        [sys.executable, "-c", "import django\ndjango.setup()\n" + code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"script failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""
