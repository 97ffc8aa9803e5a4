"""The sandbox contract: one method, ``run(spec) -> RunResult``, plus ``aclose()``.

Nothing here knows about Docker. A backend (fresh containers, a warm pool, a hosted
service) takes a :class:`RunSpec` and returns a complete :class:`RunResult` however the
run ends; it raises only for infrastructure trouble (see :mod:`misalign_rewards.errors`).
"""

from __future__ import annotations

import abc
import functools
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

Stream = Literal["stdout", "stderr"]
#: Capabilities a run may be given back (all others are always dropped). Only trusted
#: code that separates itself from untrusted code (the harness) asks for them.
Capability = Literal["CHOWN", "SETUID", "SETGID", "KILL"]
#: Called with each chunk of output as it arrives (already capped per stream).
OutputCallback = Callable[[Stream, bytes], Awaitable[None] | None]

_MiB = 1024 * 1024


#: Upper bounds of every limit, checked before anything runs: past them an engine refuses
#: the container (or the kernel the setting), which is the caller's mistake, never an
#: infrastructure error. A backend also refuses what its own host cannot give (a
#: DockerSandbox: more CPUs or memory than the engine's host has).
MAX_MEMORY_BYTES = 1 << 50
MAX_CPUS = 1024.0
MAX_PIDS = 1 << 22  # the kernel's largest pid_max
MAX_NOFILE = 1 << 20  # the kernel's default nr_open
MAX_FILE_BYTES = 1 << 50
MAX_OUTPUT_BYTES = 1 << 32


class Limits(BaseModel):
    """Resource limits for one run. Defaults are the seed's Python profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_bytes: int = Field(512 * _MiB, gt=4 * _MiB, le=MAX_MEMORY_BYTES)
    cpus: float = Field(1.0, gt=0, le=MAX_CPUS, allow_inf_nan=False)
    pids: int = Field(64, ge=8, le=MAX_PIDS)
    tmpfs_bytes: int = Field(64 * _MiB, gt=0, le=MAX_FILE_BYTES)
    nofile: int = Field(256, ge=16, le=MAX_NOFILE)
    #: Largest file a process may write (RLIMIT_FSIZE).
    fsize_bytes: int = Field(64 * _MiB, gt=0, le=MAX_FILE_BYTES)
    network: bool = False
    #: Bytes kept per stream (stdout, stderr); reading stops and the run is ended past it.
    output_bytes: int = Field(1 * _MiB, gt=0, le=MAX_OUTPUT_BYTES)

    def merged(self, override: LimitsOverride | None) -> Limits:
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))


class LimitsOverride(BaseModel):
    """Per-job changes to a profile; unset fields keep the profile's value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_bytes: int | None = Field(None, gt=4 * _MiB, le=MAX_MEMORY_BYTES)
    cpus: float | None = Field(None, gt=0, le=MAX_CPUS, allow_inf_nan=False)
    pids: int | None = Field(None, ge=8, le=MAX_PIDS)
    tmpfs_bytes: int | None = Field(None, gt=0, le=MAX_FILE_BYTES)
    nofile: int | None = Field(None, ge=16, le=MAX_NOFILE)
    fsize_bytes: int | None = Field(None, gt=0, le=MAX_FILE_BYTES)
    output_bytes: int | None = Field(None, gt=0, le=MAX_OUTPUT_BYTES)


_SAFE_PATH = re.compile(r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_.\-/]+$")


class WarmSpec(BaseModel):
    """How a backend that keeps containers warm starts the trusted, long-lived process
    that serves runs of one kind (``RunSpec.isolation == "pooled"``): its command and the
    files it needs from the start. Runs with equal image, limits, user, capabilities,
    workdir and WarmSpec share warm containers; a run's own files that are byte-identical
    to the warm ones are not sent again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    argv: list[str] = Field(min_length=1)
    files: dict[str, bytes] = Field(default_factory=dict)

    @functools.cached_property
    def digest(self) -> str:
        """What makes two WarmSpecs interchangeable (the command and the files' hashes)."""
        h = hashlib.sha256(json.dumps(self.argv).encode())
        for path in sorted(self.files):
            h.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return h.hexdigest()[:16]


class RunSpec(BaseModel):
    """What to run. Files are written under ``workdir`` (a tmpfs) before ``argv`` starts.

    ``argv`` replaces the image's entrypoint. ``stdin`` is delivered after the files and
    then closed, so the process sees EOF. ``user`` names who runs ``argv`` (``"0:0"`` for a
    trusted launcher that drops untrusted work to the container's untrusted uid itself,
    which it finds in ``MISALIGN_UNTRUSTED_UID``); without one, ``argv`` runs as that uid:
    one of the container's own, which no other container running at the same time has
    (docs/sandbox.md, "What neighbours share"), not the image's user. And
    ``capabilities`` are the only ones the run keeps. ``stdout_bytes``, when set, replaces
    ``limits.output_bytes`` for stdout alone: for a stdout that only trusted code writes
    (a report), which must not share a cap meant for untrusted output.

    ``isolation``: ``"fresh"``, a container of its own; ``"pooled"``, a warm container that
    served other runs before (a backend without a pool runs it fresh, so a pooled run must
    mean the same either way; ``warm`` says how to start its server; docs/sandbox.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(min_length=1)
    argv: list[str] = Field(min_length=1)
    files: dict[str, bytes] = Field(default_factory=dict)
    stdin: bytes = b""
    env: dict[str, str] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    timeout_s: float = Field(60.0, gt=0)
    labels: dict[str, str] = Field(default_factory=dict)
    workdir: str = "/tmp/work"
    user: str | None = None
    capabilities: frozenset[Capability] = frozenset()
    stdout_bytes: int | None = Field(None, gt=0)
    isolation: Literal["fresh", "pooled"] = "fresh"
    warm: WarmSpec | None = None
    #: Whether files under /tmp may be executed (a compiled program); off by default.
    tmp_exec: bool = False

    @field_validator("files")
    @classmethod
    def _relative_paths(cls, files: dict[str, bytes]) -> dict[str, bytes]:
        for path in files:
            if not _SAFE_PATH.match(path):
                raise ValueError(
                    f"file path {path!r} must be relative, without '..', "
                    "made of letters, digits, '_', '-', '.', '/'"
                )
        return files

    @field_validator("workdir")
    @classmethod
    def _under_tmp(cls, workdir: str) -> str:
        if not (workdir == "/tmp" or workdir.startswith("/tmp/")) or ".." in workdir:
            raise ValueError(f"workdir {workdir!r} must be under /tmp (the only writable place)")
        return workdir


class Durations(BaseModel):
    """Seconds spent in each phase of one run, as seen by the client."""

    queued: float = 0.0
    create: float = 0.0
    start: float = 0.0
    run: float = 0.0
    cleanup: float = 0.0

    @property
    def total(self) -> float:
        return self.queued + self.create + self.start + self.run + self.cleanup


class RunResult(BaseModel):
    """A complete account of one run. ``exit_code`` is None when the process was killed
    by us (timeout, output limit) before it could exit on its own."""

    exit_code: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    oom_killed: bool = False
    output_limit_exceeded: bool = False
    durations: Durations = Field(default_factory=Durations)
    container_id: str | None = None

    @property
    def ended_normally(self) -> bool:
        return not (self.timed_out or self.oom_killed or self.output_limit_exceeded)


class Sandbox(abc.ABC):
    """Base class of every backend. Subclasses implement :meth:`run` and may override
    :meth:`aclose`; ``async with`` comes for free."""

    @abc.abstractmethod
    async def run(self, spec: RunSpec, *, on_output: OutputCallback | None = None) -> RunResult:
        """Run ``spec`` to completion (or deadline) and return what happened."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect before the first run (a client calls it when it opens, waiting for an
        engine that does not answer yet). Idempotent; :meth:`run` may also open."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
