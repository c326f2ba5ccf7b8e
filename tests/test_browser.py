"""The HTML report in a real browser: Debian's headless Chromium, driven by selenium.

With JavaScript on and off, the pages of VGG-16, ResNet-50 and GoogLeNet log no console
error, draw every chart at a non-zero size, and show the totals of `summarize --format
json`. Without Chromium and chromedriver the module is skipped on a developer's machine and
fails in CI (CONVCALC_REQUIRE_ORACLES=1), like every oracle.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import summary_json
from tests.oracles import need, required

Cli = Any
webdriver = need("selenium.webdriver")
By = need("selenium.webdriver.common.by").By
Service = need("selenium.webdriver.chrome.service").Service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if required():
        pytest.fail("the browser tests need chromium and chromedriver (Debian: apt-get install "
                    "chromium chromium-driver)", pytrace=False)
    pytest.skip("chromium and chromedriver are not installed", allow_module_level=True)

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")
SPECS = ("vgg16", "resnet50", "googlenet")


def browser(javascript: bool) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='convcalc-chromium-')}")
    options.add_argument("--window-size=1280,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module", params=[True, False], ids=["javascript", "no-javascript"])
def driver(request: pytest.FixtureRequest) -> Iterator[tuple[Any, bool]]:
    """A browser, with scripts on or off, and which it is."""
    javascript = bool(request.param)
    chrome = browser(javascript)
    chrome.set_page_load_timeout(30)
    try:
        yield chrome, javascript
    finally:
        chrome.quit()


def javascript_runs(chrome: Any) -> bool:
    """Whether the browser runs scripts: a noscript element is shown only when it does not."""
    chrome.get("data:text/html,<noscript><p id='off'>off</p></noscript><p>page</p>")
    return not chrome.find_elements(By.ID, "off")


@pytest.mark.parametrize("spec", SPECS)
def test_the_report_in_chromium(cli: Cli, tmp_path: Path, driver: tuple[Any, bool],
                                spec: str) -> None:
    chrome, javascript = driver
    document = summary_json(cli, spec)
    path = tmp_path / f"{spec}.html"
    run = cli("summarize", spec, "--format", "html", "-o", str(path))
    assert run.code == 0, run.err
    assert javascript_runs(chrome) == javascript
    chrome.get_log("browser")  # start the page's log empty
    chrome.get(path.as_uri())
    assert chrome.title.startswith(document["name"])
    errors = [entry for entry in chrome.get_log("browser")
              if entry.get("level") in ("SEVERE", "WARNING")]
    assert errors == [], errors
    found = chrome.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(found) == 5
    for chart in found:
        assert chart.size["width"] > 100 and chart.size["height"] > 20, chart.size
    bars = [bar for bar in chrome.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")[:40]
            if bar.size["height"] > 0]
    assert bars, "no column has a height"
    shown = {cell.get_attribute("data-key"): cell.text
             for cell in chrome.find_elements(By.CSS_SELECTOR, "[data-key]")}
    totals, memory = document["totals"], document["memory"]
    for key in ("params", "macs", "flops", "activations", "non_trainable_params"):
        assert shown[f"totals.{key}"] == f"{totals[key]:,}", key
    assert shown["memory.inference_peak_activations"] == \
        f"{memory['inference_peak_activations']:,}"
    assert shown["totals.output_shape"] == "x".join(map(str, totals["output_shape"]))
    rows = chrome.find_elements(By.CSS_SELECTOR, "table.layers tbody tr")
    assert len(rows) == len(document["layers"])
    footer = chrome.find_element(By.TAG_NAME, "footer").text
    assert "no script" in footer  # the page says it needs none


def test_the_console_check_can_fail(tmp_path: Path, driver: tuple[Any, bool]) -> None:
    """The same page shell with an image from elsewhere: the policy blocks it and the
    console says so, so an empty log above means something."""
    from convcalc.render.html import page

    chrome, _ = driver
    path = tmp_path / "blocked.html"
    path.write_text(page("blocked", ['<img src="https://example.invalid/x.png" alt="">']),
                    encoding="utf-8")
    chrome.get_log("browser")
    chrome.get(path.as_uri())
    messages = [entry["message"] for entry in chrome.get_log("browser")]
    assert any("Content Security Policy" in message for message in messages), messages
