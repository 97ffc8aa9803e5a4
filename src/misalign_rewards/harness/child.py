"""The solution's side of the pipe (``isolated`` mode).

This runs in the untrusted process, started by the trusted harness as
``python -I -B -c <wire.py + child.py>`` with a clean environment and its working directory
in the solution's folder. It imports the solution and answers calls, one JSON line per
request, until its stdin closes. It is not trusted for anything: whatever it answers is
only a value that the trusted tests then check.

Stdlib only; it reaches :mod:`wire` as a module object handed to :func:`serve`.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_line(fd: int, buf: bytearray, limit: int) -> bytes | None:
    while True:
        nl = buf.find(b"\n")
        if nl >= 0:
            line = bytes(buf[:nl])
            del buf[: nl + 1]
            return line
        if len(buf) > limit:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buf.extend(chunk)


def _answer(wire: Any, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or request.get("op") != "call":
        return {"fault": "malformed request"}
    module_name = request.get("module")
    path = request.get("path")
    if not isinstance(module_name, str) or not isinstance(path, list) or not path:
        return {"fault": "malformed request"}
    try:
        target: Any = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - anything at import time is the solution's fault
        return {"fault": f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"[:2000]}
    try:
        for name in path:
            target = getattr(target, name)
    except AttributeError as exc:
        return {"ok": False, "exc": wire.encode_exception(exc)}
    try:
        args = wire.decode(request.get("args"))
        kwargs = wire.decode(request.get("kwargs"))
        if type(args) is not tuple or type(kwargs) is not dict:
            return {"fault": "malformed arguments"}
    except (wire.WireError, RecursionError) as exc:
        return {"fault": f"arguments could not be decoded: {exc}"}
    try:
        result = target(*args, **kwargs)
    except Exception as exc:
        return {"ok": False, "exc": wire.encode_exception(exc)}
    except BaseException as exc:  # SystemExit, KeyboardInterrupt, GeneratorExit
        return {"fault": f"the solution raised {type(exc).__name__} ({exc})"[:2000]}
    try:
        return {"ok": True, "value": wire.encode(result)}
    except (wire.WireError, RecursionError, ValueError) as exc:
        return {"fault": f"the return value cannot cross the process boundary: {exc}"[:2000]}


def serve(wire: Any, solution_dir: str) -> None:
    """Answer calls on fds 0/1 until EOF. The pipe fds are moved out of the way first, so
    the solution's own prints and reads see ``/dev/null`` instead of the protocol."""
    rpc_in = os.dup(0)
    rpc_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.path.append(solution_dir)  # last: a solution file never shadows the stdlib
    os.chdir(solution_dir)
    buf = bytearray()
    while True:
        line = _read_line(rpc_in, buf, wire.MAX_MESSAGE_BYTES)
        if line is None:
            return
        try:
            request = wire.loads(line)
        except wire.WireError as exc:
            response: dict[str, Any] = {"fault": f"malformed request: {exc}"}
        else:
            response = _answer(wire, request)
        try:
            data = wire.dumps(response)
        except (ValueError, TypeError) as exc:  # e.g. an int too long to print
            data = wire.dumps({"fault": f"the answer could not be written: {exc}"[:2000]})
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - the solution may have replaced stdout
            pass
        _write_all(rpc_out, data)
