"""Entry point of the trusted harness inside the sandbox.

Stdin carries one JSON object ``{"key": HEX, "run_id": ..., "config": {...}}``
(:class:`schema.Message`) and is read to EOF, then closed, before anything else happens:
no process started later can read the key from it. The report (:class:`schema.Report`) is
sealed with the key (:mod:`seal`) and written to the original stdout; nothing else ever
goes there, and no untrusted process ever holds it.

:func:`run_job` is the whole job once the message is read: the pooled supervisor calls it
in each forked worker, :func:`main` once per fresh container.

Inside the sandbox (``config["contained"]``) the harness must be root with CHOWN, SETUID,
SETGID and KILL; it then lays out the job's folders (:mod:`layout`) so the untrusted uid
can read the solution (its own folder is its to write) and never the tests (isolated
mode: 0700, root), and keeps its own temporary files in a folder only root can enter.

Stdlib only at import time; pytest is imported by the mode that runs it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

from . import layout, program, schema, seal
from .privileges import check_privileges, make_nondumpable, take_untrusted_uid
from .zygote import Zygote, ZygoteError

MAX_STDIN_BYTES = 64 << 20


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def run_job(config: schema.Config, started: float, zygote: Zygote) -> schema.Report:
    """Run one job (both modes) with ``zygote`` and return its report (not yet sealed)."""
    contained = bool(config.get("contained"))
    deadline = started + float(config["run_timeout_s"])
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("PYTEST_ADDOPTS", None)
    sys.dont_write_bytecode = True
    mode = config.get("mode")
    if mode not in schema.MODES:
        return {"mode": str(mode), "setup_error": f"unknown mode {mode!r}"}
    if contained:
        problem = check_privileges()
        if problem:
            return {"mode": mode, "setup_error": problem}
        layout.lay_out(config)
    layout.trusted_tmp(config)
    setup_s = time.monotonic() - started
    try:
        if mode == "isolated":
            # import cost of forked processes: each mode is imported only now, after the
            # zygote was forked (main, supervisor), so the zygote and the solution's
            # processes it forks never hold pytest, and a run loads only its own mode
            from . import isolated

            report = isolated.run(config, zygote, deadline)
        else:
            from . import inprocess  # import cost of forked processes: as isolated above

            report = inprocess.run(config, zygote, deadline)
        tests_s = time.monotonic() - started
        if contained:
            # Unconditionally, once more: nothing of the untrusted uid is alive when the
            # report is written.
            seen, gone = zygote.sweep(confirm=True)
            io = program.observed()  # an io job's stdin programs: what outlived its case
            report["stray_processes"] = int(report.get("stray_processes") or 0) + seen + io["strays"]
            report["io"] = io
            report["sweep_failed"] = bool(report.get("sweep_failed")) or not gone
        swept_s = time.monotonic() - started
    except ZygoteError as exc:
        return {"mode": mode, "harness_error": f"the zygote failed: {exc}"}
    #: seconds since the harness started, at the end of each phase (for benchmarks)
    report["phases_s"] = {"setup": round(setup_s, 4), "tests": round(tests_s, 4), "swept": round(swept_s, 4)}
    return report


def main() -> int:
    started = time.monotonic()
    nondumpable = make_nondumpable()
    # The container's untrusted uid, for the zygote too (a contained run without one
    # stops at check_privileges with a setup error).
    take_untrusted_uid(os.environ)
    # Before anything secret is read: the zygote must never have seen the key.
    zygote = Zygote.fork()
    try:
        return _main(started, nondumpable, zygote)
    finally:
        zygote.close()


def _main(started: float, nondumpable: bool, zygote: Zygote) -> int:
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


def serve_message(raw: bytes, report_fd: int, zygote: Zygote, started: float,
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
