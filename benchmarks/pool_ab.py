"""CPU per pooled job, this checkout's harness against another revision's, side by side.

    .venv/bin/python -m benchmarks.pool_ab --rev main --jobs 100 --workload humaneval

Two warm containers, one running the harness of ``--rev`` (its ``src/misalign_rewards/
harness/*.py`` from git) and one running this checkout's, take the same jobs alternately,
one at a time: whatever else the machine is doing, both see it alike. Per job: CPU of the
container (its own cgroup: supervisor, worker, zygote, solution processes; nothing else
on the machine lands there), the client's CPU (``time.process_time`` around its calls),
and latency (p50/p99). Every job must pass on both sides. Prints one JSON line per side.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import structlog

from misalign_rewards import harness
from misalign_rewards.client import percentile
from misalign_rewards.jobs import PytestJob
from misalign_rewards.rewards import binary
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.verifiers.io import IoVerifier
from misalign_rewards.verifiers.pytest import PytestVerifier

from . import probes, workloads

ROOT = Path(__file__).resolve().parents[1]


def _files_at(rev: str) -> dict[str, bytes]:
    """The harness bundle with the modules of ``rev`` in place of this checkout's (its own
    modules: a revision may name them otherwise)."""
    folder = "src/misalign_rewards/harness/"
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", rev, folder],
                            capture_output=True, text=True, check=True).stdout.split()
    files = {k: v for k, v in harness.bundle().items() if not k.endswith(".py") or k.endswith("/__init__.py")}
    for path in listed:
        name = path.removeprefix(folder)
        if name.endswith(".py") and name != "__init__.py":
            files[f"{harness.PACKAGE}/{name}"] = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
                                                                capture_output=True, check=True).stdout
    return files


def _use(files: dict[str, bytes]) -> None:
    cache = harness._bundle()  # the verifier reads the bundle at each prepare
    cache.clear()
    cache.update(files)


async def measure(image: str, rev: str, workload: str, n: int) -> dict[str, dict[str, Any]]:
    jobs = [j.sdk_job() for j in workloads.build(workload, n)]
    expected = [j.expected for j in workloads.build(workload, n)]
    sides: dict[str, dict[str, Any]] = {}
    for name, files in ((rev, _files_at(rev)), ("this checkout", dict(harness.bundle()))):
        _use(files)
        python = PytestVerifier(image, isolation="pooled")
        # binds its WarmSpec to these files
        python.prepare(PytestJob(solution="x = 1\n", tests="def test_x():\n    pass\n"), b"0" * 32, "warm")
        # io jobs are judged as the client judges them (binary reward: a judge's first failing case ends it)
        verifier: Any = IoVerifier(python, policy=binary) if workload == "io" else python
        pool = PooledSandbox(DockerSandbox(client_id=f"ab-{uuid.uuid4().hex[:10]}", max_concurrent=1))
        sides[name] = {"files": files, "verifier": verifier, "pool": pool, "lat": [], "client": 0.0,
                       "wrong": 0, "containers": set()}
    own = harness.bundle()
    try:
        for side in sides.values():
            await side["pool"].open()
        for i, job in enumerate([jobs[0], *jobs]):
            for side in sides.values():
                _use(side["files"])

                async def run(spec: Any, side: dict[str, Any] = side) -> Any:
                    result = await side["pool"].run(spec)
                    side["containers"].add(result.container_id)
                    return result

                if i == 1:  # after the warm-up job
                    side["cpu0"] = probes.pool_cpu_s(side["pool"])
                p0, t0 = time.process_time(), time.perf_counter()
                outcome = await side["verifier"].verify(job, run)
                if i:
                    side["lat"].append(time.perf_counter() - t0)
                    side["client"] += time.process_time() - p0
                    side["wrong"] += (1.0 if outcome.status.value == "passed" else 0.0) != expected[i - 1]
        for side in sides.values():
            side["cpu"] = probes.pool_cpu_delta_s(side["cpu0"], probes.pool_cpu_s(side["pool"]))
    finally:
        _use(own)
        for side in sides.values():
            await side["pool"].aclose()
    return {name: {
        "jobs": n, "wrong": s["wrong"], "containers": len(s["containers"]), "retired": s["pool"].retired,
        "container_cpu_ms_per_job": None if s["cpu"] is None else round(1000 * s["cpu"] / n, 1),
        "client_cpu_ms_per_job": round(1000 * s["client"] / n, 2),
        "p50_ms": round(1000 * percentile(s["lat"], 50), 1), "p99_ms": round(1000 * percentile(s["lat"], 99), 1),
    } for name, s in sides.items()}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pool_ab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rev", default="main", help="the git revision whose harness is compared [main]")
    p.add_argument("--workload", default="humaneval", help="humaneval, trivial, cpu, io or testsK [humaneval]")
    p.add_argument("--jobs", type=int, default=100, help="jobs per side [100]")
    p.add_argument("--image", default=os.environ.get("MISALIGN_PYTHON_IMAGE",
                                                     "ghcr.io/your-org/misalign-fv/python-sandbox:latest"))
    args = p.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for name, result in anyio.run(measure, args.image, args.rev, args.workload, args.jobs).items():
        print(json.dumps({"harness": name, "workload": args.workload, **result}))


if __name__ == "__main__":
    main()
