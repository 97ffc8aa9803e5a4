"""Reward policies: an :class:`Outcome` in, a float (or None) out.

Infrastructure trouble and invalid input are never a reward: every policy here returns
``None`` for them, whatever it would say otherwise. Under integrity mode ``enforce`` a
rejecting flag makes the reward 0.0 (:func:`apply_policy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .integrity import IntegrityMode
from .outcomes import Outcome, Status


class RewardPolicy(Protocol):
    def __call__(self, outcome: Outcome) -> float | None: ...


def binary(outcome: Outcome) -> float | None:
    """1.0 when every expected test passed (pytest) or the theorem is proved (lean)."""
    if outcome.status is Status.PROVED:
        return 1.0
    if outcome.status is Status.PASSED:
        return 1.0 if outcome.expected_tests and outcome.pass_rate == 1.0 else 0.0
    return 0.0


def pass_rate(outcome: Outcome) -> float | None:
    """Fraction of expected tests passed; for Lean, the same as :func:`binary`."""
    if outcome.status is Status.PROVED:
        return 1.0
    if outcome.status in (Status.PASSED, Status.FAILED):
        return outcome.pass_rate
    return 0.0


POLICIES: dict[str, RewardPolicy] = {"binary": binary, "pass_rate": pass_rate}


def resolve_policy(policy: str | RewardPolicy | Callable[[Outcome], float | None]) -> RewardPolicy:
    if callable(policy):
        return policy  # type: ignore[return-value]  # a plain function is a RewardPolicy (its __call__)
    try:
        return POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown reward policy {policy!r}; known: {sorted(POLICIES)}") from None


def apply_policy(outcome: Outcome, policy: RewardPolicy, mode: IntegrityMode) -> float | None:
    """The reward for ``outcome``: None for trouble that is not the code's, 0.0 for a
    rejecting flag under ``enforce``, else whatever ``policy`` says."""
    if outcome.status.has_no_reward:
        return None
    if outcome.status is Status.REJECTED:
        return 0.0
    if mode is IntegrityMode.ENFORCE and any(f.rejects for f in outcome.flags):
        return 0.0
    value = policy(outcome)
    if value is not None and not isinstance(value, (int, float)):
        raise TypeError(f"reward policy returned {type(value).__name__}, expected float or None")
    return None if value is None else float(value)
