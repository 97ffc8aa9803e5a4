"""Every input gets its correct result, whatever else goes wrong: a bad item, limits the
engine would refuse, text that cannot be serialised, a slow client, a frozen engine, a
create cut off half-way, clients opening at once after a crash. Faults are injected on an
engine the tests start themselves (tests/support/engines.py), never the shared one.

Numbers in the test names refer to the items of the issue "Every input gets its correct
result"; the isolated-mode items (12-17) are in tests/verifiers/test_isolated_fidelity.py
and the command line's (9, 10) in tests/test_cli.py."""

from __future__ import annotations

import os
import time
import uuid

import anyio
import pytest

from misalign_rewards import PytestJob, RewardClient, Settings, Status
from misalign_rewards.jobs import MAX_SOLUTION_BYTES
from misalign_rewards.sandbox.base import Limits, RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.labels import LABEL_CLIENT, LABEL_HOST, LABEL_PID
from misalign_rewards.sandbox.reaper import list_labelled

TESTS = "from solution import add\n\ndef test_small():\n    assert add(1, 2) == 3\n"
GOOD = "def add(a, b):\n    return a + b\n"


def job(solution: str = GOOD, **kw: object) -> dict:
    return {"kind": "pytest", "solution": solution, "tests": TESTS, **kw}


def settings(python_image: str, **kw: object) -> Settings:
    return Settings(python_image=python_image, **kw)  # type: ignore[arg-type]


# -- 1, 3: one bad item never takes the batch down; every string can be serialised --------


@pytest.mark.docker
async def test_1_3_lone_surrogates_are_one_items_result_and_results_serialise(python_image: str) -> None:
    batch = [
        job(),
        # a completion cut in the middle of a character: written as the bytes it stands for
        # and judged (Python takes them in a comment; a string literal would not parse)
        job("def add(a, b):\n    return a + b  # \ud83d\n"),
        # a test file with one: the job's mistake
        {"kind": "pytest", "solution": GOOD, "tests": TESTS + "# \ud800\n"},
        # the solution's exception message carries one
        job("def add(a, b):\n    raise ValueError('bad \\ud800 input')\n"),
        job(),
    ]
    async with RewardClient(settings(python_image)) as client:
        results = await client.score(batch)
    assert [r.status for r in results] == [Status.PASSED, Status.PASSED, Status.INVALID_INPUT,
                                           Status.FAILED, Status.PASSED]
    assert [r.reward for r in results] == [1.0, 1.0, None, 0.0, 1.0]
    assert "tests: test_solution.py line 5 has a lone surrogate" in results[2].error
    assert "bad ? input" in results[3].outcome.tests[0].message
    for r in results:
        r.model_dump_json()  # never raises


@pytest.mark.docker
async def test_1_an_exception_while_preparing_one_item_is_that_items_result(python_image: str) -> None:
    class Broken:
        kind = "pytest"

        async def verify(self, job: PytestJob, run) -> None:
            if job.job_id == "boom":
                raise KeyError("a bug in a verifier")
            return await real.verify(job, run)

    async with RewardClient(settings(python_image)) as client:
        real = client.verifiers["pytest"]
        client.verifiers["pytest"] = Broken()
        results = await client.score([job(job_id="a"), job(job_id="boom"), job(job_id="c")])
    assert [r.status for r in results] == [Status.PASSED, Status.INTERNAL_ERROR, Status.PASSED]
    assert results[1].reward is None and "item 1" in results[1].error and "KeyError" in results[1].error


# -- 2: limits the engine would refuse are the caller's error, checked before running ------


@pytest.mark.parametrize(("field", "value"), [
    ("cpus", 1e999), ("cpus", float("nan")), ("cpus", 2000.0), ("memory_bytes", 2**70),
    ("pids", 2**64), ("nofile", 10**9), ("output_bytes", 2**40),
])
def test_2_out_of_range_limits_are_refused_with_the_field(field: str, value: float) -> None:
    from misalign_rewards.jobs import parse_job

    parsed = parse_job(job(limits={field: value}), 3)
    assert getattr(parsed, "error", None), parsed
    assert f"limits.{field}" in parsed.error  # type: ignore[union-attr]


@pytest.mark.docker
async def test_2_limits_beyond_the_engines_host_are_invalid_input_not_infra(python_image: str) -> None:
    async with RewardClient(settings(python_image, infra_retries=2)) as client:
        host_cpus = client.sandbox.budget.host.cpus  # type: ignore[attr-defined]
        results = await client.score([job(limits={"cpus": host_cpus + 1}),
                                      job(limits={"memory_bytes": 2**49}), job()])
    assert [r.status for r in results] == [Status.INVALID_INPUT, Status.INVALID_INPUT, Status.PASSED]
    assert "limits.cpus" in results[0].error and "limits.memory_bytes" in results[1].error
    assert results[0].attempts == 1 and results[0].exit_codes == []  # nothing ran, no retries


# -- 4: a big solution never stalls the client ------------------------------------------------


def test_4_a_solution_past_the_size_limit_is_invalid_input() -> None:
    from misalign_rewards.jobs import parse_job

    parsed = parse_job(job("x = 1\n" + "#" * (MAX_SOLUTION_BYTES + 10)), 0)
    assert "solution:" in parsed.error and str(MAX_SOLUTION_BYTES) in parsed.error  # type: ignore[union-attr]


@pytest.mark.docker
async def test_4_scanning_a_big_solution_does_not_block_the_event_loop(python_image: str) -> None:
    # just under the limit, and slow to scan (many small statements)
    lines, size, i = [], 0, 0
    while size < MAX_SOLUTION_BYTES - 200:
        line = f"v{i} = {i}\n"
        lines.append(line)
        size += len(line)
        i += 1
    big = "".join(lines) + GOOD
    assert len(big) <= MAX_SOLUTION_BYTES
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await anyio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async with RewardClient(settings(python_image)) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(heartbeat)
            results = await client.score([job(big, timeout_s=60), job(timeout_s=60)])
            tg.cancel_scope.cancel()
    assert [r.status for r in results] == [Status.PASSED, Status.PASSED], [r.outcome.detail for r in results]
    # the scan ran in a worker thread: the loop kept turning (an inline scan stalls it for seconds)
    assert max(gaps) < 1.0, max(gaps)


# -- 5: a frozen engine is never charged to the code ------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
async def test_5_a_frozen_engine_is_not_charged_to_the_code(python_image: str, second_engine) -> None:
    """The run finishes in well under a second; the engine freezes for far longer than the
    run's deadline. When our clock says time is up, the engine's own start and finish
    times decide: it was no timeout, and the output that was held up arrives intact."""
    spec = RunSpec(image=python_image, argv=["python", "-c", "import time; time.sleep(0.3); print('done')"],
                   timeout_s=3.0)
    async with DockerSandbox(url=second_engine.url, api_timeout_s=30.0) as sandbox:
        async with anyio.create_task_group() as tg:
            results: list = []

            async def run() -> None:
                results.append(await sandbox.run(spec))

            tg.start_soon(run)
            for _ in range(200):  # freeze once the container has started
                await anyio.sleep(0.05)
                if second_engine.containers(running=True):
                    break
            await anyio.sleep(0.2)
            second_engine.freeze()
            await anyio.sleep(8)  # past the 3 s deadline on our clock
            second_engine.thaw()
    (result,) = results
    assert result.timed_out is False and result.exit_code == 0, result
    assert result.stdout == b"done\n"


@pytest.mark.docker
@pytest.mark.slow
async def test_5_an_engine_that_never_delivers_is_an_engine_error_not_a_timeout(
        python_image: str, second_engine) -> None:
    """The engine freezes while the run is under way and stays frozen past the deadline
    and the engine's own call deadline: an infrastructure error, never a timeout."""
    from misalign_rewards.errors import EngineError

    spec = RunSpec(image=python_image, argv=["python", "-c", "import time; time.sleep(1); print('done')"],
                   timeout_s=3.0)
    async with DockerSandbox(url=second_engine.url, api_timeout_s=3.0, cleanup_timeout_s=2.0) as sandbox:
        async with anyio.create_task_group() as tg:
            errors: list = []

            async def run() -> None:
                try:
                    await sandbox.run(spec)
                except EngineError as exc:
                    errors.append(exc)

            tg.start_soon(run)
            for _ in range(200):
                await anyio.sleep(0.05)
                if second_engine.containers(running=True):
                    break
            second_engine.freeze()
            with anyio.fail_after(60):
                while not errors:
                    await anyio.sleep(0.1)
            second_engine.thaw()
    assert "did not say whether it had finished" in str(errors[0])


# -- 7: nothing left behind by a create cut off half-way ---------------------------------------


@pytest.mark.docker
@pytest.mark.slow
async def test_7_cancelling_during_create_leaves_nothing_40_times(python_image: str) -> None:
    client_id = f"test-create-cancel-{uuid.uuid4().hex}"
    async with DockerSandbox(client_id=client_id, max_concurrent=8) as sandbox:
        spec = RunSpec(image=python_image, argv=["python", "-c", "pass"], timeout_s=30)
        for i in range(40):
            with anyio.move_on_after(0.005 + (i % 8) * 0.01):  # somewhere inside create
                await sandbox.run(spec)
        # a live client cleans up after itself: at its next run at the latest
        await anyio.sleep(2.1)
        await sandbox.run(spec)
        left = await list_labelled(sandbox, client_id)
    assert left == [], [(c["Names"], c["State"]) for c in left]


# -- 8: clients opening at once after a crash never fail to open --------------------------------


@pytest.mark.docker
async def test_8_four_clients_open_at_once_over_the_same_orphans(python_image: str) -> None:
    # orphans of a "crashed" client: our host, a pid that cannot exist
    labels = {LABEL_CLIENT: f"test-crashed-{uuid.uuid4().hex}", LABEL_HOST: os.uname().nodename,
              LABEL_PID: str(2**22 + 1)}
    async with DockerSandbox(reap_on_open=False) as maker:
        for _ in range(6):
            await maker.docker.containers.create({"Image": python_image, "Cmd": ["-c", "pass"],
                                                  "Labels": labels})
    sandboxes = [DockerSandbox() for _ in range(4)]
    try:
        async with anyio.create_task_group() as tg:
            for sb in sandboxes:
                tg.start_soon(sb.open)  # each one sweeps; none may fail because of the others
        left = await list_labelled(sandboxes[0], labels[LABEL_CLIENT])
        assert left == []
    finally:
        for sb in sandboxes:
            await sb.aclose()


# -- 18: the per-call deadline is a setting and a job field -------------------------------------


def test_18_call_timeout_is_a_setting_and_a_job_field() -> None:
    s = Settings(python_call_timeout_s=2.5)
    client = RewardClient(s)
    assert client.verifiers["pytest"].call_timeout_s == 2.5  # type: ignore[attr-defined]
    assert PytestJob(solution=GOOD, tests=TESTS, call_timeout_s=0.5).call_timeout_s == 0.5
    assert Limits(cpus=2).cpus == 2
