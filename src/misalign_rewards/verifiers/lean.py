"""The Lean job kind: a proof checked by ``lean`` in the lean image, in up to three
one-shot containers (docs/lean-jobs.md):

0. **reference** (trusted, cached per statement): compile the grader's statement as
   ``theorem misalign_reference <statement> := sorry`` to ``Reference.olean``.
1. **compile** (untrusted): ``lean --json -o Submission.olean`` on the composed file or
   the submitted source; the olean comes back base64 on stdout, framed after lean exits.
2. **check** (trusted, fresh container): ``Check.lean`` reads both oleans as data (the
   submission is never imported), and reports, with a per-job nonce, whether the exact
   target exists, its kind, its axioms and whether its type equals the reference's.

The verdict (lean_verdict.py) trusts only step 0 and step 2 for the facts that earn a
reward; what step 1 prints is recorded, and can only lower a verdict.
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from typing import Any

import anyio

from ..errors import InvalidSpec
from ..integrity import IntegrityMode
from ..integrity.lean import check_reject_tokens, scan_lean_source
from ..jobs import LeanJob
from ..outcomes import IntegrityFlag, LeanMessage, Outcome, Status
from ..sandbox.base import Limits, RunResult, RunSpec
from ..sandbox.labels import LABEL_JOB, LABEL_KIND, LABEL_STEP
from .base import RunFn
from .lean_messages import claimed_axioms, parse_check_report, parse_frame, parse_lean_json
from .lean_source import (
    REFERENCE_MODULE,
    SUBMISSION_MODULE,
    Plan,
    check_source,
    compile_script,
    plan_job,
    reference_source,
)
from .lean_verdict import Verdict, judge_check, judge_compile, judge_reference

_MiB = 1024 * 1024
_GiB = 1024 * _MiB

#: The Lean profile (reasoning in docs/lean-jobs.md). Mathlib's import peaks near 6.5 GB
#: resident for v4.16-era Mathlib; 8 GiB leaves headroom for the proof itself. Lean
#: concurrency follows from it: the capacity arithmetic divides the memory budget by
#: ``memory_bytes``. Newer Mathlib needs 9 GiB or more: raise it with the toolchain.
LEAN_LIMITS = Limits(
    memory_bytes=8 * _GiB,
    cpus=1.0,
    pids=256,
    tmpfs_bytes=512 * _MiB,
    nofile=8192,
    fsize_bytes=256 * _MiB,
    network=False,
    output_bytes=32 * _MiB,
)

DEFAULT_IMAGE = "ghcr.io/your-org/misalign-fv/lean:latest"

#: The untrusted compile runs as its container's own uid (no ``user``: the sandbox gives
#: every container a uid no other running container has, sandbox/uids.py); the trusted
#: steps (the reference and the check) as the judge's uid, outside that range, so nothing
#: the submission leaves can act as, or be mistaken for, the checker (docs/lean-jobs.md).
#: Each step is its own container.
TRUSTED_USER = "10002:10002"
_STEP_USERS: dict[str, str | None] = {"compile": None, "reference": TRUSTED_USER, "check": TRUSTED_USER}


class LeanVerifier:
    """Turns a :class:`LeanJob` into runs and judges them. See the module docstring."""

    kind = "lean"

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        limits: Limits = LEAN_LIMITS,
        timeout_s: float = 300.0,
        integrity: IntegrityMode = IntegrityMode.ENFORCE,
        reject_tokens: frozenset[str] | None = None,
        *,
        check_timeout_s: float = 300.0,
        reference_cache_size: int = 256,
    ) -> None:
        if timeout_s <= 0 or check_timeout_s <= 0:
            raise InvalidSpec("timeouts must be positive")
        self.image = image
        self.limits = limits
        self.timeout_s = timeout_s
        self.check_timeout_s = check_timeout_s
        self.integrity = IntegrityMode(integrity)
        self.reject_tokens = None if reject_tokens is None else check_reject_tokens(reject_tokens)
        self._ref_cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._ref_cache_size = reference_cache_size
        self._ref_locks: dict[tuple[Any, ...], anyio.Lock] = {}

    # -- steps ---------------------------------------------------------------------

    def _spec(self, step: str, job: LeanJob, argv: list[str], files: dict[str, bytes],
              limits: Limits, timeout_s: float) -> RunSpec:
        return RunSpec(
            image=self.image,
            argv=argv,
            files=files,
            limits=limits,
            timeout_s=timeout_s,
            labels={LABEL_KIND: "lean", LABEL_STEP: step, LABEL_JOB: job.job_id},
            user=_STEP_USERS[step],
        )

    @staticmethod
    def _threads(limits: Limits) -> int:
        return max(1, math.ceil(limits.cpus))

    async def _reference(self, plan: Plan, job: LeanJob, run: RunFn, limits: Limits,
                         steps: dict[str, Any]) -> bytes | tuple[Verdict, list[LeanMessage]]:
        assert plan.statement is not None
        key = (self.image, tuple(plan.imports), plan.preamble, plan.statement.signature)
        lock = self._ref_locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                return await self._reference_locked(key, plan, job, run, limits, steps)
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._ref_locks.pop(key, None)

    async def _reference_locked(self, key: tuple[Any, ...], plan: Plan, job: LeanJob, run: RunFn,
                                limits: Limits, steps: dict[str, Any]
                                ) -> bytes | tuple[Verdict, list[LeanMessage]]:
        assert plan.statement is not None
        cached = self._ref_cache.get(key)
        if cached is not None:
            self._ref_cache.move_to_end(key)
            steps["reference"] = {"cached": True}
            return cached
        tag = "misalign-ref-" + secrets.token_hex(8)
        spec = self._spec(
            "reference", job,
            ["/bin/sh", "-c", compile_script(REFERENCE_MODULE, tag, self._threads(limits))],
            {f"{REFERENCE_MODULE}.lean": reference_source(plan.imports, plan.statement, plan.preamble).encode()},
            limits, self.check_timeout_s,
        )
        result = await run(spec)
        steps["reference"] = _step_record(result)
        messages, _ = parse_lean_json(result.stdout)
        frame = parse_frame(result.stdout, tag)
        verdict = judge_reference(result, frame, messages)
        if verdict is not None:
            return verdict, messages
        assert frame.olean is not None
        self._ref_cache[key] = frame.olean
        while len(self._ref_cache) > self._ref_cache_size:
            self._ref_cache.popitem(last=False)
        return frame.olean

    # -- the job -------------------------------------------------------------------

    async def verify(self, job: LeanJob, run: RunFn) -> Outcome:
        try:
            plan = plan_job(job)
        except InvalidSpec as exc:
            return Outcome(status=Status.INVALID_INPUT, detail=str(exc))
        flags: list[IntegrityFlag] = []
        if self.integrity is not IntegrityMode.OFF:
            flags = scan_lean_source(plan.scanned, self.reject_tokens, line_offset=plan.scanned_offset)
        extra: dict[str, Any] = {
            "form": plan.form,
            "theorem": plan.theorem,
            "statement_checked": plan.statement is not None,
            "source": plan.source,
        }
        steps: dict[str, Any] = {}
        extra["steps"] = steps

        def outcome(verdict: Verdict, **kw: Any) -> Outcome:
            return Outcome(status=verdict.status, detail=verdict.detail, flags=flags, extra=extra, **kw)

        if self.integrity is IntegrityMode.ENFORCE and any(f.rejects for f in flags):
            why = "; ".join(f"{f.code}: {f.detail}" for f in flags if f.rejects)
            return outcome(Verdict(Status.REJECTED, f"pre-filter rejected the source: {why}"))

        limits = self.limits.merged(job.limits)
        timeout_s = job.timeout_s or self.timeout_s

        reference: bytes | None = None
        if plan.statement is not None:
            got = await self._reference(plan, job, run, limits, steps)
            if isinstance(got, tuple):
                verdict, ref_messages = got
                extra["reference_messages"] = [m.model_dump() for m in ref_messages]
                return outcome(verdict)
            reference = got

        # Step 1: the untrusted compile.
        tag = "misalign-" + secrets.token_hex(8)
        compile_result = await run(self._spec(
            "compile", job,
            ["/bin/sh", "-c", compile_script(SUBMISSION_MODULE, tag, self._threads(limits))],
            # a lone surrogate stays the invalid UTF-8 it is: lean refuses the file
            {f"{SUBMISSION_MODULE}.lean": plan.source.encode("utf-8", "surrogatepass")},
            limits, timeout_s,
        ))
        steps["compile"] = _step_record(compile_result)
        messages, stray = parse_lean_json(compile_result.stdout)
        frame = parse_frame(compile_result.stdout, tag)
        steps["compile"]["lean_exit"] = frame.exit_code
        stopped = judge_compile(compile_result, frame, messages)
        if stopped is not None:
            return outcome(stopped, messages=messages)
        assert frame.olean is not None

        # Step 2: the trusted check, in a fresh container.
        nonce = secrets.token_hex(16)
        files = {
            f"{SUBMISSION_MODULE}.olean": frame.olean,
            "Check.lean": check_source(plan.check_imports, plan.theorem, nonce,
                                       with_reference=reference is not None).encode(),
        }
        if reference is not None:
            files[f"{REFERENCE_MODULE}.olean"] = reference
        check_result = await run(self._spec(
            "check", job,
            ["lean", "--json", "-j", str(self._threads(limits)), "/tmp/work/Check.lean"],
            files, limits, self.check_timeout_s,
        ))
        steps["check"] = _step_record(check_result)
        check_messages, check_stray = parse_lean_json(check_result.stdout)
        report = parse_check_report(check_messages, check_stray, nonce)
        verdict = judge_check(
            check_result, report, check_messages,
            theorem=plan.theorem,
            statement_checked=reference is not None,
            compile_messages=messages,
        )
        extra["declaration_kind"] = report.kind
        extra["type_check"] = report.type_check
        if report.unresolved:
            extra["unresolved_constants"] = sorted(report.unresolved)
        axioms = sorted(report.axioms) if report.done and report.target_found else None
        if axioms is not None and self.integrity is not IntegrityMode.OFF:
            claimed = claimed_axioms(messages, plan.theorem, stray)
            if claimed is not None and sorted(claimed) != axioms:
                flags.append(IntegrityFlag(
                    code="L7",
                    detector="lean_fake_axioms_report",
                    detail=(f"the submission printed axioms {claimed} for `{plan.theorem}`;"
                            f" the trusted check found {axioms}"),
                    rejects=True,
                ))
        return outcome(verdict, messages=messages, axioms=axioms)


def _step_record(result: RunResult) -> dict[str, Any]:
    return {
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "oom_killed": result.oom_killed,
        "output_limit_exceeded": result.output_limit_exceeded,
        "seconds": round(result.durations.total, 3),
    }


__all__ = ["DEFAULT_IMAGE", "LEAN_LIMITS", "TRUSTED_USER", "LeanVerifier"]
