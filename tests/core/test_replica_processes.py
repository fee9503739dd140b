"""Read replicas as deployed: two web processes read from a real streaming replica.

A private PostgreSQL with a standby of its own (pg_basebackup -R), a private Redis, and two
gunicorn servers of `config.wsgi` (A and B) configured with `DATABASE_REPLICA_URLS`. The
replica lags because its replay is paused while the primary writes, and it is stopped and
finally promoted. Each time, the clients that wrote read their writes, whichever process serves
them, and nothing answers 500.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
from django_otp.oath import TOTP

from tests.processes import (
    Gunicorn,
    PrivatePostgres,
    PrivateRedis,
    PrivateReplica,
    migrate_and_seed,
    project_env,
    run_script,
)

HTTPS = {"X-Forwarded-Proto": "https"}
CHECK_SECONDS = 0.2
OPERATOR = ("ops@process.test", "a-long-operator-passphrase-1")
OPERATOR_TOTP_KEY = "3132333435363738393031323334353637383930"  # the RFC 6238 test key

PEOPLE_SCRIPT = f"""
import json
from accounts.models import Account, Role, User
from accounts.services import api_key_create, user_create
from core.audit import system_actor
from django_otp.plugins.otp_totp.models import TOTPDevice
with system_actor("test:processes"):
    account = Account.objects.get(name="Process Co")
    owner = User.objects.get(email="owner@process.test")
    _, second = api_key_create(user=owner, name="second client")
    operator = user_create(email="{OPERATOR[0]}", account=None, password="{OPERATOR[1]}",
                           is_staff=True, is_superuser=True)
    TOTPDevice.objects.create(user=operator, name="app", key="{OPERATOR_TOTP_KEY}",
                              confirmed=True)
print(json.dumps({{"second_key": second}}))
"""


@pytest.fixture(scope="module")
def deployment():
    primary, redis = PrivatePostgres(), PrivateRedis()
    replica = servers = None
    try:
        env = project_env(**primary.env, REDIS_URL=redis.url)
        seed = migrate_and_seed(env)
        seed.update(json.loads(run_script(PEOPLE_SCRIPT, env=env)))
        replica = PrivateReplica(primary)
        web_env = project_env(
            DATABASE_URL=primary.url,
            DATABASE_REPLICA_URLS=replica.url,
            DATABASE_REPLICA_CHECK_SECONDS=str(CHECK_SECONDS),
            REDIS_URL=redis.url,
        )
        servers = [Gunicorn("config.wsgi:application", env=web_env, workers=1) for _ in "AB"]
        yield {"primary": primary, "replica": replica, "servers": servers, "env": env, **seed}
    finally:
        for server in servers or ():
            server.stop()
        if replica is not None:
            replica.destroy()
        redis.destroy()
        primary.destroy()


def api(server: Gunicorn, key: str, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Api-Key {key}", **HTTPS}
    return requests.request(
        method, f"{server.url}/api/v1/{path}", headers=headers, timeout=30, **kwargs
    )


def serving_reads(server: Gunicorn) -> bool:
    """Whether the server's replica is in use, as its `/readyz/` reports it (asking it also
    starts the process's measurements)."""
    ready = requests.get(f"{server.url}/readyz/", headers=HTTPS, timeout=30).json()
    return next(iter(ready["checks"]["replicas"].values())).get("serving_reads", False)


def settle(deployment) -> None:
    """The replica has everything, and both servers have measured it so."""
    deployment["replica"].wait_replayed()
    deadline = time.monotonic() + 10
    while not all(serving_reads(server) for server in deployment["servers"]):
        assert time.monotonic() < deadline, "the servers never measured the replica healthy"
        time.sleep(CHECK_SECONDS)


@pytest.fixture
def lagging(deployment):
    """The replica receives the primary's WAL and applies none of it, for the test."""
    settle(deployment)
    deployment["replica"].pause_replay()
    try:
        yield deployment
    finally:
        deployment["replica"].resume_replay()
        settle(deployment)


def test_a_client_reads_its_own_write_on_another_process(lagging):
    a, b = lagging["servers"]
    writer, other = lagging["api_key"], lagging["second_key"]

    created = api(a, writer, "POST", "card-products/", json={"name": "Fresh product"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]

    # The writer's next read, on the other process, is the primary's.
    mine = api(b, writer, "GET", f"card-products/{token}/")
    assert mine.status_code == 200
    assert mine.json()["name"] == "Fresh product"
    # Another client of the account reads the replica, which has not applied it yet.
    theirs = api(b, other, "GET", f"card-products/{token}/")
    assert theirs.status_code == 404

    lagging["replica"].resume_replay()
    lagging["replica"].wait_replayed()
    assert api(a, other, "GET", f"card-products/{token}/").status_code == 200


def test_a_key_created_or_revoked_a_moment_ago_counts_at_once(lagging):
    a, _b = lagging["servers"]
    created = json.loads(
        run_script(
            "import json\n"
            "from accounts.models import User\n"
            "from accounts.services import api_key_create\n"
            "from core.audit import system_actor\n"
            "with system_actor('test:processes'):\n"
            "    _, key = api_key_create(user=User.objects.get(email='owner@process.test'),"
            " name='new')\n"
            "print(json.dumps(key))\n",
            env=lagging["env"],
        )
    )
    assert api(a, created, "GET", "card-products/").status_code == 200

    run_script(
        "from accounts.models import ApiKey\n"
        "from accounts.services import api_key_revoke\n"
        "from core.audit import system_actor\n"
        "with system_actor('test:processes'):\n"
        f"    api_key_revoke(api_key=ApiKey.objects.get(prefix='{created.split('.')[0]}'))\n",
        env=lagging["env"],
    )
    refused = api(a, created, "GET", "card-products/")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "invalid_api_key"


def test_reads_are_isolated_by_tenant_on_the_replica(deployment):
    # A client that has not written reads the replica, in its own tenant context there: it
    # sees its account's rows (a connection without the context would see none at all).
    settle(deployment)
    a, _b = deployment["servers"]
    listed = api(a, deployment["second_key"], "GET", "cards/")
    assert listed.status_code == 200
    assert listed.json()["count"] == 1


class _Browser(requests.Session):
    """A browser behind the TLS proxy: the cookies it was given (Secure, as in production)
    go back to the plain-HTTP test server too."""

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def test_an_operator_sees_the_result_of_an_admin_action(lagging):
    a, b = lagging["servers"]
    session = _Browser()
    session.headers.update(HTTPS)
    login_page = session.get(f"{a.url}/admin/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    logged_in = session.post(
        f"{a.url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf, "username": OPERATOR[0], "password": OPERATOR[1]},
        headers={"Referer": f"https://127.0.0.1:{a.port}/admin/login/"},
        timeout=30,
    )
    assert logged_in.status_code == 200 and 'id="mfa-form"' in logged_in.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', logged_in.text).group(1)
    code = f"{TOTP(bytes.fromhex(OPERATOR_TOTP_KEY)).token():06d}"
    verified = session.post(
        logged_in.url,
        data={"csrfmiddlewaretoken": csrf, "token": code},
        headers={"Referer": logged_in.url.replace("http:", "https:")},
        timeout=30,
    )
    assert verified.status_code == 200 and "Log out" in verified.text

    changelist = f"{b.url}/admin/cards/card/"
    page = session.get(changelist, timeout=30)
    card_id = re.search(r'name="_selected_action" value="(\d+)"', page.text).group(1)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    paused = session.post(
        changelist,
        data={"csrfmiddlewaretoken": csrf, "action": "pause_cards", "_selected_action": card_id},
        headers={"Referer": changelist.replace("http:", "https:")},
        timeout=30,
    )
    # The page that follows the action (on the other process) shows the card paused.
    assert paused.status_code == 200
    detail = session.get(f"{a.url}/admin/cards/card/{card_id}/change/", timeout=30)
    assert detail.status_code == 200
    assert '<div class="readonly">Paused</div>' in detail.text


def test_a_stopped_replica_costs_no_request(deployment):
    settle(deployment)
    a, b = deployment["servers"]
    key = deployment["second_key"]
    deployment["replica"].stop()
    try:
        statuses = [api(server, key, "GET", "cards/").status_code for server in (a, b) * 10]
        assert statuses == [200] * 20
        ready = requests.get(f"{a.url}/readyz/", headers=HTTPS, timeout=30)
        assert ready.status_code == 200
        (check,) = ready.json()["checks"]["replicas"].values()
        assert check["serving_reads"] is False
        assert check["status"].startswith("down")
    finally:
        deployment["replica"].start()
    deployment["replica"].wait_replayed()
    deadline = time.monotonic() + 10
    while not serving_reads(a):
        assert time.monotonic() < deadline, "the replica was not used again once it was back"
        time.sleep(CHECK_SECONDS)


def test_a_promoted_replica_is_left_alone(deployment):
    # Last in the module: the replica becomes a primary of its own.
    settle(deployment)
    a, b = deployment["servers"]
    deployment["replica"].promote()
    time.sleep(4 * CHECK_SECONDS)
    created = api(a, deployment["api_key"], "POST", "card-products/", json={"name": "After"})
    assert created.status_code == 201
    # Not the writer: its reads would go to a replica, and none is fit.
    token = created.json()["token"]
    assert api(b, deployment["second_key"], "GET", f"card-products/{token}/").status_code == 200
