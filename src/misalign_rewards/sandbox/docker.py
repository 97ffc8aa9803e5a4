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
import os
import socket
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from inspect import isawaitable
from typing import Any

import aiodocker
import aiohttp
import anyio
import structlog
from aiodocker.stream import Stream
from yarl import URL

from ..errors import ClientClosed, EngineError, EngineUnreachable, ImageNotFound, InfrastructureError
from .base import Durations, OutputCallback, RunResult, RunSpec, Sandbox, Stream as StreamName
from .capacity import HostResources, ResourceBudget, local_resources

logger = structlog.get_logger("misalign_rewards.sandbox")

LABEL_PREFIX = "io.misalign-rewards"
LABEL_CLIENT = f"{LABEL_PREFIX}.client"
LABEL_RUN = f"{LABEL_PREFIX}.run"
LABEL_CREATED = f"{LABEL_PREFIX}.created"
LABEL_HOST = f"{LABEL_PREFIX}.host"
LABEL_PID = f"{LABEL_PREFIX}.pid"
LABEL_PID_START = f"{LABEL_PREFIX}.pid-start"

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
                f"'containers/build_and_push.sh --build-only' or pull it"
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


def container_config(spec: RunSpec, payload_size: int, labels: dict[str, str]) -> dict[str, Any]:
    """The engine's create body for ``spec`` (the seed's flags and more; docs/sandbox.md)."""
    lim = spec.limits
    host_config: dict[str, Any] = {
        "NetworkMode": "bridge" if lim.network else "none",
        "ReadonlyRootfs": True,
        "Tmpfs": {"/tmp": f"rw,nosuid,nodev,size={lim.tmpfs_bytes},mode=1777"},
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
        "Env": [f"{k}={v}" for k, v in spec.env.items()],
        "User": spec.user or "",
        "WorkingDir": "/tmp",
        "Labels": labels,
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
    engine, not the jobs, is the bottleneck there.
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
        self._state = _State.UNOPENED
        self._docker: aiodocker.Docker | None = None
        self._connector: aiohttp.BaseConnector | None = None
        self._open_lock = anyio.Lock()
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
                    info = await docker.system.info()
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

                    await reap_orphans(self)
            except BaseException:
                await self._close_client()
                raise
            logger.debug("sandbox.opened", endpoint=self.endpoint, client_id=self.client_id)

    async def aclose(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        with anyio.CancelScope(shield=True):
            await self._close_client()

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

    async def run(self, spec: RunSpec, *, on_output: OutputCallback | None = None) -> RunResult:
        if self._state is not _State.OPEN:
            await self.open()
        run_id = uuid.uuid4().hex[:16]
        log = logger.bind(run_id=run_id, image=spec.image)
        durations = Durations()
        t_queue = time.monotonic()
        need = await self.budget.acquire(spec.limits)
        try:
            durations.queued = time.monotonic() - t_queue
            # Built once admitted, so queued runs hold no payload.
            payload = make_tar(spec.files)
            labels = {**spec.labels, **self._labels, LABEL_RUN: run_id,
                      LABEL_CREATED: f"{time.time():.3f}"}
            config = container_config(spec, len(payload), labels)
            name = f"mr-{self.client_id[:12]}-{run_id}"
            return await self._run_reserved(spec, name, config, payload, durations, on_output, log)
        finally:
            self.budget.release(need)

    async def _run_reserved(
        self,
        spec: RunSpec,
        name: str,
        config: dict[str, Any],
        payload: bytes,
        durations: Durations,
        on_output: OutputCallback | None,
        log: Any,
    ) -> RunResult:
        docker = self.docker
        container_id: str | None = None
        try:
            t0 = time.monotonic()
            async with self._starts:
                with engine_errors(self.endpoint, image=spec.image, action="create a container"), \
                        anyio.fail_after(self.api_timeout_s):
                    container = await docker.containers.create(config, name=name)
                container_id = container.id
                t1 = time.monotonic()
                durations.create = t1 - t0
                log.debug("sandbox.created", container_id=container_id[:12])
                stream = _attach(docker, container_id)
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
            return await self._drive(container, stream, spec, payload, durations, on_output, log)
        finally:
            with anyio.CancelScope(shield=True):
                t_clean = time.monotonic()
                await self._remove(container_id or name, log)
                durations.cleanup = time.monotonic() - t_clean

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
        try:
            with anyio.move_on_after(spec.timeout_s) as deadline:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_feed_stdin, stream, payload + spec.stdin, log)
                    await out.pump(stream)
                    tg.cancel_scope.cancel()  # the process is gone or over its cap
                if out.error is not None:
                    # raised here, outside the task group, so it is not wrapped in a group
                    with engine_errors(self.endpoint, action="stream output"):
                        raise out.error
                if not out.exceeded:
                    # The output ends when the process exits, so one inspect usually gives
                    # exit code and OOM state together; wait only if it still runs (it
                    # closed its output early). Saves an engine call on almost every run.
                    state = await self._container_state(container)
                    if state.get("Running"):
                        with engine_errors(self.endpoint, action="wait for the container"):
                            await container.wait()
                        state = await self._container_state(container)
                    exit_code = int(state.get("ExitCode", -1))
        finally:
            await stream.close()
        timed_out = deadline.cancelled_caught
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

    async def _remove(self, ref: str, log: Any) -> None:
        """Force-remove ``ref`` (id or name). Never raises: what fails here is logged and
        left for the reaper."""
        if self._docker is None:
            return
        try:
            with anyio.fail_after(self.cleanup_timeout_s):
                await self._docker.containers.container(ref).delete(force=True, v=True)
        except aiodocker.DockerError as exc:
            if exc.status != 404:
                log.warning("sandbox.cleanup_failed", container=ref[:32], error=str(exc))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("sandbox.cleanup_failed", container=ref[:32], error=repr(exc))


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
