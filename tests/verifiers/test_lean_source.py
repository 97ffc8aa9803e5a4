"""The files the Lean verifier writes: composition, reference, trusted check."""

from __future__ import annotations

import pytest

from misalign_rewards.errors import InvalidSpec
from misalign_rewards.jobs import LeanJob
from misalign_rewards.verifiers.lean_source import (
    check_source,
    compile_script,
    lean_name_expr,
    plan_job,
    reference_source,
    split_statement,
)


@pytest.mark.parametrize(
    ("text", "name", "signature", "tactic"),
    [
        ("(n : Nat) : n + 0 = n", None, "(n : Nat) : n + 0 = n", False),
        ("theorem foo (n : Nat) : n + 0 = n := by", "foo", "(n : Nat) : n + 0 = n", True),
        ("lemma bar : 1 = 1 :=", "bar", ": 1 = 1", False),
        ("theorem baz : 1 = 1 := by sorry", "baz", ": 1 = 1", True),
        (": let x := 1; x = 1", None, ": let x := 1; x = 1", False),
    ],
)
def test_split_statement(text: str, name: str | None, signature: str, tactic: bool) -> None:
    st = split_statement(text)
    assert (st.name, st.signature, st.tactic) == (name, signature, tactic)


def test_split_statement_rejects_empty() -> None:
    with pytest.raises(InvalidSpec):
        split_statement("theorem foo :=")


def test_compose_uses_statement_name_or_job_name() -> None:
    plan = plan_job(LeanJob(statement="theorem foo : True := by", proof="trivial", imports=[]))
    assert plan.theorem == "foo"
    assert plan.source == "\ntheorem foo : True := by\ntrivial\n"
    assert plan.scanned == "trivial" and plan.scanned_offset == 2
    named = plan_job(LeanJob(statement=": True", proof="trivial", theorem="My.thm", imports=[]))
    assert named.theorem == "My.thm"
    assert "theorem My.thm : True :=\ntrivial\n" in named.source


def test_source_form_keeps_the_source_and_reads_its_imports() -> None:
    src = "import Mathlib.Data.Nat.Basic\ntheorem x : True := trivial\n"
    plan = plan_job(LeanJob(source=src, theorem="x", imports=["Mathlib"]))
    assert plan.source == src and plan.statement is None
    assert plan.check_imports == ["Lean", "Mathlib", "Mathlib.Data.Nat.Basic"]


def test_reference_source() -> None:
    ref = reference_source(["Mathlib"], split_statement("(a b : Nat) : a + b = b + a"))
    assert ref == "import Mathlib\n\ntheorem misalign_reference (a b : Nat) : a + b = b + a :=\n  sorry\n"


def test_check_source_never_imports_the_submission() -> None:
    nonce = "ab" * 16
    text = check_source(["Lean", "Mathlib"], "Foo.bar'", nonce, with_reference=True)
    assert "import Submission" not in text and "import Reference" not in text
    assert text.startswith("import Lean\nimport Mathlib\n")
    assert 'readModuleData path' in text
    assert '(Name.mkStr (Name.mkStr Name.anonymous "Foo") "bar\'")' in text
    assert nonce in text and "Reference.olean" in text
    assert "Reference.olean" not in check_source(["Lean"], "t", nonce, with_reference=False)


def test_check_source_rejects_bad_nonce_and_names() -> None:
    with pytest.raises(InvalidSpec):
        check_source(["Lean"], "t", "not hex!", with_reference=False)
    with pytest.raises(InvalidSpec):
        lean_name_expr("a..b")


def test_compile_script_frames_after_lean() -> None:
    script = compile_script("Submission", "misalign-abc", 2)
    lean_at = script.index("lean --json -j 2 -o /tmp/work/Submission.olean /tmp/work/Submission.lean")
    assert script.index("@@misalign-abc exit") > lean_at
    assert script.index("base64 /tmp/work/Submission.olean") > lean_at


def test_preamble_goes_into_both_grader_files_and_is_not_scanned() -> None:
    job = LeanJob(statement="(x : ℝ) : x ^ 2 ≥ 0", proof="by positivity", imports=["Mathlib"],
                  preamble="open Real Nat\n")
    plan = plan_job(job)
    assert plan.source == ("import Mathlib\n\nopen Real Nat\n\n"
                           "theorem misalign_target (x : ℝ) : x ^ 2 ≥ 0 :=\nby positivity\n")
    # the pre-filter's line numbers still point into the compiled file
    assert plan.source.splitlines()[plan.scanned_offset] == "by positivity"
    assert plan.scanned == "by positivity"
    ref = reference_source(plan.imports, plan.statement, plan.preamble)
    assert ref.startswith("import Mathlib\n\nopen Real Nat\n\ntheorem misalign_reference (x : ℝ)")
    # without a preamble nothing changes
    assert plan_job(job.model_copy(update={"preamble": ""})).source.startswith("import Mathlib\n\ntheorem")


def test_preamble_cannot_carry_imports() -> None:
    from misalign_rewards.jobs import InvalidJob, parse_job

    bad = parse_job({"kind": "lean", "statement": "True", "proof": "trivial", "preamble": "import Evil\nopen X"})
    assert isinstance(bad, InvalidJob) and "preamble" in bad.error
