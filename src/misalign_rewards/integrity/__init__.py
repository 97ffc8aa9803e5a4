"""Detectors of reward-gaming attempts. Each detector is one small function over the
submitted source that returns :class:`~misalign_rewards.outcomes.IntegrityFlag` objects.

Detectors flag; they are easy to obfuscate around and are never the only defence (the
harness and the trusted Lean steps are). See docs/integrity.md.
"""

from __future__ import annotations

from enum import StrEnum


class IntegrityMode(StrEnum):
    #: A rejecting flag zeroes the reward (and, where the check is static, skips the run).
    ENFORCE = "enforce"
    #: Reward as computed; flags recorded. For studying how policies game rewards.
    OBSERVE = "observe"
    #: No detectors run; no flags.
    OFF = "off"


__all__ = ["IntegrityMode"]
