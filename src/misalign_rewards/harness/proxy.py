"""The trusted side of ``isolated`` mode: solution modules that live in another process.

``install(broker, names)`` puts a :class:`SolutionModule` into ``sys.modules`` for each
solution module name, so ``from solution import f`` in a test gives a
:class:`RemoteCallable`. Calling it sends the arguments over a pipe to a child process
(``python -I`` running :mod:`child`), which imports the real solution and answers. Values
cross through :mod:`wire`; exceptions come back as builtin exceptions.

Whatever goes wrong on the child's side (it died, hung past the per-call deadline, sent
something that cannot cross, failed to import) raises :class:`SolutionFault`, a
``BaseException``: ``pytest.raises(Exception)`` cannot swallow it, and the trusted
recorder fails the test whatever the test did with it.

One child serves one test; :meth:`Broker.end_test` kills its whole process group (and,
inside the sandbox, every other process of the sandbox user) before the next test.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import types
from typing import Any

from . import procs, wire


class SolutionFault(BaseException):
    """The solution's process failed a call (died, hung, or answered what cannot cross)."""


def child_program(harness_dir: str) -> str:
    """The ``-c`` program of a solution process: :mod:`wire` and :mod:`child` inlined, so
    the child reads no harness file that the solution could have rewritten meanwhile."""
    with open(os.path.join(harness_dir, "wire.py"), encoding="utf-8") as f:
        wire_src = f.read()
    with open(os.path.join(harness_dir, "child.py"), encoding="utf-8") as f:
        child_src = f.read()
    return (
        "import sys, types\n"
        "def _load(name, src):\n"
        "    m = types.ModuleType(name)\n"
        "    exec(compile(src, '<' + name + '>', 'exec'), m.__dict__)\n"
        "    return m\n"
        f"_wire = _load('_harness_wire', {wire_src!r})\n"
        f"_child = _load('_harness_child', {child_src!r})\n"
        "del _load\n"
        "_child.serve(_wire, sys.argv[1])\n"
    )


class _Child:
    def __init__(self, argv: list[str], cwd: str) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
            start_new_session=True,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        self.buf = bytearray()

    def request(self, data: bytes, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        try:
            view = memoryview(data)
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SolutionFault(f"call timed out after {timeout_s:g}s")
                _, writable, _ = select.select([], [self.wfd], [], left)
                if writable:
                    view = view[os.write(self.wfd, view[:65536]) :]
        except (BrokenPipeError, OSError) as exc:
            raise SolutionFault(f"the solution process died ({self._how_died()})") from exc
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
                raise SolutionFault(f"call timed out after {timeout_s:g}s")
            readable, _, _ = select.select([self.rfd], [], [], left)
            if not readable:
                continue
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise SolutionFault(f"the solution process died ({self._how_died()})")
            self.buf.extend(chunk)

    def _how_died(self) -> str:
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "it closed its pipe"
        return f"exit code {code}" if code >= 0 else f"killed by signal {-code}"

    def kill(self) -> None:
        procs.kill_group(self.proc.pid)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass


class Broker:
    """Starts solution processes on demand and carries calls to them.

    ``contained`` is true only inside the sandbox: then ending a test also kills every
    other process of the sandbox user (see :func:`procs.sweep`)."""

    def __init__(
        self,
        *,
        python: str,
        harness_dir: str,
        solution_dir: str,
        call_timeout_s: float,
        contained: bool,
    ) -> None:
        self._argv = [python, "-I", "-B", "-X", f"pycache_prefix={procs.pycache_prefix()}",
                      "-c", child_program(harness_dir), solution_dir]
        self._cwd = solution_dir
        self._timeout = call_timeout_s
        self._contained = contained
        self._child: _Child | None = None
        #: Faults of the current test; the recorder fails the test when this is not empty.
        self.faults: list[str] = []
        self.calls = 0
        self.stray_processes = 0
        self.sweep_failed = False

    def call(self, module: str, path: tuple[str, ...], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
        try:
            message = {"op": "call", "module": module, "path": list(path),
                       "args": wire.encode(args), "kwargs": wire.encode(kwargs)}
            data = wire.dumps(message)
        except (wire.WireError, ValueError, RecursionError) as exc:
            # The test passed something that cannot cross: a problem of the suite, not
            # the solution, but the call still cannot be made.
            return self._fault(f"arguments cannot cross the process boundary: {exc}")
        self.calls += 1
        if self._child is None:
            try:
                self._child = _Child(self._argv, self._cwd)
            except OSError as exc:
                return self._fault(f"could not start the solution process: {exc}")
        try:
            line = self._child.request(data, self._timeout)
        except SolutionFault as exc:
            self._drop_child()
            return self._fault(str(exc))
        try:
            answer = wire.loads(line)
            if not isinstance(answer, dict):
                raise wire.WireError("answer is not an object")
            if "fault" in answer:
                self._drop_child()
                return self._fault(str(answer["fault"])[:2000])
            if answer.get("ok") is True:
                return wire.decode(answer.get("value"))
            if answer.get("ok") is False:
                exc = wire.decode_exception(answer.get("exc"))
            else:
                raise wire.WireError("answer has no verdict")
        except (wire.WireError, RecursionError) as err:
            self._drop_child()
            return self._fault(f"the solution process answered with a malformed message: {err}")
        raise exc

    def _fault(self, text: str) -> Any:
        self.faults.append(text)
        raise SolutionFault(text)

    def _drop_child(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child = None

    def end_test(self) -> None:
        """Kill the current solution process and anything it left behind."""
        self._drop_child()
        if self._contained:
            seen, gone = procs.sweep()
            self.stray_processes += seen
            self.sweep_failed = self.sweep_failed or not gone
        self.faults = []


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
    """A module whose attributes are :class:`RemoteCallable` objects."""

    def __init__(self, name: str, broker: Broker) -> None:
        super().__init__(name, f"the solution module {name!r}, served from another process")
        self.__dict__["_broker"] = broker

    def __getattr__(self, name: str) -> RemoteCallable:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteCallable(self.__dict__["_broker"], self.__name__, (name,))


def install(broker: Broker, module_names: list[str]) -> None:
    """Serve each of ``module_names`` from the solution's process."""
    for name in module_names:
        sys.modules[name] = SolutionModule(name, broker)
