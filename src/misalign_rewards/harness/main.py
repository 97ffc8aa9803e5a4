"""Entry point of the trusted harness inside the sandbox.

Stdin carries one JSON object ``{"key": HEX, "run_id": ..., "config": {...}}`` and is read
to EOF, then closed, before anything else happens: no process started later can read the
key from it. The report is sealed with the key (:mod:`seal`) and written to the original
stdout; nothing else ever goes there, and no untrusted process ever holds it.

:func:`run_job` is the whole job once the message is read: the pooled supervisor calls it
in each forked worker, :func:`main` once per fresh container.

Inside the sandbox (``config["contained"]``) the harness must be root with CHOWN, SETUID,
SETGID and KILL; it then lays out the job's folders so the untrusted uid can read the
solution (its own folder is its to write) and never the tests (isolated mode: 0700, root),
and keeps its own temporary files in a folder only root can enter.

Stdlib only at import time; pytest is imported by the mode that runs it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from typing import Any

from . import procs, program, schema, seal

MAX_STDIN_BYTES = 64 << 20


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _lay_out(config: schema.Config) -> None:
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
    harness_dir = os.path.dirname(os.path.abspath(__file__))
    for root, dirs, files in os.walk(os.path.dirname(harness_dir)):
        for name in dirs + files:
            path = os.path.join(root, name)
            os.chown(path, 0, 0, follow_symlinks=False)
            os.chmod(path, 0o755 if name in dirs else 0o644, follow_symlinks=False)
    if config.get("solution_writable", True):
        procs.chown_tree(config["solution_dir"], procs.untrusted_uid(), procs.untrusted_uid())
    else:
        seal_tree(config["solution_dir"])


def seal_tree(path: str) -> None:
    """Make ``path`` root's and read-only to everyone else (dirs 0755, files keep their
    execute bits but lose every write bit)."""
    procs.chown_tree(path, 0, 0)
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o755)
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & 0o555)


def _trusted_tmp(config: schema.Config) -> None:
    path = config.get("trusted_tmp")
    if not path:
        return
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    os.environ["TMPDIR"] = os.environ["HOME"] = path
    tempfile.tempdir = None


def run_job(config: schema.Config, started: float, zygote: procs.Zygote) -> schema.Report:
    """Run one job (both modes) with ``zygote`` and return its report (not yet sealed)."""
    contained = bool(config.get("contained"))
    deadline = started + float(config["run_timeout_s"])
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("PYTEST_ADDOPTS", None)
    sys.dont_write_bytecode = True
    mode = config.get("mode")
    if mode not in ("isolated", "inprocess"):
        return {"mode": str(mode), "setup_error": f"unknown mode {mode!r}"}
    if contained:
        problem = procs.check_privileges()
        if problem:
            return {"mode": mode, "setup_error": problem}
        _lay_out(config)
    _trusted_tmp(config)
    phases = {"setup": time.monotonic() - started}
    try:
        if mode == "isolated":
            from . import isolated

            report = isolated.run(config, zygote, deadline)
        else:
            from . import inprocess

            report = inprocess.run(config, zygote, deadline)
        phases["tests"] = time.monotonic() - started
        if contained:
            # Unconditionally, once more: nothing of the untrusted uid is alive when the
            # report is written.
            seen, gone = procs.sweep(zygote, confirm=True)
            io = program.observed()  # an io job's stdin programs: what outlived its case
            report["stray_processes"] = int(report.get("stray_processes") or 0) + seen + io["strays"]
            report["io"] = io
            report["sweep_failed"] = bool(report.get("sweep_failed")) or not gone
        phases["swept"] = time.monotonic() - started
    except procs.ZygoteError as exc:
        return {"mode": mode, "harness_error": f"the zygote failed: {exc}"}
    #: seconds since the harness started, at the end of each phase (for benchmarks)
    report["phases_s"] = {k: round(v, 4) for k, v in phases.items()}
    return report


def main() -> int:
    started = time.monotonic()
    nondumpable = procs.make_nondumpable()
    # The container's untrusted uid, for the zygote too (a contained run without one
    # stops at check_privileges with a setup error).
    procs.take_untrusted_uid(os.environ)
    # Before anything secret is read: the zygote must never have seen the key.
    zygote = procs.Zygote.fork()
    try:
        return _main(started, nondumpable, zygote)
    finally:
        zygote.close()


def _main(started: float, nondumpable: bool, zygote: procs.Zygote) -> int:
    raw = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    report_fd = os.dup(1)
    os.set_inheritable(report_fd, False)
    # Nothing but the report goes to the real stdout.
    os.dup2(2, 1)
    serve_message(raw, report_fd, zygote, started, nondumpable)
    return 0


#: What :func:`serve_message` returns when the job's report shows something a container
#: should not be trusted after (a pooled supervisor then retires its container).
EXIT_ANOMALY = 10
_ANOMALIES = ("stray_processes", "sweep_failed", "deadline_hit", "tests_tampered", "malformed_records",
              "records_overflow", "output_limit_hit", "harness_error", "setup_error")


def serve_message(raw: bytes, report_fd: int, zygote: procs.Zygote, started: float,
                  nondumpable: bool) -> int:
    """One job from its stdin message ``raw``: run it, write the sealed report to
    ``report_fd``. Fresh containers call it once; a pooled worker once per fork. Returns
    0, :data:`EXIT_ANOMALY` when the report shows an anomaly, 2 for a bad message."""
    if len(raw) > MAX_STDIN_BYTES:
        print("harness: stdin too large", file=sys.stderr)
        return 2
    try:
        message: schema.Message = json.loads(raw)
        key = bytes.fromhex(message["key"])
        run_id = str(message["run_id"])
        config = message["config"]
    except (ValueError, KeyError, TypeError) as exc:
        print(f"harness: bad message on stdin: {exc}", file=sys.stderr)
        return 2
    try:
        report = run_job(config, started, zygote)
    except Exception:  # noqa: BLE001 - a sealed account of the failure beats no report
        report = {"mode": str(config.get("mode")),
                  "harness_error": traceback.format_exc(limit=8)[-3000:]}
    report["nondumpable"] = nondumpable
    report["harness_s"] = round(time.monotonic() - started, 4)
    report["harness_cpu_s"] = round(sum(os.times()[:2]), 4)
    _write_all(report_fd, seal.seal(key, run_id, report))
    return EXIT_ANOMALY if any(report.get(k) for k in _ANOMALIES) else 0
