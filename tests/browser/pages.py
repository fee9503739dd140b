"""Steps of a person at a browser, each waiting until the page it leads to has loaded."""

from __future__ import annotations

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def wait_for(driver, condition, what: str) -> None:
    WebDriverWait(driver, 15).until(condition, message=what)


def fill(driver, name: str, value: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)


def _next_page_loaded(driver) -> bool:
    try:
        return driver.execute_script(
            "return window.__leaving === undefined && document.readyState === 'complete'"
        )
    except WebDriverException:  # asked while the browser was between the two pages
        return False


def submit(driver, form_id: str | None = None) -> None:
    """Submit a form and wait until the next page has loaded (it lacks the old page's mark)."""
    scope = driver.find_element(By.ID, form_id) if form_id else driver
    driver.execute_script("window.__leaving = true")
    scope.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(driver, _next_page_loaded, "the form's next page")


def follow(driver, link) -> None:
    """Click a link and wait until the page it leads to has loaded."""
    driver.execute_script("window.__leaving = true")
    link.click()
    wait_for(driver, _next_page_loaded, "the link's page")


def log_in(driver, base: str, email: str, password: str) -> None:
    driver.get(f"{base}/admin/login/")
    fill(driver, "username", email)
    fill(driver, "password", password)
    submit(driver)


def csp_violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def log_in_with_code(driver, base: str, user, password: str) -> None:
    """Password, then the code of the user's authenticator app (one is made if none)."""
    from tests.console import current_code, totp_device

    device = totp_device(user)
    log_in(driver, base, user.email, password)
    fill(driver, "token", current_code(device))
    submit(driver, "mfa-form")
