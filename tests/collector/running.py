"""Start a collector on loopback for tests, and make valid measurements to upload to it."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette

from collector.app import build_collector_app
from collector.config import CollectorConfig, Limits
from collector.control.helper import HelperConfig
from collector.runtime import Runtime
from probe.identity import new_uid
from probe.model import Analysis, Measurement, Method, ProbeNetwork, Verdict
from tests.probe.analysis.build import healthy

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class RunningCollector:
    """A collector served by hypercorn in the test's nursery."""

    url: str
    app: Starlette
    config: CollectorConfig

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def collector(self) -> Runtime:
        running = self.app.state.running.collector
        assert running is not None
        return running  # type: ignore[no-any-return]

    async def analysed(self) -> None:
        """Wait until the collector has analysed everything uploaded so far."""
        await self.collector.analyser.wait_idle()


def collector_config(tmp_path: Path, **changes: Any) -> CollectorConfig:
    limits = changes.pop("limits", Limits(requests_per_s=0, measurements_per_s=0))
    values: dict[str, Any] = {
        "data_dir": tmp_path / "collector",
        "helper": HelperConfig(udp_resolver=("127.0.0.1", 9), doh_url=None),
        "analysis_workers": 0,
        "limits": limits,
        # Tests upload from 127.0.0.1 as several probes at once: a trusted relay, weighed per
        # probe id. Tests of the uploader-network cap upload from other loopback addresses.
        "trusted_uploaders": ("127.0.0.1/32", "::1/128"),
    }
    values.update(changes)
    return CollectorConfig(**values)


async def start_collector(
    nursery: trio.Nursery, tmp_path: Path, **changes: Any
) -> RunningCollector:
    config = collector_config(tmp_path, **changes)
    app = build_collector_app(config)
    hc = HypercornConfig()
    hc.bind = ["127.0.0.1:0"]
    hc.accesslog = None
    hc.loglevel = "WARNING"
    binds = await nursery.start(serve, app, hc)
    return RunningCollector(url=str(binds[0]), app=app, config=config)


def measurement(
    *,
    url: str = "http://news.example.test/",
    cc: str = "IR",
    asn: str = "AS197207",
    start: datetime | None = None,
    probe_id: str | None = "p-test",
    category: str | None = "NEWS",
    verdict: Verdict = Verdict.OK,
    methods: tuple[Method, ...] = (),
) -> Measurement:
    """Return a valid measurement of a healthy site, with the probe's own (claimed) analysis."""
    built = healthy(url=url).build()
    moment = start or NOW - timedelta(minutes=5)
    return replace_struct(
        built,
        uid=new_uid(int(moment.timestamp() * 1e9), os.urandom(10)),
        start_time=moment,
        probe=ProbeNetwork(cc=cc, asn=asn, network_name="Test Net"),
        probe_id=probe_id,
        category_code=category,
        analysis=Analysis(
            verdict=verdict,
            methods=list(methods),
            confidence=0.9,
            rules_version="probe-test",
            reference_digest="",
        ),
    )


def replace_struct(value: Measurement, **changes: Any) -> Measurement:
    return msgspec.structs.replace(value, **changes)


def ndjson(measurements: list[Measurement], *, compress: bool = False) -> bytes:
    body = b"".join(msgspec.json.encode(m) + b"\n" for m in measurements)
    return gzip.compress(body) if compress else body
