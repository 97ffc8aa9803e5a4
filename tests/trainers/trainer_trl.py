"""TRL 1.16's own GRPOTrainer, one step on CPU with a model and tokenizer made here,
scoring with make_trl_reward. Run in .venv-trainers by tests/test_trainers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from misalign_rewards import Settings, make_trl_reward
from support import tiny

PASSES = "def test_ok():\n    assert True\n"            # whatever the model writes
FAILS = "def test_no():\n    assert False\n"


@pytest.mark.docker
def test_grpo_trainer_one_step(tmp_path: Path, python_image: str) -> None:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    tok = tiny.tokenizer()
    model = tiny.causal_lm(tok)
    reward = make_trl_reward(Settings(python_image=python_image), on_infra_error="raise")
    seen: list[tuple[list[str], list[float | None]]] = []

    async def recorded(completions, **kwargs):  # what TRL hands the reward and what it gets back
        rewards = await reward(completions, **kwargs)
        seen.append((list(kwargs["tests"]), rewards))
        return rewards

    recorded.__name__ = reward.__name__
    data = Dataset.from_list([{"prompt": "Write a.", "tests": PASSES}, {"prompt": "Write b.", "tests": FAILS}] * 2)
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=8, max_steps=1, report_to=[], use_cpu=True, logging_steps=1,
                      save_strategy="no", dataloader_num_workers=0, bf16=False)
    trainer = GRPOTrainer(model=model, reward_funcs=[recorded], args=args, train_dataset=data, processing_class=tok)
    trainer.train()
    assert seen, "TRL never called the reward"
    for tests, rewards in seen:
        assert rewards == [1.0 if t == PASSES else 0.0 for t in tests], (tests, rewards)
    logged = [h for h in trainer.state.log_history if f"rewards/{reward.__name__}/mean" in h]
    assert logged and logged[0][f"rewards/{reward.__name__}/mean"] == pytest.approx(0.5)
