"""``python -m benchmarks.pool_ab`` keeps working: two warm containers, one with another
revision's harness, take the same jobs alternately and both judge them right. Nothing
here asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.docker
def test_pool_ab_runs_both_harnesses(python_image: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.pool_ab", "--rev", "HEAD", "--jobs", "5",
                           "--workload", "trivial", "--image", python_image],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sides = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [s["harness"] for s in sides] == ["HEAD", "this checkout"]
    for side in sides:
        assert side["wrong"] == 0 and side["jobs"] == 5, side  # one of the five must fail, and did
        assert side["containers"] == 1, side
        assert side["container_cpu_ms_per_job"] is None or side["container_cpu_ms_per_job"] > 0
