"""The solution's end of the pipe (``isolated`` mode).

This runs in an untrusted process: a fork of the zygote (:mod:`zygote`) that has already
become the untrusted uid, in the solution's folder, with a clean environment. It imports
the solution and answers requests, one JSON line each, until its pipe closes. Nothing it
says is trusted: every answer is only a value that the trusted tests then check.

Requests (``op``):

    call      module, path, args, kwargs -> the return value or the exception, plus the
              state of mutable arguments after the call and what the call printed
    describe  module, name -> whether that attribute is a callable, a value (sent
              along), a module, missing, or an object that cannot cross
    names     module -> the names ``from module import *`` would bind

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import types
from typing import Any

#: Characters of printed output carried back per call.
MAX_CAPTURE = 1 << 20
_MUTABLE = (list, dict, set)


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


class _Capture(io.StringIO):
    """A text stream that keeps at most MAX_CAPTURE characters."""

    def __init__(self) -> None:
        super().__init__()
        self.truncated = False

    def write(self, s: str) -> int:
        room = MAX_CAPTURE - self.tell()
        if len(s) > room:
            self.truncated = True
            s = s[: max(room, 0)]
        super().write(s)
        return len(s)


def _import(wire: Any, module_name: Any) -> Any:
    if not isinstance(module_name, str):
        raise _Fault("malformed request")
    try:
        return importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - anything at import time is the solution's fault
        raise _Fault(f"importing {module_name!r} failed: {type(exc).__name__}: {wire.text(exc)}") from None


class _Fault(Exception):
    pass


def _describe(wire: Any, request: dict[str, Any]) -> dict[str, Any]:
    module = _import(wire, request.get("module"))
    name = request.get("name")
    if not isinstance(name, str):
        return {"fault": "malformed request"}
    try:
        value = getattr(module, name)
    except AttributeError:
        return {"ok": True, "kind": "missing"}
    if isinstance(value, types.ModuleType):
        return {"ok": True, "kind": "module", "name": value.__name__}
    if callable(value):
        return {"ok": True, "kind": "callable"}
    try:
        return {"ok": True, "kind": "value", "value": wire.encode(value)}
    except (wire.WireError, RecursionError, ValueError):
        t = type(value)
        return {"ok": True, "kind": "object", "type": f"{t.__module__}.{t.__qualname__}"}


def _names(wire: Any, request: dict[str, Any]) -> dict[str, Any]:
    module = _import(wire, request.get("module"))
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    names = [n for n in names if isinstance(n, str)]
    return {"ok": True, "names": names[:10_000]}


def _call(wire: Any, request: dict[str, Any]) -> dict[str, Any]:
    path = request.get("path")
    if not isinstance(path, list) or not path:
        return {"fault": "malformed request"}
    target: Any = _import(wire, request.get("module"))
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
    out, err = _Capture(), _Capture()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        try:
            result = target(*args, **kwargs)
            answer: dict[str, Any] = {"ok": True}
        except Exception as exc:
            answer = {"ok": False, "exc": wire.encode_exception(exc)}
            result = None
    except BaseException as exc:  # SystemExit, KeyboardInterrupt, GeneratorExit
        return {"fault": f"the solution raised {type(exc).__name__} ({wire.text(exc)})"}
    finally:
        sys.stdout, sys.stderr = saved
    try:
        if answer["ok"]:
            answer["value"] = wire.encode(result)
        # Arguments the call may have changed in place, for the trusted side to mirror.
        after = {str(i): wire.encode(a) for i, a in enumerate(args) if type(a) in _MUTABLE}
        after.update({k: wire.encode(v) for k, v in kwargs.items() if type(v) in _MUTABLE})
    except (wire.WireError, RecursionError, ValueError) as exc:
        return {"fault": f"isolated mode cannot carry the answer ({exc}); a suite that needs "
                         "such values must use mode='inprocess'", "cannot_cross": True}
    if after:
        answer["after"] = after
    for key, stream in (("stdout", out), ("stderr", err)):
        captured = stream.getvalue()
        if captured:
            answer[key] = wire.text(captured, MAX_CAPTURE)
    return answer


_OPS = {"call": _call, "describe": _describe, "names": _names}


def serve(wire: Any, rpc_in: int, rpc_out: int, solution_dir: str) -> None:
    """Say it is ready (nothing of the solution has run yet), then answer requests on the
    two pipe fds until EOF."""
    sys.path.append(solution_dir)  # last: a solution file never shadows the stdlib
    _write_all(rpc_out, b'{"ready":true}\n')
    buf = bytearray()
    while True:
        line = _read_line(rpc_in, buf, wire.MAX_MESSAGE_BYTES)
        if line is None:
            return
        try:
            request = wire.loads(line)
            if not isinstance(request, dict) or request.get("op") not in _OPS:
                raise wire.WireError("unknown request")
            response = _OPS[request["op"]](wire, request)
        except wire.WireError as exc:
            response = {"fault": f"malformed request: {exc}"}
        except _Fault as exc:
            response = {"fault": str(exc)}
        try:
            data = wire.dumps(response)
        except (ValueError, TypeError) as exc:
            data = wire.dumps({"fault": f"the answer could not be written: {wire.text(exc)}"})
        _write_all(rpc_out, data)
