"""Who runs as whom inside the sandbox, and how the untrusted side is swept away.

Inside the sandbox (``contained``), the trusted harness runs as root holding only
CHOWN, SETUID, SETGID and KILL (the container grants no other capability) and makes
itself non-dumpable. Untrusted code runs as the container's own untrusted uid
(:func:`untrusted_uid`, and the gid of the same number) with no capabilities and
``no_new_privs``. A process of the untrusted uid can then not signal, ptrace, renice,
re-pin or open ``/proc/PID/{fd,mem,environ}`` of any trusted process: the kernel refuses
each of them across uids.

The uid is the container's, chosen by the client for as long as the container lives (no
other container running at the same time has it, so the kernel's per-user quotas are not
shared with a neighbour: docs/sandbox.md) and given in the environment variable
:data:`UID_ENV`; :func:`take_untrusted_uid` reads it once, before anything untrusted
starts. It has no passwd entry: nothing may depend on a name for it.

Untrusted processes are started by the zygote (:mod:`zygote`, driven through
:class:`Zygote`), never forked from the harness, whose memory holds the key and the tests;
the zygote is forked from the harness before the harness reads either.

The sweep (:func:`sweep`) kills every process of the untrusted uid with one
``kill(-1, SIGKILL)`` that the zygote sends with its real uid :data:`SWEEPER_UID`
(which no other process ever has) and its effective uid the untrusted one
(:func:`kill_all_of`): the signal reaches every untrusted process at once (forks racing
it fail) and never a trusted one. Reading ``/proc`` only confirms the result; it is not
how processes are found.

Outside the sandbox (unit tests on a host) nothing switches uid and the sweep is off.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

# Where the container's untrusted uid comes from, and the range it must be in: the
# client's too (sandbox/uids.py), defined once.
from .schema import FIRST_UNTRUSTED_UID, LAST_UNTRUSTED_UID, UID_ENV

#: The environment every untrusted process starts with. Its uid has no passwd entry, so
#: what would look the user up there finds it here: HOME (``os.path.expanduser``), USER
#: and LOGNAME (``getpass.getuser``); TMPDIR is unset (``tempfile`` uses /tmp).
UNTRUSTED_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp",
                 "USER": "sandbox", "LOGNAME": "sandbox"}
#: The real uid the zygote holds while it sends the sweep's kill; no process has it.
SWEEPER_UID = 10003

_untrusted: dict[str, int] = {}


def take_untrusted_uid(environ: Mapping[str, str]) -> str | None:
    """Read the container's untrusted uid from ``environ`` (once, as the trusted side
    starts, before the zygote is forked); why it cannot be used, or None."""
    raw = environ.get(UID_ENV, "")
    if not raw.isdigit() or not FIRST_UNTRUSTED_UID <= int(raw) <= LAST_UNTRUSTED_UID:
        _untrusted.clear()
        return (f"{UID_ENV}={raw!r} is not an untrusted uid "
                f"({FIRST_UNTRUSTED_UID}..{LAST_UNTRUSTED_UID}): the client gives each container one")
    _untrusted["uid"] = int(raw)
    return None


def untrusted_uid() -> int:
    """The uid (and gid) every untrusted process of this container runs as."""
    try:
        return _untrusted["uid"]
    except KeyError:
        raise RuntimeError(f"no untrusted uid was given ({UID_ENV})") from None

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
PR_SET_NO_NEW_PRIVS = 38

#: Capabilities the trusted side needs (bit numbers of linux/capability.h).
NEEDED_CAPS = {"CHOWN": 0, "KILL": 5, "SETGID": 6, "SETUID": 7}


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def make_nondumpable() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)``; returns whether it took."""
    try:
        libc = _libc()
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            return False
        return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_no_new_privs() -> bool:
    try:
        return _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def effective_caps() -> int:
    """The effective capability set of this process (``CapEff`` in /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def check_privileges() -> str | None:
    """Why this process cannot be the trusted side of a contained run, or None."""
    if "uid" not in _untrusted:
        return f"the harness was given no untrusted uid ({UID_ENV})"
    if os.geteuid() != 0:
        return f"the harness runs as uid {os.geteuid()}, not root: it cannot separate the untrusted uid"
    caps = effective_caps()
    missing = [name for name, bit in NEEDED_CAPS.items() if not caps >> bit & 1]
    if missing:
        return f"the harness lacks the capabilities {missing}"
    return None


def chown_tree(path: str, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


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
        if _only_spare_left(uid, spare, killed):
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


def _only_spare_left(uid: int, spare: int, killed: set[int]) -> bool:
    """Whether every task of ``uid`` in the container's pids cgroup is ``spare``'s or one
    of ``killed`` (already sent SIGKILL, still exiting or not yet reaped): then no process
    the scans missed is there."""
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
    return total - _tasks_not_of(uid) <= known


def wipe_untrusted(paths: list[str], uid: int | None = None) -> list[str]:
    """Remove everything ``uid`` owns under ``paths`` (and below root's folders there),
    and its System V IPC objects, acting as ``uid`` itself: root holds no capability to
    enter a folder the untrusted uid closed to others, but its owner can. Only once no
    process of ``uid`` is left (the caller checks), so nothing can race it. Returns what
    could not be removed."""
    if os.geteuid() != 0:
        raise RuntimeError("only the sandbox's trusted side (root) can wipe")
    uid = untrusted_uid() if uid is None else uid
    failed: list[str] = []
    os.setresuid(SWEEPER_UID, uid, 0)
    try:
        for base in paths:
            _wipe_tree(base, uid, failed, depth=0)
        _remove_ipc(uid, failed)
    finally:
        os.setresuid(0, 0, 0)
    if os.getresuid() != (0, 0, 0):
        raise OSError("the wipe could not take back the trusted uid")
    ipc = [f for f in failed if f.split(" ")[0] in ("shm", "sem", "msg")]
    if ipc:
        failed = [f for f in failed if f not in ipc]
        _remove_ipc(0, failed)
    return failed


def _wipe_tree(base: str, uid: int, failed: list[str], depth: int) -> None:
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if st.st_uid == uid:
            _remove_owned(entry.path, failed)
        elif entry.is_dir(follow_symlinks=False) and depth < 8:
            _wipe_tree(entry.path, uid, failed, depth + 1)


def _remove_owned(path: str, failed: list[str]) -> None:
    import shutil

    def again(func: Any, p: str, _: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700, follow_symlinks=False)
            func(p)
        except OSError:
            failed.append(p)

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, onerror=again)
        else:
            os.unlink(path)
    except OSError:
        failed.append(path)


def _ipc_objects() -> list[tuple[str, int, dict[str, str]]]:
    """Every System V IPC object of this IPC namespace: (kind, id, its columns)."""
    out = []
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        header = lines[0].split()
        for line in lines[1:]:
            cols = dict(zip(header, line.split(), strict=False))
            out.append((kind, int(cols[header[1]]), cols))  # shmid / semid / msqid
    return out


def ipc_not_owned_by(uid: int) -> int:
    """How many System V IPC objects exist whose owner is not ``uid`` (none of the trusted
    side makes any: each is one that an untrusted creator handed to another uid)."""
    return sum(1 for _, _, cols in _ipc_objects() if int(cols.get("uid", -1)) != uid)


def _rm_ipc(kind: str, ident: int) -> bool:
    libc = _libc()
    if kind == "sem":
        return libc.semctl(ident, 0, 0, 0) == 0
    return getattr(libc, f"{kind}ctl")(ident, 0, None) == 0


def _remove_ipc(uid: int, failed: list[str]) -> None:
    """Remove every System V IPC object of the namespace, whoever owns it: its owner may
    be anyone (the owner can hand it to any uid and, as its creator, keep full access),
    but its creator is the untrusted uid (the trusted side makes none), and a creator may
    always remove it. Called as that uid; what it still cannot remove is tried again as
    root (an object root owns) by :func:`wipe_untrusted`."""
    for kind, ident, _ in _ipc_objects():
        if not _rm_ipc(kind, ident):
            failed.append(f"{kind} {ident}")


def _cgroup_tasks() -> int | None:
    """Tasks in this container's pids cgroup (threads and unreaped zombies included)."""
    for path in ("/sys/fs/cgroup/pids/pids.current", "/sys/fs/cgroup/pids.current"):
        try:
            with open(path) as f:
                return int(f.read())
        except (OSError, ValueError):
            continue
    return None


def _tasks_not_of(uid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                uids = [line for line in f if line.startswith(b"Uid:")]
            if uids and int(uids[0].split()[1]) != uid:
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
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
            stat = f.read()
        return bool(int(stat[stat.rindex(b")") + 2:].split()[6]) & PF_EXITING)
    except (OSError, ValueError, IndexError):
        return True  # gone already


#: SIGKILL's bit in the pending-signal masks of ``/proc/.../status``.
_SIGKILL_BIT = 1 << (signal.SIGKILL - 1)


def _killed(fields: dict[bytes, bytes]) -> bool:
    """Whether SIGKILL is pending for a thread (its own mask or its process's): it was
    killed and has not yet run to its exit (on a busy machine it may wait milliseconds for
    a CPU), and never runs another instruction of its own."""
    try:
        return any(int(fields.get(k, b"0").strip() or b"0", 16) & _SIGKILL_BIT for k in (b"SigPnd", b"ShdPnd"))
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
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            pgrp = int(stat[stat.rindex(b")") + 2:].split()[2])
        except (OSError, ValueError, IndexError):
            continue
        live = False
        mine = False
        for tid in tids:
            try:
                with open(f"/proc/{entry}/task/{tid}/status", "rb") as f:
                    status = f.read()
            except OSError:
                continue
            fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
            uids = fields.get(b"Uid", b"").split()
            if not uids or int(uids[0]) != uid:
                continue
            mine = True
            tasks += 1
            if not live and fields.get(b"State", b"").split()[:1] not in ([b"Z"], [b"X"]):
                live = not (exiting_is_dead and (_killed(fields) or _exiting(entry, tid)))
        if mine:
            found[int(entry)] = (pgrp, live)
    return found, tasks


def live_processes(uid: int, *, outside_groups: frozenset[int] = frozenset()) -> set[int]:
    """Processes that have a live (not zombie) thread whose real uid is ``uid`` (and whose
    process group is none of ``outside_groups``)."""
    found, _ = _scan(uid)
    return {pid for pid, (pgrp, live) in found.items() if live and pgrp not in outside_groups}


class Zygote:
    """The harness's handle on its :mod:`zygote` (see there)."""

    def __init__(self, sock: socket.socket, pid: int, *, reply_timeout_s: float = 30.0) -> None:
        self.sock = sock
        self.pid = pid
        self.reply_timeout_s = reply_timeout_s
        self._buf = bytearray()

    @classmethod
    def fork(cls) -> Zygote:
        """Fork the zygote off this process. Call it before this process reads anything
        secret (the key, the config, the tests): the zygote's memory is this process's
        as it is now, and it closes every inherited descriptor but stderr at once."""
        from . import zygote

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ours.close()
                code = zygote.main(theirs)
            except BaseException:  # noqa: BLE001 - never return into the harness's code
                code = 1
            os._exit(code)
        theirs.close()
        return cls(ours, pid)

    def _ask(self, request: dict[str, Any], fds: list[int] | tuple[int, ...] = ()) -> dict[str, Any]:
        data = json.dumps(request).encode()
        try:
            socket.send_fds(self.sock, [data], list(fds))
            deadline = time.monotonic() + self.reply_timeout_s
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    raise ZygoteError(f"the zygote did not answer {request['op']!r} in time")
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ZygoteError("the zygote is gone")
                self._buf.extend(chunk)
        except OSError as exc:
            raise ZygoteError(f"the zygote is unreachable: {exc}") from exc
        line, _, rest = bytes(self._buf).partition(b"\n")
        self._buf = bytearray(rest)
        reply = json.loads(line)
        if "error" in reply:
            raise ZygoteError(str(reply["error"]))
        return reply

    def spawn(self, target: str, *, cwd: str, env: dict[str, str], args: dict[str, Any],
              fds: list[int], contained: bool) -> int:
        """Start an untrusted process running ``target``; ``fds`` arrive in it as 3, 4, ...
        ``contained``: drop to the untrusted uid (inside the sandbox only)."""
        return int(self._ask({"op": "spawn", "target": target, "cwd": cwd, "env": env,
                              "args": args, "contained": contained}, fds)["pid"])

    def reap(self, pid: int, timeout_s: float) -> int | None:
        """The exit code of ``pid`` (negative: killed by that signal), None if it has
        not ended within ``timeout_s``."""
        status = self._ask({"op": "reap", "pid": pid, "timeout_s": timeout_s})["status"]
        return None if status is None else int(status)

    def end(self, pid: int | None, *, sweep: bool, groups: frozenset[int] = frozenset()) -> tuple[int | None, int]:
        """One round trip at the end of a test: with ``sweep``, count the untrusted
        processes outside ``pid``'s group and ``groups`` (the test's earlier solution
        processes), then SIGKILL ``pid``'s process group and, with ``sweep``, every process
        of the untrusted uid. Returns (``pid``'s exit code if it has been reaped already,
        the count)."""
        reply = self._ask({"op": "end", "pid": pid, "sweep": sweep, "groups": sorted(groups)})
        status = reply.get("status")
        return (None if status is None else int(status)), int(reply.get("strays") or 0)

    def end_test(self, pid: int | None, *, groups: frozenset[int], spare: int) -> tuple[int, bool]:
        """The end of an isolated test: count the untrusted processes outside ``pid``'s
        group, ``groups`` and ``spare``'s group, kill ``pid``'s group, then every process
        of the untrusted uid but ``spare`` (:func:`kill_all_but`). Returns (the count,
        whether ``spare`` lives on)."""
        reply = self._ask({"op": "end", "pid": pid, "sweep": True, "groups": sorted(groups),
                           "spare": spare})
        return int(reply.get("strays") or 0), bool(reply.get("spared"))

    def kill_all(self) -> int:
        """SIGKILL every process of the untrusted uid; how many were alive."""
        return self.end(None, sweep=True)[1]

    def wipe(self, paths: list[str]) -> list[str]:
        """Remove what the untrusted uid owns under ``paths`` (see :func:`wipe_untrusted`)."""
        return list(self._ask({"op": "wipe", "paths": paths})["failed"])

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            for _ in range(500):
                try:
                    if os.waitpid(self.pid, os.WNOHANG)[0]:
                        return
                except ChildProcessError:
                    return
                time.sleep(0.01)
            kill_group_or_pid(self.pid)
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass


def kill_group_or_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class ZygoteError(RuntimeError):
    """The zygote failed a request: the run cannot go on safely."""


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


def confirm_gone(zygote: Zygote, uid: int | None = None, *, budget_s: float = 3.0) -> bool:
    """After a sweep: wait until no process of ``uid`` is left (killed ones take a moment
    to exit), killing again now and then. False if some outlive ``budget_s``."""
    uid = untrusted_uid() if uid is None else uid
    deadline = time.monotonic() + budget_s
    i = 0
    while untrusted_present(uid) and live_processes(uid):
        if time.monotonic() > deadline:
            return False
        if i % 4 == 3:
            zygote.kill_all()
        time.sleep(0.001 * min(i + 1, 20))
        i += 1
    return True


def sweep(zygote: Zygote, uid: int | None = None, *, pid: int | None = None,
          groups: frozenset[int] = frozenset(), confirm: bool = False,
          budget_s: float = 3.0) -> tuple[int, bool]:
    """Kill ``pid``'s group (the test's solution process) and then every process of
    ``uid``, unconditionally; with ``confirm``, wait until none is left (before the
    report). Between tests the kill is enough: a process that has taken SIGKILL never
    runs another instruction of its own, even before it is gone.

    Returns (processes outside ``pid``'s group and ``groups`` that were alive, whether all
    are gone).
    The kill does not depend on finding the processes; ``/proc`` and the pids cgroup only
    count them and confirm that all are gone."""
    seen = zygote.end(pid, sweep=True, groups=groups)[1]
    gone = confirm_gone(zygote, uid, budget_s=budget_s) if confirm else True
    return seen, gone


def sweep_sparing(zygote: Zygote, *, pid: int | None, groups: frozenset[int],
                  spare: int) -> tuple[int, bool]:
    """:func:`sweep` between two tests of one job, sparing ``spare`` (isolated mode's
    template, which every test forks from). Returns (processes outside ``pid``'s group,
    ``groups`` and ``spare`` that were alive, whether ``spare`` was spared)."""
    return zygote.end_test(pid, groups=groups, spare=spare)


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


def pycache_prefix() -> str:
    """The bytecode prefix this (trusted) process was started with, for the processes it
    starts: the image's read-only one, or a path that can hold no file."""
    return sys.pycache_prefix or "/dev/null/pycache"
