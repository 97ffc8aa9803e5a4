"""The node's side: :class:`NodeService`, what runs inside each engine node's Ray actor.

One actor per node that offers the resource ``misalign_engine``, pinned to it, owns that
node's sandbox (a :class:`~..pool.PooledSandbox` over a :class:`~..docker.DockerSandbox`
on the node's engine: ``DOCKER_HOST`` as the node was started, or the local socket) and
its capacity, and is shared by every driver of the cluster (:mod:`.driver` starts it).

Leases: each driver holds one, renewed by its heartbeat; a lease not renewed in its time
(its driver was killed) lapses, and the node cancels that driver's runs, which removes
their containers. A node actor with no lease and no run for ``idle_exit_s`` removes its
containers and exits. An actor that dies unannounced (Ray kills it with SIGKILL when its
node goes) leaves its containers to its watchdog (:mod:`..watchdog`).

``ray.remote`` is applied in the driver, so importing this module needs no Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import anyio

from ...errors import InfrastructureError, InvalidSpec
from ...logs import get_logger
from ..base import RunResult, RunSpec
from ..capacity import budget_owner
from ..docker import DockerSandbox
from ..labels import process_start_ticks
from ..pool import PooledSandbox
from ..reaper import reap_orphans
from ..watchdog import remove_client
from .payload import unpack_spec
from .protocol import (
    CLOSING,
    LEASE_LAPSED,
    ErrorKind,
    Load,
    NodeError,
    NodeInfo,
    NodeOptions,
    NodeStats,
    PackedSpec,
    RunReply,
)

logger = get_logger("misalign_rewards.ray")


@dataclass(eq=False)
class _Run:
    """One run in a node actor: how to stop it, and whether its lease ended it."""

    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    lapsed: bool = False


@dataclass
class _Lease:
    """A driver's hold on a node actor: renewed by its heartbeat, or it lapses."""

    ttl_s: float
    deadline: float
    runs: set[_Run] = field(default_factory=set)
    #: its runs and the blobs its runs fetched (what the driver's stats show)
    started: int = 0
    fetched: int = 0


class NodeService:
    """What runs inside each node's actor, shared by every driver that uses the node. Its
    calls and answers are those of :mod:`.protocol`: errors come back as a
    :class:`~.protocol.NodeError`, never as exceptions.

    A driver calls :meth:`join` with its lease id, :meth:`renew` at least every
    ``ttl_s``, :meth:`run` with the same id, and :meth:`release` when it closes. A lease
    that is not renewed in time lapses: that driver's runs are cancelled, which removes
    their containers. With no lease left, idle warm containers are removed; with no lease
    and no run for ``idle_exit_s``, the actor removes its containers and exits.
    """

    def __init__(self, options: NodeOptions) -> None:
        self.options = options
        self.sandbox: PooledSandbox | None = None
        self.blobs: OrderedDict[str, bytes] = OrderedDict()
        self.blob_bytes = 0
        self._fetching: dict[str, asyncio.Future[bytes]] = {}
        self.fetched = 0
        self.fetched_bytes = 0
        self.runs = 0
        self._leases: dict[str, _Lease] = {}
        #: the runs of leases that ended (a released or lapsed driver's late questions)
        self._ended: OrderedDict[str, _Lease] = OrderedDict()
        self._in_flight = 0
        self._idle_since: float | None = time.monotonic()
        #: set once the actor has decided to exit: it takes no new lease or run
        self._closing = False
        #: pid and start time of the process that removes this actor's containers if it
        #: dies unannounced
        self._watchdog: tuple[int, str | None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None

    # -- leases ----------------------------------------------------------------------------
    async def join(self, lease_id: str, ttl_s: float) -> NodeInfo | NodeError:
        """Open the node's sandbox if it is not, take a lease: what the node is."""
        if self._closing:
            return CLOSING
        info = await self.open()
        if isinstance(info, NodeInfo):
            self._lease(lease_id, ttl_s, renew=True)
        return info

    async def renew(self, lease_id: str, ttl_s: float) -> Load | NodeError:
        if self._closing:
            return CLOSING
        self._lease(lease_id, ttl_s, renew=True)
        return self._load()

    async def release(self, lease_id: str) -> None:
        self._end(lease_id, "released")

    def _lease(self, lease_id: str, ttl_s: float | None = None, *, renew: bool = False) -> _Lease:
        lease = self._leases.get(lease_id)
        if lease is None:
            ttl = ttl_s or self.options.lease_s
            lease = self._leases[lease_id] = _Lease(ttl_s=ttl, deadline=time.monotonic() + ttl)
            old = self._ended.pop(lease_id, None)  # a driver that comes back keeps its counts
            if old is not None:
                lease.started, lease.fetched = old.started, old.fetched
            logger.info("ray.lease_taken", lease=lease_id[:12], leases=len(self._leases))
        elif renew:
            if ttl_s:
                lease.ttl_s = ttl_s
            lease.deadline = time.monotonic() + lease.ttl_s
        return lease

    def _end(self, lease_id: str, why: str) -> None:
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            return
        for run in lease.runs:
            run.lapsed = True
            run.scope.cancel()  # the sandbox removes the container, as on a local cancel
        self._ended[lease_id] = lease
        while len(self._ended) > 256:
            self._ended.popitem(last=False)
        log = logger.warning if why == "lapsed" else logger.info
        log("ray.lease_ended", lease=lease_id[:12], why=why, runs_cancelled=len(lease.runs),
            leases=len(self._leases))

    async def _keep(self) -> None:
        """Ends the leases not renewed in time; with none left, gives back idle warm
        containers, and after ``idle_exit_s`` with no lease and no run, exits."""
        tick, idle_exit_s = self.options.lease_tick_s, self.options.idle_exit_s
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for lease_id, lease in list(self._leases.items()):
                if now > lease.deadline:
                    self._end(lease_id, "lapsed")
            if self._leases or self._in_flight:
                self._idle_since = None
                continue
            if self._idle_since is None:
                self._idle_since = now
                if self.sandbox is not None:  # nobody holds the node: nothing kept warm for it
                    with contextlib.suppress(Exception):
                        await self.sandbox.retire_idle()
            elif now - self._idle_since > idle_exit_s:
                self._closing = True
                logger.info("ray.node_actor_exiting", idle_s=round(now - self._idle_since, 1))
                try:
                    await self.close()  # what it cannot remove, its watchdog removes after it
                finally:
                    import ray  # optional dependency: ray (always there inside an actor)

                    ray.get_runtime_context().current_actor.exit.remote()
                return

    async def exit(self) -> None:
        """Ends this actor (called by itself once it has closed: Ray frees its name)."""
        import ray  # optional dependency: ray (always there inside an actor)

        ray.actor.exit_actor()

    def _load(self) -> Load:
        """How full the node is, for all drivers: its free share (0 when runs wait) and
        how many drivers hold it."""
        try:
            budget = self.sandbox.fresh.budget if self.sandbox is not None else None
        except RuntimeError:  # not open yet
            budget = None
        free = 1.0 if budget is None else (0.0 if budget.has_waiters else budget.free_share())
        return Load(free_share=free, leases=len(self._leases))

    # -- the node's sandbox --------------------------------------------------------------
    async def open(self) -> NodeInfo | NodeError:
        o = self.options
        if self.sandbox is None:
            fresh = DockerSandbox(url=o.docker_url, max_concurrent=o.max_concurrent, api_timeout_s=o.api_timeout_s)
            self.sandbox = PooledSandbox(fresh, max_jobs=o.pool_max_jobs, max_age_s=o.pool_max_age_s,
                                         idle_s=o.pool_idle_s)
        if self._keeper is None:
            self._keeper = asyncio.get_running_loop().create_task(self._keep())
        try:
            await self.sandbox.open()
        except InfrastructureError as exc:
            return NodeError.of(exc)
        fresh = self.sandbox.fresh
        if self._watchdog is None:
            started = subprocess.run(
                [sys.executable, "-m", "misalign_rewards.sandbox.watchdog", str(os.getpid()),
                 process_start_ticks(os.getpid()) or "", fresh.endpoint, fresh.client_id],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=True)
            pid = int(started.stdout.split()[0])
            self._watchdog = (pid, process_start_ticks(pid))
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        budget = fresh.budget
        load = self._load()
        return NodeInfo(host=socket.gethostname(), pid=os.getpid(), endpoint=fresh.endpoint,
                        client_id=fresh.client_id, cpus=budget.host.cpus,
                        memory_bytes=budget.host.memory_bytes, pids=budget.host.pids,
                        max_runs=budget.max_runs, memory_fraction=budget.memory_fraction,
                        pids_fraction=budget.pids_fraction, options=self.options,
                        free_share=load.free_share, leases=load.leases)

    async def _sweep_forever(self) -> None:
        """What dead clients on this host left on this engine (another actor whose
        watchdog could not finish, a local client that crashed) goes at each sweep."""
        assert self.sandbox is not None
        while True:
            await asyncio.sleep(self.options.reap_interval_s)
            try:
                await reap_orphans(self.sandbox.fresh)
            except InfrastructureError as exc:
                logger.warning("reaper.failed", error=str(exc))

    async def _blob(self, digest: str, ref: Any, lease: _Lease) -> bytes:
        """The content of ``digest``: cached, or being fetched already (for any driver),
        or fetched through this run's ``ref``. A fetch through another driver's ref that
        fails (that driver died, and its objects with it) is done again through ours."""
        while True:
            if digest in self.blobs:
                self.blobs.move_to_end(digest)
                return self.blobs[digest]
            mine = digest not in self._fetching
            if mine:
                lease.fetched += 1
                self._fetching[digest] = asyncio.ensure_future(self._fetch(digest, ref))
            try:
                return await asyncio.shield(self._fetching[digest])
            except Exception:
                if mine:
                    raise

    async def _fetch(self, digest: str, ref: Any) -> bytes:
        try:
            data: bytes = await ref
            self.fetched += 1
            self.fetched_bytes += len(data)
            self.blobs[digest] = data
            self.blob_bytes += len(data)
            cap = self.options.blob_cache_bytes
            while self.blob_bytes > cap and len(self.blobs) > 1:
                _, old = self.blobs.popitem(last=False)
                self.blob_bytes -= len(old)
            return data
        finally:
            self._fetching.pop(digest, None)

    async def run(self, lease_id: str, packed: PackedSpec, refs: dict[str, Any]) -> RunReply | NodeError:
        if self._closing:
            return CLOSING
        lease = self._lease(lease_id)
        self._in_flight += 1
        try:
            try:
                blobs = {d: await self._blob(d, ref, lease) for d, ref in refs.items()}
                spec = unpack_spec(packed, blobs)
            except Exception as exc:  # noqa: BLE001 - a lost object is the cluster's trouble
                return NodeError(kind=ErrorKind.ENGINE_ERROR, message=f"the run's files did not reach the node: "
                                                                      f"{type(exc).__name__}: {exc}")
            if self._leases.get(lease_id) is not lease:
                return LEASE_LAPSED  # it lapsed while the files came
            self.runs += 1
            lease.started += 1
            run = _Run()
            lease.runs.add(run)
            try:
                result = await self._cancellable(spec, lease_id, run)
            finally:
                lease.runs.discard(run)
            if result is None:
                return LEASE_LAPSED
            load = self._load()
            return RunReply(result=result, free_share=load.free_share, leases=load.leases)
        except (InvalidSpec, InfrastructureError) as exc:
            return NodeError.of(exc)
        except Exception as exc:  # noqa: BLE001 - the driver places the run elsewhere
            logger.exception("ray.node_run_failed")
            return NodeError(kind=ErrorKind.ENGINE_ERROR,
                             message=f"the node failed the run: {type(exc).__name__}: {exc}")
        finally:
            self._in_flight -= 1

    async def _cancellable(self, spec: RunSpec, owner: str, run: _Run) -> RunResult | None:
        """The sandbox's run in a task of its own, for ``owner`` (the budget's turns).
        ``ray.cancel`` cancels the actor call's asyncio task natively, which would cut
        through the sandbox's shielded clean-up; here it becomes an anyio cancel of the
        run instead, and the call waits for the clean-up (removing the container) to end.
        A lapsed lease cancels the same scope: then the answer is None."""
        scope = run.scope
        sandbox = self.sandbox
        assert sandbox is not None

        async def inner() -> RunResult | None:
            budget_owner.set(owner)
            with scope:
                result: RunResult = await sandbox.run(spec)
                return result
            return None

        task = asyncio.ensure_future(inner())
        cancelled = False
        while True:
            try:
                result = await asyncio.shield(task)
                break
            except asyncio.CancelledError:
                if task.done():
                    raise
                cancelled = True
                scope.cancel()
        if cancelled or (result is None and not run.lapsed):
            raise asyncio.CancelledError
        return result

    async def ping(self) -> NodeError | None:
        """Whether this node's engine answers (after trouble, before taking runs again):
        None when it does."""
        if self.sandbox is None:
            return NodeError(kind=ErrorKind.ENGINE_ERROR, message="the node's sandbox was never opened")
        try:
            fresh = self.sandbox.fresh
            with anyio.fail_after(fresh.api_timeout_s):
                await fresh.docker.system.info()
        except Exception as exc:  # noqa: BLE001 - any failure means "not back yet"
            return NodeError.of(exc)
        return None

    async def stats(self, lease_id: str | None = None) -> NodeStats:
        """The node's counters; with a lease id, that driver's runs and fetches."""
        lease = self._leases.get(lease_id or "") or self._ended.get(lease_id or "")
        return NodeStats(runs=lease.started if lease else self.runs,
                         fetched=lease.fetched if lease else self.fetched,
                         node_runs=self.runs, node_fetched=self.fetched, fetched_bytes=self.fetched_bytes,
                         cached=len(self.blobs), pid=os.getpid(), leases=len(self._leases),
                         client_id=self.sandbox.client_id if self.sandbox else None)

    async def close(self) -> None:
        """Remove everything of this actor's from its engine (busy containers included:
        a cancelled batch may have left runs ending), then stop the watchdog."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.sandbox is not None:
            await self.sandbox.aclose()
            left = await remove_client(self.sandbox.fresh.endpoint, self.sandbox.fresh.client_id, attempts=3)
            if left is None:
                return  # not all removed: the watchdog stays, and removes them once we are gone
        if self._watchdog is not None:
            pid, ticks = self._watchdog
            if process_start_ticks(pid) == ticks:  # still the watchdog, not a reused pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            self._watchdog = None


__all__ = ["NodeService"]
