"""Io jobs without an engine: the comparisons, job validation, and the dataset loaders on
rows written in each dataset's exact schema (tests/data/contest/; the datasets cannot be
downloaded here)."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import anyio
import pytest

from misalign_rewards.datasets import contest
from misalign_rewards.harness import cases
from misalign_rewards.jobs import IoJob, parse_job
from misalign_rewards.outcomes import Outcome, Status
from misalign_rewards.sandbox.base import Limits
from misalign_rewards.verifiers.io import IoVerifier, as_pytest_job, case_ids, job_seconds
from misalign_rewards.verifiers.pytest import PytestVerifier

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
    with pytest.raises(contest.DatasetRowError, match="not loaded"):
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


# -- a judge's verdicts (issue 26) -------------------------------------------------------------


@pytest.mark.parametrize(("output", "expected", "right"), [
    ("1166666666665.0", "1166666666666", False),  # within rel_tol 1e-6, but an integer answer is exact
    ("1.2e12", "1200000000001", False),
    ("1.2e12", "1200000000000", True),  # an integral float token of exactly its value passes
    ("6.0 6e0 +6", "6 6 6", True),
    ("6.5", "6", False),
    ("1e400", "1" + "0" * 400, True),
    ("1e999999999", "5", False),
    ("0.3333334", "0.333333", True),  # a float expected value keeps its tolerance
])
def test_integer_answers_compare_exactly_under_numbers(output: str, expected: str, right: bool) -> None:
    why = cases.compare_text(output, expected, "numbers", 1e-6, 1e-6)
    assert (why is None) is right, why


def test_integer_return_values_compare_exactly_whatever_their_type() -> None:
    assert cases.compare_values(1166666666665.0, 1166666666666, "numbers", 1e-6, 1e-6) is not None
    assert cases.compare_values([1.2e12], [1200000000000], "numbers", 1e-6, 1e-6) is None
    assert cases.compare_values(6.0, 6, "tokens", 0, 0) is None
    assert cases.compare_values(float("inf"), 10 ** 400, "numbers", 1e-6, 1e-6) is not None


def test_numpy_answers_compare_by_value() -> None:
    import numpy as np
    ok = [(np.int64(6), 6), (np.bool_(True), True), (np.float64(0.5), 0.5), (np.array([1, 2, 3]), [1, 2, 3]),
          (np.array([[1.5], [2.0]]), [[1.5], [2.0]]), ([np.int32(1), np.int8(2)], [1, 2]),
          ({"k": np.array([True, False])}, {"k": [True, False]})]
    for got, want in ok:
        assert cases.compare_values(got, want, "tokens", 0, 0) is None, (got, want)
    bad = [(np.int64(7), 6), (np.bool_(True), 1), (np.array([1, 2]), [1, 2, 3]), (np.array([1, 0]), [True, False]),
           (np.float64("nan"), 0.0)]
    for got, want in bad:
        assert cases.compare_values(got, want, "numbers", 1e-6, 1e-6) is not None, (got, want)


def test_dict_keys_compare_with_their_types_and_cross_as_they_are() -> None:
    assert cases.compare_values({1: 5}, {"1": 5}, "exact", 0, 0) is not None
    assert cases.compare_values({1: 5, "1": 6}, {"1": 6}, "exact", 0, 0) is not None
    assert cases.compare_values({True: 5}, {1: 5}, "exact", 0, 0) is not None
    assert cases.compare_values({1: [2]}, {1: (2,)}, "exact", 0, 0) is None
    assert "got {1: 5}" in cases.compare_values({1: 5}, {"1": 5}, "exact", 0, 0)
    for value in ({1: 5, "1": 6}, {"$dict": 1}, [{(1, 2): {None: 3.5}}], {"a": {2: "b"}}):
        back = cases.decode_value(json.loads(json.dumps(cases.encode_value(value))))
        assert back == value and cases.compare_values(back, value, "exact", 0, 0) is None, (value, back)
    job = IoJob(program="def f(d):\n    return d\n", fn_name="f", cases=[{"input": [{1: "a"}], "output": {1: "a"}}])
    module = as_pytest_job(job, 1 << 20).test_files["test_cases.py"]
    encoded = module.split("CASES = cases.decode_value(json.loads(base64.b64decode(")[1].split(")")[0]
    (case,) = cases.decode_value(json.loads(base64.b64decode(eval(encoded))))
    assert case["input"] == [{1: "a"}] and case["output"] == {1: "a"}


def _packed(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data)).decode()


def test_livecodebench_private_cases_as_published_are_decoded_without_unpickling() -> None:
    stdin_row, call_row = rows("livecodebench.jsonl")
    private = json.dumps([{"input": "7\n", "output": "14\n", "testtype": "stdin"},
                          {"input": "-1\n", "output": "-2\n", "testtype": "stdin"}])
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        row = {**stdin_row, "private_test_cases": _packed(pickle.dumps(private, protocol=protocol))}
        job = contest.livecodebench(row, "print(int(input())*2)")
        assert [c.input for c in job.cases] == ["3\n", "7\n", "-1\n"], protocol
    functional = json.dumps([{"input": "[4]\n5", "output": "9", "testtype": "functional"}])
    job = contest.livecodebench({**call_row, "private_test_cases": _packed(pickle.dumps(functional))}, "x")
    assert job.cases[-1].input == [[4], 5] and job.cases[-1].output == 9


def test_malicious_pickles_are_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (stdin_row, _) = rows("livecodebench.jsonl")
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')"
    text = json.dumps([{"input": "1\n", "output": "2\n", "testtype": "stdin"}]).encode()
    s = bytes([0x8C, len(text)]) + text  # SHORT_BINUNICODE of the real cases
    call_exec = b"cbuiltins\nexec\n" + bytes([0x8C, len(code)]) + code.encode() + b"\x85R"
    evil = {
        "GLOBAL + REDUCE": b"\x80\x04" + call_exec + b".",
        "STACK_GLOBAL + REDUCE": (b"\x80\x04\x8c\x08builtins\x8c\x04exec\x93" + bytes([0x8C, len(code)])
                                  + code.encode() + b"\x85R."),
        "string, then a call": b"\x80\x04" + s + b"\x94" + call_exec + b".",
        "INST": b"(" + bytes([0x8C, len(code)]) + code.encode() + b"ibuiltins\nexec\n.",
        "OBJ": b"\x80\x02(cbuiltins\nexec\n" + bytes([0x8C, len(code)]) + code.encode() + b"o.",
        "BUILD on the string": b"\x80\x04" + s + b"}b.",
        "a list of strings": b"\x80\x04]" + s + b"a.",
        "two strings": b"\x80\x04" + s + s + b".",
        "after STOP": b"\x80\x04" + s + b"." + call_exec + b".",
        "no STOP": b"\x80\x04" + s,
        "protocol 0 text": pickle.dumps(text.decode(), protocol=0),
        "bytes, not a string": pickle.dumps(text, protocol=4),
        "size past the end": b"\x80\x04\x8d" + (1 << 62).to_bytes(8, "little") + text + b".",
        "BINUNICODE past the end": b"\x80\x03X" + (1 << 31).to_bytes(4, "little") + text + b".",
        "a frame cut short": b"\x80\x04\x95\x01",
        "protocol 9": b"\x80\x09" + s + b".",
        "not UTF-8": b"\x80\x04\x8c\x02\xff\xfe.",
    }
    for name, data in evil.items():
        with pytest.raises(contest.DatasetRowError, match="private_test_cases"):
            contest.livecodebench({**stdin_row, "private_test_cases": _packed(data)}, "x")
        assert not marker.exists(), name
    # a zlib bomb is not inflated past the limit
    monkeypatch.setattr(contest, "MAX_PICKLE_BYTES", 1 << 20)
    bomb = _packed(pickle.dumps("[" + " " * (2 << 20) + "]", protocol=4))
    with pytest.raises(contest.DatasetRowError, match="more than"):
        contest.livecodebench({**stdin_row, "private_test_cases": bomb}, "x")
    with pytest.raises(contest.DatasetRowError, match="neither a JSON list"):
        contest.livecodebench({**stdin_row, "private_test_cases": "not base64 at all!"}, "x")


def test_limits_written_in_the_rows_become_the_jobs() -> None:
    (row,) = rows("code_contests.jsonl")
    job = contest.code_contests({**row, "time_limit": {"seconds": 1, "nanos": 500_000_000}}, "x")
    assert job.case_timeout_s == 1.5 and job.case_memory_bytes == 256_000_000
    assert contest.code_contests(row, "x").case_timeout_s == 2.0
    assert contest.code_contests(row, "x", case_timeout_s=4).case_timeout_s == 4  # the caller's option wins
    with pytest.raises(contest.DatasetRowError, match="input_file"):
        contest.code_contests({**row, "input_file": "input.txt"}, "x")
    stdin_row, _ = rows("apps.jsonl")
    taco = contest.apps_job({**stdin_row, "time_limit": "2.5 seconds", "memory_limit": "256 megabytes"}, "x")
    assert taco.case_timeout_s == 2.5 and taco.case_memory_bytes == 256_000_000
    assert contest.apps_job({**stdin_row, "time_limit": "None"}, "x").case_timeout_s == 6.0
    with pytest.raises(contest.DatasetRowError, match="time_limit"):
        contest.apps_job({**stdin_row, "time_limit": "fast"}, "x")


async def _never_runs(spec: object) -> object:
    raise AssertionError("a job that cannot be judged must not run")


def _verdict(job: IoJob, **verifier: object) -> Outcome:
    v = IoVerifier(PytestVerifier("misalign-test/never-pulled:none"), **verifier)  # type: ignore[arg-type]
    return anyio.run(v.verify, job, _never_runs)


def test_cases_that_cannot_be_judged_are_the_callers_mistake_naming_the_case() -> None:
    ok = {"input": "1\n", "output": "2\n"}
    bad = {
        "cases.1.input": IoJob(program="x", cases=[ok, {"input": "a\udc80\n", "output": "2\n"}]),
        "cases.2.output": IoJob(program="x", cases=[ok, ok, {"input": "1\n", "output": "\ud800"}]),
        "cases.1: this case": IoJob(program="x", cases=[ok, {"input": "7" * (13 << 20), "output": "1"}]),
        "cases.3: the cases up to": IoJob(program="x", cases=[ok] + [{"input": "7" * (4 << 20), "output": "1"}] * 4),
        # the judge must hold the expected output (and a margin) within the job's memory
        "cases.0.output": IoJob(program="x", cases=[{"input": "", "output": "y" * (9 << 20)}],
                                limits={"memory_bytes": 32 << 20}),
        # a deadline that the cases' own limits cannot fit in, or more than a job may take
        "timeout_s": IoJob(program="x", cases=[ok] * 3, case_timeout_s=6, timeout_s=10),
        "cases: 10000 case(s)": IoJob(program="x", cases=[ok] * 10_000),
    }
    for words, job in bad.items():
        outcome = _verdict(job)
        assert outcome.status is Status.INVALID_INPUT and outcome.detail.startswith(words), (words, outcome.detail)


def test_the_jobs_time_follows_from_its_cases() -> None:
    job = IoJob(program="x", cases=[{"input": "1\n", "output": "2\n"}] * 400, case_timeout_s=2)
    pjob = as_pytest_job(job, 1 << 20)
    assert pjob.timeout_s == job_seconds(job) >= 400 * 2 and job_seconds(job) <= 400 * 2.1 + 10
    cpp = IoJob(program="x", language="cpp", cases=[{"input": "1\n", "output": "2\n"}], compile_timeout_s=30)
    assert job_seconds(cpp) >= 30 + 6
    many = IoJob(program="x", cases=[{"input": "1\n", "output": "2\n"}] * 10_000, case_timeout_s=0.2)
    assert as_pytest_job(many, 1 << 20).timeout_s <= 3600


def _spec(pjob: object) -> dict:
    module = pjob.test_files["test_cases.py"]  # type: ignore[attr-defined]
    return json.loads(base64.b64decode(eval(module.split("SPEC = json.loads(base64.b64decode(")[1].split(")")[0])))


def _cases(pjob: object) -> list:
    module = pjob.test_files["test_cases.py"]  # type: ignore[attr-defined]
    encoded = module.split("CASES = cases.decode_value(json.loads(base64.b64decode(")[1].split(")")[0]
    return json.loads(base64.b64decode(eval(encoded)))


def test_output_caps_and_stacks_follow_the_cases() -> None:
    big = "9" * (3 << 20)
    job = IoJob(program="x", cases=[{"input": "", "output": "1\n"}, {"input": "", "output": big}])
    caps = [c["output_bytes"] for c in _cases(as_pytest_job(job, 1 << 20))]
    assert caps[0] == 1 << 20 and caps[1] > len(big)
    assert _spec(as_pytest_job(job, 1 << 20, limits=Limits(memory_bytes=768 << 20)))["stack_bytes"] == 768 << 20
    sized = IoJob(program="x", cases=[{"input": "", "output": ""}], case_memory_bytes=256 << 20)
    assert _spec(as_pytest_job(sized, 1 << 20))["stack_bytes"] == 256 << 20


def test_a_binary_reward_stops_at_the_first_failing_case_unless_the_job_says() -> None:
    from misalign_rewards.rewards import binary, pass_rate

    job = IoJob(program="x", cases=[{"input": "1\n", "output": "2\n"}])
    assert IoVerifier(PytestVerifier("x"), policy=binary).stop_at_first_failure is True
    assert IoVerifier(PytestVerifier("x"), policy=pass_rate).stop_at_first_failure is False
    assert IoVerifier(PytestVerifier("x")).stop_at_first_failure is False
    assert _spec(as_pytest_job(job, 1 << 20, stop_at_first_failure=True))["stop_at_first_failure"] is True
    explicit = job.model_copy(update={"stop_at_first_failure": False})
    assert _spec(as_pytest_job(explicit, 1 << 20, stop_at_first_failure=True))["stop_at_first_failure"] is False
    from misalign_rewards import RewardClient, Settings

    for policy, stops in (("binary", True), ("pass_rate", False)):
        client = RewardClient(Settings(reward_policy=policy))
        assert client.verifiers["io"].stop_at_first_failure is stops  # type: ignore[attr-defined]


def test_the_runner_of_an_io_jobs_cases_is_one_of_two_and_reaches_the_harness() -> None:
    """``runner``: the harness's own loop (the default) or a pytest session; anything else
    is refused where it is given, and the chosen one is what the harness is told."""
    with pytest.raises(ValueError, match="runner"):
        IoVerifier(PytestVerifier("unused"), runner="unittest")
    pjob = as_pytest_job(IoJob(program="print(1)\n", cases=[{"input": "", "output": "1"}]), 1 << 20)
    with pytest.raises(ValueError, match="runner"):
        PytestVerifier("unused").prepare(pjob, b"k" * 32, "run", runner="unittest")
    assert IoVerifier(PytestVerifier("unused")).runner == "cases"
    looped = json.loads(PytestVerifier("unused").prepare(pjob, b"k" * 32, "run", runner="cases").stdin)
    plain = json.loads(PytestVerifier("unused").prepare(pjob, b"k" * 32, "run").stdin)
    assert looped["config"]["runner"] == "cases" and "runner" not in plain["config"]


def test_the_call_shim_is_scanned_once_and_only_its_own_text_is_skipped() -> None:
    from misalign_rewards.integrity import python as scanner
    from misalign_rewards.verifiers.io import CALL_SHIM

    assert ("_io_call.py", CALL_SHIM) in scanner._CLEAN_MODULES
    program = "import os\n\ndef f(x):\n    os._exit(0)\n"
    flagged = scanner.scan_python({"solution.py": program})
    assert flagged  # the program's own finding
    assert scanner.scan_python({"solution.py": program, "_io_call.py": CALL_SHIM}) == flagged
    # any other text under the shim's name is scanned as a solution file is
    changed = CALL_SHIM + "\nimport os\nos._exit(0)\n"
    assert [f.code for f in scanner.scan_python({"_io_call.py": changed})] == \
        [f.code for f in scanner.scan_python({"other.py": changed})] != []
