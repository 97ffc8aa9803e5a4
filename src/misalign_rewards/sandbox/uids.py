"""A uid of its own for the untrusted processes of every container.

Containers run without a user namespace, so the kernel's per-user accounting (pipe
buffers, inotify instances, POSIX message-queue bytes, pending signals and timers, epoll
watches) spans every process of one uid on the host, whatever container it is in. If two
containers that run at once shared their untrusted uid, one could use up a quota the other
needs (docs/sandbox.md, "What is shared"). So every container gets a uid of its own for as
long as it exists: a fresh one per run, a warm one for its whole life.

The uid comes from :data:`FIRST_UID` .. :data:`LAST_UID` (0x70000000 .. 0x7FFDFFFF, about
2^28 uids): above the ranges systemd hands out to users and to containers (up to
0x6FFFFFFF), below the 0x7FFE0000 "foreign" range and 2^31 (uids past it trip code that
keeps them signed), and far from the trusted uids (0, the Lean judge's 10002, the
sweeper's 10003).

**Uniqueness.** Each uid in use is held by an ``flock`` on a file named after it under
:func:`default_directory` (``/tmp/misalign-rewards-uids``), taken before the container is
created and let go only once it is removed: no two containers started by processes of one
host (that share its ``/tmp``) hold the same uid at once, whatever process started them,
and a process that dies lets go of its uids with it (the files it leaves are removed by the
next allocator's first lease: :func:`tidy`). The uid tried is drawn at random from
the whole range, so processes that do not share the folder (other hosts on one engine,
other mount namespaces) collide only by chance: with ``n`` containers of theirs and ``m``
of ours alive at once, at most ``n * m / 2^28`` (1000 against 1000: 0.4%; 100 against
100: 4e-5). Where the folder cannot be used, uniqueness within this process is kept in
memory and the same bound holds against everyone else.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
import threading

# The untrusted uids (and gids: each is its own group too), inclusive, and the container's
# environment variable that gives one: the harness's definition (it refuses any other uid).
from ..harness.schema import FIRST_UNTRUSTED_UID as FIRST_UID
from ..harness.schema import LAST_UNTRUSTED_UID as LAST_UID
from ..harness.schema import UID_ENV
from ..logs import get_logger

logger = get_logger("misalign_rewards.sandbox")

#: Attempts at a free uid before giving up (each a fresh draw: a collision is 1 in 2^28
#: per uid in use).
_ATTEMPTS = 64


def default_directory() -> str:
    return os.environ.get("MISALIGN_UID_DIR") or "/tmp/misalign-rewards-uids"


class UidLease:
    """One uid, held until :meth:`release` (or until this process ends)."""

    def __init__(self, allocator: UidAllocator, uid: int, fd: int | None, path: str | None) -> None:
        self.uid = uid
        self._allocator = allocator
        self._fd = fd
        self._path = path

    def release(self) -> None:
        """Let go of the uid; idempotent. Call it only once nothing of the uid can run
        any more (its container is removed)."""
        fd, self._fd = self._fd, None
        if not self._allocator._forget(self.uid):
            return
        if fd is not None:
            with contextlib.suppress(OSError):
                # Unlinked while still locked: whoever opened it meanwhile finds, once it
                # holds the lock, that the name points elsewhere and tries another uid.
                if self._path is not None:
                    os.unlink(self._path)
            os.close(fd)


class UidAllocator:
    """Hands out uids no other container of this host holds (see the module doc).
    ``directory=None``: :func:`default_directory`; ``""``: this process only."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = default_directory() if directory is None else directory
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._warned = False
        self._tidied = False

    def _forget(self, uid: int) -> bool:
        with self._lock:
            if uid not in self._held:
                return False
            self._held.discard(uid)
            return True

    def held(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._held)

    def lease(self) -> UidLease:
        """A uid of the range that no container of this host holds now."""
        usable = self._usable_directory()
        if usable is not None and not self._tidied:
            self._tidied = True
            tidy(usable)
        for _ in range(_ATTEMPTS):
            uid = FIRST_UID + secrets.randbelow(LAST_UID - FIRST_UID + 1)
            with self._lock:
                if uid in self._held:
                    continue
                self._held.add(uid)
            if usable is None:
                return UidLease(self, uid, None, None)
            taken = self._take(usable, uid)
            if taken is not None:
                return UidLease(self, uid, taken, os.path.join(usable, str(uid)))
            self._forget(uid)
        raise RuntimeError(f"no free untrusted uid after {_ATTEMPTS} tries under {usable}")

    def _take(self, directory: str, uid: int) -> int | None:
        """The uid's lock file, open and locked by us; None if someone else holds it."""
        path = os.path.join(directory, str(uid))
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
        if _lock(fd, path):
            return fd
        os.close(fd)
        return None

    def _usable_directory(self) -> str | None:
        """The lock folder, made if missing (open to every local user, sticky, like
        /tmp: clients of other users share it); None where it cannot be used."""
        if not self.directory:
            return None
        try:
            os.makedirs(self.directory, exist_ok=True)
            st = os.stat(self.directory, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                raise OSError(f"{self.directory} is not a folder")
            if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != 0o1777:
                os.chmod(self.directory, 0o1777)
            if not os.access(self.directory, os.W_OK | os.X_OK):
                raise OSError(f"{self.directory} is not writable")
            return self.directory
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("sandbox.uid_dir_unusable", directory=self.directory, error=str(exc))
            return None


def tidy(directory: str, most: int = 4096) -> int:
    """Remove up to ``most`` lock files under ``directory`` that nobody holds (left by
    processes that ended without letting go); how many. Each is removed only while we
    hold its lock, so a holder's file never is, and whoever opened one meanwhile finds
    the name gone once it has the lock (:func:`_lock`)."""
    removed = 0
    try:
        names = os.listdir(directory)[:most]
    except OSError:
        return 0
    for name in names:
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if _lock(fd, path):
                os.unlink(path)
                removed += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _lock(fd: int, path: str) -> bool:
    """Lock ``fd`` (the file opened at ``path``); whether the lock is a hold on the uid:
    taken, and the name still points at this file (the last holder unlinks it as it lets
    go, maybe after we opened it: then the name may already be someone else's file)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except OSError:
        return False


__all__ = ["FIRST_UID", "LAST_UID", "UID_ENV", "UidAllocator", "UidLease", "default_directory", "tidy"]
