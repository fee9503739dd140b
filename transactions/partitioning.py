"""Monthly range partitions of `transactions` by `transaction_date` (PostgreSQL only).

- `transactions` is partitioned by RANGE (transaction_date), one partition per calendar month in
  UTC (`transactions_pYYYYMM`), and `transactions_default` takes any date whose month has no
  partition yet, so an authorization never fails on its date. `ensure_partitions` creates months
  ahead of time (`manage.py ensure_transaction_partitions`, from cron); a month created after
  rows of it landed in the default partition takes those rows with it.
- The database key is (id, transaction_date): PostgreSQL enforces no uniqueness of `id` or of
  `token` alone across partitions. `transaction_keys` (TransactionKey) does. A trigger writes
  one row there per transaction, in the same statement: its id (primary key), its token (unique)
  and its date. References into transactions (events, ledger entries, disputes, enhanced data)
  are foreign keys to it, and a lookup by token reads it to find the one partition to look in.
- A transaction's id, token, account and date never change (a trigger refuses it), so a row
  never moves between partitions and its key stays true.
- Old months are detached for retention (`manage.py detach_transaction_partitions`). Their keys
  stay: a token once seen is never taken again.

An existing, unpartitioned table is converted while the product keeps running
(`manage.py partition_transactions`, docs/operations.md): the migration builds the partitioned
table beside it and a trigger repeats every write of the old table in the new one; batches copy
the old rows (resumable: the position is kept in `transactions_partitioning`); counts and sums
per month are compared in one snapshot of both; a short lock swaps the names. An empty table
(a new database) goes through the same steps inside the migration.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection

from core.migration_ops import POLICY, policy_condition

TABLE = "transactions"
SHADOW = "transactions_partitioned"
OLD = "transactions_unpartitioned"
KEYS = "transaction_keys"
DEFAULT_PARTITION = "transactions_default"
PROGRESS = "transactions_partitioning"
RETIRED = "transactions_retired_spend"
PARTITION_PREFIX = "transactions_p"
MONTHS_AHEAD = 3
SWAP_LOCK_TIMEOUT = "5s"

# The tables whose `transaction_id` refers to a transaction, and the name of that reference.
REFERENCES = {
    "transaction_events": "transaction_events_transaction_fk_keys",
    "ledger_entries": "ledger_entries_transaction_fk_keys",
    "disputes": "disputes_transaction_fk_keys",
    "transaction_enhanced_data": "transaction_enhanced_data_transaction_fk_keys",
}

_CONDITION = policy_condition("account_id")

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION transactions_record_key() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {KEYS} (id, token, account_id, transaction_date)
    VALUES (NEW.id, NEW.token, NEW.account_id, NEW.transaction_date);
    RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION transactions_fixed_key() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.token IS DISTINCT FROM OLD.token
       OR NEW.account_id IS DISTINCT FROM OLD.account_id
       OR NEW.transaction_date IS DISTINCT FROM OLD.transaction_date THEN
        RAISE EXCEPTION 'the id, token, account and date of a transaction never change'
            USING ERRCODE = 'integrity_constraint_violation',
                  DETAIL = format('transaction %s', OLD.id);
    END IF;
    RETURN NEW;
END
$fn$;

-- The partitioned table: `transactions` once converted, the one being built before that.
CREATE OR REPLACE FUNCTION transactions_partitioned_table() RETURNS text
    LANGUAGE sql STABLE SET search_path = public, pg_temp AS $fn$
    SELECT CASE
        WHEN (SELECT relkind FROM pg_class WHERE oid = to_regclass('{TABLE}')) = 'p'
            THEN '{TABLE}'
        WHEN to_regclass('{SHADOW}') IS NOT NULL THEN '{SHADOW}'
    END
$fn$;

-- Row-level security on the partitioned table and on each partition: a partition read by its
-- own name shows what the parent would.
CREATE OR REPLACE FUNCTION transactions_protect_partition(part text) RETURNS void
    LANGUAGE plpgsql SET search_path = public, pg_temp AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', part);
    EXECUTE format('DROP POLICY IF EXISTS {POLICY} ON %I', part);
    EXECUTE format('CREATE POLICY {POLICY} ON %I USING ({_CONDITION}) WITH CHECK ({_CONDITION})',
                   part);
END
$fn$;

CREATE OR REPLACE FUNCTION transactions_create_partition(
    parent text, part text, lower_bound timestamptz, upper_bound timestamptz
) RETURNS void
    LANGUAGE plpgsql SET search_path = public, pg_temp SET TimeZone = 'UTC' AS $fn$
BEGIN
    -- A table of its own, then ATTACH: that locks the parent in SHARE UPDATE EXCLUSIVE mode,
    -- which reads and writes of transactions do not wait for (CREATE TABLE ... PARTITION OF
    -- would lock it exclusively). The CHECK lets ATTACH skip scanning the new table.
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   part, parent);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (transaction_date >= %L '
                   'AND transaction_date < %L)', part, part || '_month', lower_bound,
                   upper_bound);
    -- The month's rows already in the default partition move with it (ATTACH then checks
    -- that the default keeps none of them).
    EXECUTE format('INSERT INTO %I SELECT * FROM {DEFAULT_PARTITION} '
                   'WHERE transaction_date >= $1 AND transaction_date < $2', part)
        USING lower_bound, upper_bound;
    DELETE FROM {DEFAULT_PARTITION}
    WHERE transaction_date >= lower_bound AND transaction_date < upper_bound;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, part, lower_bound, upper_bound);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_month');
    PERFORM transactions_protect_partition(part);
END
$fn$;

-- Every month from the one of `first_day` to the one of `last_day` gets its partition; the
-- number created. The runtime role may call it (from cron); it runs as the tables' owner and
-- sees every account's rows, which a move out of the default partition needs.
CREATE OR REPLACE FUNCTION transactions_ensure_partitions(first_day timestamptz,
                                                          last_day timestamptz)
RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp SET TimeZone = 'UTC'
AS $fn$
DECLARE
    parent text := transactions_partitioned_table();
    month_start timestamptz := date_trunc('month', first_day);
    part text;
    created integer := 0;
    caller_all_accounts text := current_setting('app.all_accounts', true);
BEGIN
    IF last_day < first_day THEN
        RAISE EXCEPTION 'the range of months ends before it starts'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF last_day - first_day > interval '20 years' THEN
        RAISE EXCEPTION 'at most twenty years of months at a time'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF parent IS NULL THEN
        RETURN 0;
    END IF;
    -- Every account's rows, for the move out of the default partition; the caller's own
    -- context comes back before the function returns.
    PERFORM set_config('app.all_accounts', 'on', true);
    WHILE month_start <= last_day LOOP
        part := '{PARTITION_PREFIX}' || to_char(month_start, 'YYYYMM');
        IF to_regclass(part) IS NULL THEN
            PERFORM transactions_create_partition(parent, part, month_start,
                                                  month_start + interval '1 month');
            created := created + 1;
        END IF;
        month_start := month_start + interval '1 month';
    END LOOP;
    PERFORM set_config('app.all_accounts', coalesce(caller_all_accounts, ''), true);
    RETURN created;
END
$fn$;

REVOKE ALL ON FUNCTION transactions_ensure_partitions(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION transactions_create_partition(text, text, timestamptz, timestamptz)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION transactions_protect_partition(text) FROM PUBLIC;
"""

PROGRESS_SQL = f"""
CREATE TABLE IF NOT EXISTS {PROGRESS} (
    single boolean PRIMARY KEY DEFAULT true CHECK (single),
    state text NOT NULL CHECK (state IN ('copying', 'done')),
    copied_through bigint NOT NULL DEFAULT 0,
    copy_until bigint NOT NULL DEFAULT 0,
    rows_copied bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

# What the transactions of a detached month had counted, per spend counter and window, so that
# check_ledger still proves the counters (transactions.selectors).
RETIRED_SQL = f"""
CREATE TABLE IF NOT EXISTS {RETIRED} (
    partition text NOT NULL,
    scope varchar(10) NOT NULL,
    owner_id bigint NOT NULL,
    period varchar(10) NOT NULL,
    amount numeric(16, 2) NOT NULL,
    PRIMARY KEY (partition, scope, owner_id, period)
)
"""

RETIRE_SQL = f"""
WITH counted AS (
    SELECT card_id, profile_id, hold_amount + settled_amount AS amount,
           to_char(transaction_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
    FROM {{partition}} WHERE counted
)
INSERT INTO {RETIRED} (partition, scope, owner_id, period, amount)
SELECT %s, scope, owner_id, period, SUM(amount) FROM (
    SELECT 'CARD' AS scope, card_id AS owner_id, day AS period, amount FROM counted
    UNION ALL SELECT 'CARD', card_id, 'life', amount FROM counted
    UNION ALL SELECT 'PROFILE', profile_id, day, amount FROM counted WHERE profile_id IS NOT NULL
    UNION ALL SELECT 'PROFILE', profile_id, 'life', amount FROM counted
              WHERE profile_id IS NOT NULL
) windows GROUP BY scope, owner_id, period
"""


class PartitioningError(RuntimeError):
    """The conversion cannot go on as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Progress:
    state: str  # "partitioned", "copying" or "unpartitioned"
    copied_through: int = 0
    rows_copied: int = 0
    rows_left: int | None = None


@dataclass(frozen=True)
class MonthFigures:
    rows: int
    amount: object
    settled: object
    held: object
    refunded: object


# --- Reading the state -------------------------------------------------------------------------


def _fetchone(cursor, statement: str, params: list | tuple = ()):
    cursor.execute(statement, params)
    return cursor.fetchone()


def _relkind(cursor, table: str) -> str | None:
    row = _fetchone(cursor, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
    return None if row is None else row[0]


def is_partitioned(cursor) -> bool:
    return _relkind(cursor, TABLE) == "p"


def progress(cursor) -> Progress:
    if is_partitioned(cursor):
        return Progress("partitioned")
    if _relkind(cursor, SHADOW) is None:
        return Progress("unpartitioned")
    row = _fetchone(cursor, f"SELECT copied_through, copy_until, rows_copied FROM {PROGRESS}")
    copied_through, until, rows_copied = row if row else (0, 0, 0)
    (left,) = _fetchone(
        cursor,
        f"SELECT count(*) FROM {TABLE} WHERE id > %s AND id <= %s",
        [copied_through, until],
    )
    return Progress("copying", copied_through, rows_copied, left)


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _quoted(names: list[str]) -> str:
    return ", ".join(connection.ops.quote_name(name) for name in names)


# --- Building the partitioned table ------------------------------------------------------------


def token_index_name() -> str:
    """The name Django gives the index of `Transaction.token` (db_index)."""
    from transactions.models import Transaction

    editor = connection.SchemaEditorClass(connection)  # only for its naming rule
    return editor._create_index_name(
        Transaction._meta.db_table, [Transaction._meta.get_field("token").column]
    )


def build(cursor, *, now: datetime.datetime) -> None:
    """Create the partitioned table beside the unpartitioned one, with its partitions, and the
    trigger that repeats every write of the old table in it."""
    cursor.execute(PROGRESS_SQL)
    columns = _columns(cursor, TABLE)
    cursor.execute(
        f"CREATE TABLE {SHADOW} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (transaction_date)"
    )
    # An identity column cannot be partitioned in PostgreSQL 15: a sequence owned by the column
    # gives the ids (Django resets it like any other), taking over the old one's at the swap.
    cursor.execute(f"CREATE SEQUENCE {SHADOW}_id_seq OWNED BY {SHADOW}.id")
    cursor.execute(f"ALTER TABLE {SHADOW} ALTER COLUMN id SET DEFAULT nextval('{SHADOW}_id_seq')")
    cursor.execute(
        f"ALTER TABLE {SHADOW} ADD CONSTRAINT {TABLE}_pkey_next PRIMARY KEY (id, transaction_date)"
    )
    # Every other index of the old table, except the uniqueness that transaction_keys now keeps.
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = to_regclass(%s) AND NOT x.indisprimary AND NOT x.indisunique
        ORDER BY i.relname
        """,
        [TABLE],
    )
    for name, definition in cursor.fetchall():
        body = definition.partition(" USING ")[2]
        cursor.execute(
            f"CREATE INDEX {connection.ops.quote_name(name + '_next')} ON {SHADOW} USING {body}"
        )
    token_index = token_index_name()
    cursor.execute("SELECT to_regclass(%s)", [token_index])
    if cursor.fetchone()[0] is None:
        cursor.execute(f"CREATE INDEX {token_index}_next ON {SHADOW} (token)")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY conname",
        [TABLE],
    )
    for name, definition in cursor.fetchall():
        cursor.execute(
            f"ALTER TABLE {SHADOW} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
        )
    cursor.execute(
        f"CREATE TRIGGER transactions_record_key BEFORE INSERT ON {SHADOW} "
        "FOR EACH ROW EXECUTE FUNCTION transactions_record_key()"
    )
    cursor.execute(
        f"CREATE TRIGGER transactions_fixed_key BEFORE UPDATE ON {SHADOW} "
        "FOR EACH ROW EXECUTE FUNCTION transactions_fixed_key()"
    )
    cursor.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {SHADOW} DEFAULT")
    for table in (SHADOW, DEFAULT_PARTITION):
        cursor.execute("SELECT transactions_protect_partition(%s)", [table])
    first = _fetchone(cursor, f"SELECT min(transaction_date) FROM {TABLE}")[0] or now
    ensure_partitions(cursor, min(first, now), now, months_ahead=MONTHS_AHEAD)
    _install_mirror(cursor, columns)
    # Rows after the last one there now are written by the trigger: the copy stops there, so
    # it ends however busy the table is.
    cursor.execute(
        f"INSERT INTO {PROGRESS} (state, copy_until) "
        f"SELECT 'copying', coalesce(max(id), 0) FROM {TABLE} "
        "ON CONFLICT (single) DO UPDATE SET state = 'copying', copied_through = 0, "
        "copy_until = excluded.copy_until, rows_copied = 0, started_at = now(), "
        "updated_at = now()"
    )


def _install_mirror(cursor, columns: list[str]) -> None:
    names = _quoted(columns)
    values = ", ".join(f"NEW.{connection.ops.quote_name(c)}" for c in columns)
    # SECURITY DEFINER: the runtime role writes the new table only through this trigger. The
    # session's tenant context still applies (FORCE), so a write lands where it would have.
    cursor.execute(
        f"""
        CREATE OR REPLACE FUNCTION transactions_mirror() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO {SHADOW} ({names}) VALUES ({values});
            ELSIF TG_OP = 'UPDATE' THEN
                UPDATE {SHADOW} SET ({names}) = ROW({values})
                WHERE id = OLD.id AND transaction_date = OLD.transaction_date;
            ELSE
                DELETE FROM {SHADOW}
                WHERE id = OLD.id AND transaction_date = OLD.transaction_date;
            END IF;
            RETURN NULL;
        END
        $fn$
        """
    )
    cursor.execute("REVOKE ALL ON FUNCTION transactions_mirror() FROM PUBLIC")
    cursor.execute(
        f"CREATE TRIGGER transactions_mirror AFTER INSERT OR UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION transactions_mirror()"
    )


# --- Copying, checking, swapping ---------------------------------------------------------------


def copy_batch(cursor, size: int) -> int:
    """Copy the next `size` rows of the old table (by id) into the new one, in the caller's
    transaction, and record the position; the number of rows it looked at (0: done).

    The rows are locked FOR SHARE first: a write racing the copy either commits before it (and
    the copy takes the new version) or waits for it (and the trigger then updates the copy).
    Rows the trigger already wrote are left alone.
    """
    after, until = _fetchone(
        cursor, f"SELECT copied_through, copy_until FROM {PROGRESS} FOR UPDATE"
    )
    cursor.execute(
        f"SELECT count(*), max(id) FROM (SELECT id FROM {TABLE} WHERE id > %s AND id <= %s "
        "ORDER BY id LIMIT %s FOR SHARE) batch",
        [after, until, size],
    )
    seen, through = cursor.fetchone()
    if not seen:
        return 0
    names = _quoted(_columns(cursor, SHADOW))
    cursor.execute(
        f"INSERT INTO {SHADOW} ({names}) SELECT {names} FROM {TABLE} t "
        "WHERE t.id > %s AND t.id <= %s "
        f"AND NOT EXISTS (SELECT 1 FROM {KEYS} k WHERE k.id = t.id)",
        [after, through],
    )
    copied = cursor.rowcount
    cursor.execute(
        f"UPDATE {PROGRESS} SET copied_through = %s, rows_copied = rows_copied + %s, "
        "updated_at = now()",
        [through, copied],
    )
    return seen


FIGURES_SQL = """
SELECT to_char(date_trunc('month', transaction_date AT TIME ZONE 'UTC'), 'YYYY-MM'),
       count(*), sum(amount), sum(settled_amount), sum(hold_amount), sum(refunded_amount)
FROM {table} GROUP BY 1
"""


def figures(cursor, table: str) -> dict[str, MonthFigures]:
    cursor.execute(FIGURES_SQL.format(table=connection.ops.quote_name(table)))
    return {row[0]: MonthFigures(*row[1:]) for row in cursor.fetchall()}


def differences(cursor) -> list[str]:
    """Month by month, where the old and the new table disagree (empty: they agree).

    Both are read in one snapshot, in which every committed write is in both or in neither.
    """
    old, new = figures(cursor, TABLE), figures(cursor, SHADOW)
    found = []
    for month in sorted(set(old) | set(new)):
        if old.get(month) != new.get(month):
            found.append(f"{month}: old {old.get(month)}, new {new.get(month)}")
    return found


def swap(cursor) -> None:
    """Put the partitioned table in place of the old one, under a short exclusive lock."""
    cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"DROP TRIGGER transactions_mirror ON {TABLE}")
    cursor.execute("DROP FUNCTION transactions_mirror()")
    cursor.execute(
        "SELECT i.relname, c.conname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
        "WHERE x.indrelid = to_regclass(%s)",
        [TABLE],
    )
    for index, constraint in cursor.fetchall():
        renamed = connection.ops.quote_name(index[:59] + "_old")
        if constraint:
            cursor.execute(
                f"ALTER TABLE {TABLE} RENAME CONSTRAINT "
                f"{connection.ops.quote_name(constraint)} TO {renamed}"
            )
        else:
            cursor.execute(f"ALTER INDEX {connection.ops.quote_name(index)} RENAME TO {renamed}")
    (sequence,) = _fetchone(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    if sequence:
        cursor.execute(
            f"SELECT setval('{SHADOW}_id_seq', GREATEST((SELECT last_value FROM {sequence}), "
            f"(SELECT coalesce(max(id), 0) FROM {TABLE}), 1))"
        )
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"DROP SEQUENCE IF EXISTS {sequence}")
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    cursor.execute(f"ALTER TABLE {SHADOW} RENAME TO {TABLE}")
    cursor.execute(f"ALTER SEQUENCE {SHADOW}_id_seq RENAME TO {TABLE}_id_seq")
    cursor.execute(
        "SELECT i.relname, c.conname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
        "WHERE x.indrelid = to_regclass(%s) AND i.relname LIKE '%%\\_next'",
        [TABLE],
    )
    for index, constraint in cursor.fetchall():
        original = connection.ops.quote_name(index[: -len("_next")])
        if constraint:
            cursor.execute(
                f"ALTER TABLE {TABLE} RENAME CONSTRAINT "
                f"{connection.ops.quote_name(constraint)} TO {original}"
            )
        else:
            cursor.execute(f"ALTER INDEX {connection.ops.quote_name(index)} RENAME TO {original}")
    cursor.execute(f"UPDATE {PROGRESS} SET state = 'done', updated_at = now()")
    for table, name in REFERENCES.items():
        cursor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (transaction_id) "
            f"REFERENCES {KEYS} (id) DEFERRABLE INITIALLY DEFERRED NOT VALID"
        )


def validate_references(cursor) -> None:
    """Check the rows already there against the new references (no write is blocked)."""
    for table, name in REFERENCES.items():
        cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def drop_old(cursor) -> None:
    if _relkind(cursor, OLD) is None:
        raise PartitioningError(f"there is no {OLD} table to drop")
    cursor.execute(f"DROP TABLE {OLD}")


def convert_empty(cursor, *, now: datetime.datetime) -> bool:
    """The whole conversion at once when the old table has no rows (a new database)."""
    if _fetchone(cursor, f"SELECT EXISTS (SELECT 1 FROM {TABLE})")[0]:
        return False
    build(cursor, now=now)
    swap(cursor)
    validate_references(cursor)
    drop_old(cursor)
    return True


# --- Partitions ------------------------------------------------------------------------------


def ensure_partitions(
    cursor, first_day: datetime.datetime, now: datetime.datetime, *, months_ahead: int
) -> int:
    """Partitions for every month from `first_day`'s to `months_ahead` after `now`'s."""
    last_day = _add_months(_month_start(now), months_ahead)
    (created,) = _fetchone(
        cursor, "SELECT transactions_ensure_partitions(%s, %s)", [first_day, last_day]
    )
    return created


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime.datetime | None
    upper: datetime.datetime | None
    rows: int  # the planner's estimate

    @property
    def is_default(self) -> bool:
        return self.lower is None


PARTITIONS_SQL = """
SELECT c.relname, bound.lower, bound.upper, GREATEST(c.reltuples, 0)::bigint
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL (
    -- FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00'), or DEFAULT
    SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \\(''([^'']+)''\\)')::timestamptz
               AS lower,
           substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz
               AS upper
) bound
WHERE i.inhparent = to_regclass(%s)
ORDER BY bound.lower NULLS LAST
"""


def partitions(cursor) -> list[Partition]:
    """The partitions of the partitioned table, oldest month first, the default last."""
    parent = _fetchone(cursor, "SELECT transactions_partitioned_table()")[0]
    if parent is None:
        return []
    cursor.execute(PARTITIONS_SQL, [parent])
    return [Partition(*row) for row in cursor.fetchall()]


def detach(cursor, partition: Partition) -> int:
    """Detach one month in the caller's transaction: its rows leave `transactions` and stay in
    a table of their own; what they counted is kept for check_ledger. Its row count."""
    if partition.is_default:
        raise PartitioningError("the default partition is never detached")
    name = connection.ops.quote_name(partition.name)
    (rows, holds) = _fetchone(
        cursor, f"SELECT count(*), count(*) FILTER (WHERE hold_amount > 0) FROM {name}"
    )
    if holds:
        raise PartitioningError(
            f"{partition.name} still has {holds} open hold(s): they are released or settled "
            "by Lithic's events first"
        )
    cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
    cursor.execute(RETIRE_SQL.format(partition=name), [partition.name])
    cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
    return rows


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _month_start(moment: datetime.datetime) -> datetime.datetime:
    moment = moment.astimezone(datetime.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_months(moment: datetime.datetime, months: int) -> datetime.datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def month_start(moment: datetime.datetime, months_later: int = 0) -> datetime.datetime:
    return _add_months(_month_start(moment), months_later)


# --- Privileges --------------------------------------------------------------------------------


def grant_runtime_privileges(sender, *, alias: str, role: str, **kwargs) -> None:
    """After core.roles' grants: the runtime role may create months ahead (cron), and may
    neither read nor write the old table a conversion left, nor move the conversion on."""
    from django.db import connections
    from psycopg import sql

    target = connections[alias]
    role_name = sql.Identifier(role)
    with target.cursor() as cursor:
        raw = cursor.cursor.connection
        cursor.execute(
            "SELECT to_regprocedure('transactions_ensure_partitions(timestamptz, timestamptz)'), "
            "to_regclass(%s), to_regclass(%s)",
            [OLD, PROGRESS],
        )
        function, old, progress_table = cursor.fetchone()
        statements = []
        if function:
            statements.append(
                sql.SQL(
                    "GRANT EXECUTE ON FUNCTION transactions_ensure_partitions(timestamptz, "
                    "timestamptz) TO {}"
                ).format(role_name)
            )
        cursor.execute("SELECT to_regclass(%s)", [RETIRED])
        if cursor.fetchone()[0]:
            statements.append(
                sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(RETIRED), role_name)
            )
            statements.append(
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(RETIRED), role_name)
            )
        for table, granted in ((OLD, old), (PROGRESS, progress_table)):
            if granted:
                statements.append(
                    sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), role_name)
                )
        for statement in statements:
            cursor.execute(statement.as_string(raw))
