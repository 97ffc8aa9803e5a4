"""A sandbox wrapper for running one test's jobs in fresh and in warm containers unchanged
(the ``any_sandbox`` fixture of tests/conftest.py, and tests that annotate with it)."""

from __future__ import annotations

from misalign_rewards.sandbox.base import OutputCallback, RunResult, RunSpec, Sandbox
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.verifiers.pytest import PytestVerifier


class ForcedIsolation(Sandbox):
    """Runs every pytest-job spec with the given ``isolation``: ``fresh`` as it comes,
    ``pooled`` with the verifier's WarmSpec added, in warm containers of a real
    PooledSandbox. For running one test's jobs in both modes unchanged."""

    def __init__(self, pool: PooledSandbox, isolation: str) -> None:
        self.pool = pool
        self.isolation = isolation
        self._warm: dict[tuple[str, str], object] = {}

    async def run(self, spec: RunSpec, *, on_output: OutputCallback | None = None) -> RunResult:
        if self.isolation == "pooled" and spec.warm is None and "harness/pytest.ini" in spec.files:
            key = (spec.image, spec.workdir)
            if key not in self._warm:
                self._warm[key] = PytestVerifier(spec.image, workdir=spec.workdir, isolation="pooled")._warm
            spec = spec.model_copy(update={"isolation": "pooled", "warm": self._warm[key]})
        return await self.pool.run(spec, on_output=on_output)

    async def aclose(self) -> None:
        await self.pool.aclose()
