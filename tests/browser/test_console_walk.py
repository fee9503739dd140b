"""An operator's walk through the console in a real browser: the overview, a search by last
four, the card's page, pausing it with a reason, the card's history, a declined transaction's
explanation, and the audit trail."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from selenium.webdriver.common.by import By

from tests.browser.pages import csp_violations, fill, follow, log_in_with_code, submit
from tests.conftest import PASSWORD
from tests.transactions.conftest import (  # noqa: F401 - fixtures
    _asa_secret,
    asa,
    asa_payload,
    categories,
    make_card,
)
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

# Set to a folder to keep a screenshot of each page (docs/console.md's pictures).
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS", "")


def shoot(driver, name: str) -> None:
    if SCREENSHOTS:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(max(height, 800), 2400))
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))
        driver.set_window_size(1400, 1000)


def authorize(asa, card, cents: int, *, merchant: str, mcc: str = "5812") -> str:  # noqa: F811
    payload = asa_payload(card, cents, mcc=mcc)
    payload["merchant"]["descriptor"] = merchant
    return asa(json.dumps(payload).encode())[1]["result"]


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def test_an_operators_walk(live_server, browser, operator, acme, cardholder, asa, make_card,  # noqa: F811
                           categories):  # noqa: F811  # fmt: skip
    card = make_card(acme, cardholder=cardholder, last_four="4242",
                     spend_limit=Decimal("100.00"), spend_limit_duration="TRANSACTION")  # fmt: skip
    assert authorize(asa, card, 4000, merchant="Blue Bottle") == "APPROVED"
    assert authorize(asa, card, 9900, merchant="Figma", mcc="5734") == "APPROVED"
    assert authorize(asa, card, 15000, merchant="Figma", mcc="5734") != "APPROVED"
    call_command("refresh_rollups", stdout=StringIO())
    declined = Transaction.objects.get(status="DECLINED")

    ops = browser()
    base = live_server.url
    log_in_with_code(ops, base, operator, PASSWORD)

    # 1. The overview: today's figures, the chart, the top merchants.
    assert "2\napproved, today" in text_of(ops, "approved-today")
    assert "1\ndeclined, today" in text_of(ops, "declined-today")
    assert ops.find_elements(By.CSS_SELECTOR, "#overview-spend svg.chart rect")
    assert "Figma" in text_of(ops, "overview-merchants")
    shoot(ops, "overview")

    # 2. Search by last four: straight to the card.
    box = ops.find_element(By.CSS_SELECTOR, "#console-search input[name=q]")
    box.send_keys("4242")
    ops.execute_script("window.__leaving = true")
    box.submit()
    follow_done = ops.find_element(By.ID, "card-spend")
    assert f"/admin/cards/card/{card.pk}/change/" in ops.current_url

    # 3. The card's page: spend against its limit, its transactions.
    assert "Card each transaction $100.00" in follow_done.text
    latest = text_of(ops, "card-transactions")
    assert "Figma" in latest and "$150.00" in latest and "Declined" in latest
    shoot(ops, "card")

    # 4. Pause it, with a reason.
    follow(ops, ops.find_element(By.ID, "card-pause"))
    fill(ops, "reason", "Cardholder reported it lost")
    ops.find_element(By.NAME, "confirm").click()
    submit(ops, "card-state-form")
    assert (
        "paused. Reason: Cardholder reported it lost"
        in ops.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    )
    assert ops.find_elements(By.ID, "card-unpause")

    # 5. The card's history says who paused it and why.
    follow(ops, ops.find_element(By.CSS_SELECTOR, "a.historylink"))
    history = ops.find_element(By.ID, "change-history").text
    assert "Pause: Cardholder reported it lost" in history
    assert operator.email in history

    # 6. The declined transaction explains itself.
    ops.get(f"{base}/admin/transactions/transaction/{declined.pk}/change/")
    explanation = text_of(ops, "transaction-decision")
    assert "declined" in explanation.lower() and "$100.00" in explanation
    shoot(ops, "transaction")

    # 7. The audit trail shows the pause, by this operator, with its reason.
    follow(ops, ops.find_element(By.ID, "audit-link"))
    fill(ops, "actor", operator.email)
    submit(ops, "audit-filters")
    trail = text_of(ops, "audit-trail")
    assert "Pause: Cardholder reported it lost" in trail
    assert "Changed" in trail and "Card" in trail
    shoot(ops, "audit")

    assert csp_violations(ops) == []
