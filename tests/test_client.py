"""RewardClient and reward_fn against the real engine: order, mixed batches, invalid
items, infrastructure errors (never 0), an engine that dies mid-batch, cancellation,
and a 1,000-job batch with every job accounted for."""

from __future__ import annotations

import signal
import time
import uuid

import anyio
import pytest

from misalign_rewards import (
    IntegrityMode,
    PytestJob,
    RewardClient,
    Settings,
    Status,
    reward_fn,
)
from misalign_rewards.errors import InfrastructureError
from misalign_rewards.outcomes import Outcome
from misalign_rewards.sandbox.base import RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.reaper import list_labelled
from misalign_rewards.verifiers.base import RunFn

pytestmark = pytest.mark.docker

TESTS = "from solution import add\n\ndef test_small():\n    assert add(1, 2) == 3\n\ndef test_neg():\n    assert add(-2, 2) == 0\n"
GOOD = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


def pytest_job(solution: str, **kw: object) -> dict:
    return {"kind": "pytest", "solution": solution, "tests": TESTS, **kw}


class EchoTestVerifier:
    """A test verifier (not a product one): its run echoes a token derived from the job,
    so a result can be checked against its own input. Real containers, trivial work."""

    kind = "pytest"

    def __init__(self, image: str) -> None:
        self.image = image

    async def verify(self, job: PytestJob, run: RunFn) -> Outcome:
        token = job.metadata["token"]
        res = await run(RunSpec(image=self.image, argv=["sh", "-c", f"echo {token}"], timeout_s=60))
        ok = res.exit_code == 0 and res.stdout.decode().strip() == token
        return Outcome(status=Status.PASSED if ok else Status.FAILED, expected_tests=["echo"],
                       tests=[{"id": "echo", "outcome": "passed" if ok else "failed"}],
                       extra={"echo": res.stdout.decode().strip()})


def settings_for(python_image: str, **kw: object) -> Settings:
    return Settings(python_image=python_image, **kw)  # type: ignore[arg-type]


async def test_results_come_back_in_input_order_one_per_item(python_image: str) -> None:
    batch = [pytest_job(GOOD if i % 3 else WRONG, job_id=f"order-{i}") for i in range(8)]
    async with RewardClient(settings_for(python_image)) as client:
        results = await client.score(batch)
    assert [r.index for r in results] == list(range(8))
    assert [r.job_id for r in results] == [f"order-{i}" for i in range(8)]
    assert [r.reward for r in results] == [0.0 if i % 3 == 0 else 1.0 for i in range(8)]


async def test_invalid_items_are_named_and_the_rest_still_run(python_image: str) -> None:
    batch = [
        pytest_job(GOOD),
        {"kind": "pytest", "solution": GOOD},                     # no tests
        "not a job",                                              # wrong type
        {"solution": GOOD, "tests": TESTS},                       # no kind
        {"kind": "lean", "statement": "True"},                    # neither proof nor source
        pytest_job(GOOD, timeout_s=-1),                           # bad field value
        pytest_job(WRONG),
    ]
    async with RewardClient(settings_for(python_image)) as client:
        results = await client.score(batch)
    assert [r.status for r in results] == [Status.PASSED] + [Status.INVALID_INPUT] * 5 + [Status.FAILED]
    assert [r.reward for r in results] == [1.0, None, None, None, None, None, 0.0]
    assert "item 1" in results[1].error and "tests" in results[1].error
    assert "item 2" in results[2].error and "str" in results[2].error
    assert "kind" in results[3].error
    assert "proof" in results[4].error or "source" in results[4].error
    assert "timeout_s" in results[5].error


async def test_mixed_batch_lean_without_image_is_none_not_zero(python_image: str) -> None:
    missing = f"misalign-rewards/no-lean-here:{uuid.uuid4().hex[:8]}"
    batch = [pytest_job(GOOD), {"kind": "lean", "statement": "1 + 1 = 2", "proof": "rfl"}, pytest_job(WRONG)]
    async with RewardClient(settings_for(python_image, lean_image=missing, infra_retries=0)) as client:
        results = await client.score(batch)
    assert [r.kind for r in results] == ["pytest", "lean", "pytest"]
    assert [r.reward for r in results] == [1.0, None, 0.0]
    assert results[1].status is Status.INFRA_ERROR
    assert missing in results[1].error


async def test_infra_errors_can_be_raised_instead(python_image: str) -> None:
    missing = f"misalign-rewards/no-lean-here:{uuid.uuid4().hex[:8]}"
    settings = settings_for(python_image, lean_image=missing, infra_retries=0, raise_on_infra_error=True)
    with pytest.raises(InfrastructureError):
        async with RewardClient(settings) as client:
            await client.score([{"kind": "lean", "statement": "True", "proof": "trivial"}, pytest_job(GOOD)])


async def test_a_client_must_be_opened_and_cannot_reopen(python_image: str) -> None:
    from misalign_rewards.errors import ClientClosed

    client = RewardClient(settings_for(python_image))
    with pytest.raises(RuntimeError, match="not open"):
        await client.score([pytest_job(GOOD)])
    async with client:
        pass
    await client.aclose()  # idempotent
    with pytest.raises(ClientClosed):
        await client.score([pytest_job(GOOD)])
    with pytest.raises(ClientClosed):
        await client.open()


async def test_reward_fn_returns_plain_rewards(python_image: str) -> None:
    rewards = await reward_fn([pytest_job(GOOD), pytest_job(WRONG), {"kind": "pytest"}],
                              settings=settings_for(python_image))
    assert rewards == [1.0, 0.0, None]


async def test_cancelling_a_batch_leaves_no_container(python_image: str) -> None:
    hang = "import time\n\ndef add(a, b):\n    time.sleep(300)\n"
    settings = settings_for(python_image, python_timeout_s=600, max_concurrent=4)
    sandbox = DockerSandbox(client_id=f"test-batch-cancel-{uuid.uuid4().hex}", max_concurrent=4)
    async with RewardClient(settings, sandbox=sandbox) as client:
        with anyio.move_on_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.score, [pytest_job(hang) for _ in range(6)])
                for _ in range(600):
                    running = [c for c in await list_labelled(sandbox, sandbox.client_id)
                               if c["State"] == "running"]
                    if len(running) == 4:
                        break
                    await anyio.sleep(0.05)
                assert len(running) == 4
                tg.cancel_scope.cancel()
        assert await list_labelled(sandbox, sandbox.client_id) == []
    await sandbox.aclose()


@pytest.mark.slow
async def test_a_thousand_jobs_are_all_accounted_for(python_image: str) -> None:
    n = 1000
    batch = [PytestJob(job_id=f"bulk-{i}", solution=GOOD, tests=TESTS, metadata={"token": f"tok{i}x{i * 7}"})
             for i in range(n)]
    seen: list[int] = []
    settings = settings_for(python_image, max_concurrent=6)
    async with RewardClient(settings, verifiers={"pytest": EchoTestVerifier(python_image)}) as client:
        results = await client.score(batch, on_result=lambda r: seen.append(r.index))
        assert await list_labelled(client.sandbox) == [] or all(  # nothing of ours left
            c["Labels"].get("io.misalign-rewards.client") != client.sandbox.client_id
            for c in await list_labelled(client.sandbox))
    assert len(results) == n and sorted(seen) == list(range(n))
    assert [r.index for r in results] == list(range(n))
    assert all(r.outcome.extra["echo"] == f"tok{i}x{i * 7}" for i, r in enumerate(results))
    assert all(r.reward == 1.0 for r in results)


# -- an engine that goes away mid-batch -------------------------------------------------


async def test_engine_lost_mid_batch_gives_none_not_zero(python_image: str, second_engine) -> None:
    url, dockerd = second_engine.url, second_engine.proc
    batch = [pytest_job(GOOD if i % 2 else WRONG) for i in range(12)]
    done: list[int] = []

    def on_result(result) -> None:
        done.append(result.index)
        if len(done) == 3 and dockerd.poll() is None:
            dockerd.send_signal(signal.SIGTERM)  # the engine goes away halfway

    settings = settings_for(python_image, docker_url=url, max_concurrent=2, infra_retries=1,
                            infra_backoff_s=0.1, integrity=IntegrityMode.ENFORCE)
    with anyio.fail_after(240):
        async with RewardClient(settings) as client:
            results = await client.score(batch, on_result=on_result)
    assert len(results) == 12 and [r.index for r in results] == list(range(12))
    before = [r for r in results if r.index in done[:3]]
    assert [r.reward for r in before] == [1.0 if r.index % 2 else 0.0 for r in before]
    lost = [r for r in results if r.status is Status.INFRA_ERROR]
    assert lost, "some jobs must have met the dead engine"
    assert all(r.reward is None and r.error for r in lost)
    # whatever did not meet the dead engine was judged on its merits, never zeroed for it
    for r in results:
        if r.status is not Status.INFRA_ERROR:
            assert r.reward == (1.0 if r.index % 2 else 0.0)


def test_an_engine_that_is_down_when_a_step_starts_is_waited_for(python_image: str, second_engine) -> None:
    """Found inside trainers: an engine restarting between steps made the next step raise
    at once. Now the client waits (with backoff, up to engine_wait_s), then raises."""
    import threading

    from misalign_rewards.errors import EngineUnreachable

    url = second_engine.url
    second_engine.stop()

    async def fail_fast() -> None:
        async with RewardClient(settings_for(python_image, docker_url=url, engine_wait_s=0)):
            pass

    started = time.monotonic()
    with pytest.raises(EngineUnreachable):
        anyio.run(fail_fast)
    assert time.monotonic() - started < 10

    restart = threading.Timer(2.0, second_engine.start)
    restart.start()
    try:
        async def go() -> list:
            async with RewardClient(settings_for(python_image, docker_url=url, engine_wait_s=120)) as client:
                return await client.rewards([pytest_job(GOOD)])

        assert anyio.run(go) == [1.0]
    finally:
        restart.join()
        second_engine.ensure_running()
