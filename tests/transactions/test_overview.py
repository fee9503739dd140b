"""The console's front page: today's and the last 30 days' authorizations, declines by reason,
spend per day, top merchants and categories, the ledger check, the events inbox, the sync with
Lithic and lockouts, each figure a link to the list behind it; read from daily rollups, never
from the transactions table."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import user_create
from tests.conftest import PASSWORD
from tests.console import console_login
from tests.transactions.conftest import asa_payload
from transactions.models import DailyRollup, Transaction
from transactions.rollups import rollups_refresh

pytestmark = pytest.mark.django_db


def authorize(asa, card, cents: int, *, merchant: str = "coffee shop", mcc: str = "5812") -> str:
    payload = asa_payload(card, cents, mcc=mcc)
    payload["merchant"]["descriptor"] = merchant
    return asa(json.dumps(payload).encode())[1]["result"]


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    end = html.find('<div class="module record-panel"', start + 1)
    return html[start : end if end != -1 else len(html)]


@pytest.fixture
def traffic(asa, acme, make_card, categories):
    card = make_card(acme, spend_limit=Decimal("100.00"), spend_limit_duration="TRANSACTION")
    assert authorize(asa, card, 4000, merchant="Blue Bottle") == "APPROVED"
    assert authorize(asa, card, 2500, merchant="Blue Bottle") == "APPROVED"
    assert authorize(asa, card, 9900, merchant="Figma", mcc="5734") == "APPROVED"
    assert authorize(asa, card, 15000, merchant="Figma", mcc="5734") != "APPROVED"
    assert authorize(asa, card, 500, merchant="Lucky Casino", mcc="7995") != "APPROVED"
    call_command("refresh_rollups", stdout=StringIO())
    return card


def test_the_overview_shows_todays_authorizations_from_the_rollups(operator_client, traffic):
    with CaptureQueriesContext(connection) as queries:
        html = operator_client.get("/admin/").content.decode()
    # Never a read of the transactions table: the rollups only.
    assert not [q["sql"] for q in queries if re.search(r'FROM "transactions\b', q["sql"])]

    figures = text(section(html, "overview-authorizations"))
    assert "3 approved, today" in figures
    assert "2 declined, today" in figures
    assert "40.0% decline rate, today" in figures
    assert "$164.00 spend, today" in figures
    assert "3 approved, last 30 days" in figures

    declines = text(section(html, "overview-declines"))
    assert "UNAUTHORIZED_MERCHANT 1 VELOCITY_EXCEEDED 1" in declines

    merchants = text(section(html, "overview-merchants"))
    assert merchants.index("Figma") < merchants.index("Blue Bottle")  # $99.00 before $65.00
    assert "Lucky Casino" not in merchants  # declined: no spend
    mccs = text(section(html, "overview-mccs"))
    assert "5734 Computer software stores" in mccs

    spend = section(html, "overview-spend")
    assert "<svg" in spend and "$164.00" in spend  # the chart, its highest day as its scale


def test_each_figure_links_to_the_list_behind_it(operator_client, traffic):
    html = operator_client.get("/admin/").content.decode()
    declined_link = re.search(r'id="declined-today"><span class="value"><a href="([^"]+)"', html)
    declined = operator_client.get(declined_link.group(1).replace("&amp;", "&"))
    assert declined.status_code == 200
    listed = declined.context["cl"].result_list
    assert len(listed) == 2 and {t.status for t in listed} == {"DECLINED"}

    merchant_link = re.search(r'<a href="([^"]+)">Figma</a>', html).group(1)
    by_merchant = operator_client.get(merchant_link.replace("&amp;", "&"))
    assert {t.merchant_descriptor for t in by_merchant.context["cl"].result_list} == {"Figma"}

    for url in set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/\?[^"]+)"', html)):
        assert operator_client.get(url.replace("&amp;", "&")).status_code == 200, url


def test_rollups_follow_status_changes_and_are_rebuilt_whole(traffic):
    today = timezone.now().astimezone(datetime.UTC).date()
    rows = DailyRollup.objects.filter(day=today).count()
    assert rollups_refresh(days=1) == rows  # the same day, rebuilt: no duplicates
    assert DailyRollup.objects.filter(day=today).count() == rows
    total = sum(r.count for r in DailyRollup.objects.filter(day=today))
    assert total == Transaction.objects.count() == 5


def test_operational_health_sections(operator_client, traffic, fixture_actor):
    call_command("check_ledger", stdout=StringIO())
    AccessAttempt.objects.create(
        username="sam@cardops.test",
        ip_address="203.0.113.9",
        user_agent="test",
        failures_since_start=10,
        attempt_time=timezone.now(),
        get_data="",
        post_data="",
        http_accept="",
        path_info="/admin/login/",
    )
    html = operator_client.get("/admin/").content.decode()
    assert "agrees check_ledger" in text(section(html, "overview-ledger"))
    inbox = text(section(html, "overview-webhooks"))
    assert "0 waiting" in inbox and "0 dead (retries exhausted)" in inbox
    assert "never run reconcile_lithic" in text(section(html, "overview-lithic"))
    assert "1 locked out now" in text(section(html, "overview-lockouts"))


def test_sections_follow_the_operators_permissions(client, traffic, fixture_actor):
    viewer = user_create(email="vic@cardops.test", account=None, password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhook"))
    console_login(client, viewer)
    html = client.get("/admin/").content.decode()
    assert 'id="overview-webhooks"' in html
    assert 'id="overview-authorizations"' not in html
    assert 'id="overview-lockouts"' not in html
