"""The benchmark script must keep working: ``python -m benchmarks.run --smoke`` (a few
trivial jobs, every row, concurrency 2) against the real engine. Nothing here asserts a
timing; it checks that every row ran, was correct and wrote its outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = {"sdk", "pooled", "docker-cli", "host-pytest"}


@pytest.mark.docker
def test_smoke_run_writes_every_row(tmp_path: Path, python_image: str) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--image", python_image, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    cells = results["cells"]
    assert not [c for c in cells if "error" in c], proc.stderr[-3000:]
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
