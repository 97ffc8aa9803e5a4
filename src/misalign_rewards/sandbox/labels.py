"""The labels on everything misalign-rewards makes, and what they say about its maker.

One namespace, ``io.misalign-rewards.*``, named once here for every writer and reader:
the sandbox labels each container with its client (a random id per sandbox), the host,
pid and start time of the client's process and its own run; the verifiers and the client
add what the run is for (job, batch, kind, step); the command labels the images it
builds. The reaper (:mod:`.reaper`) and a Ray node's watchdog (:mod:`.watchdog`) read the
client labels back to decide whether their maker is dead (:func:`client_is_gone`,
:func:`is_orphan`).

A leaf: the standard library only, so that the sandbox, the reaper, the watchdog, the
verifiers, the client and the command can all import it without importing each other.
(The shell scripts that build and check images, containers/build_and_push.sh and
scripts/setup.sh, spell :data:`LABEL_RECIPE` out too.)
"""

from __future__ import annotations

import os
import socket
import time

LABEL_PREFIX = "io.misalign-rewards"

# -- who made a container (written by the sandbox, read by the reaper and the watchdog) --
#: The sandbox's client id (random per sandbox).
LABEL_CLIENT = f"{LABEL_PREFIX}.client"
#: The run the container is for (a warm container: its own id, for its whole life).
LABEL_RUN = f"{LABEL_PREFIX}.run"
#: When the sandbox created it (seconds since the epoch, our clock).
LABEL_CREATED = f"{LABEL_PREFIX}.created"
LABEL_HOST = f"{LABEL_PREFIX}.host"
LABEL_PID = f"{LABEL_PREFIX}.pid"
#: The client process's start time in clock ticks since boot (tells a reused pid apart).
LABEL_PID_START = f"{LABEL_PREFIX}.pid-start"
#: The container's untrusted uid (sandbox/uids.py), for people reading the engine's list.
LABEL_UID = f"{LABEL_PREFIX}.uid"
#: A warm container's: the kind of runs it serves (sandbox/pool.py).
LABEL_POOL = f"{LABEL_PREFIX}.pool"

# -- what a container is for (written by the verifiers and the client) ------------------
LABEL_JOB = f"{LABEL_PREFIX}.job"
LABEL_BATCH = f"{LABEL_PREFIX}.batch"
#: The job's kind (``pytest``, ``lean``, ...).
LABEL_KIND = f"{LABEL_PREFIX}.kind"
#: Which of a job's runs this is, for kinds with several (Lean: reference, compile, check).
LABEL_STEP = f"{LABEL_PREFIX}.step"

# -- images --------------------------------------------------------------------------
#: The digest of the recipe an image was built from (``misalign-rewards build``).
LABEL_RECIPE = f"{LABEL_PREFIX}.recipe"


def process_start_ticks(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (guards against pid reuse)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_alive(pid: int, start_ticks: str) -> bool:
    """Whether ``pid`` is still the process that started at ``start_ticks``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return process_start_ticks(pid) == start_ticks


def client_labels(client_id: str) -> dict[str, str]:
    """The labels that name this process as the client ``client_id``: what
    :func:`client_is_gone` reads back."""
    pid = os.getpid()
    return {
        LABEL_CLIENT: client_id,
        LABEL_HOST: socket.gethostname(),
        LABEL_PID: str(pid),
        LABEL_PID_START: process_start_ticks(pid) or "",
    }


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
    """Whether a container labelled ``labels`` is an orphan: its client is not this one
    and either (a) it was made on this host by a process that no longer exists (or whose
    pid now belongs to a newer process), or (b) it is older than ``max_age_s``, whoever
    made it (a client on another host cannot be checked)."""
    if labels.get(LABEL_CLIENT) in (None, own_client):
        return False
    if client_is_gone(labels):
        return True
    try:
        created = float(labels.get(LABEL_CREATED, ""))
    except ValueError:
        return False
    return (now or time.time()) - created > max_age_s


__all__ = [
    "LABEL_BATCH",
    "LABEL_CLIENT",
    "LABEL_CREATED",
    "LABEL_HOST",
    "LABEL_JOB",
    "LABEL_KIND",
    "LABEL_PID",
    "LABEL_PID_START",
    "LABEL_POOL",
    "LABEL_PREFIX",
    "LABEL_RECIPE",
    "LABEL_RUN",
    "LABEL_STEP",
    "LABEL_UID",
    "client_is_gone",
    "client_labels",
    "is_orphan",
    "process_alive",
    "process_start_ticks",
]
