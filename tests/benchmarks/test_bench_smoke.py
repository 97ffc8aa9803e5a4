"""The benchmark script must keep working: ``python -m benchmarks.run --smoke`` (a few
trivial jobs, every row, concurrency 2) against the real engine. Nothing here asserts a
timing; it checks that every row ran, was correct and wrote its outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = {"sdk", "pooled", "docker-cli", "host-pytest"}


def smoke(out: Path, image: str, *extra: str, timeout_s: float = 300) -> tuple[subprocess.CompletedProcess[str],
                                                                               dict[str, Any]]:
    """``benchmarks.run --smoke`` into ``out``: the process and its results.json, every
    cell of which ran."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", *extra, "--image", image, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout_s,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert not [c for c in results["cells"] if "error" in c], proc.stderr[-3000:]
    return proc, results


@pytest.mark.docker
def test_smoke_run_writes_every_row(tmp_path: Path, python_image: str) -> None:
    out = tmp_path / "results"
    proc, results = smoke(out, python_image)
    cells = results["cells"]
    main = [c for c in cells if "main" in c["purposes"]]
    assert {c["row"] for c in main} == ROWS
    for cell in cells:
        assert cell["correct"], cell
        assert cell["jobs_per_s"] > 0
        assert cell["jobs"] == cell["expected_passes"] + cell["statuses"].get("failed", 0)
        assert cell["rss_mb"]["peak"] > 0
    assert {c["jobs"] for c in cells if "memory" in c["purposes"]} == {4, 8}
    assert results["machine"]["cpus"] >= 1
    table = (out / "results.md").read_text()
    for row in ROWS:
        assert f"| trivial | {row} |" in table
    (pooled,) = [c for c in main if c["row"] == "pooled"]
    assert pooled["pool_mb"] is None or pooled["pool_mb"] > 0
    assert "Pooled jobs/s over the other rows" in table
    growth = [c for c in cells if "growth" in c["purposes"]]
    assert {(c["workload"], c["row"], c["concurrency"]) for c in growth} == {("tests10", "sdk", 1),
                                                                             ("tests10", "pooled", 1)}
    (latency,) = [c for c in cells if "latency" in c["purposes"]]
    assert (latency["workload"], latency["row"], latency["concurrency"]) == ("trivial", "pooled", 1)
    assert "## Cost against tests per job and concurrency" in table
    assert "## Latency of a one-test job (warm pool, concurrency 1)" in table
    assert results["summary"]["latency"][0]["p99"] > 0
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "chart skipped" in proc.stderr
    else:
        assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


IO_ROWS = {"sdk", "pooled", "host-subprocess"}


@pytest.mark.docker
def test_io_smoke_counts_cases_and_the_cost_of_one(tmp_path: Path, python_image: str) -> None:
    out = tmp_path / "results"
    _, results = smoke(out, python_image, "--workload", "io", timeout_s=600)
    cells = results["cells"]
    main = [c for c in cells if "main" in c["purposes"]]
    assert {c["row"] for c in main} == IO_ROWS
    for cell in main:
        assert cell["correct"], cell
        # the wrong job stops at its first case: fewer cases judged than the jobs hold
        assert 0 < cell["cases_run"] < cell["cases_in_jobs"] == 25, cell
        assert cell["cases_per_s"] > 0
    overhead = [c for c in cells if "overhead" in c["purposes"]]
    assert {(c["row"], c["testtype"], c["cases"]) for c in overhead} == {
        (row, t, n) for row in IO_ROWS for t in ("stdin", "functional") for n in (1, 5)}
    for cell in overhead:
        assert cell["correct"] and cell["cases_run"] == cell["cases_in_jobs"] == 2 * cell["cases"], cell
    summary = results["summary"]
    assert {(o["row"], o["testtype"]) for o in summary["io_overhead"]} == {
        (row, t) for row in IO_ROWS for t in ("stdin", "functional")}
    assert all(o["per_case_ms"] is not None and o["cases_per_s"] > 0 for o in summary["io_overhead"])
    table = (out / "results.md").read_text()
    assert "## Io jobs: cases per second" in table and "## Io jobs: the judge's cost of one case" in table
    for row in IO_ROWS:
        assert f"| {row} | 2 | 5 |" in table
        assert f"| stdin | {row} | 5 | 2 |" in table


@pytest.mark.docker
@pytest.mark.parametrize("option", [["--latency-jobs", "0"], ["--growth-tests", "ten"], ["--scaling-concurrency", "-1"]])
def test_a_bad_count_is_an_error_that_says_so(tmp_path: Path, python_image: str, option: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", *option, "--image", python_image,
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "error:" in proc.stderr and repr(option[1]) in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
