"""Pytest jobs: untrusted solution code against a trusted test suite.

``PytestVerifier.verify(job, run)``::

    static scan (unless integrity is off) --enforce + rejecting flag--> REJECTED, no run
    -> one RunSpec: the trusted harness, the tests, the solution files (only by their
       listed names), a fresh nonce on stdin
    -> RunResult: timed out / OOM / output limit -> that status
    -> the framed report (only lines carrying this run's nonce) -> missing or malformed: CRASHED
    -> scoring: every expected test id passed (and nothing failed to collect) -> PASSED,
       else FAILED; the harness's own deadline -> TIMEOUT

The exit code and anything else on stdout are never read for the verdict. The harness and
why it is shipped per run are described in :mod:`misalign_rewards.harness` and
docs/pytest-jobs.md.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import harness
from ..integrity import IntegrityMode
from ..integrity.python import scan_python
from ..jobs import PytestJob
from ..outcomes import IntegrityFlag, Outcome, Status, TestCase, TestOutcome
from ..sandbox.base import Limits, RunResult, RunSpec
from .base import RunFn

#: Limits of the Python profile (the defaults of :class:`Limits`).
PYTHON_LIMITS = Limits()
_MAX_REPORT_TESTS = 100_000


class HarnessReport(BaseModel):
    """The harness's account of a run, as framed on stdout (see harness/main.py)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    mode: str
    collected: list[str] | None
    tests: list[TestCase] = Field(max_length=_MAX_REPORT_TESTS)
    pytest_exit: int | None = None
    deadline_hit: bool = False
    nondumpable: bool = False
    stray_processes: int = 0
    tests_tampered: list[str] = Field(default_factory=list)
    malformed_records: int = 0
    records_overflow: bool = False

    @property
    def collect_errors(self) -> list[TestCase]:
        collected = set(self.collected or ())
        return [t for t in self.tests if t.outcome is TestOutcome.ERROR and t.id not in collected]


class ReportError(ValueError):
    """No report, or one that is not framed or well-formed."""


def parse_report(stdout: bytes, nonce: str) -> HarnessReport:
    """The one report on ``stdout`` framed by ``nonce``: a line ``<nonce> BEGIN``, one
    line of JSON, a line ``<nonce> END``. Anything else on stdout is ignored; a second
    BEGIN, a missing END, or a body that is not a valid report raises :class:`ReportError`."""
    if not nonce or len(nonce) < 16:
        raise ValueError("a nonce of at least 16 characters is required")
    begin, end = f"{nonce} BEGIN".encode(), f"{nonce} END".encode()
    lines = stdout.split(b"\n")
    starts = [i for i, line in enumerate(lines) if line.rstrip(b"\r") == begin]
    if not starts:
        raise ReportError("no report framed with this run's nonce")
    if len(starts) > 1:
        raise ReportError("more than one report framed with this run's nonce")
    i = starts[0]
    if i + 2 >= len(lines) or lines[i + 2].rstrip(b"\r") != end:
        raise ReportError("the report is not closed by its END line")
    if sum(1 for line in lines if line.rstrip(b"\r") == end) != 1:
        raise ReportError("more than one END line")
    try:
        data = json.loads(lines[i + 1])
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"the report is not JSON: {exc}") from None
    try:
        return HarnessReport.model_validate(data)
    except ValidationError as exc:
        raise ReportError(f"the report is malformed: {exc.error_count()} problem(s), "
                          f"first: {exc.errors()[0]['msg']}") from None


def report_flags(report: HarnessReport) -> list[IntegrityFlag]:
    """Flags the trusted side of the harness observed while the solution ran."""
    flags = []
    if report.tests_tampered:
        flags.append(IntegrityFlag(
            code="P15", detector="harness.tests_tampered",
            detail=f"test files changed or removed during the run: {report.tests_tampered[:5]}"))
    if report.malformed_records or report.records_overflow:
        flags.append(IntegrityFlag(
            code="P7", detector="harness.record_stream",
            detail="the pytest process wrote records the recorder does not write"))
    if report.collected is not None:
        collected = set(report.collected)
        unknown = [t.id for t in report.tests
                   if t.id not in collected and t.outcome is not TestOutcome.ERROR]
        if unknown:
            flags.append(IntegrityFlag(
                code="P7", detector="harness.uncollected_results",
                detail=f"results for test ids that were never collected: {unknown[:5]}"))
    if report.stray_processes:
        flags.append(IntegrityFlag(
            code="P19", detector="harness.stray_processes", rejects=False,
            detail=f"{report.stray_processes} process(es) of the solution outlived their test "
                   "and were killed"))
    return flags


def score(report: HarnessReport, expected_tests: list[str] | None) -> tuple[Status, str, list[str]]:
    """Status, detail and the expected ids for a well-formed report.

    A test counts only if it is expected and passed. Expected: ``expected_tests`` when
    given, else what was collected. Nothing expected, a collection error, or any expected
    id not passed means FAILED; the harness's own deadline means TIMEOUT."""
    expected = list(expected_tests) if expected_tests is not None else list(report.collected or [])
    if report.deadline_hit:
        return Status.TIMEOUT, "the run did not finish before the harness's deadline", expected
    if not expected:
        return Status.FAILED, "no tests collected", expected
    passed = {t.id for t in report.tests if t.outcome is TestOutcome.PASSED}
    missing = [t for t in expected if t not in passed]
    errors = report.collect_errors
    if errors:
        return Status.FAILED, f"{len(errors)} collection error(s): {errors[0].message[:200]}", expected
    if missing:
        by_id = {t.id: t for t in report.tests}
        first = by_id.get(missing[0])
        why = f"{first.outcome.value}: {first.message[:200]}" if first else "no result"
        return Status.FAILED, f"{len(missing)}/{len(expected)} expected test(s) not passed; " \
                              f"first {missing[0]} ({why})", expected
    return Status.PASSED, f"{len(expected)}/{len(expected)} expected test(s) passed", expected


def _discount_tampered(report: HarnessReport) -> HarnessReport:
    """Results from a test file that changed during the run are not results of the
    trusted suite: each becomes an error."""
    files = set(report.tests_tampered)
    tests = [
        t.model_copy(update={"outcome": TestOutcome.ERROR,
                             "message": "the test file changed during the run; result discarded"})
        if t.id.split("::", 1)[0] in files else t
        for t in report.tests
    ]
    return report.model_copy(update={"tests": tests})


class PytestVerifier:
    """Judges :class:`PytestJob` runs in the python-sandbox image."""

    kind = "pytest"

    def __init__(
        self,
        image: str,
        *,
        limits: Limits = PYTHON_LIMITS,
        timeout_s: float = 60.0,
        integrity: IntegrityMode = IntegrityMode.ENFORCE,
        call_timeout_s: float = 10.0,
        python: str = "python",
        workdir: str = "/tmp/work",
    ) -> None:
        if timeout_s <= 0 or call_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.image = image
        self.limits = limits
        self.timeout_s = timeout_s
        self.integrity = IntegrityMode(integrity)
        self.call_timeout_s = call_timeout_s
        self.python = python
        self.workdir = workdir.rstrip("/")

    # -- the three steps ----------------------------------------------------------------
    def scan(self, job: PytestJob) -> list[IntegrityFlag]:
        if self.integrity is IntegrityMode.OFF:
            return []
        return scan_python(job.solution_files)

    def prepare(self, job: PytestJob, nonce: str) -> RunSpec:
        """One RunSpec: harness under ``harness/``, tests under ``tests/``, the solution's
        listed files (and nothing else) under ``solution/``; the nonce only on stdin."""
        timeout = job.timeout_s or self.timeout_s
        files: dict[str, bytes] = {f"harness/{k}": v for k, v in harness.bundle().items()}
        files.update({f"tests/{k}": v.encode() for k, v in job.test_files.items()})
        files.update({f"solution/{k}": v.encode() for k, v in job.solution_files.items()})
        wd = self.workdir
        config: dict[str, Any] = {
            "mode": job.mode,
            "tests_dir": f"{wd}/tests",
            "solution_dir": f"{wd}/solution",
            "ini_path": f"{wd}/harness/pytest.ini",
            "test_files": sorted(job.test_files),
            "solution_modules": sorted(k[:-3] for k in job.solution_files),
            "call_timeout_s": min(self.call_timeout_s, timeout),
            # The harness's own deadline leaves time to kill, sweep and report.
            "run_timeout_s": max(1.0, timeout - min(5.0, timeout * 0.25)),
            "contained": True,
            "python": None,
        }
        return RunSpec(
            image=self.image,
            argv=[self.python, "-I", "-B", "-X", f"pycache_prefix={harness.PYCACHE_PREFIX}",
                  "-c", harness.launch_program(f"{wd}/harness")],
            files=files,
            stdin=json.dumps({"nonce": nonce, "config": config}).encode(),
            env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            limits=self.limits.merged(job.limits),
            timeout_s=timeout,
            labels={"io.misalign-rewards.job": job.job_id[:63], "io.misalign-rewards.kind": "pytest"},
            workdir=wd,
        )

    def judge(self, job: PytestJob, result: RunResult, nonce: str,
              flags: list[IntegrityFlag]) -> Outcome:
        advisory = job.mode == "inprocess"
        base: dict[str, Any] = {"advisory": advisory, "flags": list(flags),
                                "expected_tests": list(job.expected_tests or [])}
        extra: dict[str, Any] = {"mode": job.mode, "exit_code": result.exit_code}
        for status, hit, what in (
            (Status.TIMEOUT, result.timed_out, "the run exceeded its deadline and was killed"),
            (Status.OOM, result.oom_killed, "the run exceeded its memory limit"),
            (Status.OUTPUT_LIMIT, result.output_limit_exceeded, "the run exceeded its output limit"),
        ):
            if hit:
                return Outcome(status=status, detail=what, extra=extra, **base)
        try:
            report = parse_report(result.stdout, nonce)
        except ReportError as exc:
            tail = result.stderr[-1500:].decode("utf-8", "replace")
            return Outcome(status=Status.CRASHED, detail=f"no valid harness report ({exc})",
                           extra={**extra, "stderr_tail": tail}, **base)
        if self.integrity is not IntegrityMode.OFF:
            base["flags"] = list(flags) + report_flags(report)
        if report.tests_tampered:
            report = _discount_tampered(report)
        status, detail, expected = score(report, job.expected_tests)
        extra["harness"] = report.model_dump(exclude={"tests", "collected"})
        extra["collected"] = report.collected
        return Outcome(status=status, detail=detail, tests=report.tests,
                       **{**base, "expected_tests": expected}, extra=extra)

    async def verify(self, job: PytestJob, run: RunFn) -> Outcome:
        flags = self.scan(job)
        rejecting = [f for f in flags if f.rejects]
        if self.integrity is IntegrityMode.ENFORCE and rejecting:
            codes = sorted({f.code for f in rejecting})
            return Outcome(status=Status.REJECTED, flags=flags, advisory=job.mode == "inprocess",
                           expected_tests=list(job.expected_tests or []),
                           detail=f"rejected before running: {', '.join(codes)}",
                           extra={"mode": job.mode})
        nonce = secrets.token_hex(16)
        result = await run(self.prepare(job, nonce))
        return self.judge(job, result, nonce, flags)


__all__ = ["PYTHON_LIMITS", "HarnessReport", "PytestVerifier", "ReportError", "parse_report",
           "report_flags", "score"]
