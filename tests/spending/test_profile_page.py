"""A spending profile's page in the console: its rules named by code and name, the cards that
use it, and a history that includes every change to its rules."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import user_create
from cards.services import card_issue
from core.soft_delete import soft_delete, undelete
from spending.models import ProfileCategory, SpendingCategory, SpendingProfile
from spending.services import profile_category_set, spending_profile_create, spending_profile_update
from tests.conftest import PASSWORD
from tests.console import console_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def categories(db, fixture_actor):
    """The few merchant categories these tests use (leaf data, not the whole catalogue)."""
    rows = {
        "5812": ("Eating places, restaurants", False, ""),
        "5734": ("Computer software stores", False, ""),
        "7995": ("Betting, casino gambling", True, "gambling"),
    }
    return {
        mcc: SpendingCategory.objects.create(
            mcc=mcc,
            description=description,
            group="test",
            range_start=mcc,
            range_end=mcc,
            is_high_risk=high_risk,
            risk_reason=reason,
        )
        for mcc, (description, high_risk, reason) in rows.items()
    }


@pytest.fixture
def travel(acme, categories, fixture_actor):
    return spending_profile_create(account=acme, name="Travel", allowed_mccs=["5812"])


@pytest.fixture
def make_card(fixture_actor):
    def make(account, **options):
        options.setdefault("lithic_card_token", uuid.uuid4())
        return card_issue(account=account, **options)

    return make


def staff_client(client, *permissions: str):
    """A console user (staff, no account) with only these permissions, logged in."""
    user = user_create(email="sam@cardops.test", account=None, password=PASSWORD, is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return console_login(client, user)


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def panel(html: str, panel_id: str) -> str:
    start = html.index(f'id="{panel_id}"')
    return html[start : html.index("</table>", start)]


def profile_url(profile, view: str = "change") -> str:
    return f"/admin/spending/spendingprofile/{profile.pk}/{view}/"


# --- Rules named by their code -----------------------------------------------------------------


def test_a_rule_is_named_by_its_code_and_the_code_s_name(travel, categories):
    rule = ProfileCategory.objects.get(profile=travel)
    assert str(rule) == "ALLOWED 5812 Eating places, restaurants"


def test_the_profile_page_and_the_rule_list_show_codes_not_row_ids(
    operator_client, travel, categories
):
    rule = profile_category_set(profile=travel, category=categories["7995"], rule="BLOCKED")

    row_ids = re.compile(
        rf"\b(ALLOWED|BLOCKED) ({categories['7995'].pk}|{categories['5812'].pk})\b(?! [A-Z])"
    )
    profile_page = text(page(operator_client, profile_url(travel)))
    assert "BLOCKED 7995 Betting, casino gambling" in profile_page
    assert "ALLOWED 5812 Eating places, restaurants" in profile_page
    assert not row_ids.search(profile_page)

    rules = text(page(operator_client, "/admin/spending/profilecategory/"))
    assert "BLOCKED 7995 Betting, casino gambling" in rules
    assert "ALLOWED 5812 Eating places, restaurants" in rules
    assert not row_ids.search(rules)

    rule_page = text(page(operator_client, f"/admin/spending/profilecategory/{rule.pk}/change/"))
    assert "7995 Betting, casino gambling" in rule_page


# --- The cards that use the profile ------------------------------------------------------------


def test_the_profile_page_lists_the_cards_that_use_it(
    operator_client, acme, travel, cardholder, make_card
):
    card = make_card(acme, profile=travel, cardholder=cardholder, last_four="4242")
    other_profile = spending_profile_create(account=acme, name="Office")
    other = make_card(acme, profile=other_profile, last_four="9999")
    make_card(acme, last_four="8888")  # no profile

    html = page(operator_client, profile_url(travel))
    cards = panel(html, "profile-cards")
    assert f'href="/admin/cards/card/{card.pk}/change/"' in cards
    listed = text(cards)
    assert "Cards using this profile (1)" in listed
    assert "•••• 4242" in listed and "Open" in listed and cardholder.email in listed
    assert "9999" not in listed and "8888" not in listed

    more = f"/admin/cards/card/?profile__id__exact={travel.pk}"
    assert f'href="{more}"' in html
    card_list = page(operator_client, more)
    assert f"/admin/cards/card/{card.pk}/change/" in card_list
    assert f"/admin/cards/card/{other.pk}/change/" not in card_list


def test_the_card_panel_shows_the_newest_twenty_and_links_to_all(
    operator_client, acme, travel, make_card
):
    made = [make_card(acme, profile=travel, last_four=f"{n:04d}") for n in range(21)]

    html = page(operator_client, profile_url(travel))
    cards = panel(html, "profile-cards")
    assert cards.count('class="profile-card"') == 20
    assert f"/admin/cards/card/{made[-1].pk}/change/" in cards
    assert f"/admin/cards/card/{made[0].pk}/change/" not in cards  # the oldest
    assert "All 21 cards using this profile" in text(html)


def test_a_profile_no_card_uses_says_so(operator_client, travel):
    cards = text(panel(page(operator_client, profile_url(travel)), "profile-cards"))
    assert "Cards using this profile (0)" in cards
    assert "No card uses this profile." in cards


def test_the_card_panel_needs_the_permission_to_view_cards(
    client, acme, travel, make_card, fixture_actor
):
    make_card(acme, profile=travel, last_four="4242")
    viewer = staff_client(client, "spending.view_spendingprofile")

    html = page(viewer, profile_url(travel))
    assert 'id="profile-cards"' not in html
    assert "4242" not in html


def test_the_card_panel_costs_the_same_queries_for_many_cards(
    operator_client, acme, travel, cardholder, make_card
):
    make_card(acme, profile=travel, cardholder=cardholder)
    page(operator_client, profile_url(travel))  # the first request fills per-process caches
    with CaptureQueriesContext(connection) as one_card:
        page(operator_client, profile_url(travel))
    for _ in range(5):
        make_card(acme, profile=travel, cardholder=cardholder)
    with CaptureQueriesContext(connection) as six_cards:
        page(operator_client, profile_url(travel))
    assert len(six_cards) == len(one_card)


# --- Rule changes in the profile's history -----------------------------------------------------


def history_cells(client, profile, *, page_number: int = 1) -> list[list[str]]:
    """The rows of the profile's history page, newest first, each its cells' text: when, who,
    change, why, what changed, from."""
    html = page(client, profile_url(profile, "history") + f"?p={page_number}")
    start = html.index('id="change-history"')
    body = html[start : html.index("</table>", start)]
    return [
        [text(cell.split(">", 1)[1]).strip() for cell in row.split("<td")[1:]]
        for row in body.split("<tr")[2:]
    ]


def history_rows(client, profile, *, page_number: int = 1) -> list[str]:
    """The rows of the profile's history page, as text, newest first."""
    return [" ".join(cells) for cells in history_cells(client, profile, page_number=page_number)]


def test_the_profile_history_lists_its_rule_changes_among_its_own(
    operator_client, travel, categories
):
    gambling = profile_category_set(profile=travel, category=categories["7995"], rule="BLOCKED")
    spending_profile_update(profile=travel, description="Trips and meals")
    profile_category_set(profile=travel, category=categories["7995"], rule="ALLOWED")
    gambling.refresh_from_db()
    soft_delete(obj=gambling)
    undelete(obj=ProfileCategory.all_objects.get(pk=gambling.pk))

    cells = history_cells(operator_client, travel)
    rows = [" ".join(row) for row in cells]

    assert [row[2] for row in cells] == [
        "Rule undeleted: ALLOWED 7995 Betting, casino gambling",
        "Rule deleted: ALLOWED 7995 Betting, casino gambling",
        "Rule changed: ALLOWED 7995 Betting, casino gambling",
        "Changed",  # the description
        "Rule added: BLOCKED 7995 Betting, casino gambling",
        "Rule added: ALLOWED 5812 Eating places, restaurants",
        "Created",
    ]
    # Who and when, as on the profile's own rows; the change against the rule's last version.
    assert all(row[1] == "test:fixtures" for row in cells)
    assert "Rule: BLOCKED → ALLOWED" in rows[2]
    assert "Description: → Trips and meals" in rows[3]


def test_a_rule_changed_in_the_console_names_the_operator_in_the_profile_history(
    operator_client, operator, travel, categories
):
    response = operator_client.post(
        "/admin/spending/profilecategory/add/",
        {"profile": travel.pk, "category": categories["7995"].pk, "rule": "BLOCKED"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = ProfileCategory.objects.get(profile=travel, category=categories["7995"])

    html = page(operator_client, profile_url(travel, "history"))
    newest = text(html[html.index("related-history") :].split("</tr>")[0])
    assert "Rule added: BLOCKED 7995 Betting, casino gambling" in newest
    assert operator.email in newest
    history_id = rule.history.latest().history_id
    assert f'href="/admin/spending/profilecategory/{rule.pk}/history/{history_id}/"' in html
    assert page(operator_client, f"/admin/spending/profilecategory/{rule.pk}/history/{history_id}/")


def test_rule_history_needs_the_permission_to_view_rules(client, travel, categories):
    profile_category_set(profile=travel, category=categories["7995"], rule="BLOCKED")
    viewer = staff_client(client, "spending.view_spendingprofile")

    cells = history_cells(viewer, travel)
    assert len(cells) == 1 and cells[0][2] == "Created"
    assert "Rule" not in " ".join(" ".join(row) for row in cells)


def test_the_history_page_costs_the_same_queries_for_many_rule_changes(
    operator_client, travel, categories
):
    for rule in ("BLOCKED", "ALLOWED"):
        profile_category_set(profile=travel, category=categories["7995"], rule=rule)
    page(operator_client, profile_url(travel, "history"))  # fills per-process caches
    with CaptureQueriesContext(connection) as few:
        page(operator_client, profile_url(travel, "history"))
    for rule in ("BLOCKED", "ALLOWED", "BLOCKED"):
        profile_category_set(profile=travel, category=categories["7995"], rule=rule)
    profile_category_set(profile=travel, category=categories["5734"], rule="BLOCKED")
    with CaptureQueriesContext(connection) as many:
        page(operator_client, profile_url(travel, "history"))
    assert len(many) == len(few), "\n".join(q["sql"][:300] for q in many.captured_queries)


def test_the_history_is_paged_across_the_profile_and_its_rules(
    operator_client, travel, categories, monkeypatch
):
    monkeypatch.setattr(admin.site._registry[SpendingProfile], "history_list_per_page", 4)
    for rule in ("BLOCKED", "ALLOWED", "BLOCKED"):
        profile_category_set(profile=travel, category=categories["7995"], rule=rule)
    spending_profile_update(profile=travel, description="Trips and meals")
    profile_category_set(profile=travel, category=categories["5734"], rule="BLOCKED")

    first = history_cells(operator_client, travel)
    second = history_cells(operator_client, travel, page_number=2)
    assert [row[2] for row in first + second] == [
        "Rule added: BLOCKED 5734 Computer software stores",
        "Changed",
        "Rule changed: BLOCKED 7995 Betting, casino gambling",
        "Rule changed: ALLOWED 7995 Betting, casino gambling",
        "Rule added: BLOCKED 7995 Betting, casino gambling",
        "Rule added: ALLOWED 5812 Eating places, restaurants",
        "Created",
    ]
    first = [" ".join(row) for row in first]
    # The last row of a page is compared with its rule's previous version all the same.
    assert "Rule: BLOCKED → ALLOWED" in first[-1]
    assert "7 entries" in text(page(operator_client, profile_url(travel, "history")))
