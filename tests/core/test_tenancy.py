"""The database defends itself: row-level security on every tenant table, and the runtime role.

Every test here runs raw SQL through the app's own connection (the runtime role of
DATABASE_URL, core.roles), in the contexts of core.tenancy.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import JsonResponse
from django.urls import include, path
from psycopg import sql
from rest_framework.decorators import api_view
from rest_framework.response import Response

from accounts.models import ApiKey, IdempotencyRecord, Role
from accounts.services import api_key_create
from cards.models import Card
from core.postgresql.base import run_prepared
from core.roles import append_only_tables
from core.tenancy import account_scope, no_scope, system_scope
from lithic_integration.asa import parse_request
from tests.api_world import build_world
from tests.console import console_login
from tests.lithic_payloads import enhanced_data
from tests.transactions.conftest import asa_body
from transactions.authorization import authorize, record_unmatched
from transactions.rollups import rollups_refresh
from webhooks.handlers import handler_for
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db

# Tables keyed by the account itself rather than by an `account_id` column.
ACCOUNT_KEYED = {"accounts": "id", "accounts_history": "id"}


def tenant_tables() -> dict[str, str]:
    """Every table with an `account_id` column, and the accounts' own: table → its column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'account_id' ORDER BY table_name"
        )
        found = {row[0]: "account_id" for row in cursor.fetchall()}
    return {**ACCOUNT_KEYED, **found}


def _world_of_every_table(account, slug: str) -> None:
    """Rows of `account` in every tenant table, through the services."""
    world = build_world(account, slug=slug, transactions=2)
    key, _ = api_key_create(user=world.owner, name=f"{slug} key")
    IdempotencyRecord.objects.create(
        api_key=key, account=account, key=f"{slug}-1", request_fingerprint="f" * 64
    )
    card = world.card
    card.lithic_card_token = uuid.uuid4()
    card.save(update_fields=["lithic_card_token"])
    body = asa_body(card, 1200)
    answer = authorize(parse_request(body, request_id=f"msg_{slug}"), body=body)
    assert answer.result == "APPROVED", answer
    record_unmatched(
        token=str(uuid.uuid4()),
        card_token=str(uuid.uuid4()),
        result="UNAUTHORIZED_MERCHANT",
        reason="test",
        body=b"{}",
        account_id=account.pk,
    )
    request = json.loads(body)
    handler_for("card_transaction.enhanced_data.created")(
        enhanced_data(transaction_token=request["token"], event_token=str(uuid.uuid4()))
    )
    Webhook.objects.create(
        webhook_id=f"msg_{uuid.uuid4().hex}",
        event_type="card.updated",
        account=account,
        payload={"event_type": "card.updated"},
    )


@pytest.fixture
def two_tenants(acme, globex, categories_5812):
    with system_scope("tests"):
        _world_of_every_table(acme, "acme")
        _world_of_every_table(globex, "globex")
        rollups_refresh(days=1)  # the overview's rollups of both accounts' transactions
    return acme, globex


@pytest.fixture
def categories_5812(db):
    from tests.api_world import spending_category

    return spending_category("5812")


def _count(table: str, where: str = "", params=()) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)).as_string(None)
    with connection.cursor() as cursor:
        cursor.execute(query + (f" WHERE {where}" if where else ""), list(params))
        return cursor.fetchone()[0]


def _refused(statement: str, params=()) -> str:
    """Run `statement` in a savepoint; the database's error, or '' if it ran."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, list(params))
            rowcount = cursor.rowcount
    except DatabaseError as exc:
        return str(exc)
    return f"ran: {rowcount} rows"


def _columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


# --- Every tenant table is covered ------------------------------------------------------------


def test_every_tenant_table_forces_row_level_security_with_a_policy():
    tables = tenant_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "  (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relname = ANY(%s)",
            [list(tables)],
        )
        state = {name: (enabled, forced, policies) for name, enabled, forced, policies in cursor}
    assert set(state) == set(tables)
    missing = sorted(name for name, value in state.items() if value != (True, True, 1))
    assert missing == []
    assert len(tables) >= 30  # the tenant tables of this version, history included


# --- Account A's context ---------------------------------------------------------------------


def test_in_one_accounts_context_no_other_accounts_row_can_be_read_or_written(two_tenants):
    acme, globex = two_tenants
    tables = tenant_tables()
    append_only = set(append_only_tables())
    with system_scope("tests"):
        seen = {
            table: (
                _count(table, f"{col} = %s", [acme.pk]),
                _count(table, f"{col} = %s", [globex.pk]),
            )
            for table, col in tables.items()
        }
    empty = sorted(table for table, (mine, theirs) in seen.items() if not mine or not theirs)
    assert empty == [], "every tenant table must hold rows of both accounts for this test"

    problems = []
    with account_scope(acme.pk, "tests:acme"):
        for table, col in tables.items():
            quoted = connection.ops.quote_name(table)
            if _count(table, f"{col} = %s", [globex.pk]):
                problems.append(f"{table}: reads Globex rows")
            if _count(table) != seen[table][0]:
                problems.append(f"{table}: shows {_count(table)} rows, not Acme's {seen[table][0]}")
            for verb, statement in [
                ("update", f"UPDATE {quoted} SET {col} = {col} WHERE {col} = %s"),
                ("delete", f"DELETE FROM {quoted} WHERE {col} = %s"),
            ]:
                outcome = _refused(statement, [globex.pk])
                expected = "permission denied" if table in append_only else "ran: 0 rows"
                if expected not in outcome:
                    problems.append(f"{table}: {verb} of Globex rows: {outcome}")
            # Moving one's own rows to another account is refused by the policy's check.
            moved = _refused(
                f"UPDATE {quoted} SET {col} = %s WHERE {col} = %s", [globex.pk, acme.pk]
            )
            expected = "permission denied" if table in append_only else "row-level security"
            if table == "transactions":
                # A transaction's account never changes at all (transactions.partitioning).
                expected = "never change"
            if expected not in moved:
                problems.append(f"{table}: move to Globex: {moved}")
            columns = _columns(table)
            copied = ", ".join(
                "%s" if name == col else connection.ops.quote_name(name) for name in columns
            )
            names = ", ".join(connection.ops.quote_name(name) for name in columns)
            inserted = _refused(
                f"INSERT INTO {quoted} ({names}) SELECT {copied} FROM {quoted} LIMIT 1",
                [globex.pk],
            )
            if "row-level security" not in inserted:
                problems.append(f"{table}: insert for Globex: {inserted}")
    assert problems == []
    with system_scope("tests"):
        assert {
            t: (_count(t, f"{c} = %s", [acme.pk]), _count(t, f"{c} = %s", [globex.pk]))
            for t, c in tables.items()
        } == seen


def test_without_a_context_no_table_shows_a_row_or_takes_one(two_tenants):
    acme, _ = two_tenants
    with no_scope():
        shown = {table: _count(table) for table in tenant_tables()}
        assert {table: n for table, n in shown.items() if n} == {}
        refused = _refused(
            "INSERT INTO account_settings (account_id, key, value, created_at, updated_at, token)"
            " VALUES (%s, 'x', '1', now(), now(), gen_random_uuid())",
            [acme.pk],
        )
    assert "row-level security" in refused


def test_the_context_is_gone_with_its_transaction(acme):
    with account_scope(acme.pk, "tests:acme"), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.account_id', true)")
        assert cursor.fetchone() == (str(acme.pk),)
    with no_scope(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.account_id', true), "
            "current_setting('app.all_accounts', true)"
        )
        assert cursor.fetchone() in {("", ""), (None, None)}


def test_a_savepoint_rolled_back_over_a_switch_puts_the_context_back(acme, globex):
    with account_scope(acme.pk, "tests:acme"), transaction.atomic():
        assert _count("accounts") == 1
        try:
            with transaction.atomic(), account_scope(globex.pk, "tests:globex"):
                assert _count("accounts", "id = %s", [globex.pk]) == 1
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM accounts")
            assert cursor.fetchall() == [(acme.pk,)]


def _prepared(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{fragment}%"],
        )
        return cursor.fetchone()[0]


def test_prepared_statements_run_in_the_context_of_their_moment(acme, globex):
    statements = [("SELECT id FROM accounts WHERE id <> %s ORDER BY id", [0])]
    with transaction.atomic(), connection.cursor() as cursor:
        with account_scope(acme.pk, "tests:acme"):
            assert run_prepared(cursor, statements) == [[(acme.pk,)]]
        with account_scope(globex.pk, "tests:globex"):
            assert run_prepared(cursor, statements) == [[(globex.pk,)]]
            # The plain cursor after the pipeline: the context it set is still the one.
            cursor.execute("SELECT id FROM accounts")
            assert cursor.fetchall() == [(globex.pk,)]
        with no_scope():
            assert run_prepared(cursor, statements) == [[]]
    # Planned once on this connection, then reused: one prepared statement for the three runs.
    assert _prepared("FROM accounts WHERE id <> $1") == 1


def test_a_prepared_batch_raises_as_django_does_and_leaves_the_transaction_usable(acme):
    duplicate = (
        "INSERT INTO account_settings (account_id, key, value, created_at, updated_at, token)"
        " VALUES (%s, %s, '1', now(), now(), gen_random_uuid())"
    )
    with account_scope(acme.pk, "tests:acme"), connection.cursor() as cursor:
        with pytest.raises(IntegrityError), transaction.atomic():
            run_prepared(cursor, [(duplicate, [acme.pk, "dup"]), (duplicate, [acme.pk, "dup"])])
        # The savepoint rolled back: nothing of the batch stays, and the context comes back.
        assert run_prepared(cursor, [("SELECT count(*) FROM account_settings WHERE key = %s",
                                      ["dup"])]) == [[(0,)]]  # fmt: skip
        assert _count("accounts") == 1


def test_with_prepared_statements_off_the_batch_runs_unprepared(acme):
    connection.ensure_connection()
    raw = connection.connection
    threshold = raw.prepare_threshold
    raw.prepare_threshold = None  # what DATABASE_PREPARED_STATEMENTS=false gives
    try:
        with account_scope(acme.pk, "tests:acme"), connection.cursor() as cursor:
            statements = [("SELECT id FROM accounts WHERE id >= %s", [0])]
            assert run_prepared(cursor, statements) == [[(acme.pk,)]]
            assert run_prepared(cursor, statements) == [[(acme.pk,)]]
    finally:
        raw.prepare_threshold = threshold
    assert _prepared("FROM accounts WHERE id >= $1") == 0


def test_the_responders_card_query_is_planned_once_per_connection(acme, categories_5812):
    world = build_world(acme, slug="prep", transactions=0)
    card = world.card
    card.lithic_card_token = uuid.uuid4()
    card.save(update_fields=["lithic_card_token"])
    with system_scope("tests"):
        for n in range(3):
            body = asa_body(card, 100 + n)
            answer = authorize(parse_request(body, request_id=f"msg_prep_{n}"), body=body)
            assert answer.result == "APPROVED", answer
    assert _prepared("WHERE c.lithic_card_token = $3") == 1
    assert _prepared("FROM accounts WHERE id = $1 FOR NO KEY UPDATE") == 1


@pytest.mark.django_db(transaction=True)
def test_a_prepared_batch_under_autocommit_is_one_transaction_in_its_context(acme, globex):
    with account_scope(acme.pk, "tests:acme"), connection.cursor() as cursor:
        assert connection.get_autocommit()
        results = run_prepared(
            cursor,
            [("SELECT current_setting('app.account_id', true)", []),
             ("SELECT id FROM accounts WHERE id > %s", [0])],
        )  # fmt: skip
    assert results == [[(str(acme.pk),)], [(acme.pk,)]]
    with no_scope(), connection.cursor() as cursor:
        assert run_prepared(cursor, [("SELECT id FROM accounts WHERE id > %s", [0])]) == [[]]


# --- Through the web -------------------------------------------------------------------------


@api_view(["GET"])
def unscoped_cards(request):
    """Deliberately forgets the selectors: every card row the database shows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid(), current_setting('app.account_id', true), "
            "current_setting('app.actor', true)"
        )
        pid, account, actor = cursor.fetchone()
    cards = sorted(str(card.token) for card in Card.all_objects.all())
    return Response({"cards": cards, "pid": pid, "account": account, "actor": actor})


def plain_view(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), count(*) FROM cards")
        pid, count = cursor.fetchone()
    return JsonResponse({"pid": pid, "cards": count})


urlpatterns = [
    path("test-only/unscoped-cards/", unscoped_cards),
    path("test-only/plain/", plain_view),
    path("", include("config.urls")),
]


@pytest.fixture
def keys(two_tenants):
    acme, globex = two_tenants
    made = {}
    with system_scope("tests"):
        for account in (acme, globex):
            owner = account.users.filter(role=Role.OWNER).first()
            _, key = api_key_create(user=owner, name="walk")
            made[account.pk] = key
    return made


@pytest.mark.urls("tests.core.test_tenancy")
def test_an_unscoped_queryset_shows_only_the_callers_cards(client, two_tenants, keys):
    acme, globex = two_tenants
    with system_scope("tests"):
        acme_cards = sorted(
            str(t) for t in Card.all_objects.filter(account=acme).values_list("token", flat=True)
        )
        assert Card.all_objects.filter(account=globex).exists()
    response = client.get(
        "/test-only/unscoped-cards/", HTTP_AUTHORIZATION=f"Api-Key {keys[acme.pk]}"
    )
    assert response.status_code == 200
    assert response.json()["cards"] == acme_cards
    assert response.json()["account"] == str(acme.pk)
    assert response.json()["actor"].startswith("api_key:")


@pytest.mark.urls("tests.core.test_tenancy")
def test_two_requests_on_one_connection_never_see_each_others_context(client, two_tenants, keys):
    acme, globex = two_tenants
    answers = []
    for account in (acme, globex, acme):
        response = client.get(
            "/test-only/unscoped-cards/", HTTP_AUTHORIZATION=f"Api-Key {keys[account.pk]}"
        )
        answers.append(response.json())
        # Between requests, on the same connection, nothing is left behind.
        plain = client.get("/test-only/plain/").json()
        assert plain["cards"] == 0
        assert plain["pid"] == answers[-1]["pid"]
    assert len({answer["pid"] for answer in answers}) == 1  # one connection throughout
    assert [answer["account"] for answer in answers] == [str(acme.pk), str(globex.pk), str(acme.pk)]
    assert answers[0]["cards"] == answers[2]["cards"]
    assert not set(answers[0]["cards"]) & set(answers[1]["cards"])


def test_an_operator_in_the_console_sees_every_account(client, operator, two_tenants):
    acme, globex = two_tenants
    console_login(client, operator)
    response = client.get("/admin/cards/card/")
    assert response.status_code == 200
    with system_scope("tests"):
        names = [card.memo for card in Card.all_objects.all() if card.memo]
    assert names  # the world's cards carry a memo
    page = response.content.decode()
    for account in (acme, globex):
        with system_scope("tests"):
            token = str(Card.all_objects.filter(account=account).first().token)[:8]
        assert token in page or account.name in page


def test_an_api_key_of_one_account_finds_nothing_of_another(client, two_tenants, keys):
    acme, globex = two_tenants
    with system_scope("tests"):
        theirs = Card.all_objects.filter(account=globex).first()
    response = client.get(
        f"/api/v1/cards/{theirs.token}/", HTTP_AUTHORIZATION=f"Api-Key {keys[acme.pk]}"
    )
    assert response.status_code == 404


# --- The runtime role ------------------------------------------------------------------------


def test_the_runtime_role_is_neither_superuser_nor_owner():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False, False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user"
        )
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = current_user"
        )
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT datdba::regrole::text <> current_user FROM pg_database "
            "WHERE datname = current_database()"
        )
        assert cursor.fetchone() == (True,)


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_immutable",
        "ALTER TABLE security_events DISABLE TRIGGER ALL",
        "ALTER TABLE cards NO FORCE ROW LEVEL SECURITY",
        "ALTER TABLE transactions DISABLE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON accounts",
        "TRUNCATE ledger_entries",
        "TRUNCATE security_events",
        "TRUNCATE transaction_events",
        "TRUNCATE transactions",
        "CREATE TABLE shadow (id int)",
        "SET session_replication_role = replica",
    ],
)
def test_the_runtime_role_cannot_switch_the_defences_off(statement):
    outcome = _refused(statement)
    assert "must be owner" in outcome or "permission denied" in outcome, outcome


def test_append_only_tables_take_rows_but_never_change_them():
    tables = append_only_tables()
    assert {"ledger_entries", "transaction_events", "security_events", "cards_history"} <= set(
        tables
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT has_table_privilege(current_user, %s, 'SELECT'), "
                "has_table_privilege(current_user, %s, 'INSERT'), "
                "has_table_privilege(current_user, %s, 'UPDATE'), "
                "has_table_privilege(current_user, %s, 'DELETE'), "
                "has_table_privilege(current_user, %s, 'TRUNCATE')",
                [table] * 5,
            )
            assert cursor.fetchone() == (True, True, False, False, False), table


def test_no_table_may_be_truncated_by_the_runtime_role():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
            "AND has_table_privilege(current_user, c.oid, 'TRUNCATE')"
        )
        assert cursor.fetchall() == []


def test_api_keys_are_found_before_the_context_exists(two_tenants, keys, client):
    acme, _ = two_tenants
    assert ApiKey.objects.filter(account=acme).exists()
    response = client.get("/api/v1/cards/", HTTP_AUTHORIZATION=f"Api-Key {keys[acme.pk]}")
    assert response.status_code == 200
    assert Decimal(acme.balance) > 0


def test_an_operator_logs_in_through_the_form_before_any_context_exists(client, operator):
    from tests.conftest import PASSWORD
    from tests.console import current_code, totp_device

    device = totp_device(operator)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": operator.email, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content[:500]
    assert client.post("/admin/mfa/", {"token": current_code(device)}).status_code == 302
    with system_scope("tests"):
        operator.refresh_from_db()
    assert operator.last_login is not None
    assert client.get("/admin/cards/card/").status_code == 200
    with no_scope():
        assert _count("users") == 0  # the login's reads did not leave a context behind


def test_an_operators_reads_in_the_console_are_recorded_as_such(client, operator, two_tenants):
    from accounts.models import SecurityEvent, SecurityEventKind

    acme, globex = two_tenants
    with system_scope("tests"):
        card = Card.all_objects.filter(account=globex).first()
    console_login(client, operator)
    assert client.get(f"/admin/cards/card/{card.pk}/change/").status_code == 200
    assert client.get("/admin/cards/card/", {"state__exact": "OPEN"}).status_code == 200
    assert client.get("/admin/").status_code == 200  # no tenant rows on the index page
    # The security log is not tenant data: reading it is not an operator read of an account.
    assert client.get("/admin/accounts/securityevent/").status_code == 200
    reads = list(SecurityEvent.objects.filter(kind=SecurityEventKind.OPERATOR_READ).order_by("id"))
    assert [(read.user_id, read.outcome, read.path) for read in reads] == [
        (operator.pk, "success", f"/admin/cards/card/{card.pk}/change/"),
        (operator.pk, "success", "/admin/cards/card/"),
    ]
    assert reads[0].detail == f"cards_card_change {card.pk}"
    assert reads[1].detail == "cards_card_changelist state__exact=OPEN"


def test_an_api_keys_reads_are_not_operator_reads(client, two_tenants, keys):
    from accounts.models import SecurityEvent, SecurityEventKind

    acme, _ = two_tenants
    response = client.get("/api/v1/cards/", HTTP_AUTHORIZATION=f"Api-Key {keys[acme.pk]}")
    assert response.status_code == 200
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.OPERATOR_READ).exists()
