"""One batch over every Ray node that has a Docker engine: :class:`RaySandbox`.

The verifiers and the judging stay in the calling process (the driver); only runs
travel. Each node that offers the custom resource ``misalign_engine`` (``ray start
--resources='{"misalign_engine": 1}'``) has one actor, pinned to it, that owns that
node's sandbox (a :class:`~.pool.PooledSandbox` over a :class:`~.docker.DockerSandbox`
on the node's engine: ``DOCKER_HOST`` as the node was started, or the local socket) and
its capacity. That actor is shared by every driver of the cluster: it is named (the
node's id and :func:`code_key`, so two versions of this code never talk to each other's
actor) and detached, and the first driver to need it starts it. A driver keeps a mirror
of each node's :class:`~.capacity.ResourceBudget` (the node's host, the same arithmetic
as a local client) for its own runs and sends each run to the node with the largest
free share that can take it now; when none can, the run waits in the driver, where any
node, one that joined meanwhile included, may take it. The node's budget is the one
that holds: runs of several drivers that do not fit at once wait there, the drivers
taking turns.

Leases: each driver holds one on every node it uses, renewed by a heartbeat every
``lease_s / 4``. A lease not renewed in ``lease_s`` (its driver was killed) lapses: the
node cancels that driver's runs, which removes their containers. A driver's close
releases its leases. A node actor with no lease and no run for ``idle_exit_s`` removes
its containers and exits.

Faults (docs/scale-out.md):

- a node that dies (its actor with it): the runs it had are placed again on the others,
  each once more at most ``max_losses`` times; the result a run gets is the one run that
  finished, so nothing is counted twice, and a loss is never a 0;
- a node whose engine fails (unreachable, erroring) is set aside and its runs placed
  elsewhere; it takes runs again once its engine answers;
- no node left: the run waits up to ``node_wait_s`` for one, then raises
  :class:`~..errors.EngineUnreachable` (the client retries, then reports ``None``);
- a node that joins is found within ``refresh_s`` and starts taking runs;
- a driver that dies: its leases lapse and the nodes cancel its runs; a node actor that
  dies: its watchdog (:mod:`.watchdog`) removes that actor's containers from its engine.

Payloads: file contents of at least ``blob_min_bytes`` (the harness, warm files, big
tests) go into Ray's object store once per driver by their hash and are fetched by each
node at most once while its cache holds them; a run carries only their hashes and refs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ..errors import ClientClosed, EngineError, EngineUnreachable, ImageNotFound, InfrastructureError, InvalidSpec
from ..logs import get_logger
from .base import OutputCallback, RunResult, RunSpec, Sandbox, WarmSpec
from .capacity import HostResources, ResourceBudget, budget_owner
from .labels import process_start_ticks

logger = get_logger("misalign_rewards.cluster")

#: The custom resource a node offers when it has a Docker engine for us.
NODE_RESOURCE = "misalign_engine"
BLOB_MIN_BYTES = 4096
#: Changed whenever the calls between a driver and a node actor change.
PROTOCOL = 2
#: The Ray namespace of the node actors, whatever namespace each driver's job has.
ACTOR_NAMESPACE = "misalign-rewards"
LEASE_S = 15.0
#: A node actor's options and their defaults (``RaySandbox(node_options=...)``).
NODE_DEFAULTS: dict[str, Any] = {
    "docker_url": None, "max_concurrent": None, "api_timeout_s": 60.0, "pool_max_jobs": 200,
    "pool_max_age_s": 1800.0, "pool_idle_s": 120.0, "reap_interval_s": 30.0,
    "blob_cache_bytes": 256 << 20, "lease_s": LEASE_S, "lease_tick_s": 0.5, "idle_exit_s": 300.0,
}


@functools.cache
def code_key() -> str:
    """What tells versions of this code that cannot talk to each other apart: the
    protocol number, the package's version and a digest of its Python sources (what a
    node actor runs and what the calls to it carry). Part of each node actor's name."""
    import misalign_rewards

    root = Path(misalign_rewards.__file__).parent
    h = hashlib.sha256(f"{PROTOCOL}\0{getattr(misalign_rewards, '__version__', '')}".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(b"\0" + str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def actor_name(node_id: str) -> str:
    """The name of the node actor of ``node_id`` (in :data:`ACTOR_NAMESPACE`)."""
    return f"misalign-node-{code_key()}-{node_id}"


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
    """What runs inside each node's actor (``ray.remote`` is applied in the driver, so
    importing this module needs no Ray), shared by every driver that uses the node. All
    of its methods answer plain data: errors come back as ``{"error": class name,
    "message": ...}``, never as exceptions.

    A driver calls :meth:`join` with its lease id, :meth:`renew` at least every
    ``ttl_s``, :meth:`run` with the same id, and :meth:`release` when it closes. A lease
    that is not renewed in time lapses: that driver's runs are cancelled, which removes
    their containers. With no lease left, idle warm containers are removed; with no lease
    and no run for ``idle_exit_s``, the actor removes its containers and exits.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = {**NODE_DEFAULTS, **options}
        self.sandbox: Any = None
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
        self._idle_since = time.monotonic()
        #: set once the actor has decided to exit: it takes no new lease or run
        self._closing = False
        #: pid and start time of the process that removes this actor's containers if it
        #: dies unannounced
        self._watchdog: tuple[int, str | None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None

    # -- leases ----------------------------------------------------------------------------
    async def join(self, lease_id: str, ttl_s: float) -> dict[str, Any]:
        """Open the node's sandbox if it is not, take a lease: what the node is."""
        if self._closing:
            return {"error": "Closing", "message": "the node's actor is closing"}
        info = await self.open()
        if "error" not in info:
            self._lease(lease_id, ttl_s, renew=True)
        return info

    async def renew(self, lease_id: str, ttl_s: float) -> dict[str, Any]:
        if self._closing:
            return {"error": "Closing", "message": "the node's actor is closing"}
        self._lease(lease_id, ttl_s, renew=True)
        return {"ok": True, **self._load()}

    async def release(self, lease_id: str) -> None:
        self._end(lease_id, "released")

    def _lease(self, lease_id: str, ttl_s: float | None = None, *, renew: bool = False) -> _Lease:
        lease = self._leases.get(lease_id)
        if lease is None:
            ttl = ttl_s or self.options["lease_s"]
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
        tick, idle_exit_s = self.options["lease_tick_s"], self.options["idle_exit_s"]
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
                    import ray

                    ray.get_runtime_context().current_actor.exit.remote()
                return

    async def exit(self) -> None:
        """Ends this actor (called by itself once it has closed: Ray frees its name)."""
        import ray

        ray.actor.exit_actor()

    def _load(self) -> dict[str, Any]:
        """How full the node is, for all drivers: its free share (0 when runs wait) and
        how many drivers hold it."""
        try:
            budget = self.sandbox.fresh.budget
        except (AttributeError, RuntimeError):  # not open yet
            budget = None
        free = 1.0 if budget is None else (0.0 if budget.has_waiters else budget.free_share())
        return {"free_share": free, "leases": len(self._leases)}

    # -- the node's sandbox --------------------------------------------------------------
    async def open(self) -> dict[str, Any]:
        from .docker import DockerSandbox
        from .pool import PooledSandbox

        o = self.options
        if self.sandbox is None:
            fresh = DockerSandbox(url=o["docker_url"], max_concurrent=o["max_concurrent"],
                                  api_timeout_s=o["api_timeout_s"])
            self.sandbox = PooledSandbox(fresh, max_jobs=o["pool_max_jobs"], max_age_s=o["pool_max_age_s"],
                                         idle_s=o["pool_idle_s"])
        if self._keeper is None:
            self._keeper = asyncio.get_running_loop().create_task(self._keep())
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
                "pids_fraction": budget.pids_fraction, "options": self.options, **self._load()}

    async def _sweep_forever(self) -> None:
        """What dead clients on this host left on this engine (another actor whose
        watchdog could not finish, a local client that crashed) goes at each sweep."""
        from .reaper import reap_orphans

        while True:
            await asyncio.sleep(self.options["reap_interval_s"])
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
            cap = self.options["blob_cache_bytes"]
            while self.blob_bytes > cap and len(self.blobs) > 1:
                _, old = self.blobs.popitem(last=False)
                self.blob_bytes -= len(old)
            return data
        finally:
            self._fetching.pop(digest, None)

    async def run(self, lease_id: str, packed: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        if self._closing:
            return {"error": "Closing", "message": "the node's actor is closing"}
        lease = self._lease(lease_id)
        lapsed = {"error": "LeaseLapsed", "message": "the driver's lease on the node lapsed"}
        self._in_flight += 1
        try:
            try:
                blobs = {d: await self._blob(d, ref, lease) for d, ref in refs.items()}
                spec = unpack_spec(packed, blobs)
            except Exception as exc:  # noqa: BLE001 - a lost object is the cluster's trouble
                return {"error": "EngineError", "message": f"the run's files did not reach the node: "
                                                           f"{type(exc).__name__}: {exc}"}
            if self._leases.get(lease_id) is not lease:
                return lapsed  # it lapsed while the files came
            self.runs += 1
            lease.started += 1
            run = _Run()
            lease.runs.add(run)
            try:
                result = await self._cancellable(spec, lease_id, run)
            finally:
                lease.runs.discard(run)
            if result is None:
                return lapsed
            return {"result": result, **self._load()}
        except InvalidSpec as exc:
            return {"error": "InvalidSpec", "message": str(exc)}
        except InfrastructureError as exc:
            return {"error": type(exc).__name__, "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the driver places the run elsewhere
            logger.exception("ray.node_run_failed")
            return {"error": "EngineError", "message": f"the node failed the run: {type(exc).__name__}: {exc}"}
        finally:
            self._in_flight -= 1

    async def _cancellable(self, spec: RunSpec, owner: str, run: _Run) -> RunResult | None:
        """The sandbox's run in a task of its own, for ``owner`` (the budget's turns).
        ``ray.cancel`` cancels the actor call's asyncio task natively, which would cut
        through the sandbox's shielded clean-up; here it becomes an anyio cancel of the
        run instead, and the call waits for the clean-up (removing the container) to end.
        A lapsed lease cancels the same scope: then the answer is None."""
        scope = run.scope

        async def inner() -> RunResult | None:
            budget_owner.set(owner)
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
        if cancelled or (result is None and not run.lapsed):
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

    async def stats(self, lease_id: str | None = None) -> dict[str, Any]:
        """The node's counters; with a lease id, that driver's runs and fetches."""
        lease = self._leases.get(lease_id or "") or self._ended.get(lease_id or "")
        return {"runs": lease.started if lease else self.runs,
                "fetched": lease.fetched if lease else self.fetched,
                "node_runs": self.runs, "node_fetched": self.fetched, "fetched_bytes": self.fetched_bytes,
                "cached": len(self.blobs), "pid": os.getpid(), "leases": len(self._leases),
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
    #: what the node last said of its load, all drivers' runs included: its free share
    #: (0 while runs wait there) and how many drivers hold a lease on it
    shared_free: float = 1.0
    leases: int = 1

    def seen(self, answer: dict[str, Any]) -> None:
        self.shared_free = answer.get("free_share", self.shared_free)
        self.leases = max(1, answer.get("leases", self.leases))

    @property
    def name(self) -> str:
        return f"{self.info.get('host', '?')}/{self.node_id[:8]}"


class RaySandbox(Sandbox):
    """Runs each spec on one of the cluster's engine nodes (see the module doc).

    ``address``: the cluster (``ray.init``'s, e.g. ``"auto"``); ignored when Ray is
    already initialised in this process (inside a Ray task or actor: verl, OpenRLHF).
    ``node_options`` go to each node's sandbox (``max_concurrent``, ``api_timeout_s``,
    ``pool_max_jobs``, ``pool_max_age_s``, ``pool_idle_s``, ``reap_interval_s``,
    ``idle_exit_s``) when this driver is the one that starts the node's actor; an actor
    another driver started keeps its own (a warning says so when they differ).
    ``lease_s``: how long a node keeps this driver's runs going without hearing from it.
    """

    def __init__(self, address: str | None = "auto", *, namespace: str | None = None,
                 node_resource: str = NODE_RESOURCE, node_options: dict[str, Any] | None = None,
                 refresh_s: float = 5.0, node_wait_s: float = 60.0, max_losses: int = 3,
                 blob_min_bytes: int = BLOB_MIN_BYTES, run_grace_s: float = 180.0,
                 lease_s: float = LEASE_S) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.address = address
        self.namespace = namespace
        self.node_resource = node_resource
        self.node_options = dict(node_options or {})
        self.refresh_s = refresh_s
        self.node_wait_s = node_wait_s
        self.max_losses = max_losses
        self.blob_min_bytes = blob_min_bytes
        self.run_grace_s = run_grace_s
        self.lease_s = lease_s
        self.client_id = uuid.uuid4().hex
        #: this driver's lease on every node it uses
        self.lease_id = self.client_id
        self._heartbeat: asyncio.Task[None] | None = None
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
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
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
        for task in [*self._tasks, *([self._heartbeat] if self._heartbeat else [])]:
            task.cancel()
        with anyio.CancelScope(shield=True):
            nodes, self._nodes = list(self._nodes.values()), {}
            for node in nodes:
                # the actor is the node's, shared: only this driver's lease ends
                try:
                    with anyio.fail_after(30):
                        await node.actor.release.remote(self.lease_id)
                except Exception as exc:  # noqa: BLE001 - the lease lapses by itself
                    logger.warning("ray.lease_release_failed", node=node.name, error=repr(exc))
            if self._inited_ray:
                await anyio.to_thread.run_sync(self._ray.shutdown)

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        """The engine nodes in use: node id -> what the node said of itself, its state and
        how many runs were placed on it."""
        return {n.node_id: {**n.info, "state": n.state, "placed": n.placed, "free_share": n.budget.free_share()}
                for n in self._nodes.values()}

    async def node_stats(self) -> dict[str, dict[str, Any]]:
        """Each node actor's counters: this driver's runs and the blobs they fetched, and
        the node's own (``node_runs``, ``node_fetched``)."""
        return {n.node_id: await n.actor.stats.remote(self.lease_id) for n in list(self._nodes.values())}

    async def _beat(self) -> None:
        """Renews this driver's lease on every node every ``lease_s / 4``. A node that
        does not answer is left to the runs to find out about; one that is closing (it
        saw no driver for a long time: this one was stalled) is lost and joined anew."""
        while True:
            await anyio.sleep(self.lease_s / 4)
            nodes = list(self._nodes.values())
            refs = [n.actor.renew.remote(self.lease_id, self.lease_s) for n in nodes]
            with anyio.move_on_after(self.lease_s / 2):
                answers = await asyncio.gather(*refs, return_exceptions=True)
                for node, answer in zip(nodes, answers, strict=True):
                    if isinstance(answer, dict) and answer.get("error") == "Closing":
                        self._lose(node, answer["message"])
                    elif isinstance(answer, dict):
                        node.seen(answer)

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
        """Take a lease on the node's actor, which the first driver to need it starts
        (named, detached: it outlives that driver and serves every driver)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        maker = self._ray.remote(NodeService).options(
            name=actor_name(node_id), namespace=ACTOR_NAMESPACE, lifetime="detached", get_if_exists=True,
            num_cpus=0, max_restarts=0, max_task_retries=0, max_concurrency=4096,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
        )
        info: dict[str, Any] = {}
        try:
            with anyio.fail_after(max(60.0, self.node_options.get("api_timeout_s", 60.0) * 2)):
                for _ in range(40):
                    # (asks the GCS by name: a blocking call)
                    actor = await anyio.to_thread.run_sync(maker.remote, self.node_options)
                    info = await actor.join.remote(self.lease_id, self.lease_s)
                    if info.get("error") != "Closing":
                        break
                    await anyio.sleep(0.5)  # it is exiting: its name is free again soon
        except Exception as exc:  # noqa: BLE001 - a node that cannot start an actor is left out
            logger.warning("ray.node_unusable", node_id=node_id[:8], error=repr(exc))
            self._actor_deaths[node_id] = self._actor_deaths.get(node_id, 0) + 1
            return
        if "error" in info:
            # its engine does not answer yet (or the actor kept closing): tried again at
            # the next look at the cluster
            logger.warning("ray.node_engine_down", node_id=node_id[:8], error=info["message"])
            return
        host = HostResources(cpus=info["cpus"], memory_bytes=info["memory_bytes"], pids=info["pids"])
        budget = ResourceBudget(host, memory_fraction=info["memory_fraction"],
                                pids_fraction=info["pids_fraction"], max_runs=info["max_runs"])
        if self._closed:
            with contextlib.suppress(Exception):
                await actor.release.remote(self.lease_id)
            return
        node = _Node(node_id=node_id, actor=actor, info=info, budget=budget)
        node.seen(info)
        self._nodes[node_id] = node
        self._actor_deaths.pop(node_id, None)  # only deaths in a row shut a node out
        ours = {**NODE_DEFAULTS, **self.node_options}
        differ = {k: (v, info["options"].get(k)) for k, v in ours.items() if info["options"].get(k) != v}
        if differ:
            logger.warning("ray.node_options_differ", node=node.name, ours_theirs=differ)
        logger.info("ray.node_joined", node=node.name, endpoint=info["endpoint"], cpus=info["cpus"],
                    memory_bytes=info["memory_bytes"], max_runs=info["max_runs"], leases=info["leases"])
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
                               key=lambda n: min(n.budget.free_share(), n.shared_free), reverse=True):
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
                    node.seen(reply)
                    result: RunResult = reply["result"]
                    result.durations.queued += queued
                    await _emit(on_output, result)
                    return result
                kind, message = (reply["error"], reply["message"]) if reply else ("lost", "")
                if kind == "Closing":  # the node's actor is exiting: join it (or its next) anew
                    self._lose(node, message)
                    kind = "lost"
                elif kind == "LeaseLapsed":  # this driver was not heard from in time
                    kind = "lost"
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
        never answered (a run waits on its node at most about one other run's time per
        driver holding the node, so that plus its own time and a grace period is more
        than any answer takes)."""
        ray = self._ray
        ref = node.actor.run.remote(self.lease_id, packed, refs)
        try:
            with anyio.fail_after((1 + node.leases) * spec.timeout_s + self.run_grace_s):
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
