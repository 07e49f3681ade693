"""A panellist fills and sends a questionnaire in a real headless browser, at phone width.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and, for the
accessibility check, axe-core from npm (``.ci/run`` installs it into ``node_modules/``); each
test is skipped, saying why, when they are not there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from delphi.actions import links
from tests.conftest import ROOT, Result
from tests.test_web import served, study  # noqa: F401 - the round-2 fixture study

Run = Callable[..., Result]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
AXE = Path(os.environ.get("DELPHI_AXE_JS", ROOT / "node_modules" / "axe-core" / "axe.min.js"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars"]

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
           "chromium-driver; .ci/run installs them)")


@pytest.fixture
def server(study: Path) -> Iterator[str]:  # noqa: F811
    """``delphi serve`` on a free port of 127.0.0.1, as the command runs it."""
    with served(study) as address:
        yield address


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium driven by chromedriver, 390 CSS pixels wide like a phone."""
    pytest.importorskip("selenium", reason="needs selenium (pip install -e '.[test]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(180)  # axe on a slow, shared machine
    driver.set_page_load_timeout(120)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    try:
        yield driver
    finally:
        driver.quit()


def local(url: str, server: str) -> str:
    return server + "/q/" + url.rsplit("/q/", 1)[1]


def press(browser: Any, button: Any) -> None:
    """Click a button that submits a form, and wait for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(browser, 20).until(expected_conditions.staleness_of(page))


def test_a_panellist_fills_and_sends_the_questionnaire_on_a_phone(
        study: Path, server: str, browser: Any, cli: Run) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url = local(links(study).links["E1"], server)
    browser.get(url)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    assert "your code E1" in browser.find_element(By.CSS_SELECTOR, ".subtitle").text
    # Tap: a rating is chosen by its label, as a finger would.
    browser.find_element(By.XPATH, "//input[@name='rating_1~1'][@value='7']/..").click()
    comment = browser.find_element(By.ID, "comment_1~1")
    comment.send_keys("Depends on the area.", Keys.ENTER, "And on funding.")
    # Keyboard: focus a radio, choose it with Space, move with an arrow key.
    radio = browser.find_element(By.XPATH, "//input[@name='rating_1~2'][@value='4']")
    radio.send_keys(Keys.SPACE)
    radio.send_keys(Keys.ARROW_RIGHT)
    browser.find_element(By.ID, "suggestions").send_keys("Ask about housing.")
    press(browser, browser.find_elements(By.XPATH, "//button[@value='save']")[-1])
    assert "saved as a draft" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    checked = browser.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked")
    assert [(c.get_attribute("name"), c.get_attribute("value")) for c in checked] == [
        ("rating_1~1", "7"), ("rating_1~2", "5")]
    press(browser, browser.find_element(By.XPATH, "//button[@value='review']"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Check your answers"
    assert "You rated 2 of 2 statements" in browser.page_source.replace("<strong>", "") \
        .replace("</strong>", "")
    press(browser, browser.find_element(By.XPATH, "//button[text()='Send my answers']"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Thank you"
    returns = (study / "rounds/round-2/returns/returns.csv").read_text()
    assert returns.splitlines()[1] == 'E1,7,5,"Depends on the area.'
    status = json.loads(cli("status", "--study", str(study), "--json").stdout)
    assert status["overall"]["returned"] == 1
    assert "E1" not in [o["code"] for o in status["outstanding"]]


@pytest.mark.skipif(not AXE.is_file(), reason=f"needs axe-core at {AXE} (npm install "
                    "axe-core; .ci/run installs it), or DELPHI_AXE_JS naming axe.min.js")
def test_no_serious_or_critical_accessibility_findings(study: Path, server: str,  # noqa: F811
                                                       browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url = local(links(study).links["U1"], server)
    axe = AXE.read_text(encoding="utf-8")
    # The pages' policy allows no script; axe is injected through the driver, past it.
    browser.execute_cdp_cmd("Page.setBypassCSP", {"enabled": True})
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        browser.execute_script(axe)
        result = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations));")
        found[name] = [f"{v['id']} ({v['impact']}): {v['help']}" for v in result
                       if v["impact"] in ("serious", "critical")]

    for width in (390, 1280):
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": 900, "deviceScaleFactor": 1,
                                 "mobile": width < 600})
        browser.get(url)
        check(f"questionnaire at {width}")
    browser.find_element(By.XPATH, "//input[@name='rating_1~1'][@value='3']/..").click()
    press(browser, browser.find_element(By.XPATH, "//button[@value='review']"))
    check("review")
    press(browser, browser.find_element(By.XPATH, "//button[text()='Send my answers']"))
    check("sent")
    browser.get(server + "/nothing")
    check("not found")
    assert found == {name: [] for name in found}
    # The check can fail: an unlabelled field is a critical finding.
    browser.execute_script("document.body.insertAdjacentHTML('beforeend', '<input type=text>')")
    check("sabotaged")
    assert any(f.startswith("label (critical)") for f in found["sabotaged"])
