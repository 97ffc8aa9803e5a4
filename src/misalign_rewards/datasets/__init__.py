"""Ready-made job sets built from public benchmarks.

Each loader turns a dataset into validated jobs with the task's identity in
``metadata``; the datasets themselves are optional dependencies, imported only when a
loader is called.
"""

from __future__ import annotations

from .humaneval import expected_reward, expected_rewards, humaneval_jobs

__all__ = ["expected_reward", "expected_rewards", "humaneval_jobs"]
