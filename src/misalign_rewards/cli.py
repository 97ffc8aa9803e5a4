"""The ``misalign-rewards`` command.

    misalign-rewards run JOBS.jsonl -o RESULTS.jsonl   score a file of jobs
    misalign-rewards doctor                            is everything in place, and what concurrency
    misalign-rewards reap [--all]                      remove containers left by dead clients
    misalign-rewards demo                              bundled honest, wrong and gaming examples

Exit codes:
    0  done (run: every valid job got a result; demo: every row earned what it should)
    1  run: some jobs ended in infrastructure errors; demo: a row earned something else;
       doctor: something needed is missing
    2  usage errors, an unreadable input file, or bad lines under --strict
    3  no engine answers, or a needed image is missing
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import anyio
import structlog

from .client import RewardClient
from .errors import EngineUnreachable, ImageNotFound, InfrastructureError
from .jobs import InvalidJob, parse_job
from .logs import configure_logging
from .outcomes import JobResult, Status
from .settings import Settings

EXIT_OK, EXIT_JOB_TROUBLE, EXIT_USAGE, EXIT_ENGINE = 0, 1, 2, 3


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("integrity", "max_concurrent", "reward_policy", "log_format", "log_file", "log_level",
                 "python_image", "lean_image"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


# -- run ---------------------------------------------------------------------------


def read_jobs(path: Path, out: TextIO) -> tuple[list[tuple[int, Any]], list[str]]:
    """(line number, parsed JSON) for each non-blank line, and a message per bad line."""
    items: list[tuple[int, Any]] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{lineno}: not JSON ({exc.msg} at column {exc.colno})")
                continue
            parsed = parse_job(data, lineno)
            if isinstance(parsed, InvalidJob):
                problems.append(f"{path}:{lineno}: {parsed.error}")
                continue
            items.append((lineno, parsed))
    return items, problems


class Progress:
    """A one-line bar with counts by status on a terminal; a plain line every 10% (and at
    the end) elsewhere."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.done = 0
        self.counts: Counter[str] = Counter()
        self.t0 = time.monotonic()
        self._next_plain = 0.1

    def update(self, result: JobResult) -> None:
        self.done += 1
        self.counts[result.status.value] += 1
        frac = self.done / self.total if self.total else 1.0
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        rate = self.done / max(time.monotonic() - self.t0, 1e-9)
        if self.tty:
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r[{bar:<30}] {self.done}/{self.total} {rate:.1f}/s {counts}\x1b[K")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif frac >= self._next_plain or self.done == self.total:
            self._next_plain = (int(frac * 10) + 1) / 10
            print(f"progress: {self.done}/{self.total} ({rate:.1f}/s) {counts}", file=self.stream, flush=True)


def summary_table(results: list[JobResult]) -> str:
    by_status: dict[str, list[JobResult]] = {}
    for r in results:
        by_status.setdefault(r.status.value, []).append(r)
    lines = [f"{'status':<20} {'jobs':>6} {'mean reward':>12} {'flagged':>8}"]
    for status, rs in sorted(by_status.items()):
        rewards = [r.reward for r in rs if r.reward is not None]
        mean = f"{sum(rewards) / len(rewards):.3f}" if rewards else "-"
        flagged = sum(1 for r in rs if r.flags)
        lines.append(f"{status:<20} {len(rs):>6} {mean:>12} {flagged:>8}")
    lines.append(f"{'total':<20} {len(results):>6}")
    return "\n".join(lines)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.jobs)
    try:
        items, problems = read_jobs(path, sys.stderr)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    for p in problems:
        print(("error: " if args.strict else "skipped: ") + p, file=sys.stderr)
    if problems and args.strict:
        print(f"error: {len(problems)} bad line(s); nothing was run (--strict)", file=sys.stderr)
        return EXIT_USAGE
    progress = Progress(len(items), sys.stderr)
    out_path = Path(args.output)
    async with RewardClient(settings) as client:
        results = await client.score([job for _, job in items], on_result=progress.update)
    with out_path.open("w", encoding="utf-8") as out:
        for (lineno, _), result in zip(items, results, strict=True):
            record = {"line": lineno, **result.model_dump(mode="json")}
            out.write(json.dumps(record) + "\n")
    print(summary_table(results), file=sys.stderr)
    print(f"wrote {len(results)} results to {out_path}"
          + (f"; skipped {len(problems)} bad line(s)" if problems else ""), file=sys.stderr)
    return EXIT_JOB_TROUBLE if any(r.status is Status.INFRA_ERROR for r in results) else EXIT_OK


# -- doctor ------------------------------------------------------------------------


async def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from .sandbox.base import RunSpec
    from .sandbox.docker import DockerSandbox

    ok = True
    sandbox = DockerSandbox(url=settings.docker_url, max_concurrent=settings.max_concurrent, reap_on_open=False)
    try:
        await sandbox.open()
    except EngineUnreachable as exc:
        print(f"engine: NOT REACHABLE: {exc}")
        return EXIT_ENGINE
    async with sandbox:
        version = await sandbox.docker.version()
        print(f"engine: {sandbox.endpoint} (Docker {version.get('Version')}, API {version.get('ApiVersion')})")
        for label, image, limits, verify in (
            ("python-sandbox", settings.python_image_ref, settings.python_limits,
             ["python", "-c", "import pytest, numpy, scipy; print('ok')"]),
            ("lean", settings.lean_image_ref, settings.lean_limits, ["lean", "--version"]),
        ):
            try:
                res = await sandbox.run(RunSpec(image=image, argv=verify, limits=limits, timeout_s=60))
                good = res.exit_code == 0
                detail = res.stdout.decode(errors="replace").strip().splitlines()[:1]
                print(f"image {label}: {image}: {'verified' if good else 'FAILED verification'}"
                      f" ({detail[0] if detail else res.stderr.decode(errors='replace').strip()[:200]})")
                ok &= good or label == "lean"
            except ImageNotFound:
                print(f"image {label}: {image}: MISSING"
                      + (" (Lean jobs will report infra_error; build it where the internet is reachable)"
                         if label == "lean" else " (run containers/build_and_push.sh --build-only)"))
                ok &= label == "lean"
            plan = sandbox.budget.plan(limits)
            print(f"  concurrency for {label} runs: {plan.limit} ({plan.reason}; cpu {plan.by_cpu},"
                  f" memory {plan.by_memory}, pids {plan.by_pids})")
        print(f"integrity mode: {settings.integrity.value}; reward policy: {settings.reward_policy}")
    return EXIT_OK if ok else EXIT_JOB_TROUBLE


# -- reap --------------------------------------------------------------------------


async def _reap(args: argparse.Namespace, settings: Settings) -> int:
    from .sandbox.docker import DockerSandbox
    from .sandbox.reaper import reap_orphans

    async with DockerSandbox(url=settings.docker_url, reap_on_open=False) as sandbox:
        removed = await reap_orphans(sandbox, everything=args.all)
    print(f"removed {len(removed)} container(s)" + (": " + " ".join(c[:12] for c in removed) if removed else ""))
    return EXIT_OK


# -- demo --------------------------------------------------------------------------


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from .demo import CASES, demo_jobs

    async with RewardClient(settings) as client:
        results = await client.score(demo_jobs())
    print(f"{'case':<14} {'reward':>6} {'expected':>8} {'status':<14} {'flags':<12} what")
    mismatches = 0
    for case, r in zip(CASES, results, strict=True):
        flags = ",".join(sorted({f.code for f in r.flags})) or "-"
        reward = "None" if r.reward is None else f"{r.reward:.1f}"
        mark = "" if r.reward == case.expected_reward else "  <-- unexpected"
        mismatches += bool(mark)
        print(f"{case.name:<14} {reward:>6} {case.expected_reward:>8.1f} {r.status.value:<14} {flags:<12} "
              f"{case.what}{mark}")
    print(f"\nintegrity mode: {settings.integrity.value}. Gaming attempts earn 0 and say why "
          "(status, flags); see docs/integrity.md.")
    return EXIT_JOB_TROUBLE if mismatches else EXIT_OK


# -- entry -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="misalign-rewards", description="Rewards from running code and checking proofs in containers.",
        epilog="Exit codes: 0 ok; 1 infrastructure errors in jobs, a demo row off, or doctor found a "
               "problem; 2 usage or bad input (--strict); 3 no engine or a needed image missing. "
               "Every setting can also come from the environment (MISALIGN_*; docs/integrations.md).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-format", choices=["json", "console"], help="logs as JSON lines (default) or for people")
    common.add_argument("--log-file", help="write logs here (default: standard error)")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    common.add_argument("--integrity", choices=["enforce", "observe", "off"], help="integrity mode (default enforce)")
    common.add_argument("--max-concurrent", type=int, help="runs at once (default: sized from the engine host)")
    common.add_argument("--python-image", help="python-sandbox image name")
    common.add_argument("--lean-image", help="lean image name")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="score a JSONL file of jobs")
    run.add_argument("jobs", help="one job per line (JSON with 'kind': 'pytest' or 'lean')")
    run.add_argument("-o", "--output", required=True, help="results, one JSON line per valid input line, in order")
    run.add_argument("--strict", action="store_true", help="stop before running anything if any line is bad")
    run.add_argument("--reward-policy", choices=["binary", "pass_rate"])
    sub.add_parser("doctor", parents=[common], help="check the engine and images; show the concurrency and why")
    reap = sub.add_parser("reap", parents=[common], help="remove containers left by clients that are gone")
    reap.add_argument("--all", action="store_true", help="remove every labelled container not of this process")
    sub.add_parser("demo", parents=[common], help="run the bundled examples and print the reward table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"error: bad setting: {exc}", file=sys.stderr)
        return EXIT_USAGE
    log_stream: TextIO | None = None
    if settings.log_file:
        log_stream = open(settings.log_file, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    # The demo and doctor talk to people: only warnings go to the terminal unless asked.
    level = settings.log_level if ("MISALIGN_LOG_LEVEL" in os.environ or args.log_level or log_stream
                                   or args.command == "run") else "warning"
    configure_logging(settings.log_format, log_stream, level)
    command = {"run": _run, "doctor": _doctor, "reap": _reap, "demo": _demo}[args.command]
    try:
        return anyio.run(command, args, settings)
    except (EngineUnreachable, ImageNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    except InfrastructureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_JOB_TROUBLE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if log_stream is not None:
            log_stream.close()
        structlog.reset_defaults()


if __name__ == "__main__":
    sys.exit(main())
