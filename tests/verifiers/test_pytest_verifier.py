"""Report parsing, scoring and the verifier's steps, without Docker (pure logic)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Status
from misalign_rewards.rewards import apply_policy, binary, pass_rate
from misalign_rewards.sandbox.base import RunResult, RunSpec
from misalign_rewards.verifiers.pytest import (
    HarnessReport,
    PytestVerifier,
    ReportError,
    parse_report,
    report_flags,
    score,
)

NONCE = "0123456789abcdef0123456789abcdef"


def framed(report: dict[str, Any], nonce: str = NONCE, before: bytes = b"", after: bytes = b"") -> bytes:
    return before + f"{nonce} BEGIN\n{json.dumps(report)}\n{nonce} END\n".encode() + after


def rep(tests: list[tuple[str, str]], collected: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return {"mode": "isolated",
            "collected": [i for i, _ in tests] if collected is None else collected,
            "tests": [{"id": i, "outcome": o, "duration_s": 0.1, "message": ""} for i, o in tests],
            **kw}


# -- parse_report ---------------------------------------------------------------------
def test_parse_finds_the_framed_report_among_noise() -> None:
    data = framed(rep([("t.py::a", "passed")]), before=b"6 passed\nnoise\n", after=b"more noise\n")
    assert parse_report(data, NONCE).tests[0].id == "t.py::a"


@pytest.mark.parametrize("stdout", [
    b"",
    b"8 passed in 0.01s\n",
    framed(rep([("t.py::a", "passed")]), nonce="f" * 32),  # someone else's nonce
    framed(rep([("t.py::a", "passed")])) + framed(rep([("t.py::a", "passed")])),  # two reports
    f"{NONCE} BEGIN\n{{}}\n".encode(),  # never closed
    f"{NONCE} BEGIN\nnot json\n{NONCE} END\n".encode(),
    f"{NONCE} BEGIN\n{{\"mode\": \"isolated\"}}\n{NONCE} END\n".encode(),  # missing fields
    framed(rep([("t.py::a", "won")])),  # unknown outcome
    f"{NONCE} BEGIN\n\n{json.dumps(rep([]))}\n{NONCE} END\n".encode(),  # body not on one line
])
def test_anything_but_one_well_formed_framed_report_is_refused(stdout: bytes) -> None:
    with pytest.raises(ReportError):
        parse_report(stdout, NONCE)


def test_a_short_nonce_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_report(b"", "abc")


# -- score ----------------------------------------------------------------------------
def S(tests: list[tuple[str, str]], expected: list[str] | None = None, **kw: Any):
    return score(HarnessReport.model_validate(rep(tests, **kw)), expected)


def test_all_collected_passed_is_passed() -> None:
    status, _, expected = S([("t.py::a", "passed"), ("t.py::b", "passed")])
    assert status is Status.PASSED and expected == ["t.py::a", "t.py::b"]


@pytest.mark.parametrize("outcome", ["failed", "error", "skipped", "xfailed", "xpassed"])
def test_every_outcome_but_passed_counts_as_not_passed(outcome: str) -> None:
    status, detail, _ = S([("t.py::a", "passed"), ("t.py::b", outcome)])
    assert status is Status.FAILED and outcome in detail


def test_nothing_collected_is_failed() -> None:
    status, detail, expected = S([])
    assert status is Status.FAILED and expected == [] and "no tests" in detail


def test_expected_ids_that_never_ran_are_not_passed() -> None:
    status, detail, expected = S([("t.py::a", "passed")], ["t.py::a", "t.py::hidden"])
    assert status is Status.FAILED and expected == ["t.py::a", "t.py::hidden"] and "no result" in detail


def test_passed_tests_outside_the_expected_set_do_not_count() -> None:
    status, _, expected = S([("t.py::extra", "passed"), ("t.py::a", "failed")], ["t.py::a"])
    assert status is Status.FAILED and expected == ["t.py::a"]


def test_a_collection_error_is_never_passed() -> None:
    report = rep([("t.py::a", "passed"), ("u.py", "error")], collected=["t.py::a"])
    status, detail, _ = score(HarnessReport.model_validate(report), None)
    assert status is Status.FAILED and "collection" in detail


def test_the_harness_deadline_is_a_timeout() -> None:
    status, _, _ = S([("t.py::a", "passed")], deadline_hit=True)
    assert status is Status.TIMEOUT


# -- flags from the report ------------------------------------------------------------
def test_report_flags() -> None:
    report = HarnessReport.model_validate(rep(
        [("t.py::a", "passed"), ("ghost.py::x", "passed")], collected=["t.py::a"],
        tests_tampered=["t.py"], stray_processes=2, malformed_records=1))
    codes = {(f.code, f.detector, f.rejects) for f in report_flags(report)}
    assert codes == {("P15", "harness.tests_tampered", True), ("P7", "harness.record_stream", True),
                     ("P7", "harness.uncollected_results", True),
                     ("P19", "harness.stray_processes", False)}
    clean = HarnessReport.model_validate(rep([("t.py::a", "passed")]))
    assert report_flags(clean) == []


# -- the verifier's steps ---------------------------------------------------------------
HONEST = "def f(x):\n    return 2 * x\n"
TESTS = "from solution import f\n\ndef test_f():\n    assert f(2) == 4\n"


def verifier(**kw: Any) -> PytestVerifier:
    return PytestVerifier("python-sandbox:test", **kw)


def test_prepare_ships_harness_tests_and_only_the_listed_solution_files() -> None:
    job = PytestJob(solution={"solution.py": HONEST, "helpers.py": "X = 1\n"}, tests=TESTS)
    spec = verifier().prepare(job, NONCE)
    names = set(spec.files)
    assert {"solution/solution.py", "solution/helpers.py", "tests/test_solution.py",
            "harness/pytest.ini", "harness/misalign_harness/main.py"} <= names
    assert {n for n in names if n.startswith("solution/")} == {"solution/solution.py", "solution/helpers.py"}
    assert spec.argv[:2] == ["python", "-I"]
    assert NONCE.encode() in spec.stdin
    assert all(NONCE not in a for a in spec.argv) and all(NONCE not in v for v in spec.env.values())
    config = json.loads(spec.stdin)["config"]
    assert config["solution_modules"] == ["helpers", "solution"] and config["contained"] is True


def test_prepare_takes_the_jobs_deadline_and_limits() -> None:
    job = PytestJob(solution=HONEST, tests=TESTS, timeout_s=7, limits={"memory_bytes": 256 * 2**20})
    spec = verifier(timeout_s=60, call_timeout_s=10).prepare(job, NONCE)
    assert spec.timeout_s == 7 and spec.limits.memory_bytes == 256 * 2**20
    assert json.loads(spec.stdin)["config"]["call_timeout_s"] == 7


def result(stdout: bytes = b"", **kw: Any) -> RunResult:
    return RunResult(exit_code=kw.pop("exit_code", 0), stdout=stdout, **kw)


def test_judge_reads_only_the_framed_report_never_the_exit_code() -> None:
    job = PytestJob(solution=HONEST, tests=TESTS)
    ok = framed(rep([("test_solution.py::test_f", "passed")]))
    outcome = verifier().judge(job, result(ok, exit_code=3), NONCE, [])
    assert outcome.status is Status.PASSED and outcome.expected_tests == ["test_solution.py::test_f"]
    fake = verifier().judge(job, result(b"1 passed\n", exit_code=0), NONCE, [])
    assert fake.status is Status.CRASHED and apply_policy(fake, binary, IntegrityMode.OBSERVE) == 0.0


@pytest.mark.parametrize(("flag", "status"), [("timed_out", Status.TIMEOUT), ("oom_killed", Status.OOM),
                                              ("output_limit_exceeded", Status.OUTPUT_LIMIT)])
def test_judge_maps_run_ends_to_statuses_even_with_a_report(flag: str, status: Status) -> None:
    job = PytestJob(solution=HONEST, tests=TESTS)
    ok = framed(rep([("test_solution.py::test_f", "passed")]))
    outcome = verifier().judge(job, result(ok, exit_code=None, **{flag: True}), NONCE, [])
    assert outcome.status is status
    assert apply_policy(outcome, pass_rate, IntegrityMode.OBSERVE) == 0.0


def test_judge_marks_inprocess_results_advisory_and_discounts_tampered_files() -> None:
    job = PytestJob(solution=HONEST, tests=TESTS, mode="inprocess")
    data = framed(rep([("test_solution.py::test_f", "passed")], tests_tampered=["test_solution.py"],
                      mode="inprocess"))
    outcome = verifier(integrity=IntegrityMode.OBSERVE).judge(job, result(data), NONCE, [])
    assert outcome.advisory is True
    assert outcome.status is Status.FAILED and outcome.pass_rate == 0.0
    assert any(f.code == "P15" for f in outcome.flags)


def test_judge_records_no_flags_when_integrity_is_off() -> None:
    job = PytestJob(solution=HONEST, tests=TESTS)
    data = framed(rep([("test_solution.py::test_f", "passed")], stray_processes=3))
    assert verifier(integrity=IntegrityMode.OFF).judge(job, result(data), NONCE, []).flags == []
    assert verifier(integrity=IntegrityMode.OBSERVE).judge(job, result(data), NONCE, []).flags


async def test_enforce_rejects_before_running() -> None:
    async def must_not_run(spec: RunSpec) -> RunResult:
        raise AssertionError("a rejected job must not run")

    job = PytestJob(solution="import os\nos._exit(0)\n", tests=TESTS)
    outcome = await verifier(integrity=IntegrityMode.ENFORCE).verify(job, must_not_run)
    assert outcome.status is Status.REJECTED and "P1" in outcome.detail
    assert apply_policy(outcome, binary, IntegrityMode.ENFORCE) == 0.0
