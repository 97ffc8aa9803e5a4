"""Many pytest jobs judged at once on the real sandbox, the way the red-team tests judge
their attacks: one verifier under ``observe`` (so the harness's own verdict is visible;
an ``enforce`` reward is computed from the outcome), warm or fresh containers of one
pooled sandbox, a few jobs at a time."""

from __future__ import annotations

from typing import Any

import anyio

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome
from misalign_rewards.sandbox.base import RunResult, RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.verifiers.pytest import PytestVerifier


async def judge_all(image: str, jobs: list[PytestJob], *, timeout_s: float = 20.0,
                    call_timeout_s: float = 2.0, concurrency: int = 3,
                    keep_runs: bool = False, isolation: str = "fresh") -> list[tuple[Outcome, RunResult | None]]:
    # observe: the harness's own verdict is visible; the enforce reward is computed from it
    verifier = PytestVerifier(image, timeout_s=timeout_s, call_timeout_s=call_timeout_s,
                              integrity=IntegrityMode.OBSERVE, isolation=isolation)
    out: list[Any] = [None] * len(jobs)
    limiter = anyio.CapacityLimiter(concurrency)
    async with PooledSandbox(DockerSandbox()) as sb:

        async def one(i: int, job: PytestJob) -> None:
            runs: list[RunResult] = []

            async def run(spec: RunSpec) -> RunResult:
                res = await sb.run(spec)
                runs.append(res)
                return res

            async with limiter:
                outcome = await verifier.verify(job, run)
            out[i] = (outcome, runs[0] if keep_runs and runs else None)

        async with anyio.create_task_group() as tg:
            for i, job in enumerate(jobs):
                tg.start_soon(one, i, job)
    return out
