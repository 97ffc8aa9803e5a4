"""A TRL-style reward function on two completions for one task.

In a GRPO trainer: ``GRPOTrainer(..., reward_funcs=[make_trl_reward()])`` with a dataset
column ``tests`` holding each prompt's test source. Here we call it the way the trainer
does, with the completions and the batch's columns as keyword arguments.

    .venv/bin/python examples/trl_reward.py
"""

import logging

import anyio
import structlog

from misalign_rewards import Settings, make_trl_reward

TESTS = "from solution import double\n\ndef test_double():\n    assert double(21) == 42\n"

completions = [
    # chat format, the solution in a fenced block
    [{"role": "assistant", "content": "Here you go:\n```python\ndef double(x):\n    return 2 * x\n```"}],
    # plain text, a wrong solution
    "```python\ndef double(x):\n    return x + 2\n```",
]


async def main() -> None:
    reward = make_trl_reward(Settings())
    rewards = await reward(completions, tests=[TESTS, TESTS], prompts=["double it", "double it"])
    print(f"{reward.__name__}: {rewards}")
    assert rewards == [1.0, 0.0], rewards


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    anyio.run(main)
