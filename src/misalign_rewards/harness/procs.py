"""Process hygiene for the trusted harness: non-dumpable, killing the solution's process
groups, and (inside the sandbox only) killing every other process of the sandbox user.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def make_nondumpable() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)``: processes of the same user can no longer ptrace this
    one or open its ``/proc/PID/mem``, ``fd/``, ``environ``. Returns whether it took."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            return False
        return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (children start their own session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _ancestors() -> set[int]:
    out = set()
    pid = os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            pid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            break
    out.add(1)
    return out


def _live_others(protect: set[int], uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in protect:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
        except OSError:
            continue
        state = stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3]
        if state in (b"Z", b"X"):
            continue
        pids.append(pid)
    return pids


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep(rounds: int = 200) -> tuple[int, bool]:
    """Kill every process of this user except this one and its ancestors (PID 1 is the
    container's init). ``kill(-1, SIGKILL)`` reaches all of them at once, including
    ``setsid`` children that left their group. Returns (processes seen, all gone).

    Only ever called inside the sandbox, as the unprivileged sandbox user: on a host it
    would kill the caller's whole session. The caller checks that (see ``contained``)."""
    if os.getuid() == 0:
        raise RuntimeError("refusing to sweep processes as root")
    protect = _ancestors()
    uid = os.getuid()
    seen: set[int] = set()
    # kill(-1) spares only init and the caller: use it only when nothing else of ours
    # stands between them (the harness is PID 1 or a direct child of the container's init).
    broadcast = os.getpid() == 1 or os.getppid() == 1
    for _ in range(rounds):
        _reap()
        others = _live_others(protect, uid)
        if not others:
            return len(seen), True
        seen.update(others)
        if broadcast:
            try:
                os.kill(-1, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        else:
            for pid in others:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        time.sleep(0.005)
    _reap()
    return len(seen), not _live_others(protect, uid)


def pycache_prefix() -> str:
    """The bytecode prefix this (trusted) process was started with, for the processes it
    starts: the image's read-only one, or a path that can hold no file."""
    return sys.pycache_prefix or "/dev/null/pycache"
