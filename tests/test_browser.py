"""End to end in a real browser: ``emdkg serve`` on 127.0.0.1, driven by headless Chromium.

The browser is Debian's ``chromium`` with its matching ``chromium-driver``, driven through
Selenium (installed by ``.ci/install-system-deps``). When either is missing the tests skip and
say why. Nothing leaves the machine: evidence links to doi.org are checked, not followed.

The README's screenshot comes from here: ``EMDKG_UPDATE_SCREENSHOT=1 pytest -m browser``
rewrites ``tests/screenshots/multiple-myeloma.png``; every run also writes the screenshots to
pytest's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emdkg.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("EMDKG_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("EMDKG_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
README_SCREENSHOT = "multiple-myeloma"  # the one README.md shows
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
]


def _missing_browser() -> str | None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)) and shutil.which(os.path.basename(path)) is None:
            return f"{path} not found: install the Debian package {package} (.ci/install-system-deps does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the Python package selenium is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real ``emdkg serve`` process on a free loopback port; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.devnull, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "emdkg", "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(f"emdkg serve exited with {process.returncode}: {err[-2000:]}")
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("emdkg serve did not answer within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing_browser()
    if reason:
        print(f"browser tests skipped: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.path.isfile(CHROMIUM) else shutil.which("chromium") or CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = CHROMEDRIVER if os.path.isfile(CHROMEDRIVER) else shutil.which("chromedriver") or CHROMEDRIVER
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, css: str, timeout: float = 15) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def _wait_url(driver: Any, fragment: str, timeout: float = 15) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: fragment in d.current_url)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this run's screenshots go."""
    return tmp_path_factory.mktemp("screenshots")


def _screenshot(driver: Any, name: str, folder: Path) -> Path:
    path = folder / f"{name}.png"
    size = driver.get_window_size()
    driver.set_window_size(1280, 1240)  # a taller view for the picture, then back
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])
    if name == README_SCREENSHOT and os.environ.get("EMDKG_UPDATE_SCREENSHOT", "") not in ("", "0"):
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return path


def test_question_page_entity_evidence_and_query(server: str, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser

    # 1. The home page: click the competency question.
    driver.get(server + "/")
    assert driver.title.startswith("Extramedullary disease knowledge graph")
    example = _wait(driver, "#example-sites-at-relapse-of-multiple-myeloma")
    assert "Sites at relapse of multiple myeloma" in example.text
    example.click()
    _wait_url(driver, "/ask/sites")
    table = _wait(driver, "#named-results")
    sites = [cell.text for cell in table.find_elements(By.CSS_SELECTOR, "tbody td.col-site")]
    assert "pleura" in sites and "pericardium" in sites, sites
    assert "liver" in sites and "skin" not in sites  # relapse, not diagnosis
    _screenshot(driver, "sites-at-relapse", shots)

    # 2. The multiple myeloma page, through the resolved parameter's link.
    driver.find_element(By.CSS_SELECTOR, ".resolved a[href='/entity/emdkg:MultipleMyeloma']").click()
    _wait_url(driver, "/entity/emdkg:MultipleMyeloma")
    heading = _wait(driver, "h1")
    assert heading.text.startswith("multiple myeloma")
    figure = _wait(driver, "svg.heatmap")
    assert figure.size["width"] > 300
    cells = driver.find_elements(By.CSS_SELECTOR, "g.heatmap-cell[data-phase='relapse']")
    assert {c.get_attribute("data-site") for c in cells} >= {"pleura", "pericardium"}
    relapse = driver.find_element(By.CSS_SELECTOR, "section.phase-group[data-phase='relapse']")
    assert "pleura" in relapse.text and "high-grade evidence" in relapse.text
    _screenshot(driver, "multiple-myeloma", shots)

    # 3. An evidence link: the DOI of the source, opening outside the site. Checked, not
    #    followed (the machine has no internet); then the source's own page, followed.
    pleura = driver.find_element(By.CSS_SELECTOR, "#kb-blade-2022-site-relapse-pleura")
    assert "“At diagnosis, EMD is typically found in skin and soft tissues" in pleura.text
    assert "author statement supported by traceable reference used in manual assertion" in pleura.text
    doi = pleura.find_element(By.CSS_SELECTOR, "a.evidence-link.doi")
    assert doi.get_attribute("href") == "https://doi.org/10.1038/s41408-022-00643-3"
    assert doi.get_attribute("target") == "_blank"
    assert "noopener" in doi.get_attribute("rel")
    pubmed = pleura.find_element(By.CSS_SELECTOR, "a.evidence-link.pubmed")
    assert pubmed.get_attribute("href") == "https://pubmed.ncbi.nlm.nih.gov/35314675/"
    source = pleura.find_element(By.CSS_SELECTOR, "a.source-page")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", source)
    source.click()
    _wait_url(driver, "/entity/kb:blade-2022")
    assert _wait(driver, "h1").text.startswith("Bladé et al. 2022")
    paper_doi = driver.find_element(By.CSS_SELECTOR, ".props a.evidence-link.doi")
    assert paper_doi.get_attribute("href") == "https://doi.org/10.1038/s41408-022-00643-3"

    # 4. The query page: type a query, run it, read the rows.
    driver.get(server + "/query")
    editor = _wait(driver, "textarea#query")
    editor.clear()
    editor.send_keys(
        "PREFIX emdkg: <https://w3id.org/emdkg/>\n"
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        "SELECT ?site ?label WHERE {\n"
        "?f emdkg:disease emdkg:MultipleMyeloma ; emdkg:diseasePhase emdkg:Relapse ; emdkg:site ?site .\n"
        '?site rdfs:label ?label FILTER(lang(?label) = "en") } ORDER BY ?label'
    )
    editor.send_keys(Keys.CONTROL, Keys.ENTER)  # the editor's shortcut submits the form
    results = _wait(driver, "#sparql-results")
    rows = results.find_elements(By.CSS_SELECTOR, "tbody tr")
    labels = [row.find_elements(By.TAG_NAME, "td")[1].find_element(By.CSS_SELECTOR, "span[lang='en']").text for row in rows]
    assert labels == ["breast", "central nervous system", "kidney", "liver", "lymph node", "pericardium", "pleura"]
    assert driver.find_element(By.ID, "row-count").text == "7"
    # The editor keeps the query, and an IRI in the table links to its page.
    assert "emdkg:Relapse" in driver.find_element(By.ID, "query").get_attribute("value")
    first = rows[0].find_element(By.CSS_SELECTOR, "td a")
    assert first.get_attribute("href").endswith("/entity/emdkg:Breast")
    _screenshot(driver, "query", shots)


def test_search_and_source_error_badge(server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(server + "/")
    box = _wait(driver, "#q")
    box.send_keys("erythromycin")
    box.submit()
    _wait_url(driver, "/search")
    best = _wait(driver, ".best-link")
    assert best.text == "erythromycin"
    best.click()
    _wait_url(driver, "/entity/emdkg:erythromycin")
    badge = _wait(driver, "h1 .badge.error")
    assert "source error" in badge.text
    error = driver.find_element(By.CSS_SELECTOR, "section.source-error")
    assert "daunorubicin" in error.text and "what is wrong" in error.text.lower()


def test_pages_load_nothing_from_outside(server: str, browser: Any) -> None:
    """Every resource a page loads comes from the server itself."""
    driver = browser
    for path in ("/", "/entity/emdkg:MultipleMyeloma", "/query", "/errors"):
        driver.get(server + path)
        _wait(driver, "main")
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
        )
        assert resources, path
        assert all(url.startswith(server + "/") for url in resources), resources
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, errors
