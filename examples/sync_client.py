"""Rewards from code that is not async: ``SyncRewardClient`` runs the client's event
loop in a background thread.

    .venv/bin/python examples/sync_client.py
"""

import logging

import structlog

from misalign_rewards import SyncRewardClient

TESTS = "from solution import square\n\ndef test_square():\n    assert square(3) == 9\n"
batch = [
    {"kind": "pytest", "solution": "def square(x):\n    return x * x\n", "tests": TESTS},
    {"kind": "pytest", "solution": "def square(x):\n    return x + x\n", "tests": TESTS},
    {"kind": "pytest", "tests": TESTS},  # invalid: no solution -> None, named in the result
]

if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with SyncRewardClient() as client:
        results = client.score(batch)
    for r in results:
        print(r.index, r.status.value, r.reward, r.error or "")
    assert [r.reward for r in results] == [1.0, 0.0, None]
