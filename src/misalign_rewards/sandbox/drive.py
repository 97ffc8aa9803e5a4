"""Driving one run in a started container, from its first byte of stdin to its result.

Three things go on at once (a task group, as anyio's ``run_process`` drains both pipes
while it waits): the files and stdin are written, the output is read (capped per stream,
streamed to a callback and to the log: :class:`Capture`), and the deadline is watched on
the engine's own clock (:func:`watch`). The run ends when the process exits, its time is
up (kill) or its output passes a cap (kill); then the engine says how it ended (exit
code, OOM, or a kill from outside: :class:`~.engine.ContainerKilled`).

What it needs of the sandbox that started the container is :class:`RunHost` (a
:class:`~.docker.DockerSandbox` is one); creating and removing the container are the
sandbox's business, not this module's.
"""

from __future__ import annotations

import time
from inspect import isawaitable
from typing import Any, Protocol

import anyio
from aiodocker.stream import Stream

from ..errors import EngineError, InfrastructureError
from .base import Durations, OutputCallback, RunResult, RunSpec
from .base import Stream as StreamName
from .engine import READ_ERRORS, ContainerKilled, engine_errors, engine_timestamp, feed_stdin


class RunHost(Protocol):
    """What driving a run asks of the sandbox whose container it is."""

    @property
    def endpoint(self) -> str: ...
    @property
    def api_timeout_s(self) -> float: ...
    @property
    def cleanup_timeout_s(self) -> float: ...
    @property
    def log_output_bytes(self) -> int: ...

    def engine_now(self) -> float: ...
    async def container_state(self, container: Any) -> dict[str, Any]: ...
    async def kill(self, container: Any, log: Any) -> None: ...
    async def stopped_by_engine(self, container: Any, state: dict[str, Any], *,
                                since: float | None = None) -> str | None: ...


async def drive(
    host: RunHost,
    container: Any,
    stream: Stream,
    spec: RunSpec,
    payload: bytes,
    durations: Durations,
    on_output: OutputCallback | None,
    log: Any,
) -> RunResult:
    """Run ``spec`` in ``container`` (created and started, ``stream`` attached): write
    ``payload`` (the files' tar) and the spec's stdin, read the output, keep the deadline.
    Closes ``stream``; leaves the container to the caller to remove."""
    out = Capture({"stdout": spec.stdout_bytes or spec.limits.output_bytes,
                   "stderr": spec.limits.output_bytes}, host.log_output_bytes, on_output, log)
    t_run = time.monotonic()
    exit_code: int | None = None
    #: The container's state once it has exited (None until known).
    state: dict[str, Any] | None = None
    deadline = Deadline()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed_stdin, stream, payload + spec.stdin, log)
            tg.start_soon(watch, host, container, spec.timeout_s, deadline, tg.cancel_scope, log)
            await out.pump(stream)
            tg.cancel_scope.cancel()  # the process is gone or over its cap
        if deadline.error is not None:
            raise deadline.error
        if out.error is not None:
            # raised here, outside the task group, so it is not wrapped in a group
            with engine_errors(host.endpoint, action="stream output"):
                raise out.error
        if not out.exceeded and not deadline.timed_out:
            # The output ends when the process exits, so one inspect usually gives
            # exit code and OOM state together; wait only if it still runs (it
            # closed its output early). Saves an engine call on almost every run.
            state = await host.container_state(container)
            if state.get("Running"):
                with engine_errors(host.endpoint, action="wait for the container"), \
                        anyio.fail_after(max(spec.timeout_s, host.api_timeout_s)):
                    await container.wait()
                state = await host.container_state(container)
            exit_code = int(state.get("ExitCode", -1))
            if exit_code != 0 and not state.get("OOMKilled"):
                why = await host.stopped_by_engine(container, state)
                if why is not None:
                    raise ContainerKilled(f"the container was stopped from outside mid-run ({why}); "
                                          "not the code's doing")
    finally:
        await stream.close()
    timed_out = deadline.timed_out
    durations.run = time.monotonic() - t_run
    if timed_out or out.exceeded:
        exit_code = None
        with anyio.CancelScope(shield=True):
            await host.kill(container, log)
            state = await host.container_state(container)
    assert state is not None
    oom = bool(state.get("OOMKilled")) and not timed_out
    result = RunResult(
        exit_code=exit_code,
        stdout=bytes(out.data["stdout"]),
        stderr=bytes(out.data["stderr"]),
        stdout_truncated=out.truncated["stdout"],
        stderr_truncated=out.truncated["stderr"],
        timed_out=timed_out,
        oom_killed=oom,
        output_limit_exceeded=out.exceeded,
        durations=durations,
        container_id=container.id,
    )
    log.debug("sandbox.finished", exit_code=exit_code, timed_out=timed_out, oom_killed=oom,
              output_limit_exceeded=out.exceeded, run_s=round(durations.run, 4))
    return result


async def watch(host: RunHost, container: Any, timeout_s: float, deadline: Deadline,
                scope: anyio.CancelScope, log: Any) -> None:
    """The run's deadline, judged on the engine's own clock.

    When ``timeout_s`` has passed on ours, ask the engine what the code did: still
    running for ``timeout_s`` since the container's own start -> a timeout (kill it;
    the output then ends); still running but started late -> wait the rest; exited ->
    its own start and finish times decide, and the output it wrote must still arrive.
    An engine that does not answer is an infrastructure error, never a timeout: a slow
    or frozen engine is not charged to the code."""
    await anyio.sleep(timeout_s)
    while True:
        try:
            # A state that was slow to come is stale: an engine that was stuck has not
            # yet heard that its containers exited. Only a prompt answer decides.
            for _ in range(max(1, int(host.api_timeout_s / 0.5))):
                asked = time.monotonic()
                state = await host.container_state(container)
                if time.monotonic() - asked < 0.5 or not state.get("Running"):
                    break
                await anyio.sleep(0.5)
        except InfrastructureError as exc:
            deadline.error = EngineError(f"the run's time was up and the engine at {host.endpoint} "
                                         f"did not say whether it had finished ({exc})")
            scope.cancel()
            return
        started = engine_timestamp(state.get("StartedAt"))
        if not state.get("Running"):
            finished = engine_timestamp(state.get("FinishedAt"))
            if started is not None and finished is not None and finished - started > timeout_s:
                deadline.timed_out = True  # it overran, then exited on its own
                scope.cancel()
                return
            # It finished in time: its output is on the way. Give the engine its due.
            await anyio.sleep(host.api_timeout_s)
            deadline.error = EngineError(f"the engine at {host.endpoint} did not deliver the output "
                                         "of a container that had finished")
            scope.cancel()
            return
        ran = (host.engine_now() - started) if started is not None else timeout_s
        if ran >= timeout_s:
            deadline.timed_out = True
            log.debug("sandbox.deadline", ran_s=round(ran, 3))
            with anyio.CancelScope(shield=True):
                await host.kill(container, log)
            # the output ends with the container; if the engine never says so, stop anyway
            await anyio.sleep(host.cleanup_timeout_s)
            scope.cancel()
            return
        await anyio.sleep(timeout_s - ran)


class Deadline:
    """What the deadline watcher found (see :func:`watch`)."""

    def __init__(self) -> None:
        self.timed_out = False
        self.error: InfrastructureError | None = None


class Capture:
    """Collects output per stream up to ``cap`` bytes, streams it to a callback and to
    the log (``sandbox.output`` events, at most ``log_cap`` bytes per stream)."""

    def __init__(self, caps: dict[StreamName, int], log_cap: int, on_output: OutputCallback | None,
                 log: Any) -> None:
        self.caps = caps
        self.log_cap = log_cap
        self.on_output = on_output
        self.log = log
        self.data: dict[StreamName, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.logged: dict[StreamName, int] = {"stdout": 0, "stderr": 0}
        self.truncated: dict[StreamName, bool] = {"stdout": False, "stderr": False}
        self.exceeded = False
        #: A failure of the connection while reading, kept for the caller to map and raise.
        self.error: BaseException | None = None

    async def pump(self, stream: Stream) -> None:
        while True:
            try:
                message = await stream.read_out()
            except READ_ERRORS as exc:
                self.error = exc
                return
            if message is None:
                return
            name: StreamName = "stderr" if message.stream == 2 else "stdout"
            buf = self.data[name]
            room = self.caps[name] - len(buf)
            chunk = message.data[: max(room, 0)]
            buf += chunk
            if chunk:
                await self._emit(name, chunk)
            if len(message.data) > room:
                self.truncated[name] = True
                self.exceeded = True
                self.log.info("sandbox.output_limit", stream=name, cap_bytes=self.caps[name])
                return

    async def _emit(self, name: StreamName, chunk: bytes) -> None:
        if self.on_output is not None:
            maybe = self.on_output(name, chunk)
            if isawaitable(maybe):
                await maybe
        room = self.log_cap - self.logged[name]
        if room > 0:
            part = chunk[:room]
            self.logged[name] += len(part)
            self.log.debug("sandbox.output", stream=name, text=part.decode("utf-8", "replace"),
                           truncated=len(part) < len(chunk))


__all__ = ["Capture", "Deadline", "RunHost", "drive", "watch"]
