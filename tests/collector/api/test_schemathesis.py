"""Schemathesis over the served OpenAPI document: no operation answers a 5xx (issue 13).

Runs schemathesis's own CLI (`st run`, deterministic generation, bounded examples) against a
`crenel-collector serve` that the test starts on loopback and stops by its pid. The control's
POST is excluded: a valid generated request would make the helper dial the generated addresses,
and tests never send traffic beyond loopback (its bodies are fuzzed in `test_fuzz.py`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MAX_EXAMPLES = 10
RUN_BUDGET_S = 240
_SERVING = re.compile(r"(http://127\.0\.0\.1:\d+)")


def schemathesis_cli() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    return found


@pytest.mark.slow
def test_no_operation_of_the_served_openapi_answers_a_5xx(tmp_path: Path) -> None:
    cli = schemathesis_cli()
    log = (tmp_path / "collector.log").open("w")
    collector = subprocess.Popen(
        [
            *(sys.executable, "-m", "collector.cli", "serve", "--data-dir", str(tmp_path / "c")),
            *("--listen", "127.0.0.1:0", "--rate-limit", "0"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert collector.stdout is not None
        match = _SERVING.search(collector.stdout.readline())
        assert match is not None, "the collector did not start"
        run = subprocess.run(
            [
                cli,
                "run",
                f"{match.group(1)}/api/v1/openapi.json",
                f"--max-examples={MAX_EXAMPLES}",
                "--checks=not_a_server_error",
                "--generation-deterministic",
                "--exclude-operation-id=control",
                "--request-timeout=30",
                "--workers=1",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=RUN_BUDGET_S,
            check=False,
        )
    finally:
        collector.terminate()
        try:
            collector.wait(timeout=30)
        except subprocess.TimeoutExpired:
            collector.kill()
            collector.wait(timeout=30)
        if collector.stdout is not None:
            collector.stdout.close()
        log.close()
    summary = run.stdout[-3000:]
    errors = (tmp_path / "collector.log").read_text()[-2000:]
    assert run.returncode == 0, summary + run.stderr[-2000:] + errors
    assert re.search(r"\d+ generated, \d+ passed", summary), summary
