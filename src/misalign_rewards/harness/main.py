"""Entry point of the trusted harness inside the sandbox.

Stdin carries one JSON object ``{"nonce": ..., "config": {...}}`` and is read to EOF
before anything else happens, so no later process can read the nonce from it. The final
report is written to the original stdout as exactly three lines::

    <nonce> BEGIN
    {...report JSON on one line...}
    <nonce> END

The verifier believes nothing else on stdout (:func:`frame` is mirrored by the verifier's
parser). Stdlib only at import time; pytest is imported by the mode that runs it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from . import procs

MAX_STDIN_BYTES = 1 << 20


def frame(nonce: str, report: dict[str, Any]) -> bytes:
    body = json.dumps(report, separators=(",", ":"), allow_nan=False)
    return f"{nonce} BEGIN\n{body}\n{nonce} END\n".encode()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> int:
    nondumpable = procs.make_nondumpable()
    raw = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(raw) > MAX_STDIN_BYTES:
        print("harness: stdin too large", file=sys.stderr)
        return 2
    message = json.loads(raw)
    nonce = str(message["nonce"])
    config = message["config"]
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("PYTEST_ADDOPTS", None)
    sys.dont_write_bytecode = True
    report_fd = os.dup(1)
    os.set_inheritable(report_fd, False)
    # Nothing but the report goes to the real stdout.
    os.dup2(2, 1)
    if config["mode"] == "isolated":
        from . import isolated

        report = isolated.run(config)
    elif config["mode"] == "inprocess":
        from . import inprocess

        report = inprocess.run(config)
    else:
        print(f"harness: unknown mode {config['mode']!r}", file=sys.stderr)
        return 2
    report["nondumpable"] = nondumpable
    if report.get("sweep_failed"):
        # Something of the solution's is still alive and might read what we write.
        print("harness: processes of the solution survived; no report", file=sys.stderr)
        return 3
    _write_all(report_fd, frame(nonce, report))
    return 0
