"""The verifier contract: turn a job into one or more sandbox runs and judge them.

A verifier receives a ``run`` function rather than a sandbox, so a multi-step check
(Lean: compile, then a trusted axioms step in a fresh container) is plain sequential
code, and tests can hand it any real backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ..outcomes import Outcome
from ..sandbox.base import OutputCallback, RunResult, RunSpec

RunFn = Callable[[RunSpec], Awaitable[RunResult]]
J_contra = TypeVar("J_contra", contravariant=True)


class Verifier(Protocol[J_contra]):
    kind: str

    async def verify(self, job: J_contra, run: RunFn) -> Outcome:
        """Run ``job`` through ``run`` (once or more) and judge what happened.

        Raises only :class:`~misalign_rewards.errors.InfrastructureError` (from ``run``);
        everything the submitted code can cause is an :class:`Outcome`."""
        ...


__all__ = ["OutputCallback", "RunFn", "Verifier"]
