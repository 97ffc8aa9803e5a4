"""Measure the SDK's own CPU per sandbox run, apart from the engine's.

Runs N trivial specs (``python -c pass``) through DockerSandbox at a given concurrency
and reports, per run: the client process's CPU seconds (getrusage of this process,
user+system), the engine's CPU seconds (dockerd + containerd + containerd-shim + runc,
from /proc/PID/stat of the engine processes, children included), and wall time.
Needs to run on the engine's host (it reads the engine's /proc entries).

    .venv/bin/python -m benchmarks.client_cpu --runs 200 --concurrency 4
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import time

import anyio
import structlog

from benchmarks.probes import engine_cpu_s, engine_cpu_ticks, rusage_s
from misalign_rewards.sandbox.base import RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox


def client_cpu_seconds() -> float:
    return rusage_s(resource.RUSAGE_SELF)


async def measure(image: str, runs: int, concurrency: int) -> dict[str, float]:
    spec = RunSpec(image=image, argv=["python", "-c", "pass"], timeout_s=60)
    async with DockerSandbox(max_concurrent=concurrency) as sb:
        await sb.run(spec)  # warm: connection, image cache
        limiter = anyio.CapacityLimiter(concurrency)
        failures = 0

        async def one() -> None:
            nonlocal failures
            async with limiter:
                r = await sb.run(spec)
                failures += r.exit_code != 0

        c0, e0, t0 = client_cpu_seconds(), engine_cpu_ticks(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(runs):
                tg.start_soon(one)
        c1, e1, t1 = client_cpu_seconds(), engine_cpu_ticks(), time.perf_counter()
    return {
        "runs": runs, "concurrency": concurrency, "failures": failures,
        "client_cpu_ms_per_run": 1000 * (c1 - c0) / runs,
        "engine_cpu_ms_per_run": 1000 * engine_cpu_s(e0, e1) / runs,
        "wall_s": t1 - t0, "runs_per_s": runs / (t1 - t0),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default=os.environ.get("MISALIGN_PYTHON_IMAGE",
                                                     "ghcr.io/your-org/misalign-fv/python-sandbox:latest"))
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=4)
    args = p.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(json.dumps(anyio.run(measure, args.image, args.runs, args.concurrency), indent=2))


if __name__ == "__main__":
    main()
