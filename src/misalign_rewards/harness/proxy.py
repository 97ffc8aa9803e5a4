"""The trusted side of ``isolated`` mode: solution modules that live in another process.

``install(broker, names)`` puts a :class:`handles.SolutionModule` into ``sys.modules`` for
each solution module name, so ``from solution import f`` in a test asks the solution's
process what ``f`` is: data arrives as itself, anything else as a handle
(:mod:`handles`). The :class:`Broker` carries every operation on a handle to the process
that holds the object and brings back the answer.

Processes (all of the untrusted uid, started through the zygote):

- the *template* imports the solution once per job (import-time work is charged once, as
  in plain pytest) and answers what test modules ask while pytest collects them;
- each test gets a *test child*, a fork of the template in a session of its own. When the
  test ends, the child becomes the template the next test forks from (module state
  carries from test to test, as in plain pytest), and every other process of the
  untrusted uid is killed (:meth:`zygote.Zygote.end_test`); a child that faulted is
  dropped instead, and the next test forks from the state before it. When the sweep
  cannot spare the template (a process that keeps forking outruns it), the template goes
  too and the next test imports the solution again.

Handles name objects by a number in the table of the process that made them; a process
holds its own objects and those of every process it was forked from (its *chain*). A
handle whose process is no longer in the chain (its test's process died) cannot be used:
the test that tries fails with the ``needs_inprocess`` reason.

Trusted objects never cross. A test's callable (a lambda, a key function, a bound method,
a mock), a trusted text stream or a trusted iterator given to the solution becomes a
number in this side's table; the solution can only ask for it to be *called* (or read,
or advanced) while a call it is part of is in flight, and this side then runs it here,
with the arguments as data and handles. Plain lists, dicts and sets passed in and changed
in place are changed here too, as they would be in plain Python.

Whatever goes wrong on the child's side (it died, hung past the per-call deadline, sent
something that cannot be decoded, failed to import) raises :class:`SolutionFault`, a
``BaseException``: ``pytest.raises(Exception)`` cannot swallow it, and the trusted recorder
fails the test whatever the test did with it.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import array
import binascii
import builtins
import collections
import contextlib
import dataclasses
import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import io
import logging
import os
import random
import select
import socket
import struct
import sys
import threading
import time
import types
import warnings
from collections.abc import Set as AbstractSet
from typing import Any

from . import handles, processes, wire
from .handles import Handle
from .privileges import UNTRUSTED_ENV, untrusted_uid
from .zygote import Zygote, ZygoteError

#: The environment of a solution process.
CHILD_ENV = dict(UNTRUSTED_ENV)
#: Seconds a new solution process may take to say it is ready (not charged to the solution).
SETUP_S = 10.0
#: Nested requests between the two sides (callback -> call -> callback ...).
MAX_NESTING = 30
#: How many of the solution modules' containers a job's tests may hold live (:meth:`Broker._track`).
MAX_LIVE = 64
#: Environment variables of the trusted process that never reach the solution.
_PRIVATE_ENV = ("PYTEST_", "TMPDIR", "HOME")


#: A template's answer to a fork request when it runs threads of its own (threads started
#: by the solution, a worker thread fed by a queue, say): a fork keeps only the thread that
#: forks, so the test would find the solution's workers gone where plain pytest's one
#: process still has them. The template then serves the job's tests itself.
IN_PLACE_REPLY = wire.dumps({"forked": False, "threads": True}).rstrip(b"\n")


class SolutionFault(BaseException):
    """The solution's process failed a call (died, hung, or answered what cannot cross)."""


class _Died(SolutionFault):
    """The solution's process went away in the middle of a request."""


class _TooLarge(SolutionFault):
    """The solution's process sent a message past :data:`wire.MAX_MESSAGE_BYTES`."""


class _Stale(wire.WireError):
    """A handle from a process that is gone."""


class _Proc:
    """One untrusted process, reached over a stream socket."""

    def __init__(self, sock: socket.socket, pid: int | None, scope: tuple[str, int],
                 chain: tuple[tuple[int, Any], ...] = ()) -> None:
        self.sock = sock
        self.pid = pid
        self.scope = scope
        #: whose objects this process holds: (first handle number, scope) of itself and of
        #: every process it was forked from, oldest first
        self.chain = chain or ((0, scope),)
        #: scopes in the chain, for a quick membership test
        self.scopes = frozenset(sc for _, sc in self.chain)
        self.buf = bytearray()
        self.ready = False
        self.exit_code: int | None = None
        self.spent = 0.0
        #: the last context sent to it (see :meth:`Broker._context`)
        self.ctx: Any = None

    def send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SolutionFault("the solution process does not read its requests")
            _, writable, _ = select.select([], [self.sock], [], left)
            if writable:
                try:
                    view = view[self.sock.send(view[:65536]):]
                except (BrokenPipeError, ConnectionResetError, OSError) as exc:
                    raise _Died(f"the solution process died ({exc})") from exc

    def line(self, deadline: float, late: str, *, creds: bool = False) -> bytes:
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[: nl + 1]
                return line
            if len(self.buf) > wire.MAX_MESSAGE_BYTES:
                raise _TooLarge("the solution process sent an answer that is too large")
            left = deadline - time.monotonic()
            if left <= 0:
                raise SolutionFault(late)
            readable, _, _ = select.select([self.sock], [], [], left)
            if not readable:
                continue
            try:
                if creds:
                    chunk, anc, _, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(12))
                    for level, kind, data in anc:
                        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= 12:
                            pid = struct.unpack("3i", data[:12])[0]
                            self.pid = pid if pid > 1 else None
                    creds = False
                else:
                    chunk = self.sock.recv(1 << 20)
            except OSError as exc:
                raise _Died(f"the solution process died ({exc})") from exc
            if not chunk:
                raise _Died("the solution process died")
            self.buf.extend(chunk)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _mirrorable(value: Any) -> bool:
    t = type(value)
    return t in (list, dict, set, bytearray) or (
        t.__module__ == "collections" and t.__name__ in ("deque", "Counter", "OrderedDict", "defaultdict")) or (
        t.__module__ == "numpy" and t.__name__ == "ndarray")


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
    elif type(old) is bytearray:
        old[:] = new
    elif isinstance(old, dict):  # Counter, OrderedDict, defaultdict
        old.clear()
        old.update(new)
    elif hasattr(old, "extend"):  # deque
        old.clear()
        old.extend(new)
    elif type(old).__module__ == "numpy":  # an array changed in place: same shape and type only
        if old.shape == new.shape and old.dtype == new.dtype and old.flags.writeable:
            old[...] = new


def _defeats(before: Any, after: Any, returned: Any) -> bool:
    """Whether a call that returned the container ``returned`` changed an argument from
    ``before`` to ``after`` in a way that only serves to defeat a test computing its
    expected value from the argument: emptied or flattened while returning (almost)
    nothing, or given contents it did not hold before while returning exactly them.
    Reordering (an in-place sort) and removing elements are what honest in-place
    functions do."""
    if _collapsed(before, after) and len(returned) <= 1:
        return True
    try:
        if returned != after and not (type(after) is list and list(returned) == after):
            return False
        if type(before) is list:
            new, left = _replaced(before, after)
            # replaced (new values in, old ones gone); a pure extension is an honest
            # accumulator, a pure shrink an honest filter unless nothing is left of it
            return (new and left) or _collapsed(before, after)
        if type(before) in (set, dict):
            gained, lost = set(after) - set(before), set(before) - set(after)
            return bool(gained and lost) or _collapsed(before, after)
    except Exception:  # noqa: BLE001 - values that cannot be compared: not this check's business
        return False
    return False


def _replaced(before: list[Any], after: list[Any]) -> tuple[bool, bool]:
    """Whether ``after`` holds a value ``before`` did not (counted with repeats), and
    whether some of ``before`` is not in ``after``: by counting where the values can be
    hashed, else one by one (a list of lists; at most a few thousand)."""
    try:
        pool = collections.Counter(before)
        new = False
        for x in after:
            if pool[x] > 0:
                pool[x] -= 1
            else:
                new = True
        return new, any(n > 0 for n in pool.values())
    except TypeError:
        if len(before) * len(after) > 4_000_000:
            return False, False
        rest = list(before)
        new = False
        for x in after:
            if x in rest:
                rest.remove(x)
            else:
                new = True
        return new, bool(rest)


def _defeats_array(before: Any, after: Any, returned: Any) -> bool:
    """:func:`_defeats` for a numpy array argument changed in place (its values in
    order), when the call returned an array or a list or tuple."""
    if type(returned).__module__ == "numpy" and hasattr(returned, "ravel"):
        shown = returned.ravel().tolist()
    elif type(returned) in (list, tuple):
        shown = list(returned)
    else:
        return False
    if before.size > 1_000_000 or before.ndim == 0:
        return False
    return _defeats(before.ravel().tolist(), after.ravel().tolist(), shown)


def _collapsed(before: Any, after: Any) -> bool:
    """Whether an argument went from holding different things to holding (almost)
    nothing: emptied, cut to one element, or every element made the same."""
    if len(before) < 2:
        return False
    if type(before) is list:
        try:
            distinct_before = len({repr(x) for x in before}) > 1
            same_after = len({repr(x) for x in after}) <= 1
        except Exception:  # noqa: BLE001 - a repr that fails: not this check's business
            return False
        return distinct_before and same_after
    return len(after) <= 1


class Broker:
    """Starts solution processes on demand (through the zygote) and carries requests to
    them (see the module doc).

    ``contained`` is true only inside the sandbox: then ending a test also kills every
    process of the untrusted uid but the template (see :meth:`zygote.Zygote.sweep`).

    Two clocks bound the solution. ``code_budget_s`` is the job's time: the sum of the
    time its processes take to answer (its imports, its work, the decoding of its
    answers); the harness's own work (starting and sweeping processes, pytest, the
    trusted tests' own code, callbacks) is not charged to it. ``deadline``
    (``time.monotonic()``) is the harness's wall-clock backstop. No request starts or
    runs past either; hitting one sets ``deadline_hit``."""

    def __init__(self, *, zygote: Zygote, solution_dir: str, call_timeout_s: float, tests_dir: str | None = None,
                 contained: bool, deadline: float, solution_modules: tuple[str, ...] = (),
                 code_budget_s: float | None = None, fresh_per_test: bool = False) -> None:
        self._zygote = zygote
        #: every test imports the solution afresh and nothing of it outlives the test (io
        #: jobs: no state may pass from one case to the next)
        self._fresh_per_test = fresh_per_test
        self.code_budget_s = code_budget_s if code_budget_s is not None else float("inf")
        #: seconds charged to the solution so far
        self.code_s = 0.0
        self._solution_modules = set(solution_modules)
        self._dir = solution_dir
        #: the tests' folder (runpy.run_path of a solution file "beside" them)
        self._tests_dir: str | None = tests_dir
        #: the folders the tests' process may run code from, each ending in a separator
        #: (set by the harness: isolated.TrustedSources); none: no file is run
        self.trusted_roots: tuple[str, ...] = ()
        self._timeout = call_timeout_s
        self._contained = contained
        self.deadline = deadline
        self._template: _Proc | None = None
        self._gen = 0
        self._child: _Proc | None = None
        self._child_no = 0
        #: process groups of this test's solution processes already ended (after a fault)
        self._ended: set[int] = set()
        self._dirty = False
        self._depth = 0
        #: (scope, n) -> handle; one handle per remote object, so ``is`` works
        self._handles: dict[tuple[Any, int], Handle] = {}
        #: class key -> mirror class (path keys for the whole job, others per scope)
        self._mirrors: dict[Any, type] = {}
        #: trusted objects the solution may call back: tid -> (scope, object)
        self._trusted: dict[int, tuple[Any, Any]] = {}
        self._trusted_ids: dict[tuple[Any, int], int] = {}
        self._next_tid = 1
        self._raised: dict[int, BaseException] = {}
        self._abort: BaseException | None = None
        self._env0 = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV)}
        self._root_level0 = logging.getLogger().getEffectiveLevel()
        #: the decimal context's settings as the tests' thread starts (None: no decimal yet)
        self._decimal0 = _decimal_settings()
        #: os.environ's table when _context last looked, and the change it found then
        self._env_raw: dict[bytes, bytes] | None = None
        self._env_changed: list[Any] | None = None
        self._cwd0 = os.getcwd()
        self._input0 = builtins.input
        self._open0 = builtins.open
        self._stdin0 = sys.stdin
        self._enc = wire.Encoder(self._encode_trusted)
        #: the test's plain objects a call's arguments hold, while they are encoded
        #: (id -> (number, object)): see _record_table
        self._records: dict[int, tuple[int, Any]] | None = None
        self._record_order: list[tuple[int, Any]] = []
        #: held while a request (and the callbacks it serves) is in flight: see _turn
        self._lock = threading.Lock()
        self._holder: int | None = None
        #: threads that run a test's coroutine for the holder (see _complete)
        self._delegates: set[int] = set()
        #: bumped when a test ends with one of its threads stuck holding the broker (end_test)
        self._generation = 0
        self._tls = threading.local()
        #: the solution modules' containers the tests hold ("module:name" -> [the test's
        #: object, its encoding when last in step with the solution's, [version, state the
        #: test gave it or None]]): see :meth:`_track`
        self._live: dict[str, list[Any]] = {}
        #: what the current test did that may fail it where plain pytest passes (_doubt)
        self._doubts: list[str] = []
        #: solution modules the current test has imported (imported_in_test)
        self._imported_in_test: set[str] = set()
        #: the scope of the solution object whose attribute a live container is ("attr:..." keys)
        self._live_scopes: dict[str, Any] = {}
        self._oom_seen = processes.oom_kills()
        #: Faults of the current test; the recorder fails the test when this is not empty.
        self.faults: list[str] = []
        #: Every fault of the run that came from something isolated mode cannot carry.
        self.cannot_cross: list[str] = []
        #: What the solution did that only serves to defeat a test (rejecting flags).
        self.gaming: list[str] = []
        self.calls = 0
        self.collection_calls = 0
        self.collecting = True
        self.stray_processes = 0
        self.sweep_failed = False
        self.deadline_hit = False
        self.template_starts = 0
        self._last = False
        #: the template serves every test itself (it runs threads: see _current)
        self._in_place = False
        self._probing = 0
        #: pids of templates this run killed (still exiting, they are no strays)
        self._gone: set[int] = set()
        #: a test's subclass of a solution class -> that subclass in the solution's process
        self._subclasses: dict[type, tuple[Any, int]] = {}
        #: generators of the solution's, as handed to the test: id -> (generator, handle)
        self._generators: dict[int, tuple[Any, Handle]] = {}

    # -- processes ---------------------------------------------------------------------
    def _spawn_template(self) -> _Proc:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = self._zygote.spawn("template", cwd=self._dir, env=dict(CHILD_ENV),
                                     args={"solution_dir": self._dir}, fds=[theirs.fileno()],
                                     contained=self._contained)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._gen += 1
        self.template_starts += 1
        self._dirty = True
        proc = _Proc(ours, pid, ("g", self._gen))
        self._await_ready(proc)
        return proc

    def _await_ready(self, proc: _Proc, *, creds: bool = False) -> int:
        """Wait for a new process's first message; returns the first handle number it
        will give out (a fork continues its parent's numbering)."""
        first = proc.line(time.monotonic() + SETUP_S, "the solution process did not start", creds=creds)
        try:
            hello = wire.loads(first)
        except wire.WireError:
            hello = None
        if not isinstance(hello, dict) or hello.get("ready") is not True:
            raise SolutionFault("the solution process did not start properly")
        proc.ready = True
        base = hello.get("base", 0)
        return base if type(base) is int and base >= 0 else 0

    def _fork_child(self, template: _Proc) -> _Proc | None:
        """A test's child, forked from ``template``; None if the template serves the test
        itself (it runs threads of its own: :data:`IN_PLACE_REPLY`)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Before anything is sent on it: the kernel then tells us who sent each message,
        # so the child's pid comes from the kernel, not from the child.
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            socket.send_fds(template.sock, [wire.dumps({"op": "fork"})], [theirs.fileno()])
        except OSError as exc:
            ours.close()
            raise SolutionFault(f"the solution's template process died ({exc})") from exc
        finally:
            theirs.close()
        self._child_no += 1
        child = _Proc(ours, None, ("c", self._child_no))
        child.ctx = template.ctx
        try:
            reply = template.line(time.monotonic() + SETUP_S, "the template did not fork")
            if reply == IN_PLACE_REPLY:
                child.close()
                return None
            if reply != b'{"forked":true}':
                raise SolutionFault("the template did not fork properly")
            base = self._await_ready(child, creds=True)
        except BaseException:
            child.close()
            raise
        child.chain = template.chain + ((base, child.scope),)
        child.scopes = frozenset(sc for _, sc in child.chain)
        return child

    def _current(self) -> _Proc:
        """The process requests go to now: the template while collecting, else this
        test's child (forked from the template on first use)."""
        if self._template is None:
            try:
                self._template = self._spawn_template()
            except (OSError, ZygoteError) as exc:
                self._template = None
                return self.fault(f"could not start the solution process: {exc}")
            except SolutionFault as exc:
                self._drop_template()
                return self.fault(str(exc))
        if self.collecting or self._last:
            # The last test needs no fork: no later test needs the template untouched.
            return self._template
        if self._in_place:
            self._dirty = True
            return self._template
        if self._child is None:
            try:
                child = self._fork_child(self._template)
            except SolutionFault as exc:
                self._drop_template()
                return self.fault(str(exc))
            self._dirty = True
            if child is None:
                # The solution's process runs threads of its own, which a fork would leave
                # behind: it serves this job's tests itself from now on, one after the
                # other, as plain pytest's one process does.
                self._in_place = True
                return self._template
            self._child = child
        return self._child

    def _drop_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.close()
            if child.pid is not None:
                self._ended.add(child.pid)
                if self._contained:
                    self._zygote.end(child.pid, sweep=False)

    def _drop_template(self) -> None:
        self._drop_child()
        template, self._template = self._template, None
        if template is not None:
            template.close()
            if template.pid is not None:
                self._ended.add(template.pid)
                self._zygote.end(template.pid, sweep=False)

    # -- requests ----------------------------------------------------------------------
    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request to the current process and return its answer, serving the
        callbacks it makes meanwhile. Faults raise :class:`SolutionFault`. One request
        (with its callbacks, which may make requests of their own) at a time: a test's
        threads that call the solution at once wait their turn, as each answer must reach
        the thread that asked."""
        with self._turn():
            return self._request_in_turn(message)

    @contextlib.contextmanager
    def _turn(self) -> Any:
        """Hold the broker for the current thread: at once for the thread that holds it
        (a callback's own requests) and for the threads it waits on to run a test's
        coroutine (:func:`_complete`); other threads wait."""
        me = threading.get_ident()
        if self._holder == me or me in self._delegates:
            yield
            return
        lock = self._lock
        if not lock.acquire(timeout=max(self._timeout, 1.0)):
            text = ("another of the test's threads held the solution's process longer than a call "
                    "may take (a call of the solution's waiting in a callback on this thread, say); "
                    "threads that wait on each other across calls cannot be carried; a suite that "
                    "needs that must use mode='inprocess'")
            self._cannot_carry(text)
            self.fault(text)
        self._holder = me
        self._tls.generation = self._generation
        try:
            yield
        finally:
            if self._lock is lock:
                self._holder = None
            lock.release()

    def _request_in_turn(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._depth >= MAX_NESTING:
            return self.fault(f"calls between the tests and the solution nested more than {MAX_NESTING} deep")
        now = time.monotonic()
        if now >= self.deadline:
            self.deadline_hit = True
            return self.fault("the harness's own deadline passed; no more calls")
        if self.code_s >= self.code_budget_s:
            self.deadline_hit = True
            return self.fault(f"the solution has used the job's {self.code_budget_s:g} s; no more calls")
        proc = self._current()
        ctx = self._context()
        changed = ctx != proc.ctx
        if changed:
            message["ctx"] = ctx
        try:
            data = wire.dumps(message)
        except (ValueError, TypeError) as exc:
            return self.fault(f"the request could not be written: {exc}")
        if changed:  # only once it is written: a context that could not be is sent again
            proc.ctx = ctx
        self.calls += 1
        if self.collecting and message.get("op") in ("call", "callattr", "do", "set"):
            self.collection_calls += 1
        self._depth += 1
        try:
            return self._exchange(proc, data)
        finally:
            self._depth -= 1

    def _exchange(self, proc: _Proc, data: bytes) -> dict[str, Any]:
        timeout = min(self._timeout, self.deadline - time.monotonic(), self.code_budget_s - self.code_s)
        t0 = time.monotonic()
        spent = 0.0
        try:
            proc.send(data, t0 + SETUP_S + timeout)
            while True:
                waited = time.monotonic()
                try:
                    line = proc.line(waited + max(0.0, timeout - spent), f"call timed out after {self._timeout:g}s")
                finally:
                    spent += time.monotonic() - waited
                try:
                    answer = wire.loads(line)
                    if not isinstance(answer, dict):
                        raise wire.WireError("answer is not an object")
                except wire.WireError as err:
                    raise SolutionFault(f"the solution process answered with a malformed message: {err}") from None
                self._echo(answer)
                if "live" in answer:
                    self._take_live(answer["live"])
                if "cb" not in answer:
                    break
                reply = self._serve_callback(answer)
                if self._live:
                    # what the callback did to the containers the tests hold live (a test
                    # subclass's hook appending to ``self.log``), before the solution goes on
                    reply["live"] = self._live_state()
                proc.send(wire.dumps(reply), time.monotonic() + SETUP_S)
        except SolutionFault as exc:
            self.code_s += spent
            self._lose(proc)
            if isinstance(exc, _TooLarge):
                # honest code returns a large array or text; plain pytest takes it
                self._cannot_carry(f"an answer of the solution's over {wire.MAX_MESSAGE_BYTES >> 20} MiB (isolated "
                                   "mode carries at most that much a call); a suite that needs it must use "
                                   "mode='inprocess'")
            if isinstance(exc, _Died):
                oom = processes.oom_kills()
                if oom is not None and self._oom_seen is not None and oom > self._oom_seen:
                    self._oom_seen = oom
                    exc = _Died("the solution process died (killed by SIGKILL: the memory limit, most likely)")
            if time.monotonic() >= self.deadline or self.code_s >= self.code_budget_s:
                self.deadline_hit = True
                return self.fault(f"{exc}: the job's time is up")
            return self.fault(str(exc))
        self.code_s += spent
        if "fault" in answer:
            self._lose(proc)
            text = wire.text(answer["fault"])
            if answer.get("cannot_cross") is True:
                self.cannot_cross.append(text)
            return self.fault(text)
        if self._abort is not None and self._depth <= 1:
            # A callback ended with something that must end the test (pytest.fail, a
            # skip, a failed assertion): it does, whatever the solution did with it.
            abort, self._abort = self._abort, None
            raise abort
        if isinstance(answer.get("suspect"), str):
            self.gaming.append("eq: " + wire.text(answer["suspect"], 300))
        return answer

    def _lose(self, proc: _Proc) -> None:
        if proc is self._child:
            self._drop_child()
        elif proc is self._template:
            self._drop_template()

    def _echo(self, answer: dict[str, Any]) -> None:
        """What the solution printed and logged, replayed here (``capsys``, ``caplog``)."""
        for key, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            printed = answer.get(key)
            if isinstance(printed, str):
                stream.write(printed)
        if answer.get("cut") is True:
            self._cannot_carry("the solution printed more than isolated mode carries from one call "
                               "(1 MiB of text a stream; the rest was cut); a suite that needs all of "
                               "it must use mode='inprocess'")
        left = answer.get("left")
        if isinstance(left, list):
            for what in left[:3]:
                if what in _PROCESS_STATE:
                    self._doubt(
                        f"a call of the solution's {_PROCESS_STATE[what]}; a suite that needs it must use "
                        "mode='inprocess'")
        issued = answer.get("warnings")
        if isinstance(issued, list):
            for w in issued[:100]:
                if not (isinstance(w, list) and len(w) == 4 and isinstance(w[1], str)):
                    continue
                try:
                    category = self._mirror(w[0])
                except wire.WireError:
                    category = UserWarning
                if not (isinstance(category, type) and issubclass(category, Warning)):
                    category = UserWarning
                warnings.warn_explicit(w[1], category, w[2] if isinstance(w[2], str) else "solution",
                                       w[3] if type(w[3]) is int else 0)
        records = answer.get("logs")
        if isinstance(records, list):
            for rec in records[:1000]:
                if (isinstance(rec, list) and len(rec) == 3 and isinstance(rec[0], str)
                        and type(rec[1]) is int and isinstance(rec[2], str)):
                    logger = logging.getLogger(rec[0] or None)
                    if logger.isEnabledFor(rec[1]):
                        logger.handle(logging.makeLogRecord(
                            {"name": logger.name, "levelno": rec[1], "levelname": logging.getLevelName(rec[1]),
                             "msg": rec[2], "args": None}))

    def _context(self) -> dict[str, Any]:
        """What the test changed in its own process that the solution would see in plain
        pytest (see :meth:`isolated_child.Server.apply_context`)."""
        ctx: dict[str, Any] = {}
        # os.environ's own table, compared first: decoding every variable for each request
        # cost more than the rest of this
        raw = getattr(os.environ, "_data", None)
        if raw is None or raw != self._env_raw:
            env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV)}
            changed = None
            if env != self._env0:
                changed = [{k: v for k, v in env.items() if self._env0.get(k) != v},
                           sorted(k for k in self._env0 if k not in env)]
            self._env_raw, self._env_changed = (dict(raw) if raw is not None else None), changed
        if self._env_changed is not None:
            ctx["env"] = self._env_changed
        try:
            cwd = os.getcwd()
        except OSError:  # the folder was removed under the tests: the solution keeps its own
            cwd = self._cwd0
        if cwd != self._cwd0:
            ctx["cwd"] = cwd
        if builtins.input is not self._input0:
            ctx["input"] = self._tid(builtins.input)
        if builtins.open is not self._open0:
            ctx["open"] = self._tid(builtins.open)  # mock_open patched over builtins.open
        stdin = sys.stdin
        if stdin is not self._stdin0 and isinstance(stdin, io.IOBase):
            ctx["stdin"] = self._tid(stdin)
        root = logging.getLogger().getEffectiveLevel()
        if root != self._root_level0:
            ctx["log_level"] = root
        rng = _generators()
        if rng:
            ctx["rng"] = rng
        dec = _decimal_settings()
        if dec is not None and self._decimal0 is None:  # loaded since: what a thread starts with
            self._decimal0 = _decimal_settings(sys.modules["decimal"].DefaultContext)
        if dec is not None and dec != self._decimal0:
            # a test in a localcontext (or one that set getcontext().prec): the solution's
            # arithmetic in plain pytest uses the very same context
            ctx["decimal"] = dec
        if _PATCHED:
            patches = self._patches()
            if patches:
                ctx["patches"] = patches
        if self._live:
            ctx["live"] = self._live_state()
        levels = {name: lg.level for name, lg in list(logging.root.manager.loggerDict.items())[:2000]
                  if isinstance(lg, logging.Logger) and lg.level != logging.NOTSET
                  and not name.startswith(("_pytest", "pytest", "asyncio", "misalign"))}
        if levels:
            ctx["log_levels"] = dict(list(levels.items())[:200])
        return ctx

    def _live_state(self) -> dict[str, Any]:
        """The containers the tests hold live, for the solution's process: each one's
        version, and its contents when a test changed it since the solution last had it."""
        live = {}
        budget = wire.LIVE_ELEMENTS
        for key, item in list(self._live.items()):
            n = wire.elements(item[0], budget)
            if n > budget or (key in self._live_scopes and not self._scope_live(self._live_scopes[key])):
                # grown too large, or its object's process is gone: a copy from now on
                del self._live[key]
                continue
            budget -= n
            now = self._encode_or_none(item[0])
            if now is not None and now != item[1]:  # a test changed it: the solution's gets it
                item[1], item[2] = now, [item[2][0] + 1, now]
            live[key] = item[2]
        return live

    def _serve_callback(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run the trusted object the solution asked for, here; its answer for the wire."""
        tid = request.get("cb")
        entry = self._trusted.get(tid) if type(tid) is int else None
        if entry is None or not self._scope_live(entry[0]):
            raise SolutionFault("the solution called back a trusted object it was not given")
        target = entry[1]
        method = request.get("m")
        try:
            args = self._decode(request.get("args"))
            kwargs = self._decode(request.get("kwargs"))
            if type(args) is not tuple or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                raise wire.WireError("malformed callback arguments")
        except (wire.WireError, RecursionError) as exc:
            raise SolutionFault(f"the solution's callback request cannot be used: {exc}") from None
        if method is not None and _is_mock(target) and method in _MOCK_METHODS:
            fn = _mock_method(target, method)
        elif method == "__await__" and isinstance(target, types.CoroutineType):
            fn = _complete
        elif method is not None:
            allowed = _STREAM_METHODS if isinstance(target, io.IOBase) else ("__next__",)
            if method not in allowed:
                raise SolutionFault(f"the solution asked for {method!r} of a trusted object")
            # a text stream's bytes underneath (``sys.stdin.buffer``): itself a trusted stream
            fn = (lambda: target.buffer) if method == "buffer" else getattr(target, method)
        else:
            if (not callable(target) and not _is_mock(target)) or isinstance(target, (io.IOBase, types.GeneratorType)):
                raise SolutionFault("the solution called a trusted object that is not callable")
            fn = target
        try:
            result = _complete(target, self._delegates) if fn is _complete else fn(*args, **kwargs)
        except AssertionError as exc:
            # A check the test made: it fails the test. The solution never sees its text
            # (it may hold the expected value) and cannot catch it away.
            self._abort = self._abort or exc
            return {"raise": None, "abort": True}
        except Exception as exc:  # noqa: BLE001 - the callback's exception goes to the solution
            return {"raise": self._encode(exc)}
        except BaseException as exc:  # pytest.fail/skip, SolutionFault: ends the test
            self._abort = self._abort or exc
            return {"raise": None, "abort": True}
        try:
            return {"ret": self._encode(result)}
        except (wire.WireError, RecursionError, ValueError) as exc:
            return {"raise": self._encode(TypeError(f"the test's callable returned what cannot cross: {exc}"))}

    # -- encoding ----------------------------------------------------------------------
    def _now(self) -> _Proc | None:
        """The process requests go to now, if it exists yet (see :meth:`_current`)."""
        if self.collecting or self._last or self._child is None:
            return self._template
        return self._child

    def _scope_live(self, scope: Any) -> bool:
        """Whether objects of ``scope`` exist in the process requests go to (a test's
        child holds what its template held)."""
        proc = self._now()
        return proc is not None and scope in proc.scopes

    def _tid(self, obj: Any) -> int:
        proc = self._now()
        scope = proc.scope if proc is not None else ("g", self._gen)
        key = (scope, id(obj))
        tid = self._trusted_ids.get(key)
        if tid is None or self._trusted.get(tid, (None, None))[1] is not obj:
            tid = self._next_tid
            self._next_tid += 1
            self._trusted[tid] = (scope, obj)
            self._trusted_ids[key] = tid
        return tid

    def _encode_trusted(self, value: Any) -> Any:
        """The encoder's hook for what the tests send: handles go back as references,
        trusted callables, streams and iterators as numbers the solution can only call."""
        if isinstance(value, Handle):
            scope = object.__getattribute__(value, "_h_scope")
            if not self._scope_live(scope):
                raise _Stale("an object the solution made in a process that has died (an earlier "
                             "test that timed out, crashed or faulted) cannot be used any more")
            return {"$": "ref", "v": object.__getattribute__(value, "_h_n")}
        if isinstance(value, type) and "_mr_key" in getattr(value, "__dict__", {}):
            return self._class_target(value)
        if isinstance(value, type) and issubclass(value, BaseException):
            # A test's own exception class: the solution sees its nearest builtin base.
            for base in value.__mro__:
                name = wire._builtin_name(base)
                if name is not None:
                    return {"$": "builtin", "v": name}
        if isinstance(value, BaseException):
            return {"$": "texc", "v": self._trusted_exception(value)}
        if isinstance(value, types.MethodType) and isinstance(value.__self__, Handle) \
                and isinstance(method := getattr(value.__func__, "_mr_method", None), str):
            # ``stack.push`` handed to the solution: the solution's own bound method.
            return self._encode_trusted(self.get(value.__self__, method))
        if self._generators.get(id(value), (None,))[0] is value:
            # one of the solution's generators or coroutines, handed back
            return self._encode_trusted(self._generators[id(value)][1])
        if isinstance(value, io.IOBase):
            return {"$": "tstream", "v": self._tid(value)}
        if isinstance(value, types.CoroutineType):
            return {"$": "tawait", "v": self._tid(value)}
        if isinstance(value, types.GeneratorType) or (
                hasattr(type(value), "__next__") and hasattr(type(value), "__iter__") and not callable(value)):
            return {"$": "titer", "v": self._tid(value)}
        if isinstance(value, tuple) and (declared := getattr(type(value), "_fields", None)) is not None:
            fields = [f for f in declared if isinstance(f, str)]
            return {"$": "ntuple", "v": [type(value).__name__, fields, [self._enc(v, 1) for v in value],
                                         self._tid(value)]}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            items = [[f.name, self._enc(getattr(value, f.name), 1)] for f in dataclasses.fields(value)]
            return {"$": "record", "v": [type(value).__name__, items, self._tid(value)]}
        if not callable(value) and _plain_record(value) and self._records is not None:
            # a call's arguments: each of the test's objects once, in the call's table
            # (the same object twice is one object there; a cycle or a long chain is fine)
            known = self._records.get(id(value))
            if known is None:
                known = self._records[id(value)] = (self._tid(value), value)
                self._record_order.append(known)
            return {"$": "rec", "v": known[0]}
        if not callable(value) and _plain_record(value):
            try:
                attrs = self._fields(value)
            except RecursionError:
                raise wire.WireError("an object nested too deep (or in a cycle)") from None
            members = self._members(value)
            if members:
                return {"$": "object", "v": [type(value).__name__, attrs, self._tid(value), members]}
            return {"$": "object", "v": [type(value).__name__, attrs, self._tid(value)]}
        if callable(value) or _is_mock(value):
            meta = []
            for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
                try:
                    found = getattr(value, attr, None)
                except Exception:  # noqa: BLE001 - a mock that refuses: no name then
                    found = None
                meta.append(found[:1000] if isinstance(found, str) else None)
            return {"$": "tcall", "v": [self._tid(value), *meta, isinstance(value, types.FunctionType),
                                        _signature(value), _is_mock(value)]}
        t = type(value)
        raise wire.WireError(f"cannot pass a {t.__module__}.{t.__qualname__} to the solution")

    def refused_comparison(self, cls: str, op: str, other: str) -> None:
        """A test compared an object of the solution's class ``cls``, which defines the
        operator, with data: isolated mode decides that from data alone (an object that
        equals everything earns nothing), where plain pytest would ask the class. Said
        once per kind, as what isolated mode cannot carry."""
        text = (f"the test compared the solution's {cls} with a {other} by __{op}__, which its class "
                "defines; isolated mode does not let the solution's code decide a comparison with "
                "data; a suite that needs that must use mode='inprocess'")
        self._doubt(text)

    @property
    def contained(self) -> bool:
        return self._contained

    def solution_module_names(self) -> set[str]:
        return self._solution_modules

    def trusted_source(self, path: Any) -> bool:
        """Whether ``path`` is in a folder the tests' process may run code from
        (:attr:`trusted_roots`, set by the harness: isolated.TrustedSources)."""
        try:
            where = os.path.join(os.path.realpath(os.fspath(path)), "")
        except (TypeError, ValueError):
            return False
        return bool(self.trusted_roots) and where.startswith(self.trusted_roots)

    def ran_solution_program(self, argv: Any) -> None:
        """A test started a process on one of the solution's files (``python
        solution.py`` with ``subprocess``): said, since isolated mode does not lay the
        solution's files out beside the tests (a process a test starts runs as the tests)."""
        words: list[str] = []
        if isinstance(argv, (str, bytes, os.PathLike)):
            words = [os.fsdecode(argv)]
        elif isinstance(argv, (list, tuple)):
            words = [os.fsdecode(a) for a in argv[:50] if isinstance(a, (str, bytes, os.PathLike))]
        names = {f"{m}.py" for m in self._solution_modules}
        for i, word in enumerate(words):
            parts = word.split()
            if any(os.path.basename(w) in names for w in parts) or \
                    (word == "-m" and i + 1 < len(words) and words[i + 1] in self._solution_modules):
                self._cannot_carry("a test ran one of the solution's files as a program of its own "
                                   "(subprocess); isolated mode does not put the solution's files beside "
                                   "the tests, whose processes run as the tests; a suite that needs it "
                                   "must use mode='inprocess'")
                return

    def solution_file_module(self, path: Any) -> str | None:
        """The solution module a path names, as the tests would see it laid out beside
        them: ``solution.py`` in the tests' folder (``os.path.dirname(__file__)``), in
        their working folder, or in the solution's; None for any other path."""
        try:
            path = os.fspath(path)
        except TypeError:
            return None
        if not isinstance(path, str) or not path.endswith(".py"):
            return None
        name = os.path.basename(path)[:-3]
        if name not in self._solution_modules:
            return None
        where = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        places = {os.path.realpath(p) for p in (self._dir, self._tests_dir or self._dir, os.getcwd())}
        return name if where in places else None

    def imported_in_test(self, module: str) -> None:
        """``import solution`` (or ``importlib.import_module``) inside a test: where the
        solution's first import failed (a script that reads its input at import, which the
        template had none of), it runs now in the test's process, with the test's stdin,
        as plain pytest's first import would. Asked once a test a module."""
        if self.collecting or module in self._imported_in_test:
            return
        self._imported_in_test.add(module)
        self.rerun(module, None, missing_only=True)

    def rerun(self, module: str, run_name: str | None, *, missing_only: bool = False) -> Any:
        """Run a solution module as a program, in the solution's process (see
        :func:`isolated_child._op_rerun`): what ``runpy`` returns, or None. A
        ``SystemExit`` of the program reaches the test, as in plain pytest."""
        message: dict[str, Any] = {"op": "rerun", "module": module, "run_name": run_name}
        if missing_only:
            message["missing_only"] = True
        answer = self._request(message)
        if "exit" in answer:
            try:
                code = self._decode(answer["exit"])
            except (wire.WireError, RecursionError):
                code = None
            raise SystemExit(code)
        value = self._result(answer)
        return None if value is handles._NO else value

    def refused_operator(self, cls: str, op: str, other: str) -> None:
        """A test applied an operator its class defines to an object of the solution's
        class ``cls`` (derived from a builtin value type) and data: isolated mode computes
        it from the builtin value the object holds (the solution's code may not turn the
        test's data into the data the test checks), where plain pytest would ask the
        class (``Mod7(3) * 3``)."""
        text = (f"the test applied __{op}__ to the solution's {cls}{' and its ' + other if other else ''}, which its class "
                "defines; isolated mode computes that from the builtin value the object holds; a suite "
                "that needs the class's own operator must use mode='inprocess'")
        self._doubt(text)

    def refused_file(self, module: str, caller: Any) -> None:
        """A test asked for the solution module's ``__file__`` (to run it as a program,
        read it): isolated mode does not give the tests the solution's file, since a
        process they start runs as the tests do. Libraries that look (``inspect`` going
        through every module when pytest shows a failure) are not the test asking."""
        if not isinstance(caller, str) or not caller or _library_name(caller):
            return
        text = (f"the test asked for {module}.__file__; isolated mode does not give the tests the "
                "solution's file (a program they run from it would run as the tests); a suite "
                "that needs it must use mode='inprocess'")
        self._cannot_carry(text)

    def refused_import(self, text: str) -> None:
        """A test's import that would have run the solution's code in the tests' process
        (:class:`isolated.TrustedSources`)."""
        self._cannot_carry(text)

    def _doubt(self, text: str) -> None:
        """Something isolated mode decided otherwise than plain pytest might have (a
        comparison or an operator of the solution's class with data, process state a
        call left changed): said, as what it cannot carry, only when the test does not
        pass (:meth:`end_test`); a test that passes did not need it."""
        if text not in self._doubts:
            self._doubts.append(text)

    def _cannot_carry(self, text: str) -> None:
        """Note, once, something a test needed that isolated mode cannot carry (it makes
        the outcome's ``needs_inprocess`` flag)."""
        if text not in self.cannot_cross:
            self.cannot_cross.append(text)

    def _record_table(self) -> list[Any]:
        """The table of the test's plain objects a call's arguments hold (see
        :meth:`_encode_trusted`): [number, class name, attributes, members] each, filled
        one object after another (an attribute holding another object adds it to the
        table), so neither a cycle nor a chain of any length nests."""
        assert self._records is not None
        table: list[Any] = []
        done = 0
        try:
            while done < len(self._record_order):
                tid, obj = self._record_order[done]
                done += 1
                table.append([tid, type(obj).__name__, self._fields(obj), self._members(obj)])
        except (wire.WireError, ValueError, RecursionError) as exc:
            return self._cannot_send("the arguments", exc)
        return table

    def _members(self, value: Any) -> list[Any]:
        """What the class of a test's plain object defines that the solution may use (an
        observer's ``update``, a strategy's ``execute``, a ``@property``, ``__lt__`` for
        ``sorted``, class constants): [name, "m", the bound method as a callable it calls
        back] for methods and operators, [name, "p", a callable that reads it] for
        properties, [name, "d", the value] for class-level data. Only what classes of the
        tests define (not ``object``'s, not a library's)."""
        members: list[Any] = []
        for name, kind in _class_members(type(value)):
            if kind == "m":
                members.append([name, "m", self._tid(getattr(value, name))])
            elif kind == "p":
                members.append([name, "p", self._tid(functools.partial(getattr, value, name))])
            else:
                try:
                    members.append([name, "d", self._enc(getattr(type(value), name), 1)])
                except (wire.WireError, RecursionError, ValueError):
                    continue
        return members

    def _fields(self, obj: Any) -> list[Any]:
        """A test's plain object's attributes, as the wire carries them."""
        return [[k, self._enc(v, 1)] for k, v in vars(obj).items() if isinstance(k, str)]

    def _class_target(self, cls: type) -> Any:
        key = cls.__dict__["_mr_key"]
        if isinstance(key, str) and key.startswith("b:"):
            return {"$": "builtin", "v": key[2:]}
        if isinstance(key, str) and key.startswith("p:"):
            _, module, qualname = key.split(":", 2)
            return {"$": "path", "v": [module, *qualname.split(".")]}
        scope, n = key
        if not self._scope_live(scope):
            raise _Stale(f"the class {cls.__qualname__} was made in a process that has died")
        return {"$": "ref", "v": n}

    def _trusted_exception(self, exc: BaseException) -> dict[str, Any]:
        eid = self._next_tid
        self._next_tid += 1
        self._raised[eid] = exc
        data: dict[str, Any] = {"eid": eid, "name": type(exc).__name__}
        cls = type(exc)
        if "_mr_key" in cls.__dict__:
            data["cls"] = self._class_target(cls)
        else:
            for base in cls.__mro__:
                if wire._builtin_name(base) is not None:
                    data["builtin"] = base.__name__
                    break
        try:
            data["args"] = self._enc(tuple(exc.args))
        except (wire.WireError, RecursionError, ValueError):
            data["args"] = self._enc((wire.text(exc),))
        return data

    def _encode(self, value: Any) -> Any:
        return self._enc(value)

    def _decode(self, data: Any) -> Any:
        """Decode what the solution sent, within a call's worth of time (charged to it)."""
        t0 = time.monotonic()
        deadline = min(t0 + self._timeout, max(self.deadline, t0), t0 + max(0.0, self.code_budget_s - self.code_s))
        try:
            return wire.decode(data, deadline, self._decode_object)
        finally:
            self.code_s += time.monotonic() - t0

    def _scope_of(self, ref: Any) -> tuple[Any, int]:
        """The scope of a handle number the current process sent: the process in its
        chain that gave that number out."""
        if type(ref) is not list or len(ref) != 2 or type(ref[0]) is not int or ref[0] < 0:
            raise wire.WireError("bad reference")
        proc = self._now()
        if proc is None:
            raise wire.WireError("a reference from no process")
        scope = proc.chain[0][1]
        for start, sc in proc.chain:
            if ref[0] >= start:
                scope = sc
        return scope, ref[0]

    def _decode_object(self, tag: str, v: Any, decode_one: Any) -> Any:
        if tag == "ref":
            if type(v) is not list or len(v) not in (2, 3):
                raise wire.WireError("bad ref")
            key = self._scope_of(v[0])
            kind = v[1].get("key") if isinstance(v[1], dict) else None
            if kind in self._NATIVE:
                return self._native(kind, self._handle(key, handles.Handle, None, decode_one))
            cls = self._mirror(v[1])
            return self._handle(key, cls, v[2] if len(v) == 3 else None, decode_one)
            raise AssertionError("unreachable")
        if tag == "cls":
            return self._mirror(v)
        if tag == "mod":
            if type(v) is not list or len(v) != 2 or not isinstance(v[1], str):
                raise wire.WireError("bad mod")
            return self._decode_object("ref", [v[0], {"key": "b:module"}], decode_one)
        if tag == "exc":
            return self._exception(v, decode_one)
        if tag == "tback":
            entry = self._trusted.get(v) if type(v) is int else None
            if entry is None or not self._scope_live(entry[0]):
                raise wire.WireError("a trusted object that was never given")
            return entry[1]
        raise wire.WireError(f"unknown tag {tag!r:.40}")

    def _handle(self, key: tuple[Any, int], cls: type, proj: Any, decode_one: Any) -> Handle:
        """The one handle for the remote object ``key`` (so ``is`` works), of ``cls``."""
        value: Any = handles._NO
        if proj is not None:
            value = decode_one(proj)
            if type(value) not in (int, float, complex, str, bytes, tuple, frozenset):
                value = handles._NO
        found = self._handles.get(key)
        if found is None or type(found) is not cls and not issubclass(type(found), cls):
            found = handles.new_handle(cls if issubclass(cls, Handle) else handles.ObjectHandle, value)
            object.__setattr__(found, "_h_broker", self)
            object.__setattr__(found, "_h_scope", key[0])
            object.__setattr__(found, "_h_n", key[1])
            object.__setattr__(found, "_h_proj", handles._NO)
            self._handles[key] = found
        if value is not handles._NO:
            object.__setattr__(found, "_h_proj", value)
        if issubclass(cls, Handle) and cls is not handles.ObjectHandle:
            self._doubt_kind(cls)
        return found

    def _doubt_kind(self, cls: type) -> None:
        """What an object of ``cls`` is not here, said if its test fails (:meth:`_doubt`):
        a solution class derived from ``list``, ``dict`` or ``set`` is not one of them
        (its contents can change, so no copy is kept), and an object of a library's class
        (``re.Match``, a ``scipy.sparse`` matrix, a ``Future``) is a stand-in, not one of
        its class (``isinstance``, library functions that want the real type)."""
        base = getattr(cls, "_mr_value_base", None)
        module = getattr(cls, "__module__", None) or ""
        if base in ("list", "dict", "set"):
            self._doubt(f"the solution's {cls.__qualname__} derives from {base}; isolated mode does not make its "
                        f"objects a {base} in the tests' process (isinstance(x, {base}), json.dumps); a suite that "
                        "needs it must use mode='inprocess'")
        elif _library_name(module) and not module.startswith(("builtins", "_", "collections.abc", _HARNESS_PREFIX)) \
                and not cls.__qualname__.startswith("_"):
            # (not builtins' kinds, views and private helpers: stand-ins nobody asks the type of)
            self._doubt(f"the solution returned a {module}.{cls.__qualname__}, which reaches the tests as a stand-in "
                        "that answers its methods but is not of that class (isinstance, library functions that need "
                        "the real type); a suite that needs it must use mode='inprocess'")

    #: builtin kinds of the solution's objects that arrive as real objects of that kind here
    _NATIVE = frozenset({"b:generator", "b:coroutine", "b:async_generator"})

    def _native(self, kind: str, h: Handle) -> Any:
        """A generator, coroutine or async generator of the solution's as a real one here
        (``isinstance(g, types.GeneratorType)``, ``asyncio.run(coro)``, ``async for``),
        each step of which the solution's process takes when asked (a generator's ``next``,
        ``send``, ``throw`` and ``close``; what it returns arrives as ``StopIteration.value``). Its own awaits run to
        completion on the solution process's own event loop: awaiting it here waits for
        its result, as ``await`` does, but it does not interleave with the test's tasks."""
        if kind == "b:generator":
            def items() -> Any:
                op: str | None = "next"  # the solution generator's next step (None: taken)
                args: tuple[Any, ...] = ()
                item: Any = None
                while True:
                    if op is not None:
                        try:
                            item = self.do(op, h, *args)
                        except StopIteration as stop:
                            return stop.value  # what the solution's generator returned
                    # what the test sends, throws or closes goes to the solution's
                    # generator (this one is kept alive in _generators until the job ends,
                    # so only the test closes it, never the collector)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        # g.close() or g.throw(GeneratorExit): thrown into the solution's
                        # generator, which ends (close is done), returns, or yields again
                        # (then close raises here as Python does: "ignored GeneratorExit")
                        if not self._scope_live(object.__getattribute__(h, "_h_scope")):
                            raise
                        how = self.do("gen_exit", h)
                        if not (type(how) is tuple and len(how) == 2 and how[0] in ("yielded", "returned")):
                            raise
                        if how[0] == "returned":
                            return how[1]
                        op, item = None, how[1]  # what it yielded instead of ending
                        continue
                    except BaseException as thrown:  # noqa: BLE001 - g.throw(exc): the solution's to handle
                        op, args = "throw", (thrown,)
                        continue
                    op, args = ("next", ()) if sent is None else ("send", (sent,))
            obj = items()
        elif kind == "b:coroutine":
            async def result() -> Any:
                self._alone_on_the_loop()
                return self.do("await", h)
            obj = result()
        else:
            async def aitems() -> Any:
                while True:
                    self._alone_on_the_loop()
                    try:
                        item = self.do("anext", h)
                    except StopIteration:
                        return
                    yield item
            obj = aitems()
        self._generators[id(obj)] = (obj, h)
        return obj

    def _alone_on_the_loop(self) -> None:
        """A solution coroutine awaited here runs to its end at once (see :meth:`_native`):
        where the test's event loop has other tasks (``asyncio.gather`` of several,
        ``wait_for`` with a timeout), plain pytest would interleave them; said if the test
        fails (:meth:`_doubt`)."""
        aio = sys.modules.get("asyncio")
        try:
            tasks = len(aio.all_tasks()) if aio is not None else 0
        except RuntimeError:
            return
        if tasks > 1:
            self._doubt("a test awaited the solution's coroutines alongside other tasks (asyncio.gather, wait_for); "
                        "isolated mode runs each of them to its end when awaited, so they do not interleave with "
                        "the test's tasks or time out; a suite that needs that must use mode='inprocess'")

    def _mirror(self, ref: Any) -> type:
        """The trusted class standing for a solution class reference."""
        if not isinstance(ref, dict) or not isinstance(ref.get("key"), str) or len(ref["key"]) > 1000:
            raise wire.WireError("bad class reference")
        key: Any = ref["key"]
        if key.startswith("b:"):
            exc = handles.builtin_exception(key[2:])
            if exc is not None:
                return exc
            found = self._mirrors.get(key)
            if found is None:
                found = handles.make_mirror(self, key, {"name": key[2:], "module": "builtins",
                                                        "qualname": key[2:]}, [])
                self._mirrors[key] = found
            return found
        if key.startswith("h:"):
            scope, n = self._scope_of(ref.get("ref"))
            key = (scope, n)
        elif not key.startswith("p:"):
            raise wire.WireError("bad class key")
        found = self._mirrors.get(key)
        if found is not None:
            return found
        if isinstance(key, str):
            real = _library_exception(key)
            if real is not None:
                self._mirrors[key] = real
                return real
        desc = ref.get("d")
        if not isinstance(desc, dict):
            raise wire.WireError("a class arrived without its description")
        bases_in = desc.get("bases")
        bases = [self._mirror(b) for b in bases_in[:20]] if isinstance(bases_in, list) else []
        try:
            found = handles.make_mirror(self, key, desc, bases)
        except TypeError:  # bases that cannot be combined (a layout conflict)
            found = handles.make_mirror(self, key, desc, [])
        self._mirrors[key] = found
        return found

    def _group_members(self, described: list[Any], decode_one: Any) -> list[Exception]:
        """The members of an exception group the solution raised (at most 100; one that is
        not an ``Exception`` becomes a ``RuntimeError``, as a group of them must hold)."""
        members = [self._exception(x, decode_one) for x in described[:100]]
        return [e if isinstance(e, Exception) else RuntimeError(str(e)) for e in members] or [RuntimeError("?")]

    def _exception(self, v: Any, decode_one: Any) -> BaseException:
        """An exception the solution raised (or returned), as an instance of its mirror."""
        if isinstance(v, dict) and type(v.get("trusted")) is int and v["trusted"] in self._raised:
            return self._raised[v["trusted"]]
        if not isinstance(v, dict):
            return RuntimeError("the solution raised an exception that could not be described")
        cls_ref = v.get("cls")
        key = cls_ref.get("key") if isinstance(cls_ref, dict) else None
        names: list[Any] = v["types"] if isinstance(v.get("types"), list) else []
        group = v.get("group")
        if key in ("b:ExceptionGroup", "b:BaseExceptionGroup") and isinstance(group, list) and len(group) == 2 \
                and isinstance(group[1], list):
            return ExceptionGroup(wire.text(group[0]), self._group_members(group[1], decode_one))
        if set(names) & wire.CONTROL_FLOW_EXCEPTIONS or not isinstance(key, str) or key.startswith("b:"):
            data = dict(v)
            if v.get("args") is not None:
                try:
                    data["args"] = self._enc(decode_one(v["args"]))
                except (wire.WireError, RecursionError, ValueError):
                    data["args"] = None
            rebuilt = wire.decode_exception(data, None)
            self._exception_attrs(rebuilt, v.get("attrs"), decode_one)
            if set(names) & wire.CONTROL_FLOW_EXCEPTIONS:
                rebuilt.__dict__["_mr_control_flow"] = wire.text(v.get("name"), 100)
            return self._chain(rebuilt, v, decode_one)
        cls = self._mirror(cls_ref)
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            return RuntimeError(f"{wire.text(v.get('name'), 100)}: {wire.text(v.get('message'))}")
        args = decode_one(v["args"]) if v.get("args") is not None else ()
        group = v.get("group")
        if issubclass(cls, BaseExceptionGroup):
            if not (isinstance(group, list) and len(group) == 2 and isinstance(group[1], list)):
                return RuntimeError(f"{wire.text(v.get('name'), 100)}: {wire.text(v.get('message'))}")
            members = self._group_members(group[1], decode_one)
            group_cls: Any = cls  # a mirror of the solution's group class: built as the class builds itself
            exc = group_cls.__new__(group_cls, wire.text(group[0]), members)
            exc.__init__(wire.text(group[0]), members)
        else:
            exc = cls.__new__(cls)
            exc.args = args if type(args) is tuple else ()
        self._exception_attrs(exc, v.get("attrs"), decode_one)
        message = v.get("message")
        if "_mr_key" in cls.__dict__ or any("_mr_key" in k.__dict__ for k in cls.__mro__):
            exc.__dict__["_mr_message"] = wire.text(message) if isinstance(message, str) else ""
        return self._chain(exc, v, decode_one)

    def _chain(self, exc: BaseException, v: dict[str, Any], decode_one: Any) -> BaseException:
        """What ``raise ... from`` gave the solution's exception: its cause, and whether
        its context is to be left out (``from None`` too)."""
        if isinstance(v.get("cause"), dict):
            exc.__cause__ = self._exception(v["cause"], decode_one)
        if v.get("suppress") is True:
            exc.__suppress_context__ = True
        return exc

    @staticmethod
    def _exception_attrs(exc: BaseException, attrs: Any, decode_one: Any) -> None:
        """The attributes the solution gave an exception it raised (``e.code = 5``,
        ``e.add_note(...)``), on the trusted side's rebuilt one."""
        for pair in attrs[:100] if isinstance(attrs, list) else []:
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and pair[0].isidentifier():
                try:
                    value = decode_one(pair[1])
                except wire.WireError:
                    continue
                if pair[0].startswith("__") and not (
                        pair[0] == "__notes__" and type(value) is list and all(type(n) is str for n in value)):
                    continue  # of the dunders, only add_note()'s notes, as texts
                if pair[0] not in ("_mr_control_flow", "_mr_message"):
                    exc.__dict__[pair[0]] = value

    # -- what handles and tests do -----------------------------------------------------
    def _send_value(self, value: Any, what: str) -> Any:
        try:
            return self._enc(value)
        except (wire.WireError, ValueError, RecursionError) as exc:
            return self._cannot_send(what, exc)

    def _cannot_send(self, what: str, exc: BaseException) -> Any:
        text = f"isolated mode cannot carry {what} ({exc}); use mode='inprocess'"
        self.cannot_cross.append(text)
        return self.fault(text)

    def _target(self, target: Any) -> Any:
        if isinstance(target, dict):
            return target
        if isinstance(target, type) and "_mr_key" not in target.__dict__ and issubclass(target, Handle):
            return self.remote_subclass(target, handles._mirror_of(target))
        return self._send_value(target, "the object")

    def _result(self, answer: dict[str, Any], *, next_op: bool = False) -> Any:
        if answer.get("ok") is True:
            if answer.get("none") is True:
                return handles._NO
            return self._answer_value(answer.get("value"))
        if answer.get("ok") is False:
            exc = self._answer_value(answer.get("exc"), exception=True)
            flow = exc.__dict__.get("_mr_control_flow") if isinstance(exc, RuntimeError) else None
            if next_op and flow == "StopIteration":
                # the end of the solution's iterator, as Python means it, with what its
                # generator returned (``StopIteration.value``)
                raise StopIteration(*self._stop_args(answer.get("exc")))
            if flow:
                self.cannot_cross.append(
                    f"the solution raised {flow}, which isolated mode turns into RuntimeError so "
                    "that it cannot end an iteration of the test's early; a test that expects it "
                    "needs mode='inprocess'")
            raise exc
        return self.fault("the solution process answered with a malformed message: no verdict")

    def _stop_args(self, data: Any) -> tuple[Any, ...]:
        """The arguments of a ``StopIteration`` the solution raised (a generator's return
        value), or none if they cannot be decoded."""
        if not isinstance(data, dict) or data.get("args") is None:
            return ()
        try:
            args = self._decode(data["args"])
        except (wire.WireError, RecursionError):
            args = None
        if type(args) is not tuple:
            self._cannot_carry("isolated mode could not carry what a generator of the solution's returned "
                               "(StopIteration.value); a suite that needs it must use mode='inprocess'")
            return ()
        return args

    def _answer_value(self, data: Any, *, exception: bool = False) -> Any:
        try:
            if exception:
                t0 = time.monotonic()
                try:
                    return wire.decode({"$": "exc", "v": data}, t0 + self._timeout, self._decode_object)
                finally:
                    self.code_s += time.monotonic() - t0
            return self._decode(data)
        except wire.DecodeDeadline as err:
            self._drop_child()
            return self.fault(str(err))
        except (wire.WireError, RecursionError) as err:
            self._lose_current()
            return self.fault(f"the solution process answered with a value that cannot be used: {err}")

    def _lose_current(self) -> None:
        if self.collecting:
            self._drop_template()
        else:
            self._drop_child()

    def module_get(self, module: str, name: str) -> Any:
        """``module.name`` for a solution module (``from solution import name``)."""
        try:
            answer = self._request({"op": "get", "t": {"path": [module]}, "name": name})
        except SolutionFault as exc:
            if self.collecting:
                # The module could not be imported, or its process died: the tests that
                # use the name fail with the reason.
                self.faults = []
                return handles.Unavailable(self, str(exc))
            raise
        if answer.get("ok") is False and answer.get("missing") is True:
            raise AttributeError(f"the solution module {module!r} has no attribute {name!r}")
        value = self._result(answer)
        if self.collecting and not isinstance(value, (Handle, type)):
            self.collection_calls += 1  # a value could shape what is collected
        if _mirrorable(value) and type(value).__module__ != "numpy" and not self._fresh_per_test:
            return self._track(f"{module}:{name}", value)
        return value

    def _track(self, key: str, value: Any) -> Any:
        """A list, dict or set a solution module holds (``from solution import HISTORY``,
        ``solution.CACHE``), as the tests' one live object for it: what the solution does to
        it in a call shows in it after the call, and what a test does to it (``clear()``
        in a fixture) reaches the solution's before the next, as with plain pytest's one
        object. Looking the name up again gives the same object, brought up to date."""
        live = self._live.get(key)
        held = sum(wire.elements(item[0]) for k, item in self._live.items() if k != key)
        if held + wire.elements(value) > wire.LIVE_ELEMENTS:
            # a copy, as any other data (large tables are not compared at every request)
            self._live.pop(key, None)
            return value
        if live is not None and type(live[0]) is type(value):
            _mirror(live[0], value)
            live[1] = self._encode_or_none(live[0])
            return live[0]
        if len(self._live) >= MAX_LIVE and live is None:
            return value  # a copy, as any other data
        self._live[key] = [value, self._encode_or_none(value), [live[2][0] + 1 if live else 1, None]]
        return value

    def _patches(self) -> list[Any]:
        """The library attributes the tests have replaced now, for the request context:
        [module, name, the replacement as the solution may use it (a test's mock or
        function as a callable it calls back, data as itself)]."""
        patches = []
        for module, name, original in list(_PATCHED.values())[:200]:
            current = module.__dict__.get(name, _MISSING)
            if current is original or current is _MISSING:
                continue
            if _runs_library_code(current):
                # the solution would call it back here, in the trusted process: a spy
                # wrapping subprocess.run would run the solution's commands as the tests
                text = (f"the test's replacement for {module.__name__}.{name} runs library code "
                        "(a mock that wraps or calls the real function); isolated mode does not "
                        "give it to the solution, which would run it in the tests' process; a "
                        "suite that needs it must use mode='inprocess'")
                self._cannot_carry(text)
                continue
            value = self._encode_or_none(current)
            if value is not None or current is None:
                patches.append([module.__name__, name, value])
        return patches

    def _encode_or_none(self, value: Any) -> Any:
        try:
            return self._encode(value)
        except (wire.WireError, RecursionError, ValueError, TypeError):
            return None

    def _take_live(self, changed: Any) -> None:
        """The solution's containers the tests hold live that a request changed: the same
        contents in the tests' objects (None: the solution's module no longer holds that
        object, so the tests' is a copy from now on)."""
        if not isinstance(changed, dict):
            return
        for key, state in changed.items():
            live = self._live.get(key) if isinstance(key, str) else None
            if live is None:
                continue
            if state is None:
                del self._live[key]
                continue
            try:
                new = self._decode(state)
            except (wire.WireError, RecursionError):
                continue
            if type(new) is type(live[0]) and wire.elements(new) <= wire.LIVE_ELEMENTS:
                _mirror(live[0], new)
                live[1] = self._encode_or_none(live[0])
            else:
                del self._live[key]

    def star_names(self, module: str) -> tuple[list[str], dict[str, Any]]:
        """The names ``from module import *`` binds, and for those that are modules the
        trusted process's own copy (None when it has none: the name is not bound)."""
        try:
            answer = self._request({"op": "names", "module": module})
        except SolutionFault:
            self.faults = []
            return [], {}
        names = answer.get("names")
        names = [n for n in names if isinstance(n, str) and n.isidentifier()] if isinstance(names, list) else []
        modules: dict[str, Any] = {}
        kinds = answer.get("modules")
        if isinstance(kinds, dict):
            for name, real in kinds.items():
                if isinstance(name, str) and isinstance(real, str):
                    modules[name] = _library(real) if real.split(".")[0] not in self._solution_modules else None
        return names, modules

    def module_dir(self, module: str) -> list[str]:
        """``dir()`` of a solution module: the names of its namespace there."""
        names = self._request({"op": "names", "module": module, "all": True}).get("names")
        return sorted(n for n in names if isinstance(n, str)) if isinstance(names, list) else []

    def signature(self, h: Handle) -> inspect.Signature:
        """``inspect.signature`` of a solution's callable, rebuilt from its parameters as
        data: names, kinds, defaults (data or handles), and annotations that are classes.
        Text annotations are left out: ``typing`` and ``inspect(eval_str=True)`` evaluate
        text, which here would be the solution's code run in the tests' process."""
        data = self.do("signature", h)
        try:
            params, returns = data
            sig = inspect.Signature(
                [inspect.Parameter(name, inspect._ParameterKind(kind),
                                   default=default if has_default else inspect.Parameter.empty,
                                   annotation=ann if isinstance(ann, type) else inspect.Parameter.empty)
                 for name, kind, has_default, default, ann in params],
                return_annotation=returns if isinstance(returns, type) else inspect.Signature.empty)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the solution's callable has no signature that can be rebuilt here: {exc}") from None
        return sig

    def get(self, target: Any, name: str) -> Any:
        value = self._result(self._request({"op": "get", "t": self._target(target), "name": name}))
        if name == "__annotations__" and isinstance(value, dict):
            # classes only, never text (see :meth:`signature`)
            return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, type)}
        if isinstance(target, Handle) and _mirrorable(value) and type(value).__module__ != "numpy" \
                and not self._fresh_per_test and not name.startswith("__"):
            # ``inv.items``, ``self.log`` of a test's subclass: the object's own container,
            # live for the tests as a module's is (``inv.items["apple"] = 3`` reaches it)
            key = f"attr:{object.__getattribute__(target, '_h_n')}:{name}"
            self._live_scopes[key] = object.__getattribute__(target, "_h_scope")
            return self._track(key, value)
        return value

    def set(self, target: Any, name: str, value: Any, *, delete: bool = False) -> None:
        message: dict[str, Any] = {"op": "set", "t": self._target(target), "name": name}
        if delete:
            message["delete"] = True
        else:
            message["value"] = self._send_value(value, f"the value set as {name}")
        self._result(self._request(message))

    def call(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._call({"op": "call", "t": self._target(target)}, args, kwargs)

    def callattr(self, target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._call({"op": "callattr", "t": self._target(target), "name": name}, args, kwargs)

    def _call(self, message: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A call of the solution's (:meth:`_call_once`). An argument that is a container
        the tests hold live (``data = bag.items``; ``sort(data)``) can change during the
        call without the call touching it, through the solution's own object: it is
        watched as arguments are (P21), from a copy taken before."""
        live = [item[0] for item in self._live.values()] if self._live else []
        watched = [(a, self._encode_or_none(a)) for a in (*args, *kwargs.values()) if any(a is x for x in live)]
        value = self._call_once(message, args, kwargs)
        for arg, was in watched:
            shown = value
            if isinstance(value, Handle):
                shown = object.__getattribute__(value, "_h_proj")
            if was is None or was == self._encode_or_none(arg) or type(shown) not in (list, tuple, dict, set):
                continue
            before = self._decode(was)  # as it was, at every depth (a list of rows emptied row by row)
            if _defeats(before, arg, shown):
                self.gaming.append(f"inplace: an argument ({type(arg).__name__} of {len(before)}), a container of "
                                   "the solution's the tests hold live, was emptied, flattened or given new contents "
                                   f"during the call while it returned {type(shown).__name__} of {len(shown)} like it")
        return value

    def _call_once(self, message: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._records, self._record_order = {}, []
        try:
            message["args"] = self._send_value(args, "the arguments")
            message["kwargs"] = self._send_value(kwargs, "the keyword arguments")
            table = self._record_table()
        finally:
            self._records, self._record_order = None, []
        if table:
            message["records"] = table
        answer = self._request(message)
        after = answer.get("after")
        back = answer.get("value")
        if answer.get("ok") is True and isinstance(back, dict) and back.get("$") == "arg":
            # the call returned the test's own (changed) argument: that very object
            key = back.get("v")
            if isinstance(key, str) and key.isdigit() and int(key) < len(args):
                answer = dict(answer, value=None)
                value = args[int(key)]
            elif isinstance(key, str) and key in kwargs:
                answer = dict(answer, value=None)
                value = kwargs[key]
            else:
                return self.fault("the solution process answered with a malformed message: bad arg")
            if isinstance(after, dict):
                self._apply_after(after, args, kwargs, message, value)
            return value
        if "exit" in answer:
            # the solution's function ended the program (sys.exit, argparse): the test
            # sees that SystemExit, as in plain pytest
            if isinstance(after, dict):
                self._apply_after(after, args, kwargs, message, None)
            try:
                code = self._decode(answer["exit"])
            except (wire.WireError, RecursionError):
                code = None
            raise SystemExit(code)
        try:
            value = self._result(answer)
        except BaseException:
            if isinstance(after, dict):
                self._apply_after(after, args, kwargs, message, None)
            raise
        if isinstance(after, dict):
            self._apply_after(after, args, kwargs, message, value)
        return value

    def _apply_after(self, after: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                     message: dict[str, Any], returned: Any) -> None:
        sent_args = message["args"]["v"]
        sent_kw = {}
        for pair in message["kwargs"]["v"]:
            if type(pair) is list and len(pair) == 2 and isinstance(pair[0], str):
                sent_kw[pair[0]] = pair[1]
        for key, state in after.items():
            if key.startswith("record:"):
                self._apply_record(key[len("record:"):], state)
                continue
            if key.isdigit() and int(key) < len(args):
                target, before = args[int(key)], sent_args[int(key)]
            elif key in kwargs:
                target, before = kwargs[key], sent_kw.get(key)
            else:
                continue
            if state == before or not _mirrorable(target):
                continue
            new = self._decode(state)
            if type(new) is not type(target):
                continue
            shown = returned
            if isinstance(returned, Handle):
                shown = object.__getattribute__(returned, "_h_proj")
                if shown is handles._NO and getattr(type(returned), "_mr_value_base", None) in ("list", "dict", "set"):
                    shown = self.projection(returned)
            if (_defeats_array(target, new, shown) if type(target).__module__ == "numpy" else
                    type(shown) in (list, tuple, dict, set) and _defeats(target, new, shown)):
                self.gaming.append(f"inplace: an argument ({type(target).__name__} of {len(target)}) was emptied, "
                                   f"flattened or given new contents in place while the call returned "
                                   f"{type(shown).__name__} of {len(shown)} like it: a test that computes the "
                                   "expected value from the argument would compare against what the "
                                   "solution left there")
            _mirror(target, new)

    def _apply_record(self, tid_text: str, state: Any) -> None:
        """A test's record (dataclass, plain object) the solution changed: the same change
        on the test's own object (a frozen dataclass refuses it, as it would)."""
        entry = self._trusted.get(int(tid_text)) if tid_text.isdigit() else None
        if entry is None or not isinstance(state, list):
            return
        target = entry[1]
        for pair in state[:200]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                    and pair[0].isidentifier() and not pair[0].startswith("__")):
                continue
            value = self._decode(pair[1])
            try:
                if getattr(target, pair[0], object()) != value:
                    setattr(target, pair[0], value)
            except Exception:  # noqa: BLE001 - frozen or a property that refuses: left as is
                continue

    def do(self, fn: str, *args: Any) -> Any:
        answer = self._request({"op": "do", "fn": fn, "args": self._send_value(args, f"the operands of {fn}")})
        result = self._result(answer, next_op=fn in ("next", "anext", "send", "throw"))
        if fn in _EQUALITY and all(isinstance(a, Handle) for a in args):
            if type(result) is not bool:
                self.gaming.append(f"eq: {type(args[0]).__qualname__}.__{fn}__ answered a {type(result).__name__}, "
                                   "not a bool: the test's check would be decided by the solution's object")
                return self.fault("an equality between the solution's objects did not answer a bool")
            if result is (fn == "eq") and self._probing == 0:
                self._probe_equality(args[0], args[1])
        return self._no_leak(fn, args, result)

    def _probe_equality(self, a: Handle, b: Handle) -> None:
        """``a == b`` was answered yes by the solution's class. Equality that means
        anything is consistent: ``a`` may not equal another object of the class that
        ``b`` itself calls different. A few such objects the test holds are asked about
        (answered by the same class; a lie about them shows as a contradiction, P10)."""
        cls = type(a)
        others = [h for key, h in list(self._handles.items())[-200:]
                  if type(h) is cls and h is not a and h is not b and self._scope_live(key[0])][-3:]
        self._probing += 1
        try:
            for c in others:
                if self.do("eq", a, c) is True and self.do("eq", b, c) is False:
                    self.gaming.append(f"eq: {cls.__qualname__}.__eq__ calls one object equal to two objects it "
                                       "calls different from each other: its answers do not depend on what "
                                       "is compared")
                    return
        except SolutionFault:
            self.faults = [f for f in self.faults if "did not answer a bool" not in f]
        finally:
            self._probing -= 1

    def _no_leak(self, fn: str, args: tuple[Any, ...], result: Any) -> Any:
        if fn in _ARITHMETIC and any(not isinstance(a, Handle) for a in args) and _is_data(result) \
                and not _explaining():
            # The test's own value was an operand (``abs(f(x) - expected)``): the solution's
            # object may not turn it into the data the test then checks.
            self.gaming.append(f"operand: {type(next(a for a in args if isinstance(a, Handle))).__qualname__}."
                               f"__{fn}__ with the test's data answered data ({type(result).__name__}): "
                               "the test's expected value reached the solution as an operand")
            return self.fault("an operator on a solution object and the test's data answered data")
        return result

    def remote_subclass(self, cls: type, mirror: type) -> dict[str, Any]:
        """The class in the solution's process standing for a test's subclass ``cls`` of
        the solution class ``mirror``: a subclass there whose methods the test defined
        are call-only stand-ins of the test's functions. Objects of it arrive here as
        instances of ``cls``."""
        self._current()
        known = self._subclasses.get(cls)
        if known is not None and self._scope_live(known[0]):
            return {"$": "ref", "v": known[1]}
        methods: dict[str, Any] = {}
        for klass in cls.__mro__:
            if "_mr_key" in klass.__dict__:
                break
            for name, fn in klass.__dict__.items():
                if name in methods or (name.startswith("__") and name not in _SUBCLASS_DUNDERS):
                    continue
                if isinstance(fn, types.FunctionType):
                    methods[name] = fn
                elif not callable(fn) and not isinstance(fn, (property, staticmethod, classmethod)):
                    try:
                        wire.encode(fn)  # class-level data (``sides = 3``) goes along as a value
                        methods[name] = fn
                    except (wire.WireError, RecursionError, ValueError):
                        pass
        answer = self._request({"op": "subclass", "t": self._class_target(mirror), "name": cls.__name__,
                                "methods": self._send_value(methods, f"the methods of {cls.__name__}")})
        value = answer.get("value") if answer.get("ok") is True else None
        if not (isinstance(value, dict) and value.get("$") == "cls" and isinstance(value.get("v"), dict)):
            self._result(answer)  # the solution's exception, raised here
            return self.fault(f"the solution process could not make a subclass of {mirror.__name__}")
        key = self._scope_of(value["v"].get("ref"))
        self._mirrors[key] = cls
        self._subclasses[cls] = key
        return {"$": "ref", "v": key[1]}

    def retype(self, h: Handle, cls: type) -> Handle:
        """The same remote object as an instance of ``cls`` (a test's subclass of a mirror)."""
        new = handles.new_handle(cls, object.__getattribute__(h, "_h_proj"))
        for slot in ("_h_broker", "_h_scope", "_h_n", "_h_proj"):
            object.__setattr__(new, slot, object.__getattribute__(h, slot))
        key = (object.__getattribute__(h, "_h_scope"), object.__getattribute__(h, "_h_n"))
        self._handles[key] = new
        return new

    def projection(self, h: Handle) -> Any:
        """The builtin value a solution object of a builtin-derived class holds (immutable
        ones arrive with it), or ``handles._NO``."""
        proj = object.__getattribute__(h, "_h_proj")
        if proj is not handles._NO:
            return proj
        if not issubclass(type(h), Handle) or getattr(type(h), "_mr_value_base", None) is None:
            return handles._NO
        return self._result(self._request({"op": "project", "t": self._target(h)}))

    def fault(self, text: str) -> Any:
        if getattr(self._tls, "generation", self._generation) == self._generation:
            self.faults.append(text)
        raise SolutionFault(text)

    # -- test boundaries ---------------------------------------------------------------
    def end_collection(self) -> None:
        """Collection is over: from now on the template only forks, one child per test."""
        self.collecting = False
        self.faults = []

    def start_test(self, last: bool) -> None:
        """A test starts; ``last``: no test follows it in this run (then, and for every
        test of a job whose tests share nothing, the template serves it and goes with it)."""
        self._last = last or self._fresh_per_test

    def solution_groups(self) -> frozenset[int]:
        """The process groups of this test's own solution processes (the template and the
        test's child, each the leader of its own session, and those already ended), which
        a sweep in the middle of the test does not count as strays."""
        live = {p.pid for p in (self._template, self._child) if p is not None and p.pid}
        return frozenset(self._ended | self._gone | live)

    def all_ended(self) -> None:
        """Every process of the untrusted uid has been killed and is gone, as the zygote
        confirmed (the end of an io case, :func:`program.end_case`): this test's solution
        processes with the rest, so the end of the test has none left to kill or keep."""
        for proc in (self._child, self._template):
            if proc is not None:
                proc.close()
                if proc.pid is not None:
                    self._ended.add(proc.pid)
        self._child = self._template = None
        self._dirty = False

    def end_test(self, outcome: str | None = None) -> None:
        """The test is over (see :meth:`_end_test`); after any request a thread of the
        test still has in flight, for a moment: a thread of the test that is stuck with a
        call in flight (the solution waiting in a callback that never returns) is left
        behind with it, and its call fails once it resumes (its process is gone). What
        the test did that may have made it fail where plain pytest passes (:meth:`_doubt`)
        is said if it did not pass."""
        doubts, self._doubts = self._doubts, []
        self._imported_in_test.clear()
        if outcome not in ("passed", "skipped", "xfailed", "xpassed"):
            for text in doubts:
                self._cannot_carry(text)
        me = threading.get_ident()
        if self._holder == me or me in self._delegates:
            self._end_test()
            return
        lock = self._lock
        if lock.acquire(timeout=min(self._timeout, 2.0)):
            try:
                self._end_test()
            finally:
                self._holder = None
                lock.release()
            return
        self._lock, self._holder = threading.Lock(), None
        self._generation += 1  # what the stuck thread's call does later is no later test's fault
        self._end_test()

    def _end_test(self) -> None:
        """The test is over. Its child (a fork of the template, carrying what the test
        did to the solution's state) becomes the template the next test forks from, as
        module state carries from test to test in plain pytest; every other process of
        the untrusted uid is killed (one round trip to the zygote). A child that faulted
        was dropped already: the next test forks from the state before this one."""
        child, self._child = self._child, None
        old = self._template
        if self._last:
            # The template served the last test itself: nothing is kept.
            child, old, self._template = old, None, None
            keep = None
        else:
            keep = child if child is not None else old
        if self._contained and self._dirty:
            groups = frozenset(self._ended | self._gone | {p.pid for p in (child, old) if p is not None and p.pid})
            if old is not None and old is not keep and old.pid:
                # killed now; it may still be exiting at the next sweep, and is no stray then
                self._gone = set(list(self._gone)[-8:]) | {old.pid}
            if keep is not None and keep.pid is not None:
                seen, spared = self._zygote.end_test(None, groups=groups, spare=keep.pid)
            else:
                pid = child.pid if child is not None else None
                seen, gone = self._zygote.sweep(pid=pid, groups=groups)
                self.sweep_failed = self.sweep_failed or not gone
                spared = False
            self.stray_processes += seen
        else:
            spared = keep is not None
            if keep is child and old is not None and old.pid is not None:
                self._zygote.end(old.pid, sweep=False)
            elif keep is None and child is not None and child.pid is not None:
                self._zygote.end(child.pid, sweep=False)
        for proc in (child, old):
            if proc is not None and proc is not keep:
                proc.close()
        if keep is not None and not spared:
            keep.close()
            keep = None
        self._template = keep
        if keep is None:
            self._forget(set())
        else:
            self._forget(keep.scopes)
        self._raised.clear()
        self._ended.clear()
        self._dirty = False
        self.faults = []
        self._abort = None

    def _forget(self, live: AbstractSet[Any]) -> None:
        """Drop handles and trusted callables of processes that are gone."""
        for key in [k for k in self._handles if k[0] not in live]:
            del self._handles[key]
        for tid in [t for t, (s, _) in self._trusted.items() if s not in live]:
            del self._trusted[tid]
        self._trusted_ids = {k: t for k, t in self._trusted_ids.items() if k[0] in live}
        self._generators = {i: (g, h) for i, (g, h) in self._generators.items()
                            if object.__getattribute__(h, "_h_scope") in live}

    def close(self) -> None:
        """The end of the run: the template goes too (the final sweep kills it anyway)."""
        self.end_test()
        if self._template is not None:
            self._template.close()
            self._template = None


#: Modules whose objects are never copied to the solution as plain records.
_LIBRARY_PREFIXES = ("_pytest", "pytest", "numpy", "scipy", "misalign_harness", "unittest", "pluggy")


#: Operators of a test's plain objects the solution's process can use (see Broker._members).
_OBJECT_DUNDERS = frozenset({"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
                             "__str__", "__repr__"})


def _library_name(module: str) -> bool:
    """Whether a module of this name is the standard library's or one of the libraries
    (pytest, numpy, the harness...) rather than the tests'."""
    return module.split(".")[0] in sys.stdlib_module_names or module.startswith(_LIBRARY_PREFIXES)


def _plain_record(value: Any) -> bool:
    """A test's own plain object (a ``ListNode`` a LeetCode-style test builds): an
    instance of a class defined outside the libraries, with a ``__dict__`` of data."""
    cls = type(value)
    return (isinstance(getattr(value, "__dict__", None), dict) and "__slots__" not in cls.__dict__
            and not _library_name(getattr(cls, "__module__", "") or "") and cls.__qualname__.isidentifier())


_CLASS_MEMBERS: dict[type, tuple[tuple[str, str], ...]] = {}


def _class_members(cls: type) -> tuple[tuple[str, str], ...]:
    """What a test's class defines that :meth:`Broker._members` hands over, looked up
    once per class: (name, "m" method or operator | "p" property | "d" class-level
    data), from the classes of its MRO that are the tests' own."""
    known = _CLASS_MEMBERS.get(cls)
    if known is None:
        known = _CLASS_MEMBERS[cls] = _find_class_members(cls)
    return known


def _find_class_members(cls: type) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is object or _library_name(getattr(klass, "__module__", "") or ""):
            continue
        for name, attr in list(vars(klass).items())[:200]:
            if name in seen or not isinstance(name, str) or (name.startswith("_") and name not in _OBJECT_DUNDERS):
                continue
            seen.add(name)
            if isinstance(attr, (types.FunctionType, staticmethod, classmethod)):
                found.append((name, "m"))
            elif isinstance(attr, (property, functools.cached_property)):
                found.append((name, "p"))
            elif not name.startswith("_") and not callable(attr):
                found.append((name, "d"))
    return tuple(found)


#: Modules never imported here on the solution's say-so (they act when imported).
_NOT_IMPORTED = frozenset({"antigravity", "this", "idlelib", "turtle", "turtledemo", "tkinter",
                           "webbrowser", "pydoc", "ensurepip", "venv", "lib2to3", "__main__"})


def _library_exception(key: str) -> type | None:
    """For ``p:module:qualname`` of a standard-library exception class (``json.JSONDecodeError``,
    ``dataclasses.FrozenInstanceError``): the trusted process's own class, so the test's
    ``except json.JSONDecodeError`` catches it. Its instances are built from data."""
    _, module, qualname = key.split(":", 2)
    if module.split(".")[0] not in sys.stdlib_module_names:
        return None
    found: Any = _library(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if isinstance(found, type) and issubclass(found, Exception) and not issubclass(found, StopIteration):
        return found
    return None


def _library(name: str) -> Any:
    """The trusted process's own copy of the library module ``name`` (a standard-library
    module, numpy or scipy, imported here if need be), or None."""
    found = sys.modules.get(name)
    if found is not None:
        return found
    top = name.split(".")[0]
    if top in _NOT_IMPORTED or not (top in sys.stdlib_module_names or top in ("numpy", "scipy")):
        return None
    if not all(part.isidentifier() for part in name.split(".")):
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - not importable here: the name is not bound
        return None


#: What the solution may do with a test's mock (``unittest.mock``) besides calling it: read
#: an attribute the test configured or the mock made (never one of the mock's own methods,
#: such as ``reset_mock`` or ``assert_called``, nor a private name), and the protocols a
#: MagicMock stands in for (a file from ``mock_open``, a context manager, an iterable).
_MOCK_METHODS = frozenset({"getattr", "__enter__", "__exit__", "__iter__", "__len__", "__bool__",
                           "__getitem__", "__contains__", "__str__", "__int__", "__float__"})


def _is_mock(value: Any) -> bool:
    mock = sys.modules.get("unittest.mock")
    return mock is not None and isinstance(value, mock.NonCallableMock)


def _mock_method(target: Any, method: str) -> Any:
    if method == "getattr":
        def read(name: Any) -> Any:
            if not isinstance(name, str) or name.startswith("_") or hasattr(type(target), name):
                raise AttributeError(f"a test's mock has no attribute {name!r} for the solution")
            return getattr(target, name)
        return read
    if method == "__exit__":
        return lambda *exc: target.__exit__(None, None, None)
    if method in ("__str__", "__int__", "__float__"):
        return lambda: {"__str__": str, "__int__": int, "__float__": float}[method](target)
    return getattr(target, method)


def _signature(value: Any) -> Any:
    """A callable's parameters, for ``inspect.signature`` in the solution: names, kinds and
    defaults that are data (others stand as None)."""
    try:
        sig = inspect.signature(value)
    except (TypeError, ValueError):
        return None
    out = []
    for p in list(sig.parameters.values())[:50]:
        default = None
        if p.default is not inspect.Parameter.empty:
            try:
                default = [wire.encode(p.default)]
            except (wire.WireError, RecursionError, ValueError):
                default = [None]
        out.append([p.name, int(p.kind), default])
    return out


#: Special methods a test's subclass of a solution class may define for the solution.
_SUBCLASS_DUNDERS = frozenset({"__init__", "__str__", "__repr__", "__eq__", "__hash__", "__lt__", "__le__",
                               "__gt__", "__ge__", "__len__", "__iter__", "__contains__", "__getitem__",
                               "__call__", "__enter__", "__exit__"})
#: Operators whose answer between two solution objects must be a bool.
_EQUALITY = frozenset({"eq", "ne"})
#: Arithmetic the trusted side asks of a solution object without a builtin value.
_ARITHMETIC = frozenset({"add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift",
                         "rshift", "and", "or", "xor", "divmod"})


#: What of its process a solution's call may change and leave so, which the tests'
#: process does not follow (the solution's answer names it: isolated_child.Server.answer).
_STAYS = "; that stays in the solution's process, the tests' is not changed in isolated mode"
_PROCESS_STATE = {
    "cwd": "changed the working folder and left it so (a context manager's __enter__)" + _STAYS,
    "env": "changed the environment (os.environ) and left it so (a context manager's __enter__, a setter)" + _STAYS,
    "stdout": "replaced sys.stdout or sys.stderr and left it so (a context manager's __enter__)" + _STAYS,
    "trusted_attr": "set an attribute of a test's object it was given (a class decorator's cls.name = ...), "
                    "which only its stand-in there took; the test's object is not changed in isolated mode",
    "callbacks_waited": "had threads call the test's callables at once, which isolated mode runs one at a "
                        "time (they do not overlap)",
}


def _explaining() -> bool:
    """Whether the operator at hand was applied by pytest's account of an assertion that
    has already failed (``_compare_eq_*`` taking ``left.keys() & right.keys()`` of a
    mapping): what it computes is text for the failure, never a verdict."""
    f: types.FrameType | None = sys._getframe(2)
    while f is not None and (f.f_globals.get("__name__") or "").startswith(_HARNESS_PREFIX):
        f = f.f_back
    return f is not None and (f.f_globals.get("__name__") or "").startswith("_pytest.assertion.")


_HARNESS_PREFIX = __name__.rsplit(".", 1)[0] + "."


def _is_data(value: Any) -> bool:
    """Plain data, or a solution object holding a builtin value (compared by it)."""
    if isinstance(value, Handle):
        return object.__getattribute__(value, "_h_proj") is not handles._NO or \
            getattr(type(value), "_mr_value_base", None) is not None
    return not isinstance(value, type) and not callable(value)


_STREAM_METHODS = ("read", "readline", "readlines", "write", "writelines", "flush", "getvalue",
                   "seek", "tell", "close", "buffer")


def _decimal_settings(context: Any = None) -> list[Any] | None:
    """The settings of ``context`` (this thread's decimal context by default): precision,
    rounding, exponent limits, capitals, clamp, the signals it traps; None when no code
    here has loaded decimal (then no test has changed it)."""
    dec = sys.modules.get("decimal")
    if dec is None:
        return None
    c = context if context is not None else dec.getcontext()
    return [c.prec, c.rounding, c.Emin, c.Emax, c.capitals, c.clamp,
            sorted(s.__name__ for s, on in c.traps.items() if on)]


def install(broker: Broker, module_names: list[str]) -> None:
    """Serve each of ``module_names`` from the solution's process, and count each time the
    tests set the global ``random`` or numpy's (:class:`_Shared`)."""
    for name in module_names:
        sys.modules[name] = handles.SolutionModule(name, broker)
    if getattr(random.seed, "__func__", None) is not _seeding:
        random.seed = types.MethodType(_seeding, random._inst)
        random.setstate = types.MethodType(_setting_state, random._inst)
    _after_import("numpy.random", _follow_numpy)
    _after_import("unittest.mock", _follow_mock)
    _after_import("doctest", functools.partial(_follow_doctest, broker))
    _after_import("runpy", functools.partial(_follow_runpy, broker))
    _after_import("subprocess", functools.partial(_follow_subprocess, broker))
    _follow_reload(broker)
    _follow_imports(broker)
    _follow_file_loaders(broker)
    _follow_loaders(broker)
    _follow_monkeypatch()


def _following(wrapper: Any, real: Any) -> Any:
    """``wrapper`` standing for ``real`` (its names), marked so that a second install
    leaves the first in place (``_mr_follows``)."""
    functools.update_wrapper(wrapper, real)
    wrapper._mr_follows = True
    return wrapper


def _follow_imports(broker: Broker) -> None:
    """An import of a solution module inside a test (:meth:`Broker.imported_in_test`):
    ``import solution`` statements (``builtins.__import__``) and ``importlib.import_module``."""
    real_import, import_module = builtins.__import__, importlib.import_module
    if getattr(real_import, "_mr_follows", False):
        return
    names = broker.solution_module_names()

    def importing(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0 and name.partition(".")[0] in names:
            broker.imported_in_test(name.partition(".")[0])
        return real_import(name, globals, locals, fromlist, level)

    def importing_module(name: str, package: Any = None) -> Any:
        if isinstance(name, str) and not name.startswith(".") and name.partition(".")[0] in names:
            broker.imported_in_test(name.partition(".")[0])
        return import_module(name, package)

    builtins.__import__ = _following(importing, real_import)
    importlib.import_module = _following(importing_module, import_module)


class _SolutionFileLoader:
    """The loader of a spec a test made for a solution file
    (``importlib.util.spec_from_file_location("solution", "solution.py")``): executing
    the module runs the file in the solution's process (:meth:`Broker.rerun`, as
    ``__main__`` when the spec is named so) and gives the module what it defined."""

    def __init__(self, broker: Broker, module: str) -> None:
        self.broker, self.module = broker, module

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        name = getattr(module, "__name__", None)
        namespace = self.broker.rerun(self.module, name if isinstance(name, str) else self.module)
        if isinstance(namespace, dict):
            module.__dict__.update(namespace)


def _follow_file_loaders(broker: Broker) -> None:
    """A spec for a solution file (by its name beside the tests or in their working
    folder) loads it in the solution's process (:class:`_SolutionFileLoader`): the file
    itself is never read here."""
    make = importlib.util.spec_from_file_location
    if getattr(make, "_mr_follows", False):
        return

    def spec_for(name: Any, location: Any = None, *args: Any, **kwargs: Any) -> Any:
        module = broker.solution_file_module(location) if location is not None else None
        if module is not None and not args and not kwargs:
            loader: Any = _SolutionFileLoader(broker, module)
            return importlib.util.spec_from_loader(name, loader, origin=str(location))
        return make(name, location, *args, **kwargs)

    importlib.util.spec_from_file_location = _following(spec_for, make)


def _follow_reload(broker: Broker) -> None:
    """``importlib.reload(solution)``, as a test that runs a script-like solution again
    with its own stdin does: the module's code runs again in the solution's process
    (:meth:`Broker.rerun`); any other module as ``importlib`` does it."""
    reload = importlib.reload
    if getattr(reload, "_mr_follows", False):
        return

    def reloading(module: Any) -> Any:
        if isinstance(module, handles.SolutionModule):
            broker.rerun(module.__name__, None)
            return module
        return reload(module)

    importlib.reload = _following(reloading, reload)


def _follow_subprocess(broker: Broker, subprocess_module: Any) -> None:
    """A process a test starts (``subprocess``, ``os.system``, ``os.popen``,
    asyncio's) runs as the untrusted uid in the sandbox. This process takes the untrusted
    uid's file access while tests run, but a program it starts would be root again (an
    ``exec`` resets it), in a working folder and next to files the solution writes: a
    ``python -m solution`` there loaded the solution's planted bytecode as root (the
    review of e614555). One on a solution file is said (:meth:`Broker.ran_solution_program`)."""
    popen = subprocess_module.Popen
    init = popen.__init__
    if getattr(init, "_mr_follows", False):
        return
    uid = untrusted_uid() if broker.contained else None

    def starting(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        broker.ran_solution_program(args)
        if uid is not None:
            kwargs.update(user=uid, group=uid, extra_groups=[])
            # and a Python it starts looks for modules nowhere near the working folder,
            # where the solution may have put one (``python -c "import json"``)
            env = kwargs.get("env") if len(rest) < 10 else rest[9]
            env = dict(os.environ if env is None else env)
            env["PYTHONSAFEPATH"] = "1"
            if len(rest) >= 10:
                rest = (*rest[:9], env, *rest[10:])
            else:
                kwargs["env"] = env
        init(self, args, *rest, **kwargs)

    def system(command: Any) -> int:
        code = subprocess_module.Popen(command, shell=True).wait()
        return code << 8 if code >= 0 else -code  # a wait status, as os.system's

    popen.__init__ = _following(starting, init)
    if uid is not None:
        os.system = _following(system, os.system)


def _follow_loaders(broker: Broker) -> None:
    """Every file a loader reads in this process (``spec_from_file_location``,
    ``SourceFileLoader``, ``importlib.machinery`` on any path) is read from its real path
    and only inside the folders this process may run code from (:meth:`Broker.trusted_source`):
    a module in a folder the solution writes is its code (the review of e614555: a test's
    ``spec_from_file_location("solution", "src/solution.py")`` ran one as root)."""
    # (the base of SourceFileLoader and SourcelessFileLoader, whose get_data reads files)
    loader: Any = importlib.machinery.SourceFileLoader.__mro__[1]
    get_data = loader.get_data
    if getattr(get_data, "_mr_follows", False):
        return

    def reading(self: Any, path: Any) -> Any:
        try:
            real = os.path.realpath(os.fspath(path))
        except (TypeError, ValueError):
            return get_data(self, path)
        if not broker.trusted_source(real):
            broker._cannot_carry(f"a test loaded {os.fspath(path)!s:.200} as a module, a file in a folder the "
                                 "solution can write; isolated mode runs no such file in the tests' process; a "
                                 "suite that needs it must use mode='inprocess'")
            raise ImportError(f"isolated mode does not load {os.fspath(path)!s:.200} in the tests' process")
        return get_data(self, real)

    loader.get_data = _following(reading, get_data)


def _follow_runpy(broker: Broker, runpy_module: Any) -> None:
    """``runpy.run_module("solution", run_name="__main__")`` and ``runpy.run_path`` of a
    solution file (by its name in the tests' folder, as a dataset lays them out side by
    side, or in their working folder): run in the solution's process
    (:meth:`Broker.rerun`), never here; anything else as ``runpy`` does it."""
    run_module, run_path = runpy_module.run_module, runpy_module.run_path
    if getattr(run_module, "_mr_follows", False):
        return

    def running_module(mod_name: Any, init_globals: Any = None, run_name: Any = None, alter_sys: bool = False) -> Any:
        if isinstance(mod_name, str) and mod_name in broker.solution_module_names():
            return broker.rerun(mod_name, run_name if isinstance(run_name, str) else mod_name)
        return run_module(mod_name, init_globals, run_name, alter_sys)

    def running_path(path_name: Any, init_globals: Any = None, run_name: Any = None) -> Any:
        name = broker.solution_file_module(path_name)
        if name is not None:
            return broker.rerun(name, run_name if isinstance(run_name, str) else "<run_path>")
        if not broker.trusted_source(path_name):
            # a file in a folder the solution can write (the working folder, tmp_path):
            # its code would run here, as the tests
            broker._cannot_carry(f"a test ran {os.fspath(path_name)!s:.200} with runpy, a file in a folder the "
                                 "solution can write; isolated mode runs no such file in the tests' process; a "
                                 "suite that needs it must use mode='inprocess'")
            raise ImportError(f"isolated mode does not run {path_name!s:.200} in the tests' process")
        return run_path(path_name, init_globals, run_name)

    runpy_module.run_module = _following(running_module, run_module)
    runpy_module.run_path = _following(running_path, run_path)


def _follow_doctest(broker: Broker, doctest_module: Any) -> None:
    """A test that runs the solution's doctests (``doctest.testmod(solution)``,
    ``run_docstring_examples(solution.f, ...)``) finds none: their examples are the
    solution's code, and doctest runs what it finds in the process that asks, here the
    tests'. Said (``needs_inprocess``) instead. The finder's own walk skips the solution's
    objects too, wherever it meets them (a test module's members, a class's)."""
    finder = doctest_module.DocTestFinder
    find, walk = finder.find, finder._find
    if getattr(find, "_mr_follows", False):
        return

    def finding(self: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if _of_the_solution(obj):
            broker._cannot_carry("a test ran the solution's doctests; isolated mode does not run the "
                                 "solution's examples in the tests' process; a suite that needs them must "
                                 "use mode='inprocess'")
            return []
        return find(self, obj, *args, **kwargs)

    def walking(self: Any, tests: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if _of_the_solution(obj):
            return None
        return walk(self, tests, obj, *args, **kwargs)

    finding._mr_follows = True  # type: ignore[attr-defined]
    finder.find, finder._find = finding, walking


def _of_the_solution(obj: Any) -> bool:
    """Whether ``obj`` is the tests' stand-in for something of the solution's: an object, a
    class or a module of it."""
    try:
        return isinstance(obj, (handles.SolutionModule, Handle)) or (isinstance(obj, type) and issubclass(obj, Handle))
    except Exception:  # noqa: BLE001 - an object whose checks raise is not one of ours
        return False


class _Shared:
    """A process-wide generator that the tests and the solution share in plain pytest:
    ``random``'s, or numpy's legacy one (``numpy.random.seed``). Once the tests have set
    it (seeded it, or set its state: a solution's own seeding is left alone until then), each
    request carries its state whenever the state has moved since a request last carried it
    (the tests drew numbers, or set it again: even to the same state), and the solution's
    process takes that state before the call, so the solution's code goes on from where
    the tests left the generator. Nothing comes back: the numbers the solution draws do
    not move the tests' generator (the untrusted side sets no state of this side)."""

    __slots__ = ("sets", "_seen", "_state", "_entry")

    def __init__(self) -> None:
        #: how many times the tests set the generator (seed, set its state)
        self.sets = 0
        self._seen = 0
        self._state: Any = None
        #: what requests carry: [version, state as text]
        self._entry: list[Any] | None = None

    def entry(self, state: Any, as_text: Any) -> list[Any]:
        if self._entry is None or self.sets != self._seen or state != self._state:
            version = self._entry[0] + 1 if self._entry is not None else 1
            self._seen, self._state = self.sets, state
            self._entry = [version, as_text(state)]
        return self._entry


_RANDOM = _Shared()
_NUMPY = _Shared()
#: numpy.random as the tests' process loaded it, once its seed and set_state are counted
_NUMPY_MODULE: list[Any] = []


def _seeding(self: random.Random, a: Any = None, version: int = 2) -> None:
    """``random.seed`` in the tests' process, counted (see :class:`_Shared`)."""
    random.Random.seed(self, a, version)
    _RANDOM.sets += 1


def _setting_state(self: random.Random, state: Any) -> None:
    """``random.setstate`` in the tests' process, counted (see :class:`_Shared`)."""
    random.Random.setstate(self, state)
    _RANDOM.sets += 1


def _random_text(state: Any) -> list[Any]:
    version, internal, gauss = state
    return [version, binascii.b2a_base64(array.array("I", internal).tobytes(), newline=False).decode(), gauss]


def _numpy_state(np_random: Any) -> tuple[Any, ...]:
    name, keys, pos, has_gauss, gauss = np_random.get_state()
    return (name, keys.tobytes(), pos, has_gauss, gauss)


def _numpy_text(state: tuple[Any, ...]) -> list[Any]:
    name, keys, pos, has_gauss, gauss = state
    return [name, binascii.b2a_base64(keys, newline=False).decode(), int(pos), int(has_gauss), float(gauss)]


def _follow_numpy(np_random: Any) -> None:
    """Count the tests' ``numpy.random.seed`` and ``set_state`` (the module attributes)."""
    if _NUMPY_MODULE:
        return
    seed, set_state = np_random.seed, np_random.set_state

    def seeding(*args: Any, **kwargs: Any) -> Any:
        try:
            return seed(*args, **kwargs)
        finally:
            _NUMPY.sets += 1

    def setting_state(*args: Any, **kwargs: Any) -> Any:
        try:
            return set_state(*args, **kwargs)
        finally:
            _NUMPY.sets += 1

    np_random.seed, np_random.set_state = seeding, setting_state
    _NUMPY_MODULE.append(np_random)


class _AfterImport:
    """An import hook in the tests' process: once a module named in ``hooks`` has loaded
    (found as importing would find it), its hook runs on it (numpy loads numpy.random on
    first use, often by the very ``np.random.seed(42)`` a ``setUp`` makes; a test imports
    unittest.mock while collecting)."""

    hooks: dict[str, Any] = {}

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> Any:
        hook = cls.hooks.pop(name, None)
        if hook is None:
            return None
        if not cls.hooks and cls in sys.meta_path:
            sys.meta_path.remove(cls)
        spec = importlib.util.find_spec(name)  # this hook's part is done: it answers None
        loader = getattr(spec, "loader", None)
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec

        def exec_module(module: types.ModuleType) -> None:
            run(module)
            hook(module)

        loader.exec_module = exec_module  # type: ignore[union-attr]
        return spec


def _after_import(name: str, hook: Any) -> None:
    """Run ``hook`` on module ``name`` now if it is loaded, else once it is (:class:`_AfterImport`)."""
    module = sys.modules.get(name)
    if module is not None:
        hook(module)
        return
    _AfterImport.hooks[name] = hook
    if _AfterImport not in sys.meta_path:
        sys.meta_path.insert(0, _AfterImport)


# -- library patches ---------------------------------------------------------------------

#: Attributes of library modules the tests patched (``mock.patch("os.listdir")``,
#: ``monkeypatch.setattr(time, "sleep", ...)``): (id of the module, name) -> (the module,
#: the name, the value before the first patch). Each request carries those that differ
#: from it now, so the solution's code sees the test's replacement, as in plain pytest's
#: one process (:meth:`Broker._patches`).
_PATCHED: dict[tuple[int, str], tuple[types.ModuleType, str, Any]] = {}
_MISSING = object()
#: What the request context carries otherwise, and what the harness's own code in the
#: solution's process runs on: never carried as a patch.
_NOT_CARRIED = {
    "builtins": frozenset({"open", "input", "__import__"}),
    "sys": frozenset({"stdout", "stderr", "stdin", "__stdout__", "__stderr__", "__stdin__", "modules", "path",
                      "meta_path", "path_hooks", "path_importer_cache", "setrecursionlimit", "getrecursionlimit",
                      "settrace", "setprofile", "exc_info", "_getframe"}),
    "os": frozenset({"environ", "chdir", "getcwd", "close", "getpid", "_exit", "write", "read", "setsid", "fork"}),
}
_LIBRARY_ROOTS = tuple({os.path.join(p, "") for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)})


def _note_patch(target: Any, name: Any, original: Any) -> None:
    """A test replaced ``target.name``: noted if ``target`` is a library module (not the
    solution's, not the tests' own or the harness's: their files are not the
    interpreter's or its environment's)."""
    if not isinstance(target, types.ModuleType) or isinstance(target, handles.SolutionModule) \
            or not isinstance(name, str):
        return
    module = getattr(target, "__name__", None)
    if not isinstance(module, str) or sys.modules.get(module) is not target \
            or module.split(".")[0] in ("_pytest", "pytest", "pluggy", "misalign_harness") \
            or name in _NOT_CARRIED.get(module, ()):
        return
    if not _library_module(target):
        return
    _PATCHED.setdefault((id(target), name), (target, name, original))


def _library_module(module: Any) -> bool:
    """Whether ``module`` is the interpreter's or its environment's (built in, or its file
    is under their prefixes), not the tests', the solution's or the harness's."""
    where = getattr(module, "__file__", None)
    return not isinstance(where, str) or where.startswith(_LIBRARY_ROOTS)


def _library_code(fn: Any) -> bool:
    """Whether ``fn`` is a callable of a library, not one the tests defined."""
    if not callable(fn):
        return False
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    return module is None or _library_module(module)


def _runs_library_code(value: Any) -> bool:
    """Whether a test's replacement, called by the solution, would run library code in
    the tests' process: a library function itself, or a mock that wraps one or has one as
    its side effect (a mock that only records and returns is the tests' own)."""
    if _is_mock(value):
        wraps = getattr(value, "_mock_wraps", None)
        effect = getattr(value, "side_effect", None)
        raises = isinstance(effect, type) and issubclass(effect, BaseException)
        return (wraps is not None and _library_code(wraps)) or (not raises and _library_code(effect))
    return _library_code(value)


def _follow_mock(mock: Any) -> None:
    """Note what each ``unittest.mock`` patch of a module attribute replaces (decorator,
    context manager, ``start()``, ``patch.object``, ``patch.multiple``)."""
    cls = getattr(mock, "_patch", None)
    enter = getattr(cls, "__enter__", None)
    if enter is None or getattr(enter, "_mr_noted", False):
        return

    def __enter__(self: Any) -> Any:
        result = enter(self)
        original = getattr(self, "temp_original", _MISSING)
        _note_patch(getattr(self, "target", None), getattr(self, "attribute", None),
                    _MISSING if original is mock.DEFAULT else original)
        return result

    __enter__._mr_noted = True  # type: ignore[attr-defined]
    cls.__enter__ = __enter__  # type: ignore[union-attr]


def _follow_monkeypatch() -> None:
    """Note what each ``monkeypatch.setattr`` of a module attribute replaces."""
    monkeypatch = sys.modules.get("_pytest.monkeypatch")
    cls = getattr(monkeypatch, "MonkeyPatch", None)
    setattr_ = getattr(cls, "setattr", None)
    if setattr_ is None or getattr(setattr_, "_mr_noted", False):
        return
    notset = getattr(monkeypatch, "NOTSET", getattr(monkeypatch, "notset", _MISSING))

    def noting_setattr(self: Any, *args: Any, **kwargs: Any) -> Any:
        done = len(self._setattr)
        result = setattr_(self, *args, **kwargs)
        for target, name, old in self._setattr[done:]:
            _note_patch(target, name, _MISSING if old is notset else old)
        return result

    noting_setattr._mr_noted = True  # type: ignore[attr-defined]
    cls.setattr = noting_setattr  # type: ignore[union-attr]


def _generators() -> dict[str, Any]:
    """The state of each shared generator the solution's process is to follow (see
    :class:`_Shared`): each once the tests have set it."""
    rng: dict[str, Any] = {}
    if _RANDOM.sets:
        rng["random"] = _RANDOM.entry(random.getstate(), _random_text)
    if _NUMPY.sets:
        try:
            rng["numpy"] = _NUMPY.entry(_numpy_state(_NUMPY_MODULE[0]), _numpy_text)
        except Exception:  # noqa: BLE001 - a state the tests made unreadable is not carried
            pass
    return rng


def _complete(coro: Any, delegates: set[int]) -> Any:
    """Run a test's coroutine that the solution awaits to completion, on an event loop of
    its own in a thread of its own: the test's loop, if one runs, is blocked in the call
    that led to the solution awaiting it. The thread is one of ``delegates`` meanwhile:
    its calls into the solution are the waiting caller's (:meth:`Broker._turn`)."""
    import asyncio  # import cost: only a test's coroutine that the solution awaits needs it

    box: dict[str, Any] = {}

    def run() -> None:
        me = threading.get_ident()
        delegates.add(me)
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
            box["exc"] = exc
        finally:
            delegates.discard(me)

    thread = threading.Thread(target=run, name="misalign-test-coroutine", daemon=True)
    thread.start()
    thread.join()
    if "exc" in box:
        raise box["exc"]
    return box.get("value")

