"""`transactions` partitioned by month (transactions.partitioning): where rows land, what a
date-bounded query reads, the keys that keep ids and tokens unique, the commands that create and
detach months, and the conversion of an existing unpartitioned table while it is written to."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import environ
import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.migrations.loader import MigrationLoader

from core.roles import owner_connection
from core.tenancy import account_scope
from tests.processes import project_env
from transactions import partitioning
from transactions.models import (
    SpendCounter,
    Transaction,
    TransactionEvent,
    TransactionKey,
)
from transactions.selectors import ledger_mismatches

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
UTC = datetime.UTC
NOW = partitioning.now_utc()


def month(offset: int) -> datetime.datetime:
    """The middle of the month `offset` months from this one."""
    return partitioning.month_start(NOW, offset) + datetime.timedelta(days=14, hours=3)


def partition_name(moment: datetime.datetime) -> str:
    return f"transactions_p{moment:%Y%m}"


@pytest.fixture
def card(acme, make_card):
    return make_card(acme)


def add(card, when: datetime.datetime, **options) -> Transaction:
    options.setdefault("amount", Decimal("10.00"))
    options.setdefault("status", "SETTLED")
    options.setdefault("settled_amount", options["amount"])
    return Transaction.objects.create(
        account_id=card.account_id, card=card, transaction_date=when, **options
    )


def home(txn: Transaction) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM transactions WHERE id = %s", [txn.pk])
        return cursor.fetchone()[0]


def ensure(first: datetime.datetime, months_ahead: int = partitioning.MONTHS_AHEAD) -> int:
    with connection.cursor() as cursor:
        return partitioning.ensure_partitions(cursor, first, NOW, months_ahead=months_ahead)


def test_each_row_lands_in_its_months_partition_and_the_rest_in_the_default(card):
    ensure(month(-2))
    txns = {offset: add(card, month(offset)) for offset in (-2, -1, 0, 1, 3)}
    for offset, txn in txns.items():
        assert home(txn) == partition_name(month(offset))
    # A date no month was made for still authorizes: the default partition takes it.
    far = add(card, month(40))
    long_ago = add(card, datetime.datetime(2001, 5, 5, tzinfo=UTC))
    assert home(far) == home(long_ago) == partitioning.DEFAULT_PARTITION
    # The boundary is midnight UTC of the first of the month.
    first = partitioning.month_start(NOW, 1)
    assert home(add(card, first)) == partition_name(first)
    assert home(add(card, first - datetime.timedelta(microseconds=1))) == partition_name(NOW)


def test_a_date_bounded_query_reads_only_its_months(card):
    ensure(month(-3))
    for offset in (-3, -2, -1, 0):
        add(card, month(offset))
    start, end = partitioning.month_start(NOW, -1), partitioning.month_start(NOW, 1)
    queryset = Transaction.objects.filter(
        card=card, transaction_date__gte=start, transaction_date__lt=end
    )
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    read = {name for name in _partition_names() if name in plan}
    assert read == {partition_name(month(-1)), partition_name(month(0))}, plan
    assert queryset.count() == 2


def _partition_names() -> list[str]:
    with connection.cursor() as cursor:
        return [p.name for p in partitioning.partitions(cursor)]


def test_a_token_is_unique_across_every_partition(card):
    ensure(month(-1))
    token = uuid.uuid4()
    add(card, month(-1), token=token)
    with pytest.raises(IntegrityError, match="transaction_keys_token_key"), transaction.atomic():
        add(card, month(1), token=token)
    with pytest.raises(IntegrityError, match="transaction_keys_token_key"), transaction.atomic():
        add(card, month(60), token=token)  # the default partition too
    assert Transaction.objects.filter(token=token).count() == 1


def test_every_transaction_has_its_key_and_references_point_at_keys(card):
    txn = add(card, month(0))
    key = TransactionKey.objects.get(pk=txn.pk)
    assert (key.token, key.account_id, key.transaction_date) == (
        txn.token,
        txn.account_id,
        txn.transaction_date,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text FROM pg_constraint "
            "WHERE confrelid = 'transaction_keys'::regclass AND contype = 'f' AND convalidated"
        )
        referring = {row[0] for row in cursor.fetchall()}
    assert referring == set(partitioning.REFERENCES)
    # An event of a transaction that does not exist is refused by the database.
    with (
        pytest.raises(IntegrityError, match="transaction_events_transaction_fk_keys"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred, like Django's own
        TransactionEvent.objects.create(
            created=NOW,
            token=uuid.uuid4(),
            account_id=txn.account_id,
            transaction_id=txn.pk + 10_000,
            type="AUTHORIZATION",
            amount=Decimal("1.00"),
        )


@pytest.mark.parametrize(
    "change",
    [
        {"token": uuid.uuid4()},
        {"transaction_date": month(-1)},
        {"id": 999_999},
    ],
    ids=["token", "date", "id"],
)
def test_the_key_of_a_transaction_never_changes(card, change):
    ensure(month(-1))
    txn = add(card, month(0))
    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        Transaction.objects.filter(pk=txn.pk).update(**change)
    txn.refresh_from_db()
    assert home(txn) == partition_name(month(0))


def test_a_month_made_after_its_rows_arrived_takes_them_from_the_default(card):
    later = month(partitioning.MONTHS_AHEAD + 2)
    early = add(card, later)
    assert home(early) == partitioning.DEFAULT_PARTITION
    event = TransactionEvent.objects.create(
        token=uuid.uuid4(),
        account_id=card.account_id,
        transaction=early,
        type="AUTHORIZATION",
        amount=Decimal("10.00"),
        created=NOW,
    )
    assert ensure(NOW, months_ahead=partitioning.MONTHS_AHEAD + 2) == 2
    assert home(early) == partition_name(later)
    moved = Transaction.objects.get(pk=early.pk)
    assert (moved.token, moved.amount, moved.transaction_date) == (
        early.token,
        early.amount,
        early.transaction_date,
    )
    assert TransactionEvent.objects.get(pk=event.pk).transaction == moved
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM transactions WHERE tableoid = to_regclass(%s)",
            [partitioning.DEFAULT_PARTITION],
        )
        assert cursor.fetchone()[0] == 0


def test_the_cron_command_creates_the_months_ahead_as_the_runtime_role(capsys):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cursor.fetchone()
    assert not superuser
    call_command("ensure_transaction_partitions", "--months-ahead", "6")
    names = set(_partition_names())
    for offset in range(7):
        assert partition_name(partitioning.month_start(NOW, offset)) in names
    assert "every month to" in capsys.readouterr().out
    # Again: nothing to do, and it says so.
    call_command("ensure_transaction_partitions", "--months-ahead", "6")
    assert "0 partition(s) created" in capsys.readouterr().out
    with pytest.raises(CommandError, match="between 0 and 120"):
        call_command("ensure_transaction_partitions", "--months-ahead", "-1")
    # The runtime role has no privilege on a partition: only the parent, under its policy.
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"SELECT count(*) FROM {partition_name(NOW)}")
    assert user == connection.settings_dict["USER"]


@pytest.mark.django_db(transaction=True)
def test_a_partition_read_by_name_still_shows_one_account_only(card, globex, make_card):
    other = make_card(globex)
    add(card, month(0))
    add(other, month(0))
    with (
        owner_connection(),
        connection.cursor() as cursor,
        account_scope(card.account_id, "tests:acme"),
        transaction.atomic(),
    ):
        cursor.execute(f"SELECT DISTINCT account_id FROM {partition_name(NOW)}")
        assert [row[0] for row in cursor.fetchall()] == [card.account_id]


@contextmanager
def detached_months_dropped():
    """A detached month is a table of its own, referring to cards: dropped before the flush.

    What the detached months counted (`transactions_retired_spend`) is the command's own table,
    which the flush after the test does not know either: emptied too, or the next test's
    ledger check would find counted spend without its counters.
    """
    try:
        yield
    finally:
        with owner_connection(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relname LIKE 'transactions\\_p%%' "
                "AND relkind = 'r' AND NOT relispartition"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP TABLE {name}")
            cursor.execute("SELECT to_regclass(%s)", [partitioning.RETIRED])
            if cursor.fetchone()[0] is not None:
                cursor.execute(f"TRUNCATE {partitioning.RETIRED}")


@pytest.mark.django_db(transaction=True)
def test_detaching_old_months_keeps_their_tokens_and_check_ledger_clean(acme, make_card, capsys):
    with detached_months_dropped():
        _detach_old_months(acme, make_card, capsys)


def _detach_old_months(acme, make_card, capsys):
    card = make_card(acme)
    old, recent = month(-16), month(-2)
    with connection.cursor() as cursor:
        partitioning.ensure_partitions(cursor, old, NOW, months_ahead=1)
    kept_token = uuid.uuid4()
    spent = {}
    for when, token in ((old, kept_token), (recent, uuid.uuid4())):
        add(card, when, token=token, counted=True, amount=Decimal("25.00"))
        day = when.strftime("%Y-%m-%d")
        spent[day] = Decimal("25.00")
    for period, amount in [*spent.items(), ("life", sum(spent.values()))]:
        SpendCounter.objects.create(
            scope="CARD", owner_id=card.pk, period=period, amount=amount, account_id=acme.pk
        )
    assert ledger_mismatches() == []
    with pytest.raises(CommandError, match="at least 13"):
        call_command("detach_transaction_partitions", "--keep-months", "6")
    call_command("detach_transaction_partitions", "--keep-months", "13", "--dry-run")
    assert f"would detach {partition_name(old)}" in capsys.readouterr().out
    assert partition_name(old) in _partition_names()

    call_command("detach_transaction_partitions", "--keep-months", "13")
    out = capsys.readouterr().out
    assert f"detached {partition_name(old)}: 1 rows" in out
    assert partition_name(old) not in _partition_names()
    assert partition_name(recent) in _partition_names()
    assert not Transaction.objects.filter(token=kept_token).exists()
    # What the month counted is kept: the counters still prove out.
    assert ledger_mismatches() == []
    # Its token stays taken.
    with pytest.raises(IntegrityError, match="transaction_keys_token_key"), transaction.atomic():
        add(card, month(0), token=kept_token)


@pytest.mark.django_db(transaction=True)
def test_a_month_with_open_holds_is_not_detached(acme, make_card):
    card = make_card(acme)
    old = month(-20)
    with connection.cursor() as cursor:
        partitioning.ensure_partitions(cursor, old, NOW, months_ahead=1)
    add(card, old, status="PENDING", settled_amount=Decimal("0"), hold_amount=Decimal("5.00"))
    with detached_months_dropped(), pytest.raises(CommandError, match="open hold"):
        call_command("detach_transaction_partitions", "--keep-months", "13")
    assert partition_name(old) in _partition_names()


# --- Converting an existing table -------------------------------------------------------------


def _admin_dsn() -> str:
    return os.environ["DATABASE_ADMIN_URL"]


def _with_database(url: str, name: str) -> str:
    config = environ.Env.db_url_config(url)
    return f"postgresql://{config['USER']}:{config['PASSWORD']}@{config['HOST']}:{config['PORT']}/{name}"


@pytest.fixture
def unconverted_database():
    """A new database migrated up to, not including, the partitioning of transactions."""
    name = f"convert_{uuid.uuid4().hex[:10]}"
    owner = environ.Env.db_url_config(os.environ["DATABASE_MIGRATE_URL"])["USER"]
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE {name} OWNER "{owner}"')
    env = {
        **project_env(),
        "DATABASE_URL": _with_database(os.environ["DATABASE_URL"], name),
        "DATABASE_MIGRATE_URL": _with_database(os.environ["DATABASE_MIGRATE_URL"], name),
    }
    apps_with_migrations = sorted(MigrationLoader(None, ignore_no_migrations=True).migrated_apps)
    manage(env, "migrate", "transactions", "0006", "-v0")
    for label in apps_with_migrations:
        if label != "transactions":
            manage(env, "migrate", label, "-v0")
    manage(env, "seed_demo", "--accounts", "2", "--transactions", "0", "--no-progress")
    try:
        yield env
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


OLD_ROWS_SQL = """
INSERT INTO transactions
    (token, account_id, card_id, amount, settled_amount, hold_amount, refunded_amount, currency,
     merchant_descriptor, merchant_city, merchant_country, mcc, type, status, result,
     declined_reason, counted, transaction_date, created_at, updated_at)
SELECT gen_random_uuid(), c.account_id, c.id, (mod(n, 997) + 1) / 100.0,
       CASE WHEN mod(n, 5) = 0 THEN 0 ELSE (mod(n, 997) + 1) / 100.0 END,
       CASE WHEN mod(n, 5) = 0 THEN (mod(n, 997) + 1) / 100.0 ELSE 0 END, 0, 'USD',
       'SHOP ' || n, 'Town', 'USA', '5812', 'AUTHORIZATION',
       CASE WHEN mod(n, 5) = 0 THEN 'PENDING' ELSE 'SETTLED' END, 'APPROVED', '', true,
       now() - mod(n, 400) * interval '1 day', now(), now()
FROM generate_series(1, %(rows)s) n
JOIN LATERAL (SELECT id, account_id FROM cards ORDER BY id OFFSET mod(n, 3) LIMIT 1) c ON true
"""

TOTALS_SQL = """
SELECT count(*), sum(amount), sum(settled_amount), sum(hold_amount), count(DISTINCT token),
       max(id)
FROM transactions
"""


def _connect_owner(env: dict) -> psycopg.Connection:
    conn = psycopg.connect(env["DATABASE_MIGRATE_URL"])
    conn.execute("SELECT set_config('app.all_accounts', 'on', false)")
    return conn


def test_an_unpartitioned_table_converts_while_written_to_and_loses_nothing(unconverted_database):
    env = unconverted_database
    rows = 3_000
    with _connect_owner(env) as conn:
        conn.execute(OLD_ROWS_SQL, {"rows": rows})
        conn.commit()
        before = conn.execute(TOTALS_SQL).fetchone()
    assert before[0] == rows

    out = manage(env, "migrate", "-v1")
    assert "partition_transactions" in out  # it says what to run next
    with _connect_owner(env) as conn:
        assert conn.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'transactions'"
        ).fetchone() == ("r",)
    assert "copying: 0 rows copied" in manage(env, "partition_transactions", "--status")

    # A first run interrupted after some batches (as a crash would): --no-swap stops after the
    # comparison; a write lands during the copy through the trigger; a second run goes on.
    stop = threading.Event()
    written: list[uuid.UUID] = []

    def writer():
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            while not stop.is_set():
                token = uuid.uuid4()
                conn.execute("SELECT set_config('app.all_accounts', 'on', true)")
                conn.execute(
                    "INSERT INTO transactions (token, account_id, card_id, amount, "
                    "settled_amount, hold_amount, refunded_amount, currency, merchant_descriptor,"
                    " merchant_city, merchant_country, mcc, type, status, result, "
                    "declined_reason, counted, transaction_date, created_at, updated_at) "
                    "SELECT %s, account_id, id, 1.25, 1.25, 0, 0, 'USD', 'LIVE', '', '', '', "
                    "'AUTHORIZATION', 'SETTLED', 'APPROVED', '', false, now(), now(), now() "
                    "FROM cards ORDER BY id LIMIT 1",
                    [token],
                )
                conn.execute("SELECT set_config('app.all_accounts', 'on', true)")
                conn.execute(
                    "UPDATE transactions SET settled_amount = settled_amount + 0.01, "
                    "amount = amount + 0.01 WHERE id = (SELECT min(id) FROM transactions "
                    "WHERE status = 'SETTLED')"
                )
                conn.commit()
                written.append(token)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        first = manage(env, "partition_transactions", "--batch-size", "500", "--no-swap")
    finally:
        stop.set()
        thread.join()
    assert "counts and sums agree" in first and "not swapped" in first
    assert written, "the writer wrote nothing during the copy"

    done = manage(env, "partition_transactions", "--batch-size", "500", "--drop-old")
    assert "swapped" in done and f"dropped {partitioning.OLD}" in done
    assert "partitioned" in manage(env, "partition_transactions", "--status")

    with _connect_owner(env) as conn:
        assert conn.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'transactions'"
        ).fetchone() == ("p",)
        after = conn.execute(TOTALS_SQL).fetchone()
        keys = conn.execute("SELECT count(*) FROM transaction_keys").fetchone()[0]
        live = conn.execute(
            "SELECT count(*) FROM transactions WHERE token = ANY(%s)", [written]
        ).fetchone()[0]
        in_default = conn.execute(
            f"SELECT count(*) FROM {partitioning.DEFAULT_PARTITION}"
        ).fetchone()[0]
    # Every old row and every row written during the conversion, each once, with its money.
    assert after[0] == rows + len(written) == keys == after[4]
    assert live == len(written)
    assert in_default == 0
    assert after[3] == before[3]  # holds untouched by the writer
    assert after[1] - before[1] == after[2] - before[2]  # the writer's amounts settled in full

    # The product works on the result: new ids above the old ones, ledger checks clean.
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        conn.execute("SELECT set_config('app.all_accounts', 'on', true)")
        new_id = conn.execute(
            "INSERT INTO transactions (token, account_id, card_id, amount, settled_amount, "
            "hold_amount, refunded_amount, currency, merchant_descriptor, merchant_city, "
            "merchant_country, mcc, type, status, result, declined_reason, counted, "
            "transaction_date, created_at, updated_at) SELECT gen_random_uuid(), account_id, id,"
            " 1, 1, 0, 0, 'USD', '', '', '', '', 'AUTHORIZATION', 'SETTLED', 'APPROVED', '', "
            "false, now(), now(), now() FROM cards ORDER BY id LIMIT 1 RETURNING id"
        ).fetchone()[0]
        conn.commit()
    assert new_id > after[5]
    out = manage(env, "makemigrations", "--check", "--dry-run")
    assert "No changes detected" in out


@pytest.mark.django_db(transaction=True)
def test_the_conversion_command_refuses_bad_input_and_knows_a_converted_table(capsys):
    with pytest.raises(CommandError, match="must be positive"):
        call_command("partition_transactions", "--batch-size", "0")
    call_command("partition_transactions", "--status")
    assert capsys.readouterr().out.strip() == "partitioned"
