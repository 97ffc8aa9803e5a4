"""Wipes between cases and between pooled jobs: what the untrusted uid made, removed.

Files the untrusted uid owns under the places it can write (``/tmp``, ``/dev/shm``,
``/dev/mqueue``), and every System V IPC object of the container's namespace, are removed
by the zygote acting as that uid (:func:`wipe_untrusted`): root holds no capability to
enter a folder the untrusted uid closed to others, but its owner can. Only once no
process of the uid is left, so nothing races it.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .privileges import SWEEPER_UID, libc, read_proc, untrusted_uid


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
            lines = read_proc(f"/proc/sysvipc/{kind}").decode("ascii", "replace").splitlines()
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
    c = libc()
    if kind == "sem":
        return c.semctl(ident, 0, 0, 0) == 0
    return getattr(c, f"{kind}ctl")(ident, 0, None) == 0


def _remove_ipc(uid: int, failed: list[str]) -> None:
    """Remove every System V IPC object of the namespace, whoever owns it: its owner may
    be anyone (the owner can hand it to any uid and, as its creator, keep full access),
    but its creator is the untrusted uid (the trusted side makes none), and a creator may
    always remove it. Called as that uid; what it still cannot remove is tried again as
    root (an object root owns) by :func:`wipe_untrusted`."""
    for kind, ident, _ in _ipc_objects():
        if not _rm_ipc(kind, ident):
            failed.append(f"{kind} {ident}")
