"""The ``misalign-rewards`` command.

    misalign-rewards run JOBS.jsonl -o RESULTS.jsonl   score a file of jobs
    misalign-rewards doctor                            is everything in place, and what concurrency
    misalign-rewards reap [--all]                      remove containers left by dead clients
    misalign-rewards demo                              bundled honest, wrong and gaming examples
    misalign-rewards serve [--host H] [--port P]       score over HTTP (one client for a host's processes)
    misalign-rewards build [--only IMAGE] [--dry-run]  build the sandbox images from the recipes it ships

Exit codes:
    0    done (run: every valid job got a result; demo: every row earned what it should)
    1    run: some jobs ended in infrastructure or internal errors; demo: a row earned
         something else; doctor: something needed is missing
    2    usage errors, an unreadable input or unwritable output, an empty input, bad
         lines under --strict, or serve asked to listen beyond loopback without a token
    3    no engine answers, or a needed image is missing (run: nothing was run, and the
         output file is as it was)
    4    run: writing the output failed mid-run (a full disk, say): the results written
         before it are kept; --resume goes on
    130  run: stopped by SIGINT (finished results are kept; --resume goes on)
    143  run: stopped by SIGTERM (the same)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

import anyio
import anyio.to_thread
import structlog

from .client import RewardClient
from .demo import CASES, demo_jobs
from .errors import EngineUnreachable, ImageNotFound, InfrastructureError
from .jobs import InvalidJob, parse_job
from .logs import configure_logging
from .outcomes import JobResult, Status
from .sandbox.base import RunSpec
from .sandbox.docker import DockerSandbox
from .sandbox.labels import LABEL_RECIPE
from .sandbox.reaper import reap_orphans
from .settings import Settings

EXIT_OK, EXIT_JOB_TROUBLE, EXIT_USAGE, EXIT_ENGINE, EXIT_OUTPUT = 0, 1, 2, 3, 4


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("integrity", "max_concurrent", "reward_policy", "log_format", "log_file", "log_level",
                 "python_image", "lean_image", "cpp_image", "isolation"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if "MISALIGN_ENGINE_WAIT_S" not in os.environ:
        overrides["engine_wait_s"] = 0.0  # at a terminal, say at once that no engine answers
    return Settings(**overrides)


# -- run ---------------------------------------------------------------------------


#: A line of a jobs file longer than this is refused (it could only be a mistake).
MAX_LINE_BYTES = 64 << 20


def _line_id(lineno: int, raw: bytes) -> str:
    """The job id of a line that names none: stable across runs of the same file, so
    ``--resume`` can tell which lines are done."""
    return f"line{lineno}-{hashlib.sha256(raw).hexdigest()[:10]}"


def read_jobs(path: Path) -> tuple[list[tuple[int, Any]], list[str]]:
    """(line number, validated job) for each non-blank line, and a message per bad line:
    invalid UTF-8, JSON that does not parse (numbers past Python's digit limit, nesting
    too deep included), or a job that does not validate. Never raises for content."""
    items: list[tuple[int, Any]] = []
    problems: list[str] = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if len(raw) > MAX_LINE_BYTES:
                problems.append(f"{path}:{lineno}: line longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(f"{path}:{lineno}: not UTF-8 (byte {exc.start})")
                continue
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{lineno}: not JSON ({exc.msg} at column {exc.colno})")
                continue
            except (ValueError, RecursionError) as exc:
                problems.append(f"{path}:{lineno}: not JSON the reader can hold ({type(exc).__name__}: "
                                f"{str(exc)[:120]})")
                continue
            if isinstance(data, dict) and "job_id" not in data:
                data["job_id"] = _line_id(lineno, raw)
            try:
                parsed = parse_job(data, lineno)
            except Exception as exc:  # noqa: BLE001 - still just one bad line
                problems.append(f"{path}:{lineno}: {type(exc).__name__}: {exc}")
                continue
            if isinstance(parsed, InvalidJob):
                problems.append(f"{path}:{lineno}: {parsed.error}")
                continue
            items.append((lineno, parsed))
    return items, problems


def finished_ids(path: Path) -> set[str]:
    """Job ids with a result in an earlier output (infrastructure errors excepted: those
    are worth another try)."""
    done: set[str] = set()
    if not path.exists():
        return done
    with path.open("rb") as f:
        for raw in f:
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # a line cut short when the run was stopped
            if isinstance(record, dict) and isinstance(record.get("job_id"), str) \
                    and record.get("status") not in (Status.INFRA_ERROR.value, Status.INTERNAL_ERROR.value):
                done.add(record["job_id"])
    return done


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


def _ends_mid_line(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def _sort_by_line(path: Path) -> None:
    """Rewrite a finished output in input order (atomically)."""
    records = []
    with path.open("rb") as f:
        for raw in f:
            try:
                records.append(json.loads(raw))
            except ValueError:
                continue
    records.sort(key=lambda r: (r.get("line", 0), r.get("attempts", 0)))
    seen: dict[Any, dict[str, Any]] = {}
    for r in records:  # a line run again after an infrastructure error: the newest result
        seen[r.get("line")] = r
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for r in sorted(seen.values(), key=lambda r: r.get("line", 0)):
            out.write(json.dumps(r) + "\n")
    os.replace(tmp, path)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.jobs)
    try:
        items, problems = await anyio.to_thread.run_sync(read_jobs, path)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    for p in problems:
        print(("error: " if args.strict else "skipped: ") + p, file=sys.stderr)
    if problems and args.strict:
        print(f"error: {len(problems)} bad line(s); nothing was run (--strict)", file=sys.stderr)
        return EXIT_USAGE
    if not items and not problems:
        print(f"error: {path} has no jobs (it is empty or blank)", file=sys.stderr)
        return EXIT_USAGE
    out_path = Path(args.output)
    done = finished_ids(out_path) if args.resume else set()
    todo = [(lineno, job) for lineno, job in items if job.job_id not in done]
    try:  # checked before anything runs, without emptying it: a result is never computed only to be lost
        existed = out_path.exists()
        with out_path.open("a", encoding="utf-8"):
            pass
        if not existed:
            out_path.unlink()
    except OSError as exc:
        print(f"error: cannot write {out_path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    client = RewardClient(settings)
    try:
        await client.open()  # no engine: said now, and the output is untouched
    except (EngineUnreachable, ImageNotFound) as exc:
        await client.aclose()
        print(f"error: {exc}", file=sys.stderr)
        print(f"nothing was run; {out_path} is as it was", file=sys.stderr)
        return EXIT_ENGINE
    if done:
        print(f"resume: {len(items) - len(todo)} of {len(items)} job(s) already have a result in "
              f"{out_path}", file=sys.stderr)
    progress = Progress(len(todo), sys.stderr)
    lines = [lineno for lineno, _ in todo]
    results: list[JobResult] = []
    # Opened (and, without --resume, emptied) when the first result is in.
    sink: list[TextIO] = []
    write_error: list[OSError] = []

    def write(result: JobResult) -> None:
        if write_error:
            return
        record = {"line": lines[result.index], **result.model_dump(mode="json")}
        try:
            if not sink:
                sink.append(out_path.open("a" if args.resume else "w", encoding="utf-8"))
                if args.resume and _ends_mid_line(out_path):
                    sink[0].write("\n")  # a line cut short (a full disk, a kill) stays apart
            sink[0].write(json.dumps(record) + "\n")
            sink[0].flush()  # kept even if the run is stopped the next moment
        except OSError as exc:
            write_error.append(exc)
            scope.cancel()  # nothing more can be kept: stop the runs now
            return
        results.append(result)
        progress.update(result)

    stopped: list[str] = []
    try:
        async with client, anyio.create_task_group() as tg:
            scope = tg.cancel_scope

            async def on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        stopped.append(signal.Signals(signum).name)
                        scope.cancel()
                        return

            async def score() -> None:
                await client.score([job for _, job in todo], on_result=write)
                scope.cancel()

            tg.start_soon(on_signal)
            tg.start_soon(score)
    finally:
        for f in sink:
            try:
                f.close()
            except OSError as exc:  # the last flush failed: the same trouble
                write_error.append(exc)
    if progress.tty and (stopped or write_error):
        sys.stderr.write("\n")
    if write_error:
        first = write_error[0]
        print(f"error: writing {out_path} failed: {first.strerror or first}; {len(results)} result(s) were "
              f"written before it; free the space and run again with --resume to finish", file=sys.stderr)
        return EXIT_OUTPUT
    if stopped:
        print(f"stopped by {stopped[0]}: {len(results)} of {len(todo)} result(s) written to {out_path}; "
              f"run again with --resume to finish", file=sys.stderr)
        return 130 if stopped[0] == "SIGINT" else 143
    if out_path.is_file():  # a device or a pipe keeps the order the results came in
        try:
            await anyio.to_thread.run_sync(_sort_by_line, out_path)
        except OSError as exc:
            print(f"error: the results are in {out_path}, but sorting them into input order failed: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return EXIT_OUTPUT
    print(summary_table(results), file=sys.stderr)
    print(f"wrote {len(results)} results to {out_path}"
          + (f"; skipped {len(problems)} bad line(s)" if problems else ""), file=sys.stderr)
    return EXIT_JOB_TROUBLE if any(r.status.is_infrastructure for r in results) else EXIT_OK


# -- doctor ------------------------------------------------------------------------


async def _doctor(args: argparse.Namespace, settings: Settings) -> int:
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
                         if label == "lean" else " (build it: misalign-rewards build --only python-sandbox)"))
                ok &= label == "lean"
            plan = sandbox.budget.plan(limits)
            print(f"  concurrency for {label} runs: {plan.limit} ({plan.reason}; cpu {plan.by_cpu},"
                  f" memory {plan.by_memory}, pids {plan.by_pids})")
        print(f"integrity mode: {settings.integrity.value}; reward policy: {settings.reward_policy}")
    return EXIT_OK if ok else EXIT_JOB_TROUBLE


# -- reap --------------------------------------------------------------------------


async def _reap(args: argparse.Namespace, settings: Settings) -> int:
    async with DockerSandbox(url=settings.docker_url, reap_on_open=False) as sandbox:
        removed = await reap_orphans(sandbox, everything=args.all)
    print(f"removed {len(removed)} container(s)" + (": " + " ".join(c[:12] for c in removed) if removed else ""))
    return EXIT_OK


# -- demo --------------------------------------------------------------------------


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
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
        epilog="Exit codes: 0 ok; 1 infrastructure or internal errors in jobs, a demo row off, or doctor "
               "found a problem; 2 usage, unreadable input, unwritable output, empty input, bad input "
               "(--strict), or serve beyond loopback without a token; 3 no engine or a needed image missing (run: nothing run, output untouched); 4 run: "
               "writing the output failed mid-run (results so far kept; --resume); 130/143 run stopped by SIGINT/SIGTERM "
               "(results so far kept; --resume). Every setting can also come from the environment "
               "(MISALIGN_*; docs/integrations.md).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-format", choices=["json", "console"], help="logs as JSON lines (default) or for people")
    common.add_argument("--log-file", help="write logs here (default: standard error; for run on a "
                                           "terminal, OUTPUT.log, so the progress bar stays readable)")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    common.add_argument("--integrity", choices=["enforce", "observe", "off"], help="integrity mode (default enforce)")
    common.add_argument("--max-concurrent", type=int, help="runs at once (default: sized from the engine host)")
    common.add_argument("--python-image", help="python-sandbox image name")
    common.add_argument("--lean-image", help="lean image name")
    common.add_argument("--cpp-image", help="cpp-sandbox image name (io jobs in C++)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="score a JSONL file of jobs")
    run.add_argument("jobs", help="one job per line (JSON with 'kind': 'pytest', 'io' or 'lean')")
    run.add_argument("-o", "--output", required=True,
                     help="results, one JSON line per valid input line: written (and flushed) as each "
                          "job finishes, then sorted into input order when the run completes")
    run.add_argument("--resume", action="store_true",
                     help="keep OUTPUT and run only the jobs without a result in it (infrastructure "
                          "errors are run again); lines without a job_id are known by line and content")
    run.add_argument("--strict", action="store_true", help="stop before running anything if any line is bad")
    run.add_argument("--reward-policy", choices=["binary", "pass_rate"])
    run.add_argument("--isolation", choices=["fresh", "pooled"],
                     help="pytest jobs in a fresh container each (default) or in warm containers "
                          "reused between jobs; a job's own 'isolation' wins")
    sub.add_parser("doctor", parents=[common], help="check the engine and images; show the concurrency and why")
    reap = sub.add_parser("reap", parents=[common], help="remove containers left by clients that are gone")
    reap.add_argument("--all", action="store_true", help="remove every labelled container not of this process")
    sub.add_parser("demo", parents=[common], help="run the bundled examples and print the reward table")
    serve = sub.add_parser("serve", parents=[common],
                           help="score batches over HTTP: /v1/score, OpenRLHF's /openrlhf, /health, /ready")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    serve.add_argument("--port", type=int, default=8000, help="port [8000]")
    serve.add_argument("--graceful-s", type=float, default=30.0,
                       help="on SIGTERM/SIGINT, seconds in-flight requests may still take [30]")
    serve.add_argument("--isolation", choices=["fresh", "pooled"], help="default isolation of pytest jobs")
    serve.add_argument("--token", default=os.environ.get("MISALIGN_SERVE_TOKEN") or None,
                       help="require this token on the scoring routes ('Authorization: Bearer TOKEN', or "
                            "Basic auth with it as the password); default $MISALIGN_SERVE_TOKEN. Needed "
                            "to listen on anything but loopback")
    serve.add_argument("--max-batch", type=int, default=4096, help="most items in one request [4096]")
    serve.add_argument("--max-body-bytes", type=int, default=64 << 20, help="largest request body [64 MiB]")
    serve.add_argument("--max-bytes-in-flight", type=int, default=128 << 20,
                       help="request bodies held at once, all requests together; past it 503 [128 MiB]")
    serve.add_argument("--max-requests", type=int, default=64,
                       help="scoring requests at once; past it 503 with Retry-After [64]")
    serve.add_argument("--body-timeout-s", type=float, default=30.0,
                       help="seconds a request body may take to arrive; past it 408 [30]")
    build = sub.add_parser("build", parents=[common], help="build the sandbox images from the recipes it ships")
    build.add_argument("--only", action="append", choices=_BUILDABLE, help="one image (repeatable) [both]")
    build.add_argument("--base", default="python:3.11-slim", help="base of python-sandbox [python:3.11-slim]")
    build.add_argument("--dry-run", action="store_true", help="print the docker commands; build nothing")
    return parser


#: The images ``build`` makes, in order (cpp-sandbox is built on python-sandbox).
_BUILDABLE = ("python-sandbox", "cpp-sandbox")


def recipe_dir() -> Path:
    """The Dockerfiles and pinned requirements shipped with the package (package data,
    the same files as containers/ in a checkout)."""
    return Path(str(files("misalign_rewards") / "images"))


def _build(args: argparse.Namespace, settings: Settings) -> int:
    """``misalign-rewards build``: the sandbox images with the docker CLI, from the recipes
    the package ships, tagged as the settings name them and labelled with the recipe hash
    scripts/setup.sh compares (a checkout's containers/build_and_push.sh does more: pushes,
    offline bases, the lean image)."""
    here = recipe_dir()
    recipe = hashlib.sha256((here / "Dockerfile.python-sandbox").read_bytes()
                            + (here / "requirements-sandbox.txt").read_bytes()).hexdigest()[:16]
    wanted = args.only or list(_BUILDABLE)
    tags = {"python-sandbox": settings.python_image_ref, "cpp-sandbox": settings.cpp_image_ref}
    with tempfile.TemporaryDirectory(prefix="misalign-build-") as ctx:
        for name in ("Dockerfile.python-sandbox", "Dockerfile.cpp-sandbox", "requirements-sandbox.txt"):
            shutil.copyfile(here / name, Path(ctx) / name)
        (Path(ctx) / "wheels").mkdir()  # python-sandbox installs from PyPI here (OFFLINE_WHEELS=0)
        for name in _BUILDABLE:
            if name not in wanted:
                continue
            argv = ["docker", "build", "-f", f"{ctx}/Dockerfile.{name}", "-t", tags[name],
                    "--label", f"{LABEL_RECIPE}={recipe}"]
            if name == "python-sandbox":
                argv += ["--build-arg", f"BASE_IMAGE={args.base}"]
            else:
                argv += ["--build-arg", f"BASE_IMAGE={tags['python-sandbox']}"]
            argv.append(ctx)
            print(("would run: " if args.dry_run else "running: ") + " ".join(argv), flush=True)
            if not args.dry_run and subprocess.run(argv).returncode != 0:
                print(f"error: building {name} failed", file=sys.stderr)
                return EXIT_JOB_TROUBLE
    print(f"recipe: {recipe}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "build":
        return _build(args, _settings(args))
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"error: bad setting: {exc}", file=sys.stderr)
        return EXIT_USAGE
    log_stream: TextIO | None = None
    log_file = settings.log_file
    if log_file is None and args.command == "run" and sys.stderr.isatty():
        # The progress bar owns the terminal; the JSON logs go beside the results.
        log_file = f"{args.output}.log"
        print(f"logs: {log_file}", file=sys.stderr)
    if log_file:
        try:
            log_stream = open(log_file, "a", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            print(f"error: cannot write the log file {log_file}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    # The demo and doctor talk to people: only warnings go to the terminal unless asked.
    level = settings.log_level if ("MISALIGN_LOG_LEVEL" in os.environ or args.log_level or log_stream
                                   or args.command == "run") else "warning"
    configure_logging(settings.log_format, log_stream, level)
    if args.command == "serve":
        try:
            # optional dependency: the server's extra (starlette, uvicorn), imported by .server when it serves
            from .server import Bounds, ServeRefused, check_exposure
            from .server import serve as serve_http
        except ImportError as exc:
            print(f"error: the server needs its extra: pip install 'misalign-rewards[server]' ({exc})", file=sys.stderr)
            return EXIT_USAGE
        try:
            check_exposure(args.host, args.token)
        except ServeRefused as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        bounds = Bounds(max_body_bytes=args.max_body_bytes, max_batch=args.max_batch,
                        max_bytes_in_flight=args.max_bytes_in_flight, max_requests=args.max_requests,
                        body_timeout_s=args.body_timeout_s)
        serve_http(settings.model_copy(update={"engine_wait_s": 30.0}) if "MISALIGN_ENGINE_WAIT_S" not in os.environ
                   else settings, host=args.host, port=args.port, graceful_s=args.graceful_s,
                   token=args.token, bounds=bounds)
        return EXIT_OK
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
