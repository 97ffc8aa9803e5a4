"""Warm containers, reused for many runs: ``isolation="pooled"``.

:class:`PooledSandbox` is a :class:`Sandbox` in front of a :class:`DockerSandbox`. A run
whose spec says ``isolation="pooled"`` and carries a :class:`WarmSpec` (how to start the
trusted server that serves it) goes to a warm container of its kind; any other run goes to
the DockerSandbox, in a fresh container, unchanged.

Life of a warm container (docs/sandbox.md, "The warm pool")::

    start  create, attach, start with the WarmSpec's command and files; wait for the
           server's "@@misalign-pool ready" line on stdout
    run    write one frame on stdin (the run's own files and stdin); the server says
           "begin" once it has the whole frame, then the run's stdout follows, then
           "@@misalign-pool done {...}" once the run's processes are dead and its files
           wiped; stderr meanwhile is the run's stderr
    after  healthy and young -> handed to a run waiting for its kind, or idle; otherwise
           removed and its place in the budget given back

A container is removed after ``max_jobs`` runs, past ``max_age_s``, after ``idle_s``
without work (its server also ends itself a little later, so an idle pool shrinks even
when the client is not called), and at once after any anomaly: a timeout, the memory
limit, a worker that did not end cleanly, processes that outlived their run, a problem the
server found in its own checks, output past a cap, a broken stream, a cancelled run. A
container that is found dead before it took a run is replaced and the run goes to another
(at most ``attempts`` tries): the run never started, so nothing is charged to it.

Every warm container holds the reservation of one run with its limits in the sandbox's
:class:`~.capacity.ResourceBudget`, busy or idle: the pool's size comes from the same
arithmetic as fresh runs. It grows on demand (a run that finds no idle container of its
kind starts one if the budget has room, else waits for one of its kind to come back) and
gives room back to whoever waits for the budget (fresh runs, other kinds).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, cast

import anyio
from aiodocker.stream import Stream

from ..errors import EngineError
from ..harness.schema import POOL_TAG as TAG
from ..harness.schema import PoolDone, PoolFrame
from ..logs import get_logger
from .base import Durations, OutputCallback, RunResult, RunSpec, Sandbox
from .capacity import budget_owner
from .docker import DockerSandbox
from .engine import READ_ERRORS, WRITE_ERRORS, ContainerKilled, write_in
from .labels import LABEL_POOL

logger = get_logger("misalign_rewards.pool")

#: Extra pids a warm container needs over a fresh run: its server's per-run worker.
EXTRA_PIDS = 1


@dataclass
class _Warm:
    """One warm container."""

    key: str
    container: Any
    stream: Stream
    need: tuple[float, ...]
    warm_files: dict[str, bytes]
    started: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    jobs: int = 0
    #: stdout read past the last control line (belongs to what comes next)
    pending: bytearray = field(default_factory=bytearray)
    #: stderr that arrived while no run was being read
    pending_err: bytearray = field(default_factory=bytearray)


@dataclass
class _Waiter:
    event: anyio.Event = field(default_factory=anyio.Event)
    warm: _Warm | None = None
    #: whom the run is for, when callers share the pool (a Ray node's drivers)
    owner: str | None = field(default_factory=budget_owner.get)


@dataclass
class _Kind:
    idle: list[_Warm] = field(default_factory=list)
    waiters: list[_Waiter] = field(default_factory=list)
    alive: int = 0
    #: owner -> when a container of this kind was last handed to it (owners take turns,
    #: as in the budget)
    served: dict[str | None, int] = field(default_factory=dict)
    handed: int = 0

    def next_waiter(self) -> _Waiter:
        """Takes the waiter whose turn it is: the first one of the owner served longest ago."""
        first: dict[str | None, _Waiter] = {}
        for waiter in self.waiters:
            first.setdefault(waiter.owner, waiter)
        waiter = min(first.values(), key=lambda w: self.served.get(w.owner, 0))
        self.waiters.remove(waiter)
        self.handed += 1
        self.served[waiter.owner] = self.handed
        if not self.waiters:
            self.served.clear()
        return waiter


class _NotBegun(Exception):
    """The container could not take the run (it had ended, or refused the frame)."""


def read_done(line: bytes) -> PoolDone:
    """A supervisor's ``done`` line: every required key of its one definition
    (harness/schema.py) and no key it does not declare, or it is not the supervisor's as
    this version writes it and the container gets no other job (a problem is reported
    instead)."""
    try:
        done = json.loads(line)
    except ValueError:
        done = None
    if isinstance(done, dict) and PoolDone.__required_keys__ <= set(done) <= (
            PoolDone.__required_keys__ | PoolDone.__optional_keys__):
        return cast(PoolDone, done)
    return {"worker_exit": -1, "strays": 0, "served": 0, "job_anomaly": True, "left_behind": [],
            "oom_kills": None, "rewrites_reused": 0, "problems": ["an unreadable done line"]}


class PooledSandbox(Sandbox):
    """Pooled runs in warm containers; everything else through ``fresh`` (see the
    module doc). ``max_jobs``, ``max_age_s`` and ``idle_s`` bound a container's life."""

    def __init__(self, fresh: DockerSandbox, *, max_jobs: int = 200, max_age_s: float = 1800.0,
                 idle_s: float = 120.0, start_timeout_s: float = 120.0, attempts: int = 3) -> None:
        if max_jobs < 1 or attempts < 1:
            raise ValueError("max_jobs and attempts must be >= 1")
        if max_age_s <= 0 or idle_s <= 0 or start_timeout_s <= 0:
            raise ValueError("max_age_s, idle_s and start_timeout_s must be positive")
        self.fresh = fresh
        self.max_jobs = max_jobs
        self.max_age_s = max_age_s
        self.idle_s = idle_s
        self.start_timeout_s = start_timeout_s
        self.attempts = attempts
        self._kinds: dict[str, _Kind] = {}
        #: containers started and removed, and why each was removed (for tests and logs)
        self.started = 0
        self.retired: dict[str, int] = {}
        #: test modules run as compiled for an earlier job of their container (harness/collect.py)
        self.rewrites_reused = 0

    # -- the contract -------------------------------------------------------------------
    async def open(self) -> None:
        await self.fresh.open()
        self.fresh.budget.reclaim = self.retire_idle

    async def retire_idle(self) -> None:
        """Removes every idle container (someone would wait for the budget, or nobody
        will use them)."""
        for kind in self._kinds.values():
            while kind.idle:
                await self._retire(kind.idle.pop(0), "room for others")

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            for kind in self._kinds.values():
                while kind.idle:
                    await self._retire(kind.idle.pop(), "closing")
            await self.fresh.aclose()

    @property
    def budget(self) -> Any:
        return self.fresh.budget

    # The engine this pool runs on, as a DockerSandbox's (for the reaper and tools).
    @property
    def client_id(self) -> str:
        return self.fresh.client_id

    @property
    def endpoint(self) -> str:
        return self.fresh.endpoint

    @property
    def api_timeout_s(self) -> float:
        return self.fresh.api_timeout_s

    @property
    def docker(self) -> Any:
        return self.fresh.docker

    def idle_count(self) -> int:
        return sum(len(k.idle) for k in self._kinds.values())

    async def run(self, spec: RunSpec, *, on_output: OutputCallback | None = None) -> RunResult:
        await self.open()
        if spec.isolation != "pooled" or spec.warm is None:
            return await self.fresh.run(spec, on_output=on_output)
        self.fresh.check_limits(spec.limits)
        durations = Durations()
        t0 = time.monotonic()
        for _ in range(self.attempts):
            warm = await self._take(spec, durations)
            durations.queued = time.monotonic() - t0 - durations.create - durations.start
            healthy = False
            try:
                result, healthy = await self._job(warm, spec, durations, on_output)
                return result
            except _NotBegun as exc:
                logger.info("pool.not_begun", container_id=warm.container.id[:12], why=str(exc))
                continue
            finally:
                with anyio.CancelScope(shield=True):
                    await self._give_back(warm, healthy)
        raise EngineError(f"{self.attempts} warm containers in a row ended before they could take the run")

    # -- containers ---------------------------------------------------------------------
    def _key(self, spec: RunSpec) -> str:
        assert spec.warm is not None
        parts = [spec.image, spec.limits.model_dump_json(), spec.warm.digest, spec.user or "",
                 ",".join(sorted(spec.capabilities)), spec.workdir, json.dumps(spec.env, sort_keys=True),
                 str(spec.tmp_exec)]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    def _expired(self, warm: _Warm, now: float) -> str | None:
        if warm.jobs >= self.max_jobs:
            return "max_jobs"
        if now - warm.started > self.max_age_s:
            return "max_age"
        if now - warm.last_used > self.idle_s:
            return "idle"
        return None

    async def _tidy(self) -> None:
        now = time.monotonic()
        for kind in self._kinds.values():
            for warm in list(kind.idle):
                why = self._expired(warm, now)
                if why:
                    kind.idle.remove(warm)
                    await self._retire(warm, why)

    async def _take(self, spec: RunSpec, durations: Durations) -> _Warm:
        key = self._key(spec)
        kind = self._kinds.setdefault(key, _Kind())
        budget = self.fresh.budget
        while True:
            await self._tidy()
            if kind.idle:
                return kind.idle.pop()  # the most recently used: its caches are warm
            need = budget.try_acquire(spec.limits)
            if need is None and kind.alive == 0:
                # Nothing of this kind will come back: wait in line for the budget (idle
                # containers of other kinds give theirs back first: budget.reclaim).
                need = await budget.acquire(spec.limits)
            if need is not None:
                kind.alive += 1
                try:
                    return await self._start(key, spec, need, durations)
                except BaseException:
                    kind.alive -= 1
                    budget.release(need)
                    self._wake(kind)
                    raise
            # All the budget is in use and containers of this kind are busy: the first
            # to come back is handed over (or, if it is removed, this run tries again).
            waiter = _Waiter()
            kind.waiters.append(waiter)
            try:
                await waiter.event.wait()
            except BaseException:
                if waiter in kind.waiters:
                    kind.waiters.remove(waiter)
                if waiter.warm is not None:
                    with anyio.CancelScope(shield=True):
                        await self._give_back(waiter.warm, True)
                raise
            if waiter.warm is not None:
                return waiter.warm

    def _wake(self, kind: _Kind) -> None:
        if kind.waiters:
            kind.next_waiter().event.set()

    async def _start(self, key: str, spec: RunSpec, need: tuple[float, ...], durations: Durations) -> _Warm:
        assert spec.warm is not None
        run_label = f"pool-{uuid.uuid4().hex[:12]}"
        limits = spec.limits.model_copy(update={"pids": spec.limits.pids + EXTRA_PIDS})
        warm_spec = spec.model_copy(update={"argv": spec.warm.argv, "files": spec.warm.files,
                                            "stdin": b"", "limits": limits})
        container, stream, payload = await self.fresh.start_kept(warm_spec, run_label, {LABEL_POOL: key}, durations)
        warm = _Warm(key=key, container=container, stream=stream, need=need,
                     warm_files=dict(spec.warm.files))
        try:
            with anyio.fail_after(self.start_timeout_s):
                await _write(stream, payload)
                line = await self._control(warm, b"ready", None, None, 1 << 20)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._discard(warm)
            if isinstance(exc, TimeoutError):
                raise EngineError("a warm container did not become ready in time") from exc
            raise
        if line is None:
            err = bytes(warm.pending_err[-2000:]).decode("utf-8", "replace")
            with anyio.CancelScope(shield=True):
                await self._discard(warm)
            raise EngineError(f"a warm container ended before it was ready: {err}")
        durations.start += time.monotonic() - warm.started
        self.started += 1
        logger.info("pool.started", container_id=container.id[:12], kind=key)
        return warm

    async def _give_back(self, warm: _Warm, healthy: bool) -> None:
        kind = self._kinds[warm.key]
        warm.last_used = now = time.monotonic()
        why = "anomaly" if not healthy else self._expired(warm, now)
        if why is None and not self.fresh.budget.has_waiters:
            if kind.waiters:
                waiter = kind.next_waiter()
                waiter.warm = warm
                waiter.event.set()
            else:
                kind.idle.append(warm)
            return
        await self._retire(warm, why or "room for others")
        self._wake(kind)

    async def _retire(self, warm: _Warm, why: str) -> None:
        self.retired[why] = self.retired.get(why, 0) + 1
        logger.info("pool.retired", container_id=warm.container.id[:12], jobs=warm.jobs, why=why)
        await self._discard(warm)

    async def _discard(self, warm: _Warm) -> None:
        try:
            await warm.stream.close()
        except Exception:  # noqa: BLE001 - closing a broken stream
            pass
        await self.fresh.remove_kept(warm.container.id)
        kind = self._kinds.get(warm.key)
        if kind is not None:
            kind.alive -= 1
        self.fresh.budget.release(warm.need)

    # -- one run ------------------------------------------------------------------------
    async def _job(self, warm: _Warm, spec: RunSpec, durations: Durations,
                   on_output: OutputCallback | None) -> tuple[RunResult, bool]:
        files = {k: base64.b64encode(v).decode() for k, v in spec.files.items()
                 if warm.warm_files.get(k) != v}
        frame: PoolFrame = {"files": files, "stdin": base64.b64encode(spec.stdin).decode()}
        body = json.dumps(frame).encode()
        caps = {"stdout": spec.stdout_bytes or spec.limits.output_bytes, "stderr": spec.limits.output_bytes}
        out = _Out(caps)
        out.stderr += warm.pending_err[: caps["stderr"]]
        warm.pending_err.clear()
        warm.jobs += 1
        t_run = time.monotonic()
        began = self.fresh.engine_now()
        done: PoolDone | None = None
        with anyio.move_on_after(spec.timeout_s) as deadline:
            try:
                await _write(warm.stream, str(len(body)).encode() + b"\n" + body)
            except EngineError as exc:
                raise _NotBegun(str(exc)) from None
            begun = await self._control(warm, b"begin", out, None, 1 << 20)
            if begun is None:
                raise _NotBegun("it ended before the run began")
            done = await self._until_done(warm, out, on_output)
        timed_out = False
        if deadline.cancelled_caught:
            # Our deadline passed. What the container already wrote may be waiting on our
            # side (a stalled event loop is not the run's fault): read what has arrived.
            with anyio.move_on_after(2.0):
                done = await self._until_done(warm, out, on_output)
            timed_out = done is None and not out.exceeded
        durations.run = time.monotonic() - t_run
        oom = bool(done and done["oom_kills"])
        if done is not None:
            reused = done.get("rewrites_reused", 0)
            self.rewrites_reused += reused if isinstance(reused, int) else 0
        if done is None and not timed_out and not out.exceeded:
            # The server is gone mid-run: the engine says how (the memory limit, say).
            state = await self.fresh.container_state(warm.container)
            oom = bool(state.get("OOMKilled"))
            if not oom and state.get("Running"):
                raise EngineError("a warm container's output ended while it still ran")
            why = None if oom else await self.fresh.stopped_by_engine(warm.container, state, since=began)
            if why is not None:
                raise ContainerKilled(f"a warm container was stopped from outside mid-run ({why}); "
                                      "not the code's doing")
        healthy = (done is not None and not done["problems"] and done["worker_exit"] == 0
                   and not done["strays"] and not done["job_anomaly"]
                   and not done["left_behind"] and not oom and not out.exceeded)
        if not healthy:
            logger.info("pool.anomaly", container_id=warm.container.id[:12], done=done,
                        timed_out=timed_out, output_limit_exceeded=out.exceeded, oom=oom)
        if on_output is not None and out.stdout:
            maybe = on_output("stdout", bytes(out.stdout))
            if isawaitable(maybe):
                await maybe
        result = RunResult(
            exit_code=None if (timed_out or out.exceeded or done is None) else done["worker_exit"],
            stdout=bytes(out.stdout), stderr=bytes(out.stderr),
            stdout_truncated=out.truncated["stdout"], stderr_truncated=out.truncated["stderr"],
            timed_out=timed_out, oom_killed=oom, output_limit_exceeded=out.exceeded,
            durations=durations, container_id=warm.container.id,
        )
        return result, healthy

    async def _until_done(self, warm: _Warm, out: _Out, on_output: OutputCallback | None) -> PoolDone | None:
        line = await self._control(warm, b"done", out, on_output, None)
        if line is None:
            return None
        return read_done(line)

    async def _control(self, warm: _Warm, what: bytes, out: _Out | None,
                       on_output: OutputCallback | None, cap: int | None) -> bytes | None:
        """Read until the server's ``what`` line; what comes before it on stdout is the
        run's (into ``out``, if given). None: the output ended (or passed a cap) first."""
        marker = TAG + b" " + what + b" "
        buf = warm.pending
        start = 0
        while True:
            at = buf.find(marker, start)
            if at > 0 and buf[at - 1] != 0x0A:
                start = at + 1  # not at the start of a line: not the server's
                continue
            if at >= 0:
                end = buf.find(b"\n", at)
                if end >= 0:
                    line = bytes(buf[at + len(marker):end])
                    if out is not None:
                        out.add_stdout(buf[:at])
                    del buf[:end + 1]
                    return line
                start = at  # the line is not complete yet
            else:
                start = max(0, len(buf) - len(marker))
            if out is not None and out.over(len(buf)):
                out.add_stdout(buf)
                buf.clear()
                return None
            if cap is not None and len(buf) > cap:
                return None
            message = await _read(warm)
            if message is None:
                if out is not None:
                    out.add_stdout(buf)
                    buf.clear()
                return None
            name, data = message
            if name == "stdout":
                buf += data
            elif out is not None:
                if not out.add_stderr(data):
                    return None
                if on_output is not None:
                    maybe = on_output("stderr", data)
                    if isawaitable(maybe):
                        await maybe
            else:
                warm.pending_err += data[: max(0, (1 << 16) - len(warm.pending_err))]


class _Out:
    """One run's output, capped per stream like a fresh run's."""

    def __init__(self, caps: dict[str, int]) -> None:
        self.caps = caps
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.truncated = {"stdout": False, "stderr": False}
        self.exceeded = False

    def over(self, pending: int) -> bool:
        if len(self.stdout) + pending > self.caps["stdout"] + 4096:  # room for the done line
            self.truncated["stdout"] = self.exceeded = True
        return self.exceeded

    def add_stdout(self, data: bytes | bytearray) -> None:
        room = self.caps["stdout"] - len(self.stdout)
        if len(data) > room:
            self.truncated["stdout"] = self.exceeded = True
        self.stdout += data[: max(room, 0)]

    def add_stderr(self, data: bytes) -> bool:
        room = self.caps["stderr"] - len(self.stderr)
        self.stderr += data[: max(room, 0)]
        if len(data) > room:
            self.truncated["stderr"] = self.exceeded = True
            return False
        return True


async def _read(warm: _Warm) -> tuple[str, bytes] | None:
    try:
        message = await warm.stream.read_out()
    except READ_ERRORS as exc:
        raise EngineError(f"the stream of a warm container broke: {exc}") from exc
    if message is None:
        return None
    return ("stderr" if message.stream == 2 else "stdout"), message.data


async def _write(stream: Stream, data: bytes) -> None:
    try:
        await write_in(stream, data)
    except WRITE_ERRORS as exc:
        raise EngineError(f"could not write to a warm container: {exc}") from exc


__all__ = ["EXTRA_PIDS", "PooledSandbox"]
