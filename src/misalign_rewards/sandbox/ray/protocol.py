"""The calls between a driver and a node actor, typed once for both sides.

A driver (:mod:`.driver`) calls a node's actor (:mod:`.node`) through Ray; everything that
crosses is one of the models here, so that neither side writes a dict the other must
guess the keys of:

=================================  ==============================================
``NodeService(options)``           :class:`NodeOptions`
``join(lease_id, ttl_s)``          :class:`NodeInfo` or :class:`NodeError`
``renew(lease_id, ttl_s)``         :class:`Load` or :class:`NodeError`
``run(lease_id, packed, refs)``    :class:`PackedSpec` in; :class:`RunReply` or
                                   :class:`NodeError` out (``refs``: digest -> object ref)
``ping()``                         None (the engine answers) or :class:`NodeError`
``stats(lease_id)``                :class:`NodeStats`
``release(lease_id)``, ``exit()``  None
=================================  ==============================================

A node never raises to a driver: its errors are data, a :class:`NodeError` whose
:class:`ErrorKind` is one of a declared few. The library's exceptions become a kind on the
node (:meth:`NodeError.of`) and a kind becomes the library's exception on the driver
(:meth:`NodeError.exception`), both through :data:`_EXCEPTIONS`, the one table of the two.

Both sides import this module; change :data:`PROTOCOL` whenever a call or a model here
changes (:func:`code_key` keeps different versions of this code from calling each other).
"""

from __future__ import annotations

import functools
import hashlib
from enum import StrEnum
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ...errors import EngineError, EngineUnreachable, ImageNotFound, InfrastructureError, InvalidSpec
from ..base import RunResult, RunSpec
from ..engine import ContainerKilled

#: Changed whenever the calls between a driver and a node actor change.
PROTOCOL = 3
#: The custom resource a node offers when it has a Docker engine for us.
NODE_RESOURCE = "misalign_engine"
#: The Ray namespace of the node actors, whatever namespace each driver's job has.
ACTOR_NAMESPACE = "misalign-rewards"
#: How long a node keeps a driver's runs going without hearing from it (its default).
LEASE_S = 15.0


@functools.cache
def code_key() -> str:
    """What tells versions of this code that cannot talk to each other apart: the
    protocol number, the package's version and a digest of its Python sources (what a
    node actor runs and what the calls to it carry). Part of each node actor's name."""
    root = Path(__file__).resolve().parents[2]  # the misalign_rewards package
    try:
        version = metadata.version("misalign-rewards")
    except metadata.PackageNotFoundError:  # running from a source tree (as misalign_rewards.__version__)
        version = "0+unknown"
    h = hashlib.sha256(f"{PROTOCOL}\0{version}".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(b"\0" + str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def actor_name(node_id: str) -> str:
    """The name of the node actor of ``node_id`` (in :data:`ACTOR_NAMESPACE`)."""
    return f"misalign-node-{code_key()}-{node_id}"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeOptions(_Message):
    """A node actor's settings (``RaySandbox(node_options=...)``), given by the driver
    that starts it; an actor another driver started keeps its own."""

    #: The node's engine (None: ``DOCKER_HOST`` as the node was started, or the local socket).
    docker_url: str | None = None
    max_concurrent: int | None = None
    api_timeout_s: float = 60.0
    pool_max_jobs: int = 200
    pool_max_age_s: float = 1800.0
    pool_idle_s: float = 120.0
    #: How often the node sweeps its engine for what dead clients left.
    reap_interval_s: float = 30.0
    blob_cache_bytes: int = 256 << 20
    lease_s: float = LEASE_S
    #: How often the node looks for leases that lapsed.
    lease_tick_s: float = 0.5
    #: With no lease and no run for this long, the actor removes its containers and exits.
    idle_exit_s: float = 300.0


# -- errors ------------------------------------------------------------------------------


class ErrorKind(StrEnum):
    """Why a node did not answer a call with what it was asked for."""

    #: The node's actor is exiting (no driver held it): join it, or its successor, anew.
    CLOSING = "closing"
    #: The driver's lease lapsed (it was not heard from in time); its run was cancelled.
    LEASE_LAPSED = "lease_lapsed"
    ENGINE_UNREACHABLE = "engine_unreachable"
    IMAGE_NOT_FOUND = "image_not_found"
    #: Any other trouble of the node's engine, or of the node itself.
    ENGINE_ERROR = "engine_error"
    #: The engine was told to stop the container mid-run (a drain, ``docker kill``).
    CONTAINER_KILLED = "container_killed"
    #: A spec the node's engine can never run.
    INVALID_SPEC = "invalid_spec"


#: The library's exception of each kind, most specific first (what :meth:`NodeError.of`
#: tries in order). The two protocol kinds never reach a caller as such: the driver places
#: their runs again (their EngineError is for completeness).
_EXCEPTIONS: dict[ErrorKind, type[Exception]] = {
    ErrorKind.CONTAINER_KILLED: ContainerKilled,
    ErrorKind.ENGINE_UNREACHABLE: EngineUnreachable,
    ErrorKind.IMAGE_NOT_FOUND: ImageNotFound,
    ErrorKind.INVALID_SPEC: InvalidSpec,
    ErrorKind.ENGINE_ERROR: EngineError,
    ErrorKind.CLOSING: EngineError,
    ErrorKind.LEASE_LAPSED: EngineError,
}


class NodeError(_Message):
    """A node's answer when it could not do what it was asked."""

    kind: ErrorKind
    message: str

    @classmethod
    def of(cls, exc: Exception) -> NodeError:
        """The error a node sends for ``exc``: the library's exceptions by their kind
        (infrastructure trouble other than the declared kinds is an ``ENGINE_ERROR``),
        anything else an ``ENGINE_ERROR`` that names its type."""
        for kind, error in _EXCEPTIONS.items():
            if isinstance(exc, error):
                return cls(kind=kind, message=str(exc))
        if isinstance(exc, InfrastructureError):
            return cls(kind=ErrorKind.ENGINE_ERROR, message=str(exc))
        return cls(kind=ErrorKind.ENGINE_ERROR, message=f"{type(exc).__name__}: {exc}")

    def exception(self, where: str = "") -> Exception:
        """The library's exception for this error, its message followed by ``where``."""
        return _EXCEPTIONS[self.kind](f"{self.message}{where}")


#: What a node that is exiting answers every call.
CLOSING = NodeError(kind=ErrorKind.CLOSING, message="the node's actor is closing")
#: What a node answers a run whose driver's lease lapsed.
LEASE_LAPSED = NodeError(kind=ErrorKind.LEASE_LAPSED, message="the driver's lease on the node lapsed")


# -- runs --------------------------------------------------------------------------------


class Blob(_Message):
    """Stands in a packed spec for content that travels through the object store."""

    digest: str


#: A file's content in a packed spec: inline, or a blob fetched by digest.
Content = bytes | Blob


class PackedSpec(_Message):
    """A :class:`RunSpec` on its way to a node (see :mod:`.payload`): ``spec`` is the spec
    with its contents left out (no files, no stdin, warm files empty), and they travel
    beside it, the large ones as :class:`Blob` s."""

    spec: RunSpec
    files: dict[str, Content]
    stdin: Content
    #: The WarmSpec's files (None when the spec has no WarmSpec).
    warm_files: dict[str, Content] | None = None


class Load(_Message):
    """How full a node is, for all the drivers that use it."""

    #: Its budget's free share (0 while runs wait there).
    free_share: float
    #: How many drivers hold a lease on it.
    leases: int


class NodeInfo(Load):
    """What a node is: its answer to ``join``."""

    host: str
    pid: int
    endpoint: str
    client_id: str
    cpus: float
    memory_bytes: int
    pids: int
    max_runs: int | None
    memory_fraction: float
    pids_fraction: float
    options: NodeOptions


class RunReply(Load):
    """A run's result, with the node's load once it ended."""

    result: RunResult


class NodeStats(_Message):
    """A node actor's counters; ``runs`` and ``fetched`` are one driver's when asked with
    its lease, the node's own otherwise."""

    runs: int
    fetched: int
    node_runs: int
    node_fetched: int
    fetched_bytes: int
    cached: int
    pid: int
    leases: int
    client_id: str | None


__all__ = [
    "ACTOR_NAMESPACE",
    "CLOSING",
    "LEASE_LAPSED",
    "LEASE_S",
    "NODE_RESOURCE",
    "PROTOCOL",
    "Blob",
    "Content",
    "ErrorKind",
    "Load",
    "NodeError",
    "NodeInfo",
    "NodeOptions",
    "NodeStats",
    "PackedSpec",
    "RunReply",
    "actor_name",
    "code_key",
]
