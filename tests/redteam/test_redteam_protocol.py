"""Red team for isolated mode's object protocol (tests/support/protocol_corpus.py), against
the real sandbox, in fresh and in pooled containers: every honest control earns 1.0 under
``enforce`` and no attack earns anything. All jobs of one isolation run as one batch
(a few at a time), so the whole file takes a few minutes."""

from __future__ import annotations

import functools
from pathlib import Path

import anyio
import pytest

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome
from misalign_rewards.rewards import apply_policy, binary
from support.judging import judge_all
from support.protocol_corpus import ATTACKS, TASKS

pytestmark = pytest.mark.docker


def _jobs() -> list[tuple[str, PytestJob]]:
    jobs = [(f"honest:{name}", PytestJob(solution=task.honest, tests=task.tests)) for name, task in TASKS.items()]
    for attack in ATTACKS:
        for i in range(attack.repeat):
            jobs.append((f"{attack.name}#{i}", PytestJob(solution=attack.solution, tests=TASKS[attack.task].tests)))
    return jobs


def _judge(image: str, isolation: str) -> dict[str, Outcome]:
    jobs = _jobs()
    results = anyio.run(functools.partial(judge_all, image, [job for _, job in jobs], timeout_s=30,
                                          call_timeout_s=3.0, isolation=isolation))
    return {name: outcome for (name, _), (outcome, _) in zip(jobs, results, strict=True)}


@pytest.fixture(scope="module", params=["fresh", "pooled"])
def outcomes(request: pytest.FixtureRequest, python_image: str) -> dict[str, Outcome]:
    return _judge(python_image, str(request.param))


def _enforce(outcome: Outcome) -> float | None:
    return apply_policy(outcome, binary, IntegrityMode.ENFORCE)


@pytest.mark.parametrize("task", list(TASKS))
def test_the_honest_solution_earns_full_reward(outcomes: dict[str, Outcome], task: str) -> None:
    outcome = outcomes[f"honest:{task}"]
    assert _enforce(outcome) == 1.0, outcome
    assert not outcome.flags, outcome.flags


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.must == "zero"], ids=lambda a: a.name)
def test_no_attack_earns_anything(outcomes: dict[str, Outcome], attack: object) -> None:
    name = attack.name  # type: ignore[attr-defined]
    runs = [o for k, o in outcomes.items() if k.split("#")[0] == name]
    assert runs
    for outcome in runs:
        assert _enforce(outcome) == 0.0, (name, outcome.status, [t.outcome.value for t in outcome.tests])


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.must == "known_limit"], ids=lambda a: a.name)
def test_known_limits_are_what_the_docs_say(outcomes: dict[str, Outcome], attack: object) -> None:
    """A way to a reward isolated mode does not close (plain pytest pays it too): it is
    named in docs/integrity.md, and this pins what it earns, so closing it shows here."""
    name = attack.name  # type: ignore[attr-defined]
    docs = (Path(__file__).parents[2] / "docs" / "integrity.md").read_text()
    assert f"`{name}`" in docs
    for outcome in [o for k, o in outcomes.items() if k.split("#")[0] == name]:
        assert _enforce(outcome) == 1.0, (name, outcome.status)
