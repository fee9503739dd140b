#!/usr/bin/env bash
# Usage: scripts/with_services.sh COMMAND [ARGS...]
#
# Starts a throwaway PostgreSQL 15 and Redis on free localhost ports, runs
# COMMAND with DATABASE_URL (the runtime role), DATABASE_MIGRATE_URL (the owner role),
# DATABASE_ADMIN_URL (the superuser), REDIS_URL and PGBIN exported,
# then stops both servers and deletes their data, whatever way COMMAND ends.
# Exits with COMMAND's exit status.
#
# `--probe` only checks that the services can run here: prints PostgreSQL 15's bin directory, or fails.
# SERVICES_PGDATA=DIR keeps PostgreSQL's data in DIR instead (`make run`'s demo): created on
# the first run, reused by the next ones, with the server's durability settings left on.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

log() { echo "with_services: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v python3 >/dev/null 2>&1 || die "python3 is required"

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------- PostgreSQL

pg_major() {
    # Prints the major version of the given initdb, or nothing.
    "$1" --version 2>/dev/null | sed -nE 's/^[^0-9]*([0-9]+).*/\1/p' | head -n1
}

find_pgbin() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $dir && -x $dir/initdb && $(pg_major "$dir/initdb") == 15 ]]; then
            echo "$dir"
            return
        fi
    fi
    if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    if command -v initdb >/dev/null 2>&1; then
        # Resolve symlinks so pg_ctl/psql/pgbench come from the same install.
        dirname "$(readlink -f "$(command -v initdb)")"
        return
    fi
    return 1
}

PGBIN=$(find_pgbin) || die "PostgreSQL 15 not found (no initdb in pg_config --bindir, /usr/lib/postgresql/15/bin or PATH)"
version=$("$PGBIN/initdb" --version 2>/dev/null || true)
[[ $(pg_major "$PGBIN/initdb") == 15 ]] || die "PostgreSQL 15 is required, $PGBIN/initdb reports: ${version:-nothing}"
for tool in pg_ctl psql; do
    [[ -x $PGBIN/$tool ]] || die "$PGBIN/$tool not found"
done
# The kept data directory: made here, and reachable by the user the server runs as.
keep_dir() {
    mkdir -p "$SERVICES_PGDATA" || die "cannot create $SERVICES_PGDATA"
    PGDATA_DIR=$(cd "$SERVICES_PGDATA" && pwd)
    if [[ $IS_ROOT -eq 1 ]]; then
        chown postgres: "$PGDATA_DIR"
        runuser -u postgres -- test -w "$PGDATA_DIR" ||
            die "the postgres user cannot reach $PGDATA_DIR (a parent directory closed to other users?)"
    fi
}

if [[ $1 == --probe ]]; then
    # Whether the services can run here (`make run` chooses its database by it): PostgreSQL 15,
    # Redis or the right to install it, and the kept data directory if one is asked for.
    # Installs and starts nothing.
    command -v redis-server >/dev/null 2>&1 || [[ $IS_ROOT -eq 1 ]] || die "redis-server not found"
    [[ -z ${SERVICES_PGDATA:-} ]] || keep_dir
    echo "$PGBIN"
    exit 0
fi

free_ports() {
    # Binds all sockets before closing any, so the ports are distinct.
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# ------------------------------------------------------------------- Redis

REDIS_SERVER=$(command -v redis-server || true)
if [[ -z $REDIS_SERVER ]]; then
    if [[ $IS_ROOT -eq 1 ]]; then
        log "redis-server not found, installing it with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
        REDIS_SERVER=$(command -v redis-server || true)
        [[ -n $REDIS_SERVER ]] || die "redis-server still not found after apt-get install"
    else
        die "redis-server is required: apt-get install redis-server"
    fi
fi
REDIS_CLI=$(command -v redis-cli || true)

# ---------------------------------------------------------------- PgBouncer

# The suite runs a subset through PgBouncer in transaction mode (scripts/ci_checks.sh), and the
# tests of poolers start their own (tests/processes.py).
PGBOUNCER=$(command -v pgbouncer || { [[ -x /usr/sbin/pgbouncer ]] && echo /usr/sbin/pgbouncer; } || true)
if [[ -z $PGBOUNCER && ${WITH_PGBOUNCER:-0} == 1 ]]; then
    if [[ $IS_ROOT -eq 1 ]]; then
        log "pgbouncer not found, installing it with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
        # The package starts a system-wide instance; ours are private.
        systemctl disable --now pgbouncer >/dev/null 2>&1 || service pgbouncer stop >/dev/null 2>&1 || true
        PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
        [[ -x $PGBOUNCER ]] || die "pgbouncer still not found after apt-get install"
    else
        die "pgbouncer is required: apt-get install pgbouncer"
    fi
fi

# ----------------------------------------------------------------- Chromium

# The browser tests drive Debian's Chromium through its chromedriver (Selenium).
if [[ ${WITH_BROWSER:-0} == 1 ]]; then
    if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
        if [[ $IS_ROOT -eq 1 ]]; then
            log "chromium or chromedriver not found, installing them with apt-get"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
        else
            die "the browser tests need Chromium: apt-get install chromium chromium-driver"
        fi
    fi
    export CHROMIUM_BIN CHROMEDRIVER_BIN
    CHROMIUM_BIN=$(command -v chromium) || die "chromium still not found after apt-get install"
    CHROMEDRIVER_BIN=$(command -v chromedriver) || die "chromedriver still not found"
fi

# ------------------------------------------------------- start and cleanup

read -r PG_PORT REDIS_PORT PGBOUNCER_PORT < <(free_ports 3) || true
[[ -n ${PG_PORT:-} && -n ${REDIS_PORT:-} && -n ${PGBOUNCER_PORT:-} ]] || die "could not pick free ports"
SVC_DIR=$(mktemp -d /tmp/with_services.XXXXXX)
PGDATA_DIR=$SVC_DIR/data
KEEP_PGDATA=0
if [[ -n ${SERVICES_PGDATA:-} ]]; then
    keep_dir
    KEEP_PGDATA=1
fi
PGSOCK_DIR=$SVC_DIR/sock
PGLOG=$SVC_DIR/postgres.log
REDIS_PIDFILE=$SVC_DIR/redis.pid
REDIS_LOG=$SVC_DIR/redis.log
PG_STARTED=0
REDIS_STARTED=0
PGBOUNCER_DIR=$SVC_DIR/pgbouncer
PGBOUNCER_STARTED=0

# initdb refuses to run as root, so the cluster belongs to the postgres user.
as_pg() {
    if [[ $IS_ROOT -eq 1 ]]; then
        # cd first: the postgres user may not be able to read the caller's cwd.
        (cd "$SVC_DIR" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

redis_pid() {
    [[ -s $REDIS_PIDFILE ]] && cat "$REDIS_PIDFILE"
}

pid_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    # A daemon that already exited stays a zombie until init reaps it.
    if [[ -r /proc/$1/stat ]]; then
        stat=$(<"/proc/$1/stat") || return 1
        stat=${stat##*) }
        [[ ${stat%% *} != Z ]]
    fi
}

wait_reaped() {
    # Exited daemons are reparented to init; give it a moment to reap them so
    # no zombie is left listed after we return.
    local i pid left
    for ((i = 0; i < 30; i++)); do
        left=0
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && left=1
        done
        [[ $left -eq 0 ]] && return 0
        sleep 0.1
    done
}

stop_redis() {
    local pid i
    pid=$(redis_pid || true)
    if [[ -z $pid && -n $REDIS_CLI ]]; then
        # Pidfile not written yet; ask the server itself.
        "$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        return
    fi
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    pid_alive "$pid" && kill -9 "$pid" 2>/dev/null
}

CLEANED=0
cleanup() {
    local rc=$? pid
    local -a pids=()
    [[ $CLEANED -eq 1 ]] && return "$rc"
    CLEANED=1
    trap - INT TERM
    # Best effort from here on: one failing step must not skip the rest.
    set +e
    if [[ $PG_STARTED -eq 1 && -e $PGDATA_DIR/postmaster.pid ]]; then
        read -r pid <"$PGDATA_DIR/postmaster.pid" && pids+=("$pid")
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 ||
            log "warning: could not stop PostgreSQL (data dir $PGDATA_DIR)"
    fi
    if [[ $REDIS_STARTED -eq 1 ]]; then
        pid=$(redis_pid) && pids+=("$pid")
        stop_redis
    fi
    if [[ $PGBOUNCER_STARTED -eq 1 && -s $PGBOUNCER_DIR/pid ]]; then
        pid=$(<"$PGBOUNCER_DIR/pid") && pids+=("$pid")
        kill -INT "$pid" 2>/dev/null
    fi
    wait_reaped "${pids[@]}"
    rm -rf "$SVC_DIR"
    return "$rc"
}
trap cleanup EXIT
# Exiting from the signal traps runs the EXIT trap, which does the cleanup.
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$PGSOCK_DIR"
if [[ $IS_ROOT -eq 1 ]]; then
    chown -R postgres: "$SVC_DIR"
fi

NEW_CLUSTER=1
[[ $KEEP_PGDATA -eq 1 && -s $PGDATA_DIR/PG_VERSION ]] && NEW_CLUSTER=0
if [[ $NEW_CLUSTER -eq 1 ]]; then
    initdb_opts=(-D "$PGDATA_DIR" -A trust -U postgres --encoding=UTF8)
    if ! as_pg "$PGBIN/initdb" "${initdb_opts[@]}" --locale=C.UTF-8 >"$SVC_DIR/initdb.log" 2>&1; then
        find "$PGDATA_DIR" -mindepth 1 -delete
        if ! as_pg "$PGBIN/initdb" "${initdb_opts[@]}" --locale=C >>"$SVC_DIR/initdb.log" 2>&1; then
            tail -n 30 "$SVC_DIR/initdb.log" >&2
            die "initdb failed (data directory $PGDATA_DIR)"
        fi
    fi
fi

pg_opts="-p $PG_PORT -k $PGSOCK_DIR -c listen_addresses=127.0.0.1"
if [[ $KEEP_PGDATA -eq 0 ]]; then
    # Durability settings are off: the cluster is thrown away afterwards.
    pg_opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
# PG_SHARED_BUFFERS: `make bench` gives the server a quarter of the machine's memory, as a
# production server would have; the suite keeps it small.
pg_opts+=" -c max_connections=200 -c shared_buffers=${PG_SHARED_BUFFERS:-256MB}"
PG_STARTED=1
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGLOG" -o "$pg_opts" -w -t 60 start >/dev/null; then
    tail -n 40 "$PGLOG" >&2 || true
    die "PostgreSQL failed to start"
fi

# Each only when missing: a kept cluster has them from its first run.
"$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
-- The owner migrates and owns the tables (CREATEDB: the test runner makes its databases);
-- the runtime role serves, owns nothing and may not create anything (core.roles).
SELECT 'CREATE ROLE app_owner WITH LOGIN PASSWORD ''app_owner'' CREATEDB NOSUPERUSER NOBYPASSRLS'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_owner') \gexec
SELECT 'CREATE ROLE app WITH LOGIN PASSWORD ''app'' NOCREATEDB NOCREATEROLE NOSUPERUSER NOBYPASSRLS'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') \gexec
SELECT 'CREATE DATABASE app OWNER app_owner'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app') \gexec
SQL

REDIS_STARTED=1
if ! "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$SVC_DIR"; then
    tail -n 40 "$REDIS_LOG" >&2 || true
    die "redis-server failed to start"
fi

redis_ping() {
    if [[ -n $REDIS_CLI ]]; then
        [[ $("$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
    else
        python3 - "$REDIS_PORT" <<'EOF'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
EOF
    fi
}

for ((i = 0; ; i++)); do
    redis_ping && break
    if ((i >= 100)); then
        tail -n 40 "$REDIS_LOG" >&2 || true
        die "redis-server did not answer PING"
    fi
    sleep 0.1
done

if [[ ${WITH_PGBOUNCER:-0} == 1 ]]; then
    # Transaction mode, every database of the cluster; `postgres` may use its console (KILL).
    mkdir -p "$PGBOUNCER_DIR"
    printf '"app" "app"\n"app_owner" "app_owner"\n"postgres" "postgres"\n' >"$PGBOUNCER_DIR/users.txt"
    cat >"$PGBOUNCER_DIR/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $PGBOUNCER_DIR
auth_type = plain
auth_file = $PGBOUNCER_DIR/users.txt
admin_users = postgres
pool_mode = transaction
server_login_retry = 0.2
default_pool_size = 20
max_client_conn = 500
logfile = $PGBOUNCER_DIR/log
pidfile = $PGBOUNCER_DIR/pid
INI
    [[ $IS_ROOT -eq 1 ]] && chown -R postgres: "$PGBOUNCER_DIR"
    PGBOUNCER_STARTED=1
    as_pg "$PGBOUNCER" -d "$PGBOUNCER_DIR/pgbouncer.ini" || die "pgbouncer failed to start"
    export PGBOUNCER_URL="postgres://app:app@127.0.0.1:$PGBOUNCER_PORT/app"
    export PGBOUNCER_ADMIN_URL="postgres://postgres:postgres@127.0.0.1:$PGBOUNCER_PORT/pgbouncer"
    log "PgBouncer (transaction mode) on 127.0.0.1:$PGBOUNCER_PORT"
fi

export PGBIN
export DATABASE_URL="postgres://app:app@127.0.0.1:$PG_PORT/app"
export DATABASE_MIGRATE_URL="postgres://app_owner:app_owner@127.0.0.1:$PG_PORT/app"
export DATABASE_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

if [[ $KEEP_PGDATA -eq 0 ]]; then
    # Throwaway data, throwaway keys. Kept data keeps the keys it was encrypted with: those of
    # the caller's environment or of the project's .env, which Django reads.
    if [[ -z ${SECRET_KEY:-} ]]; then
        SECRET_KEY=$(python3 -c "import secrets,string;a=string.ascii_letters+string.digits;print(''.join(secrets.choice(a) for _ in range(64)))")
    fi
    if [[ -z ${FERNET_KEYS:-} ]]; then
        FERNET_KEYS=$(python3 -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())")
    fi
    export SECRET_KEY FERNET_KEYS
fi
export DEBUG="${DEBUG:-false}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-localhost,127.0.0.1,testserver}"

log "PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"

# Run in the foreground so interactive commands keep the terminal and Ctrl-C.
# Ctrl-C reaches COMMAND directly; COMMAND decides whether to stop, and its
# exit status is what we return.
trap ':' INT
set +e
"$@"
rc=$?
set -e
exit "$rc"
