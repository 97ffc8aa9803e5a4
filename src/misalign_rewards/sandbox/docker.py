"""One fresh, locked-down container per run, over aiodocker.

The life of a run::

    reserve budget -> create (bounded) -> attach -> start -> write files+stdin, read output
                   -> exit | deadline (kill) | output cap (kill) -> wait, inspect -> remove

Files reach the container through stdin: a tar archive that a tiny ``/bin/sh`` boot line
unpacks under ``spec.workdir`` before ``exec``-ing the command (``put_archive`` cannot
reach a tmpfs in a read-only container; see docs/sandbox.md). The image therefore needs
``/bin/sh``, ``head`` and ``tar``, as Debian and Ubuntu bases have.

Every aiodocker call has a deadline; removal runs under a shielded cancel scope with its
own deadline, so a cancelled batch leaves nothing behind. Every container is labelled so
:mod:`.reaper` can remove what a crashed client left.
"""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from inspect import isawaitable
from typing import Any

import aiodocker
import aiohttp
import anyio
import anyio.to_thread
from aiodocker.stream import Stream
from yarl import URL

from ..errors import ClientClosed, EngineError, EngineUnreachable, ImageNotFound, InfrastructureError, InvalidSpec
from ..logs import get_logger
from .base import Durations, Limits, OutputCallback, RunResult, RunSpec, Sandbox, Stream as StreamName
from .capacity import HostResources, ResourceBudget, local_resources
from .uids import UID_ENV, UidAllocator, UidLease

logger = get_logger("misalign_rewards.sandbox")

LABEL_PREFIX = "io.misalign-rewards"
LABEL_CLIENT = f"{LABEL_PREFIX}.client"
LABEL_RUN = f"{LABEL_PREFIX}.run"
LABEL_CREATED = f"{LABEL_PREFIX}.created"
LABEL_HOST = f"{LABEL_PREFIX}.host"
LABEL_PID = f"{LABEL_PREFIX}.pid"
LABEL_PID_START = f"{LABEL_PREFIX}.pid-start"
#: The container's untrusted uid (sandbox/uids.py), for people reading the engine's list.
LABEL_UID = f"{LABEL_PREFIX}.uid"

# $1: bytes of tar on stdin, $2: where to unpack, the rest: the command. `head -c` never
# reads past its count, so whatever follows the archive on stdin reaches the command.
_BOOT = (
    'n=$1; d=$2; shift 2; '
    'mkdir -p "$d" || { echo "misalign-boot: cannot create $d" >&2; exit 125; }; '
    'if [ "$n" -gt 0 ]; then head -c "$n" | tar -x -o -C "$d" -f - '
    '|| { echo "misalign-boot: cannot unpack files" >&2; exit 125; }; fi; '
    'cd "$d" && exec "$@"'
)
BOOT_FAILURE_EXIT = 125


def default_endpoint() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def process_start_ticks(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (guards against pid reuse)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def engine_timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of the engine's RFC 3339 timestamp (nanoseconds allowed),
    or None for an empty one (Docker writes ``0001-01-01T00:00:00Z`` for "never")."""
    if not text or text.startswith("0001-"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    zone = ""
    for sign in ("+", "-"):
        if sign in frac:
            frac, _, rest = frac.partition(sign)
            zone = sign + rest
    if not zone and text.endswith("Z"):
        zone = "+00:00"
    try:
        return datetime.fromisoformat(f"{head}.{(frac or '0')[:6]:0<6}{zone}").timestamp()
    except ValueError:
        return None


def _unreachable(endpoint: str, cause: BaseException) -> EngineUnreachable:
    return EngineUnreachable(f"no Docker engine answers at {endpoint} ({cause.__class__.__name__}: {cause}); "
                             "start one (scripts/engine.sh) or set DOCKER_HOST")


@contextmanager
def engine_errors(endpoint: str, *, image: str | None = None, action: str = "call") -> Iterator[None]:
    """Map aiodocker/aiohttp errors and our own deadlines onto :mod:`..errors`."""
    try:
        yield
    except aiodocker.DockerError as exc:
        message = exc.message if isinstance(exc.message, str) else str(exc.message)
        underlying = exc.__cause__ or exc.__context__
        if isinstance(underlying, aiohttp.ClientConnectionError | OSError):
            # aiodocker reports "cannot connect" as a DockerError with status 900
            raise _unreachable(endpoint, underlying) from exc
        if exc.status == 404 and image is not None and "image" in message.lower():
            raise ImageNotFound(
                f"image {image!r} is not on the engine at {endpoint}: build it with "
                f"'misalign-rewards build' (or, in a checkout, 'containers/build_and_push.sh --build-only') or pull it"
            ) from exc
        raise EngineError(f"engine at {endpoint} refused to {action}: {exc.status} {message}") from exc
    except (aiohttp.ClientConnectionError, ConnectionError, FileNotFoundError) as exc:
        raise _unreachable(endpoint, exc) from exc
    except TimeoutError as exc:
        raise EngineError(f"engine at {endpoint} did not {action} in time") from exc


def make_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of ``files`` (paths relative to the work dir), read-only modes
    for nothing: the sandbox user owns what it unpacks."""
    if not files:
        return b""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            data = files[path]
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def container_config(spec: RunSpec, payload_size: int, labels: dict[str, str], uid: int) -> dict[str, Any]:
    """The engine's create body for ``spec`` (the seed's flags and more; docs/sandbox.md).
    ``uid`` is the container's own untrusted uid (:mod:`.uids`): the user of a spec that
    names none, and the uid a trusted launcher inside drops untrusted work to (it reads
    it from ``MISALIGN_UNTRUSTED_UID``)."""
    lim = spec.limits
    host_config: dict[str, Any] = {
        "NetworkMode": "bridge" if lim.network else "none",
        "ReadonlyRootfs": True,
        "Tmpfs": {"/tmp": f"rw,{'exec,' if spec.tmp_exec else ''}nosuid,nodev,size={lim.tmpfs_bytes},mode=1777"},
        "Memory": lim.memory_bytes,
        "MemorySwap": lim.memory_bytes,  # equal: no swap (else it defaults to 2x)
        "NanoCpus": int(lim.cpus * 1e9),
        "PidsLimit": lim.pids,
        "CapDrop": ["ALL"],
        "CapAdd": sorted(spec.capabilities) or None,
        "SecurityOpt": ["no-new-privileges"],
        "Init": True,  # reaps zombies, which would otherwise eat the pids budget
        "IpcMode": "private",
        "Ulimits": [
            {"Name": "nofile", "Soft": lim.nofile, "Hard": lim.nofile},
            {"Name": "fsize", "Soft": lim.fsize_bytes, "Hard": lim.fsize_bytes},
        ],
        # Output is read through attach; the engine keeps no copy of floods on its disk.
        "LogConfig": {"Type": "none", "Config": {}},
    }
    return {
        "Image": spec.image,
        "Entrypoint": ["/bin/sh", "-c", _BOOT, "misalign-boot"],
        "Cmd": [str(payload_size), spec.workdir, *spec.argv],
        "Env": [f"{k}={v}" for k, v in spec.env.items() if k != UID_ENV] + [f"{UID_ENV}={uid}"],
        "User": spec.user or f"{uid}:{uid}",
        "WorkingDir": "/tmp",
        "Labels": {**labels, LABEL_UID: str(uid)},
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "OpenStdin": True,
        "StdinOnce": True,
        "Tty": False,
        "NetworkDisabled": not lim.network,
        "StopTimeout": 1,
        "HostConfig": host_config,
    }


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
        #: uids of the containers started by :meth:`start_kept`, by container id
        self._kept_uids: dict[str, UidLease] = {}
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
        self._labels = {
            LABEL_CLIENT: self.client_id,
            LABEL_HOST: socket.gethostname(),
            LABEL_PID: str(os.getpid()),
            LABEL_PID_START: process_start_ticks(os.getpid()) or "",
        }

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
            if self.endpoint.startswith("unix://"):
                self._connector = aiohttp.UnixConnector(path=self.endpoint[len("unix://"):], limit=0)
                docker = aiodocker.Docker(url="unix://localhost", connector=self._connector)
            else:
                self._connector = aiohttp.TCPConnector(limit=0)
                docker = aiodocker.Docker(url=self.endpoint, connector=self._connector)
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
                    from .reaper import reap_orphans

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
        from .reaper import list_labelled

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
            if await self._remove(info["Id"], logger):
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
            return await self._drive(container, stream, spec, payload, durations, on_output, log)
        finally:
            with anyio.CancelScope(shield=True):
                t_clean = time.monotonic()
                self._remove_then_release(await self._remove(created[0] if created else name, log)
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
            stream = _attach(docker, container.id)
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
        reaper and :meth:`sweep_own` know it; ``run_label`` must stay in
        :attr:`_active` while it is kept), attached, started. Returns the container, its
        stream and the files' tar, which the caller writes first on the stream. Nothing
        is left behind if starting fails; afterwards :meth:`remove_kept` removes it."""
        if self._state is not _State.OPEN:
            await self.open()
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
                self._remove_then_release(await self._remove(created[0] if created else name, log)
                                          and bool(created), lease)
            raise
        self._kept_uids[container.id] = lease
        return container, stream, payload

    async def remove_kept(self, container_id: str) -> None:
        """Remove a container from :meth:`start_kept` (swept later if that fails)."""
        with anyio.CancelScope(shield=True):
            removed = await self._remove(container_id, logger)
            lease = self._kept_uids.pop(container_id, None)
            if lease is not None:
                self._remove_then_release(removed, lease)
            elif not removed:
                self._maybe_leaked = True

    async def container_state(self, container: Any) -> dict[str, Any]:
        """The engine's ``State`` of ``container`` (raises InfrastructureError)."""
        return await self._container_state(container)

    async def _drive(
        self,
        container: Any,
        stream: Stream,
        spec: RunSpec,
        payload: bytes,
        durations: Durations,
        on_output: OutputCallback | None,
        log: Any,
    ) -> RunResult:
        out = _Capture({"stdout": spec.stdout_bytes or spec.limits.output_bytes,
                        "stderr": spec.limits.output_bytes}, self.log_output_bytes, on_output, log)
        t_run = time.monotonic()
        exit_code: int | None = None
        #: The container's state once it has exited (None until known).
        state: dict[str, Any] | None = None
        watch = _Deadline()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_feed_stdin, stream, payload + spec.stdin, log)
                tg.start_soon(self._watch, container, spec.timeout_s, watch, tg.cancel_scope, log)
                await out.pump(stream)
                tg.cancel_scope.cancel()  # the process is gone or over its cap
            if watch.error is not None:
                raise watch.error
            if out.error is not None:
                # raised here, outside the task group, so it is not wrapped in a group
                with engine_errors(self.endpoint, action="stream output"):
                    raise out.error
            if not out.exceeded and not watch.timed_out:
                # The output ends when the process exits, so one inspect usually gives
                # exit code and OOM state together; wait only if it still runs (it
                # closed its output early). Saves an engine call on almost every run.
                state = await self._container_state(container)
                if state.get("Running"):
                    with engine_errors(self.endpoint, action="wait for the container"), \
                            anyio.fail_after(max(spec.timeout_s, self.api_timeout_s)):
                        await container.wait()
                    state = await self._container_state(container)
                exit_code = int(state.get("ExitCode", -1))
                if exit_code != 0 and not state.get("OOMKilled"):
                    why = await self.stopped_by_engine(container, state)
                    if why is not None:
                        raise ContainerKilled(f"the container was stopped from outside mid-run ({why}); "
                                              "not the code's doing")
        finally:
            await stream.close()
        timed_out = watch.timed_out
        durations.run = time.monotonic() - t_run
        if timed_out or out.exceeded:
            exit_code = None
            with anyio.CancelScope(shield=True):
                await self._kill(container, log)
                state = await self._container_state(container)
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

    async def _watch(self, container: Any, timeout_s: float, watch: _Deadline,
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
                for _ in range(max(1, int(self.api_timeout_s / 0.5))):
                    asked = time.monotonic()
                    state = await self._container_state(container)
                    if time.monotonic() - asked < 0.5 or not state.get("Running"):
                        break
                    await anyio.sleep(0.5)
            except InfrastructureError as exc:
                watch.error = EngineError(f"the run's time was up and the engine at {self.endpoint} "
                                          f"did not say whether it had finished ({exc})")
                scope.cancel()
                return
            started = engine_timestamp(state.get("StartedAt"))
            if not state.get("Running"):
                finished = engine_timestamp(state.get("FinishedAt"))
                if started is not None and finished is not None and finished - started > timeout_s:
                    watch.timed_out = True  # it overran, then exited on its own
                    scope.cancel()
                    return
                # It finished in time: its output is on the way. Give the engine its due.
                await anyio.sleep(self.api_timeout_s)
                watch.error = EngineError(f"the engine at {self.endpoint} did not deliver the output "
                                          "of a container that had finished")
                scope.cancel()
                return
            ran = (time.time() + self._clock_offset - started) if started is not None else timeout_s
            if ran >= timeout_s:
                watch.timed_out = True
                log.debug("sandbox.deadline", ran_s=round(ran, 3))
                with anyio.CancelScope(shield=True):
                    await self._kill(container, log)
                # the output ends with the container; if the engine never says so, stop anyway
                await anyio.sleep(self.cleanup_timeout_s)
                scope.cancel()
                return
            await anyio.sleep(timeout_s - ran)

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
        params = {"since": f"{started - 1:.9f}", "until": f"{max(now, finished):.9f}",
                  "filters": json.dumps({"type": ["container"], "container": [container.id], "event": ["kill"]})}
        with engine_errors(self.endpoint, action="list the container's events"), \
                anyio.fail_after(self.api_timeout_s):
            async with self.docker._query("events", params=params) as response:
                raw = await response.read()
        for line in raw.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            at = event.get("timeNano", 0) / 1e9 if isinstance(event, dict) else 0
            if event.get("Action", event.get("status")) == "kill" and at <= finished + 0.001:
                signal = (event.get("Actor") or {}).get("Attributes", {}).get("signal", "?")
                return f"the engine was told to kill it with signal {signal}"
        return None

    async def _container_state(self, container: Any) -> dict[str, Any]:
        with engine_errors(self.endpoint, action="inspect the container"), anyio.fail_after(self.api_timeout_s):
            info = await container.show()
        return dict(info.get("State") or {})

    async def _kill(self, container: Any, log: Any) -> None:
        try:
            with engine_errors(self.endpoint, action="kill"), anyio.fail_after(self.cleanup_timeout_s):
                await container.kill()
        except InfrastructureError as exc:
            # Already exited (409) is the common case; removal below forces it anyway.
            log.debug("sandbox.kill_failed", error=str(exc))

    async def _remove(self, ref: str, log: Any) -> bool:
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


def _attach(docker: aiodocker.Docker, container_id: str) -> Stream:
    """An attach stream for stdin, stdout and stderr. Unlike ``DockerContainer.attach``
    it does not inspect the container first: our containers never have a TTY."""

    async def setup() -> tuple[URL, bytes | None, bool]:
        query = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1, "logs": 0, "detachKeys": ""}
        return URL(f"containers/{container_id}/attach").with_query(query), None, False

    return Stream(docker, setup)


async def _feed_stdin(stream: Stream, data: bytes, log: Any) -> None:
    """Write ``data`` to the container's stdin, then half-close it so the process sees
    EOF while we keep reading its output. A process that exits without reading all of
    stdin is its own business, not an error."""
    try:
        view = memoryview(data)
        for i in range(0, len(view), 1 << 16):
            await stream.write_in(bytes(view[i : i + (1 << 16)]))
        # aiodocker's Stream.close() would also close the read side; send EOF only.
        resp = stream._resp
        transport = resp.connection.transport if resp is not None and resp.connection else None
        if transport is not None and transport.can_write_eof():
            transport.write_eof()
    except (ConnectionError, aiohttp.ClientError, RuntimeError, AssertionError) as exc:
        log.debug("sandbox.stdin_closed_early", error=repr(exc))


class ContainerKilled(EngineError):
    """The engine stopped a container mid-run because someone told it to: infrastructure
    trouble, retried like any other, never the code's verdict."""


class _Deadline:
    """What the deadline watcher found (see :meth:`DockerSandbox._watch`)."""

    def __init__(self) -> None:
        self.timed_out = False
        self.error: InfrastructureError | None = None


class _Capture:
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
            except (aiohttp.ClientError, ConnectionError, aiodocker.DockerError) as exc:
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
