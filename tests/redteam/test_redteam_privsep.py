"""Red team for the separation of trusted and untrusted code
(tests/support/privsep_corpus.py), against the real sandbox. Every attack must earn 0
under ``enforce`` and say how (its status or a flag); the race-based ones (report theft,
a process that keeps changing its pid) are tried 50 times each, since a race lost 9 times
in 10 is still a hole."""

from __future__ import annotations

import functools
from collections import Counter

import anyio
import pytest

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome, Status
from misalign_rewards.rewards import apply_policy, binary, pass_rate
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.verifiers.pytest import PytestVerifier
from support.judging import judge_all
from support.privsep_corpus import (
    COLLIDING,
    COLLIDING_TESTS,
    CONTROL_FLOW,
    CONTROL_FLOW_TESTS,
    IMPORT_TIME,
    IMPORT_TIME_TESTS,
    IN_THE_TESTS_GROUP,
    PROBE,
    PROBE_TESTS,
    REPLAY,
    SLOW_SUITE,
    SLOW_SUITE_TESTS,
    SURVIVOR_EXPECTED,
    SURVIVOR_TESTS,
    SURVIVORS,
    TASK_HONEST,
    TASK_TESTS,
    THEFT,
    survivor,
)

pytestmark = pytest.mark.docker
RACE_TRIES = 50


def enforce_reward(outcome: Outcome) -> float | None:
    return apply_policy(outcome, binary, IntegrityMode.ENFORCE)


def says_how(outcome: Outcome) -> bool:
    """A zero that is explained: not passed, or carrying a flag."""
    return outcome.status is not Status.PASSED or bool(outcome.flags)


@pytest.fixture(scope="module", params=["fresh", "pooled"])
def iso(request: pytest.FixtureRequest) -> str:
    """Every case runs in fresh and in warm (pooled) containers: the same verdicts."""
    return str(request.param)


# -- survivors ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def survivors(python_image: str, iso: str) -> dict[str, list[Outcome]]:
    kinds = list(SURVIVORS)
    tries = {k: (RACE_TRIES if k in ("fork-runner", "zombie-child-thread-relay") else 6) for k in kinds}
    jobs, keys = [], []
    for kind in kinds:
        for _ in range(tries[kind]):
            jobs.append(PytestJob(solution=survivor(kind), tests=SURVIVOR_TESTS,
                                  expected_tests=SURVIVOR_EXPECTED))
            keys.append(kind)
    results = anyio.run(functools.partial(judge_all, python_image, jobs, isolation=iso))
    by: dict[str, list[Outcome]] = {k: [] for k in kinds}
    for kind, (outcome, _) in zip(keys, results, strict=True):
        by[kind].append(outcome)
    return by


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SURVIVORS))
def test_no_survivor_outlives_its_test(survivors: dict[str, list[Outcome]], kind: str) -> None:
    outcomes = survivors[kind]
    for outcome in outcomes:
        survive = [t for t in outcome.tests if t.id == SURVIVOR_EXPECTED[0]]
        assert survive and survive[0].outcome.value == "failed", outcome
        assert enforce_reward(outcome) == 0.0 and apply_policy(outcome, pass_rate, IntegrityMode.ENFORCE) == 0.0
        # how: the survivor's test failed; the harness saw it (a process that keeps
        # changing its pid may slip past the count, never past the kill) or the scan did
        assert any(f.code == "P19" for f in outcome.flags), outcome.flags
        if kind != "fork-runner" and kind not in IN_THE_TESTS_GROUP:
            assert outcome.extra["harness"]["stray_processes"] >= 1
    print(f"{kind}: {len(outcomes)} tries, statuses {Counter(o.status.value for o in outcomes)}")


# -- theft and replay -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["isolated", "inprocess"])
def test_stealing_the_report_through_pid1_and_forging_a_pass_never_pays(python_image: str,
                                                                         mode: str, iso: str) -> None:
    tries = RACE_TRIES if mode == "isolated" else 10
    jobs = [PytestJob(solution=THEFT, tests=TASK_TESTS, mode=mode) for _ in range(tries)]
    results = anyio.run(functools.partial(judge_all, python_image, jobs, isolation=iso))
    statuses = Counter(o.status.value for o, _ in results)
    for outcome, _ in results:
        assert enforce_reward(outcome) == 0.0, outcome
        assert says_how(outcome)
        # the forgery never even reached stdout: no report failed authentication
        assert not any(f.code == "AUTH" for f in outcome.flags), outcome
        assert outcome.passed_ids == set(), outcome
    print(f"theft in {mode}/{iso}: {tries} tries, statuses {statuses}")


def test_a_genuine_report_from_another_run_is_worth_nothing(python_image: str) -> None:
    async def go() -> tuple[Outcome, Outcome, Outcome]:
        async with DockerSandbox() as sb:
            verifier = PytestVerifier(python_image, timeout_s=20)
            honest = PytestJob(solution=TASK_HONEST, tests=TASK_TESTS)
            key, run_id = b"k" * 32, "replay0001"
            genuine = await sb.run(verifier.prepare(honest, key, run_id))
            assert verifier.judge(honest, genuine, key, run_id, []).status is Status.PASSED
            # 1. the policy ships the genuine report and writes it everywhere it can
            replayer = PytestJob(solution=REPLAY.format(report=genuine.stdout), tests=TASK_TESTS)
            observe = PytestVerifier(python_image, timeout_s=20, integrity=IntegrityMode.OBSERVE)
            attacked = await observe.verify(replayer, sb.run)
            # 2. the same report arriving as a new run's stdout (as if it had got through)
            copied = verifier.judge(honest, genuine, b"x" * 32, "another-run", [])
            replayed = verifier.judge(honest, genuine, key, "another-run", [])
            return attacked, copied, replayed

    attacked, copied, replayed = anyio.run(go)
    assert enforce_reward(attacked) == 0.0 and attacked.status is Status.FAILED, attacked
    for outcome in (copied, replayed):
        assert outcome.status is Status.CRASHED, outcome
        assert [f.code for f in outcome.flags] == ["AUTH"], outcome.flags
        assert enforce_reward(outcome) == 0.0


# -- the wire, import time, decoding, the harness's deadline --------------------------------


@pytest.fixture(scope="module")
def wire_cases(python_image: str, iso: str) -> dict[str, Outcome]:
    names, jobs = [], []
    for name, source in CONTROL_FLOW.items():
        names.append(f"control:{name}")
        jobs.append(PytestJob(solution=source, tests=CONTROL_FLOW_TESTS))
    names.append("import-time")
    jobs.append(PytestJob(solution=IMPORT_TIME, tests=IMPORT_TIME_TESTS))
    names.append("colliding")
    jobs.append(PytestJob(solution=COLLIDING, tests=COLLIDING_TESTS, call_timeout_s=1.0))
    results = anyio.run(functools.partial(judge_all, python_image, jobs, isolation=iso))
    return {n: o for n, (o, _) in zip(names, results, strict=True)}


@pytest.mark.parametrize("name", list(CONTROL_FLOW))
def test_control_flow_exceptions_do_not_end_the_tests_iterations(wire_cases: dict[str, Outcome],
                                                                 name: str) -> None:
    outcome = wire_cases[f"control:{name}"]
    assert outcome.status is Status.FAILED, outcome
    assert {t.outcome.value for t in outcome.tests} == {"failed"}, outcome.tests
    assert enforce_reward(outcome) == 0.0 and outcome.pass_rate == 0.0
    if name != "GeneratorExit":  # that one ends the solution's process: a fault
        assert all("RuntimeError" in t.message for t in outcome.tests), outcome.tests


def test_a_solution_called_at_import_time_cannot_read_the_tests(wire_cases: dict[str, Outcome]) -> None:
    outcome = wire_cases["import-time"]
    assert outcome.status is Status.FAILED and outcome.pass_rate == 0.0, outcome
    assert enforce_reward(outcome) == 0.0


def test_a_quadratic_answer_faults_its_call_not_the_run(wire_cases: dict[str, Outcome]) -> None:
    outcome = wire_cases["colliding"]
    by = {t.id.split("::")[1]: t for t in outcome.tests}
    # the harness gave up decoding after the call's deadline and went on to the next test
    assert outcome.status is Status.FAILED, outcome
    assert by["test_collide"].outcome.value == "failed"
    assert "longer than the call's deadline" in by["test_collide"].message, by["test_collide"]
    assert by["test_small"].outcome.value == "passed"
    assert outcome.extra["harness"]["deadline_hit"] is False


def test_the_harness_ends_on_its_own_deadline_before_the_containers(python_image: str, iso: str) -> None:
    job = PytestJob(solution=SLOW_SUITE, tests=SLOW_SUITE_TESTS, timeout_s=8)
    ((outcome, run),) = anyio.run(lambda: judge_all(python_image, [job], keep_runs=True, isolation=iso))
    assert outcome.status is Status.TIMEOUT, outcome
    # a sealed report says so: the harness, not the container kill, ended the run
    assert outcome.extra["harness"]["deadline_hit"] is True
    assert run is not None and not run.timed_out
    assert {t.id.split("::")[1]: t.outcome.value for t in outcome.tests}["test_fast"] == "passed"


# -- the probe -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["isolated", "inprocess"])
def test_no_trusted_process_can_be_reached(python_image: str, mode: str, iso: str) -> None:
    tests = {k: v.replace('assert got["tests_readable"] is False',
                          f'assert got["tests_readable"] is {mode == "inprocess"}')
             for k, v in PROBE_TESTS.items()}
    ((outcome, _),) = anyio.run(functools.partial(
        judge_all, python_image, [PytestJob(solution=PROBE, tests=tests, mode=mode)], isolation=iso))
    assert outcome.status is Status.PASSED, outcome.tests[0].message if outcome.tests else outcome
    assert outcome.extra["harness"]["nondumpable"] is True
