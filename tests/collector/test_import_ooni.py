"""`crenel-collector import-ooni`: OONI files as published become stored, analysed measurements."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import trio

from collector.cli import main as collector_main
from collector.ooni_import import Document, FileReader, ImportSummary, Unreadable, convert
from collector.storage import Filters
from collector.storage.duckdb import DuckDBStorage
from probe.model import Blocking, Verdict
from probe.ooni import OoniDocumentError, OtherOoniTest, measurement_from_ooni
from tests.collector.ooni_docs import ooni_doc
from tests.collector.running import start_collector


def write_jsonl(path: Path, docs: list[Any], *, compress: bool = False, extra: str = "") -> Path:
    text = "".join(json.dumps(d) + "\n" for d in docs) + extra
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def test_a_web_connectivity_measurement_keeps_its_origin_and_ooni_verdict() -> None:
    m = measurement_from_ooni(ooni_doc(blocked=True))
    assert m.origin is not None and m.origin.platform == "ooni"
    assert m.origin.measurement_uid == "20261101000000.000000_IT_webconnectivity_0123456789abcdef"
    assert m.origin.report_id and m.origin.test_version == "0.5.28"
    assert m.probe_id == f"ooni-report:{m.origin.report_id}"
    assert (m.probe.cc, m.probe.asn, m.input) == ("IT", "AS64500", "http://news.example.org/")
    assert m.start_time.isoformat() == "2026-11-01T10:00:00+00:00"
    assert m.analysis.verdict is Verdict.BLOCKED and m.analysis.blocking is Blocking.HTTP_DIFF
    assert m.http[0].response is not None and m.http[0].response.status_code == 403
    # The same OONI measurement is always the same Crenel measurement; another one is not.
    assert measurement_from_ooni(ooni_doc(blocked=True)).uid == m.uid
    assert measurement_from_ooni(ooni_doc(uid="other")).uid != m.uid
    unnamed = [ooni_doc(uid=None), ooni_doc(uid=None, blocked=True)]
    assert len({measurement_from_ooni(d).uid for d in unnamed}) == 2
    assert measurement_from_ooni(ooni_doc(uid=None)).uid == measurement_from_ooni(unnamed[0]).uid


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"data_format_version": "0.3.0"}, "unknown_data_format"),
        ({"data_format_version": ["0.2.0"]}, "unknown_data_format"),
        ({"test_keys": None}, "no_test_keys"),
        ({"measurement_start_time": "yesterday"}, "bad_start_time"),
        ({"input": "ftp://files.example.org/"}, "bad_input"),
        ({"test_keys": {"queries": [{"engine": "udp"}]}}, "unexpected_shape"),
    ],
)
def test_documents_that_cannot_be_read_say_why(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(OoniDocumentError) as caught:
        measurement_from_ooni({**ooni_doc(), **change})
    assert caught.value.reason == reason
    with pytest.raises(OtherOoniTest) as other:
        measurement_from_ooni({**ooni_doc(), "test_name": "ndt"})
    assert other.value.test_name == "ndt"


def test_files_as_published_are_read_with_line_numbers(tmp_path: Path) -> None:
    docs = [ooni_doc(uid=f"u{i}") for i in range(3)]
    plain = write_jsonl(tmp_path / "a.jsonl", docs, extra="{not json\n\n")
    can = write_jsonl(tmp_path / "b.jsonl.gz", docs, compress=True)
    truncated = tmp_path / "c.jsonl.gz"
    truncated.write_bytes(can.read_bytes()[:-20])
    pretty = tmp_path / "d.json"
    pretty.write_text(json.dumps(docs[0], indent=2))
    api = tmp_path / "e.json"
    api.write_text(json.dumps({"measurement_uid": "u0", "raw_measurement": json.dumps(docs[0])}))

    def read(path: Path) -> list[Document | Unreadable]:
        return list(FileReader(path).documents())

    items = read(plain)
    assert [i.line for i in items] == [1, 2, 3, 4]
    assert isinstance(items[3], Unreadable) and items[3].reason == "not_json"
    assert [d.value for d in read(can) if isinstance(d, Document)] == docs
    cut = read(truncated)
    assert isinstance(cut[-1], Unreadable) and cut[-1].reason == "truncated_gzip"
    assert [d.value for d in read(pretty)] == [docs[0]]
    assert [d.value for d in read(api)] == [docs[0]]


def test_the_summary_counts_other_tests_per_name_and_problems_per_reason(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [ooni_doc(), {"test_name": "ndt"}, {"test_name": "ndt"}, {**ooni_doc(), "test_keys": 1}],
        extra="oops\n",
    )
    summary = ImportSummary()
    converted = [c for item in FileReader(path).documents() if (c := convert(item, summary))]
    assert len(converted) == 1 and summary.converted == 1 and summary.documents == 4
    assert summary.other_tests == {"ndt": 2}
    assert summary.skipped == {"no_test_keys": 1, "not_json": 1}
    assert [(p.line, p.reason) for p in summary.problems] == [(4, "no_test_keys"), (5, "not_json")]


def test_the_probe_address_left_in_a_document_is_scrubbed(tmp_path: Path) -> None:
    doc = ooni_doc(probe_ip="203.0.113.77")
    doc["test_keys"]["requests"][0]["response"]["body"] = "your address is 203.0.113.77"
    path = write_jsonl(tmp_path / "leak.jsonl", [doc])
    summary = ImportSummary()
    (converted,) = [c for item in FileReader(path).documents() if (c := convert(item, summary))]
    assert b"203.0.113.77" not in converted.data


def test_an_import_stores_analyses_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [ooni_doc(uid=f"u{i}", blocked=i % 2 == 0) for i in range(6)]
    path = write_jsonl(tmp_path / "can.jsonl.gz", docs, compress=True, extra="junk\n")
    data = str(tmp_path / "data")
    base = ["import-ooni", str(path), "--data-dir", data, "--analysis-workers", "0", "--json"]
    assert collector_main(base) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["stored"], first["duplicates"], first["analysed"]) == (6, 0, 6)
    assert first["skipped"] == {"not_json": 1}
    assert collector_main(base) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["stored"], again["duplicates"]) == (0, 6)
    store = DuckDBStorage(Path(data) / "collector.duckdb")
    try:
        assert store.counts().pending_analysis == 0
        rows = store.summaries(Filters(country=("IT",)), None, 100)
        assert len(rows) == 6
        assert {r.software_name for r in rows} == {"ooniprobe-cli"}
        verdicts = {r.verdict for r in rows}
        assert verdicts == {"blocked", "ok"}, verdicts
    finally:
        store.close()


def test_missing_files_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = collector_main(
        ["import-ooni", str(tmp_path / "nope.jsonl"), "--data-dir", str(tmp_path)]
    )
    assert code == 2
    assert "no such file" in capsys.readouterr().err


async def test_an_import_into_a_running_collector(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_collector(nursery, tmp_path)
    docs = [ooni_doc(uid=f"r{i}", start="2026-11-01 10:00:00") for i in range(5)]
    path = write_jsonl(tmp_path / "can.jsonl", docs)
    argv = ["import-ooni", str(path), "--url", running.url, "--json"]
    assert await trio.to_thread.run_sync(collector_main, argv) == 0
    assert await trio.to_thread.run_sync(collector_main, argv) == 0
    await running.analysed()
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{running.api}/measurements", params={"country": "IT"})
    assert r.status_code == 200, r.text
    assert len(msgspec.json.decode(r.content)["results"]) == 5
    code = await trio.to_thread.run_sync(
        collector_main, ["import-ooni", str(path), "--url", "http://127.0.0.1:9"]
    )
    assert code == 3


def test_the_corpus_imports_whole(shared_data: Path, tmp_path: Path) -> None:
    corpus = sorted((shared_data / "ooni-corpus").glob("*/*/measurement.json"))
    assert len(corpus) == 56
    can = write_jsonl(
        tmp_path / "corpus.jsonl.gz", [json.loads(p.read_text()) for p in corpus], compress=True
    )
    data = str(tmp_path / "data")
    code = collector_main(
        ["import-ooni", str(can), "--data-dir", data, "--analysis-workers", "0", "--json"]
    )
    assert code == 0
    store = DuckDBStorage(Path(data) / "collector.duckdb")
    try:
        counts = store.counts()
        assert counts.pending_analysis == 0
        assert len(store.summaries(Filters(), None, 100)) == 56
    finally:
        store.close()


def test_an_ooni_export_imports_back_with_the_same_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [ooni_doc(uid=f"x{i}", blocked=i % 3 == 0) for i in range(6)]
    can = write_jsonl(tmp_path / "can.jsonl", docs)
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    common = ["--analysis-workers", "0", "--json"]
    assert collector_main(["import-ooni", str(can), "--data-dir", first, *common]) == 0
    out = tmp_path / "export.jsonl"
    argv = ["export", "--since", "2026-11-01", "--until", "2026-11-02", "--format", "ooni"]
    assert collector_main([*argv, "--out", str(out), "--data-dir", first]) == 0
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(exported) == 6
    assert all(d["test_name"] == "web_connectivity" for d in exported)
    assert {d["measurement_uid"] for d in exported} == {f"x{i}" for i in range(6)}
    assert collector_main(["import-ooni", str(out), "--data-dir", second, *common]) == 0
    capsys.readouterr()

    def verdicts(data: str) -> dict[str, str | None]:
        store = DuckDBStorage(Path(data) / "collector.duckdb")
        try:
            return {r.uid: r.verdict for r in store.summaries(Filters(), None, 100)}
        finally:
            store.close()

    assert verdicts(first) == verdicts(second)
    assert sorted(verdicts(first).values()) == ["blocked"] * 2 + ["ok"] * 4


async def test_the_api_exports_ooni_lines(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_collector(nursery, tmp_path)
    path = write_jsonl(tmp_path / "can.jsonl", [ooni_doc(uid=f"a{i}") for i in range(3)])
    argv = ["import-ooni", str(path), "--url", running.url, "--json"]
    assert await trio.to_thread.run_sync(collector_main, argv) == 0
    params = {"since": "2026-11-01", "until": "2026-11-02", "format": "ooni"}
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{running.api}/export", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert sorted(d["measurement_uid"] for d in lines) == ["a0", "a1", "a2"]


def test_imported_reports_give_regional_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [
        ooni_doc(host, uid=f"{host}-{i}", report_id=f"report-{i}", blocked=host.startswith("b"))
        for host in ("blocked.example.org", "open.example.org")
        for i in range(4)
    ]
    can = write_jsonl(tmp_path / "can.jsonl", docs)
    data = str(tmp_path / "data")
    argv = ["import-ooni", str(can), "--data-dir", data, "--analysis-workers", "0", "--json"]
    assert collector_main(argv) == 0
    capsys.readouterr()
    window = ["--since", "2026-10-30", "--until", "2026-11-01", "--format", "json"]
    assert collector_main(["report", "IT", "--data-dir", data, *window]) == 0
    report = json.loads(capsys.readouterr().out)
    verdicts = {d["domain"]: d["verdict"] for d in report["domains"]}
    assert verdicts == {"blocked.example.org": "blocked", "open.example.org": "not blocked"}
