"""How a job's cost grows, and the latency of one small job: two sweeps of
:mod:`benchmarks.run` beside its main table.

- **growth** (``--growth-tests 1,10,100``, ``--growth-concurrency 1,2,4``,
  ``--growth-rows sdk,pooled``, ``--growth-jobs N``): the ``tests<K>`` workloads (one
  solution, K one-line tests; :func:`workloads.many_tests`) through fresh (``sdk``) and
  warm (``pooled``) containers at each concurrency. Each cell gives jobs/s and CPU per
  job: the client's, the engine's (a lower bound) and the jobs' (the engine's ``docker``
  cgroup: other work's containers land there too, see ``foreign``), and for ``pooled``
  the warm containers' own cgroups (``own``: nothing else lands there).
- **latency** (``--latency-jobs N``): N one-test jobs (``trivial``) one at a time on a warm
  pool: p50, p95, p99 and the largest, from admission to reward. Target: p99 < 100 ms.

What a user does with the growth table: a training step scores B jobs of about K tests at
concurrency C; its scoring time is about ``B / (jobs/s at K, C)``, and where jobs/s stops
growing with C, the CPU per job says which part (client, engine, jobs) is the bound.
"""

from __future__ import annotations

import argparse
from typing import Any

LATENCY_TARGET_S = 0.1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--growth-tests", default="1,10,100",
                   help="tests per job of the cost-growth sweep, or 'none' [1,10,100]")
    p.add_argument("--growth-concurrency", default="1,2,4",
                   help="concurrency levels of that sweep (numbers or multiples like 1x) [1,2,4]")
    p.add_argument("--growth-rows", default="sdk,pooled", help="rows of that sweep [sdk,pooled]")
    p.add_argument("--growth-jobs", type=int, default=40, help="jobs per cell of that sweep [40]")
    p.add_argument("--latency-jobs", default="100",
                   help="one-test jobs, one at a time on a warm pool, for the latency percentiles, "
                        "or 'none' [100]")


def smoke(args: argparse.Namespace) -> None:
    """What ``--smoke`` keeps of the two sweeps: one small cell of each kind."""
    args.growth_tests, args.growth_concurrency, args.growth_jobs, args.latency_jobs = "10", "1", 3, "5"


def cells(args: argparse.Namespace, ints: Any) -> list[tuple[str, str, str, int, int, int]]:
    """(purpose, workload, row, concurrency, jobs, repeat) of both sweeps; ``ints`` parses
    a level list the way the main table's are parsed."""
    out = []
    rows = [r.strip() for r in args.growth_rows.split(",") if r.strip()]
    for r in rows:
        if r not in ("sdk", "pooled"):
            raise SystemExit(f"--growth-rows takes sdk and pooled, not {r!r}")
    for k in ints(args.growth_tests):
        for c in ints(args.growth_concurrency):
            for row in rows:
                out.append(("growth", f"tests{k}", row, c, args.growth_jobs, 0))
    for n in ints(args.latency_jobs):
        out.append(("latency", "trivial", "pooled", 1, n, 0))
    return out


def _of(results: dict[str, Any], purpose: str) -> list[dict[str, Any]]:
    return [c for c in results["cells"] if purpose in c.get("purposes", ()) and "error" not in c]


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def summary(results: dict[str, Any]) -> dict[str, Any]:
    growth = [{"tests": int(c["workload"][5:]), "row": c["row"], "concurrency": c["concurrency"],
               "jobs": c["jobs"], "jobs_per_s": c["jobs_per_s"], "correct": c["correct"],
               "cpu_ms_per_job": c["cpu_ms_per_job"], "foreign": c.get("foreign_container_starts")}
              for c in _of(results, "growth")]
    latency = [{"jobs": c["jobs"], **c["latency_s"], "client_ms": c["cpu_ms_per_job"]["client"],
                "own_ms": c["cpu_ms_per_job"].get("own"), "correct": c["correct"]}
               for c in _of(results, "latency")]
    return {"growth": sorted(growth, key=lambda g: (g["row"], g["tests"], g["concurrency"])), "latency": latency}


def markdown(results: dict[str, Any]) -> list[str]:
    s = summary(results)
    lines: list[str] = []
    if s["growth"]:
        concs = sorted({g["concurrency"] for g in s["growth"]})
        lines += ["", "## Cost against tests per job and concurrency", "",
                  "Each cell: jobs/s, then CPU ms per job as client + engine (lower bound) + jobs "
                  "(the engine's cgroup); for pooled, `own` is the warm containers' own cgroups "
                  "(other work on the engine excluded).", "",
                  "| row | tests/job | " + " | ".join(f"c={c}" for c in concs) + " |",
                  "|---|---:|" + "---|" * len(concs)]
        for row, k in sorted({(g["row"], g["tests"]) for g in s["growth"]}):
            out = []
            for c in concs:
                g = next((g for g in s["growth"] if (g["row"], g["tests"], g["concurrency"]) == (row, k, c)), None)
                if g is None:
                    out.append("")
                    continue
                cpu = g["cpu_ms_per_job"]
                own = f", own {_ms(cpu.get('own'))}" if row == "pooled" else ""
                bad = "" if g["correct"] else " **NOT CORRECT**"
                out.append(f"{g['jobs_per_s']:.2f}/s; {_ms(cpu['client'])} + {_ms(cpu['engine'])} + "
                           f"{_ms(cpu['job'])}{own}{bad}")
            lines.append(f"| {row} | {k} | " + " | ".join(out) + " |")
    for lat in s["latency"]:
        p99 = lat["p99"]
        met = "n/a" if p99 is None else ("met" if p99 < LATENCY_TARGET_S else "**missed**")
        lines += ["", "## Latency of a one-test job (warm pool, concurrency 1)", "",
                  "| jobs | p50 ms | p95 ms | p99 ms | max ms | client ms/job | own ms/job | correct | p99 < 100 ms |",
                  "|---:|---:|---:|---:|---:|---:|---:|---|---|",
                  f"| {lat['jobs']} | {_ms(1000 * lat['p50'])} | {_ms(1000 * lat['p95'])} | {_ms(1000 * p99)} "
                  f"| {_ms(1000 * lat['max'])} | {_ms(lat['client_ms'])} | {_ms(lat['own_ms'])} "
                  f"| {'yes' if lat['correct'] else 'NO'} | {met} |"]
    return lines
