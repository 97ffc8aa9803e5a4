"""Processes of the untrusted uid: finding them, counting them, killing them.

The kill never depends on finding: :func:`kill_all_of` is one ``kill(-1, SIGKILL)`` that
the zygote sends with its real uid :data:`privileges.SWEEPER_UID` (which no other process
ever has) and its effective uid the untrusted one: the signal reaches every untrusted
process at once (forks racing it fail) and never a trusted one. :func:`kill_all_but`
spares one process (isolated mode's template) by killing the others by pid, and falls
back to the plain sweep when a process outruns its scans.

Reading ``/proc`` and the container's pids cgroup only counts what outlived its test
(:func:`strays`, an observation for the report) and confirms that all are gone
(:func:`untrusted_present`, :func:`live_processes`). :func:`oom_kills` reads what the
memory limit killed.

The zygote (zygote.py) runs the kills; the harness asks it to, and waits for the result
(``Zygote.sweep``). Outside the sandbox nothing here is called but the counts.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from .privileges import NEEDED_CAPS, SWEEPER_UID, effective_caps, read_proc, status_field, untrusted_uid


def alone() -> bool:
    """Whether this process has a single thread (``/proc/self/task``)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


@functools.cache
def _libc_fork() -> Any:
    """The C library's ``fork``, called holding the GIL (``PyDLL``): nothing of this
    interpreter runs while it forks."""
    fork_call = ctypes.PyDLL(None, use_errno=True).fork
    fork_call.restype = ctypes.c_int
    fork_call.argtypes = []
    return fork_call


def fork(*, reseed: bool = True) -> int:
    """``os.fork()`` for a process that has a single thread (checked: with more it is
    ``os.fork()``), for a third of the cost in a process that imported much.

    After ``os.fork()`` the interpreter makes the child fit to go on without the threads
    it did not bring (their locks, their thread states) and runs the after-fork hooks that
    modules registered, in Python: threading's, logging's, random's. A process of one
    thread has nothing to fix, but running that code in the child writes to pages it
    shares with its parent (an interpreter writes to the bytecode it runs, and to the
    objects it touches): about 180 page copies and half a millisecond a fork here, paid by
    each case of an io job and each job of a warm container. The one hook whose effect a
    process can see is random's (each process draws its own numbers): the child reseeds
    ``random``, as that hook does; with ``reseed=False`` it goes on with its parent's
    numbers instead, as code that never forked would (a test's process continuing the
    solution's seeded ``random`` as the next test in plain pytest does), also when the
    fork is ``os.fork()``, whose hook reseeds."""
    chance = sys.modules.get("random")
    if not alone():
        state = None if reseed else _random_state(chance)
        pid = os.fork()
        if pid == 0 and state is not None:
            chance.setstate(state)  # type: ignore[union-attr]
        return pid
    pid = int(_libc_fork()())
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    if pid == 0 and reseed and chance is not None:
        chance.seed()
    return pid


def _random_state(chance: Any) -> Any:
    try:
        return chance.getstate() if chance is not None else None
    except Exception:  # noqa: BLE001 - a process that broke its own random module keeps what it made
        return None


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (children start their own session).
    Never group 0 or 1 (``killpg(0)`` is the caller's own group)."""
    if pid <= 1:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all_of(uid: int) -> None:
    """``kill(-1, SIGKILL)`` sent as real uid SWEEPER_UID and effective uid ``uid``: the
    kernel lets it reach every process whose real or saved uid is ``uid`` (at once:
    forks racing it fail) and no other, since no process but this one ever has
    SWEEPER_UID and no trusted process has ``uid``; and with a non-zero effective uid no
    capability is effective, so CAP_KILL cannot widen it. The caller (the zygote, root)
    keeps 0 as its saved uid and takes it back at once: it has the untrusted effective
    uid for the microseconds of one system call."""
    if os.geteuid() != 0:
        raise RuntimeError("only the sandbox's trusted side (root) can sweep")
    os.setresuid(SWEEPER_UID, uid, 0)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.setresuid(0, 0, 0)
    if os.getresuid() != (0, 0, 0) or effective_caps() >> NEEDED_CAPS["KILL"] & 1 == 0:
        raise OSError("the sweep could not take back the trusted uid")


def kill_all_but(uid: int, spare: int, *, rounds: int = 16, budget_s: float = 2.0,
                 reap: Any = None, outside_groups: frozenset[int] = frozenset()) -> tuple[bool, int]:
    """SIGKILL every process of ``uid`` but ``spare`` (isolated mode's template), each by
    pid, sent as the sweeper (so a pid reused by a trusted process is out of reach).

    Killing by pid races a process that keeps forking (each fork a new pid, the old one
    gone before a scan lists the new). So a round ends only when the container's pids
    cgroup agrees with the scan: every task in it is trusted, ``spare``'s, or already
    killed and still exiting. A process the scans never catch keeps the count above that;
    after ``rounds`` rounds that found new processes, or ``budget_s`` without agreement,
    the plain sweep (:func:`kill_all_of`, one atomic ``kill(-1)``) kills everything,
    ``spare`` included. ``reap()`` collects the caller's own exited children (zombies
    count in the cgroup until reaped). Returns (whether ``spare`` was spared, how many
    processes outside ``outside_groups`` the first scan found alive: the strays)."""
    if os.geteuid() != 0:
        raise RuntimeError("only the sandbox's trusted side (root) can sweep")
    killed: set[int] = set()
    deadline = time.monotonic() + budget_s
    new_rounds = 0
    pause = 0.0002
    strays: int | None = None
    while new_rounds <= rounds and time.monotonic() <= deadline:
        found, _ = _scan(uid, exiting_is_dead=True)
        if strays is None:
            strays = sum(1 for pgrp, alive in found.values() if alive and pgrp not in outside_groups)
        fresh = [pid for pid, (_, alive) in found.items() if alive and pid != spare and pid not in killed]
        if fresh:
            new_rounds += 1
            _kill_as_sweeper(uid, fresh)
            killed.update(fresh)
            continue
        if spare not in found or not found[spare][1]:
            break  # the template itself is gone: nothing to spare
        if reap is not None:
            reap()
        dead = [pid for pid, (_, alive) in found.items() if not alive and pid != spare and pid not in killed]
        if _only_spare_left(uid, spare, killed, dead):
            return True, strays or 0
        time.sleep(pause)  # killed ones still exiting, or one the scan missed: look again
        pause = min(pause * 2, 0.005)
    kill_all_of(uid)
    return False, max(strays or 0, 1)  # whatever the scans missed was one at least


def _kill_as_sweeper(uid: int, pids: list[int]) -> None:
    os.setresuid(SWEEPER_UID, uid, 0)
    try:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    finally:
        os.setresuid(0, 0, 0)
    if os.getresuid() != (0, 0, 0):
        raise OSError("the sweep could not take back the trusted uid")


def _only_spare_left(uid: int, spare: int, killed: set[int], dead: list[int]) -> bool:
    """Whether every task of ``uid`` in the container's pids cgroup is ``spare``'s, one of
    ``killed`` (already sent SIGKILL, still exiting or not yet reaped), or one of ``dead``
    that is a zombie with no thread left (:func:`_zombie`): then no process the scans
    missed is there."""
    total = _cgroup_tasks()
    if total is None:
        return False  # no way to confirm: the caller sweeps everything
    known = 0
    for pid in (spare, *killed):
        try:
            known += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            if pid == spare:
                return False
    known += sum(1 for pid in dead if _zombie(uid, pid))
    trusted = _tasks_not_of(uid)
    # read again: tasks that came (the template's new threads, a trusted one) while these
    # were counted must not stand in for one the scans missed
    return _cgroup_tasks() == total and total - trusted <= known


def _zombie(uid: int, pid: int) -> bool:
    """Whether ``pid`` is a process of ``uid`` that has ended and waits for its parent to
    reap it, with no thread left: it never runs anything again, and the kernel keeps it
    until its parent (say, the template, whose solution did not wait for its
    ``subprocess.Popen``) collects it, as plain pytest's process would. Read as: ended,
    then its threads (the leader alone), then ended again (the pid was not reused)."""
    def ended() -> bool:
        status = read_proc(f"/proc/{pid}/status")
        uids = (status_field(status, b"Uid") or b"").split()
        return (status_field(status, b"State") or b"")[:1] == b"Z" and bool(uids) and int(uids[0]) == uid

    try:
        return ended() and os.listdir(f"/proc/{pid}/task") == [str(pid)] and ended()
    except (OSError, ValueError):
        return False


def _cgroup_tasks() -> int | None:
    """Tasks in this container's pids cgroup (threads and unreaped zombies included)."""
    for path in ("/sys/fs/cgroup/pids/pids.current", "/sys/fs/cgroup/pids.current"):
        try:
            return int(read_proc(path))
        except (OSError, ValueError):
            continue
    return None


def _tasks_not_of(uid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uids = (status_field(read_proc(f"/proc/{entry}/status"), b"Uid") or b"").split()
            if uids and int(uids[0]) != uid:
                n += len(os.listdir(f"/proc/{entry}/task"))
        except (OSError, ValueError):
            continue
    return n


def untrusted_present(uid: int) -> bool:
    """Whether any task of ``uid`` exists, by the container's pids cgroup: all tasks
    minus the trusted ones, which do not come and go. Unlike a /proc scan this also
    catches a process that keeps changing its pid."""
    total = _cgroup_tasks()
    return total is not None and total > _tasks_not_of(uid)


#: ``PF_EXITING`` in a thread's kernel flags (``/proc/.../stat``, field 9): the thread is in
#: ``do_exit`` and never runs user code again.
PF_EXITING = 0x4


def _exiting(pid: str, tid: str) -> bool:
    try:
        stat = read_proc(f"/proc/{pid}/task/{tid}/stat")
        return bool(int(stat[stat.rindex(b")") + 2:].split()[6]) & PF_EXITING)
    except (OSError, ValueError, IndexError):
        return True  # gone already


#: SIGKILL's bit in the pending-signal masks of ``/proc/.../status``.
_SIGKILL_BIT = 1 << (signal.SIGKILL - 1)


def _killed(status: bytes) -> bool:
    """Whether SIGKILL is pending for a thread (its own mask or its process's; ``status``
    is its ``/proc/.../status``): it was killed and has not yet run to its exit (on a busy
    machine it may wait milliseconds for a CPU), and never runs another instruction of
    its own."""
    try:
        return any(int(status_field(status, k) or b"0", 16) & _SIGKILL_BIT for k in (b"SigPnd", b"ShdPnd"))
    except ValueError:
        return False


def _scan(uid: int, *, exiting_is_dead: bool = False) -> tuple[dict[int, tuple[int, bool]], int]:
    """The processes whose real uid is ``uid``: {pid: (process group, has a live thread)},
    and how many threads they have in all (zombies included).

    Reads each thread's ``status`` rather than the owner of ``/proc/PID``, which shows
    root for a process that made itself non-dumpable, and looks at every thread, since
    a leader that ended with the raw exit syscall is a zombie while its threads run.
    With ``exiting_is_dead``, a thread already in its exit (``PF_EXITING``: killed, its
    memory being torn down, which takes a large process a few hundred milliseconds
    under load), or with SIGKILL pending (killed, waiting for a CPU to begin its exit), is
    not live either: it can no longer do anything."""
    found: dict[int, tuple[int, bool]] = {}
    tasks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            tids = os.listdir(f"/proc/{entry}/task")
            stat = read_proc(f"/proc/{entry}/stat")
            pgrp = int(stat[stat.rindex(b")") + 2:].split()[2])
        except (OSError, ValueError, IndexError):
            continue
        live = False
        mine = False
        for tid in tids:
            try:
                status = read_proc(f"/proc/{entry}/task/{tid}/status")
            except OSError:
                continue
            uids = (status_field(status, b"Uid") or b"").split()
            if not uids or int(uids[0]) != uid:
                continue
            mine = True
            tasks += 1
            if not live and (status_field(status, b"State") or b"").split()[:1] not in ([b"Z"], [b"X"]):
                live = not (exiting_is_dead and (_killed(status) or _exiting(entry, tid)))
        if mine:
            found[int(entry)] = (pgrp, live)
    return found, tasks


def live_processes(uid: int, *, outside_groups: frozenset[int] = frozenset()) -> set[int]:
    """Processes that have a live (not zombie) thread whose real uid is ``uid`` (and whose
    process group is none of ``outside_groups``)."""
    found, _ = _scan(uid)
    return {pid for pid, (pgrp, live) in found.items() if live and pgrp not in outside_groups}


def wait_until_gone(uid: int, kill_again: Callable[[], object], *, budget_s: float = 3.0,
                    meanwhile: Callable[[], object] | None = None) -> bool:
    """After a sweep: wait until no process of ``uid`` is left (killed ones take a moment
    to exit), calling ``kill_again`` now and then and ``meanwhile`` (say, reaping) each
    round. False if some outlive ``budget_s``."""
    deadline = time.monotonic() + budget_s
    i = 0
    while untrusted_present(uid) and live_processes(uid):
        if time.monotonic() > deadline:
            return False
        if i % 4 == 3:
            kill_again()
        if meanwhile is not None:
            meanwhile()
        time.sleep(0.001 * min(i + 1, 20))
        i += 1
    return True


def kill_pid(pid: int) -> None:
    """SIGKILL ``pid`` itself, if it is still there."""
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def strays(uid: int | None = None, *, outside_groups: frozenset[int] = frozenset()) -> int:
    """How many processes of ``uid`` are alive outside the process groups
    ``outside_groups`` (the current test's solution processes): 0 when none. An
    observation for the report; the kill never depends on it.

    A walk of ``/proc`` counts them; a process already in its exit (killed at the end of
    an earlier test, its memory still being freed) is not one. The container's pids
    cgroup also counts every task:
    when it holds more tasks of ``uid`` than the walk saw, something the walk missed is
    there (a process that keeps changing its pid can slip past every walk), counted as
    one if a second look agrees, or a third (a process just exiting leaves ``/proc`` a
    moment before the cgroup). Such a process is usually, not always, caught."""
    uid = untrusted_uid() if uid is None else uid
    votes = 0
    for i in range(3):
        total = _cgroup_tasks()
        trusted = _tasks_not_of(uid)
        if total is not None and total <= trusted:
            return 0
        found, tasks = _scan(uid, exiting_is_dead=True)
        live = [pid for pid, (pgrp, alive) in found.items() if alive and pgrp not in outside_groups]
        if live:
            return len(live)
        after = _cgroup_tasks()
        unseen = total is not None and after is not None and min(total, after) - trusted > tasks
        if i == 0 and not unseen:
            return 0
        votes += unseen
        if votes >= 2:
            return 1
        if i == 1 and votes == 0:
            return 0
        time.sleep(0.001)
    return 0


def oom_kills() -> int | None:
    """How many processes the container's memory limit has killed so far (the memory
    cgroup's ``oom_kill`` count), or None where it cannot be read."""
    for path, key in (("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
                      ("/sys/fs/cgroup/memory.events", "oom_kill")):
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None
