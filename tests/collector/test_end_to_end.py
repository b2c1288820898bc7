"""End to end on loopback, on each storage backend: a probe checks in, measures, uploads; a researcher finds, counts and
exports the measurements, and DuckDB reads the Parquet back with the same rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import msgspec
import pytest
import trio

from collector.cli import main as collector_main
from collector.control.helper import HelperConfig
from probe.cli.main import main as probe_main
from probe.model import Measurement
from probe.store import Store
from tests.collector.geodb import write_geodb
from tests.collector.running import start_collector
from tests.probe.loopback import LOOPBACK, start_internet

TOKEN = "e2e-admin-token-0123456789"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRENEL_CONFIG", str(tmp_path / "probe.toml"))
    monkeypatch.setenv("CRENEL_DATA_DIR", str(tmp_path / "probe-data"))
    return tmp_path


def write_lists(root: Path, urls: dict[str, list[tuple[str, str]]]) -> Path:
    lists = root / "test-lists" / "lists"
    lists.mkdir(parents=True)
    head = "url,category_code,category_description,date_added,source,notes\n"
    for name, rows in urls.items():
        body = "".join(f"{url},{cat},x,2024-01-01,test,\n" for url, cat in rows)
        (lists / f"{name}.csv").write_text(head + body)
    return root / "test-lists"


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """The collector's database: the DuckDB file of its data directory, or PostgreSQL."""
    if request.param == "duckdb":
        return None
    return str(request.getfixturevalue("postgres_cluster").create_database())


async def test_probe_to_researcher_on_loopback(home: Path, store_url: str | None) -> None:
    internet_dir = home / "internet"
    internet_dir.mkdir()
    token_file = home / "admin-token"
    token_file.write_text(TOKEN + "\n")
    geodb = write_geodb(home / "geo.mmdb", {"127.0.0.0/8": ("IR", 197207, "Test ISP")})
    async with trio.open_nursery() as servers:
        internet = await start_internet(servers, internet_dir, with_control=False)
        async with trio.open_nursery() as service:
            running = await start_collector(
                service,
                home,
                store=store_url,
                geoip_paths=(geodb,),
                public_networks=("127.0.0.0/8",),
                admin_token=TOKEN,
                helper=HelperConfig(
                    udp_resolver=(LOOPBACK, internet.public_dns),
                    doh_url=None,
                    allowed_networks=("127.0.0.0/8",),
                    ca_bundle=internet.ca_file,
                    dns_s=2.0,
                    tcp_s=2.0,
                    tls_s=2.0,
                    http_s=5.0,
                ),
            )
            www = internet.url("www.example.test")
            news = internet.url("news.example.test", https=True)
            checkout = write_lists(home, {"global": [(www, "NEWS")], "ir": [(news, "HUMR")]})
            imported = await trio.to_thread.run_sync(
                collector_main,
                [
                    "testlists",
                    "import",
                    str(checkout),
                    "--url",
                    running.url,
                    "--admin-token-file",
                    str(token_file),
                ],
            )
            assert imported == 0

            probe_flags = [
                "run",
                "--yes",
                "--collector",
                running.url,
                "--no-system-resolver",
                "--resolver",
                f"{LOOPBACK}:{internet.isp_dns}",
                "--doh",
                f"https://{LOOPBACK}:{internet.https}/dns-query",
                "--ca-bundle",
                str(internet.ca_file),
                "--public-network",
                "127.0.0.0/8",
                "--capture-window-ms",
                "50",
            ]
            assert await trio.to_thread.run_sync(probe_main, probe_flags) == 0
            with Store(home / "probe-data" / "measurements.sqlite3") as store:
                assert store.count(pending_only=True) == 0
                uids = [row.uid for row in store.summaries()]
                accepted = {uid: store.raw(uid) for uid in uids}
            assert len(uids) == 2
            await running.analysed()

            async with httpx.AsyncClient(base_url=running.api) as client:
                found = (
                    await client.get("/measurements", params={"country": "IR", "asn": "AS197207"})
                ).json()
                rows = {r["uid"]: r for r in found["results"]}
                assert set(rows) == set(uids)
                assert {r["input"] for r in rows.values()} == {www, news}
                assert {r["verdict"] for r in rows.values()} == {"ok"}
                assert {r["probe_verdict"] for r in rows.values()} == {"ok"}
                assert all(r["geo_mismatch"] is False for r in rows.values())
                assert all(r["control_failed"] is False for r in rows.values())

                for uid in uids:
                    body = (await client.get(f"/measurements/{uid}")).content
                    assert body == accepted[uid]
                    measured = msgspec.json.decode(body, type=Measurement)
                    assert measured.probe.cc == "IR" and measured.probe.asn == "AS197207"
                    assert measured.control is not None
                    assert measured.control.endpoint == f"{running.url}/api/v1/control"

                by_country = {"axis_x": "country", "probes": "true"}
                counts = (await client.get("/aggregation", params=by_country)).json()
                assert counts["result"] == [
                    {
                        "x": "IR",
                        "y": None,
                        "measurements": 2,
                        "ok": 2,
                        "blocked": 0,
                        "down": 0,
                        "inconclusive": 0,
                        "pending": 0,
                        "confirmed": 0,
                        "probes": 1,
                        "methods": {},
                    }
                ]
                exported = await client.get(
                    "/export",
                    params={"since": "2020-01-01", "until": "2099-01-01", "format": "parquet"},
                )
                assert exported.status_code == 422  # an HTTP export covers at most 31 days
            service.cancel_scope.cancel()
        servers.cancel_scope.cancel()

    out = home / "export"
    code = await trio.to_thread.run_sync(
        collector_main,
        [
            "export",
            "--data-dir",
            str(running.config.data_dir),
            *(["--store", store_url] if store_url else []),
            "--since",
            "2020-01-01",
            "--until",
            "2099-01-01",
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
    )
    assert code == 0
    assert list(out.glob("day=*/probe_cc=IR/*.parquet"))
    with duckdb.connect() as db:
        back = db.execute(
            f"SELECT uid, probe_cc, probe_asn, input, verdict, measurement "
            f"FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true) ORDER BY uid"
        ).fetchall()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in back] == sorted(
        (uid, "IR", 197207, rows[uid]["input"], "ok") for uid in uids
    )
    assert {r[0]: r[5].encode() for r in back} == accepted
