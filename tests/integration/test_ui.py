"""The web UI in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium)."""

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.api_server import ApiServer

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
HIGH_RISK = {
    "gender": 0, "age": 47, "partner": 0, "dependents": 0, "tenure_months": 1, "monthly_charges": 98.53,
    "contract_type": 0, "payment_method": 2, "paperless_billing": 1, "internet_service": 2,
    "online_security": 0, "tech_support": 0, "num_tickets": 6,
}  # fmt: skip

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium and chromium-driver (see .ci/run)")
    pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def served(trained_workdir, tmp_path):
    shutil.copytree(trained_workdir / "models", tmp_path / "models")
    server = ApiServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def _shoot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in (("desktop", (1280, 900)), ("phone", (390, 844))):
        driver.set_window_size(width, height)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{label}.png"))
    driver.set_window_size(1280, 900)


def test_the_ui_predicts_explains_validates_and_shows_the_model(served, browser):
    wait = WebDriverWait(browser, 15)
    browser.get(served.url + "/")
    assert browser.title == "ChurnGuard"

    browser.find_element(By.CSS_SELECTOR, '[data-preset="high-risk"]').click()
    browser.find_element(By.ID, "predict-button").click()
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "result")))
    wait.until(lambda d: d.find_element(By.ID, "probability").text.endswith("%"))
    expected = httpx.post(served.url + "/predict", json=HIGH_RISK).json()
    assert browser.find_element(By.ID, "probability").text == f"{100 * expected['churn_probability']:.1f}%"
    assert browser.find_element(By.ID, "risk-band").text.lower() == expected["risk_band"]
    bars = browser.find_elements(By.CSS_SELECTOR, "#contributions li")
    assert [bar.get_attribute("data-feature") for bar in bars] == [
        c["feature"] for c in expected["feature_contributions"]
    ]
    assert browser.find_element(By.ID, "recommendation").text
    _shoot(browser, "predict")

    age = browser.find_element(By.ID, "age")
    age.clear()
    age.send_keys("150")
    browser.find_element(By.ID, "predict-button").click()
    wait.until(lambda d: d.find_element(By.ID, "err-age").text)
    message = browser.find_element(By.ID, "err-age").text
    assert message.startswith("Age:")
    assert "less than or equal to 100" in message
    assert age.get_attribute("aria-invalid") == "true"

    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="model"]').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#model-metrics li[data-metric="f1"]'))
    info = httpx.get(served.url + "/model-info").json()
    f1_row = browser.find_element(By.CSS_SELECTOR, '#model-metrics li[data-metric="f1"]').text
    assert f"{info['metrics']['f1']:.3f}" in f1_row
    assert "Promoted" in browser.find_element(By.ID, "model-gate").text
    _shoot(browser, "model")

    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="monitoring"]').click()
    wait.until(lambda d: "predictions since start" in d.find_element(By.ID, "request-total").text)
    wait.until(lambda d: d.find_element(By.ID, "request-rate").text.endswith("req/s"))  # a second poll came in
    assert "churn" in browser.find_element(By.ID, "mix-text").text
    _shoot(browser, "monitoring")

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    # the one expected: the 422 answer to the invalid age, which the page handles
    assert all("/predict" in entry["message"] and "422" in entry["message"] for entry in severe), severe
