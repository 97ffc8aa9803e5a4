"""One fresh, locked-down container per run, over aiodocker: :class:`DockerSandbox`.

The life of a run::

    reserve budget -> create (bounded) -> attach -> start -> write files+stdin, read output
                   -> exit | deadline (kill) | output cap (kill) -> wait, inspect -> remove

This module holds the containers' lifecycle: connecting to the engine and sizing the
budget from its host, creating, starting and removing containers, sweeping what a failed
removal left, and keeping containers that outlive one run for :mod:`.pool`. What a
container is made of is :mod:`.container`; driving one run in it (stdin, output, the
deadline) is :mod:`.drive`; the engine's plumbing (connection, error mapping, attach) is
:mod:`.engine`.

Every aiodocker call has a deadline; removal runs under a shielded cancel scope with its
own deadline, so a cancelled batch leaves nothing behind. Every container is labelled
(:mod:`.labels`) so :mod:`.reaper` can remove what a crashed client left.
"""

from __future__ import annotations

import time
import uuid
from enum import Enum
from typing import Any

import aiodocker
import aiohttp
import anyio
import anyio.to_thread
from aiodocker.stream import Stream

from ..errors import ClientClosed, InfrastructureError, InvalidSpec
from ..logs import get_logger
from .base import Durations, Limits, OutputCallback, RunResult, RunSpec, Sandbox
from .capacity import HostResources, ResourceBudget, local_resources
from .container import container_config, make_tar
from .drive import drive
from .engine import attach, connect, default_endpoint, engine_errors, engine_timestamp, kill_signal
from .labels import LABEL_CREATED, LABEL_RUN, client_labels
from .reaper import list_labelled, reap_orphans
from .uids import UidAllocator, UidLease

logger = get_logger("misalign_rewards.sandbox")


class _State(Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class DockerSandbox(Sandbox):
    """Runs each :class:`RunSpec` in a fresh container on one Docker engine.

    ``max_concurrent`` caps runs in flight; without it the cap comes from the engine
    host's CPUs, memory and pids against each run's limits (:class:`ResourceBudget`).
    ``max_concurrent_starts`` bounds containers being created and started at once: the
    engine, not the jobs, is the bottleneck there. ``uids`` hands each container its own
    untrusted uid (:class:`~.uids.UidAllocator`, by default one over the host's lock
    folder); the uid is held until the container is removed.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        client_id: str | None = None,
        max_concurrent: int | None = None,
        budget: ResourceBudget | None = None,
        max_concurrent_starts: int = 4,
        api_timeout_s: float = 60.0,
        cleanup_timeout_s: float = 30.0,
        log_output_bytes: int = 4096,
        reap_on_open: bool = True,
        uids: UidAllocator | None = None,
    ) -> None:
        if max_concurrent_starts < 1:
            raise ValueError("max_concurrent_starts must be >= 1")
        self.endpoint = url or default_endpoint()
        self.client_id = client_id or uuid.uuid4().hex
        self._max_concurrent = max_concurrent
        self._budget = budget
        self._starts = anyio.Semaphore(max_concurrent_starts)
        self.api_timeout_s = api_timeout_s
        self.cleanup_timeout_s = cleanup_timeout_s
        self.log_output_bytes = log_output_bytes
        self._reap_on_open = reap_on_open
        self.uids = uids or UidAllocator()
        #: uids of containers this sandbox could not remove: held until it closes
        self._stuck_uids: list[UidLease] = []
        #: the containers started by :meth:`start_kept`, by id: their uid and run label
        self._kept: dict[str, tuple[UidLease, str]] = {}
        self._state = _State.UNOPENED
        self._docker: aiodocker.Docker | None = None
        self._connector: aiohttp.BaseConnector | None = None
        self._open_lock = anyio.Lock()
        #: engine clock minus ours, measured at open (deadlines are judged on the engine's)
        self._clock_offset = 0.0
        #: runs in flight (their LABEL_RUN); anything else of ours on the engine is a leak
        self._active: set[str] = set()
        self._maybe_leaked = False
        self._last_sweep = 0.0
        self._labels = client_labels(self.client_id)

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> DockerSandbox:
        await self.open()
        return self

    async def open(self) -> None:
        """Connect, size the budget from the engine's host, and reap orphans. Idempotent;
        :meth:`run` calls it when needed."""
        async with self._open_lock:
            if self._state is _State.CLOSED:
                raise ClientClosed("this DockerSandbox is closed; make a new one")
            if self._state is _State.OPEN:
                return
            docker, self._connector = connect(self.endpoint)
            self._docker = docker
            try:
                with engine_errors(self.endpoint, action="answer"), anyio.fail_after(self.api_timeout_s):
                    asked = time.time()
                    info = await docker.system.info()
                    answered = time.time()
                engine_now = engine_timestamp(info.get("SystemTime"))
                if engine_now is not None:
                    self._clock_offset = engine_now - (asked + answered) / 2
                if self._budget is None:
                    local = local_resources()
                    host = HostResources(
                        cpus=float(info.get("NCPU") or local.cpus),
                        memory_bytes=int(info.get("MemTotal") or local.memory_bytes),
                        pids=local.pids,
                    )
                    self._budget = ResourceBudget(host, max_runs=self._max_concurrent)
                self._state = _State.OPEN
                if self._reap_on_open:
                    try:
                        await reap_orphans(self)
                    except InfrastructureError as exc:
                        # best effort: a sweep never makes opening fail
                        logger.warning("reaper.failed", error=str(exc))
            except BaseException:
                await self._close_client()
                raise
            logger.debug("sandbox.opened", endpoint=self.endpoint, client_id=self.client_id)

    async def aclose(self) -> None:
        if self._state is _State.CLOSED:
            return
        with anyio.CancelScope(shield=True):
            if self._maybe_leaked and self._state is _State.OPEN:
                await self.sweep_own()
            self._state = _State.CLOSED
            await self._close_client()
            # The uids of containers that could not be removed stay held until this
            # process ends (their containers may still run until the reaper comes).

    async def _close_client(self) -> None:
        docker, connector = self._docker, self._connector
        self._docker = self._connector = None
        if docker is not None:
            await docker.close()
        if connector is not None:
            await connector.close()

    @property
    def budget(self) -> ResourceBudget:
        if self._budget is None:
            raise RuntimeError("the budget is known once the sandbox is open")
        return self._budget

    @property
    def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            raise ClientClosed("the sandbox is not open")
        return self._docker

    # -- one run -------------------------------------------------------------------

    def check_limits(self, limits: Limits) -> None:
        """Refuse limits this engine's host can never give (the engine would refuse the
        container): the caller's mistake, raised as :class:`InvalidSpec` naming the field."""
        why = self.budget.beyond_host(limits)
        if why is not None:
            raise InvalidSpec(f"{why} at {self.endpoint}")

    async def run(self, spec: RunSpec, *, on_output: OutputCallback | None = None) -> RunResult:
        if self._state is not _State.OPEN:
            await self.open()
        self.check_limits(spec.limits)
        if self._maybe_leaked and time.monotonic() - self._last_sweep > 2.0:
            await self.sweep_own()
        run_id = uuid.uuid4().hex[:16]
        log = logger.bind(run_id=run_id, image=spec.image)
        durations = Durations()
        t_queue = time.monotonic()
        need = await self.budget.acquire(spec.limits)
        self._active.add(run_id)
        try:
            durations.queued = time.monotonic() - t_queue
            # Built once admitted, so queued runs hold no payload; big ones off the loop.
            if sum(len(v) for v in spec.files.values()) > 1 << 20:
                payload = await anyio.to_thread.run_sync(make_tar, spec.files)
            else:
                payload = make_tar(spec.files)
            labels = {**spec.labels, **self._labels, LABEL_RUN: run_id,
                      LABEL_CREATED: f"{time.time():.3f}"}
            lease = self.uids.lease()
            config = container_config(spec, len(payload), labels, lease.uid)
            name = f"mr-{self.client_id[:12]}-{run_id}"
            return await self._run_reserved(spec, name, config, payload, durations, on_output, log, lease)
        finally:
            self._active.discard(run_id)
            self.budget.release(need)

    async def sweep_own(self) -> list[str]:
        """Remove this sandbox's own containers that belong to no run in flight: what a
        removal that failed (or raced a create cut off half-way) left behind. Run when
        such a failure was seen, at the next run and on close. Never raises."""
        self._last_sweep = time.monotonic()
        removed: list[str] = []
        stuck = list(self._stuck_uids)
        try:
            leftovers = [c for c in await list_labelled(self, self.client_id)
                         if (c.get("Labels") or {}).get(LABEL_RUN) not in self._active]
        except InfrastructureError as exc:
            logger.warning("sandbox.sweep_failed", error=str(exc))
            return removed
        still = False
        for info in leftovers:
            if await self.remove_container(info["Id"], logger):
                removed.append(info["Id"])
                logger.info("sandbox.leftover_removed", container_id=info["Id"][:12])
            else:
                still = True
        self._maybe_leaked = still
        if not still:
            # the containers of the uids stuck before this sweep are gone: their uids are free
            for lease in stuck:
                self._stuck_uids.remove(lease)
                lease.release()
        return removed

    async def _run_reserved(
        self,
        spec: RunSpec,
        name: str,
        config: dict[str, Any],
        payload: bytes,
        durations: Durations,
        on_output: OutputCallback | None,
        log: Any,
        lease: UidLease,
    ) -> RunResult:
        created: list[str] = []
        try:
            container, stream = await self._create_and_start(spec, name, config, durations, log, created)
            return await drive(self, container, stream, spec, payload, durations, on_output, log)
        finally:
            with anyio.CancelScope(shield=True):
                t_clean = time.monotonic()
                self._remove_then_release(await self.remove_container(created[0] if created else name, log)
                                          and bool(created), lease)
                durations.cleanup = time.monotonic() - t_clean

    def _remove_then_release(self, removed: bool, lease: UidLease) -> None:
        """A container's uid is free once the container is gone; one whose removal
        failed (or whose create may land after it) keeps its uid while this sandbox is
        open, and is swept again later."""
        if removed:
            lease.release()
        else:
            self._maybe_leaked = True
            self._stuck_uids.append(lease)

    async def _create_and_start(self, spec: RunSpec, name: str, config: dict[str, Any],
                                durations: Durations, log: Any, created: list[str]) -> tuple[Any, Stream]:
        """Create, attach and start; the container's id goes into ``created`` as soon as
        the engine gives it (the caller removes it, whatever happens)."""
        docker = self.docker
        t0 = time.monotonic()
        async with self._starts:
            # Shielded: a create cut off half-way may still complete in the engine, after
            # a removal by name has found nothing. Let it finish, then remove it by id.
            with anyio.CancelScope(shield=True), \
                    engine_errors(self.endpoint, image=spec.image, action="create a container"), \
                    anyio.fail_after(self.api_timeout_s):
                container = await docker.containers.create(config, name=name)
            created.append(container.id)
            t1 = time.monotonic()
            durations.create = t1 - t0
            log.debug("sandbox.created", container_id=container.id[:12])
            stream = attach(docker, container.id)
            try:
                with engine_errors(self.endpoint, action="attach"), anyio.fail_after(self.api_timeout_s):
                    await stream._init()
                with engine_errors(self.endpoint, image=spec.image, action="start the container"), \
                        anyio.fail_after(self.api_timeout_s):
                    await container.start()
                durations.start = time.monotonic() - t1
            except BaseException:
                await stream.close()
                raise
        return container, stream

    # -- for backends built on this one (the warm pool) ---------------------------------

    async def start_kept(self, spec: RunSpec, run_label: str, labels: dict[str, str],
                         durations: Durations) -> tuple[Any, Stream, bytes]:
        """Start a container for ``spec`` that outlives one run: labelled as ours (the
        reaper and :meth:`sweep_own` know it, and the sweep leaves it alone: ``run_label``
        counts as a run in flight until :meth:`remove_kept`), attached, started. Returns
        the container, its stream and the files' tar, which the caller writes first on the
        stream. Nothing is left behind if starting fails; afterwards :meth:`remove_kept`
        removes it."""
        if self._state is not _State.OPEN:
            await self.open()
        self._active.add(run_label)
        try:
            payload = make_tar(spec.files)
            all_labels = {**spec.labels, **labels, **self._labels, LABEL_RUN: run_label,
                          LABEL_CREATED: f"{time.time():.3f}"}
            lease = self.uids.lease()  # the container's for its whole life
            config = container_config(spec, len(payload), all_labels, lease.uid)
            name = f"mr-{self.client_id[:12]}-{run_label}"
            created: list[str] = []
            log = logger.bind(run_id=run_label, image=spec.image)
            try:
                container, stream = await self._create_and_start(spec, name, config, durations, log, created)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    self._remove_then_release(await self.remove_container(created[0] if created else name, log)
                                              and bool(created), lease)
                raise
        except BaseException:
            self._active.discard(run_label)
            raise
        self._kept[container.id] = (lease, run_label)
        return container, stream, payload

    async def remove_kept(self, container_id: str) -> None:
        """Remove a container from :meth:`start_kept` (swept later if that fails)."""
        with anyio.CancelScope(shield=True):
            removed = await self.remove_container(container_id, logger)
            kept = self._kept.pop(container_id, None)
            if kept is not None:
                lease, run_label = kept
                self._remove_then_release(removed, lease)
                self._active.discard(run_label)
            elif not removed:
                self._maybe_leaked = True

    def engine_now(self) -> float:
        """The engine's clock now, as measured at open (seconds since the epoch)."""
        return time.time() + self._clock_offset

    async def stopped_by_engine(self, container: Any, state: dict[str, Any], *,
                                since: float | None = None) -> str | None:
        """What stopped ``container`` (which has exited, and which we did not kill) if
        the engine's own record says it was told to: a ``kill`` event (``docker kill``,
        ``docker stop``, a drain, a daemon shutting down) before it finished. None if the
        record has none: then the container ended by what ran in it. Nothing inside a
        container can write the engine's record, so code cannot pass its own failure off
        as this. ``since``: only kills from then (engine clock; default: its start).
        Raises InfrastructureError if the record cannot be read."""
        now = self.engine_now()
        started = since or engine_timestamp(state.get("StartedAt")) or now - 24 * 3600
        finished = engine_timestamp(state.get("FinishedAt")) or now
        with engine_errors(self.endpoint, action="list the container's events"), \
                anyio.fail_after(self.api_timeout_s):
            signal = await kill_signal(self.docker, container.id, started - 1, max(now, finished), finished)
        return None if signal is None else f"the engine was told to kill it with signal {signal}"

    async def container_state(self, container: Any) -> dict[str, Any]:
        """The engine's ``State`` of ``container`` (raises InfrastructureError)."""
        with engine_errors(self.endpoint, action="inspect the container"), anyio.fail_after(self.api_timeout_s):
            info = await container.show()
        return dict(info.get("State") or {})

    async def kill(self, container: Any, log: Any) -> None:
        """Kill ``container``; never raises (its removal forces it anyway)."""
        try:
            with engine_errors(self.endpoint, action="kill"), anyio.fail_after(self.cleanup_timeout_s):
                await container.kill()
        except InfrastructureError as exc:
            # Already exited (409) is the common case; removal below forces it anyway.
            log.debug("sandbox.kill_failed", error=str(exc))

    async def remove_container(self, ref: str, log: Any = logger) -> bool:
        """Force-remove ``ref`` (id or name); whether it is gone. Never raises: what fails
        here is logged and swept again later (:meth:`sweep_own`)."""
        if self._docker is None:
            return False
        try:
            with anyio.fail_after(self.cleanup_timeout_s):
                await self._docker.containers.container(ref).delete(force=True, v=True)
            return True
        except aiodocker.DockerError as exc:
            if exc.status in (404, 409):  # gone already, or its removal already in progress
                return True
            log.warning("sandbox.cleanup_failed", container=ref[:32], error=str(exc))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("sandbox.cleanup_failed", container=ref[:32], error=repr(exc))
        return False




__all__ = ["DockerSandbox"]
