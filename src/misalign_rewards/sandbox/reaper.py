"""Removal of containers that a crashed or killed client left behind.

Every container carries labels naming its client (a random id per sandbox), the host
and pid of the client process, and that process's start time. A container is an orphan
when its client is not this one and either (a) it was made on this host by a process
that no longer exists (or whose pid now belongs to a newer process), or (b) it is older
than ``max_age_s``, whoever made it (a client on another host cannot be checked).
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import InfrastructureError
from ..logs import get_logger
from .docker import (
    LABEL_CLIENT,
    LABEL_CREATED,
    LABEL_HOST,
    LABEL_PID,
    LABEL_PID_START,
    engine_errors,
    process_start_ticks,
)

if TYPE_CHECKING:
    from .docker import DockerSandbox

logger = get_logger("misalign_rewards.reaper")

DEFAULT_MAX_AGE_S = 6 * 3600.0


def client_is_gone(labels: dict[str, str], *, hostname: str | None = None) -> bool:
    """Whether the client that labelled a container is known to be dead."""
    if labels.get(LABEL_HOST) != (hostname or socket.gethostname()):
        return False
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, someone else's
    started = labels.get(LABEL_PID_START)
    return bool(started) and process_start_ticks(pid) not in (None, started)


def is_orphan(labels: dict[str, str], *, own_client: str | None, max_age_s: float,
              now: float | None = None) -> bool:
    if labels.get(LABEL_CLIENT) in (None, own_client):
        return False
    if client_is_gone(labels):
        return True
    try:
        created = float(labels.get(LABEL_CREATED, ""))
    except ValueError:
        return False
    return (now or time.time()) - created > max_age_s


async def list_labelled(sandbox: DockerSandbox, client: str | None = None) -> list[dict[str, Any]]:
    """Every container (any state) labelled by misalign-rewards, or by one client."""
    label = LABEL_CLIENT if client is None else f"{LABEL_CLIENT}={client}"
    with engine_errors(sandbox.endpoint, action="list containers"), anyio.fail_after(sandbox.api_timeout_s):
        containers = await sandbox.docker.containers.list(all=True, filters=json.dumps({"label": [label]}))
    return [c._container for c in containers]


async def reap_orphans(sandbox: DockerSandbox, *, max_age_s: float = DEFAULT_MAX_AGE_S,
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
