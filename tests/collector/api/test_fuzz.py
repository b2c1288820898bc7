"""Fuzzing: hostile bodies and query strings never get a 5xx, and every 4xx is a JSON error.

Runs against the ASGI apps in-process (see `fuzzing.py`) with derandomized, bounded examples so
CI is repeatable. These strategies found invalid UTF-8 inside JSON strings (500 on uploads, the
control and the standalone helper) and out-of-range dates such as `until=9999-12-31` (500 on
searches, aggregations and exports): issue 13.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.app import build_collector_app, build_helper_app
from collector.config import Limits
from collector.control.helper import HelperConfig
from tests.collector.api.fuzzing import (
    GOOD_LINE,
    InProcessApp,
    control_body,
    get_request,
    get_routes,
    serve_in_thread,
    upload_body,
)
from tests.collector.running import collector_config

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKEN = "fuzz-admin-token"
API = "/api/v1"


@pytest.fixture(scope="module")
def collector_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    tmp_path: Path = tmp_path_factory.mktemp("fuzz")
    config = collector_config(
        tmp_path,
        admin_token=TOKEN,
        limits=Limits(requests_per_s=0, measurements_per_s=0, max_body_bytes=1 << 20),
    )
    with serve_in_thread(lambda: build_collector_app(config)) as app:
        seeded = app.request(
            "POST",
            f"{API}/measurements",
            content=GOOD_LINE,
            headers={"content-type": "application/json"},
        )
        assert seeded.status_code == 200, seeded.text
        yield app


@pytest.fixture(scope="module")
def helper_app() -> Iterator[InProcessApp]:
    config = HelperConfig(udp_resolver=("127.0.0.1", 9), doh_url=None)
    with serve_in_thread(lambda: build_helper_app(config)) as app:
        yield app


def assert_clean(response: httpx.Response) -> None:
    """A 4xx with a JSON error body, or a success; never a 5xx."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"], str) and isinstance(body["detail"], str), body


@FUZZ
@given(upload=upload_body())
def test_hostile_uploads_never_get_a_5xx(
    collector_app: InProcessApp, upload: tuple[bytes, dict[str, str]]
) -> None:
    body, headers = upload
    assert_clean(
        collector_app.request("POST", f"{API}/measurements", content=body, headers=headers)
    )


@FUZZ
@given(body=control_body())
def test_hostile_control_requests_never_get_a_5xx(
    collector_app: InProcessApp, helper_app: InProcessApp, body: bytes
) -> None:
    for app in (collector_app, helper_app):
        response = app.request("POST", f"{API}/control", content=body)
        assert_clean(response)
        # Only bodies that are refused are generated: the helper never dials anything here.
        assert response.status_code >= 400


@FUZZ
@given(body=control_body(), path=st.sampled_from(["admin/reanalyse", "admin/test-lists"]))
def test_hostile_admin_bodies_never_get_a_5xx(
    collector_app: InProcessApp, body: bytes, path: str
) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert_clean(collector_app.request("POST", f"{API}/{path}", content=body, headers=headers))


@pytest.mark.parametrize(
    "route", get_routes(), ids=[r[0].removeprefix(API + "/") for r in get_routes()]
)
def test_random_query_strings_on_every_documented_get_never_get_a_5xx(
    collector_app: InProcessApp, route: tuple[str, list[str], list[str]]
) -> None:
    @settings(FUZZ, max_examples=60)
    @given(url=get_request(route))
    def check(url: str) -> None:
        assert_clean(collector_app.request("GET", url))

    check()


@pytest.mark.parametrize(
    "url",
    [
        f"{API}/measurements?until=9999-12-31",
        f"{API}/measurements?since=0001-01-01T00:00:00%2B23:59",
        f"{API}/aggregation?axis_x=country&until=9999-12-31",
        f"{API}/export?format=jsonl&since=9999-12-01&until=9999-12-31",
        f"{API}/measurements?limit=%C2%B2",
        f"{API}/changes?until=0001-01-01",
    ],
    ids=["search", "search-offset", "aggregation", "export", "superscript-limit", "report-window"],
)
def test_dates_out_of_range_are_a_422_naming_the_parameter(
    collector_app: InProcessApp, url: str
) -> None:
    response = collector_app.request("GET", url)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_field"


@pytest.mark.parametrize(
    "bad", [b"\xff", b"\xc3\x28", b"\xed\xa0\x80"], ids=["ff", "c328", "surrogate"]
)
def test_invalid_utf8_in_a_string_is_a_400_everywhere(
    collector_app: InProcessApp, helper_app: InProcessApp, bad: bytes
) -> None:
    upload = GOOD_LINE.replace(b'"http', b'"' + bad + b"http", 1)
    control = b'{"url": "https://ex' + bad + b'ample.test/", "addresses": [], "ports": [443]}'
    answers = [
        collector_app.request("POST", f"{API}/measurements", content=upload),
        collector_app.request(
            "POST",
            f"{API}/measurements",
            content=upload,
            headers={"content-type": "application/x-ndjson"},
        ),
        collector_app.request("POST", f"{API}/control", content=control),
        helper_app.request("POST", f"{API}/control", content=control),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400], [a.text for a in answers]
    assert {a.json()["error"] for a in answers} == {"bad_request"}
