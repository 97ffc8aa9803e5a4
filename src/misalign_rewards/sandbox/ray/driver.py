"""The driver's side: :class:`RaySandbox`, one batch over every Ray node that has a
Docker engine.

The verifiers and the judging stay in the calling process (the driver); only runs
travel. Each node that offers the custom resource ``misalign_engine`` (``ray start
--resources='{"misalign_engine": 1}'``) has one actor, pinned to it, that owns that
node's sandbox and its capacity (:mod:`.node`). That actor is shared by every driver of
the cluster: it is named (the node's id and :func:`~.protocol.code_key`, so two versions
of this code never talk to each other's actor) and detached, and the first driver to
need it starts it. A driver keeps a mirror of each node's
:class:`~..capacity.ResourceBudget` (the node's host, the same arithmetic as a local
client) for its own runs and sends each run to the node with the largest free share that
can take it now; when none can, the run waits in the driver, where any node, one that
joined meanwhile included, may take it. The node's budget is the one that holds: runs of
several drivers that do not fit at once wait there, the drivers taking turns.

Leases: each driver holds one on every node it uses, renewed by a heartbeat every
``lease_s / 4``. A lease not renewed in ``lease_s`` (its driver was killed) lapses: the
node cancels that driver's runs, which removes their containers. A driver's close
releases its leases.

Faults (docs/scale-out.md):

- a node that dies (its actor with it): the runs it had are placed again on the others,
  each once more at most ``max_losses`` times; the result a run gets is the one run that
  finished, so nothing is counted twice, and a loss is never a 0;
- a node whose engine fails (unreachable, erroring) is set aside and its runs placed
  elsewhere; it takes runs again once its engine answers;
- no node left: the run waits up to ``node_wait_s`` for one, then raises
  :class:`~...errors.EngineUnreachable` (the client retries, then reports ``None``);
- a node that joins is found within ``refresh_s`` and starts taking runs;
- a driver that dies: its leases lapse and the nodes cancel its runs; a node actor that
  dies: its watchdog (:mod:`..watchdog`) removes that actor's containers from its engine.

Payloads travel as :mod:`.payload` says; every call to a node and its answer is typed in
:mod:`.protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from pydantic import ValidationError

from ...errors import ClientClosed, EngineError, EngineUnreachable, ImageNotFound, InvalidSpec
from ...logs import get_logger
from ..base import OutputCallback, RunResult, RunSpec, Sandbox
from ..capacity import HostResources, ResourceBudget
from .node import NodeService
from .payload import BLOB_MIN_BYTES, DriverBlobs, pack_spec
from .protocol import (
    ACTOR_NAMESPACE,
    LEASE_S,
    NODE_RESOURCE,
    ErrorKind,
    Load,
    NodeError,
    NodeInfo,
    NodeOptions,
    PackedSpec,
    RunReply,
    actor_name,
)

logger = get_logger("misalign_rewards.ray")


def _import_ray() -> Any:
    try:
        import ray  # optional dependency: ray (the [ray] extra)
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise InvalidSpec("backend 'ray' needs Ray: pip install 'misalign-rewards[ray]'") from exc
    return ray


#: The errors of a node's engine after which a run is placed on another node (a node that
#: was lost under the run is, too); any other error is the run's answer.
_PLACED_AGAIN = frozenset({ErrorKind.ENGINE_UNREACHABLE, ErrorKind.ENGINE_ERROR})


@dataclass
class _Node:
    """A node as this driver sees it: its actor, what it said of itself, the mirror of
    its budget for this driver's runs."""

    node_id: str
    actor: Any
    info: NodeInfo
    budget: ResourceBudget
    #: "up" takes runs; "suspended": its engine failed, probed before it takes more
    state: str = "up"
    placed: int = 0
    #: what the node last said of its load, all drivers' runs included: its free share
    #: (0 while runs wait there) and how many drivers hold a lease on it
    shared_free: float = 1.0
    leases: int = 1

    def seen(self, answer: Load) -> None:
        self.shared_free = answer.free_share
        self.leases = max(1, answer.leases)

    @property
    def name(self) -> str:
        return f"{self.info.host}/{self.node_id[:8]}"


class RaySandbox(Sandbox):
    """Runs each spec on one of the cluster's engine nodes (see the module doc).

    ``address``: the cluster (``ray.init``'s, e.g. ``"auto"``); ignored when Ray is
    already initialised in this process (inside a Ray task or actor: verl, OpenRLHF).
    ``node_options`` go to each node's sandbox (``max_concurrent``, ``api_timeout_s``,
    ``pool_max_jobs``, ``pool_max_age_s``, ``pool_idle_s``, ``reap_interval_s``,
    ``idle_exit_s``) when this driver is the one that starts the node's actor; an actor
    another driver started keeps its own (a warning says so when they differ).
    ``lease_s``: how long a node keeps this driver's runs going without hearing from it.
    Unknown node options are an :class:`InvalidSpec` (:class:`~.protocol.NodeOptions`).
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
        try:
            self.node_options = NodeOptions.model_validate(node_options or {})
        except ValidationError as exc:
            raise InvalidSpec(f"node_options: {exc}") from exc
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
        self._blobs: DriverBlobs | None = None
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
            self._blobs = DriverBlobs(ray)
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
        return {n.node_id: {**n.info.model_dump(), "state": n.state, "placed": n.placed,
                            "free_share": n.budget.free_share()}
                for n in self._nodes.values()}

    async def node_stats(self) -> dict[str, dict[str, Any]]:
        """Each node actor's counters: this driver's runs and the blobs they fetched, and
        the node's own (``node_runs``, ``node_fetched``)."""
        return {n.node_id: (await n.actor.stats.remote(self.lease_id)).model_dump()
                for n in list(self._nodes.values())}

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
                    if isinstance(answer, NodeError) and answer.kind is ErrorKind.CLOSING:
                        self._lose(node, answer.message)
                    elif isinstance(answer, Load):
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
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # optional dependency: ray

        maker = self._ray.remote(NodeService).options(
            name=actor_name(node_id), namespace=ACTOR_NAMESPACE, lifetime="detached", get_if_exists=True,
            num_cpus=0, max_restarts=0, max_task_retries=0, max_concurrency=4096,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
        )
        info: NodeInfo | NodeError | None = None
        try:
            with anyio.fail_after(max(60.0, self.node_options.api_timeout_s * 2)):
                for _ in range(40):
                    # (asks the GCS by name: a blocking call)
                    actor = await anyio.to_thread.run_sync(maker.remote, self.node_options)
                    info = await actor.join.remote(self.lease_id, self.lease_s)
                    if not (isinstance(info, NodeError) and info.kind is ErrorKind.CLOSING):
                        break
                    await anyio.sleep(0.5)  # it is exiting: its name is free again soon
        except Exception as exc:  # noqa: BLE001 - a node that cannot start an actor is left out
            logger.warning("ray.node_unusable", node_id=node_id[:8], error=repr(exc))
            self._actor_deaths[node_id] = self._actor_deaths.get(node_id, 0) + 1
            return
        if not isinstance(info, NodeInfo):
            # its engine does not answer yet (or the actor kept closing): tried again at
            # the next look at the cluster
            logger.warning("ray.node_engine_down", node_id=node_id[:8],
                           error=info.message if info is not None else "no answer")
            return
        host = HostResources(cpus=info.cpus, memory_bytes=info.memory_bytes, pids=info.pids)
        budget = ResourceBudget(host, memory_fraction=info.memory_fraction,
                                pids_fraction=info.pids_fraction, max_runs=info.max_runs)
        if self._closed:
            with contextlib.suppress(Exception):
                await actor.release.remote(self.lease_id)
            return
        node = _Node(node_id=node_id, actor=actor, info=info, budget=budget)
        node.seen(info)
        self._nodes[node_id] = node
        self._actor_deaths.pop(node_id, None)  # only deaths in a row shut a node out
        ours, theirs = self.node_options.model_dump(), info.options.model_dump()
        differ = {k: (v, theirs.get(k)) for k, v in ours.items() if theirs.get(k) != v}
        if differ:
            logger.warning("ray.node_options_differ", node=node.name, ours_theirs=differ)
        logger.info("ray.node_joined", node=node.name, endpoint=info.endpoint, cpus=info.cpus,
                    memory_bytes=info.memory_bytes, max_runs=info.max_runs, leases=info.leases)
        self._signal()

    async def _probe(self, node: _Node) -> None:
        try:
            with anyio.fail_after(self.node_options.api_timeout_s + 30):
                answer: NodeError | None = await node.actor.ping.remote()
        except Exception as exc:  # noqa: BLE001
            self._lose(node, f"its actor did not answer: {exc!r}")
            return
        if answer is None and node.state == "suspended":
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
                if isinstance(reply, RunReply):
                    node.seen(reply)
                    result = reply.result
                    result.durations.queued += queued
                    await _emit(on_output, result)
                    return result
                # None: the node was lost under the run (it died, or never answered)
                error, message = reply, (reply.message if reply is not None else "")
                if error is not None and error.kind is ErrorKind.CLOSING:
                    # the node's actor is exiting: join it (or its next) anew
                    self._lose(node, message)
                    error = None
                elif error is not None and error.kind is ErrorKind.LEASE_LAPSED:
                    error = None  # this driver was not heard from in time
                if error is not None and error.kind is ErrorKind.IMAGE_NOT_FOUND:
                    skip.add(node.node_id)
                    continue
                where = f" (on node {node.name})"
                if error is not None and error.kind not in _PLACED_AGAIN:
                    raise error.exception(where)
                if error is not None and not any(n is not node for n in self._up()):
                    # nowhere else to go: the client's retries decide (then None, never 0)
                    raise error.exception(where)
                losses.append(node.name)
                if len(losses) > self.max_losses:
                    raise EngineError(f"the run failed on {len(losses)} nodes in a row "
                                      f"({', '.join(losses)}){': ' + message if message else ''}")
                if error is not None and error.kind is ErrorKind.ENGINE_UNREACHABLE:
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

    async def _call(self, node: _Node, spec: RunSpec, packed: PackedSpec,
                    refs: dict[str, Any]) -> RunReply | NodeError | None:
        """The node's reply, or None when the node (its actor) died under the run or
        never answered (a run waits on its node at most about one other run's time per
        driver holding the node, so that plus its own time and a grace period is more
        than any answer takes)."""
        ray = self._ray
        ref = node.actor.run.remote(self.lease_id, packed, refs)
        try:
            with anyio.fail_after((1 + node.leases) * spec.timeout_s + self.run_grace_s):
                reply: RunReply | NodeError = await ref
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


__all__ = ["RaySandbox"]
