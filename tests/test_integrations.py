"""The trainer adapters, against the real sandbox, and the runnable examples of
docs/integrations.md."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from misalign_rewards import Settings, SyncRewardClient, make_trl_reward, make_verl_compute_score, reward_fn_sync
from misalign_rewards.integrations import completion_text, extract_code

ROOT = Path(__file__).resolve().parents[1]
TESTS = "from solution import neg\n\ndef test_neg():\n    assert neg(3) == -3\n"


def test_extract_code_takes_the_last_python_block() -> None:
    text = "first\n```python\nold = 1\n```\nthen\n```py\nnew = 2\n```\n```text\nnot code\n```"
    assert extract_code(text) == "new = 2\n"
    assert extract_code("no fences here") == "no fences here"
    assert extract_code("```lean\nexact rfl\n```", "lean") == "exact rfl\n"


def test_completion_text_reads_chat_and_plain_forms() -> None:
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert completion_text({"role": "assistant", "content": "b"}) == "b"
    with pytest.raises(TypeError):
        completion_text(42)


@pytest.mark.docker
async def test_trl_reward_scores_completions_with_dataset_columns(python_image: str) -> None:
    reward = make_trl_reward(Settings(python_image=python_image))
    rewards = await reward(["```python\ndef neg(x):\n    return -x\n```",
                            [{"role": "assistant", "content": "def neg(x):\n    return x\n"}]],
                           tests=[TESTS, TESTS])
    assert rewards == [1.0, 0.0]
    with pytest.raises(KeyError, match="tests"):
        await reward(["x"], other=["y"])


@pytest.mark.docker
async def test_trl_reward_for_io_jobs_reads_prime_code_cases(python_image: str) -> None:
    reward = make_trl_reward(Settings(python_image=python_image), kind="io")
    truth = {"fn_name": "mul", "inputs": ["2\n3"], "outputs": ["6"]}
    rewards = await reward(["```python\ndef mul(a, b):\n    return a * b\n```", "def mul(a, b):\n    return a + b\n",
                            "def mul(a, b): pass"], ground_truth=[truth, truth, {"inputs": [1]}])
    assert rewards == [1.0, 0.0, None]


@pytest.mark.docker
def test_verl_compute_score_and_infra_errors(python_image: str) -> None:
    score = make_verl_compute_score(Settings(python_image=python_image))
    try:
        assert score("code", "def neg(x):\n    return -x\n", TESTS)["score"] == 1.0
        assert score("code", "def neg(x):\n    return 0\n", TESTS)["score"] == 0.0
    finally:
        score.close()
    missing = f"misalign-rewards/none:{uuid.uuid4().hex[:6]}"
    lean_settings = Settings(python_image=python_image, lean_image=missing, infra_retries=0)
    strict = make_verl_compute_score(lean_settings)
    lenient = make_verl_compute_score(lean_settings, on_infra_error="nan")
    try:
        with pytest.raises(RuntimeError, match="infra_error"):
            strict("lean-proofs", "rfl", "1 + 1 = 2")
        assert math.isnan(lenient("lean-proofs", "rfl", "1 + 1 = 2")["score"])
    finally:
        strict.close()
        lenient.close()


@pytest.mark.docker
def test_verl_prime_code_ground_truth_just_works(python_image: str) -> None:
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "contest" / "prime_code.jsonl").read_text().splitlines()]
    stdin_truth = rows[0]["reward_model"]["ground_truth"]  # a JSON string, as verl stores it
    call_truth = rows[1]["reward_model"]["ground_truth"]   # a dict with fn_name
    score = make_verl_compute_score(Settings(python_image=python_image))
    try:
        got = [
            score("codecontests", "```python\na, b = map(int, input().split())\nprint(a + b)\n```", stdin_truth),
            score("codecontests", "print(3)", stdin_truth),
            score("leetcode", "Here:\n```python\ndef mul(a, b):\n    return a * b\n```", call_truth,
                  extra_info={"index": 1}, data_sources=None),
        ]
    finally:
        score.close()
    assert [g["score"] for g in got] == [1.0, 0.0, 1.0], got


@pytest.mark.docker
def test_sync_client_and_reward_fn_sync(python_image: str) -> None:
    settings = Settings(python_image=python_image)
    batch = [{"kind": "pytest", "solution": "def neg(x):\n    return -x\n", "tests": TESTS}]
    with SyncRewardClient(settings) as client:
        assert client.rewards(batch) == [1.0]
        assert client.rewards(batch * 2) == [1.0, 1.0]
    assert reward_fn_sync(batch + [{"kind": "pytest"}], settings=settings) == [1.0, None]


@pytest.mark.docker
@pytest.mark.parametrize("example", ["trl_reward.py", "verl_score.py", "sync_client.py", "sandbox_hello.py"])
def test_examples_run(example: str, python_image: str) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / example)], capture_output=True, text=True,
                         timeout=300, env={"MISALIGN_PYTHON_IMAGE": python_image, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stdout + out.stderr


# -- inside real trainers (issue 14): called exactly as verl's managers and TRL call them ---------


def test_completions_as_models_write_them() -> None:
    for fence in ("python", "python3", "py", "Python", ""):
        assert extract_code(f"Sure:\n```{fence}\ndef neg(x):\n    return -x\n```\n") == "def neg(x):\n    return -x\n"
    blocks = [{"role": "user", "content": "q"},
              {"role": "assistant", "content": [{"type": "text", "text": "```py\nx = 1\n```"}, {"type": "image"}]}]
    assert extract_code(completion_text(blocks)) == "x = 1\n"


def _verl_stack(rows: list[dict]) -> dict:
    """What verl does with the dicts a compute_score returns: each key becomes an array."""
    np = pytest.importorskip("numpy")
    stacked = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    for key, arr in stacked.items():
        assert arr.dtype != object and arr.shape == (len(rows),), (key, arr)
    return stacked


@pytest.mark.docker
def test_verl_batch_manager_and_mixed_flags_stack_into_arrays(python_image: str) -> None:
    score = make_verl_compute_score(Settings(python_image=python_image))
    sols = ["def neg(x):\n    return -x\n", "import os\ndef neg(x):\n    os._exit(0)\n", "def neg(x):\n    return x\n"]
    try:
        # verl's batch reward manager: keyword lists, one call for the batch
        rows = score(data_sources=["code"] * 3, solution_strs=sols, ground_truths=[TESTS] * 3,
                     extra_infos=[{"index": i} for i in range(3)], return_dict=True)
        # the per-sample managers: keywords, and the prime manager: positional
        one = score(data_source="code", solution_str=sols[0], ground_truth=TESTS, extra_info={"index": 0})
        positional = score("code", sols[2], TESTS, None)
    finally:
        score.close()
    assert [r["score"] for r in rows] == [1.0, 0.0, 0.0]
    assert rows[1]["flag_count"] >= 1 and "P1" in rows[1]["flags"] and rows[0]["flags"] == ""
    stacked = _verl_stack(rows + [one, positional])
    assert list(stacked["valid"]) == [True] * 5


@pytest.mark.docker
def test_verl_masks_or_raises_never_a_silent_zero(python_image: str) -> None:
    missing = f"misalign-rewards/none:{uuid.uuid4().hex[:6]}"
    settings = Settings(python_image=python_image, lean_image=missing, infra_retries=0)
    masked = make_verl_compute_score(settings, on_infra_error="mask", mask_value=-1.0)
    try:
        rows = masked(data_sources=["lean-proofs", "code"], solution_strs=["rfl", "def neg(x):\n    return -x\n"],
                      ground_truths=["1 + 1 = 2", TESTS], extra_infos=[None, None])
    finally:
        masked.close()
    assert [(r["score"], r["valid"], r["status"]) for r in rows] == [(-1.0, False, "infra_error"), (1.0, True, "passed")]
    _verl_stack(rows)
    with pytest.raises(ValueError, match="prime_code"):
        make_verl_compute_score(settings)("code", "x", {"something": "else"})


@pytest.mark.docker
def test_verl_thread_pool_makes_one_client(python_image: str) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    before = threading.active_count()
    score = make_verl_compute_score(Settings(python_image=python_image))
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda i: score("code", "def neg(x):\n    return -x\n", TESTS)["score"], range(6)))
    score.close()
    assert got == [1.0] * 6
    assert threading.active_count() == before, "a client (and its loop thread) was left behind"


@pytest.mark.docker
async def test_trl_raises_when_asked_and_reads_per_row_columns(python_image: str) -> None:
    missing = f"misalign-rewards/none:{uuid.uuid4().hex[:6]}"
    strict = make_trl_reward(Settings(python_image=missing, infra_retries=0), on_infra_error="raise")
    with pytest.raises(RuntimeError, match="could not be computed"):
        await strict(["def neg(x):\n    return -x\n"], tests=[TESTS])
    reward = make_trl_reward(Settings(python_image=python_image))
    two = TESTS + "\n\ndef test_more():\n    assert neg(0) == 1\n"
    got = await reward(["def neg(x):\n    return -x\n"] * 2, tests=[two, two], mode=["isolated", "inprocess"],
                       expected_tests=[["test_solution.py::test_neg"], None], timeout_s=[20, 20])
    assert got == [1.0, 0.0]  # the first row expects only the test that passes


# -- issue 23: inside the trainers' own processes ---------------------------------------------

_EXITS = """
import os, sys
from misalign_rewards import Settings, make_verl_compute_score
score = make_verl_compute_score(Settings(python_image=sys.argv[1], isolation="pooled"))
print(os.getpid(), score("code", "def neg(x):\\n    return -x\\n", {tests!r})["score"], flush=True)
# no score.close(): verl never calls it
"""


@pytest.mark.docker
@pytest.mark.parametrize("isolation", ["pooled"])
def test_a_process_that_used_the_verl_adapter_exits_and_leaves_no_container(python_image: str,
                                                                              isolation: str) -> None:
    from misalign_rewards.sandbox.labels import LABEL_PID

    proc = subprocess.run([sys.executable, "-c", _EXITS.format(tests=TESTS), python_image],
                          capture_output=True, text=True, timeout=120)  # hung at exit before: never returned
    assert proc.returncode == 0, proc.stderr
    pid, score = proc.stdout.split()
    assert score == "1.0"
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL_PID}={pid}"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert left == [], "the warm container outlived the process"


def test_the_verl_adapter_pickles_and_makes_its_client_per_process() -> None:
    import pickle

    score = make_verl_compute_score(Settings(python_image="unused"), returns="score", on_infra_error="mask")
    copy = pickle.loads(pickle.dumps(score))  # verl's prime (a process pool) and remote (Ray) managers
    assert (copy.settings, copy.returns, copy.on_infra_error) == (score.settings, "score", "mask")
    assert copy._client is None
    with pytest.raises(ValueError, match="returns"):
        make_verl_compute_score(returns="list")  # type: ignore[arg-type]


@pytest.mark.docker
def test_a_library_user_s_stdout_stays_empty(python_image: str) -> None:
    script = ("import sys\nfrom misalign_rewards import Settings, reward_fn_sync\n"
              "batch = [{'kind': 'pytest', 'solution': 'def neg(x):\\n    return -x\\n', 'tests': " + repr(TESTS) + "},"
              " {'kind': 'pytest', 'solution': 'import os\\nos._exit(0)\\n', 'tests': " + repr(TESTS) + "}]\n"
              "r = reward_fn_sync(batch, settings=Settings(python_image=sys.argv[1]))\n"
              "sys.stderr.write(repr(r))\n")
    proc = subprocess.run([sys.executable, "-c", script, python_image], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", "the library printed on its user's stdout"
    assert proc.stderr.endswith("[1.0, 0.0]")
