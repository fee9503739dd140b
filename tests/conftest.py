"""Shared fixtures: named personas, built through the real services."""

from __future__ import annotations

import datetime
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings
from pytest_django.live_server_helper import LiveServer

from accounts.models import Role
from accounts.services import account_create, user_create
from core.audit import system_actor
from core.roles import owner_connection
from core.tenancy import system_scope
from tests.console import console_login

PASSWORD = "correct-horse-battery-staple-9"


def pytest_collection_finish(session):
    # The suite asserts PostgreSQL behaviour (constraints, locking, COPY); SQLite would lie.
    if django_settings.DATABASES["default"]["ENGINE"] != "core.postgresql":
        pytest.exit("The test suite runs on PostgreSQL: use `make test`.", returncode=2)


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_keepdb,
    django_db_modify_db_settings,
):
    """pytest-django's, with the test databases created and migrated by the owner role.

    The suite itself then connects as the runtime role of DATABASE_URL (core.roles), as the
    product does.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock(), owner_connection("default"):
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            keepdb=django_db_keepdb,
            serialized_aliases=[],
        )
    yield
    if not django_db_keepdb:
        # The pools keep their connections open, and DROP DATABASE refuses a database in use.
        from django.db import connections

        for alias in connections:
            connections[alias].close_pool()
        _close_pooler_connections(db_cfg)
        with django_db_blocker.unblock(), owner_connection("default"):
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


def _close_pooler_connections(db_cfg) -> None:
    """Behind PgBouncer (scripts/ci_checks.sh) its server connections to the test database
    outlive the suite's own, and DROP DATABASE refuses a database in use: close them first."""
    admin = os.environ.get("PGBOUNCER_ADMIN_URL")
    if not admin or not django_settings.DATABASES["default"]["PORT"]:
        return
    admin_url = urlsplit(admin)
    if str(admin_url.port) != str(django_settings.DATABASES["default"]["PORT"]):
        return  # this run connects directly
    for connection_, _old_name, destroy in db_cfg:
        if destroy:
            subprocess.run(
                [str(Path(os.environ["PGBIN"]) / "psql"), admin, "-X", "-q",
                 "-c", f"KILL {connection_.settings_dict['NAME']}"],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip


@pytest.fixture(autouse=True)
def _tenant_context():
    """Tests set up their data as the system context `tests`; requests and the processes the
    tests start set their own (core.tenancy). Tests of the context itself override it."""
    with system_scope("tests"):
        yield


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # Production settings redirect to HTTPS; the test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
    # The login budget counts in the Redis every worker shares: one test's logins must not
    # spend another's. Its own test sets it (tests/accounts/test_console_login.py).
    settings.LOGIN_PASSWORD_CHECKS_PER_SECOND = 1000


@pytest.fixture
def fixture_actor():
    with system_actor("test:fixtures"):
        yield


@pytest.fixture
def acme(db, fixture_actor):
    """A customer account with money on it."""
    return account_create(name="Acme Corp", balance=Decimal("25000.00"), tax_id="12-3456789")


@pytest.fixture
def globex(db, fixture_actor):
    """Another customer, whose data Acme must never see."""
    return account_create(name="Globex Inc", balance=Decimal("5000.00"), tax_id="98-7654321")


@pytest.fixture
def operator(db, fixture_actor):
    """Operations staff: superuser of the console, no account."""
    return user_create(
        email="ops@cardops.test",
        account=None,
        password=PASSWORD,
        is_staff=True,
        is_superuser=True,
        first_name="Olivia",
        last_name="Operator",
    )


@pytest.fixture
def customer_admin(acme, fixture_actor):
    return user_create(
        email="ada@acme.test",
        account=acme,
        role=Role.ADMIN,
        password=PASSWORD,
        first_name="Ada",
        last_name="Admin",
        phone="+1 555 010 4477",
        date_of_birth=datetime.date(1985, 4, 12),
    )


@pytest.fixture
def customer_analyst(acme, fixture_actor):
    return user_create(email="ann@acme.test", account=acme, role=Role.ANALYST, password=PASSWORD)


@pytest.fixture
def other_customer(globex, fixture_actor):
    return user_create(email="gus@globex.test", account=globex, role=Role.OWNER, password=PASSWORD)


@pytest.fixture
def raw_sql():
    """Run SQL directly, bypassing the ORM (and its validation)."""

    def run(sql: str, params=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, params or [])
            if cursor.description:
                return cursor.fetchall()
            return None

    return run


@pytest.fixture
def api_client():
    """`api_client(user)`: a DRF client authenticated with a fresh API key of that user."""
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    def make(user, **key_options):
        with system_actor("test:fixtures"):
            api_key, key = api_key_create(user=user, name="test", **key_options)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        client.api_key = api_key
        return client

    return make


@pytest.fixture
def customer_owner(acme, fixture_actor):
    return user_create(email="otto@acme.test", account=acme, role=Role.OWNER, password=PASSWORD)


@pytest.fixture
def cardholder(acme, fixture_actor):
    """A plain user of Acme who holds cards."""
    return user_create(email="uma@acme.test", account=acme, role=Role.USER, password=PASSWORD)


@pytest.fixture
def lithic_fake(settings, monkeypatch):
    """Lithic's API faked on a local port (tests/lithic_fake.py); outbound sync points at it.

    Small timeouts and retries keep the failure tests quick; the SDK itself is the real one.
    """
    from lithic_integration import gateway as lithic_gateway
    from tests.lithic_fake import API_KEY, LithicFake

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    fake = LithicFake().start()
    settings.LITHIC_API_KEY = API_KEY
    settings.LITHIC_BASE_URL = fake.base_url
    settings.LITHIC_TIMEOUT_SECONDS = settings.LITHIC_ON_COMMIT_TIMEOUT_SECONDS = 0.5
    settings.LITHIC_MAX_RETRIES = settings.LITHIC_ON_COMMIT_MAX_RETRIES = 2
    yield fake
    fake.stop()
    lithic_gateway._client_for.cache_clear()
    # Every request we sent was one Lithic accepts, and the fake answered as Lithic does.
    assert fake.spec_problems == []


@pytest.fixture
def operator_client(client, operator):
    """The test client logged in to the console as the operator (second factor verified)."""
    return console_login(client, operator)


@pytest.fixture(scope="module")
def live_server():
    """A threaded server speaking plain HTTP (the middleware reads the redirect at start-up)."""
    with override_settings(SECURE_SSL_REDIRECT=False):
        server = LiveServer("localhost")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def asa_server():
    """A threaded server with the responder's own URLs and middleware (config.asa_settings)."""
    responder = override_settings(SECURE_SSL_REDIRECT=False, **asa_process_settings())
    responder.enable()
    try:
        server = LiveServer("localhost")
        yield server
        server.stop()
    finally:
        responder.disable()


def asa_process_settings() -> dict:
    """The settings that make a request go through the responder's own URLs and middleware."""
    from config import asa_settings

    return {"ROOT_URLCONF": asa_settings.ROOT_URLCONF, "MIDDLEWARE": asa_settings.MIDDLEWARE}


@pytest.fixture
def asa_process(settings):
    """The responder's own configuration (config.asa_settings) for the whole test."""
    for name, value in asa_process_settings().items():
        setattr(settings, name, value)


def pytest_terminal_summary(terminalreporter):
    """The fault table (tests/test_fault_table.py), from the rows its cases recorded."""
    rows = sorted(
        (
            value
            for reports in terminalreporter.stats.values()
            for report in reports
            for name, value in getattr(report, "user_properties", ())
            if name == "fault_table_row" and getattr(report, "when", "") == "call"
        ),
        key=lambda row: row["order"],
    )
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault table")
    write("| case | requests | errors | stale reads after own write | ASA answers | wrong ASA "
          "answers | p99 ms |")  # fmt: skip
    write("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        write(
            f"| {row['case']} | {row['requests']} | {row['errors']} | {row['stale']} | "
            f"{row['answers']} | {row['wrong']} | {row['p99_ms']} |"
        )
