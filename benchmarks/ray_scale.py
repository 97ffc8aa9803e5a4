"""The Ray backend against the local one, in one run on this machine.

    .venv/bin/python -m benchmarks.ray_scale [--jobs 60] [--repeat 2] [--memory-jobs 1000]

Starts what tests/sandbox/test_ray.py starts (a head and engine nodes in a loopback-only network
namespace, each worker with a dockerd of its own; tests/support/ray_cluster.py), then times the
same batch of ``trivial`` jobs (benchmarks/workloads.py; every fifth must earn 0), each
cell in a fresh driver process inside the namespace:

- ``local``: ``RewardClient(Settings(docker_url=<w1's engine>))``, no Ray: the baseline;
- ``ray-1node``: ``Settings(backend="ray")`` with only w1 in the cluster;
- ``ray-2nodes``: the same with w2 joined.

in both isolations (fresh containers, warm pool). Per cell: jobs/s, the driver's CPU per
job (``getrusage`` of the driver process, Ray's threads in it included), job latency p50
(total less queueing), peak RSS. Then one ``ray-2nodes`` batch of ``--memory-jobs`` jobs
for the driver's memory. Writes benchmarks/results/latest/ray.{json,md}.

On one 2-core host two nodes share the same two cores, so they cannot be faster than
one; the point of these rows is the per-job overhead of going through Ray, from which
the model in benchmarks/README.md predicts a real cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "latest"


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _cell(spec: dict[str, Any]) -> dict[str, Any]:
    from benchmarks import workloads
    from benchmarks.rows import _as_dict
    from misalign_rewards import RewardClient, Settings
    from misalign_rewards.client import percentile

    jobs = workloads.build("trivial", spec["jobs"])
    batch = [_as_dict(j) for j in jobs]
    common = {"isolation": spec["isolation"], "max_concurrent": 2, "max_in_flight": 256}
    settings = (Settings(backend="ray", **common) if spec["row"].startswith("ray")
                else Settings(docker_url=spec["docker_url"], **common))
    async with RewardClient(settings) as client:
        warm = [{**_as_dict(jobs[0]), "job_id": f"warm-{i}"} for i in range(4)]
        await client.score(warm)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        c0, t0 = _cpu_s(), time.perf_counter()
        results = await client.score(batch)
        t1, c1 = time.perf_counter(), _cpu_s()
    lat = [r.timings["total"] - r.timings.get("queued", 0.0) for r in results]
    wrong = sum(1 for j, r in zip(jobs, results, strict=True) if r.reward != j.expected)
    n = len(jobs)
    return {**spec, "wall_s": t1 - t0, "jobs_per_s": n / (t1 - t0), "client_cpu_ms_per_job": 1000 * (c1 - c0) / n,
            "latency_p50_s": percentile(lat, 50), "rss_before_mb": rss_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "wrong": wrong}


def run_cell(cluster: Any, spec: dict[str, Any]) -> dict[str, Any]:
    proc = cluster.driver(["-m", "benchmarks.ray_scale", "--cell", json.dumps(spec)])
    out, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"cell {spec} failed:\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=60, help="jobs per timed cell [60]")
    p.add_argument("--repeat", type=int, default=2, help="repetitions of each cell [2]")
    p.add_argument("--memory-jobs", type=int, default=1000,
                   help="jobs of the driver-memory batch [1000; 10000 takes ~15 min here]")
    p.add_argument("--cell", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.cell:
        import logging

        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                            logger_factory=structlog.WriteLoggerFactory(file=sys.stderr))
        print(json.dumps(asyncio.run(_cell(json.loads(args.cell)))))
        return 0

    sys.path.insert(0, str(ROOT / "tests"))
    from support.engines import make_engine
    from support.ray_cluster import RayCluster

    image = os.environ.get("MISALIGN_PYTHON_IMAGE", "ghcr.io/your-org/misalign-fv/python-sandbox:latest")
    engines = [make_engine("misalign-bench-w1-"), make_engine("misalign-bench-w2-")]
    cluster = RayCluster(port=6398)
    rows: list[dict[str, Any]] = []
    try:
        for e in engines:
            e.start()
            e.load_image(image)
        cluster.start()
        cluster.add_worker("w1", engines[0])
        plan = [(row, iso) for row in ("local", "ray-1node") for iso in ("pooled", "fresh")]
        for rep in range(args.repeat):
            for row, iso in plan:
                n = args.jobs if iso == "pooled" else max(10, args.jobs // 2)
                rows.append(run_cell(cluster, {"row": row, "isolation": iso, "jobs": n, "repeat": rep,
                                               "docker_url": engines[0].url}))
                print(json.dumps(rows[-1]), flush=True)
        cluster.add_worker("w2", engines[1])
        for rep in range(args.repeat):
            for iso in ("pooled", "fresh"):
                n = args.jobs if iso == "pooled" else max(10, args.jobs // 2)
                rows.append(run_cell(cluster, {"row": "ray-2nodes", "isolation": iso, "jobs": n, "repeat": rep}))
                print(json.dumps(rows[-1]), flush=True)
        memory = run_cell(cluster, {"row": "ray-2nodes", "isolation": "pooled", "jobs": args.memory_jobs,
                                    "repeat": 0, "purpose": "memory"})
        print(json.dumps(memory), flush=True)
    finally:
        cluster.stop()
        for e in engines:
            e.close()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ray.json").write_text(json.dumps({"rows": rows, "memory": memory}, indent=1))
    (OUT / "ray.md").write_text(report(rows, memory))
    print(report(rows, memory))
    return 0


def _median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def report(rows: list[dict[str, Any]], memory: dict[str, Any]) -> str:
    lines = ["| isolation | row | jobs/s | vs local | driver CPU ms/job | latency p50 ms | correct |",
             "|---|---|---|---|---|---|---|"]
    for iso in ("pooled", "fresh"):
        med: dict[str, dict[str, float]] = {}
        for row in ("local", "ray-1node", "ray-2nodes"):
            cells = [r for r in rows if r["row"] == row and r["isolation"] == iso]
            if not cells:
                continue
            med[row] = {k: _median([c[k] for c in cells])
                        for k in ("jobs_per_s", "client_cpu_ms_per_job", "latency_p50_s")}
            ratio = med[row]["jobs_per_s"] / med["local"]["jobs_per_s"] if "local" in med else float("nan")
            lines.append(f"| {iso} | {row} | {med[row]['jobs_per_s']:.2f} | {ratio:.2f}x | "
                         f"{med[row]['client_cpu_ms_per_job']:.2f} | {1000 * med[row]['latency_p50_s']:.0f} | "
                         f"{'yes' if all(c['wrong'] == 0 for c in cells) else 'NO'} |")
    lines.append("")
    lines.append(f"Driver memory, one ray-2nodes pooled batch of {memory['jobs']} jobs: "
                 f"{memory['rss_before_mb']:.0f} MB before the batch, {memory['peak_rss_mb']:.0f} MB peak "
                 f"({memory['jobs_per_s']:.2f} jobs/s, {memory['wrong']} wrong).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
