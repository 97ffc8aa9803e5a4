"""The trusted side of ``isolated`` mode: solution modules that live in another process.

``install(broker, names)`` puts a :class:`SolutionModule` into ``sys.modules`` for each
solution module name, so ``from solution import f`` in a test asks the solution's process
what ``f`` is: a callable becomes a :class:`RemoteCallable`, a value that can cross (a
constant) arrives as itself, a missing name is an ``ImportError``, and ``from solution
import *`` binds the module's public names. Calling a remote callable sends the arguments
over a pipe to a process started by the zygote (untrusted uid), which imports the real
solution and answers. Values cross through :mod:`wire`; exceptions come back as builtin
exceptions; what the call printed is printed here (so ``capsys`` sees it) and lists,
dicts and sets it changed in place are changed here too.

Whatever goes wrong on the child's side (it died, hung past the per-call deadline, sent
something that cannot cross or that takes too long to decode, failed to import) raises
:class:`SolutionFault`, a ``BaseException``: ``pytest.raises(Exception)`` cannot swallow
it, and the trusted recorder fails the test whatever the test did with it.

One child serves one test; :meth:`Broker.end_test` kills it and, inside the sandbox,
sweeps every process of the untrusted uid before the next test.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
import types
from typing import Any

from . import procs, wire

#: The environment of a solution process.
CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}


#: What a solution process says first, once it is the untrusted uid and before it has
#: imported anything of the solution (child.py).
READY = b'{"ready":true}'
#: Seconds a new solution process may take to say it is ready (not charged to the solution).
SETUP_S = 10.0


class SolutionFault(BaseException):
    """The solution's process failed a call (died, hung, or answered what cannot cross)."""


class _Child:
    def __init__(self, zygote: procs.Zygote, solution_dir: str, contained: bool) -> None:
        to_child_r, self.wfd = os.pipe()
        self.rfd, from_child_w = os.pipe()
        try:
            self.pid = zygote.spawn("child", cwd=solution_dir, env=dict(CHILD_ENV),
                                    args={"solution_dir": solution_dir},
                                    fds=[to_child_r, from_child_w], contained=contained)
        except BaseException:
            os.close(self.wfd)
            os.close(self.rfd)
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.zygote = zygote
        self.buf = bytearray()
        self.exit_code: int | None = None
        self.closed = False
        self.ready = False
        self.spent = 0.0

    def request(self, data: bytes, timeout_s: float) -> bytes:
        """Send ``data``, return the answer line. The call's ``timeout_s`` (and
        :attr:`spent`, the time charged to the solution) run from the moment the process
        said it is ready: its own start-up is the harness's business, not the solution's."""
        self.spent = 0.0
        start = time.monotonic()
        try:
            view = memoryview(data)
            while view:
                left = start + SETUP_S + timeout_s - time.monotonic()
                if left <= 0:
                    raise SolutionFault(f"call timed out after {timeout_s:g}s")
                _, writable, _ = select.select([], [self.wfd], [], left)
                if writable:
                    view = view[os.write(self.wfd, view[:65536]) :]
        except (BrokenPipeError, OSError) as exc:
            raise SolutionFault(f"the solution process died ({self.how_died()})") from exc
        if not self.ready:
            first = self._line(start + SETUP_S, lambda: SolutionFault("the solution process did not start"))
            if first != READY:
                raise SolutionFault("the solution process did not start properly")
            self.ready = True
        t0 = time.monotonic()
        try:
            return self._line(t0 + timeout_s, lambda: SolutionFault(f"call timed out after {timeout_s:g}s"))
        finally:
            self.spent = time.monotonic() - t0

    def _line(self, deadline: float, late: Any) -> bytes:
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[: nl + 1]
                return line
            if len(self.buf) > wire.MAX_MESSAGE_BYTES:
                raise SolutionFault("the solution process sent an answer that is too large")
            left = deadline - time.monotonic()
            if left <= 0:
                raise late()
            readable, _, _ = select.select([self.rfd], [], [], left)
            if not readable:
                continue
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise SolutionFault(f"the solution process died ({self.how_died()})")
            self.buf.extend(chunk)

    def how_died(self) -> str:
        code = self.zygote.reap(self.pid, 1.0)
        self.exit_code = code
        if code is None:
            return "it closed its pipe"
        if code == -signal.SIGKILL:
            return "killed by SIGKILL: the memory limit, most likely"
        return f"exit code {code}" if code >= 0 else f"killed by signal {-code}"

    def close(self) -> None:
        """Close our ends of the pipes (the process itself is ended by the zygote)."""
        if self.closed:
            return
        self.closed = True
        for fd in (self.wfd, self.rfd):
            try:
                os.close(fd)
            except OSError:
                pass

    def kill(self) -> None:
        self.close()
        if self.exit_code is None:
            self.exit_code, _ = self.zygote.end(self.pid, sweep=False)


def _mirror(old: Any, new: Any) -> None:
    """Make ``old`` (a list, dict or set the test passed) equal to ``new`` (its state
    after the call, decoded) in place, keeping nested containers' identity where they
    are still of the same kind."""
    mutable = (list, dict, set)
    if type(old) is list:
        for i in range(min(len(old), len(new))):
            if type(old[i]) in mutable and type(old[i]) is type(new[i]):
                _mirror(old[i], new[i])
            else:
                old[i] = new[i]
        del old[len(new):]
        old.extend(new[len(old):])
    elif type(old) is dict:
        for k in [k for k in old if k not in new]:
            del old[k]
        for k, v in new.items():
            if k in old and type(old[k]) in mutable and type(old[k]) is type(v):
                _mirror(old[k], v)
            else:
                old[k] = v
    elif type(old) is set:
        old.clear()
        old.update(new)


class Broker:
    """Starts solution processes on demand (through the zygote) and carries calls and
    lookups to them.

    ``contained`` is true only inside the sandbox: then ending a test also kills every
    process of the untrusted uid (see :func:`procs.sweep`).

    Two clocks bound the solution. ``code_budget_s`` is the job's time: the sum of the
    time its calls and lookups take (its imports, its work, the decoding of its answers);
    the harness's own work (starting and sweeping processes, pytest, the trusted tests'
    own code) is not charged to it, so a big suite of fast tests is not a slow solution.
    ``deadline`` (``time.monotonic()``) is the harness's wall-clock backstop. No call
    starts or runs past either; hitting one sets ``deadline_hit``."""

    def __init__(self, *, zygote: procs.Zygote, solution_dir: str, call_timeout_s: float,
                 contained: bool, deadline: float, solution_modules: tuple[str, ...] = (),
                 code_budget_s: float | None = None) -> None:
        self._zygote = zygote
        self.code_budget_s = code_budget_s if code_budget_s is not None else float("inf")
        #: seconds charged to the solution so far
        self.code_s = 0.0
        self._solution_modules = set(solution_modules)
        self._dir = solution_dir
        self._timeout = call_timeout_s
        self._contained = contained
        self.deadline = deadline
        self._child: _Child | None = None
        #: process groups of this test's solution processes already ended (after a fault):
        #: what is left of them is not a process that outlived its test
        self._ended: set[int] = set()
        #: calls (not lookups) the current child has served
        self._child_calls = 0
        self._dirty = False
        self._described: dict[tuple[str, str], dict[str, Any]] = {}
        #: Faults of the current test; the recorder fails the test when this is not empty.
        self.faults: list[str] = []
        #: Every fault of the run that came from something isolated mode cannot carry.
        self.cannot_cross: list[str] = []
        self.calls = 0
        self.collection_calls = 0
        self.collecting = True
        self.stray_processes = 0
        self.sweep_failed = False
        self.deadline_hit = False

    # -- the pipe ----------------------------------------------------------------------
    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request to this test's solution process; the answer, or a fault."""
        try:
            data = wire.dumps(message)
        except (ValueError, TypeError) as exc:
            return self._fault(f"the request could not be written: {exc}")
        now = time.monotonic()
        if now >= self.deadline:
            self.deadline_hit = True
            return self._fault("the harness's own deadline passed; no more calls")
        if self.code_s >= self.code_budget_s:
            self.deadline_hit = True
            return self._fault(f"the solution has used the job's {self.code_budget_s:g} s; no more calls")
        timeout = min(self._timeout, self.deadline - now, self.code_budget_s - self.code_s)
        self.calls += 1
        if self.collecting and message.get("op") == "call":
            self.collection_calls += 1
        if self._child is None:
            try:
                self._child = _Child(self._zygote, self._dir, self._contained)
            except (OSError, procs.ZygoteError) as exc:
                return self._fault(f"could not start the solution process: {exc}")
            self._child_calls = 0
            self._dirty = True
        if message.get("op") == "call":
            self._child_calls += 1
        child = self._child
        try:
            line = child.request(data, timeout)
        except SolutionFault as exc:
            self.code_s += child.spent
            self._drop_child()
            if time.monotonic() >= self.deadline or self.code_s >= self.code_budget_s:
                self.deadline_hit = True
                return self._fault(f"{exc}: the job's time is up")
            return self._fault(str(exc))
        self.code_s += child.spent
        try:
            answer = wire.loads(line)
            if not isinstance(answer, dict):
                raise wire.WireError("answer is not an object")
        except wire.WireError as err:
            self._drop_child()
            return self._fault(f"the solution process answered with a malformed message: {err}")
        if "fault" in answer:
            self._drop_child()
            text = wire.text(answer["fault"])
            if answer.get("cannot_cross") is True:
                self.cannot_cross.append(text)
            return self._fault(text)
        return answer

    def _decode(self, data: Any) -> Any:
        """Decode part of an answer within a call's worth of time (charged to the solution)."""
        t0 = time.monotonic()
        deadline = min(t0 + self._timeout, max(self.deadline, t0),
                       t0 + max(0.0, self.code_budget_s - self.code_s))
        try:
            return wire.decode(data, deadline)
        except (wire.WireError, RecursionError) as err:
            self._drop_child()
            return self._fault(f"the solution process answered with a value that cannot be used: {err}")
        finally:
            self.code_s += time.monotonic() - t0

    # -- what tests do -----------------------------------------------------------------
    def call(self, module: str, path: tuple[str, ...], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
        try:
            sent_args, sent_kwargs = wire.encode(args), wire.encode(kwargs)
        except (wire.WireError, ValueError, RecursionError) as exc:
            # The test passed something that cannot cross: a suite that needs inprocess.
            text = (f"isolated mode cannot carry the arguments of {module}.{'.'.join(path)} "
                    f"({exc}); use mode='inprocess'")
            self.cannot_cross.append(text)
            return self._fault(text)
        answer = self._ask({"op": "call", "module": module, "path": list(path),
                            "args": sent_args, "kwargs": sent_kwargs})
        for key, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            printed = answer.get(key)
            if isinstance(printed, str):
                stream.write(printed)
        after = answer.get("after")
        if isinstance(after, dict):
            self._apply_after(after, args, kwargs, sent_args["v"], sent_kwargs["v"])
        if answer.get("ok") is True:
            return self._decode(answer.get("value"))
        if answer.get("ok") is False:
            deadline = time.monotonic() + self._timeout
            try:
                exc = wire.decode_exception(answer.get("exc"), deadline)
            except wire.DecodeDeadline as err:
                self._drop_child()
                return self._fault(str(err))
            raise exc
        self._drop_child()
        return self._fault("the solution process answered with a malformed message: no verdict")

    def _apply_after(self, after: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                     sent_args: list[Any], sent_kwargs: list[Any]) -> None:
        sent_kw = {k: v for k, v in sent_kwargs} if all(type(p) is list and len(p) == 2 for p in sent_kwargs) else {}
        for key, state in after.items():
            if key.isdigit() and int(key) < len(args):
                target, before = args[int(key)], sent_args[int(key)]
            elif key in kwargs:
                target, before = kwargs[key], sent_kw.get(key)
            else:
                continue
            if state != before and type(target) in (list, dict, set):
                new = self._decode(state)
                if type(new) is type(target):
                    _mirror(target, new)

    def describe(self, module: str, name: str) -> Any:
        """What ``module.name`` is in the solution's process (see :class:`SolutionModule`)."""
        key = (module, name)
        if key not in self._described:
            try:
                self._described[key] = self._ask({"op": "describe", "module": module, "name": name})
            except SolutionFault:
                # The module could not be imported, or its process died: the calls will
                # fail with the reason when a test makes them.
                self.faults = []
                return RemoteCallable(self, module, (name,))
        found = self._described[key]
        kind = found.get("kind")
        if kind == "value":
            if self.collecting:
                self.collection_calls += 1  # a value could shape what is collected
            return self._decode(found.get("value"))
        if kind == "module" and isinstance(found.get("name"), str):
            # A library the solution imported (``import numpy as np`` met by ``import *``):
            # the trusted process's own copy, if it has one; it never imports on the
            # solution's say-so.
            same = sys.modules.get(found["name"])
            if same is not None and found["name"] not in self._solution_modules:
                return same
        if kind == "missing":
            raise AttributeError(f"the solution module {module!r} has no attribute {name!r}")
        if kind == "object":
            text = (f"isolated mode cannot carry {module}.{name} (a {wire.text(found.get('type'), 200)} "
                    "object); use mode='inprocess'")
            self.cannot_cross.append(text)
            return _Uncarried(text)
        return RemoteCallable(self, module, (name,))

    def names(self, module: str) -> list[str]:
        try:
            found = self._ask({"op": "names", "module": module})
        except SolutionFault:
            self.faults = []
            return []
        names = found.get("names")
        return [n for n in names if isinstance(n, str) and n.isidentifier()] if isinstance(names, list) else []

    def _fault(self, text: str) -> Any:
        self.faults.append(text)
        raise SolutionFault(text)

    def _drop_child(self) -> None:
        if self._child is not None:
            self._ended.add(self._child.pid)
            self._child.kill()
            self._child = None

    def end_collection(self) -> None:
        """Collection is over. A solution process that only answered lookups (``from
        solution import f``) has done nothing but import the solution, as the first
        test's process would: it serves that test. One that was called is not fresh, and
        goes."""
        self.collecting = False
        if self._child is None or self._child_calls:
            self.end_test()
        self.faults = []

    def end_test(self) -> None:
        """Kill the current solution process and, if any ran since the last sweep, every
        process of the untrusted uid (one round trip to the zygote)."""
        child, self._child = self._child, None
        if self._contained and self._dirty:
            pid = None
            if child is not None:
                child.close()
                pid = None if child.exit_code is not None else child.pid
            seen, gone = procs.sweep(self._zygote, pid=pid, groups=frozenset(self._ended))
            self.stray_processes += seen
            self.sweep_failed = self.sweep_failed or not gone
        elif child is not None:
            child.kill()
        self._ended.clear()
        self._dirty = False
        self.faults = []


class _Uncarried:
    """Stands for a solution attribute that cannot cross: using it raises an ordinary
    error that says why (ordinary, so that pytest's own probing of module globals during
    collection goes on; the broker has already counted it for the ``needs_inprocess``
    flag)."""

    def __init__(self, text: str) -> None:
        object.__setattr__(self, "_text", text)

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise TypeError(object.__getattribute__(self, "_text"))

    __call__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __iter__ = __len__ = _fail
    __getitem__ = __contains__ = __add__ = __radd__ = _fail
    __hash__ = object.__hash__

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(object.__getattribute__(self, "_text"))

    def __repr__(self) -> str:
        return f"<not carried: {object.__getattribute__(self, '_text')}>"


class RemoteCallable:
    """Stands for ``module.path`` in the solution's process; calling it makes the call there."""

    __slots__ = ("_broker", "_module", "_path")

    def __init__(self, broker: Broker, module: str, path: tuple[str, ...]) -> None:
        object.__setattr__(self, "_broker", broker)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str) -> RemoteCallable:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteCallable(self._broker, self._module, (*self._path, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._broker.call(self._module, self._path, args, kwargs)

    def __repr__(self) -> str:
        return f"<remote {self._module}.{'.'.join(self._path)}>"


class SolutionModule(types.ModuleType):
    """A module whose attributes live in the solution's process (see the module doc)."""

    def __init__(self, name: str, broker: Broker) -> None:
        super().__init__(name, f"the solution module {name!r}, served from another process")
        self.__dict__["_broker"] = broker

    def __getattr__(self, name: str) -> Any:
        broker: Broker = self.__dict__["_broker"]
        if name == "__all__":
            return broker.names(self.__name__)
        if name.startswith("__"):
            raise AttributeError(name)
        return broker.describe(self.__name__, name)


def install(broker: Broker, module_names: list[str]) -> None:
    """Serve each of ``module_names`` from the solution's process."""
    for name in module_names:
        sys.modules[name] = SolutionModule(name, broker)
