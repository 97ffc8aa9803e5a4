"""The Docker engine as aiodocker reaches it: where it is, how to connect, the one place
its errors become ours, its clock, and the attach stream a container's stdin and output
travel on.

Nothing here knows about runs or budgets (that is :mod:`.docker`): these are the pieces
every user of the engine shares (the sandbox, the warm pool, the reaper), so that an
aiodocker or aiohttp exception is mapped once (:func:`engine_errors`, httpx's
``map_httpcore_exceptions`` pattern) and aiodocker's private corners are touched in one
file only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import aiodocker
import aiohttp
from aiodocker.stream import Stream
from yarl import URL

from ..errors import EngineError, EngineUnreachable, ImageNotFound

#: What reading a container's output may raise when the connection breaks.
READ_ERRORS = (aiohttp.ClientError, ConnectionError, aiodocker.DockerError)
#: What writing its stdin may raise when the connection breaks or the process has gone.
WRITE_ERRORS = (ConnectionError, aiohttp.ClientError, RuntimeError, AssertionError)
#: Bytes per write on a container's stdin.
_CHUNK = 1 << 16


class ContainerKilled(EngineError):
    """The engine stopped a container mid-run because someone told it to: infrastructure
    trouble, retried like any other, never the code's verdict."""


def default_endpoint() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(endpoint: str) -> tuple[aiodocker.Docker, aiohttp.BaseConnector]:
    """A client of the engine at ``endpoint`` and its connector (no connection limit: the
    sandbox's budget bounds what is in flight). Both must be closed."""
    connector: aiohttp.BaseConnector
    if endpoint.startswith("unix://"):
        connector = aiohttp.UnixConnector(path=endpoint[len("unix://"):], limit=0)
        return aiodocker.Docker(url="unix://localhost", connector=connector), connector
    connector = aiohttp.TCPConnector(limit=0)
    return aiodocker.Docker(url=endpoint, connector=connector), connector


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


async def kill_signal(docker: aiodocker.Docker, container_id: str, since: float, until: float,
                      finished: float) -> str | None:
    """The signal of a ``kill`` event the engine recorded for ``container_id`` between
    ``since`` and ``finished`` (asking for events up to ``until``; all on the engine's
    clock), ``"?"`` if the event names none, or None if there is no such event. Raises
    aiodocker's and aiohttp's errors (wrap the call in :func:`engine_errors`)."""
    params = {"since": f"{since:.9f}", "until": f"{until:.9f}",
              "filters": json.dumps({"type": ["container"], "container": [container_id], "event": ["kill"]})}
    # aiodocker's events API streams forever; this asks for a closed window at once.
    async with docker._query("events", params=params) as response:
        raw = await response.read()
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        at = event.get("timeNano", 0) / 1e9 if isinstance(event, dict) else 0
        if event.get("Action", event.get("status")) == "kill" and at <= finished + 0.001:
            signal: str = (event.get("Actor") or {}).get("Attributes", {}).get("signal", "?")
            return signal
    return None


def attach(docker: aiodocker.Docker, container_id: str) -> Stream:
    """An attach stream for stdin, stdout and stderr. Unlike ``DockerContainer.attach``
    it does not inspect the container first: our containers never have a TTY."""

    async def setup() -> tuple[URL, bytes | None, bool]:
        query: dict[str, str | int] = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1, "logs": 0,
                                       "detachKeys": ""}
        return URL(f"containers/{container_id}/attach").with_query(query), None, False

    return Stream(docker, setup)


async def write_in(stream: Stream, data: bytes) -> None:
    """Write ``data`` to the container's stdin in chunks (raises :data:`WRITE_ERRORS`)."""
    view = memoryview(data)
    for i in range(0, len(view), _CHUNK):
        await stream.write_in(bytes(view[i : i + _CHUNK]))


async def feed_stdin(stream: Stream, data: bytes, log: Any) -> None:
    """Write ``data`` to the container's stdin, then half-close it so the process sees
    EOF while we keep reading its output. A process that exits without reading all of
    stdin is its own business, not an error."""
    try:
        await write_in(stream, data)
        # aiodocker's Stream.close() would also close the read side; send EOF only.
        resp = stream._resp
        transport = resp.connection.transport if resp is not None and resp.connection else None
        if transport is not None and transport.can_write_eof():
            transport.write_eof()
    except WRITE_ERRORS as exc:
        log.debug("sandbox.stdin_closed_early", error=repr(exc))


__all__ = [
    "READ_ERRORS",
    "WRITE_ERRORS",
    "ContainerKilled",
    "attach",
    "connect",
    "default_endpoint",
    "engine_errors",
    "engine_timestamp",
    "feed_stdin",
    "kill_signal",
    "write_in",
]
