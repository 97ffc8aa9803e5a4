"""verl 0.9.1's own reward managers on a real DataProto: the legacy naive, batch, dapo and
prime managers, and the 0.9 reward loop's worker with the naive, dapo and remote managers
through ``custom_reward_function.path/name``. Run in .venv-trainers (scripts/trainers.sh)
by tests/test_trainers.py."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from misalign_rewards import Settings, make_verl_compute_score
from support import tiny

ROOT = Path(__file__).resolve().parents[2]

TESTS = "from solution import neg\n\ndef test_neg():\n    assert neg(3) == -3\n"
RIGHT = "Here:\n```python\ndef neg(x):\n    return -x\n```"
WRONG = "```python\ndef neg(x):\n    return x\n```"
PROMPT = "Write neg."
# a call-based prime_code row in verl's shapes: inputs newline-separated JSON, outputs JSON of a one-element list
CALL = {"fn_name": "add", "inputs": ["1\n2", "5\n-5"], "outputs": ["[3]", "[0]"]}
ADD = "```python\ndef add(a, b):\n    return a + b\n```"
SAMPLES = [(RIGHT, TESTS, 1.0), (WRONG, TESTS, 0.0), (ADD, CALL, 1.0), (RIGHT, TESTS, 1.0)]


def data_proto(samples=SAMPLES):
    """A batch as verl's rollout leaves it: left-padded prompts, right-padded responses of
    different lengths, and the reward columns."""
    from verl import DataProto

    tok = tiny.tokenizer()
    prompt = tok(PROMPT)["input_ids"]
    responses = [tok(text)["input_ids"] for text, _, _ in samples]
    width = max(map(len, responses)) + 3
    resp = torch.full((len(samples), width), tok.pad_token_id)
    mask = torch.zeros((len(samples), len(prompt) + width), dtype=torch.long)
    for i, ids in enumerate(responses):
        resp[i, :len(ids)] = torch.tensor(ids)
        mask[i, :len(prompt) + len(ids)] = 1
    prompts = torch.tensor([prompt] * len(samples))
    return tok, DataProto.from_dict(
        tensors={"prompts": prompts, "responses": resp, "attention_mask": mask,
                 "input_ids": torch.cat([prompts, resp], dim=1)},
        non_tensors={"data_source": np.array(["code"] * len(samples), dtype=object),
                     "reward_model": np.array([{"ground_truth": t} for _, t, _ in samples], dtype=object),
                     "extra_info": np.array([{"index": i} for i in range(len(samples))], dtype=object)})


def at_last_token(reward_tensor: torch.Tensor, data) -> list[float]:
    """Each row's reward, read where verl puts it (the last valid response token); every
    other position must be 0."""
    plen = data.batch["prompts"].shape[-1]
    lengths = data.batch["attention_mask"][:, plen:].sum(-1)
    out = []
    for i, n in enumerate(lengths.tolist()):
        row = reward_tensor[i].clone()
        out.append(float(row[n - 1]))
        row[n - 1] = 0
        assert not row.any(), f"row {i}: a reward off the last token"
    return out


EXPECTED = [want for _, _, want in SAMPLES]

#: What this file runs through each route: the table in docs/integrations.md may name no
#: other manager (test_the_docs_manager_table_is_what_these_tests_run).
LEGACY_MANAGERS = ("naive", "batch", "dapo")
REWARD_LOOP_CASES = [("naive", "compute_score"), ("naive", "acompute_score"), ("dapo", "acompute_score"),
                     ("gdpo", "acompute_score"), ("rate_limited", "acompute_score")]
OBSERVED = {"legacy": {*LEGACY_MANAGERS, "prime"},
            "reward loop": {m for m, _ in REWARD_LOOP_CASES} | {"remote"}}


@pytest.fixture
def settings(python_image: str) -> Settings:
    return Settings(python_image=python_image)


@pytest.mark.docker
@pytest.mark.parametrize("manager", LEGACY_MANAGERS)
def test_legacy_managers(manager: str, settings: Settings) -> None:
    from verl.workers.reward_manager import get_reward_manager_cls

    tok, data = data_proto()
    score = make_verl_compute_score(settings)
    mgr = get_reward_manager_cls(manager)(tokenizer=tok, num_examine=0, compute_score=score, reward_fn_key="data_source")
    try:
        out = mgr(data, return_dict=True)
    finally:
        score.close()
    assert at_last_token(out["reward_tensor"], data) == EXPECTED
    extra = out["reward_extra_info"]
    assert list(extra["status"]) == ["passed", "failed", "passed", "passed"]
    assert list(extra["valid"]) == [True] * 4


@pytest.mark.docker
def test_legacy_prime_manager_pickles_the_adapter_into_its_process_pool(settings: Settings) -> None:
    """prime sends compute_score to a process pool and reads a number back; an adapter it
    cannot pickle, or a dict, it silently scores 0."""
    from verl.workers.reward_manager import PrimeRewardManager

    tok, data = data_proto()
    score = make_verl_compute_score(settings, returns="score")
    out = PrimeRewardManager(tokenizer=tok, num_examine=0, compute_score=score)(data, return_dict=True)
    assert at_last_token(out["reward_tensor"], data) == EXPECTED


def _reward_loop_config(tmp_path: Path, manager: str, fn_name: str, python_image: str):
    from omegaconf import OmegaConf

    tok_dir = tmp_path / "tok"
    tiny.tokenizer().save_pretrained(tok_dir)
    module = tmp_path / "my_reward.py"
    module.write_text(textwrap.dedent(f"""
        from misalign_rewards import Settings, make_verl_compute_score
        compute_score = make_verl_compute_score(Settings(python_image={python_image!r}))
        acompute_score = compute_score.acompute_score   # a coroutine function: awaited on the worker's loop
    """))
    return OmegaConf.create({
        "actor_rollout_ref": {"model": {"path": str(tok_dir), "tokenizer_path": str(tok_dir)}},
        "reward_model": {"reward_manager": None},
        "trainer": {"experiment_name": "misalign-rewards-test"},  # gdpo reads it, as any real config has it
        "reward": {"num_workers": 1,
                   "custom_reward_function": {"path": str(module), "name": fn_name, "reward_kwargs": {}},
                   "reward_manager": {"source": "register", "name": manager, "module": {"path": None, "name": None}},
                   "reward_model": {"enable": False, "enable_resource_pool": False},
                   "sandbox_fusion": None},
    })


@pytest.mark.docker
@pytest.mark.parametrize(("manager", "fn_name"), REWARD_LOOP_CASES)
def test_reward_loop_worker(manager: str, fn_name: str, tmp_path: Path, python_image: str) -> None:
    """The 0.9 reward loop's own worker class, as its Ray actor runs it: every sample of a
    chunk as its own task on one event loop."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    _, data = data_proto()
    config = _reward_loop_config(tmp_path, manager, fn_name, python_image)
    asyncio.set_event_loop(asyncio.new_event_loop())  # a Ray actor's: one loop of its own
    worker = RewardLoopWorker(config)
    try:
        outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))  # the loop verl made
    finally:
        worker.loop.close()
    assert [o["reward_score"] for o in outputs] == EXPECTED
    assert [o["reward_extra_info"]["status"] for o in outputs] == ["passed", "failed", "passed", "passed"]


@pytest.mark.docker
def test_reward_loop_remote_manager_ships_the_adapter_to_ray_workers(tmp_path: Path, python_image: str) -> None:
    import ray
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    _, data = data_proto()
    config = _reward_loop_config(tmp_path, "remote", "compute_score", python_image)
    # address="local": a Ray of its own, never one another session left on this machine
    # (ray.init() would join whatever /tmp/ray/ray_current_cluster names)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"MISALIGN_PYTHON_IMAGE": python_image}})
    try:
        asyncio.set_event_loop(asyncio.new_event_loop())
        worker = RewardLoopWorker(config)
        outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))  # the loop verl made
    finally:
        ray.shutdown()
    assert [o["reward_score"] for o in outputs] == EXPECTED


# -- prime_code parity (issue 26 item 8): verl's own scorer and ours on the same rows ----------

ADD_HALF = "```python\ndef add(a, b):\n    return a + b if a < 3 else 0\n```"   # passes the cases with a < 3
PARITY_ROWS = [
    # call-based, verl's shapes: JSON-per-line inputs, outputs the JSON of a one-element list
    ({"fn_name": "add", "inputs": ["1\n2", "2\n2", "5\n-5", "7\n1"], "outputs": ["[3]", "[4]", "[0]", "[8]"]},
     [ADD, ADD_HALF]),
    # stdin
    ({"inputs": ["1 2\n", "3 4\n", "0 3\n"], "outputs": ["3\n", "7\n", "3\n"]},
     ["```python\na, b = map(int, input().split())\nprint(a + b)\n```",
      "```python\na, b = map(int, input().split())\nprint(3)\n```"]),
]


@pytest.mark.docker
@pytest.mark.parametrize("continuous", [False, True])
def test_prime_code_scores_as_verl_s_own_scorer(continuous: bool, python_image: str) -> None:
    """Binary, and verl's continuous=True as the pass_rate policy (over fewer than ten
    cases the two count the same cases)."""
    import json

    from verl.utils.reward_score import prime_code

    policy = "pass_rate" if continuous else "binary"
    score = make_verl_compute_score(Settings(python_image=python_image, reward_policy=policy), returns="score")
    try:
        for truth, programs in PARITY_ROWS:
            for program in programs:
                try:
                    theirs, _ = prime_code.compute_score(program, json.dumps(truth), continuous=continuous)
                except UnboundLocalError:
                    # verl 0.9.1's binary path ends this way for a program that fails a case
                    # (its metadata_list is set only when continuous): its managers score 0
                    assert not continuous
                    theirs = 0.0
                ours = score("codecontests", program, json.dumps(truth))
                if continuous and "fn_name" in truth and theirs != 1.0:
                    # verl's per-case pass drops fn_name (it judges each call-based case as
                    # stdin), so its fraction is 0 unless every case passes: ours is the
                    # fraction of cases passed
                    assert ours == 0.75 and theirs == 0.0, (ours, theirs)
                    continue
                assert ours == float(theirs), (truth, program, ours, theirs)
    finally:
        score.close()


def _docs_manager_table() -> dict[str, set[str]]:
    """docs/integrations.md's table of verl's managers: route -> the managers it names."""
    text = (ROOT / "docs" / "integrations.md").read_text()
    rows = text.split("| manager | how it calls |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    table: dict[str, set[str]] = {"legacy": set(), "reward loop": set()}
    for row in rows:
        first = row.split("|")[1]
        route = "legacy" if first.strip().startswith("legacy") else "reward loop"
        table[route] |= {n for n in re.findall(r"`([a-z_]+)`", first)}
    return table


def test_the_docs_manager_table_is_what_these_tests_run() -> None:
    """Each manager docs/integrations.md's table names is one verl registers on that route
    and one this file runs there; what the table says is missing from the reward loop is."""
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls as loop_cls
    from verl.workers.reward_manager import get_reward_manager_cls as legacy_cls

    table = _docs_manager_table()
    assert table == OBSERVED, table
    for name in table["legacy"]:
        legacy_cls(name)
    for name in table["reward loop"]:
        loop_cls(name)
    for name in ("batch", "prime"):  # "there is no batch route in the reward loop"
        with pytest.raises(ValueError, match="Unknown reward manager"):
            loop_cls(name)

