"""The dashboard in a real headless Chromium: pages load without console errors, show the known
numbers, escape hostile values, fit a phone screen; a screenshot of each page is kept."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import msgspec
import pytest
import trio

from probe.model import ProbeNetwork
from tests.collector.report_data import reachable, sni_blocked
from tests.collector.running import ndjson, start_collector
from tests.collector.test_reports import INSTANTS, Days

DAYS = Days(INSTANTS[0])

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "dashboard"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">Evil Net"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


def data() -> list[object]:
    ms = []
    for asn, probes in ((64501, ("a", "b")), (64502, ("c", "d"))):
        for probe in probes:
            for at in (DAYS.yesterday, DAYS.today):
                ms.append(sni_blocked("social.example.test", cc="CN", asn=asn, probe=probe, at=at))
                ms.append(reachable("weather.example.test", cc="CN", asn=asn, probe=probe, at=at))
                news = sni_blocked if asn == 64501 else reachable
                ms.append(news("news.example.test", cc="CN", asn=asn, probe=probe, at=at))
    return [
        msgspec.structs.replace(m, probe=ProbeNetwork(cc="CN", asn="AS64501", network_name=HOSTILE))
        if m.probe.asn == "AS64501"
        else m
        for m in ms
    ]


@contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER or ""), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def visit(driver: object, url: str, shot: str) -> list[str]:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(  # type: ignore[arg-type]
        lambda d: d.execute_script("return document.body.dataset.ready === '1'")
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))  # type: ignore[attr-defined]
    logs = driver.get_log("browser")  # type: ignore[attr-defined]
    return [entry["message"] for entry in logs if entry["level"] == "SEVERE"]


def check_pages(base: str) -> None:
    from selenium.webdriver.common.by import By

    with browser() as driver:
        errors = visit(driver, f"{base}/dashboard/", "overview")
        assert errors == []
        row = driver.find_element(By.CSS_SELECTOR, "#countries tr[data-cc='CN']")  # type: ignore[attr-defined]
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[:3] == ["CN", "1", "1"], cells

        errors = visit(driver, f"{base}/dashboard/country/CN", "country-CN")
        assert errors == []
        assert driver.find_element(By.ID, "blocked-count").text == "1"  # type: ignore[attr-defined]
        social = driver.find_element(
            By.CSS_SELECTOR, "#matrix tr[data-domain='social.example.test']"
        )  # type: ignore[attr-defined]
        assert (
            social.find_element(By.CSS_SELECTOR, ".badge").get_attribute("data-verdict")
            == "blocked"
        )
        news = driver.find_element(By.CSS_SELECTOR, "#matrix tr[data-domain='news.example.test']")  # type: ignore[attr-defined]
        cells = [
            c.get_attribute("data-verdict") for c in news.find_elements(By.CSS_SELECTOR, ".cell")
        ]
        assert cells == ["blocked", "not blocked"]
        page = driver.page_source  # type: ignore[attr-defined]
        assert "Evil Net" in page and '<img src="x"' not in page
        assert driver.title != "pwned"  # type: ignore[attr-defined]
        assert driver.find_elements(By.CSS_SELECTOR, "main img") == []  # type: ignore[attr-defined]

        errors = visit(
            driver, f"{base}/dashboard/country/CN/domain/news.example.test", "domain-news"
        )
        assert errors == []
        assert driver.find_elements(By.CSS_SELECTOR, "#timeline canvas")  # type: ignore[attr-defined]
        # Every day of the 7-day window is on the strip; the five days without data show as
        # `insufficient data`, and the legend says what that is.
        strip = driver.find_elements(By.CSS_SELECTOR, "#days li")  # type: ignore[attr-defined]
        verdicts = [d.get_attribute("data-verdict") for d in strip]
        assert len(verdicts) == 7 and verdicts[:5] == ["insufficient data"] * 5, verdicts
        legend = driver.find_element(By.ID, "legend").text  # type: ignore[attr-defined]
        assert "insufficient data: too few measurements that day (or none)" in legend
        assert_labels_fit(driver)
        link = driver.find_element(By.ID, "methodology-link")  # type: ignore[attr-defined]
        assert link.get_attribute("href") == f"{base}/dashboard/methodology"
        samples = driver.find_elements(By.CSS_SELECTOR, "#samples tbody tr")  # type: ignore[attr-defined]
        assert len(samples) == 8
        link = samples[0].find_element(By.TAG_NAME, "a").get_attribute("href")
        assert link.startswith(f"{base}/api/v1/measurements/")

        errors = visit(driver, f"{base}/dashboard/methodology", "methodology")
        assert errors == []
        text = driver.find_element(By.ID, "methodology").text  # type: ignore[attr-defined]
        assert "The confidence floor is 80 %" in text and "Coherent reports" in text

    with browser(390, 844) as phone:
        errors = visit(phone, f"{base}/dashboard/country/CN", "country-CN-phone")
        assert errors == []
        overflow = phone.execute_script(  # type: ignore[attr-defined]
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 1
        errors = visit(
            phone, f"{base}/dashboard/country/CN/domain/news.example.test", "domain-news-phone"
        )
        assert errors == []
        assert_labels_fit(phone)


def assert_labels_fit(driver: object) -> None:
    """Every day label is whole (not cut by its box) and inside the page, and the chart's
    canvas fits its box, with room kept for the first and last date labels."""
    clipped = driver.execute_script(  # type: ignore[attr-defined]
        """
        const out = [];
        for (const label of document.querySelectorAll('#days .label')) {
          const box = label.parentElement.getBoundingClientRect();
          const r = label.getBoundingClientRect();
          if (label.scrollWidth > label.clientWidth + 1 || r.left < box.left - 1
              || r.right > box.right + 1 || r.right > window.innerWidth) out.push(label.textContent);
        }
        const chart = document.querySelector('#timeline');
        const canvas = chart && chart.querySelector('canvas');
        if (canvas && canvas.getBoundingClientRect().right > chart.getBoundingClientRect().right + 1
            && document.documentElement.scrollWidth > window.innerWidth) out.push('chart');
        return out;
        """
    )
    assert clipped == []


async def test_dashboard_pages_in_headless_chromium(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_collector(
        nursery, tmp_path, public_networks=("198.51.100.0/24",), clock=lambda: DAYS.now
    )
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{running.api}/measurements",
            content=ndjson(data()),  # type: ignore[arg-type]
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
        await running.analysed()
        assert (
            await client.get(f"{running.url}/dashboard/static/vendor/uplot/uPlot.iife.min.js")
        ).status_code == 200
        page = await client.get(f"{running.url}/dashboard/country/CN")
        assert page.headers["x-content-type-options"] == "nosniff"
    os.environ.setdefault("SE_AVOID_STATS", "true")
    await trio.to_thread.run_sync(check_pages, running.url)


def check_empty(base: str) -> None:
    from selenium.webdriver.common.by import By

    with browser() as driver:
        errors = visit(driver, f"{base}/dashboard/", "overview-empty")
        assert errors == []
        text = driver.find_element(By.ID, "empty").text  # type: ignore[attr-defined]
        assert f"crenel-probe config set collector {base}" in text
        assert "crenel-collector import-ooni" in text


async def test_an_empty_dashboard_says_how_to_get_data(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(nursery, tmp_path, clock=lambda: DAYS.now)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    await trio.to_thread.run_sync(check_empty, running.url)
