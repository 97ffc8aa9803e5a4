"""Io jobs without an engine: the comparisons, job validation, and the dataset loaders on
rows written in each dataset's exact schema (tests/data/contest/; the datasets cannot be
downloaded here)."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import pytest

from misalign_rewards.datasets import contest
from misalign_rewards.harness import cases
from misalign_rewards.jobs import IoJob, parse_job
from misalign_rewards.verifiers.io import as_pytest_job, case_ids

DATA = Path(__file__).resolve().parents[1] / "data" / "contest"


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(("output", "expected", "how", "right"), [
    ("6\n", "6", "exact", True),
    ("6 \n", "6", "exact", False),
    ("1  2\n3", "1 2 3\n", "tokens", True),
    ("1 2", "1 2 3", "tokens", False),
    ("0.3333333", "0.33333333", "numbers", True),
    ("0.34", "0.33333333", "numbers", False),
    ("YES 1.0", "YES 1", "numbers", True),
    ("yes 1.0", "YES 1", "numbers", False),
    ("b\na\n\n", "a\nb", "unordered_lines", True),
    ("a\na", "a\nb", "unordered_lines", False),
])
def test_text_comparisons(output: str, expected: str, how: str, right: bool) -> None:
    why = cases.compare_text(output, expected, how, abs_tol=1e-6, rel_tol=1e-6)
    assert (why is None) is right, why
    if not right:
        assert why.startswith(how) and len(why) < 400


def test_a_failed_comparison_shows_a_bounded_diff() -> None:
    why = cases.compare_text("x" * 10_000, "y" * 10_000, "tokens")
    assert why is not None and "token 1" in why and len(why) < 400


def test_nothing_non_finite_or_non_ascii_passes_and_ints_are_exact() -> None:
    inf, nan = float("inf"), float("nan")
    for got, want in ((inf, 6), ([-inf], [3.25]), (nan, nan), (10 ** 7 + 1, 10 ** 7), ([True, False], [1, 0])):
        for how in ("numbers", "tokens"):
            assert cases.compare_values(got, want, how, 1e-6, 1e-6) is not None, (got, want, how)
    assert cases.compare_values(10 ** 400, 10 ** 400, "numbers", 1e-6, 1e-6) is None
    assert cases.compare_values(10 ** 400, 1.5, "numbers", 1e-6, 1e-6) is not None  # no OverflowError
    assert cases.compare_text("1000001", "1000000", "numbers", 1e-6, 1e-6) is not None
    assert cases.compare_text("\u0666", "6", "numbers") is not None  # an Arabic-Indic digit
    assert cases.compare_text("1\xa02", "1 2", "tokens") is not None  # a no-break space
    assert cases.compare_text("1e309", "6", "numbers") is not None


def test_value_comparisons() -> None:
    assert cases.compare_values((1, [2, 3]), [1, [2, 3]], "exact", 0, 0) is None
    assert cases.compare_values([1, 2], [2, 1], "exact", 0, 0) is not None
    assert cases.compare_values(0.1 + 0.2, 0.3, "numbers", 1e-9, 1e-9) is None
    assert cases.compare_values(0.1 + 0.2, 0.3, "exact", 1e-9, 1e-9) is not None
    assert cases.compare_values(10 ** 30, 10 ** 30, "tokens", 0, 0) is None
    assert cases.compare_values(True, 1, "numbers", 0, 0) is not None


def test_checker_verdicts() -> None:
    assert cases.run_checker(lambda i, o, e: True, "", "", "") is None
    assert cases.run_checker(lambda i, o, e: (True, "fine"), "", "", "") is None
    assert "too short" in cases.run_checker(lambda i, o, e: (False, "too short"), "", "", "")
    assert cases.run_checker(lambda i, o, e: 1, "", "", "") is not None  # only True passes


def test_bad_io_jobs_say_which_field() -> None:
    bad = [
        ({"cases": [{"input": [1], "output": 1, "testtype": "functional"}]}, "fn_name"),
        ({"cases": [{"input": [1], "output": 1}]}, "input is text"),
        ({"cases": [{"input": "1", "output": 1}], "fn_name": "f", "compare": "tokens"}, "list of arguments"),
        ({"cases": [{"input": "1", "output": 2}]}, "expected output is text"),
        ({"cases": [{"input": "1", "output": "2"}], "compare": "checker"}, "checker"),
        ({"cases": []}, "cases"),
        ({"cases": [{"input": "1", "output": "2"}], "fn_name": "not an identifier"}, "fn_name"),
        ({"cases": [{"input": [1], "output": 1}], "fn_name": "f", "language": "cpp"}, "stdin cases"),
        ({"cases": [{"input": "1", "output": "2"}], "language": "rust"}, "language"),
    ]
    for fields, words in bad:
        got = parse_job({"kind": "io", "program": "print(2)", **fields})
        assert hasattr(got, "error") and words in got.error, (fields, got)


def test_the_generated_suite_holds_the_cases_and_the_program_gets_only_its_own_files() -> None:
    job = IoJob(program="print(int(input())*2)", cases=[{"input": "3\n", "output": "6\n"}] * 3)
    pjob = as_pytest_job(job, 1 << 20)
    assert pjob.expected_tests == case_ids(job) == [f"test_cases.py::test_case[case_{i}]" for i in range(3)]
    assert set(pjob.solution_files) == {"solution.py"} and pjob.mode == "isolated"
    assert "6\\n" not in pjob.solution_files["solution.py"]
    cpp = as_pytest_job(IoJob(program="int main(){}", language="cpp", cases=[{"input": "", "output": ""}]), 1 << 20)
    # the C++ source goes to the compiler on stdin; nothing of it is importable Python
    assert set(cpp.solution_files) == {"_compiled.py"} and "int main" not in cpp.solution_files["_compiled.py"]
    functional = IoJob(program="def f(x):\n    return x\n", fn_name="f", cases=[{"input": [1], "output": 1}])
    assert set(as_pytest_job(functional, 1 << 20).solution_files) == {"solution.py", "_io_call.py"}


def test_apps_and_taco_rows() -> None:
    stdin_row, call_row = rows("apps.jsonl")
    job = contest.apps_job(stdin_row, "print(int(input())*2)")
    assert [(c.input, c.output) for c in job.cases] == [("3\n", "6\n"), ("10\n", "20\n")] and job.fn_name is None
    job = contest.apps_job(call_row, "def total(xs): return sum(xs)")
    assert job.fn_name == "total" and [(c.input, c.output) for c in job.cases] == [([[1, 2, 3]], 6), ([[]], 0)]


def test_code_contests_rows_take_every_split_in_order() -> None:
    (row,) = rows("code_contests.jsonl")
    job = contest.code_contests(row, "print(int(input())*2)")
    assert [c.input for c in job.cases] == ["3\n", "5\n", "0\n", "-4\n"]
    assert len(contest.code_contests(row, "x", splits=("public_tests",)).cases) == 1


def test_livecodebench_rows_and_the_pickled_form_is_refused() -> None:
    stdin_row, call_row = rows("livecodebench.jsonl")
    job = contest.livecodebench(stdin_row, "print(int(input())*2)")
    assert [(c.input, c.output, c.testtype) for c in job.cases] == [("3\n", "6\n", "stdin"), ("7\n", "14\n", "stdin")]
    job = contest.livecodebench(call_row, "class Solution: ...")
    assert job.fn_name == "addUp" and [(c.input, c.output) for c in job.cases] == [([[1, 2], 3], 5), ([[], 0], 0)]
    # The published private cases are base64(zlib(pickle)). A pickle that would run code
    # when loaded: the loader must refuse it without loading it.
    class Boom:
        def __reduce__(self):  # pragma: no cover - never called by the loader
            return (exec, ("raise SystemExit('unpickled!')",))
    blob = base64.b64encode(zlib.compress(pickle.dumps([Boom()]))).decode()
    with pytest.raises(contest.DatasetRowError, match="pickled"):
        contest.livecodebench({**stdin_row, "private_test_cases": blob}, "x")


def test_prime_code_ground_truth_as_verl_passes_it() -> None:
    stdin_row, call_row = rows("prime_code.jsonl")
    job = contest.prime_code(stdin_row["reward_model"]["ground_truth"], "a,b=map(int,input().split());print(a+b)")
    assert [(c.input, c.output) for c in job.cases] == [("1 2\n", "3\n"), ("5 5\n", "10\n")]
    job = contest.prime_code(call_row["reward_model"]["ground_truth"], "def mul(a, b): return a*b")
    assert job.fn_name == "mul" and [(c.input, c.output) for c in job.cases] == [([2, 3], 6), ([0, 9], 0)]


def test_deepcoder_rows_in_both_forms() -> None:
    listed, prime = rows("deepcoder.jsonl")
    assert [(c.input, c.output) for c in contest.deepcoder(listed, "x").cases] == [("4\n", "8\n")]
    job = contest.deepcoder(prime, "def mul(a, b): return a*b")
    assert job.fn_name == "mul" and job.cases[0].input == [2, 3]


def test_a_row_without_the_schema_is_named() -> None:
    with pytest.raises(contest.DatasetRowError, match="input_output"):
        contest.apps_job({}, "x")
    with pytest.raises(contest.DatasetRowError, match="same length"):
        contest.prime_code({"inputs": ["1"], "outputs": []}, "x")
