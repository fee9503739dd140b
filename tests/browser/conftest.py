"""Debian's Chromium, driven by its chromedriver (Selenium), headless, offline."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def _binary(variable: str, name: str) -> str:
    path = os.environ.get(variable) or shutil.which(name)
    if not path:
        pytest.fail(
            f"{name} is required for the browser tests: `make test` installs Debian's chromium "
            "and chromium-driver (apt-get) when they are missing."
        )
    return path


@pytest.fixture
def browser():
    """`browser()`: a new Chromium with a profile of its own (a person at another desk)."""
    drivers = []

    def start() -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = _binary("CHROMIUM_BIN", "chromium")
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium.')}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(
            options=options, service=Service(_binary("CHROMEDRIVER_BIN", "chromedriver"))
        )
        driver.implicitly_wait(5)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()
