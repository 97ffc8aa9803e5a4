"""``inprocess`` mode: ordinary pytest that imports the solution, hardened, with the
outcome decided by what that pytest process says. Results are **advisory**: the solution
shares the process that records outcomes, so it can patch pytest (P7), answer with
objects whose ``__eq__`` lies (P10), patch helpers (P11) or read the caller's frame (P12).

What is still trusted: this parent process (root, non-dumpable, holding the key). The
pytest process is started by the zygote as the untrusted uid: trusted ini through ``-c``,
``--rootdir``, ``--noconftest``, plugin autoload off, no bytecode read or written, the
solution's folder last on ``sys.path``. The test files belong to root and are read-only
for it. The parent reads its records from a private pipe and its output (capped) from
another, enforces the deadline, kills every process of the untrusted uid, checks that the
test files are unchanged, and only then seals the report. So exit codes, stdout, report
files rewritten after the end (P1, P2, P8, P9) and hangs (P18) cannot decide anything,
and the tests cannot be changed (P15).

Stdlib only (the pytest process imports pytest); runs inside the sandbox image.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import time

from . import schema
from .privileges import UNTRUSTED_ENV
from .zygote import Zygote

MAX_RECORD_BYTES = 64 * 1024 * 1024
#: Environment of the pytest process.
CHILD_ENV = {**UNTRUSTED_ENV,
             "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _hash_dir(path: str) -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def run(config: schema.Config, zygote: Zygote, deadline: float) -> schema.Report:
    tests_dir = config["tests_dir"]
    # The solution shares the pytest process: all of its time is the solution's.
    budget = config.get("code_timeout_s")
    if budget is not None:
        deadline = min(deadline, time.monotonic() + float(budget))
    before = _hash_dir(tests_dir)
    output_cap = int(config.get("output_bytes") or 1 << 20)
    record_r, record_w = os.pipe()
    output_r, output_w = os.pipe()
    child_args = {"tests_dir": config["tests_dir"], "ini_path": config["ini_path"],
                  "test_files": config["test_files"], "solution_dir": config["solution_dir"]}
    try:
        pid = zygote.spawn("inprocess", cwd=config["solution_dir"], env=dict(CHILD_ENV),
                           args=child_args, fds=[record_w, output_w],
                           contained=bool(config.get("contained")))
    finally:
        os.close(record_w)
        os.close(output_w)
    buf = bytearray()
    output = bytearray()
    deadline_hit = too_much = output_limit = False
    open_fds = {record_r, output_r}
    child_exit: int | None = None
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            deadline_hit = True
            break
        readable, _, _ = select.select(list(open_fds), [], [], min(left, 0.2))
        if not readable:
            # pytest ended but something it started still holds a pipe open: stop here.
            child_exit = zygote.reap(pid, 0.0)
            if child_exit is not None:
                break
            continue
        for fd in readable:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.discard(fd)
            elif fd == record_r:
                buf.extend(chunk)
                too_much = too_much or len(buf) > MAX_RECORD_BYTES
            else:
                output.extend(chunk[: max(0, output_cap + 1 - len(output))])
                output_limit = output_limit or len(output) > output_cap
        if too_much or output_limit:
            break
    os.close(record_r)
    os.close(output_r)
    stray, gone = (0, True)
    if child_exit is None:
        # ``end`` hands back the exit status when the zygote has already collected it;
        # only a process still running needs the wait.
        child_exit, _ = zygote.end(pid, sweep=False)
        if child_exit is None:
            child_exit = zygote.reap(pid, 5.0)
    if config.get("contained"):
        stray, gone = zygote.sweep(confirm=True)
    after = _hash_dir(tests_dir)

    collected: list[str] | None = None
    tests: dict[str, schema.ReportedTest] = {}
    errors: list[schema.ReportedTest] = []
    malformed = 0
    for line in bytes(buf[:MAX_RECORD_BYTES]).splitlines():
        try:
            kind, value = json.loads(line)
            if kind == "collected" and collected is None:
                collected = [str(x) for x in value]
            elif kind == "test":
                tests[str(value["id"])] = {
                    "id": str(value["id"]), "outcome": str(value["outcome"]),
                    "duration_s": float(value["duration_s"]), "message": str(value["message"])[:1000],
                }
            elif kind == "collect_error":
                errors.append({"id": str(value["id"]), "outcome": "error", "duration_s": 0.0,
                               "message": str(value["message"])[:1000]})
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
        "output_limit_hit": output_limit,
        "output_bytes": len(output),
        "output_tail": output[-2000:].decode("utf-8", "replace"),
    }
