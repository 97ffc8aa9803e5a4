"""``inprocess`` mode: ordinary pytest that imports the solution, hardened, with the
outcome decided by what that pytest process says. Results are **advisory**: the solution
shares the process that records outcomes, so it can patch pytest (P7), answer with
objects whose ``__eq__`` lies (P10), patch helpers (P11) or read the caller's frame (P12).

What is still trusted: this parent process. It is non-dumpable, holds the nonce, starts
the pytest process (``python -I``, trusted ini through ``-c``, ``--rootdir``,
``--noconftest``, plugin autoload off, no bytecode read or written, the solution's folder
last on ``sys.path``), reads its records from a private pipe with a deadline, kills
everything it left behind, checks that the test files are unchanged, and only then frames
the report. So exit codes, stdout, report files rewritten after the end (P1, P2, P8, P9)
and hangs (P18) cannot decide anything, and tampering with tests (P15) is detected.

Stdlib only (the pytest process imports pytest); runs inside the sandbox image.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import subprocess
import sys
import time
from typing import Any

from . import procs

MAX_RECORD_BYTES = 8 * 1024 * 1024


def _hash_dir(path: str) -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def _program(harness_parent: str, package: str) -> str:
    return (
        "import sys\n"
        f"sys.path.insert(0, {harness_parent!r})\n"
        f"from {package} import inprocess_child as _c\n"
        f"sys.path.remove({harness_parent!r})\n"
        "sys.exit(_c.main(sys.argv[1]))\n"
    )


def run(config: dict[str, Any]) -> dict[str, Any]:
    tests_dir = config["tests_dir"]
    before = _hash_dir(tests_dir)
    # Read-only is a speed bump (the solution runs as the same user and may chmod back);
    # the hashes compared after the run are what detects a change.
    for name in before:
        os.chmod(os.path.join(tests_dir, name), 0o444)
    os.chmod(tests_dir, 0o555)
    here = os.path.dirname(os.path.abspath(__file__))
    package = os.path.basename(here)
    read_fd, write_fd = os.pipe()
    child_config = dict(config, record_fd=write_fd)
    argv = [config.get("python") or sys.executable, "-I", "-B",
            "-X", f"pycache_prefix={procs.pycache_prefix()}",
            "-c", _program(os.path.dirname(here), package), json.dumps(child_config)]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr.fileno(),  # pytest's and the solution's prints: never our stdout
        stderr=sys.stderr.fileno(),
        cwd=config["solution_dir"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
             "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        start_new_session=True,
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    deadline = time.monotonic() + float(config["run_timeout_s"])
    buf = bytearray()
    deadline_hit = False
    too_much = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            deadline_hit = True
            break
        readable, _, _ = select.select([read_fd], [], [], min(left, 0.2))
        if not readable:
            # pytest ended but something it started still holds the pipe open: stop here.
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        buf.extend(chunk)
        if len(buf) > MAX_RECORD_BYTES:
            too_much = True
            break
    os.close(read_fd)
    procs.kill_group(proc.pid)
    try:
        child_exit: int | None = proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        child_exit = None
    stray, gone = (0, True)
    if config.get("contained"):
        stray, gone = procs.sweep()
    after = _hash_dir(tests_dir)

    collected: list[str] | None = None
    tests: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, Any]] = []
    malformed = 0
    for line in bytes(buf).splitlines():
        try:
            kind, value = json.loads(line)
            if kind == "collected" and collected is None:
                collected = [str(x) for x in value]
            elif kind == "test":
                tests[str(value["id"])] = {
                    "id": str(value["id"]), "outcome": str(value["outcome"]),
                    "duration_s": float(value["duration_s"]), "message": str(value["message"]),
                }
            elif kind == "collect_error":
                errors.append({"id": str(value["id"]), "outcome": "error", "duration_s": 0.0,
                               "message": str(value["message"])})
        except (ValueError, TypeError, KeyError):
            malformed += 1
    tampered = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {
        "mode": "inprocess",
        "collected": collected,
        "tests": errors + list(tests.values()),
        "pytest_exit": child_exit,
        "deadline_hit": deadline_hit,
        "records_overflow": too_much,
        "malformed_records": malformed,
        "tests_tampered": tampered,
        "stray_processes": stray,
        "sweep_failed": not gone,
    }
