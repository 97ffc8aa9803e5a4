"""The solution's end of the pipe: ``isolated`` mode's untrusted end (inprocess mode's is
:mod:`inprocess_child`; the trusted end is :mod:`proxy`).

This runs in untrusted processes: forks of the zygote (:mod:`zygote`) that have already
become the untrusted uid, in the solution's folder, with a clean environment. Nothing
they say is trusted: every answer is only data (or a handle to one of their own objects)
that the trusted tests then check.

Two kinds of process run this module:

``template``
    started once per job: imports the solution on the first request (so import-time
    work is done once, as in plain pytest), answers the requests that test modules make
    while pytest collects them, then only forks: one child per test, each starting from
    the template's state.
``test child``
    a fork of the template, in a session of its own, serving one test over its own
    socket until the trusted side closes it.

Objects live here; the trusted side holds handles. :class:`Server` keeps the table of
objects it has handed out (a handle is an index into it; the ones below
:attr:`Server.base` were made by the template and are the same in every fork). Requests
(``op``) act on those objects: ``get``/``set``/``del`` an attribute, ``call`` a target or
``callattr`` a method, ``do`` one operator or builtin from a fixed table, ``project`` a
builtin-derived object to its builtin value, ``names`` for ``from solution import *``.

Trusted objects never come here: a trusted callable arrives as a number the trusted side
gave it (:class:`TrustedCallable`); calling it asks the trusted side to make the call
(``cb``), and serving requests goes on while waiting for its answer (``ret``/``raise``),
so a callback may use the solution's objects. Trusted streams (``sys.stdin`` replaced by
a test, a ``StringIO`` argument) and iterators arrive the same way, with a fixed set of
methods.

Stdlib and the harness's own modules only; runs inside the sandbox image.
"""

from __future__ import annotations

import _collections_abc  # collections.abc's own module, loaded with the interpreter
import _thread
import array
import binascii
import builtins
import codecs
import collections
import copy
import dataclasses
import functools
import gc
import importlib
import inspect
import io
import logging
import math
import operator
import os
import signal
import socket
import sys
import threading
import types
import warnings
from typing import Any

from . import processes

#: Characters of printed output carried back per answer.
MAX_CAPTURE = 1 << 20
#: Log records carried back per answer.
MAX_RECORDS = 1000
#: Nested requests (a callback that calls the solution, which calls back, ...).
MAX_NESTING = 40
_MUTABLE = (list, dict, set, bytearray)
#: Comparison operators a class of the solution's may define (describe_class).
_COMPARISONS = frozenset({"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"})
#: the operators a handle holding a builtin value computes from it (handles._binary, _unary)
_OPERATORS = frozenset(
    [f"__{p}{n}__" for n in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift",
                             "rshift", "and", "or", "xor", "divmod") for p in ("", "r")]
    + ["__neg__", "__pos__", "__abs__", "__invert__", "__index__", "__int__", "__float__", "__complex__"])
_STDLIB = sys.stdlib_module_names
_MUTABLE_NAMES = frozenset({"deque", "Counter", "OrderedDict", "defaultdict"})


def _mutable(value: Any) -> bool:
    """A plain container whose in-place changes the trusted side mirrors."""
    t = type(value)
    return t in _MUTABLE or (t.__module__ == "collections" and t.__name__ in _MUTABLE_NAMES)
#: Builtin bases an object is projected to when the trusted side compares it with data.
_VALUE_BASES = (bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Capture(io.StringIO):
    """A text stream that keeps at most MAX_CAPTURE characters."""

    def __init__(self) -> None:
        super().__init__()
        self.truncated = False
        self.__dict__["buffer"] = _CaptureBytes(self)

    def write(self, s: str) -> int:
        room = MAX_CAPTURE - self.tell()
        if len(s) > room:
            self.truncated = True
            s = s[: max(room, 0)]
        super().write(s)
        return len(s)



class _CaptureBytes(io.RawIOBase):
    """The byte layer a real stdout has (``sys.stdout.buffer.write(b"...")``), written
    into the text capture as UTF-8."""

    def __init__(self, text: _Capture) -> None:
        super().__init__()
        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._text.write(self._decoder.decode(data))
        return len(data)


class _Fault(Exception):
    """Ends the request with a fault (the trusted side drops this process)."""


class _Abort(BaseException):
    """A trusted callback ended with something that must end the test (``pytest.fail``,
    a skip): it unwinds the solution's code; the trusted side raises the original."""


class _RecordCollector(logging.Handler):
    """Keeps the log records of the current request for the trusted side's ``caplog``."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.records: list[Any] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < MAX_RECORDS:
            try:
                msg = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format string is the solution's problem
                msg = str(record.msg)
            self.records.append([record.name[:200], record.levelno, msg[:10_000]])


#: The signals a decimal context may trap (the test's traps go along by name).
_DECIMAL_SIGNALS = frozenset({"Clamped", "DivisionByZero", "Inexact", "InvalidOperation", "Overflow",
                              "Rounded", "Subnormal", "Underflow", "FloatOperation"})


def _abcs_of(cls: type) -> list[str]:
    """The abstract classes of :mod:`collections.abc` that ``cls`` belongs to, as
    ``issubclass`` says here (derived, registered, or by their own hooks), by name."""
    out = []
    for name in _collections_abc.__all__:
        candidate = getattr(_collections_abc, name, None)
        try:
            if isinstance(candidate, type) and issubclass(cls, candidate):
                out.append(name)
        except Exception:  # noqa: BLE001 - a class whose checks raise belongs to none
            continue
    return out


def _project(obj: Any) -> Any:
    """The builtin value an object of a builtin-derived class holds (a namedtuple's
    tuple, an IntEnum's int), read through the builtin's own methods, or ``_NONE``."""
    base: Any
    for base in _VALUE_BASES:
        if isinstance(obj, base):
            if base in (bool, int):
                return int.__int__(obj)
            if base is float:
                return float.__float__(obj)
            if base is complex:
                return complex(complex.__getattribute__(obj, "real"), complex.__getattribute__(obj, "imag"))
            if base is str:
                return str.__str__(obj)
            if base is bytes:
                return bytes.__getitem__(obj, slice(None))
            if base in (tuple, list, set, frozenset):
                return base(base.__iter__(obj))
            if base is dict:
                return dict(dict.items(obj))
    return _NONE


_NONE = object()

#: Operators and builtins the trusted side may ask for, by name.
_DO: dict[str, Any] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
    "gt": operator.gt, "ge": operator.ge,
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "matmul": operator.matmul,
    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": pow, "lshift": operator.lshift, "rshift": operator.rshift, "and": operator.and_,
    "or": operator.or_, "xor": operator.xor, "divmod": divmod,
    "iadd": operator.iadd, "isub": operator.isub, "imul": operator.imul,
    "itruediv": operator.itruediv, "ifloordiv": operator.ifloordiv, "imod": operator.imod,
    "ipow": operator.ipow, "ilshift": operator.ilshift, "irshift": operator.irshift,
    "iand": operator.iand, "ior": operator.ior, "ixor": operator.ixor, "imatmul": operator.imatmul,
    "neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert,
    "getitem": operator.getitem, "setitem": operator.setitem, "delitem": operator.delitem,
    "contains": operator.contains, "len": len, "bool": bool, "hash": hash, "str": str,
    "repr": repr, "format": format, "iter": iter, "next": next, "reversed": reversed,
    "index": operator.index, "int": int, "float": float, "complex": complex, "round": round,
    "trunc": math.trunc, "floor": math.floor, "ceil": math.ceil,
    "isinstance": isinstance, "issubclass": issubclass, "dir": dir,
    "copy": copy.copy, "deepcopy": copy.deepcopy,
    "enter": lambda obj: type(obj).__enter__(obj),
    "exit": lambda obj, *exc: type(obj).__exit__(obj, *exc),
    "call": lambda obj, *args: obj(*args),
    "await": lambda aw: _drive(aw),
    "anext": lambda agen: _anext(agen),
    "send": lambda gen, value: gen.send(value),
    "throw": lambda gen, exc: gen.throw(exc),
    "gen_exit": lambda gen: _exit_generator(gen),
    "signature": lambda obj: _signature_data(obj),
    "code": lambda obj: _code_kind(obj),
}

#: What kind of function a code object makes (``inspect.isgeneratorfunction`` and kin)
_CODE_KINDS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _code_kind(obj: Any) -> list[Any]:
    """A solution function's ``__code__`` as the trusted side rebuilds it: [the flags
    that say its kind, its name]; AttributeError for what has none."""
    code = getattr(obj, "__code__", None)
    if not isinstance(code, types.CodeType):
        raise AttributeError("__code__")
    return [code.co_flags & _CODE_KINDS, code.co_name]


def _signature_data(obj: Any) -> list[Any]:
    """``inspect.signature(obj)`` as data: [[name, kind, has a default, the default,
    the annotation], ...] and the return annotation (the trusted side keeps annotations
    that are classes only: proxy.Broker.signature)."""
    sig = inspect.signature(obj)
    params = [[p.name, int(p.kind), p.default is not p.empty, None if p.default is p.empty else p.default,
               None if p.annotation is p.empty else p.annotation] for p in sig.parameters.values()]
    return [params, None if sig.return_annotation is sig.empty else sig.return_annotation]
#: this process's event loop for the solution's coroutines (a fork makes its own)
_ASYNC: dict[str, Any] = {"pid": None, "loop": None}


def _drive(awaitable: Any) -> Any:
    """Run one of the solution's awaitables to completion on this process's event loop
    (one loop per process, so what a coroutine binds to the loop serves the next)."""
    import asyncio  # import cost: a solution process that awaits nothing never loads it

    loop = _ASYNC["loop"]
    if _ASYNC["pid"] != os.getpid() or loop is None or loop.is_closed():
        loop = _ASYNC["loop"] = asyncio.new_event_loop()
        _ASYNC["pid"] = os.getpid()
    if not loop.is_running():
        return loop.run_until_complete(awaitable)
    # Awaited by the test from inside one of the solution's own coroutines (the test's
    # coroutine the solution awaits): a loop of its own, in a thread of its own.
    box: dict[str, Any] = {}

    def run() -> None:
        inner = asyncio.new_event_loop()
        try:
            box["value"] = inner.run_until_complete(awaitable)
        except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
            box["exc"] = exc
        finally:
            inner.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join()
    if "exc" in box:
        raise box["exc"]
    return box.get("value")


def _exit_generator(gen: Any) -> tuple[Any, ...]:
    """``GeneratorExit`` thrown into ``gen`` (a ``close`` or ``throw(GeneratorExit)`` of the
    tests'), and how it took it: ``("raised",)`` (it ended), ``("returned", value)`` or
    ``("yielded", value)`` (it goes on). Its other exceptions are raised to the tests."""
    try:
        value = gen.throw(GeneratorExit)
    except GeneratorExit:
        return ("raised",)
    except StopIteration as stop:
        return ("returned", stop.value)
    return ("yielded", value)


def _anext(agen: Any) -> Any:
    try:
        return _drive(agen.__anext__())
    except StopAsyncIteration:
        raise StopIteration from None
_EQ_PROBES = {"eq": "__eq__", "ne": "__ne__"}


class _Probe:
    """A fresh object no honest ``__eq__`` can equal."""

    __slots__ = ()


class TrustedCallable:
    """A callable of the trusted side (a test's lambda, key function, mock): calling it
    asks the trusted side to call it. Nothing else about it can be reached from here but
    the names it came with (``functools.wraps`` copies them)."""

    def __init__(self, server: Server, tid: int, meta: list[Any] | None = None) -> None:
        self._server = server
        self._tid = tid
        for attr, value in zip(("__name__", "__qualname__", "__doc__", "__module__"), meta or (), strict=False):
            if isinstance(value, str):
                object.__setattr__(self, attr, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._server.callback(self._tid, None, args, kwargs)

    def __repr__(self) -> str:
        return f"<trusted callable {self._tid}>"

    def __setattr__(self, name: str, value: Any) -> None:
        # Set on this stand-in only (a class decorator's ``cls.greet = ...`` on a test's
        # class): the test's object is not changed, and the answer says so.
        if name not in ("_server", "_tid"):
            self._server.notes.add("trusted_attr")
        object.__setattr__(self, name, value)


class TrustedMock(TrustedCallable):
    """A test's ``unittest.mock`` object: callable, and readable where the test configured
    it (``run.return_value.returncode``, a ``mock_open`` file's ``read``); each read is a
    request to the trusted side, which refuses the mock's own methods and private names."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._server.callback(self._tid, "getattr", (name,), {})

    def __enter__(self) -> Any:
        return self._server.callback(self._tid, "__enter__", (), {})

    def __exit__(self, *exc: Any) -> Any:
        return self._server.callback(self._tid, "__exit__", (), {})

    def __iter__(self) -> Any:
        return iter(self._server.callback(self._tid, "__iter__", (), {}))

    def __len__(self) -> int:
        return self._server.callback(self._tid, "__len__", (), {})

    def __bool__(self) -> bool:
        return bool(self._server.callback(self._tid, "__bool__", (), {}))

    def __getitem__(self, key: Any) -> Any:
        return self._server.callback(self._tid, "__getitem__", (key,), {})

    def __contains__(self, item: Any) -> bool:
        return bool(self._server.callback(self._tid, "__contains__", (item,), {}))


class TrustedFunction(TrustedCallable):
    """A trusted plain function: set as a class attribute (a method patched by a test),
    it binds to the instance as a function does; other callables (mocks) do not."""

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)


class TrustedStream:
    """A text stream of the trusted side (``sys.stdin`` replaced by a test, a ``StringIO``
    passed in): the usual reading and writing methods, each a callback."""

    __slots__ = ("_server", "_tid")

    def __init__(self, server: Server, tid: int) -> None:
        self._server = server
        self._tid = tid

    def _cb(self, method: str, *args: Any) -> Any:
        return self._server.callback(self._tid, method, args, {})

    def read(self, *args: Any) -> Any:
        return self._cb("read", *args)

    def readline(self, *args: Any) -> Any:
        return self._cb("readline", *args)

    def readlines(self, *args: Any) -> Any:
        return self._cb("readlines", *args)

    def write(self, *args: Any) -> Any:
        return self._cb("write", *args)

    def writelines(self, *args: Any) -> Any:
        return self._cb("writelines", *args)

    def flush(self) -> Any:
        return self._cb("flush")

    def getvalue(self) -> Any:
        return self._cb("getvalue")

    def seek(self, *args: Any) -> Any:
        return self._cb("seek", *args)

    def tell(self) -> Any:
        return self._cb("tell")

    def close(self) -> Any:
        return self._cb("close")

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> Any:
        """The binary stream under a text one (a ``TextIOWrapper``'s), as a trusted stream
        too; a stream without one raises ``AttributeError``, as it would."""
        return self._cb("buffer")

    def __iter__(self) -> TrustedStream:
        return self

    def __next__(self) -> Any:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self) -> TrustedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TrustedIterator:
    """An iterator of the trusted side (a generator passed in): ``next`` is a callback."""

    __slots__ = ("_server", "_tid")

    def __init__(self, server: Server, tid: int) -> None:
        self._server = server
        self._tid = tid

    def __iter__(self) -> TrustedIterator:
        return self

    def __next__(self) -> Any:
        return self._server.callback(self._tid, "__next__", (), {})


class TrustedAwaitable:
    """A coroutine of the trusted side (a test's ``async def`` called by the solution):
    awaiting it is one callback, which runs it to completion on the trusted side."""

    __slots__ = ("_server", "_tid")

    def __init__(self, server: Server, tid: int) -> None:
        self._server = server
        self._tid = tid

    def __await__(self) -> Any:
        return self._server.callback(self._tid, "__await__", (), {})
        yield  # a generator: ``await`` takes its return value


_TRUSTED_KINDS = {"tcall": TrustedCallable, "tstream": TrustedStream, "titer": TrustedIterator,
                  "tawait": TrustedAwaitable}


def _protocol_members(cls: type) -> list[str] | None:
    """The members a runtime-checkable ``typing.Protocol`` asks of an object, or None."""
    if not (getattr(cls, "_is_protocol", False) and getattr(cls, "_is_runtime_protocol", False)):
        return None
    typing = sys.modules.get("typing")
    members = getattr(typing, "_get_protocol_attrs", None)
    try:
        found = members(cls) if callable(members) else None
    except Exception:  # noqa: BLE001 - a protocol whose members cannot be listed is not one here
        return None
    return sorted(m for m in found if isinstance(m, str))[:200] if found is not None else None


def _slots_of(cls: type) -> list[Any] | None:
    """A class's ``__slots__`` (its own or inherited) as written: [its type's name, the names]."""
    slots = getattr(cls, "__slots__", None)
    if isinstance(slots, str):
        return ["str", [slots]]
    if isinstance(slots, (list, tuple)) and len(slots) <= 200 and all(isinstance(n, str) for n in slots):
        return [type(slots).__name__, list(slots)]
    return None


def _process_state() -> tuple[str, dict[Any, Any]]:
    """The working folder and the environment (see :meth:`Server.answer`); the
    environment's table as ``os.environ`` keeps it (bytes), copied without decoding."""
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    raw = getattr(os.environ, "_data", None)
    return cwd, dict(raw) if isinstance(raw, dict) else dict(os.environ)


class _Turn:
    """Which thread may use the socket for a callback (:meth:`Server.callback`): one at a
    time, again and again by the same thread (a callback inside a request nested in its
    own), and lent while that thread answers a request nested in its callback."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0

    def take(self) -> bool:
        """Whether another thread had it (this one waited)."""
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return False
        waited = not self._lock.acquire(blocking=False)
        if waited:
            self._lock.acquire()
        self._owner, self._depth = me, 1
        return waited

    def give(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    def lend(self) -> int:
        """Let other threads take it; returns how deep this thread held it."""
        depth, self._owner, self._depth = self._depth, None, 0
        self._lock.release()
        return depth

    def back(self, depth: int) -> None:
        self._lock.acquire()
        self._owner, self._depth = threading.get_ident(), depth


class Server:
    """One untrusted process's end of the protocol (see the module doc)."""

    def __init__(self, wire: Any, sock: socket.socket) -> None:
        self.wire = wire
        self.sock = sock
        #: the thread whose callback is on the socket (see :meth:`callback`)
        self.turn = _Turn()
        #: what a request did that the tests do not see, for its answer's "left"
        self.notes: set[str] = set()
        self.buf = bytearray()
        self.objs: dict[int, Any] = {}
        self.ids: dict[int, int] = {}
        self.next_hid = 0
        #: handles below this came from the template (this process is a fork of it)
        self.base = 0
        #: classes described to the trusted side by this process (or the template before it)
        self.described: set[int] = set()
        self.depth = 0
        self.captures: list[tuple[_Capture, _Capture, _RecordCollector]] = []
        self.collector = _RecordCollector()
        self.ctx: dict[str, Any] = {}
        #: variables and logger levels the test's context set here, and what this process
        #: had for each before (None: unset), put back when the test no longer sets them
        self.env_before: dict[str, str | None] = {}
        self.levels_before: dict[str, int] = {}
        #: the solution's own decimal context while a test's stands in for it
        self.decimal_own: Any = None
        #: the version of each shared generator's state this process last took (apply_context)
        self.followed: dict[str, int] = {}
        #: states taken from the tests and not yet given to a generator (numpy's, until
        #: the solution loads numpy)
        self.pending_state: dict[str, Any] = {}
        #: the module containers the tests hold live ("module:name" -> [the object, the
        #: version of the tests' state last taken, its encoding when last in step])
        self.live: dict[str, list[Any]] = {}
        #: the test's objects of the call being decoded, by their number (take_records)
        self.rec_objects: dict[int, Any] = {}
        #: library attributes the tests replaced: (module, name) -> (the replacement as
        #: sent, as decoded), put in place for each request (_install_patches)
        self.patched: dict[tuple[str, str], tuple[Any, Any]] = {}
        #: what the modules had before, while the patches are in place (patches_on)
        self.patches_live: list[tuple[Any, str, Any]] | None = None
        self.cwd = os.getcwd()
        self.trusted_exceptions: dict[int, int] = {}
        self.depth_causes = 0
        self.last_result: Any = None
        #: records the test sent: id -> (its number on the trusted side, the object)
        self.records: dict[int, tuple[int, Any]] = {}
        #: records decoded in the current call's arguments (at any depth)
        self.arg_records: list[Any] = []
        #: each record's attributes as the test sent them (id -> name -> encoding): only
        #: what the solution changed goes back (a callback may have changed the test's own)
        self.record_sent: dict[int, dict[str, Any]] = {}
        #: attributes of modules and classes a test replaced: (id, name) -> (owner, original)
        self.originals: dict[tuple[int, str], tuple[Any, Any]] = {}
        self.enc = wire.Encoder(self._encode_object)

    # -- the socket ------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        try:
            data = self.wire.dumps(message)
        except (ValueError, TypeError) as exc:
            data = self.wire.dumps({"fault": f"the answer could not be written: {self.wire.text(exc)}"})
        _write_all(self.sock.fileno(), data)

    def receive(self) -> dict[str, Any] | None:
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[: nl + 1]
                message = self.wire.loads(line)
                if not isinstance(message, dict):
                    raise self.wire.WireError("a message must be an object")
                return message
            if len(self.buf) > self.wire.MAX_MESSAGE_BYTES:
                return None
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return None
            self.buf.extend(chunk)

    # -- handles -------------------------------------------------------------------------
    def hid(self, obj: Any) -> int:
        found = self.ids.get(id(obj))
        if found is not None and self.objs.get(found) is obj:
            return found
        n = self.next_hid
        self.next_hid += 1
        self.objs[n] = obj
        self.ids[id(obj)] = n
        return n

    def lookup(self, n: Any) -> Any:
        if type(n) is not int or n not in self.objs:
            raise self.wire.WireError(f"no object {n!r:.20} here (a handle from another test?)")
        return self.objs[n]

    def ref(self, obj: Any) -> list[Any]:
        n = self.hid(obj)
        return [n, n < self.base]

    def class_ref(self, cls: type) -> dict[str, Any]:
        """How the trusted side names a class: by path when ``module.qualname`` finds it,
        else by handle; with its description the first time this process sends it."""
        module = getattr(cls, "__module__", None)
        qualname = getattr(cls, "__qualname__", None)
        out: dict[str, Any]
        if module == "builtins" and isinstance(qualname, str):
            return {"key": f"b:{qualname}", "ref": self.ref(cls)}
        path = None
        if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
            found: Any = sys.modules.get(module)
            for part in qualname.split("."):
                found = getattr(found, part, None)
            if found is cls:
                path = f"p:{module}:{qualname}"
        r = self.ref(cls)
        out = {"key": path or f"h:{r[0]}:{int(r[1])}", "ref": r}
        if id(cls) not in self.described:
            self.described.add(id(cls))
            out["d"] = self.describe_class(cls)
        return out

    def describe_class(self, cls: type) -> dict[str, Any]:
        bases = [self.class_ref(b) for b in cls.__bases__ if b is not object]
        methods = []
        operators = set()
        for klass in cls.__mro__:
            if klass.__module__ == "builtins":
                continue
            for name, value in vars(klass).items():
                if isinstance(value, types.FunctionType) and not name.startswith("__"):
                    methods.append(name)
                elif name in _COMPARISONS and callable(value):
                    operators.add(name)
                elif name in _OPERATORS and callable(value) and klass.__module__.split(".")[0] not in _STDLIB:
                    operators.add(name)  # its own arithmetic (a standard library's class: as its value's)
        value_base = next((b.__name__ for b in _VALUE_BASES if issubclass(cls, b)), None)
        fields = getattr(cls, "__dataclass_fields__", None)
        dc_fields = [n for n, f in fields.items() if isinstance(n, str) and getattr(f, "_field_type", None)
                     is getattr(sys.modules.get("dataclasses"), "_FIELD", 0)] if isinstance(fields, dict) else None
        return {"name": self.wire.text(cls.__name__, 200), "qualname": self.wire.text(cls.__qualname__, 400),
                "module": self.wire.text(getattr(cls, "__module__", "?"), 200), "bases": bases,
                "exc": issubclass(cls, BaseException), "methods": sorted(set(methods))[:2000],
                "value_base": value_base, "slots": _slots_of(cls), "protocol": _protocol_members(cls), "dataclass": dc_fields,
                "operators": sorted(operators), "abcs": _abcs_of(cls)}

    def _encode_object(self, obj: Any) -> Any:
        """The encoder's hook: what is not plain data crosses as a handle."""
        if isinstance(obj, type):
            return {"$": "cls", "v": self.class_ref(obj)}
        if isinstance(obj, types.ModuleType):
            return {"$": "mod", "v": [self.ref(obj), self.wire.text(obj.__name__, 200)]}
        if isinstance(obj, (TrustedCallable, TrustedStream, TrustedIterator)):
            return {"$": "tback", "v": obj._tid}
        record = self.records.get(id(obj))
        if record is not None and record[1] is obj:
            return {"$": "tback", "v": record[0]}
        if isinstance(obj, BaseException):
            return {"$": "exc", "v": self.exception(obj)}
        out = [self.ref(obj), self.class_ref(type(obj))]
        if isinstance(obj, (int, float, complex, str, bytes, tuple, frozenset)):
            # Immutable: the builtin value it holds goes along (equality with data is
            # decided from it on the trusted side).
            try:
                out.append(self.enc(_project(obj)))
            except (self.wire.WireError, RecursionError, ValueError):
                pass
        return {"$": "ref", "v": out}

    def _decode_object(self, tag: str, v: Any, decode_one: Any) -> Any:
        if tag == "ref":
            return self.lookup(v)
        if tag == "rec":  # one of the test's objects in this call's table (take_records)
            if type(v) is not int or v not in self.rec_objects:
                raise self.wire.WireError("bad rec")
            return self.rec_objects[v]
        if tag == "tcall" and type(v) is list and v and type(v[0]) is int:
            if len(v) > 7 and v[7] is True:
                kind: Any = TrustedMock
            else:
                kind = TrustedFunction if len(v) > 5 and v[5] is True else TrustedCallable
            made = kind(self, v[0], v[1:5])
            if len(v) > 6 and isinstance(v[6], list):
                _set_signature(self, made, v[6])
            return made
        if tag in _TRUSTED_KINDS:
            if type(v) is not int:
                raise self.wire.WireError(f"bad {tag}")
            return _TRUSTED_KINDS[tag](self, v)
        if tag == "texc":  # an exception the trusted side raised, rebuilt here
            return self.rebuild_exception(v, decode_one)
        if tag == "path":  # a class or function of the solution's, by name
            if type(v) is not list or not v or not all(isinstance(p, str) for p in v):
                raise self.wire.WireError("bad path")
            found: Any = _import(self, v[0])
            for part in v[1:]:
                found = getattr(found, part)
            return found
        if tag == "ntuple":  # a test's namedtuple: one of the same shape, by value
            if type(v) is not list or len(v) not in (3, 4) or type(v[1]) is not list or type(v[2]) is not list:
                raise self.wire.WireError("bad ntuple")
            cls = _record_class("ntuple", v[0], tuple(v[1]))
            return self.received(cls(*[decode_one(x) for x in v[2]]), v)
        if tag == "object":  # a test's plain object (a ListNode): one with the same attributes
            if type(v) is not list or len(v) not in (2, 3, 4) or type(v[1]) is not list or not isinstance(v[0], str):
                raise self.wire.WireError("bad object")
            record: Any = _record_class("object", v[0], ())
            obj = record.__new__(record)
            for pair in v[1]:
                if type(pair) is list and len(pair) == 2 and isinstance(pair[0], str):
                    obj.__dict__[pair[0]] = decode_one(pair[1])
            if len(v) == 4 and type(v[3]) is list:
                self._members(obj, v[3], decode_one)
            return self.received(obj, v[:3])
        if tag == "record":  # a test's dataclass instance: one with the same fields
            if type(v) is not list or len(v) not in (2, 3) or type(v[1]) is not list:
                raise self.wire.WireError("bad record")
            pairs = [(p[0], decode_one(p[1])) for p in v[1] if type(p) is list and len(p) == 2]
            cls = _record_class("record", v[0], tuple(name for name, _ in pairs))
            return self.received(cls(*[value for _, value in pairs]), v)
        raise self.wire.WireError(f"unknown tag {tag!r:.40}")

    def _members(self, obj: Any, members: list[Any], decode_one: Any) -> None:
        """What the class of a test's object gives it beyond its attributes: its methods
        and properties (each one the trusted side runs on the test's own object when
        called or read here), its operators (``__lt__`` for ``sorted``, ``__eq__``,
        ``__hash__``, ``__str__``) and its class-level data (:data:`_MEMBERS`)."""
        found: dict[str, Any] = {}
        for entry in members[:200]:
            if not (type(entry) is list and len(entry) == 3 and isinstance(entry[0], str) and entry[0].isidentifier()):
                continue
            name, kind, payload = entry
            if kind in ("m", "p") and type(payload) is int:
                found[name] = (kind, TrustedCallable(self, payload, [name, name, None, "tests"]))
            elif kind == "d":
                found[name] = ("d", decode_one(payload))
        if found:
            _MEMBERS[id(obj)] = (obj, found)

    def take_records(self, table: Any) -> None:
        """The test's plain objects a call's arguments hold (:meth:`proxy.Broker._record_table`):
        each made first, then given its attributes, so the arguments' references to them
        (``{"$": "rec"}``) are to one object each, cycles and long chains included."""
        self.rec_objects = {}
        if not isinstance(table, list):
            return
        made = []
        for entry in table[:200_000]:
            if not (type(entry) is list and len(entry) == 4 and type(entry[0]) is int
                    and isinstance(entry[1], str) and type(entry[2]) is list):
                raise self.wire.WireError("bad record table")
            cls: Any = _record_class("object", entry[1], ())
            obj = cls.__new__(cls)
            self.rec_objects[entry[0]] = obj
            made.append((obj, entry))
        for obj, (tid, name, attrs, members) in made:
            for pair in attrs:
                if type(pair) is list and len(pair) == 2 and isinstance(pair[0], str):
                    obj.__dict__[pair[0]] = self.decode(pair[1])
            if type(members) is list and members:
                self._members(obj, members, self.decode)
            self.received(obj, [name, attrs, tid])

    def received(self, obj: Any, v: list[Any]) -> Any:
        """Remember a record the test sent (its last element is its number there), so it
        goes back as the test's own object and its changes can be mirrored."""
        if len(v) > 2 and type(v[-1]) is int:
            self.records[id(obj)] = (v[-1], obj)
            self.arg_records.append(obj)
            attrs = v[1]
            if type(attrs) is list:
                self.record_sent[id(obj)] = {p[0]: p[1] for p in attrs
                                             if type(p) is list and len(p) == 2 and isinstance(p[0], str)}
        return obj

    def encode(self, value: Any) -> Any:
        return self.enc(value)

    def decode(self, data: Any) -> Any:
        return self.wire.decode(data, None, self._decode_object)

    # -- exceptions ------------------------------------------------------------------
    def exception(self, exc: BaseException) -> dict[str, Any]:
        """An exception of the solution's, described for the trusted side: its class (as
        a class reference, so the trusted side can mirror it), message, arguments and
        attributes (what can cross)."""
        eid = self.trusted_exceptions.get(id(exc))
        if eid is not None:
            return {"trusted": eid}
        data = self.wire.encode_exception(exc)
        data["cls"] = self.class_ref(type(exc))
        try:
            data["args"] = self.enc(tuple(exc.args))
        except (self.wire.WireError, RecursionError, ValueError):
            data["args"] = None
        attrs = []
        for name, value in list(getattr(exc, "__dict__", {}).items())[:100]:
            if isinstance(name, str) and (not name.startswith("__") or name == "__notes__"):
                try:
                    attrs.append([name, self.enc(value)])
                except (self.wire.WireError, RecursionError, ValueError):
                    continue
        data["attrs"] = attrs
        if isinstance(exc, BaseExceptionGroup):
            data["group"] = [exc.message if isinstance(exc.message, str) else "",
                             [self.exception(e) for e in list(exc.exceptions)[:100]]]
        if exc.__suppress_context__:
            data["suppress"] = True  # ``raise ... from`` (``from None`` too)
        cause = exc.__cause__
        if cause is not None and self.depth_causes < 10:
            self.depth_causes += 1
            try:
                data["cause"] = self.exception(cause)
            finally:
                self.depth_causes -= 1
        return data

    def rebuild_exception(self, v: Any, decode_one: Any) -> BaseException:
        """A trusted-side exception (a callback raised it, or a test passed one): a
        solution class when the trusted side names one, else the builtin named, else a
        plain Exception subclass of that name."""
        if not isinstance(v, dict):
            raise self.wire.WireError("bad texc")
        args = decode_one(v.get("args")) if v.get("args") is not None else ()
        args = args if type(args) is tuple else ()
        cls: Any = None
        if v.get("cls") is not None:
            cls = decode_one(v["cls"])
        elif isinstance(v.get("builtin"), str):
            found = getattr(builtins, v["builtin"], None)
            if isinstance(found, type) and issubclass(found, BaseException):
                cls = found
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            given = v.get("name")
            name = given if isinstance(given, str) and given.isidentifier() else "TrustedError"
            cls = type(name, (Exception,), {})
        try:
            exc = cls(*args)
        except Exception:  # noqa: BLE001 - a constructor with other arguments
            exc = cls.__new__(cls)
            exc.args = args
        if type(v.get("eid")) is int:
            self.trusted_exceptions[id(exc)] = v["eid"]
            self.objs.setdefault(-1 - v["eid"], exc)  # keep it alive while it may come back
        return exc

    # -- requests --------------------------------------------------------------------
    def serve(self, *, nested: bool = False) -> Any:
        """Answer requests until the socket closes (or, ``nested``, until the trusted
        side answers the callback we are waiting for: then return that message)."""
        while True:
            try:
                message = self.receive()
            except self.wire.WireError as exc:
                self.send({"fault": f"malformed request: {exc}"})
                continue
            if message is None:
                if nested:
                    os._exit(0)  # the trusted side is gone: nothing left to do
                return None
            if "ret" in message or "raise" in message:
                if nested:
                    return message
                self.send({"fault": "an answer to no callback"})
                continue
            # An answer waits for any callback another thread has out (it is nested in
            # this request, and the trusted side answers it first).
            if nested:
                depth = self.turn.lend()
                try:
                    reply = self.answer(message)
                finally:
                    self.turn.back(depth)
                self.send(reply)
            else:
                reply = self.answer(message)
                self.turn.take()
                try:
                    self.send(reply)
                finally:
                    self.turn.give()

    def answer(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        handler = _OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            return {"fault": "unknown request"}
        if self.depth >= MAX_NESTING:
            return {"fault": f"requests nested more than {MAX_NESTING} deep"}
        self.depth += 1
        out, err = _Capture(), _Capture()
        collector = _RecordCollector()
        self.captures.append((out, err, collector))
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        root = logging.getLogger()
        root.addHandler(collector)
        caught = warnings.catch_warnings(record=True)
        seen = caught.__enter__()
        warnings.simplefilter("always")
        state: tuple[str, dict[Any, Any]] | None = None
        try:
            self.apply_context(message.get("ctx"))
            state = _process_state()
            answer = handler(self, message)
        except _Fault as exc:
            answer = {"fault": str(exc)}
        except self.wire.WireError as exc:
            answer = {"fault": f"malformed request: {exc}"}
        except _Abort:
            answer = {"aborted": True}
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, GeneratorExit
            answer = {"fault": f"the solution raised {type(exc).__name__} ({self.wire.text(exc)})"}
        finally:
            caught.__exit__(None, None, None)
            root.removeHandler(collector)
            swapped = sys.stdout is not out or sys.stderr is not err
            sys.stdout, sys.stderr = saved
            self.captures.pop()
            self.depth -= 1
        if state is not None:
            # What plain pytest would show the tests, since the call left it changed, and
            # the next request puts back (the tests' folder, their environment).
            now = _process_state()
            left = [k for k, a, b in (("cwd", state[0], now[0]), ("env", state[1], now[1])) if a != b]
            if swapped:
                left.append("stdout")
            left += sorted(self.notes)
            self.notes.clear()
            if left:
                answer["left"] = left
        if self.live:
            self._report_live(answer)
        self._attach_output(answer, out, err, collector)
        if seen:
            answer["warnings"] = self._warnings(seen)
        return answer

    def _warnings(self, seen: list[Any]) -> list[Any]:
        """Warnings the solution issued during a request, for the trusted side to issue
        again (``pytest.warns``, ``assertWarns``)."""
        out = []
        for w in seen[:100]:
            category = w.category if isinstance(w.category, type) and issubclass(w.category, Warning) else UserWarning
            try:
                out.append([self.class_ref(category), self.wire.text(w.message, 2000),
                            self.wire.text(w.filename, 300), int(w.lineno or 0)])
            except Exception:  # noqa: BLE001 - a warning that cannot be described is dropped
                continue
        return out

    def _attach_output(self, answer: dict[str, Any], out: _Capture, err: _Capture,
                       collector: _RecordCollector) -> None:
        for key, stream in (("stdout", out), ("stderr", err)):
            captured = stream.getvalue()
            if captured:
                answer[key] = self.wire.text(captured, MAX_CAPTURE)
            if stream.truncated:
                answer["cut"] = True  # the trusted side says so (a test may have wanted it all)
                stream.truncated = False
            stream.seek(0)
            stream.truncate()
        if collector.records:
            answer["logs"] = collector.records
            collector.records = []

    def apply_context(self, ctx: Any) -> None:
        """What the test changed in its own process that the solution's code would see in
        plain pytest: environment variables, the working directory, ``input`` and
        ``sys.stdin`` replaced, the root logger's level."""
        if not isinstance(ctx, dict) or ctx == self.ctx:
            if self.pending_state:
                self._take_states()
            return
        env = ctx.get("env")
        wanted: dict[str, str | None] = {}
        if isinstance(env, list) and len(env) == 2:
            for k, v in (env[0] if isinstance(env[0], dict) else {}).items():
                if isinstance(k, str) and isinstance(v, str) and k and "\x00" not in k + v and "=" not in k:
                    wanted[k] = v
            for k in env[1] if isinstance(env[1], list) else []:
                if isinstance(k, str) and k and "\x00" not in k and "=" not in k:
                    wanted[k] = None
        self._mirror(wanted, self.env_before, os.environ.get, _set_env)
        cwd = ctx.get("cwd")
        try:
            os.chdir(cwd if isinstance(cwd, str) else self.cwd)
        except OSError:
            pass
        stdin = ctx.get("stdin")
        sys.stdin = TrustedStream(self, stdin) if type(stdin) is int else sys.__stdin__
        inp = ctx.get("input")
        builtins.input = TrustedCallable(self, inp) if type(inp) is int else _INPUT
        opened = ctx.get("open")
        builtins.open = TrustedMock(self, opened) if type(opened) is int else _OPEN
        levels = ctx.get("log_levels")
        wanted_levels: dict[str, int | None] = {
            name: value for name, value in (list(levels.items())[:200] if isinstance(levels, dict) else [])
            if isinstance(name, str) and name and type(value) is int}
        root = ctx.get("log_level")
        if type(root) is int:
            wanted_levels[""] = root
        self._mirror(wanted_levels, self.levels_before, lambda name: logging.getLogger(name or None).level,
                     lambda name, value: logging.getLogger(name or None).setLevel(value or 0))
        rng = ctx.get("rng")
        for kind, entry in (rng.items() if isinstance(rng, dict) else ()):
            # the tests' generator moved (they seeded it, or drew from it): in plain pytest
            # the solution's code shares it, so it goes on from that state
            if isinstance(entry, list) and len(entry) == 2 and type(entry[0]) is int and self.followed.get(kind) != entry[0]:
                self.followed[kind] = entry[0]
                self.pending_state[kind] = entry[1]
        self._take_states()
        self._follow_decimal(ctx.get("decimal"))
        self._patch(ctx.get("patches"))
        self._follow_lives(ctx.get("live"))
        self.ctx = ctx

    def _follow_lives(self, live: Any) -> None:
        """The containers the tests hold live, as a request's context or a callback's
        answer gives them (:meth:`proxy.Broker._live_state`)."""
        live = dict(list(live.items())[:64]) if isinstance(live, dict) else {}
        for key in [k for k in self.live if k not in live]:
            del self.live[key]  # the tests hold a copy of it now
        for key, entry in live.items():
            if isinstance(entry, list) and len(entry) == 2 and type(entry[0]) is int:
                self._follow_live(key, entry[0], entry[1])

    def _follow_decimal(self, wanted: Any) -> None:
        """The test's decimal context while it differs from the default (a
        ``localcontext(prec=5)``): the solution's arithmetic uses one with its settings, as
        it would share the test's in plain pytest; the solution's own comes back when the
        test's is the default again."""
        if isinstance(wanted, list) and len(wanted) == 7:
            decimal = importlib.import_module("decimal")  # loaded by the test's use of it
            prec, rounding, emin, emax, capitals, clamp, traps = wanted
            signals = [getattr(decimal, n) for n in traps if isinstance(n, str) and n in _DECIMAL_SIGNALS] \
                if isinstance(traps, list) else []
            try:
                context = decimal.Context(prec=prec, rounding=rounding, Emin=emin, Emax=emax,
                                          capitals=capitals, clamp=clamp, traps=signals)
            except (TypeError, ValueError, OverflowError):
                return
            if self.decimal_own is None:
                self.decimal_own = decimal.getcontext()
            decimal.setcontext(context)
        elif self.decimal_own is not None:
            sys.modules["decimal"].setcontext(self.decimal_own)
            self.decimal_own = None

    def _patch(self, patches: Any) -> None:
        """What the tests replaced in their library modules (``mock.patch("os.listdir")``:
        see :meth:`proxy.Broker._patches`), decoded once, for :meth:`_install_patches`."""
        wanted: dict[tuple[str, str], Any] = {}
        for entry in patches[:200] if isinstance(patches, list) else ():
            if (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                    and isinstance(entry[1], str) and entry[1].isidentifier()):
                wanted[(entry[0], entry[1])] = entry[2]
        for key in [k for k in self.patched if k not in wanted]:
            del self.patched[key]
        for key, sent in wanted.items():
            if key in self.patched and self.patched[key][0] == sent:
                continue
            try:
                self.patched[key] = (sent, self.decode(sent))
            except Exception:  # noqa: BLE001 - a value this process cannot take is not patched in
                self.patched.pop(key, None)

    def patches_on(self) -> bool:
        """Put the tests' patches in place for the solution's code about to run, unless
        they are (a request nested in a call of the solution's); whether this did."""
        if self.patches_live is not None or not self.patched:
            return False
        self.patches_live = self._install_patches()
        return True

    def patches_off(self, mine: bool) -> None:
        if mine and self.patches_live is not None:
            self._remove_patches(self.patches_live)
            self.patches_live = None

    def _install_patches(self) -> list[tuple[Any, str, Any]]:
        """Put the tests' replacements into this process's library modules (for the
        solution's own code only: :func:`_run`, :meth:`callback`); what each had before,
        for :meth:`_remove_patches`."""
        saved = []
        for (module_name, name), (_, value) in self.patched.items():
            try:
                module = sys.modules.get(module_name) or importlib.import_module(module_name)
                before = module.__dict__.get(name, _ABSENT)
                setattr(module, name, value)
            except Exception:  # noqa: BLE001 - a module this process cannot load is not patched
                continue
            saved.append((module, name, before))
        return saved

    @staticmethod
    def _remove_patches(saved: list[tuple[Any, str, Any]]) -> None:
        for module, name, before in reversed(saved):
            try:
                if before is _ABSENT:
                    delattr(module, name)
                else:
                    setattr(module, name, before)
            except (AttributeError, TypeError):
                pass

    def _follow_live(self, key: Any, version: int, state: Any) -> None:
        """A container of a solution module that the tests hold live (:meth:`proxy.Broker._track`):
        watched from now on, and given the contents a test gave the tests' object."""
        item = self.live.get(key)
        if item is None:
            obj = self._live_home(key)
            if not _mutable(obj) or self.wire.elements(obj) > self.wire.LIVE_ELEMENTS:
                return
            item = self.live[key] = [obj, 0, self._encode_or_none(obj)]
        if version != item[1]:
            item[1] = version
            if state is not None:
                try:
                    _refill(item[0], self.decode(state))
                except Exception:  # noqa: BLE001 - contents this process cannot take are not taken
                    pass
                item[2] = self._encode_or_none(item[0])

    def _live_home(self, key: Any) -> Any:
        """What a container the tests hold live is here now: a module's global
        ("module:name"), or an attribute in the instance dict of one of this process's
        objects ("attr:number:name"); None when there is none."""
        if not isinstance(key, str):
            return None
        if key.startswith("attr:"):
            _, n, name = key.split(":", 2)
            obj = self.objs.get(int(n)) if n.isdigit() else None
            try:
                own = object.__getattribute__(obj, "__dict__") if obj is not None else None
            except AttributeError:
                return None
            return own.get(name) if type(own) is dict else None
        mod, _, name = key.partition(":")
        return getattr(sys.modules.get(mod), "__dict__", {}).get(name)

    def _report_live(self, answer: dict[str, Any]) -> None:
        """The containers the tests hold live that changed here since they were last in
        step, for the answer (None: the module no longer holds that object)."""
        changed: dict[str, Any] = {}
        budget = self.wire.LIVE_ELEMENTS
        for key, item in list(self.live.items()):
            if self._live_home(key) is not item[0]:
                del self.live[key]
                changed[key] = None
                continue
            n = self.wire.elements(item[0], budget)
            budget -= n
            now = self._encode_or_none(item[0]) if budget >= 0 else None
            if now is None:
                del self.live[key]
                changed[key] = None
            elif now != item[2]:
                item[2] = changed[key] = now
        if changed:
            answer["live"] = changed

    def _encode_or_none(self, value: Any) -> Any:
        try:
            return self.encode(value)
        except (self.wire.WireError, RecursionError, ValueError, TypeError):
            return None

    def _take_states(self) -> None:
        """Give this process's shared generators the states the tests left theirs in
        (:class:`proxy._Shared`). numpy's waits until the solution has loaded numpy (a
        solution that never does draws nothing from it)."""
        for kind in list(self.pending_state):
            if kind == "numpy" and "numpy" not in sys.modules:
                continue
            _take_state(kind, self.pending_state.pop(kind))

    @staticmethod
    def _mirror(wanted: dict[str, Any], before: dict[str, Any], get: Any, put: Any) -> None:
        """Give each name in ``wanted`` its value (None: unset), remembering what this
        process had before the first time; put back what it had for each name the test
        no longer sets (as monkeypatch and caplog put back what they found, so what the
        solution set itself stays)."""
        for name in [n for n in before if n not in wanted]:
            put(name, before.pop(name))
        for name, value in wanted.items():
            if name not in before:
                before[name] = get(name)
            put(name, value)

    def callback(self, tid: int, method: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Ask the trusted side to call its object ``tid``, serving its requests while it
        does; return what it returned, or raise what it raised. The tests' patches are
        out of the way meanwhile (this is the harness's code, not the solution's).

        One callback at a time: the solution's threads share the socket, and what the
        trusted side sends while a callback is out is that callback's answer or a request
        nested in it, so only the thread that sent it may read (``pool.map(test_fn,
        items)`` gets each item's own result, as in plain pytest, only not at once). That
        thread hands its turn on while it answers a request nested in its callback (the
        solution's code then runs and may use threads of its own), and takes it back to
        send the answer (:meth:`serve`)."""
        if self.turn.take():
            self.notes.add("callbacks_waited")
        try:
            suspended = self.patches_live is not None
            self.patches_off(suspended)
            try:
                return self._callback(tid, method, args, kwargs)
            finally:
                if suspended:
                    self.patches_on()
        finally:
            self.turn.give()

    def _callback(self, tid: int, method: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            sent = {"cb": tid, "args": self.enc(args), "kwargs": self.enc(kwargs)}
        except (self.wire.WireError, RecursionError, ValueError) as exc:
            raise TypeError(f"cannot pass these arguments to the test's callable: {exc}") from None
        if method is not None:
            sent["m"] = method
        if self.captures:
            out, err, collector = self.captures[-1]
            self._attach_output(sent, out, err, collector)
        if self.live:
            self._report_live(sent)
        self.send(sent)
        reply = self.serve(nested=True)
        if "live" in reply:
            self._follow_lives(reply["live"])
        if "ret" in reply:
            return self.decode(reply["ret"])
        if reply.get("abort") is True:
            raise _Abort()
        raise self.decode(reply["raise"])


_INPUT = builtins.input
_OPEN = builtins.open
_ABSENT = object()
#: the protocol's own, taken before a test's patch of the module can reach this process
_SOCKET = socket.socket
_RECV_FDS = socket.recv_fds


def _refill(obj: Any, new: Any) -> None:
    """Give the container ``obj`` the contents of ``new`` (of its type), in place."""
    if type(new) is not type(obj):
        return
    if isinstance(obj, (list, bytearray)):
        obj[:] = new
    elif isinstance(obj, (dict, set)):
        obj.clear()
        obj.update(new)
    else:  # deque
        obj.clear()
        obj.extend(new)


def _take_state(kind: str, text: Any) -> None:
    """Give this process's generator ``kind`` (``random``, ``numpy``'s legacy global one)
    the state ``text`` (:func:`proxy._random_text`, :func:`proxy._numpy_text`); a state
    that cannot be taken leaves the numbers as they were."""
    try:
        if kind == "random":
            import random  # import cost: only a solution whose tests set random loads it here

            version, keys, gauss = text
            random.setstate((version, tuple(array.array("I", binascii.a2b_base64(keys))), gauss))
        elif kind == "numpy":
            # numpy loads numpy.random on first use; the solution's code would now
            import numpy.random  # import cost: only a solution that loaded numpy, whose tests use its generator

            name, keys, pos, has_gauss, gauss = text
            keys = sys.modules["numpy"].frombuffer(binascii.a2b_base64(keys), dtype="uint32")
            numpy.random.set_state((name, keys, pos, has_gauss, gauss))
    except Exception:  # noqa: BLE001 - a state this process cannot take is not taken
        pass


def _set_signature(server: Server, fn: Any, params: list[Any]) -> None:
    try:
        built = []
        for p in params:
            name, kind, default = p
            value = inspect.Parameter.empty if default is None else server.decode(default[0])
            built.append(inspect.Parameter(name, inspect._ParameterKind(kind), default=value))
        fn.__signature__ = inspect.Signature(built)
    except Exception:  # noqa: BLE001 - no signature then, as for a builtin
        pass
_RECORDS: dict[tuple[str, str, tuple[str, ...]], type] = {}


#: Members of the test's objects rebuilt here (Server._members): id -> (the object,
#: {name: ("m" method | "p" property, a trusted callable) or ("d", class-level data)})
_MEMBERS: dict[int, tuple[Any, dict[str, Any]]] = {}


def _member(obj: Any, name: str) -> Any:
    entry = _MEMBERS.get(id(obj))
    if entry is None or entry[0] is not obj:
        return None
    return entry[1].get(name)


def _operator(name: str, fallback: Any) -> Any:
    def operator(self: Any, *args: Any) -> Any:
        found = _member(self, name)
        if found is None or found[0] != "m":
            return fallback(self, *args)
        return found[1](*args)

    operator.__name__ = name
    return operator


def _unordered(self: Any, other: Any) -> Any:
    return NotImplemented


class _TestObject:
    """The base of what stands for a test's plain objects here: attributes as data, and
    what their class defines (:meth:`Server._members`) asked of the trusted side."""

    def __getattr__(self, name: str) -> Any:
        found = _member(self, name)
        if found is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        kind, value = found
        return value() if kind == "p" else value

    __eq__ = _operator("__eq__", object.__eq__)
    __ne__ = _operator("__ne__", object.__ne__)
    __lt__ = _operator("__lt__", _unordered)
    __le__ = _operator("__le__", _unordered)
    __gt__ = _operator("__gt__", _unordered)
    __ge__ = _operator("__ge__", _unordered)
    __hash__ = _operator("__hash__", object.__hash__)
    __str__ = _operator("__str__", object.__str__)
    __repr__ = _operator("__repr__", object.__repr__)


def _record_class(kind: str, name: Any, fields: tuple[Any, ...]) -> type:
    """A namedtuple or dataclass standing for a test's own record type (by shape)."""
    if not (isinstance(name, str) and name.isidentifier() and all(
            isinstance(f, str) and f.isidentifier() and not f.startswith("_") for f in fields)):
        raise _Fault("a record with names that are not identifiers")
    key = (kind, name, fields)
    if key not in _RECORDS:
        if kind == "ntuple":
            _RECORDS[key] = collections.namedtuple(name, fields)
        elif kind == "object":
            _RECORDS[key] = type(name, (_TestObject,), {"__module__": "tests"})
        else:
            _RECORDS[key] = dataclasses.make_dataclass(name, list(fields))
    return _RECORDS[key]


def _target(server: Server, message: dict[str, Any]) -> Any:
    t = message.get("t")
    if isinstance(t, dict) and isinstance(t.get("path"), list) and t["path"]:
        path = t["path"]
        found: Any = _import(server, path[0])
        for name in path[1:]:
            if not isinstance(name, str):
                raise _Fault("malformed request")
            found = getattr(found, name)  # AttributeError: the caller's to see
        return found
    try:
        return server.decode(t)
    except (server.wire.WireError, RecursionError) as exc:
        raise _Fault(f"malformed request: {exc}") from None


def _import(server: Server, module_name: Any) -> Any:
    if not isinstance(module_name, str):
        raise _Fault("malformed request")
    try:
        return importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - anything at import time is the solution's fault
        raise _Fault(f"importing {module_name!r} failed: {type(exc).__name__}: "
                     f"{server.wire.text(exc)}") from None


def _run(server: Server, message: dict[str, Any], work: Any) -> dict[str, Any]:
    """Run ``work()`` (solution code) and describe its result or exception. The tests'
    patches of library functions are in place for ``work()`` only: the harness's own
    code here (describing results, calling back) runs on the real ones."""
    server.last_result = None
    mine = server.patches_on()
    try:
        result = work()
        server.last_result = result
    except _Abort:
        raise
    except Exception as exc:  # noqa: BLE001 - the solution's exception is the answer
        server.patches_off(mine)
        return {"ok": False, "exc": server.exception(exc)}
    except SystemExit as exc:
        server.patches_off(mine)
        if message.get("op") not in ("call", "callattr", "rerun"):
            raise
        # sys.exit() and argparse's errors in a function the test called: the test sees
        # the SystemExit (pytest.raises(SystemExit)), as in plain pytest
        try:
            return {"exit": server.encode(exc.code)}
        except (server.wire.WireError, RecursionError, ValueError):
            return {"exit": server.wire.text(exc.code)}
    finally:
        server.patches_off(mine)
    try:
        return {"ok": True, "value": server.encode(result)}
    except (server.wire.WireError, RecursionError, ValueError) as exc:
        return {"fault": f"isolated mode cannot carry the answer ({exc}); a suite that needs "
                         "such values must use mode='inprocess'", "cannot_cross": True}


def _args(server: Server, message: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    server.arg_records = []
    try:
        server.take_records(message.get("records"))
        args = server.decode(message.get("args"))
        kwargs = server.decode(message.get("kwargs"))
    except (server.wire.WireError, RecursionError) as exc:
        raise _Fault(f"arguments could not be decoded: {exc}") from None
    if type(args) is not tuple or type(kwargs) is not dict:
        raise _Fault("malformed arguments")
    return args, kwargs


def _after(server: Server, answer: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
           arrays: dict[str, Any]) -> None:
    """The state after the call of the plain mutable arguments (lists, dicts, sets; numpy
    arrays the call changed: ``arrays`` holds their copies from before), for the trusted
    side to mirror into its own objects."""
    if not answer.get("ok") and "exc" not in answer:
        return
    try:
        after = {str(i): server.encode(a) for i, a in enumerate(args) if _mutable(a)}
        after.update({k: server.encode(v) for k, v in kwargs.items() if _mutable(v)})
        for key, before in arrays.items():
            now = args[int(key)] if key.isdigit() else kwargs[key]
            if now.shape != before.shape or now.dtype != before.dtype or now.tobytes() != before.tobytes():
                after[key] = server.encode(now)
    except (server.wire.WireError, RecursionError, ValueError):
        return
    for a in server.arg_records[:200_000]:
        record = server.records.get(id(a))
        if record is not None and record[1] is a and hasattr(a, "__dict__"):
            sent = server.record_sent.get(id(a), {})
            try:
                state = [[k, e] for k, e in ((k, server.encode(v)) for k, v in vars(a).items() if isinstance(k, str))
                         if k not in sent or sent[k] != e]
            except (server.wire.WireError, RecursionError, ValueError):
                continue
            if state:
                after[f"record:{record[0]}"] = state
    if after:
        answer["after"] = after


def _name(message: dict[str, Any]) -> str:
    name = message.get("name")
    if not isinstance(name, str):
        raise _Fault("malformed request")
    return name


def _op_call(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    """``call``: the target itself; ``callattr``: its method ``name`` (one request for
    ``obj.method(...)``). In-place changes to plain arguments go back with the answer."""
    try:
        target = _target(server, message)
        if message.get("op") == "callattr":
            name = _name(message)
            target = getattr(target, name)
    except AttributeError as exc:
        return {"ok": False, "exc": server.exception(exc)}
    args, kwargs = _args(server, message)
    arrays = _array_copies(args, kwargs)
    answer = _run(server, message, lambda: target(*args, **kwargs))
    _after(server, answer, args, kwargs, arrays)
    if answer.get("ok") is True and "after" in answer:
        result = server.last_result
        # ``return counts`` after changing it: the test's own object comes back
        for i, a in enumerate(args):
            if result is a and (_mutable(a) or str(i) in arrays):
                answer["value"] = {"$": "arg", "v": str(i)}
        for k, v in kwargs.items():
            if result is v and (_mutable(v) or k in arrays):
                answer["value"] = {"$": "arg", "v": k}
    return answer


#: numpy arrays passed to a call larger than this are not watched for in-place changes
MAX_ARRAY_BYTES = 16 << 20


def _array_copies(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A copy of each numpy array argument before the call (keyed as ``_after`` keys
    arguments), to tell whether the call changed it in place."""
    copies = {}
    for key, value in [*((str(i), a) for i, a in enumerate(args)), *kwargs.items()]:
        t = type(value)
        if t.__name__ == "ndarray" and t.__module__ == "numpy" and value.nbytes <= MAX_ARRAY_BYTES:
            copies[key] = value.copy()
    return copies


def _op_get(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    target = _target(server, message)
    name = _name(message)
    answer = _run(server, message, lambda: getattr(target, name))
    if not answer.get("ok") and isinstance(target, types.ModuleType) and "exc" in answer:
        answer["missing"] = not hasattr(target, name)
    return answer


def _op_set(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    """Set (or delete) an attribute for the test. The first time a test replaces an
    attribute a module or class has of its own (``monkeypatch.setattr``, ``mock.patch``),
    the original is kept, and deleting the name later puts it back: the trusted side sees
    no module ``__dict__`` to read the original from, so that is how a patch is undone."""
    target = _target(server, message)
    name = _name(message)
    key = (id(target), name)
    own = isinstance(target, (types.ModuleType, type)) and name in vars(target)
    if message.get("delete") is True:
        if key in server.originals:
            _, original = server.originals.pop(key)
            return _run(server, message, lambda: setattr(target, name, original))
        return _run(server, message, lambda: delattr(target, name))
    try:
        value = server.decode(message.get("value"))
    except (server.wire.WireError, RecursionError) as exc:
        raise _Fault(f"the value could not be decoded: {exc}") from None
    if own and key not in server.originals:
        server.originals[key] = (target, vars(target)[name])
    return _run(server, message, lambda: setattr(target, name, value))


def _op_do(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    fn_name = message.get("fn")
    fn = _DO.get(fn_name) if isinstance(fn_name, str) else None
    if fn is None:
        raise _Fault("unknown operation")
    args, _ = _args(server, {"args": message.get("args"), "kwargs": {"$": "dict", "v": []}})
    answer = _run(server, message, lambda: fn(*args))
    if fn_name in _EQ_PROBES and len(args) == 2 and answer.get("value") is (fn_name == "eq"):
        # Two of the solution's objects called equal: does the class look at its operand?
        probe = _Probe()
        try:
            ignores = any(getattr(a, _EQ_PROBES[fn_name])(probe) is (fn_name == "eq") for a in args)
        except Exception:  # noqa: BLE001 - an __eq__ that raises on a stranger is fine
            ignores = False
        if ignores:
            answer["suspect"] = f"{type(args[0]).__qualname__}.{_EQ_PROBES[fn_name]} ignores its operand"
    return answer


def _op_project(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    target = _target(server, message)
    found = _project(target)
    if found is _NONE:
        return {"ok": True, "none": True}
    return _run(server, message, lambda: found)


def _op_names(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    module = _import(server, message.get("module"))
    if message.get("all") is True:  # dir(module): every name of its namespace
        return {"ok": True, "names": sorted(n for n in list(vars(module)) if isinstance(n, str))[:10_000]}
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    names = [n for n in names if isinstance(n, str)][:10_000]
    modules = {}
    for n in names:
        value = getattr(module, n, None)
        if isinstance(value, types.ModuleType):
            modules[n] = server.wire.text(value.__name__, 200)
    return {"ok": True, "names": names, "modules": modules}


def _op_subclass(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    """A subclass of one of the solution's classes whose methods are the test's."""
    base = _target(server, message)
    name = message.get("name")
    if not (isinstance(base, type) and isinstance(name, str) and name.isidentifier()):
        raise _Fault("malformed request")
    try:
        methods = server.decode(message.get("methods"))
    except (server.wire.WireError, RecursionError) as exc:
        raise _Fault(f"the methods could not be decoded: {exc}") from None
    if type(methods) is not dict or not all(isinstance(k, str) for k in methods):
        raise _Fault("malformed methods")
    return _run(server, message, lambda: type(base)(name, (base,), {**methods, "__qualname__": name}))


def _op_rerun(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    """A test runs one of the solution's modules as a program: ``importlib.reload``
    (``run_name`` None: its code again, in the module it has), ``runpy.run_module`` or
    ``run_path`` (``run_name`` given: a fresh namespace of that name, ``"__main__"`` for
    its ``if __name__ == "__main__"`` part). It runs here, in the test's process, with the
    test's stdin, argv and output as any call does; answered with the namespace's public
    names that can cross (``runpy``'s result), or nothing for a reload."""
    name, run_name = message.get("module"), message.get("run_name")
    if not (isinstance(name, str) and (run_name is None or isinstance(run_name, str))):
        raise _Fault("malformed request")

    if message.get("missing_only") is True and name in sys.modules:
        return {"ok": True, "value": server.encode(None)}  # imported already: the statement does nothing

    def work() -> Any:
        if run_name is None:
            module = sys.modules.get(name)
            if module is None:
                importlib.import_module(name)  # its import failed before: now it is run
            else:
                importlib.reload(module)
            return None
        import runpy  # here, not at the top: import cost in every solution process, for a rare test

        namespace = runpy.run_module(name, run_name=run_name, alter_sys=True)
        out = {}
        for key, value in list(namespace.items()):
            if isinstance(key, str) and not key.startswith("__"):
                try:
                    server.encode(value)
                except Exception:  # noqa: BLE001 - what cannot cross is left out of the copy
                    continue
                out[key] = value
        return out

    return _run(server, message, work)


_OPS = {"call": _op_call, "callattr": _op_call, "subclass": _op_subclass, "get": _op_get, "set": _op_set,
        "do": _op_do, "project": _op_project, "names": _op_names, "rerun": _op_rerun}


_START_NEW_THREAD = _thread.start_new_thread


def _start_counted(function: Any, args: Any, kwargs: Any = None) -> int:
    """``_thread.start_new_thread`` as the solution's code calls it, returning once the
    new thread runs (as ``threading.Thread.start`` does): Python counts a thread when it
    starts running, and a fork asked for in between would not see it (its process would
    then be forked without the thread, where it must serve the tests itself)."""
    running = _thread.allocate_lock()
    running.acquire()

    def run(*a: Any, **k: Any) -> Any:
        running.release()
        return function(*a, **k)

    ident = _START_NEW_THREAD(run, tuple(args), dict(kwargs or {}))
    running.acquire()
    return ident


def _prepare(wire: Any, solution_dir: str) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), wire.RECURSION_LIMIT))
    _thread.start_new_thread = _thread.start_new = _start_counted
    sys.path.append(solution_dir)  # last: a solution file never shadows the stdlib
    root = logging.getLogger()
    root.setLevel(logging.WARNING)


def serve_template(wire: Any, fd: int, solution_dir: str) -> None:
    """The template: answer requests on the socket ``fd`` (collection time), and on a
    ``fork`` request (which brings a new socket) fork a test child that serves that
    socket the same way (it may become the next test's template)."""
    _prepare(wire, solution_dir)
    server = Server(wire, _SOCKET(fileno=fd))
    server.send({"ready": True})
    _loop(server)


def _loop(server: Server) -> None:
    """Serve requests until the socket closes. A ``fork`` request forks a child that goes
    on in this same loop with the new socket (and nothing the template had buffered): a
    child never calls into a new loop, so a chain of thousands of tests, each forked from
    the last, is not a stack thousands of frames deep that every fork copies."""
    wire = server.wire
    while True:
        try:
            data, fds, _, _ = _RECV_FDS(server.sock, 1 << 20, 2)
        except OSError:
            return
        if not data:
            return
        server.buf.extend(data)
        while True:
            nl = server.buf.find(b"\n")
            if nl < 0:
                break
            line = bytes(server.buf[:nl])
            del server.buf[: nl + 1]
            try:
                message = wire.loads(line)
            except wire.WireError as exc:
                server.send({"fault": f"malformed request: {exc}"})
                continue
            if isinstance(message, dict) and message.get("op") == "fork":
                if len(fds) != 1:
                    server.send({"fault": "a fork needs its socket"})
                    continue
                child_fd, fds = fds[0], []
                if _thread._count() > 0:  # threads made through threading or _thread
                    # threads of the solution's own would not come along into a fork:
                    # this process serves the tests itself (proxy.IN_PLACE_REPLY)
                    os.close(child_fd)
                    server.send({"forked": False, "threads": True})
                    continue
                if _fork_child(server, child_fd):
                    break  # this is the child now: its own socket, nothing buffered
                continue
            if not isinstance(message, dict):
                server.send({"fault": "malformed request"})
                continue
            server.send(server.answer(message))
        for fd_left in fds:
            os.close(fd_left)
        if len(server.buf) > wire.MAX_MESSAGE_BYTES:
            return


def _fork_child(server: Server, child_fd: int) -> bool:
    """Fork a test child serving ``child_fd``. Returns False in the template, True in
    the child, whose ``server`` then talks on ``child_fd`` (the caller's loop goes on)."""
    sys.stdout.flush()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the template reaps no one: the kernel does
    # Objects so far are left out of the collector's scans: a collection in the child
    # would touch (and so copy) every page it shares with the template.
    gc.freeze()
    # Without the interpreter's after-fork hooks when it can (processes.fork), and with
    # the template's random numbers: plain pytest runs the next test in the same process,
    # so a solution that seeds random at import draws the same numbers in every test.
    pid = processes.fork(reseed=False)
    if pid:
        os.close(child_fd)
        server.send({"forked": True})
        return False
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        server.sock.close()
        server.sock = _SOCKET(fileno=child_fd)
        server.buf = bytearray()
        server.base = server.next_hid
        server.send({"ready": True, "base": server.base})
    except BaseException:  # noqa: BLE001 - a child never returns into the template's loop
        os._exit(1)
    return True
