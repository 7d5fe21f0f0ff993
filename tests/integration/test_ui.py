"""The web UI in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium),
for both bundled schemas: every preset clicked and its result checked against the API, a
refusal shown on its field, and the geometry of every view asserted at desktop and phone width
(no two text boxes overlap, bars are as long as their values, nothing leaves its card)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BUNDLED_DATA, ROOT, TELCO_DATA
from tests.integration.api_server import ApiServer
from tests.integration.conftest import run_cli_process

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium and chromium-driver (see .ci/run)")
    pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

GEOMETRY = (Path(__file__).parent / "ui_geometry.js").read_text()


@pytest.fixture(params=["original", "telco"])
def served(request, tmp_path):
    source: Path = request.getfixturevalue("trained_workdir" if request.param == "original" else "telco_workdir")
    shutil.copytree(source / "models", tmp_path / "models")
    current = BUNDLED_DATA if request.param == "original" else TELCO_DATA
    checked = run_cli_process("drift", "--current", str(current), "--workdir", str(tmp_path))
    assert checked.returncode in (0, 1), checked.stderr  # the Monitoring view shows its report
    server = ApiServer(tmp_path).start()
    yield request.param, server
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


def _text(driver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def _shows(probability: str) -> Any:
    return lambda driver: _text(driver, "probability") == probability


def _width_is(width: int) -> Any:
    return lambda driver: driver.execute_script("return window.innerWidth") == width


def _charts_drawn_at_their_width(view: str) -> Any:
    """Every chart of the view drawn in its own pixels (redrawn after a resize), so its text is
    as large on a phone as on a desktop."""
    script = """return [...document.querySelectorAll(`#view-${arguments[0]} svg.chart-svg`)]
        .every((svg) => Math.abs(svg.viewBox.baseVal.width - Math.max(280, svg.getBoundingClientRect().width)) <= 1);"""
    return lambda driver: driver.execute_script(script, view)


def _save_full_page(driver, path: Path) -> None:
    """The whole page, not the window's first screen: what a reviewer of the view needs."""
    width, height = driver.execute_script(
        "const d = document.documentElement; return [Math.max(d.scrollWidth, innerWidth), d.scrollHeight];"
    )
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))


def _geometry(driver, view: str, schema: str) -> None:
    """Assert the view's geometry at both widths, and keep a screenshot of each."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in SIZES.items():
        driver.set_window_size(width, height)
        WebDriverWait(driver, 10).until(_width_is(width))
        WebDriverWait(driver, 10).until(_charts_drawn_at_their_width(view))
        problems = driver.execute_script(GEOMETRY, f"view-{view}")
        assert not problems, f"{schema} {view} at {label} width:\n" + "\n".join(problems[:20])
        driver.execute_script("window.scrollTo(0, 0)")
        _save_full_page(driver, SCREENSHOTS / f"{schema}-{view}-{label}.png")
    driver.set_window_size(*SIZES["desktop"])


def test_every_preset_predicts_what_the_api_predicts_and_every_view_holds_its_shape(served, browser):
    schema_name, server = served
    wait = WebDriverWait(browser, 20)
    browser.get(server.url + "/")
    assert browser.title == "ChurnGuard"
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    schema: dict[str, Any] = httpx.get(server.url + "/schema").json()
    assert _text(browser, "served-schema") == f"schema: {schema_name}"
    presets = schema["presets"]
    names = [preset["name"] for preset in presets]
    expected_names = ["highest risk", "lowest risk", "most typical"]
    if schema_name == "original":
        expected_names = ["high risk", "loyal", "new customer", "senior", "family", *expected_names]
    assert names == expected_names

    # the form is the schema's: one control per field, a category's options are its label names
    for field in schema["fields"]:
        assert browser.find_element(By.ID, field["name"]).is_enabled()
        if field["kind"] == "category":
            options = browser.find_elements(By.CSS_SELECTOR, f"#{field['name']} option")
            shown = [option.text for option in options if option.get_attribute("value")]
            assert shown == [label["name"] for label in field["labels"]]

    # the page opens on the first preset: click the others first, then the first, so every click
    # has to change what the page shows; a preset predicts at once, with no click on Predict
    on_page: str | None = None
    for preset in [*presets[1:], presets[0]]:
        browser.find_element(By.CSS_SELECTOR, f'[data-preset="{preset["name"].replace(" ", "-")}"]').click()
        expected = httpx.post(server.url + "/predict", json=preset["customer"]).json()
        probability = f"{100 * expected['churn_probability']:.1f}%"
        assert probability != on_page, f"{preset['name']} would show what the page already shows"
        wait.until(_shows(probability))
        on_page = probability
        assert _text(browser, "risk-band").lower() == expected["risk_band"]
        rows = browser.find_elements(By.CSS_SELECTOR, "#contributions li")
        assert [row.get_attribute("data-feature") for row in rows] == [
            c["feature"] for c in expected["feature_contributions"]
        ]
        titles = {field["name"]: field["title"] for field in schema["fields"]}
        assert rows[0].text.startswith(titles[expected["feature_contributions"][0]["feature"]])
        assert _text(browser, "recommendation")
        # time to churn where the schema declares it (Telco): the customer's curve over the
        # training customers' from the same tenure, and what the curve says in words
        card = browser.find_element(By.ID, "survival-card")
        if schema_name == "telco":
            survival = expected["survival"]
            assert card.is_displayed()
            summary = _text(browser, "survival-summary")
            assert f"Revenue at risk: {survival['revenue_at_risk']:.2f}" in summary
            assert f"{100 * survival['churn_within'][-1]['probability']:.1f}% within 12 months" in summary
            paths = browser.find_elements(By.CSS_SELECTOR, "#chart-survival path.series")
            assert [p.get_attribute("class") for p in paths] == ["series population", "series customer"]
            assert float(paths[1].get_attribute("data-last") or "nan") == pytest.approx(survival["curve"][-1])
        else:
            assert not card.is_displayed()

    # on a phone the result sits far below the presets: a preset brings it into view
    browser.set_window_size(*SIZES["phone"])
    WebDriverWait(browser, 10).until(_width_is(SIZES["phone"][0]))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.find_element(By.CSS_SELECTOR, f'[data-preset="{presets[1]["name"].replace(" ", "-")}"]').click()
    expected = httpx.post(server.url + "/predict", json=presets[1]["customer"]).json()
    wait.until(_shows(f"{100 * expected['churn_probability']:.1f}%"))
    top, bottom = browser.execute_script(
        "const r = document.getElementById('gauge-fill').getBoundingClientRect(); return [r.top, r.bottom];"
    )
    height = browser.execute_script("return window.innerHeight")
    assert top >= 0, f"the gauge is at {top}..{bottom}, above the {height} px viewport"
    assert bottom <= height, f"the gauge is at {top}..{bottom}, below the {height} px viewport"
    browser.set_window_size(*SIZES["desktop"])
    _geometry(browser, "predict", schema_name)

    # a value outside its field's rule: the API's refusal shows on the field, named by its title
    field = next(f for f in schema["fields"] if f["kind"] == "integer" and f["maximum"] is not None)
    box = browser.find_element(By.ID, field["name"])
    box.clear()
    box.send_keys(str(int(field["maximum"]) + 1))
    browser.find_element(By.ID, "predict-button").click()
    wait.until(lambda d: _text(d, f"err-{field['name']}"))
    message = _text(browser, f"err-{field['name']}")
    assert message.startswith(f"{field['title']}:")
    assert f"less than or equal to {int(field['maximum'])}" in message
    assert box.get_attribute("aria-invalid") == "true"

    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="model"]').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-importance li"))
    info = httpx.get(server.url + "/model-info").json()
    assert (
        f"{info['metrics']['f1']:.3f}"
        in browser.find_element(By.CSS_SELECTOR, '#model-metrics li[data-metric="f1"]').text
    )
    diagnostics = httpx.get(server.url + "/model/diagnostics").json()
    cells = {
        cell.get_attribute("data-cell"): cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "[data-cell]")
    }
    assert cells == {key: str(value) for key, value in diagnostics["confusion"].items()}
    assert f"AUC {diagnostics['roc']['auc']:.3f}" in _text(browser, "roc-caption")
    survival_card = browser.find_element(By.ID, "model-survival-card")
    if schema_name == "telco":
        assert survival_card.is_displayed()
        shown = browser.find_element(By.CSS_SELECTOR, '#model-survival li[data-metric="survival_concordance"]').text
        assert f"{info['metrics']['survival_concordance']:.3f}" in shown
        assert f"{info['metrics']['survival_ibs']:.3f}" in _text(browser, "model-survival")
    else:
        assert not survival_card.is_displayed()
    schema_titles = {field["name"]: field["title"] for field in schema["fields"]}
    shown_fields = browser.find_elements(By.CSS_SELECTOR, "#model-fields tbody tr")
    assert [row.get_attribute("data-field") for row in shown_fields] == [f["name"] for f in schema["fields"]]
    _geometry(browser, "model", schema_name)

    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="monitoring"]').click()
    served_count = len(presets) * 2 + 2  # each preset: once from the page, once from this test; the phone's
    wait.until(lambda d: f"{served_count} predictions in the last 6 h" in _text(d, "requests-caption"))
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-requests rect[data-value]")
    assert sum(float(bar.get_attribute("data-value")) for bar in bars) == served_count
    assert "training base rate" in browser.find_element(By.ID, "chart-churn-rate").text
    percents = [
        int(text.text[:-1])
        for text in browser.find_elements(By.CSS_SELECTOR, "#chart-churn-rate text")
        if text.text.endswith("%") and text.text[:-1].isdigit()
    ]
    assert percents
    assert max(percents) <= 100  # a rate's axis ends at 100 %, whatever the headroom
    report = json.loads((server.workdir / "reports" / "drift_report.json").read_text())
    estimate = report["estimated_performance"]
    assert f"Estimated F1 {estimate['f1']:.3f}" in _text(browser, "estimate")
    drifted = [row.get_attribute("data-metric") for row in browser.find_elements(By.CSS_SELECTOR, "#drift-fields li")]
    assert sorted(drifted) == sorted(f["feature"] for f in report["features"] if f["statistic"] is not None)
    weights = report["field_weights"]  # drifted fields first, the heaviest in the verdict first
    assert drifted[: len(report["drifted_features"])] == sorted(
        report["drifted_features"], key=lambda name: (-weights.get(name, 0.0), schema_titles[name].lower())
    )
    wait.until(lambda d: _text(d, "request-rate").endswith("req/s"))  # a second poll came in
    _geometry(browser, "monitoring", schema_name)

    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="about"]').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#endpoints tbody tr"))
    openapi = httpx.get(server.url + "/openapi.json").json()
    listed = {
        row.get_attribute("data-endpoint") for row in browser.find_elements(By.CSS_SELECTOR, "#endpoints tbody tr")
    }
    assert listed == {f"{method.upper()} {path}" for path, ops in openapi["paths"].items() for method in ops}
    assert schema["hash"][:12] in browser.find_element(By.ID, "about-schema").text
    _geometry(browser, "about", schema_name)

    # /docs renders every operation from assets the API serves itself (no CDN on this machine)
    browser.get(server.url + "/docs")
    operations = sum(len(ops) for ops in openapi["paths"].values())
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == operations)
    assert "cdn" not in browser.page_source.lower()

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    # the one expected: the 422 answer to the out-of-range value, which the page handles
    assert all("/predict" in entry["message"] and "422" in entry["message"] for entry in severe), severe
