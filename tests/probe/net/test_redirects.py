"""The probe and the control follow a URL by the same rules: one redirect loop, one policy.

Each scenario runs once through a real probe measurement on loopback, whose control exchange
runs the control helper against the same servers; the two chains must be the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from probe.analysis import BogonPolicy, ReferenceData
from probe.measure import MeasureSession
from probe.model import ControlHttp, HttpTransaction, Measurement
from tests.probe.loopback import Internet, start_internet


async def _measure(internet: Internet, url: str) -> Measurement:
    reference = ReferenceData(bogons=BogonPolicy(public_networks=("127.0.0.0/8",)))
    async with MeasureSession(internet.probe_config(), reference) as session:
        return await session.measure(url)


def _probe_chain(http: list[HttpTransaction]) -> tuple[list[str], int | None, str | None]:
    """Return the URL of each hop, the final status and the failure the probe recorded."""
    last_of_hop: dict[int, HttpTransaction] = {}
    for tx in http:
        last_of_hop[tx.depth] = tx
    hops = [last_of_hop[depth] for depth in sorted(last_of_hop)]
    final = hops[-1]
    status = final.response.status_code if final.response and final.failure is None else None
    return [tx.url for tx in hops], status, final.failure


def _control_chain(http: ControlHttp) -> tuple[list[str], int | None, str | None]:
    """Return the URL of each hop, the final status and the failure the control recorded."""
    return [*http.redirects, http.final_url or ""], http.status_code, http.failure


@pytest.mark.parametrize(
    ("host", "hops", "failure"),
    [
        ("www.example.test", 1, None),
        ("redirect.example.test", 2, None),
        ("hops.example.test", 3, None),
        ("bad-redirect.example.test", 1, "http_invalid_redirect_location_host"),
        ("loop.example.test", 11, "http_too_many_redirects"),
    ],
    ids=["no-redirect", "http-to-https", "301-then-307-to-another-host", "ftp-location", "loop"],
)
async def test_probe_and_control_follow_the_same_chain(
    nursery: trio.Nursery, tmp_path: Path, host: str, hops: int, failure: str | None
) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await _measure(internet, internet.url(host))
    assert m.control is not None and m.control.reply is not None, m.control
    probe = _probe_chain(m.http)
    control = _control_chain(m.control.reply.http)
    assert probe == control
    urls, status, seen_failure = probe
    assert len(urls) == hops
    assert seen_failure == failure
    assert (status == 200) is (failure is None)
