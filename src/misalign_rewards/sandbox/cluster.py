"""One batch over every Ray node that has a Docker engine: :class:`RaySandbox`.

The verifiers and the judging stay in the calling process (the driver); only runs
travel. Each node that offers the custom resource ``misalign_engine`` (``ray start
--resources='{"misalign_engine": 1}'``) gets one actor, pinned to it, that owns that
node's sandbox (a :class:`~.pool.PooledSandbox` over a :class:`~.docker.DockerSandbox`
on the node's engine: ``DOCKER_HOST`` as the node was started, or the local socket) and
its capacity. The driver keeps a mirror of each node's :class:`~.capacity.ResourceBudget`
(the node's host, the same arithmetic as a local client) and sends each run to the node
with the largest free share that can take it now; when none can, the run waits in the
driver, where any node, one that joined meanwhile included, may take it.

Faults (docs/scale-out.md):

- a node that dies (its actor with it): the runs it had are placed again on the others,
  each once more at most ``max_losses`` times; the result a run gets is the one run that
  finished, so nothing is counted twice, and a loss is never a 0;
- a node whose engine fails (unreachable, erroring) is set aside and its runs placed
  elsewhere; it takes runs again once its engine answers;
- no node left: the run waits up to ``node_wait_s`` for one, then raises
  :class:`~..errors.EngineUnreachable` (the client retries, then reports ``None``);
- a node that joins is found within ``refresh_s`` and starts taking runs;
- a driver that dies: Ray kills its actors; each actor's watchdog
  (:mod:`.watchdog`) then removes that actor's containers from its engine.

Payloads: file contents of at least ``blob_min_bytes`` (the harness, warm files, big
tests) go into Ray's object store once per driver by their hash and are fetched by each
node at most once while its cache holds them; a run carries only their hashes and refs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from ..errors import ClientClosed, EngineError, EngineUnreachable, ImageNotFound, InfrastructureError, InvalidSpec
from ..logs import get_logger
from .base import OutputCallback, RunResult, RunSpec, Sandbox, WarmSpec
from .capacity import HostResources, ResourceBudget
from .docker import process_start_ticks

logger = get_logger("misalign_rewards.cluster")

#: The custom resource a node offers when it has a Docker engine for us.
NODE_RESOURCE = "misalign_engine"
BLOB_MIN_BYTES = 4096


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise InvalidSpec("backend 'ray' needs Ray: pip install 'misalign-rewards[ray]'") from exc
    return ray


# -- payloads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """Stands in a packed spec for content that travels through the object store."""

    digest: str


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_spec(spec: RunSpec, min_bytes: int = BLOB_MIN_BYTES) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``spec`` as a plain dict whose large contents are :class:`Blob` s, and those
    contents by digest."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> bytes | Blob:
        if len(data) < min_bytes:
            return data
        d = _digest(data)
        blobs[d] = data
        return Blob(d)

    packed = spec.model_dump(exclude={"files", "warm", "stdin"})
    packed["files"] = {path: put(data) for path, data in spec.files.items()}
    packed["stdin"] = put(spec.stdin)
    if spec.warm is not None:
        packed["warm"] = {"argv": list(spec.warm.argv),
                          "files": {path: put(data) for path, data in spec.warm.files.items()}}
    return packed, blobs


def unpack_spec(packed: dict[str, Any], blobs: dict[str, bytes]) -> RunSpec:
    def get(value: bytes | Blob) -> bytes:
        return blobs[value.digest] if isinstance(value, Blob) else value

    data = dict(packed)
    data["files"] = {path: get(v) for path, v in packed["files"].items()}
    data["stdin"] = get(packed["stdin"])
    if packed.get("warm") is not None:
        data["warm"] = WarmSpec(argv=packed["warm"]["argv"],
                                files={p: get(v) for p, v in packed["warm"]["files"].items()})
    return RunSpec.model_validate(data)


class _DriverBlobs:
    """Digest -> object ref, held while runs use it and for the ``keep`` most recent."""

    def __init__(self, ray: Any, keep: int = 64) -> None:
        self._ray = ray
        self._refs: dict[str, Any] = {}
        self._users: dict[str, int] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._keep = keep
        self.puts = 0  # object-store puts, and the distinct files they were for
        self.distinct: set[str] = set()

    def acquire(self, blobs: dict[str, bytes]) -> dict[str, Any]:
        refs: dict[str, Any] = {}
        try:
            for d, data in blobs.items():
                if d not in self._refs:
                    self._refs[d] = self._ray.put(data)
                    self.puts += 1
                    self.distinct.add(d)
                self._users[d] = self._users.get(d, 0) + 1
                self._recent.pop(d, None)
                refs[d] = self._refs[d]
        except BaseException as exc:
            self.release(refs)
            if isinstance(exc, Exception):  # the object store refused (full, gone)
                raise EngineError(f"Ray's object store did not take a run's files: "
                                  f"{type(exc).__name__}: {exc}") from exc
            raise
        return refs

    def release(self, digests: Any) -> None:
        for d in digests:
            self._users[d] -= 1
            if self._users[d] == 0:
                del self._users[d]
                self._recent[d] = None
        while len(self._recent) > self._keep:
            d, _ = self._recent.popitem(last=False)
            self._refs.pop(d, None)


# -- the node side ----------------------------------------------------------------------


class NodeService:
    """What runs inside each node's actor (``ray.remote`` is applied in the driver, so
    importing this module needs no Ray). All of its methods answer plain data: errors
    come back as ``{"error": class name, "message": ...}``, never as exceptions."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.sandbox: Any = None
        self.blobs: OrderedDict[str, bytes] = OrderedDict()
        self.blob_bytes = 0
        self._fetching: dict[str, asyncio.Future[bytes]] = {}
        self.fetched = 0
        self.fetched_bytes = 0
        self.runs = 0
        #: pid and start time of the process that removes this actor's containers if it
        #: dies unannounced
        self._watchdog: tuple[int, str | None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def open(self) -> dict[str, Any]:
        from .docker import DockerSandbox
        from .pool import PooledSandbox

        o = self.options
        if self.sandbox is None:
            fresh = DockerSandbox(url=o.get("docker_url"), max_concurrent=o.get("max_concurrent"),
                                  api_timeout_s=o.get("api_timeout_s", 60.0))
            self.sandbox = PooledSandbox(fresh, max_jobs=o.get("pool_max_jobs", 200),
                                         max_age_s=o.get("pool_max_age_s", 1800.0),
                                         idle_s=o.get("pool_idle_s", 120.0))
        try:
            await self.sandbox.open()
        except InfrastructureError as exc:
            return {"error": type(exc).__name__, "message": str(exc)}
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
        return {"host": socket.gethostname(), "pid": os.getpid(), "endpoint": fresh.endpoint,
                "client_id": fresh.client_id, "cpus": budget.host.cpus,
                "memory_bytes": budget.host.memory_bytes, "pids": budget.host.pids,
                "max_runs": budget.max_runs, "memory_fraction": budget.memory_fraction,
                "pids_fraction": budget.pids_fraction}

    async def _sweep_forever(self) -> None:
        """What dead clients on this host left on this engine (another actor whose
        watchdog could not finish, a local client that crashed) goes at each sweep."""
        from .reaper import reap_orphans

        while True:
            await asyncio.sleep(self.options.get("reap_interval_s", 30.0))
            try:
                await reap_orphans(self.sandbox.fresh)
            except InfrastructureError as exc:
                logger.warning("reaper.failed", error=str(exc))

    async def _blob(self, digest: str, ref: Any) -> bytes:
        if digest in self.blobs:
            self.blobs.move_to_end(digest)
            return self.blobs[digest]
        if digest not in self._fetching:
            self._fetching[digest] = asyncio.ensure_future(self._fetch(digest, ref))
        return await asyncio.shield(self._fetching[digest])

    async def _fetch(self, digest: str, ref: Any) -> bytes:
        try:
            data: bytes = await ref
            self.fetched += 1
            self.fetched_bytes += len(data)
            self.blobs[digest] = data
            self.blob_bytes += len(data)
            cap = self.options.get("blob_cache_bytes", 256 << 20)
            while self.blob_bytes > cap and len(self.blobs) > 1:
                _, old = self.blobs.popitem(last=False)
                self.blob_bytes -= len(old)
            return data
        finally:
            self._fetching.pop(digest, None)

    async def run(self, packed: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        try:
            blobs = {d: await self._blob(d, ref) for d, ref in refs.items()}
            spec = unpack_spec(packed, blobs)
        except Exception as exc:  # noqa: BLE001 - a lost object is the cluster's trouble
            return {"error": "EngineError", "message": f"the run's files did not reach the node: "
                                                       f"{type(exc).__name__}: {exc}"}
        self.runs += 1
        try:
            return {"result": await self._cancellable(spec)}
        except InvalidSpec as exc:
            return {"error": "InvalidSpec", "message": str(exc)}
        except InfrastructureError as exc:
            return {"error": type(exc).__name__, "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the driver places the run elsewhere
            logger.exception("ray.node_run_failed")
            return {"error": "EngineError", "message": f"the node failed the run: {type(exc).__name__}: {exc}"}

    async def _cancellable(self, spec: RunSpec) -> RunResult:
        """The sandbox's run in a task of its own. ``ray.cancel`` cancels the actor call's
        asyncio task natively, which would cut through the sandbox's shielded clean-up;
        here it becomes an anyio cancel of the run instead, and the call waits for the
        clean-up (removing the container) to end."""
        scope = anyio.CancelScope()

        async def inner() -> RunResult | None:
            with scope:
                result: RunResult = await self.sandbox.run(spec)
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
        if cancelled or result is None:
            raise asyncio.CancelledError
        return result

    async def ping(self) -> dict[str, Any]:
        """Whether this node's engine answers (after trouble, before taking runs again)."""
        try:
            fresh = self.sandbox.fresh
            with anyio.fail_after(fresh.api_timeout_s):
                await fresh.docker.system.info()
        except Exception as exc:  # noqa: BLE001 - any failure means "not back yet"
            return {"error": type(exc).__name__, "message": str(exc)}
        return {"ok": True}

    async def stats(self) -> dict[str, Any]:
        return {"runs": self.runs, "fetched": self.fetched, "fetched_bytes": self.fetched_bytes,
                "cached": len(self.blobs), "pid": os.getpid(),
                "client_id": self.sandbox.client_id if self.sandbox else None}

    async def close(self) -> None:
        """Remove everything of this actor's from its engine (busy containers included:
        a cancelled batch may have left runs ending), then stop the watchdog."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.sandbox is not None:
            from .watchdog import remove_client

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


# -- the driver side --------------------------------------------------------------------

_ERRORS: dict[str, type[Exception]] = {"EngineUnreachable": EngineUnreachable, "ImageNotFound": ImageNotFound,
                                       "EngineError": EngineError, "InvalidSpec": InvalidSpec}


@dataclass
class _Node:
    node_id: str
    actor: Any
    info: dict[str, Any]
    budget: ResourceBudget
    #: "up" takes runs; "suspended": its engine failed, probed before it takes more
    state: str = "up"
    placed: int = 0

    @property
    def name(self) -> str:
        return f"{self.info.get('host', '?')}/{self.node_id[:8]}"


class RaySandbox(Sandbox):
    """Runs each spec on one of the cluster's engine nodes (see the module doc).

    ``address``: the cluster (``ray.init``'s, e.g. ``"auto"``); ignored when Ray is
    already initialised in this process (inside a Ray task or actor: verl, OpenRLHF).
    ``node_options`` go to each node's sandbox (``max_concurrent``, ``api_timeout_s``,
    ``pool_max_jobs``, ``pool_max_age_s``, ``pool_idle_s``, ``reap_interval_s``).
    """

    def __init__(self, address: str | None = "auto", *, namespace: str | None = None,
                 node_resource: str = NODE_RESOURCE, node_options: dict[str, Any] | None = None,
                 refresh_s: float = 5.0, node_wait_s: float = 60.0, max_losses: int = 3,
                 blob_min_bytes: int = BLOB_MIN_BYTES, run_grace_s: float = 180.0) -> None:
        self.address = address
        self.namespace = namespace
        self.node_resource = node_resource
        self.node_options = dict(node_options or {})
        self.refresh_s = refresh_s
        self.node_wait_s = node_wait_s
        self.max_losses = max_losses
        self.blob_min_bytes = blob_min_bytes
        self.run_grace_s = run_grace_s
        self.client_id = uuid.uuid4().hex
        self._ray: Any = None
        self._inited_ray = False
        self._nodes: dict[str, _Node] = {}
        #: nodes whose actor died while the node lived on, and how often
        self._actor_deaths: dict[str, int] = {}
        self._last_refresh = -1e9
        self._refresh_lock = anyio.Lock()
        #: runs waiting for room, in arrival order
        self._line: list[anyio.Event] = []
        self._blobs: _DriverBlobs | None = None
        #: nodes being joined or probed, and those background tasks
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        #: node losses seen (for tests and logs)
        self.losses = 0
        self.replaced = 0

    # -- life --------------------------------------------------------------------------
    async def open(self) -> None:
        if self._closed:
            raise ClientClosed("this RaySandbox is closed; make a new one")
        if self._ray is None:
            ray = _import_ray()
            if not ray.is_initialized():
                # on this thread, once (Ray sets its signal handlers on the main thread)
                ray.init(address=self.address, namespace=self.namespace, log_to_driver=False,
                         logging_level="ERROR", configure_logging=False)
                self._inited_ray = True
            self._ray = ray
            self._blobs = _DriverBlobs(ray)
        joins = await self._refresh(force=True)
        if joins:
            await asyncio.wait(joins)
        if not self._nodes:
            raise EngineUnreachable(f"no live Ray node offers the resource {self.node_resource!r} "
                                    "(start engine nodes with ray start --resources='{\"%s\": 1}')"
                                    % self.node_resource)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        with anyio.CancelScope(shield=True):
            nodes, self._nodes = list(self._nodes.values()), {}
            for node in nodes:
                try:
                    with anyio.fail_after(30):
                        await node.actor.close.remote()
                except Exception as exc:  # noqa: BLE001 - the watchdog removes what is left
                    logger.warning("ray.node_close_failed", node=node.name, error=repr(exc))
                with contextlib.suppress(Exception):
                    self._ray.kill(node.actor)
            if self._inited_ray:
                await anyio.to_thread.run_sync(self._ray.shutdown)

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        """The engine nodes in use: node id -> what the node said of itself, its state and
        how many runs were placed on it."""
        return {n.node_id: {**n.info, "state": n.state, "placed": n.placed, "free_share": n.budget.free_share()}
                for n in self._nodes.values()}

    async def node_stats(self) -> dict[str, dict[str, Any]]:
        """Each node actor's own counters (runs, blobs fetched)."""
        return {n.node_id: await n.actor.stats.remote() for n in list(self._nodes.values())}

    # -- membership ----------------------------------------------------------------------
    async def _refresh(self, force: bool = False) -> list[asyncio.Task[None]]:
        """Look at the cluster's members (at most every ``refresh_s``): nodes that left are
        lost, new ones are joined and suspended ones probed, both in the background so
        that no placement waits on a slow node. Returns the tasks it started."""
        if not force and time.monotonic() - self._last_refresh < self.refresh_s:
            return []
        async with self._refresh_lock:
            if not force and time.monotonic() - self._last_refresh < self.refresh_s:
                return []
            self._last_refresh = time.monotonic()
            try:
                listed = await anyio.to_thread.run_sync(self._ray.nodes)
            except Exception as exc:  # noqa: BLE001 - the GCS did not answer
                raise EngineUnreachable(f"the Ray cluster did not list its nodes: {type(exc).__name__}: "
                                        f"{exc}") from exc
        alive = {n["NodeID"] for n in listed
                 if n.get("Alive") and n.get("Resources", {}).get(self.node_resource, 0) > 0}
        for node_id in list(self._nodes):
            if node_id not in alive:
                self._lose(self._nodes[node_id], "the node left the cluster")
        started = []
        for node_id in alive:
            if node_id not in self._nodes and node_id not in self._busy \
                    and self._actor_deaths.get(node_id, 0) < 3:
                started.append(self._background(node_id, self._join(node_id)))
        for node in list(self._nodes.values()):
            if node.state == "suspended" and node.node_id not in self._busy:
                started.append(self._background(node.node_id, self._probe(node)))
        return started

    def _background(self, node_id: str, coro: Any) -> asyncio.Task[None]:
        self._busy.add(node_id)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._busy.discard(node_id)
            self._tasks.discard(t)

        task.add_done_callback(done)
        return task

    async def _join(self, node_id: str) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = self._ray.remote(NodeService)
        actor = actor_class.options(
            num_cpus=0, max_restarts=0, max_task_retries=0, max_concurrency=4096,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
        ).remote(self.node_options)
        try:
            with anyio.fail_after(max(60.0, self.node_options.get("api_timeout_s", 60.0) * 2)):
                info = await actor.open.remote()
        except Exception as exc:  # noqa: BLE001 - a node that cannot start an actor is left out
            logger.warning("ray.node_unusable", node_id=node_id[:8], error=repr(exc))
            self._actor_deaths[node_id] = self._actor_deaths.get(node_id, 0) + 1
            with contextlib.suppress(Exception):
                self._ray.kill(actor)
            return
        if "error" in info:
            # its engine does not answer yet: tried again at the next look at the cluster
            logger.warning("ray.node_engine_down", node_id=node_id[:8], error=info["message"])
            with contextlib.suppress(Exception):
                await actor.close.remote()
                self._ray.kill(actor)
            return
        host = HostResources(cpus=info["cpus"], memory_bytes=info["memory_bytes"], pids=info["pids"])
        budget = ResourceBudget(host, memory_fraction=info["memory_fraction"],
                                pids_fraction=info["pids_fraction"], max_runs=info["max_runs"])
        if self._closed:
            with contextlib.suppress(Exception):
                await actor.close.remote()
            return
        node = _Node(node_id=node_id, actor=actor, info=info, budget=budget)
        self._nodes[node_id] = node
        self._actor_deaths.pop(node_id, None)  # only deaths in a row shut a node out
        logger.info("ray.node_joined", node=node.name, endpoint=info["endpoint"], cpus=info["cpus"],
                    memory_bytes=info["memory_bytes"], max_runs=info["max_runs"])
        self._signal()

    async def _probe(self, node: _Node) -> None:
        try:
            with anyio.fail_after(self.node_options.get("api_timeout_s", 60.0) + 30):
                answer = await node.actor.ping.remote()
        except Exception as exc:  # noqa: BLE001
            self._lose(node, f"its actor did not answer: {exc!r}")
            return
        if answer.get("ok") and node.state == "suspended":
            node.state = "up"
            logger.info("ray.node_back", node=node.name)
            self._signal()

    def _lose(self, node: _Node, why: str) -> None:
        if self._nodes.get(node.node_id) is node:
            del self._nodes[node.node_id]
            self.losses += 1
            self._actor_deaths[node.node_id] = self._actor_deaths.get(node.node_id, 0) + 1
            logger.warning("ray.node_lost", node=node.name, why=why)
            with contextlib.suppress(Exception):
                self._ray.kill(node.actor)
            self._last_refresh = -1e9  # look again at once: it may come back, others may join
            self._signal()

    def _signal(self, everyone: bool = True) -> None:
        """Wake the runs waiting for a node: all of them when membership changed, the
        first in line when one run's room came back."""
        for turn in list(self._line):
            if not turn.is_set():
                turn.set()
                if not everyone:
                    return

    # -- placement --------------------------------------------------------------------------
    async def _place(self, spec: RunSpec, skip: set[str], avoid: set[str]) -> tuple[_Node, tuple[float, ...]]:
        """The node with the largest free share that can take ``spec`` now, its room
        taken; waits (for room, for a node) as long as ``node_wait_s`` allows. Nodes in
        ``skip`` lack the image; those in ``avoid`` failed this run and are taken only
        when no other node that is up could be."""
        no_node_since: float | None = None
        waited = False
        while True:
            if self._closed:
                raise ClientClosed("this RaySandbox is closed")
            await self._refresh()
            known = [n for n in self._nodes.values() if n.node_id not in skip]
            if self._nodes and not known:
                raise ImageNotFound(f"image {spec.image!r} is on none of the cluster's engine nodes "
                                    f"({', '.join(n.name for n in self._nodes.values())}): build or load it on each")
            fitting = [n for n in known if n.budget.beyond_host(spec.limits) is None]
            if known and not fitting:
                roomiest = max(known, key=lambda n: (n.budget.host.cpus, n.budget.host.memory_bytes))
                raise InvalidSpec(f"{roomiest.budget.beyond_host(spec.limits)} (on {roomiest.name}, "
                                  f"the largest engine node of the cluster)")
            up = [n for n in fitting if n.state == "up"]
            for node in sorted([n for n in up if n.node_id not in avoid] or up,
                               key=lambda n: n.budget.free_share(), reverse=True):
                need = node.budget.try_acquire(spec.limits)
                if need is not None:
                    return node, need
            if not up:
                no_node_since = no_node_since or time.monotonic()
                if time.monotonic() - no_node_since > self.node_wait_s:
                    raise EngineUnreachable(f"no engine node of the Ray cluster took the run in "
                                            f"{self.node_wait_s:g} s (none that can is up)")
            else:
                no_node_since = None
            # in line: a release wakes the first waiter only (first come, first served,
            # and no herd of waiters re-sorting the nodes at every release)
            turn = anyio.Event()
            if waited:
                self._line.insert(0, turn)  # woken, but the room went elsewhere: keep its place
            else:
                self._line.append(turn)
            waited = True
            try:
                with anyio.move_on_after(self.refresh_s):
                    await turn.wait()
            finally:
                if turn in self._line:
                    self._line.remove(turn)

    async def run(self, spec: RunSpec, *, on_output: OutputCallback | None = None) -> RunResult:
        if self._ray is None:
            await self.open()
        assert self._blobs is not None
        packed, blobs = pack_spec(spec, self.blob_min_bytes)
        t0 = time.monotonic()
        losses: list[str] = []
        skip: set[str] = set()
        avoid: set[str] = set()
        refs = self._blobs.acquire(blobs)
        try:
            while True:
                node, need = await self._place(spec, skip, avoid)
                queued = time.monotonic() - t0
                node.placed += 1
                try:
                    reply = await self._call(node, spec, packed, refs)
                finally:
                    node.budget.release(need)
                    self._signal(everyone=False)
                if reply is not None and "result" in reply:
                    result: RunResult = reply["result"]
                    result.durations.queued += queued
                    await _emit(on_output, result)
                    return result
                kind, message = (reply["error"], reply["message"]) if reply else ("lost", "")
                if kind == "ImageNotFound":
                    skip.add(node.node_id)
                    continue
                if kind not in ("lost", "EngineUnreachable", "EngineError"):
                    raise _ERRORS.get(kind, EngineError)(f"{message} (on node {node.name})")
                if kind != "lost" and not any(n is not node for n in self._up()):
                    # nowhere else to go: the client's retries decide (then None, never 0)
                    raise _ERRORS[kind](f"{message} (on node {node.name})")
                losses.append(node.name)
                if len(losses) > self.max_losses:
                    raise EngineError(f"the run failed on {len(losses)} nodes in a row "
                                      f"({', '.join(losses)}){': ' + message if message else ''}")
                if kind == "EngineUnreachable":
                    self._suspend(node, message)  # its engine is gone: set it aside
                avoid.add(node.node_id)
                self.replaced += 1
        finally:
            self._blobs.release(refs)

    def _up(self) -> list[_Node]:
        return [n for n in self._nodes.values() if n.state == "up"]

    def _suspend(self, node: _Node, why: str) -> None:
        if node.state == "up":
            node.state = "suspended"
            logger.warning("ray.node_suspended", node=node.name, error=why)
            self._last_refresh = time.monotonic() - self.refresh_s + 1.0  # probe soon

    async def _call(self, node: _Node, spec: RunSpec, packed: dict[str, Any],
                    refs: dict[str, Any]) -> dict[str, Any] | None:
        """The node's reply, or None when the node (its actor) died under the run or
        never answered (a run waits on its node at most about one other run's time, so
        twice its own time and a grace period is more than any answer takes)."""
        ray = self._ray
        ref = node.actor.run.remote(packed, refs)
        try:
            with anyio.fail_after(2 * spec.timeout_s + self.run_grace_s):
                reply: dict[str, Any] = await ref
            return reply
        except TimeoutError:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
            self._suspend(node, "a run got no answer in twice its own time and a grace period")
            return None
        except ray.exceptions.RayTaskError as exc:
            # NodeService answers errors as data: this is the call itself failing on the
            # node (arguments it could not read: a different package version there?)
            raise EngineError(f"node {node.name} could not take the call: {str(exc).splitlines()[0]}") from exc
        except ray.exceptions.RayError as exc:  # the actor died, its objects were lost, ...
            first = str(exc).splitlines()[0] if str(exc) else ""
            self._lose(node, f"{type(exc).__name__}: {first}")
            return None
        except BaseException:
            with contextlib.suppress(Exception):
                ray.cancel(ref)  # cancelled by the caller: the node removes the container
            raise


async def _emit(on_output: OutputCallback | None, result: RunResult) -> None:
    """Output through Ray arrives whole, once the run ends: handed over in one piece."""
    if on_output is None:
        return
    for name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        if data:
            maybe = on_output(name, data)  # type: ignore[arg-type]
            if maybe is not None:
                await maybe
