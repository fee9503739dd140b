"""Every list page of the console fits a 1400 px wide window: no sideways scrolling."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.browser.pages import log_in_with_code
from tests.conftest import PASSWORD
from tests.test_admin_smoke import console, make_transaction  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 1400


def test_every_list_page_fits_1400_pixels(live_server, browser, operator, console):  # noqa: F811
    driver = browser()
    driver.set_window_size(WIDTH, 1000)
    log_in_with_code(driver, live_server.url, operator, PASSWORD)
    too_wide = {}
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        driver.get(f"{live_server.url}{url}")
        assert driver.find_elements("id", "changelist"), url
        widths = driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        )
        if widths[0] > widths[1]:
            too_wide[url] = widths
    assert too_wide == {}
