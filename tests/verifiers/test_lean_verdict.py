"""Verdicts of Lean jobs, from step results written by hand in the documented formats.

The flow tests drive ``LeanVerifier.verify`` with a scripted ``run`` function that hands
back, per step, the output a real step prints in the documented format. They check the
verifier's decisions (what runs, what is believed), not Lean; test_lean_e2e.py runs real
Lean.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import LeanJob
from misalign_rewards.outcomes import LeanMessage, Status
from misalign_rewards.rewards import apply_policy, binary
from misalign_rewards.sandbox.base import RunResult, RunSpec
from misalign_rewards.sandbox.labels import LABEL_STEP
from misalign_rewards.verifiers.lean import LEAN_LIMITS, LeanVerifier
from misalign_rewards.verifiers.lean_messages import CheckReport, Frame
from misalign_rewards.verifiers.lean_verdict import judge_check, judge_compile, judge_reference

OK = RunResult(exit_code=0)


def report(**kw: object) -> CheckReport:
    base: dict[str, object] = dict(done=True, target_found=True, kind="theorem", type_check="match",
                                   axioms=["propext"])
    base.update(kw)
    return CheckReport(**base)  # type: ignore[arg-type]


def check(rep: CheckReport, result: RunResult = OK, compile_messages: list[LeanMessage] | None = None,
          statement_checked: bool = True) -> Status:
    return judge_check(result, rep, [], theorem="t", statement_checked=statement_checked,
                       compile_messages=compile_messages or []).status


# -- the compile step --------------------------------------------------------------

@pytest.mark.parametrize(
    ("result", "frame", "status"),
    [
        (RunResult(exit_code=None, timed_out=True), Frame(None, None), Status.TIMEOUT),
        (RunResult(exit_code=137, oom_killed=True), Frame(137, None), Status.OOM),
        # OOMKilled with exit 0 (a child was killed): still oom.
        (RunResult(exit_code=0, oom_killed=True), Frame(0, b"x"), Status.OOM),
        # Our own deadline kill also exits 137: the timeout flag wins.
        (RunResult(exit_code=137, timed_out=True, oom_killed=True), Frame(None, None), Status.TIMEOUT),
        (RunResult(exit_code=None, output_limit_exceeded=True), Frame(None, None), Status.OUTPUT_LIMIT),
        (RunResult(exit_code=0), Frame(139, None), Status.CRASHED),
        (RunResult(exit_code=0), Frame(None, None), Status.CRASHED),
        (RunResult(exit_code=0, stderr=b"Stack overflow detected. Aborting.\n"), Frame(134, None),
         Status.CRASHED),
        (RunResult(exit_code=0), Frame(1, None), Status.COMPILE_ERROR),
        (RunResult(exit_code=0), Frame(0, None), Status.CRASHED),
        (RunResult(exit_code=0), Frame(0, None, damaged=True), Status.CRASHED),
    ],
)
def test_compile_step_endings(result: RunResult, frame: Frame, status: Status) -> None:
    verdict = judge_compile(result, frame, [])
    assert verdict is not None and verdict.status is status


def test_compile_success_goes_on_to_the_check() -> None:
    assert judge_compile(OK, Frame(0, b"olean"), []) is None


def test_compile_error_detail_quotes_the_first_error() -> None:
    msgs = [LeanMessage(severity="warning", text="w"), LeanMessage(severity="error", text="type mismatch")]
    verdict = judge_compile(OK, Frame(1, None), msgs)
    assert verdict is not None and "type mismatch" in verdict.detail


def test_reference_failures_are_never_the_submissions() -> None:
    bad = [LeanMessage(severity="error", text="unknown identifier 'foo'")]
    v = judge_reference(OK, Frame(1, None), bad)
    assert v is not None and v.status is Status.INVALID_INPUT and "foo" in v.detail
    v = judge_reference(RunResult(exit_code=None, timed_out=True), Frame(None, None), [])
    assert v is not None and v.status is Status.INFRA_ERROR
    assert judge_reference(OK, Frame(0, b"ref"), []) is None


# -- the check step ----------------------------------------------------------------

def test_proved_with_allowed_axioms_only() -> None:
    assert check(report(axioms=["propext", "Classical.choice", "Quot.sound"])) is Status.PROVED
    assert check(report(axioms=[])) is Status.PROVED


def test_sorry_axiom_is_has_sorry() -> None:
    assert check(report(axioms=["propext", "sorryAx"])) is Status.HAS_SORRY


@pytest.mark.parametrize("axiom", ["cheat", "Lean.ofReduceBool", "Lean.trustCompiler",
                                   "t._native.native_decide.ax_1_1", "t"])
def test_anything_outside_the_allowlist_is_disallowed(axiom: str) -> None:
    assert check(report(axioms=["propext", axiom])) is Status.DISALLOWED_AXIOMS


def test_unresolved_constants_fail_closed() -> None:
    assert check(report(unresolved=["Hidden.thing"])) is Status.DISALLOWED_AXIOMS


def test_statement_mismatch_and_kind() -> None:
    assert check(report(type_check="mismatch")) is Status.STATEMENT_MISMATCH
    assert check(report(type_check="levels")) is Status.STATEMENT_MISMATCH
    assert check(report(type_check=None)) is Status.STATEMENT_MISMATCH
    assert check(report(type_check=None), statement_checked=False) is Status.PROVED
    assert check(report(kind="def")) is Status.STATEMENT_MISMATCH


def test_declared_as_axiom_is_disallowed() -> None:
    # `axiom t : stmt` reaches the check as kind axiom whose axioms list is itself.
    assert check(report(kind="axiom", axioms=["t"])) is Status.DISALLOWED_AXIOMS


def test_missing_target_clash_and_duplicates() -> None:
    assert check(report(target_found=False, kind=None, axioms=[])) is Status.COMPILE_ERROR
    assert check(report(clashes=["Nat.add_comm"])) is Status.COMPILE_ERROR
    assert check(report(duplicates=["t"])) is Status.COMPILE_ERROR


def test_check_endings() -> None:
    assert check(report(), RunResult(exit_code=None, timed_out=True)) is Status.TIMEOUT
    assert check(report(), RunResult(exit_code=137, oom_killed=True)) is Status.OOM
    assert check(CheckReport(), RunResult(exit_code=139)) is Status.CRASHED
    # The check program itself failing is ours: infrastructure, never a reward.
    assert check(CheckReport(), RunResult(exit_code=1)) is Status.INFRA_ERROR
    assert check(report(errors=["failed to read olean"])) is Status.CRASHED


def test_sorry_message_lowers_a_clean_axioms_verdict_both_texts() -> None:
    for text in ("declaration uses 'sorry'", "declaration uses `sorry`"):
        msgs = [LeanMessage(severity="warning", text=text)]
        assert check(report(), compile_messages=msgs) is Status.HAS_SORRY
    msgs = [LeanMessage(severity="warning", text="x", kind="hasSorry")]
    assert check(report(), compile_messages=msgs) is Status.HAS_SORRY


def test_messages_never_raise_a_verdict() -> None:
    # A submission claiming a clean bill cannot beat the trusted axioms.
    msgs = [LeanMessage(severity="information", text="'t' does not depend on any axioms")]
    assert check(report(axioms=["sorryAx"]), compile_messages=msgs) is Status.HAS_SORRY


# -- the verifier's flow, with scripted step outputs ------------------------------

def jl(severity: str, data: str, **kw: object) -> str:
    return json.dumps({"severity": severity, "data": data, **kw})


class ScriptedRuns:
    """A ``run`` function answering each step with output in the documented format. The
    frame tag and the nonce are read from the spec, as the real steps would print them."""

    def __init__(self, *, compile_lines: list[str] | None = None, lean_exit: int = 0,
                 check_facts: list[str] | None = None, reference_exit: int = 0,
                 compile_result: dict[str, object] | None = None) -> None:
        self.specs: list[RunSpec] = []
        self.compile_lines = compile_lines or []
        self.lean_exit = lean_exit
        self.check_facts = check_facts if check_facts is not None else [
            "target found", "kind theorem", "type match", "axiom propext"]
        self.reference_exit = reference_exit
        self.compile_result = compile_result or {}

    @staticmethod
    def _framed(spec: RunSpec, lines: list[str], rc: int, olean: bytes) -> bytes:
        tag = re.search(r"@@(\S+) exit", spec.argv[-1])
        assert tag, spec.argv
        out = lines + [f"@@{tag.group(1)} exit {rc}"]
        if rc == 0:
            out += [f"@@{tag.group(1)} olean-begin", base64.b64encode(olean).decode(),
                    f"@@{tag.group(1)} olean-end"]
        return ("\n".join(out) + "\n").encode()

    async def __call__(self, spec: RunSpec) -> RunResult:
        self.specs.append(spec)
        step = spec.labels[LABEL_STEP]
        if step == "reference":
            return RunResult(exit_code=0, stdout=self._framed(spec, [], self.reference_exit, b"REF"))
        if step == "compile":
            if self.compile_result:
                return RunResult(**self.compile_result)  # type: ignore[arg-type]
            return RunResult(exit_code=0, stdout=self._framed(
                spec, self.compile_lines, self.lean_exit, b"SUBMISSION-OLEAN"))
        assert step == "check"
        check = spec.files["Check.lean"].decode()
        nonce = re.search(r'logInfo \(toMessageData \("([0-9a-f]+) "', check)
        assert nonce
        lines = [jl("information", f"{nonce.group(1)} {fact}") for fact in self.check_facts]
        lines.append(jl("information", f"{nonce.group(1)} done"))
        return RunResult(exit_code=0, stdout=("\n".join(lines) + "\n").encode())


JOB = LeanJob(statement="(n : Nat) : n + 0 = n", proof="by simp", imports=["Mathlib"])


async def test_flow_runs_reference_compile_check_and_delivers_files() -> None:
    runs = ScriptedRuns()
    verifier = LeanVerifier(image="lean-img")
    outcome = await verifier.verify(JOB, runs)
    assert outcome.status is Status.PROVED
    assert outcome.axioms == ["propext"]
    assert [s.labels[LABEL_STEP] for s in runs.specs] == ["reference", "compile", "check"]
    ref, comp, chk = runs.specs
    assert all(s.image == "lean-img" and s.limits == LEAN_LIMITS for s in runs.specs)
    assert b"theorem misalign_reference (n : Nat) : n + 0 = n" in ref.files["Reference.lean"]
    src = comp.files["Submission.lean"].decode()
    assert src.startswith("import Mathlib\n")
    assert "theorem misalign_target (n : Nat) : n + 0 = n :=\nby simp\n" in src
    # The check gets the compiled bytes and the cached reference, never the source.
    assert chk.files["Submission.olean"] == b"SUBMISSION-OLEAN"
    assert chk.files["Reference.olean"] == b"REF"
    assert "Submission.lean" not in chk.files
    assert "import Submission" not in chk.files["Check.lean"].decode()
    assert chk.argv[0] == "lean"
    assert apply_policy(outcome, binary, IntegrityMode.ENFORCE) == 1.0


async def test_reference_is_cached_per_statement() -> None:
    verifier = LeanVerifier(image="lean-img")
    first, second = ScriptedRuns(), ScriptedRuns()
    await verifier.verify(JOB, first)
    await verifier.verify(JOB.model_copy(update={"proof": "by omega"}), second)
    assert [s.labels[LABEL_STEP] for s in second.specs] == ["compile", "check"]
    assert second.specs[1].files["Reference.olean"] == b"REF"


async def test_fake_axioms_line_from_the_submission_is_not_believed() -> None:
    # The submission prints a clean axioms report and a marker-shaped line; the trusted
    # check says sorryAx. The verdict follows the check, and the fake report is flagged.
    runs = ScriptedRuns(
        compile_lines=[
            jl("warning", "declaration uses 'sorry'"),
            jl("information", "'misalign_target' depends on axioms: [propext]"),
            jl("information", "00000000000000000000000000000000 done"),
        ],
        check_facts=["target found", "kind theorem", "type match", "axiom propext", "axiom sorryAx"],
    )
    outcome = await LeanVerifier(image="i", integrity=IntegrityMode.OBSERVE).verify(JOB, runs)
    assert outcome.status is Status.HAS_SORRY
    assert outcome.axioms == ["propext", "sorryAx"]
    assert any(f.code == "L7" and f.detector == "lean_fake_axioms_report" for f in outcome.flags)


async def test_enforce_rejects_before_running_anything() -> None:
    runs = ScriptedRuns()
    job = JOB.model_copy(update={"proof": "by\n  native_decide"})
    outcome = await LeanVerifier(image="i", integrity=IntegrityMode.ENFORCE).verify(job, runs)
    assert outcome.status is Status.REJECTED
    assert runs.specs == []
    (flag,) = outcome.flags
    assert flag.code == "L3" and flag.rejects
    assert flag.line == 5  # the composed file: import, blank, theorem, `by`, native_decide
    assert apply_policy(outcome, binary, IntegrityMode.ENFORCE) == 0.0


async def test_observe_runs_and_records_flags_off_records_none() -> None:
    job = JOB.model_copy(update={"proof": "by\n  sorry"})
    facts = ["target found", "kind theorem", "type match", "axiom sorryAx"]
    observed = await LeanVerifier(image="i", integrity=IntegrityMode.OBSERVE).verify(
        job, ScriptedRuns(check_facts=facts))
    assert observed.status is Status.HAS_SORRY
    assert [f.code for f in observed.flags] == ["L1"]
    off = await LeanVerifier(image="i", integrity=IntegrityMode.OFF).verify(
        job, ScriptedRuns(check_facts=facts))
    assert off.status is Status.HAS_SORRY and off.flags == []


async def test_source_form_without_statement_skips_the_reference() -> None:
    job = LeanJob(source="import Mathlib.Tactic\ntheorem foo : True := trivial\n", theorem="foo")
    runs = ScriptedRuns(check_facts=["target found", "kind theorem"])
    outcome = await LeanVerifier(image="i").verify(job, runs)
    assert outcome.status is Status.PROVED
    assert [s.labels[LABEL_STEP] for s in runs.specs] == ["compile", "check"]
    check_file = runs.specs[1].files["Check.lean"].decode()
    assert "import Mathlib.Tactic\n" in check_file and "import Mathlib\n" in check_file
    assert "Reference.olean" not in runs.specs[1].files
    assert outcome.extra["statement_checked"] is False


async def test_compile_error_stops_before_the_check() -> None:
    runs = ScriptedRuns(compile_lines=[jl("error", "unsolved goals")], lean_exit=1)
    outcome = await LeanVerifier(image="i").verify(JOB, runs)
    assert outcome.status is Status.COMPILE_ERROR
    assert [s.labels[LABEL_STEP] for s in runs.specs] == ["reference", "compile"]
    assert outcome.messages[0].text == "unsolved goals"


async def test_statement_that_does_not_elaborate_is_invalid_input() -> None:
    outcome = await LeanVerifier(image="i").verify(JOB, ScriptedRuns(reference_exit=1))
    assert outcome.status is Status.INVALID_INPUT
    assert apply_policy(outcome, binary, IntegrityMode.ENFORCE) is None


async def test_job_limits_and_timeout_override_the_profile() -> None:
    job = LeanJob.model_validate({**JOB.model_dump(exclude={"limits"}), "timeout_s": 42.0,
                                  "limits": {"memory_bytes": 12 * 2**30}})
    runs = ScriptedRuns()
    await LeanVerifier(image="i").verify(job, runs)
    compile_spec = runs.specs[1]
    assert compile_spec.timeout_s == 42.0
    assert compile_spec.limits.memory_bytes == 12 * 2**30
    assert compile_spec.limits.pids == LEAN_LIMITS.pids
