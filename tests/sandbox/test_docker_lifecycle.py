"""Concurrency, cancellation, orphan reaping, error mapping and output streaming of
DockerSandbox, observed from the engine itself (events, container lists), not from
counters of ours."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import anyio
import pytest
import structlog

from misalign_rewards.errors import EngineUnreachable, ImageNotFound
from misalign_rewards.sandbox.base import RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.labels import LABEL_CLIENT
from misalign_rewards.sandbox.reaper import list_labelled, reap_orphans

pytestmark = pytest.mark.docker


def sleeper(image: str, seconds: float, **kw: object) -> RunSpec:
    return RunSpec(image=image, argv=["python", "-c", f"import time; time.sleep({seconds})"], **kw)  # type: ignore[arg-type]


class EngineEvents:
    """Follows the engine's container events for one client while the block runs. Live,
    because the engine keeps only its last 256 events for later queries."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.events: list[dict] = []

    def __enter__(self) -> EngineEvents:
        # A file, not a pipe: a full pipe would block the CLI, and the engine drops
        # events for a subscriber that does not keep up.
        self._out = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(
            ["docker", "events", "--filter", "type=container",
             "--filter", f"label={LABEL_CLIENT}={self.client_id}", "--format", "{{json .}}"],
            stdout=self._out)
        time.sleep(1.0)  # let the subscription be in place before the first container
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1.0)  # the last destroy events reach the subscriber
        self._proc.terminate()
        self._proc.wait(timeout=30)
        self._out.seek(0)
        self.events = [json.loads(line) for line in self._out if line.strip()]
        self._out.close()


async def test_fifty_runs_never_exceed_four_live_containers(python_image: str) -> None:
    client = f"test-conc-{uuid.uuid4().hex}"
    with EngineEvents(client) as watch:
        async with DockerSandbox(client_id=client, max_concurrent=4) as sb:
            results = [None] * 50

            async def one(i: int) -> None:
                results[i] = await sb.run(sleeper(python_image, 0.3))

            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(one, i)
    assert all(r is not None and r.exit_code == 0 for r in results)

    alive = peak = 0
    created = destroyed = 0
    for ev in watch.events:
        if ev["Action"] == "create":
            alive += 1
            created += 1
        elif ev["Action"] == "destroy":
            alive -= 1
            destroyed += 1
        peak = max(peak, alive)
    assert created == destroyed == 50
    assert peak <= 4
    assert peak >= 2  # the runs really did overlap


async def test_cancelling_eight_running_runs_leaves_no_container(python_image: str) -> None:
    client = f"test-cancel-{uuid.uuid4().hex}"
    async with DockerSandbox(client_id=client, max_concurrent=8) as sb:
        with anyio.move_on_after(60):
            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(sb.run, sleeper(python_image, 300, timeout_s=600))
                # wait until the engine reports all 8 running, then cancel mid-flight
                for _ in range(600):
                    running = [c for c in await list_labelled(sb, client) if c["State"] == "running"]
                    if len(running) == 8:
                        break
                    await anyio.sleep(0.05)
                assert len(running) == 8
                tg.cancel_scope.cancel()
        assert await list_labelled(sb, client) == []


_ORPHAN_MAKER = textwrap.dedent("""
    import sys, anyio
    from misalign_rewards.sandbox.base import RunSpec
    from misalign_rewards.sandbox.docker import DockerSandbox
    async def main():
        async with DockerSandbox(client_id=sys.argv[1]) as sb:
            await sb.run(RunSpec(image=sys.argv[2], argv=["python", "-c", "import time; time.sleep(600)"],
                                 timeout_s=900))
    anyio.run(main)
""")


async def test_reaper_removes_what_a_killed_client_left(python_image: str) -> None:
    dead_client = f"test-dead-{uuid.uuid4().hex}"
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN_MAKER, dead_client, python_image],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with DockerSandbox(client_id=f"test-observer-{uuid.uuid4().hex}", reap_on_open=False) as sb:
            for _ in range(400):
                left = await list_labelled(sb, dead_client)
                if left and left[0]["State"] == "running":
                    break
                await anyio.sleep(0.05)
            assert left and left[0]["State"] == "running", proc.stderr.read() if proc.poll() else "never started"
            os.kill(proc.pid, signal.SIGKILL)  # no cleanup can run in the client now
            proc.wait(timeout=30)
            assert [c["Id"] for c in await list_labelled(sb, dead_client)] == [left[0]["Id"]]

            # a live client's containers are not touched by someone else's reaper
            async with anyio.create_task_group() as tg:
                live = DockerSandbox(client_id=f"test-live-{uuid.uuid4().hex}", reap_on_open=False)
                await live.open()
                tg.start_soon(live.run, sleeper(python_image, 30, timeout_s=60))
                for _ in range(400):
                    if await list_labelled(sb, live.client_id):
                        break
                    await anyio.sleep(0.05)
                removed = await reap_orphans(sb)
                assert left[0]["Id"] in removed
                assert await list_labelled(sb, dead_client) == []
                assert len(await list_labelled(sb, live.client_id)) == 1
                tg.cancel_scope.cancel()
            await live.aclose()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stderr.close()


async def test_unreachable_engine_is_a_typed_error_naming_the_endpoint(tmp_path) -> None:
    sock = tmp_path / "nothing-here.sock"
    sb = DockerSandbox(url=f"unix://{sock}", api_timeout_s=5)
    with pytest.raises(EngineUnreachable) as info:
        await sb.open()
    assert str(sock) in str(info.value)
    assert "scripts/engine.sh" in str(info.value)


async def test_missing_image_is_a_typed_error_naming_the_image(sandbox: DockerSandbox) -> None:
    image = f"misalign-rewards/no-such-image:{uuid.uuid4().hex[:8]}"
    with pytest.raises(ImageNotFound) as info:
        await sandbox.run(RunSpec(image=image, argv=["true"]))
    assert image in str(info.value)
    assert await list_labelled(sandbox, sandbox.client_id) == []


def test_invalid_specs_are_refused_before_any_engine_call() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must be relative"):
        RunSpec(image="x", argv=["true"], files={"../escape": b""})
    with pytest.raises(ValidationError, match="must be relative"):
        RunSpec(image="x", argv=["true"], files={"/etc/passwd": b""})
    with pytest.raises(ValidationError, match="under /tmp"):
        RunSpec(image="x", argv=["true"], workdir="/etc")
    with pytest.raises(ValidationError):
        RunSpec(image="x", argv=[])


async def test_output_is_streamed_while_the_run_goes_on(sandbox: DockerSandbox, python_image: str) -> None:
    finished = False
    seen: list[tuple[str, bytes, bool]] = []

    async def on_output(stream: str, chunk: bytes) -> None:
        seen.append((stream, chunk, finished))

    spec = RunSpec(image=python_image, timeout_s=3, argv=["python", "-c", textwrap.dedent("""
        import sys, time
        print("early", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        time.sleep(60)
        """)])
    with structlog.testing.capture_logs() as logs:
        res = await sandbox.run(spec, on_output=on_output)
    finished = True
    assert res.timed_out
    # chunks may be split anywhere; what matters is that they all arrived before the end
    during = {name: b"".join(c for s, c, after in seen if s == name and not after) for name in ("stdout", "stderr")}
    assert during == {"stdout": b"early\n", "stderr": b"to stderr\n"}
    events = [e for e in logs if e["event"] == "sandbox.output"]
    logged = {name: "".join(e["text"] for e in events if e["stream"] == name) for name in ("stdout", "stderr")}
    assert logged == {"stdout": "early\n", "stderr": "to stderr\n"}
    assert all("run_id" in e for e in events)


async def test_closed_sandbox_refuses_to_reopen(python_image: str) -> None:
    from misalign_rewards.errors import ClientClosed

    sb = DockerSandbox()
    async with sb:
        pass
    await sb.aclose()  # idempotent
    with pytest.raises(ClientClosed):
        await sb.run(sleeper(python_image, 0))
