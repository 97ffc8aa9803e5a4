"""Settings, from arguments or the environment (prefix ``MISALIGN_``; nested fields with
``__``, e.g. ``MISALIGN_PYTHON_LIMITS__MEMORY_BYTES=268435456``). Nothing is read at
import time: a :class:`Settings` is made when a client is made."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .integrity import IntegrityMode
from .sandbox.base import Limits
from .verifiers.lean import LEAN_LIMITS

DEFAULT_REGISTRY = "ghcr.io/your-org/misalign-fv"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MISALIGN_", env_nested_delimiter="__",
                                      extra="forbid", frozen=True)

    #: Prefix of the default image names (as containers/build_and_push.sh tags them).
    registry: str = DEFAULT_REGISTRY
    #: Full image names; default ``{registry}/python-sandbox:latest`` and ``{registry}/lean:latest``
    #: (and ``cpp_image`` below).
    python_image: str | None = None
    lean_image: str | None = None
    #: Image of io jobs in C++ (python-sandbox plus g++); default ``{registry}/cpp-sandbox:latest``.
    cpp_image: str | None = None
    #: Engine endpoint; default ``DOCKER_HOST`` or the local socket.
    docker_url: str | None = None

    #: Where runs go: ``docker``, the engine at ``docker_url``; ``ray``, every node of the
    #: Ray cluster at ``ray_address`` that offers the resource ``ray_node_resource``, each
    #: on its own engine (docs/scale-out.md).
    backend: Literal["docker", "ray"] = "docker"
    #: The cluster (``ray.init``'s address); unused when Ray is already initialised here.
    ray_address: str = "auto"
    ray_namespace: str | None = None
    ray_node_resource: str = "misalign_engine"
    #: Seconds a Ray node keeps this process's runs going without hearing from it (its
    #: heartbeat renews the lease every quarter of that); past it, they are cancelled.
    ray_lease_s: float = Field(15.0, gt=0)

    #: Runs in flight at once (per engine node with ``backend="ray"``); default from the engine host's CPUs, memory and pids.
    max_concurrent: int | None = Field(None, ge=1)
    #: Jobs of a batch being prepared or run at once (bounds the client's memory).
    max_in_flight: int = Field(64, ge=1)

    python_limits: Limits = Field(default_factory=Limits)
    lean_limits: Limits = LEAN_LIMITS
    python_timeout_s: float = Field(60.0, gt=0)
    #: Seconds each call into the solution may take in ``isolated`` mode (a job's own
    #: ``call_timeout_s`` wins).
    python_call_timeout_s: float = Field(10.0, gt=0)
    lean_timeout_s: float = Field(300.0, gt=0)
    #: Seconds any one engine call may take before it counts as an infrastructure error;
    #: also how long a run whose own time is up may wait for the engine to report it.
    engine_api_timeout_s: float = Field(60.0, gt=0)
    #: Seconds a client waits, retrying with backoff, for an engine that does not answer
    #: when it opens (an engine restarting between training steps), before it raises.
    engine_wait_s: float = Field(30.0, ge=0)

    #: Where pytest jobs run unless a job says otherwise: ``fresh``, a new container per
    #: job; ``pooled``, warm containers reused between jobs (docs/sandbox.md, "The warm pool").
    isolation: Literal["fresh", "pooled"] = "fresh"
    #: A warm container is replaced after this many jobs, this age, or this long idle.
    pool_max_jobs: int = Field(200, ge=1)
    pool_max_age_s: float = Field(1800.0, gt=0)
    pool_idle_s: float = Field(120.0, gt=0)

    integrity: IntegrityMode = IntegrityMode.ENFORCE
    #: Lean pre-filter tokens that reject under ``enforce``; default: every token but
    #: ``set_option``, ``partial`` and ``opaque`` (docs/lean-jobs.md). All are flagged.
    lean_reject_tokens: frozenset[str] | None = None
    reward_policy: Literal["binary", "pass_rate"] = "binary"

    #: Infrastructure errors are retried this many times (with backoff), then reported as
    #: a ``None`` reward, or raised when ``raise_on_infra_error``.
    infra_retries: int = Field(2, ge=0)
    infra_backoff_s: float = Field(0.5, ge=0)
    raise_on_infra_error: bool = False

    log_format: Literal["json", "console"] = "json"
    #: Where the CLI writes logs; default standard error.
    log_file: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @property
    def python_image_ref(self) -> str:
        return self.python_image or f"{self.registry.rstrip('/')}/python-sandbox:latest"

    @property
    def cpp_image_ref(self) -> str:
        return self.cpp_image or f"{self.registry.rstrip('/')}/cpp-sandbox:latest"

    @property
    def lean_image_ref(self) -> str:
        return self.lean_image or f"{self.registry.rstrip('/')}/lean:latest"
