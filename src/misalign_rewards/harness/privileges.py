"""Who runs as whom inside the sandbox: the untrusted uid, the trusted side's capabilities.

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
:data:`UID_ENV` (schema.py, which the client imports too); :func:`take_untrusted_uid`
reads it once, before anything untrusted starts. It has no passwd entry: nothing may
depend on a name for it.

Only the trusted side ever acts as the untrusted uid, and then as :data:`SWEEPER_UID` too
(see processes.py and wipe.py): that real uid no other process ever has.

Outside the sandbox (unit tests on a host) nothing switches uid.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import ctypes
import functools
import os
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


@functools.cache
def libc() -> Any:
    """The C library, for the calls Python has no wrapper of (prctl, setfsuid, ...): made
    once per process (the zygote's forks inherit it; each new one cost a fork 0.2 ms)."""
    return ctypes.CDLL(None, use_errno=True)


def make_nondumpable() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)``; returns whether it took."""
    try:
        c = libc()
        if c.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            return False
        return c.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_no_new_privs() -> bool:
    try:
        return libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def read_proc(path: str) -> bytes:
    """A file of ``/proc`` or ``/sys``, whole (to its end: a list of System V objects can
    be long), with plain system calls (no file object: a fork of the zygote reads its own
    status before it runs anything else, and the sweeps read a few of these per case)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def status_field(status: bytes, name: bytes) -> bytes | None:
    """The value of the line ``name:`` of a ``/proc/.../status`` text, stripped, or None
    when it has none. Its first line, the process's name (which the process chose), is
    never taken for a field."""
    key = b"\n" + name + b":"
    start = status.find(key)
    if start < 0:
        return None
    start += len(key)
    end = status.find(b"\n", start)
    return status[start:].strip() if end < 0 else status[start:end].strip()


def own_status() -> bytes:
    """This process's ``/proc/self/status`` (read its fields with :func:`status_field`)."""
    return read_proc("/proc/self/status")


def effective_caps() -> int:
    """The effective capability set of this process (``CapEff`` in /proc/self/status)."""
    return int(status_field(own_status(), b"CapEff") or b"0", 16)


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

