"""The dashboard's origin selector: the overview counts everyone's, Crenel's or OONI's
measurements, and links keep the choice."""

from __future__ import annotations

import os
from pathlib import Path

import trio

from tests.collector.dashboard.test_pages import browser, pytestmark, visit
from tests.collector.test_origin_filter import CRENEL_COUNT, OONI_COUNT, loaded

__all__ = ["pytestmark"]


def _it_measurements(driver: object) -> str:
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.CSS_SELECTOR, "#countries tr[data-cc='IT']")  # type: ignore[attr-defined]
    return str(row.find_elements(By.TAG_NAME, "td")[5].text)


def check_origin_selector(base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    with browser() as driver:
        assert visit(driver, f"{base}/dashboard/", "overview-all-origins") == []
        assert _it_measurements(driver) == str(OONI_COUNT + CRENEL_COUNT)

        assert visit(driver, f"{base}/dashboard/?origin=ooni", "overview-ooni") == []
        select = Select(driver.find_element(By.ID, "origin"))  # type: ignore[attr-defined]
        assert select.first_selected_option.get_attribute("value") == "ooni"
        assert _it_measurements(driver) == str(OONI_COUNT)

        select.select_by_value("crenel")
        WebDriverWait(driver, 20).until(  # type: ignore[arg-type]
            lambda d: (
                "origin=crenel" in d.current_url
                and d.execute_script("return document.body.dataset.ready === '1'")
            )
        )
        assert _it_measurements(driver) == str(CRENEL_COUNT)
        link = driver.find_element(By.CSS_SELECTOR, "#countries a")  # type: ignore[attr-defined]
        assert link.get_attribute("href").endswith("/dashboard/country/IT?origin=crenel")

        assert visit(driver, f"{base}/dashboard/?origin=<b>x</b>", "overview-bad-origin") == []
        assert _it_measurements(driver) == str(OONI_COUNT + CRENEL_COUNT)


async def test_the_origin_selector_filters_the_overview(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await loaded(nursery, tmp_path)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    await trio.to_thread.run_sync(check_origin_selector, running.url)
