"""Verdicts for Lean jobs: pure functions from what each step did to a status.

Structured signals come first: how each run ended (our timeout, the engine's OOM flag,
the output cap), the exit status ``lean`` reported, and the trusted check's facts about
the exact target name (exists, kind, axioms, type). Message texts are consulted last and
can only *lower* a verdict (a sorry warning the axioms do not show is still has_sorry).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..outcomes import LeanMessage, Status
from ..sandbox.base import RunResult
from .lean_messages import CheckReport, Frame, errors, is_sorry_warning
from .lean_source import ALLOWED_AXIOMS

STACK_OVERFLOW = "Stack overflow detected"


@dataclass(frozen=True)
class Verdict:
    status: Status
    detail: str


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_end(result: RunResult, step: str) -> Verdict | None:
    """How a run ended when it did not end on its own. Our timeout flag first (a kill
    for the deadline also exits 137), then the OOM flag, then the output cap."""
    if result.timed_out:
        return Verdict(Status.TIMEOUT, f"{step}: deadline reached")
    if result.oom_killed:
        return Verdict(Status.OOM, f"{step}: killed for exceeding the memory limit")
    if result.output_limit_exceeded:
        return Verdict(Status.OUTPUT_LIMIT, f"{step}: output limit exceeded")
    return None


def _signal_exit(code: int | None) -> bool:
    return code is not None and (code < 0 or code >= 128)


def judge_compile(result: RunResult, frame: Frame, messages: list[LeanMessage]) -> Verdict | None:
    """The verdict of the untrusted compile step when it ends the job; None when its
    olean should go on to the trusted check."""
    ended = run_end(result, "compile")
    if ended:
        return ended
    stderr = result.stderr.decode("utf-8", errors="replace")
    if STACK_OVERFLOW in stderr:
        return Verdict(Status.CRASHED, "compile: lean aborted on a stack overflow")
    if frame.exit_code is None:
        return Verdict(Status.CRASHED, "compile: ended without reporting lean's exit status"
                       f" (container exit {result.exit_code})")
    if _signal_exit(frame.exit_code):
        return Verdict(Status.CRASHED, f"compile: lean died with exit status {frame.exit_code}")
    if frame.exit_code != 0:
        errs = errors(messages)
        what = _short(errs[0].text) if errs else "no error message"
        return Verdict(Status.COMPILE_ERROR, f"compile: lean exited {frame.exit_code}: {what}")
    if frame.olean is None:
        why = "a damaged olean frame" if frame.damaged else "no olean"
        return Verdict(Status.CRASHED, f"compile: lean exited 0 but produced {why}")
    return None


def judge_reference(result: RunResult, frame: Frame, messages: list[LeanMessage]) -> Verdict | None:
    """The trusted reference compile: the grader's statement must elaborate. Its failure
    is never the submission's doing: invalid input for Lean errors, infrastructure
    otherwise."""
    ended = run_end(result, "reference")
    if ended:
        return Verdict(Status.INFRA_ERROR, ended.detail)
    if frame.exit_code is None or _signal_exit(frame.exit_code):
        return Verdict(Status.INFRA_ERROR, f"reference: lean ended abnormally (exit {frame.exit_code})")
    if frame.exit_code != 0:
        errs = errors(messages)
        what = _short(errs[0].text) if errs else "no error message"
        return Verdict(Status.INVALID_INPUT, f"the statement does not elaborate: {what}")
    if frame.olean is None:
        return Verdict(Status.INFRA_ERROR, "reference: no olean produced")
    return None


def judge_check(
    result: RunResult,
    report: CheckReport,
    check_messages: list[LeanMessage],
    *,
    theorem: str,
    statement_checked: bool,
    compile_messages: list[LeanMessage],
) -> Verdict:
    """The verdict once the submission compiled and the trusted check ran."""
    ended = run_end(result, "check")
    if ended:
        return ended
    if not report.done:
        if _signal_exit(result.exit_code):
            return Verdict(Status.CRASHED, f"check: died with exit status {result.exit_code}"
                           " while reading the submission")
        errs = errors(check_messages)
        what = _short(errs[0].text) if errs else f"exit {result.exit_code}"
        return Verdict(Status.INFRA_ERROR, f"check: the trusted check program failed: {what}")
    if report.errors:
        return Verdict(Status.CRASHED, f"check: {_short(report.errors[0])}")
    if report.duplicates or report.clashes:
        names = sorted(set(report.duplicates) | set(report.clashes))
        return Verdict(Status.COMPILE_ERROR,
                       "the submission's module redefines constants that already exist: "
                       + _short(", ".join(names)))
    if not report.target_found:
        return Verdict(Status.COMPILE_ERROR, f"the submission does not define `{theorem}`")
    if "sorryAx" in report.axioms:
        return Verdict(Status.HAS_SORRY, f"`{theorem}` depends on sorryAx")
    if report.unresolved:
        return Verdict(Status.DISALLOWED_AXIOMS,
                       f"`{theorem}` uses constants found nowhere, so its axioms are unknown: "
                       + _short(", ".join(sorted(report.unresolved))))
    extra = sorted(set(report.axioms) - ALLOWED_AXIOMS)
    if extra:
        return Verdict(Status.DISALLOWED_AXIOMS, f"`{theorem}` depends on {', '.join(extra)}")
    if report.kind != "theorem":
        return Verdict(Status.STATEMENT_MISMATCH,
                       f"`{theorem}` is declared as {report.kind or 'an unknown kind'}, not a theorem")
    if statement_checked and report.type_check != "match":
        how = {"mismatch": "its type differs from the grader's statement",
               "levels": "its universe parameters differ from the grader's statement"}
        return Verdict(Status.STATEMENT_MISMATCH,
                       f"`{theorem}`: " + how.get(report.type_check or "", "no type comparison was reported"))
    if any(is_sorry_warning(m) for m in compile_messages):
        return Verdict(Status.HAS_SORRY,
                       "a declaration in the file uses sorry (lean's warning), though the"
                       f" axioms of `{theorem}` do not show it")
    errs = errors(compile_messages)
    if errs:
        return Verdict(Status.COMPILE_ERROR, f"lean reported an error: {_short(errs[0].text)}")
    return Verdict(Status.PROVED, f"`{theorem}` proved using {', '.join(sorted(report.axioms)) or 'no axioms'}")


__all__ = ["STACK_OVERFLOW", "Verdict", "judge_check", "judge_compile", "judge_reference", "run_end"]
