"""Removal of containers that a crashed or killed client left behind.

Every container carries labels naming its client (:mod:`.labels`). One whose client is
not this one and is known dead, or that is older than ``max_age_s`` whoever made it, is
an orphan (:func:`~.labels.is_orphan`); :func:`reap_orphans` removes those.

It works on any client of the engine that says where the engine is (:class:`Lister`,
:class:`Reaper`): a :class:`~.docker.DockerSandbox`, or a sandbox in front of one.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import aiodocker
import anyio

from ..errors import InfrastructureError
from ..logs import get_logger
from .engine import engine_errors
from .labels import LABEL_CLIENT, is_orphan

logger = get_logger("misalign_rewards.reaper")

DEFAULT_MAX_AGE_S = 6 * 3600.0


class Lister(Protocol):
    """An open client of an engine: enough to list what is labelled there."""

    @property
    def endpoint(self) -> str: ...
    @property
    def api_timeout_s(self) -> float: ...
    @property
    def docker(self) -> aiodocker.Docker: ...


class Reaper(Lister, Protocol):
    """An open client of an engine that removes others' orphans (never its own)."""

    @property
    def client_id(self) -> str: ...
    @property
    def cleanup_timeout_s(self) -> float: ...


async def list_labelled(sandbox: Lister, client: str | None = None) -> list[dict[str, Any]]:
    """Every container (any state) labelled by misalign-rewards, or by one client."""
    label = LABEL_CLIENT if client is None else f"{LABEL_CLIENT}={client}"
    with engine_errors(sandbox.endpoint, action="list containers"), anyio.fail_after(sandbox.api_timeout_s):
        containers = await sandbox.docker.containers.list(all=True, filters=json.dumps({"label": [label]}))
    return [c._container for c in containers]


async def reap_orphans(sandbox: Reaper, *, max_age_s: float = DEFAULT_MAX_AGE_S,
                       everything: bool = False) -> list[str]:
    """Remove orphaned containers; with ``everything``, every labelled container that is
    not this sandbox's own. Returns the ids removed. A container that cannot be removed
    now (another client is removing it, the engine refuses) is logged and skipped: the
    sweep is best effort, and raises only when the engine cannot even list containers."""
    removed = []
    for info in await list_labelled(sandbox):
        labels = info.get("Labels") or {}
        own = labels.get(LABEL_CLIENT) == sandbox.client_id
        if own or not (everything or is_orphan(labels, own_client=sandbox.client_id, max_age_s=max_age_s)):
            continue
        try:
            with anyio.CancelScope(shield=True), anyio.fail_after(sandbox.cleanup_timeout_s), \
                    engine_errors(sandbox.endpoint, action="remove a container"):
                await sandbox.docker.containers.container(info["Id"]).delete(force=True, v=True)
        except InfrastructureError as exc:
            cause = exc.__cause__
            status = getattr(cause, "status", None)
            if status not in (404, 409):  # 404: gone meanwhile; 409: someone is removing it
                logger.warning("reaper.remove_failed", container_id=info["Id"][:12], error=str(exc))
            continue
        removed.append(info["Id"])
        logger.info("reaper.removed", container_id=info["Id"][:12], client=labels.get(LABEL_CLIENT, "")[:12])
    return removed


__all__ = ["DEFAULT_MAX_AGE_S", "Lister", "Reaper", "list_labelled", "reap_orphans"]
