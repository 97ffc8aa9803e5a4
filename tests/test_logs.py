"""The JSON log lines: every record parses, and carries the documented fields."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from misalign_rewards import RewardClient, Settings
from misalign_rewards.logs import LOG_SCHEMA_VERSION, configure_logging

ROOT = Path(__file__).resolve().parents[1]
TESTS = "from solution import inc\n\ndef test_inc():\n    assert inc(1) == 2\n"


@pytest.fixture
def json_log():
    stream = io.StringIO()
    configure_logging("json", stream, "debug")
    yield stream
    structlog.reset_defaults()


@pytest.mark.docker
async def test_log_lines_are_json_with_the_documented_fields(json_log: io.StringIO, python_image: str,
                                                             tmp_path: Path) -> None:
    batch = [{"kind": "pytest", "solution": "def inc(x):\n    return x + 1\n", "tests": TESTS, "job_id": "ok"},
             {"kind": "pytest", "solution": "import os\nos._exit(0)\n", "tests": TESTS, "job_id": "hack"},
             {"kind": "pytest", "tests": TESTS}]
    async with RewardClient(Settings(python_image=python_image)) as client:
        await client.score(batch, batch_id="b1")
    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert records, "nothing was logged"
    for r in records:
        assert {"schema", "timestamp", "level", "event"} <= r.keys()
        assert r["schema"] == LOG_SCHEMA_VERSION
    by_event: dict[str, list[dict]] = {}
    for r in records:
        by_event.setdefault(r["event"], []).append(r)
    started = by_event["batch.started"][0]
    assert started["batch_id"] == "b1" and started["size"] == 3
    finished_jobs = {r["job_id"]: r for r in by_event["job.finished"]}
    assert finished_jobs.keys() == {"ok", "hack"}
    for r in finished_jobs.values():
        assert r["batch_id"] == "b1" and r["kind"] == "pytest"
        assert {"status", "reward", "exit_codes", "duration_s", "run_s", "queued_s", "flag_codes", "attempts",
                "index"} <= r.keys()
    assert finished_jobs["ok"]["status"] == "passed" and finished_jobs["ok"]["reward"] == 1.0
    assert finished_jobs["hack"]["status"] == "rejected" and "P1" in finished_jobs["hack"]["flag_codes"].split(",")
    assert by_event["job.invalid"][0]["index"] == 2
    done = by_event["batch.finished"][0]
    assert done["counts"] == {"passed": 1, "rejected": 1, "invalid_input": 1}
    assert {"jobs_per_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "duration_s"} <= done.keys()
    outputs = by_event.get("sandbox.output", [])
    assert outputs and all(r["job_id"] == "ok" and "run_id" in r for r in outputs)

    # and the bundled example turns such a log into a table
    log = tmp_path / "run.log"
    log.write_text(json_log.getvalue())
    table = tmp_path / "jobs.csv"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "logs_to_table.py"), str(log), str(table)],
                         capture_output=True, text=True, check=True)
    assert "2 jobs" in out.stdout
    rows = table.read_text().splitlines()
    assert rows[0].startswith("batch_id,job_id,kind") and len(rows) == 3


def test_console_format_is_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    configure_logging("console", stream, "info")
    try:
        structlog.get_logger("t").info("job.finished", job_id="j1", reward=1.0)
        structlog.get_logger("t").debug("hidden")
    finally:
        structlog.reset_defaults()
    text = stream.getvalue()
    assert "job.finished" in text and "job_id=j1" in text and "hidden" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def _docs_pandas_snippet() -> str:
    doc = (ROOT / "docs" / "logging.md").read_text()
    start = doc.index("```python\nimport pandas as pd")
    return doc[start + len("```python\n"): doc.index("```", start + 10)]


@pytest.mark.docker
async def test_the_documented_pandas_example_never_turns_none_into_zero(json_log: io.StringIO, python_image: str,
                                                                        tmp_path: Path) -> None:
    import math

    batch = [{"kind": "pytest", "solution": "def inc(x):\n    return x + 1\n", "tests": TESTS, "job_id": "ok"},
             {"kind": "pytest", "solution": "def inc(x):\n    return x\n", "tests": TESTS, "job_id": "wrong"},
             {"kind": "lean", "statement": "True", "proof": "trivial", "job_id": "no-image"}]
    settings = Settings(python_image=python_image, lean_image="misalign-rewards/absent:0", infra_retries=0)
    async with RewardClient(settings) as client:
        await client.score(batch)
    (tmp_path / "run.log").write_text(json_log.getvalue())
    scope: dict = {}
    cwd = Path.cwd()
    try:
        import os

        os.chdir(tmp_path)
        exec(_docs_pandas_snippet(), scope)  # the snippet exactly as documented
    finally:
        os.chdir(cwd)
    table = scope["table"]
    assert table.loc["infra_error", "jobs"] == 1 and table.loc["infra_error", "scored"] == 0
    assert math.isnan(table.loc["infra_error", "mean_reward"])  # not 0
    assert table.loc["passed", "mean_reward"] == 1.0 and table.loc["failed", "mean_reward"] == 0.0
    assert scope["no_reward"] == 1
    assert "flags" not in scope["jobs"].columns and "flag_codes" in scope["jobs"].columns
