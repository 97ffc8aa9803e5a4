"""The honest corpus through the real sandbox: every pair as a ``PytestJob`` judged by
``PytestVerifier`` under ``enforce``, a few at a time, and what each earned.

Shared by tests/honest/test_corpus_isolated.py and report.py."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import anyio

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome
from misalign_rewards.rewards import apply_policy, binary
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.verifiers.pytest import NEEDS_INPROCESS, PytestVerifier

from .corpus import Pair

Mode = Literal["isolated", "inprocess"]
Isolation = Literal["fresh", "pooled"]


def python_image() -> str:
    """The python-sandbox image the test suite uses (tests/conftest.py's default)."""
    registry = os.environ.get("REGISTRY", "ghcr.io/your-org/misalign-fv").rstrip("/")
    return os.environ.get("MISALIGN_PYTHON_IMAGE", f"{registry}/python-sandbox:latest")


def job(pair: Pair, mode: Mode) -> PytestJob:
    return PytestJob(solution=pair.solution_files, tests=pair.test_files, mode=mode)


@dataclass(frozen=True)
class Verdict:
    """What one pair earned, and why when it was not 1.0."""

    pair_id: str
    reward: float | None
    status: str
    needs_inprocess: bool
    flags: tuple[str, ...]
    #: The first test that did not pass and its message, or the outcome's detail.
    why: str

    @property
    def earned(self) -> bool:
        return self.reward == 1.0


def verdict(pair_id: str, outcome: Outcome) -> Verdict:
    failing = [t for t in outcome.tests if t.outcome.value != "passed"]
    why = f"{failing[0].id}: {failing[0].message}" if failing else outcome.detail
    return Verdict(
        pair_id=pair_id,
        reward=apply_policy(outcome, binary, IntegrityMode.ENFORCE),
        status=outcome.status.value,
        needs_inprocess=any(f.code == NEEDS_INPROCESS for f in outcome.flags),
        flags=tuple(f.code for f in outcome.flags),
        why=" ".join((why or "").split())[:400],
    )


async def score(pairs: Iterable[Pair], *, mode: Mode = "isolated", isolation: Isolation = "fresh",
                image: str | None = None, concurrency: int = 4) -> dict[str, Outcome]:
    """Every pair judged once under ``enforce``: outcomes by pair id."""
    verifier = PytestVerifier(image or python_image(), timeout_s=60, integrity=IntegrityMode.ENFORCE,
                              isolation=isolation)
    out: dict[str, Outcome] = {}
    limiter = anyio.CapacityLimiter(concurrency)
    async with PooledSandbox(DockerSandbox()) as sb:

        async def one(pair: Pair) -> None:
            async with limiter:
                out[pair.id] = await verifier.verify(job(pair, mode), sb.run)

        async with anyio.create_task_group() as tg:
            for pair in pairs:
                tg.start_soon(one, pair)
    return out
