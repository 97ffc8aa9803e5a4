"""results.json -> results.md (tables) and chart.png (matplotlib, when installed)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import growth

ROW_ORDER = ("sdk", "pooled", "sdk-inprocess", "docker-cli", "host-pytest", "host-subprocess",
             "host-humaneval")


def _group(cells: list[dict[str, Any]], purpose: str) -> dict[tuple[str, str, int, int], list[dict[str, Any]]]:
    out: dict[tuple[str, str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        if purpose in c.get("purposes", [c.get("purpose")]) and "error" not in c:
            out[(c["workload"], c["row"], c["concurrency"], c["jobs"])].append(c)
    return out


def _med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _spread(values: list[float]) -> str:
    m = statistics.median(values)
    return f"{m:.2f}" if len(values) == 1 else f"{m:.2f} ({min(values):.2f}-{max(values):.2f})"


def _row_key(key: tuple[str, str, int, int]) -> tuple[Any, ...]:
    w, r, c, n = key
    return (w, c, ROW_ORDER.index(r) if r in ROW_ORDER else 99, n)


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Medians per cell, the SDK/docker-cli ratio per workload, and where the targets stand."""
    main = _group(results["cells"], "main")
    rows = []
    for key in sorted(main, key=_row_key):
        runs = main[key]
        w, r, c, n = key
        rows.append({
            "workload": w, "row": r, "concurrency": c, "jobs": n, "repeats": len(runs),
            "jobs_per_s": [x["jobs_per_s"] for x in runs],
            "p50": _med([x["latency_s"]["p50"] for x in runs]),
            "p95": _med([x["latency_s"]["p95"] for x in runs]),
            "p99": _med([x["latency_s"]["p99"] for x in runs]),
            "client_ms": _med([x["cpu_ms_per_job"]["client"] for x in runs]),
            "engine_ms": _med([x["cpu_ms_per_job"]["engine"] for x in runs]),
            "job_ms": _med([x["cpu_ms_per_job"]["job"] for x in runs]),
            "host_ms": _med([x["cpu_ms_per_job"]["host_all"] for x in runs]),
            "rss_peak_mb": max(x["rss_mb"]["peak"] for x in runs),
            "correct": all(x["correct"] for x in runs),
            "wrong": sum(x["wrong"] for x in runs),
            "foreign": sum(x.get("foreign_container_starts") or 0 for x in runs),
            "pool_mb": _med([x.get("pool_mb") for x in runs]),
            "cases_per_s": [x["cases_per_s"] for x in runs if x.get("cases_per_s") is not None],
            "cases_run": _med([x.get("cases_run") for x in runs]),
        })
    ratios = {}
    pooled: dict[str, dict[str, float]] = {}
    for w in sorted({r["workload"] for r in rows}):
        by = {(r["row"], r["concurrency"]): statistics.median(r["jobs_per_s"]) for r in rows if r["workload"] == w}
        for (row, c), v in by.items():
            if row == "sdk" and ("docker-cli", c) in by:
                ratios[f"{w}@{c}"] = v / by[("docker-cli", c)]
            if row == "pooled":
                pooled[f"{w}@{c}"] = {f"over_{base}": v / by[(base, c)]
                                      for base in ("sdk", "host-pytest", "docker-cli", "host-subprocess",
                                                 "host-humaneval")
                                      if (base, c) in by}
    mem = sorted(
        (c["jobs"], c["rss_mb"]["peak"], c["rss_mb"]["before_batch"], c["jobs_per_s"], c["correct"])
         for c in results["cells"] if "memory" in c.get("purposes", [c.get("purpose")]) and "error" not in c)
    io_ratios = {}
    for r in rows:
        if r["workload"] == "io" and r["row"] == "pooled" and r["cases_per_s"]:
            by = {x["row"]: statistics.median(x["cases_per_s"]) for x in rows
                  if x["workload"] == "io" and x["concurrency"] == r["concurrency"] and x["cases_per_s"]}
            io_ratios[f"io@{r['concurrency']}"] = {f"over_{b}": by["pooled"] / by[b]
                                                   for b in ("sdk", "host-subprocess") if by.get(b)}
    overhead = io_overhead(results["cells"])
    client_ms = [r["client_ms"] for r in rows if r["row"] == "sdk" and r["client_ms"] is not None]
    pooled_ms = [r["client_ms"] for r in rows if r["row"] == "pooled" and r["client_ms"] is not None]
    pooled_p99 = {f"{r['workload']}@{r['concurrency']}": r["p99"] for r in rows if r["row"] == "pooled"}
    passing = {o["testtype"]: o["cases_per_s"] for o in overhead if o["row"] == "pooled"}
    host = {o["testtype"]: o["cases_per_s"] for o in overhead if o["row"] == "host-subprocess"}
    more = growth.summary(results)
    pooled_p99.update({f"one-test@1 ({lat['jobs']} jobs)": lat["p99"] for lat in more["latency"]})
    return {"rows": rows, "ratios": ratios, "pooled_ratios": pooled, "memory": mem, **more,
            "io_ratios": io_ratios, "io_overhead": overhead,
            "targets": {
                "io_stdin_case_overhead_ms": {
                    "target": "< 5 (Python stdin cases)",
                    "measured": {o["row"]: o["per_case_ms"] for o in overhead if o["testtype"] == "stdin"}},
                "io_pooled_over_host_subprocess_passing": {
                    "target": ">= 1 (cases/s, every case passing: the overhead cells' long jobs)",
                    "measured": {t: passing[t] / host[t] for t in passing if host.get(t)}},
                "io_pooled_over_old_pooled": {
                    "target": ">= 3 (io cases/s against the code before issue 26, in the same session)",
                    "measured": None},
                "sdk_over_docker_cli": {"target": ">= 1.2", "measured": ratios},
                "sdk_client_cpu_ms_per_job": {"target": "< 5", "measured_max": max(client_ms) if client_ms else None},
                "sdk_client_rss_mb_10000": {"target": "< 200",
                                            "measured": {str(n): peak for n, peak, *_ in mem}},
                "pooled_over_sdk": {"target": ">= 6 (humaneval)", "measured": pooled},
                "pooled_over_host_humaneval": {"target": ">= 1 (humaneval, same run)",
                                               "measured": {k: v.get("over_host-humaneval")
                                                            for k, v in pooled.items() if "over_host-humaneval" in v}},
                "pooled_client_cpu_ms_per_job": {"target": "<= 2", "measured_max": max(pooled_ms) if pooled_ms else None},
                "pooled_p99_s": {"target": "< 0.1 (one-test jobs, warm pool)", "measured": pooled_p99},
            }}


def io_overhead(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-case overhead, per row and testtype: the p50 latency of jobs of N cases less
    that of the same jobs with 1 case, over the N - 1 extra cases (everything a job costs
    once cancels out); and cases/s of the N-case jobs (one job at a time)."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        if "overhead" in c.get("purposes", []) and "error" not in c and c.get("cases"):
            groups[(c["row"], c["testtype"], c["cases"])].append(c)
    out = []
    for row, testtype in sorted({(r, t) for r, t, _ in groups},
                                key=lambda k: (k[1], ROW_ORDER.index(k[0]) if k[0] in ROW_ORDER else 99)):
        sizes = sorted(n for r, t, n in groups if (r, t) == (row, testtype))
        if len(sizes) < 2:
            continue
        one, many = groups[(row, testtype, sizes[0])], groups[(row, testtype, sizes[-1])]
        p50_one = _med([x["latency_s"]["p50"] for x in one])
        p50_many = _med([x["latency_s"]["p50"] for x in many])
        per_case = (None if p50_one is None or p50_many is None
                    else 1000 * (p50_many - p50_one) / (sizes[-1] - sizes[0]))
        cpu_one = _med([x["cpu_ms_per_job"]["job"] for x in one])
        cpu_many = _med([x["cpu_ms_per_job"]["job"] for x in many])
        cpu_case = None if cpu_one is None or cpu_many is None else (cpu_many - cpu_one) / (sizes[-1] - sizes[0])
        out.append({"row": row, "testtype": testtype, "cases": sizes[-1], "jobs": many[0]["jobs"],
                    "p50_one_s": p50_one, "p50_many_s": p50_many, "per_case_ms": per_case,
                    "per_case_cpu_ms": cpu_case,
                    "foreign": sum(x.get("foreign_container_starts") or 0 for x in one + many),
                    "cases_per_s": _med([x.get("cases_per_s") for x in many]),
                    "correct": all(x["correct"] for x in one + many)})
    return out


def markdown(results: dict[str, Any]) -> str:
    s = summarize(results)
    m = results["machine"]
    a = results["args"]
    lines = [
        f"# Benchmark results ({results['finished_utc']})", "",
        f"Command: `{results['command']}`  ",
        f"Machine: {m.get('cpu_model')}, {m.get('cpus_usable')} usable CPUs, {m.get('memory_gib')} GiB, "
        f"{m.get('os')}, kernel {m.get('kernel')} ({m.get('arch')}); Docker {m.get('docker_server')} "
        f"(cgroup v{m.get('cgroup_version')}, {m.get('cgroup_driver')}, {m.get('storage_driver')}); "
        f"Python {m.get('python')}; misalign-rewards {m.get('sdk_version')} at {m.get('git_commit')}"
        f"{' (with uncommitted changes)' if m.get('git_dirty') else ''}.  ",
        f"Limiter size (the SDK's own concurrency on this host): {results['limiter_size']}. "
        f"Repeats: {a['repeat']}; each cell ran in a fresh process after one warm-up job; "
        f"the rows of a repeat ran back to back.", "",
        "jobs/s is the median of the repeats (min-max in brackets); latencies and CPU are medians "
        "of the repeats; CPU is per job, in ms: client (the measuring process; for docker-cli "
        "also its `docker` CLI children), engine (dockerd, containerd, shims; a lower bound), "
        "job (the containers' cgroup, or the pytest processes on the host), host (the whole "
        "machine's busy CPU, other work included). `foreign` counts containers started by "
        "other work on the same engine during the cells: their CPU lands in `job` and `host`.", "",
        "| workload | row | conc | jobs | jobs/s | p50 s | p95 s | p99 s | client ms | engine ms "
        "| job ms | host ms | peak RSS MB | pool MB | correct | foreign |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in s["rows"]:
        lines.append(
            f"| {r['workload']} | {r['row']} | {r['concurrency']} | {r['jobs']} | {_spread(r['jobs_per_s'])} "
            f"| {_fmt(r['p50'])} | {_fmt(r['p95'])} | {_fmt(r['p99'])} | {_fmt(r['client_ms'], 1)} "
            f"| {_fmt(r['engine_ms'], 0)} | {_fmt(r['job_ms'], 0)} | {_fmt(r['host_ms'], 0)} "
            f"| {r['rss_peak_mb']:.0f} | {_fmt(r.get('pool_mb'), 0)} | {'yes' if r['correct'] else 'NO (' + str(r['wrong']) + ' wrong)'} "
            f"| {r['foreign']} |")
    if s["ratios"]:
        lines += ["", "SDK jobs/s over docker-cli jobs/s (medians; target >= 1.2): " +
                  ", ".join(f"{k}: {v:.2f}x" for k, v in s["ratios"].items())]
    if s["pooled_ratios"]:
        lines += ["", "Pooled jobs/s over the other rows (medians; targets on humaneval: >= 6x sdk, >= 3x "
                  "host-pytest, >= 1x host-humaneval): " + "; ".join(
                      f"{k}: " + ", ".join(f"{b[5:]} {v:.2f}x" for b, v in by.items())
                      for k, by in s["pooled_ratios"].items())]
    io_rows = [r for r in s["rows"] if r["workload"] == "io"]
    if io_rows:
        lines += ["", "## Io jobs: cases per second", "",
                  "Cases judged (every case not skipped after a failure; the baseline stops at a job's "
                  "first failing case too) over the batch's wall time.", "",
                  "| row | conc | jobs | jobs/s | cases/s | cases judged | correct |", "|---|---:|---:|---|---|---:|---|"]
        for r in io_rows:
            lines.append(f"| {r['row']} | {r['concurrency']} | {r['jobs']} | {_spread(r['jobs_per_s'])} "
                         f"| {_spread(r['cases_per_s']) if r['cases_per_s'] else 'n/a'} | {_fmt(r['cases_run'], 0)} "
                         f"| {'yes' if r['correct'] else 'NO (' + str(r['wrong']) + ' wrong)'} |")
        if s["io_ratios"]:
            lines += ["", "Pooled io cases/s over the other rows (medians): " + "; ".join(
                f"{k}: " + ", ".join(f"{b[5:]} {v:.2f}x" for b, v in by.items()) for k, by in s["io_ratios"].items())]
    if s["io_overhead"]:
        lines += ["", "## Io jobs: the judge's cost of one case", "",
                  "A trivial correct program (stdin: `print(int(input()) * 2)`; call: `double(n)`), one job "
                  "at a time: per-case ms = (p50 latency of a job of N cases - p50 of the same job with 1 "
                  "case) / (N - 1); per-case CPU ms the same of the `job` CPU (the containers' cgroup, "
                  "other work's containers included: `foreign`; the subprocesses for host-subprocess); "
                  "cases/s of the N-case jobs. Target: under 5 ms for Python stdin cases.", "",
                  "| testtype | row | N | jobs | p50 1 case s | p50 N cases s | per-case ms | per-case CPU ms "
                  "| cases/s | correct | foreign |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
        for o in s["io_overhead"]:
            lines.append(f"| {o['testtype']} | {o['row']} | {o['cases']} | {o['jobs']} | {_fmt(o['p50_one_s'], 3)} "
                         f"| {_fmt(o['p50_many_s'], 3)} | {_fmt(o['per_case_ms'], 1)} "
                         f"| {_fmt(o['per_case_cpu_ms'], 1)} | {_fmt(o['cases_per_s'], 1)} "
                         f"| {'yes' if o['correct'] else 'NO'} | {o['foreign']} |")
    scaling = _group(results["cells"], "scaling")
    if scaling:
        lines += ["", f"## Throughput against concurrency ({a['scaling_workload']})", "",
                  "| row | " + " | ".join(f"c={c}" for c in sorted({k[2] for k in scaling})) + " |",
                  "|---|" + "---:|" * len({k[2] for k in scaling})]
        concs = sorted({k[2] for k in scaling})
        for row in [r for r in ROW_ORDER if any(k[1] == r for k in scaling)]:
            cells = []
            for c in concs:
                vals = [x["jobs_per_s"] for k, v in scaling.items() if k[1] == row and k[2] == c for x in v]
                cells.append(_spread(vals) if vals else "")
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
    if s["memory"]:
        lines += ["", "## SDK client memory against batch size (trivial jobs, real containers)", "",
                  "| jobs | peak RSS MB | RSS before the batch MB | jobs/s | correct |", "|---:|---:|---:|---:|---|"]
        for n, peak, before, jps, ok in s["memory"]:
            lines.append(f"| {n} | {peak:.0f} | {before:.0f} | {jps:.2f} | {'yes' if ok else 'NO'} |")
    lines += growth.markdown(results)
    errors = [c for c in results["cells"] if "error" in c]
    if errors:
        lines += ["", "## Cells that failed", ""] + [f"- {c['workload']}/{c['row']}/c={c['concurrency']}: "
                                                      f"{c['error'][:300]}" for c in errors]
    if results.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(results["skipped"])]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> str | None:
    """Write the PNG; returns why not when it cannot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'misalign-rewards[bench]'): chart skipped"
    s = summarize(results)
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    colors = {"sdk": "tab:blue", "pooled": "tab:purple", "sdk-inprocess": "tab:cyan", "docker-cli": "tab:orange",
              "host-pytest": "tab:green", "host-subprocess": "tab:olive", "host-humaneval": "tab:brown"}

    ax = axes[0][0]
    workloads = sorted({r["workload"] for r in s["rows"]})
    rows = [r for r in ROW_ORDER if any(x["row"] == r for x in s["rows"])]
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        xs, meds, lo, hi = [], [], [], []
        for j, w in enumerate(workloads):
            cells = [x for x in s["rows"] if x["workload"] == w and x["row"] == row
                     and x["concurrency"] == results["limiter_size"]] or \
                    [x for x in s["rows"] if x["workload"] == w and x["row"] == row]
            if not cells:
                continue
            v = cells[0]["jobs_per_s"]
            m = statistics.median(v)
            xs.append(j + i * width)
            meds.append(m)
            lo.append(m - min(v))
            hi.append(max(v) - m)
        ax.bar(xs, meds, width, yerr=[lo, hi], label=row, color=colors.get(row), capsize=3)
    ax.set_xticks([j + width * (len(rows) - 1) / 2 for j in range(len(workloads))], workloads)
    ax.set_ylabel("jobs/s (median, min-max)")
    ax.set_title(f"Throughput at concurrency {results['limiter_size']}")
    ax.legend()

    ax = axes[0][1]
    scaling = _group(results["cells"], "scaling")
    for row in [r for r in ROW_ORDER if any(k[1] == r for k in scaling)]:
        concs = sorted({k[2] for k in scaling if k[1] == row})
        meds = [statistics.median([x["jobs_per_s"] for k, v in scaling.items() if k[1] == row and k[2] == c
                                   for x in v]) for c in concs]
        ax.plot(concs, meds, marker="o", label=row, color=colors.get(row))
    ax.set_xlabel("concurrency")
    ax.set_ylabel("jobs/s")
    ax.set_title(f"Throughput against concurrency ({results['args']['scaling_workload']})")
    if scaling:
        ax.legend()

    ax = axes[1][0]
    labels, client, engine, job = [], [], [], []
    for r in s["rows"]:
        if r["concurrency"] != results["limiter_size"]:
            continue
        labels.append(f"{r['workload']}\n{r['row'].replace('-', chr(10))}")
        client.append(r["client_ms"] or 0)
        engine.append(r["engine_ms"] or 0)
        job.append(r["job_ms"] or 0)
    xs = range(len(labels))
    ax.bar(xs, client, label="client", color="tab:blue")
    ax.bar(xs, engine, bottom=client, label="engine (lower bound)", color="tab:gray")
    ax.bar(xs, job, bottom=[a + b for a, b in zip(client, engine, strict=True)], label="job", color="tab:red")
    ax.set_xticks(list(xs), labels, fontsize=6)
    ax.set_ylabel("CPU ms per job")
    ax.set_title("Where the CPU goes")
    ax.legend()

    ax = axes[1][1]
    if s["memory"]:
        ns = [m[0] for m in s["memory"]]
        ax.plot(ns, [m[1] for m in s["memory"]], marker="o", label="peak RSS")
        ax.plot(ns, [m[2] for m in s["memory"]], marker="x", linestyle="--", label="RSS before the batch")
        ax.axhline(200, color="tab:red", linestyle=":", label="target (10,000 jobs)")
        ax.set_xscale("log")
        ax.legend()
    ax.set_xlabel("batch size (jobs)")
    ax.set_ylabel("SDK client MB")
    ax.set_title("Client memory against batch size")

    fig.suptitle(f"misalign-rewards benchmarks, {results['finished_utc']}, "
                 f"{results['machine'].get('cpus_usable')} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None
