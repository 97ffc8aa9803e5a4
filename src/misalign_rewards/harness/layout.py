"""Owners and modes of a job's folders: what the untrusted uid may read, write, or not see.

Run as root by the harness before any untrusted process exists (:func:`lay_out`): the
harness's own files and the tests are root's; isolated mode's tests are closed to
everyone else (0700), inprocess mode's readable and unchangeable; the solution's folder
is the untrusted uid's to write, or root's and read-only (:func:`seal_tree`, also how an
io job's build folder is closed after its compile). The harness keeps its own temporary
files in a folder only root can enter (:func:`trusted_tmp`).

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import os
import tempfile

from . import schema
from .privileges import untrusted_uid


def lay_out(config: schema.Config) -> None:
    """Owners and modes of the job's folders (run as root, before any untrusted process)."""
    tests_dir = config["tests_dir"]
    inprocess = config["mode"] == "inprocess"
    for d in {os.path.dirname(tests_dir), os.path.dirname(config["solution_dir"])}:
        os.chown(d, 0, 0)
        os.chmod(d, 0o755)
    os.chown(tests_dir, 0, 0)
    # isolated: only the trusted process reads the tests; inprocess: the untrusted pytest
    # process must read them, and no one but root may change them.
    os.chmod(tests_dir, 0o755 if inprocess else 0o700)
    for name in os.listdir(tests_dir):
        path = os.path.join(tests_dir, name)
        os.chown(path, 0, 0, follow_symlinks=False)
        os.chmod(path, 0o444 if inprocess else 0o600, follow_symlinks=False)
    if not _harness_laid_out:
        lay_out_harness()
    if config.get("solution_writable", True):
        chown_tree(config["solution_dir"], untrusted_uid(), untrusted_uid())
    else:
        seal_tree(config["solution_dir"])


#: Whether the harness's own files were laid out by this process or the one it was forked
#: from: a pooled supervisor does it once for its container (:func:`lay_out_harness`)
#: and checks between jobs that they stay as they are (contents, owners, modes).
_harness_laid_out = False


def lay_out_harness() -> None:
    """The harness's own files (the folder that holds this package): root's, and only
    root may change them."""
    global _harness_laid_out
    harness_dir = os.path.dirname(os.path.abspath(__file__))
    for root, dirs, files in os.walk(os.path.dirname(harness_dir)):
        for name in dirs + files:
            path = os.path.join(root, name)
            os.chown(path, 0, 0, follow_symlinks=False)
            os.chmod(path, 0o755 if name in dirs else 0o644, follow_symlinks=False)
    _harness_laid_out = True


def seal_tree(path: str) -> None:
    """Make ``path`` root's and read-only to everyone else (dirs 0755, files keep their
    execute bits but lose every write bit)."""
    chown_tree(path, 0, 0)
    for root, _dirs, files in os.walk(path):
        os.chmod(root, 0o755)
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & 0o555)


def trusted_tmp(config: schema.Config) -> None:
    """The harness's own temporary files (``TMPDIR``, ``HOME``) in a folder only root can
    enter (``config["trusted_tmp"]``, when given)."""
    path = config.get("trusted_tmp")
    if not path:
        return
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    os.environ["TMPDIR"] = os.environ["HOME"] = path
    tempfile.tempdir = None


def chown_tree(path: str, uid: int, gid: int) -> None:
    """Give ``path`` and everything under it to ``uid``/``gid`` (links themselves, not their targets)."""
    os.chown(path, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
