"""Reward policies, job validation and the public API (pure; no engine)."""

from __future__ import annotations

import pytest

import misalign_rewards
from misalign_rewards.client import percentile
from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import InvalidJob, LeanJob, PytestJob, parse_job
from misalign_rewards.outcomes import IntegrityFlag, Outcome, Status, TestCase
from misalign_rewards.rewards import apply_policy, binary, pass_rate, resolve_policy


def outcome(status: Status, passed: int = 0, expected: int = 0, **kw: object) -> Outcome:
    tests = [TestCase(id=f"t{i}", outcome="passed" if i < passed else "failed") for i in range(expected)]
    return Outcome(status=status, tests=tests, expected_tests=[t.id for t in tests], **kw)


def test_binary_and_pass_rate() -> None:
    assert binary(outcome(Status.PASSED, 3, 3)) == 1.0
    assert binary(outcome(Status.FAILED, 2, 3)) == 0.0
    assert pass_rate(outcome(Status.FAILED, 2, 4)) == 0.5
    assert binary(outcome(Status.PROVED)) == pass_rate(outcome(Status.PROVED)) == 1.0
    assert binary(outcome(Status.PASSED, 0, 0)) == 0.0  # nothing expected is not a pass
    for status in (Status.TIMEOUT, Status.OOM, Status.CRASHED, Status.HAS_SORRY, Status.COMPILE_ERROR):
        assert binary(outcome(status)) == pass_rate(outcome(status)) == 0.0


def test_infrastructure_trouble_is_never_a_reward() -> None:
    for status in (Status.INFRA_ERROR, Status.INVALID_INPUT):
        assert apply_policy(outcome(status), binary, IntegrityMode.ENFORCE) is None
        assert apply_policy(outcome(status), lambda o: 1.0, IntegrityMode.OFF) is None


def test_enforce_zeroes_rejecting_flags_observe_does_not() -> None:
    flagged = outcome(Status.PASSED, 2, 2, flags=[IntegrityFlag(code="P1", detector="d", detail="x")])
    weak = outcome(Status.PASSED, 2, 2, flags=[IntegrityFlag(code="P2", detector="d", detail="x", rejects=False)])
    assert apply_policy(flagged, binary, IntegrityMode.ENFORCE) == 0.0
    assert apply_policy(flagged, binary, IntegrityMode.OBSERVE) == 1.0
    assert apply_policy(weak, binary, IntegrityMode.ENFORCE) == 1.0
    assert apply_policy(outcome(Status.REJECTED), binary, IntegrityMode.OBSERVE) == 0.0


def test_custom_policy_and_unknown_names() -> None:
    policy = resolve_policy(lambda o: 0.25 if o.status is Status.FAILED else 1.0)
    assert apply_policy(outcome(Status.FAILED, 1, 2), policy, IntegrityMode.ENFORCE) == 0.25
    with pytest.raises(ValueError, match="unknown reward policy"):
        resolve_policy("generous")
    with pytest.raises(TypeError):
        apply_policy(outcome(Status.PASSED, 1, 1), lambda o: "1", IntegrityMode.OFF)  # type: ignore[arg-type,return-value]


def test_parse_job_names_the_field_and_the_item() -> None:
    assert isinstance(parse_job({"kind": "pytest", "solution": "x = 1", "tests": "def test_a(): pass"}), PytestJob)
    assert isinstance(parse_job({"kind": "lean", "statement": "True", "proof": "trivial"}), LeanJob)
    bad = parse_job({"kind": "pytest", "solution": "x", "tests": "t", "solution_module": "../x.py"}, 7)
    assert isinstance(bad, InvalidJob) and bad.index == 7 and "solution_module" in bad.error
    bad = parse_job({"kind": "pytest", "solution": {"a b.py": "x"}, "tests": "t"})
    assert isinstance(bad, InvalidJob) and "file name" in bad.error
    bad = parse_job({"kind": "lean", "source": "theorem x : True := trivial"})
    assert isinstance(bad, InvalidJob) and "theorem" in bad.error
    bad = parse_job({"kind": "ruby"})
    assert isinstance(bad, InvalidJob) and "kind" in bad.error
    bad = parse_job({"kind": "pytest", "solution": "x", "tests": "t", "colour": "red"})
    assert isinstance(bad, InvalidJob) and "colour" in bad.error


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 95) == 95 and percentile(values, 99) == 99
    assert percentile([3.0], 99) == 3.0 and percentile([], 50) is None


def test_public_names_are_exported_explicitly() -> None:
    exported = set(misalign_rewards.__all__)
    assert len(exported) == len(misalign_rewards.__all__)
    for name in exported:
        assert hasattr(misalign_rewards, name), name
    public = {n for n, v in vars(misalign_rewards).items()
              if not n.startswith("_") and not isinstance(v, type(misalign_rewards)) and n not in {"version"}}
    public -= {"PackageNotFoundError"}
    assert public <= exported, public - exported


async def test_lean_reject_tokens_setting_reaches_the_verifier() -> None:
    from misalign_rewards import RewardClient, Settings
    from misalign_rewards.errors import InvalidSpec

    class Attempted(Exception):
        """Raised by the run function: the verifier went on to run the job."""

    async def run(spec: object) -> object:
        raise Attempted

    job = LeanJob(statement="True", proof="trivial\naxiom cheat : False", imports=[])
    only_sorry = RewardClient(Settings(lean_reject_tokens=frozenset({"sorry"})))
    assert only_sorry.verifiers["lean"].reject_tokens == frozenset({"sorry"})
    with pytest.raises(Attempted):  # `axiom` flags but no longer rejects up front
        await only_sorry.verifiers["lean"].verify(job, run)
    default = await RewardClient(Settings()).verifiers["lean"].verify(job, run)
    assert default.status is Status.REJECTED and any(f.code == "L2" for f in default.flags)
    with pytest.raises(InvalidSpec):
        RewardClient(Settings(lean_reject_tokens=frozenset({"no-such-token"})))
