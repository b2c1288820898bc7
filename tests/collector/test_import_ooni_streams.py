"""`import-ooni` at speed: gzip cans read by blocks, named pipes, worker processes, and the
summary of many chunks."""

from __future__ import annotations

import gzip
import json
import os
import threading
from pathlib import Path

import pytest

from collector.cli import main as collector_main
from collector.ooni_import import (
    Document,
    FileReader,
    ImportSummary,
    LineBlock,
    Unreadable,
    split_blocks,
)
from collector.storage import Filters
from collector.storage.duckdb import DuckDBStorage
from tests.collector.ooni_docs import ooni_doc


def test_gzip_cans_with_several_members_and_long_lines_read_whole(tmp_path: Path) -> None:
    docs = [ooni_doc(uid=f"g{i}") for i in range(5)]
    docs[2]["test_keys"]["requests"][0]["response"]["body"] = "x" * (
        1 << 20
    )  # longer than a gunzipped block
    lines = [json.dumps(d).encode() + b"\n" for d in docs]
    can = tmp_path / "can.jsonl.gz"
    # OONI's cans may be members one after another; the last line has no newline.
    can.write_bytes(gzip.compress(b"".join(lines[:2])) + gzip.compress(b"".join(lines[2:])[:-1]))
    items = list(FileReader(can).documents())
    assert [i.value for i in items if isinstance(i, Document)] == docs
    assert [i.line for i in items] == [1, 2, 3, 4, 5]

    pretty = tmp_path / "one.json.gz"
    pretty.write_bytes(gzip.compress(json.dumps(docs[2], indent=2).encode()))
    (whole,) = FileReader(pretty).documents()
    assert isinstance(whole, Document) and whole.value == docs[2]

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(can.read_bytes()[:-100])
    last = list(FileReader(cut).documents())[-1]
    assert isinstance(last, Unreadable) and last.reason == "truncated_gzip"


def test_plain_files_are_handed_over_in_blocks_of_whole_lines(tmp_path: Path) -> None:
    docs = [ooni_doc(uid=f"p{i}") for i in range(6)]
    docs[1]["test_keys"]["requests"][0]["response"]["body"] = "y" * (300 << 10)  # > a read
    lines = [json.dumps(d).encode() + b"\n" for d in docs]
    path = tmp_path / "blocks.jsonl"
    # A blank line and a stray carriage return keep the numbering; the last has no newline.
    path.write_bytes(
        b"".join(lines[:3]) + b"\n" + lines[3].replace(b"\n", b"\r\n") + b"".join(lines[4:])[:-1]
    )
    blocks = list(FileReader(path).blocks())
    assert len(blocks) > 1 and all(isinstance(b, LineBlock) for b in blocks)
    assert all(b.text.endswith(b"\n") for b in blocks[:-1])  # only whole lines
    assert [line.line for line in split_blocks(blocks)] == [1, 2, 3, 5, 6, 7]
    items = list(FileReader(path).documents())
    assert [i.value for i in items if isinstance(i, Document)] == docs


def test_the_summary_of_many_chunks_lists_the_first_problems(tmp_path: Path) -> None:
    total = ImportSummary()
    for chunk in range(3):
        part = ImportSummary(converted=1, other_tests={"ndt": 1})
        for line in range(60):
            part.skip("can", chunk * 100 + line, "not_json", "oops")
        total.add(part)
    assert (total.converted, total.other_tests, total.skipped) == (3, {"ndt": 3}, {"not_json": 180})
    assert [p.line for p in total.problems] == [*range(60), *range(100, 140)]


def stream(fifo: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with fifo.open("wb") as out:
            out.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


@pytest.mark.parametrize("workers", [0, 1])
def test_a_named_pipe_imports_in_worker_processes_once(
    workers: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [ooni_doc(uid=f"p{i}", blocked=i % 2 == 0) for i in range(250)]
    data = b"".join(json.dumps(d).encode() + b"\n" for d in docs) + b"junk\n"
    fifo = tmp_path / "can.jsonl"
    data_dir = str(tmp_path / "data")
    argv = ["import-ooni", str(fifo), "--data-dir", data_dir, "--analysis-workers", str(workers)]
    for _ in range(2):
        os.mkfifo(fifo)
        writer = stream(fifo, data)
        assert collector_main([*argv, "--json"]) == 0
        writer.join(timeout=30)
        fifo.unlink()
    first, again = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["stored"], first["analysed"], first["skipped"]) == (250, 250, {"not_json": 1})
    assert first["problems"][0]["line"] == 251
    assert (again["stored"], again["duplicates"], again["analysed"]) == (0, 250, 0)
    store = DuckDBStorage(Path(data_dir) / "collector.duckdb")
    try:
        assert store.counts().pending_analysis == 0
        rows = store.summaries(Filters(), None, 500)
        assert len(rows) == 250
        assert sorted(r.verdict or "" for r in rows) == ["blocked"] * 125 + ["ok"] * 125
    finally:
        store.close()
