"""A verl-style ``compute_score`` (synchronous, one sample per call).

In verl, point ``custom_reward_function.path`` at a module exposing ``compute_score``;
this file shows the function such a module would expose and calls it like verl does.

    .venv/bin/python examples/verl_score.py
"""

import logging

import structlog

from misalign_rewards import make_verl_compute_score

compute_score = make_verl_compute_score()

TESTS = "from solution import is_even\n\ndef test_even():\n    assert is_even(4)\n\ndef test_odd():\n    assert not is_even(7)\n"

if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        good = compute_score("my-code-dataset", "```python\ndef is_even(n):\n    return n % 2 == 0\n```", TESTS)
        bad = compute_score("my-code-dataset", "def is_even(n):\n    return True\n", TESTS)
    finally:
        compute_score.close()
    print("good:", good)
    print("bad: ", bad)
    assert good["score"] == 1.0 and bad["score"] == 0.0
