"""Removes one sandbox's containers once the process that owned it is gone.

``python -m misalign_rewards.sandbox.watchdog PID START_TICKS ENDPOINT CLIENT_ID``

A node's Ray actor (:mod:`.ray.node`) starts one of these, which leaves the actor's
process tree at once (a fork whose parent exits) and runs in a session of its own. Ray
kills an actor without notice when its driver dies (SIGKILL, no finaliser runs), so the
actor cannot clean up after itself: this process waits for that pid to end (or to be
reused, which the start time shows), then force-removes every container labelled with
the actor's client id on its engine, warm ones included, and exits. A normal close of
the actor removes its containers itself and then ends the watchdog.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

from ..errors import InfrastructureError
from ..logs import get_logger
from .docker import DockerSandbox
from .labels import process_alive, process_start_ticks
from .reaper import list_labelled

logger = get_logger("misalign_rewards.watchdog")

POLL_S = 0.5


async def remove_client(endpoint: str, client_id: str, *, attempts: int = 12) -> list[str] | None:
    """Force-remove every container labelled with ``client_id`` on ``endpoint``: the ids
    removed, or None when some are still there after ``attempts`` tries with backoff
    (an engine restarting, busy; about 2.5 minutes at the default)."""
    removed: list[str] = []
    for attempt in range(attempts):
        try:
            async with DockerSandbox(url=endpoint, client_id=f"watchdog-{uuid.uuid4().hex}",
                                     reap_on_open=False, api_timeout_s=30.0) as sb:
                for info in await list_labelled(sb, client_id):
                    if await sb.remove_container(info["Id"], logger):
                        removed.append(info["Id"])
                if not await list_labelled(sb, client_id):
                    return removed
        except InfrastructureError:
            pass
        await asyncio.sleep(min(2.0 * (attempt + 1), 20.0))
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    pid, start_ticks, endpoint, client_id = int(argv[0]), argv[1], argv[2], argv[3]
    if not start_ticks or process_start_ticks(pid) != start_ticks:
        print(f"watchdog: process {pid} with start time {start_ticks!r} is not running", file=sys.stderr)
        return 2
    # Leave the owner's process tree: Ray kills a dead worker's children, and this must
    # outlive it. The parent prints the watchdog's pid (for a normal close) and exits.
    child = os.fork()
    if child:
        print(child, flush=True)
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while process_alive(pid, start_ticks):
        time.sleep(POLL_S)
    asyncio.run(remove_client(endpoint, client_id))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
