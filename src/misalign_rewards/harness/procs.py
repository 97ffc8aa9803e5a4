"""Who runs as whom inside the sandbox, and how the untrusted side is swept away.

Inside the sandbox (``contained``), the trusted harness runs as root holding only
CHOWN, SETUID, SETGID and KILL (the container grants no other capability) and makes
itself non-dumpable. Untrusted code runs as :data:`UNTRUSTED_UID` (the image's
``sandbox`` user) with no capabilities and ``no_new_privs``. A process of the untrusted
uid can then not signal, ptrace, renice, re-pin or open ``/proc/PID/{fd,mem,environ}``
of any trusted process: the kernel refuses each of them across uids.

Untrusted processes are started by the zygote (:mod:`zygote`, driven through
:class:`Zygote`), never forked from the harness, whose memory holds the key and the tests;
the zygote is forked from the harness before the harness reads either.

The sweep (:func:`sweep`) kills every process of the untrusted uid with one
``kill(-1, SIGKILL)`` sent by a short-lived *sweeper* whose effective uid is the
untrusted one and whose real and saved uids are :data:`SWEEPER_UID`, which no other
process has: the signal reaches every untrusted process at once (forks racing it fail),
never a trusted one, and no untrusted process can signal the sweeper back. Reading
``/proc`` only confirms the result; it is not how processes are found.

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
from typing import Any

#: The image's ``sandbox`` user: every untrusted process runs as this uid and gid.
UNTRUSTED_UID = 10001
UNTRUSTED_GID = 10001
#: Real and saved uid of the sweeper; no other process ever has it.
SWEEPER_UID = 10003

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
    """SIGKILL the process group led by ``pid`` (children start their own session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all_of(uid: int, gid: int) -> None:
    """Fork a sweeper that becomes (real SWEEPER_UID, effective ``uid``) and sends
    ``kill(-1, SIGKILL)``: every process whose real or saved uid is ``uid`` dies at once,
    and no trusted process (real uid 0) is touched. Run by the zygote, which is small and
    holds nothing, so the fork is cheap."""
    pid = os.fork()
    if pid == 0:  # the sweeper: only syscalls, then _exit
        code = 0
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(SWEEPER_UID, uid, SWEEPER_UID)
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        except BaseException:  # noqa: BLE001 - a child must never return into its parent
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError("the sweeper could not switch uid")


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


def live_processes(uid: int) -> set[int]:
    """Processes that have a live (not zombie) thread whose real uid is ``uid``.

    Reads each thread's ``status`` rather than the owner of ``/proc/PID``, which shows
    root for a process that made itself non-dumpable, and looks at every thread, since
    a leader that ended with the raw exit syscall is a zombie while its threads run."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            tids = os.listdir(f"/proc/{entry}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{entry}/task/{tid}/status", "rb") as f:
                    status = f.read()
            except OSError:
                continue
            fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
            state = fields.get(b"State", b"").split()[:1]
            uids = fields.get(b"Uid", b"").split()
            if uids and int(uids[0]) == uid and state not in ([b"Z"], [b"X"]):
                found.add(int(entry))
                break
    return found


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

    def kill_all(self) -> None:
        """SIGKILL every process of the untrusted uid."""
        self._ask({"op": "sweep"})

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


def sweep(zygote: Zygote, uid: int = UNTRUSTED_UID, *, budget_s: float = 3.0) -> tuple[int, bool]:
    """Kill every process of ``uid``, unconditionally, and wait until none is left.

    Returns (processes seen alive before a kill, whether all are gone). The kill does
    not depend on finding the processes, and neither does knowing that there were some:
    the pids cgroup tells (a process that keeps changing its pid may never be caught in
    ``/proc``). ``/proc`` only counts them and confirms that all are gone."""
    present = untrusted_present(uid)
    seen: set[int] = set()
    deadline = time.monotonic() + budget_s
    i = 0
    while True:
        alive = live_processes(uid)
        if not alive and i > 0:
            return max(len(seen), int(present)), True
        if time.monotonic() > deadline:
            return max(len(seen), int(present)), False
        seen |= alive
        if i % 4 == 0 or not alive:
            zygote.kill_all()
        if alive:
            time.sleep(0.001 * min(i + 1, 20))
        i += 1


def pycache_prefix() -> str:
    """The bytecode prefix this (trusted) process was started with, for the processes it
    starts: the image's read-only one, or a path that can hold no file."""
    return sys.pycache_prefix or "/dev/null/pycache"
