"""The zygote: a trusted process that starts untrusted ones, and the harness's handle on it.

The trusted harness holds the run's key and, once collected, the tests, so it must never
fork a process that untrusted code will run in: the child would inherit its memory. The
zygote is forked from the harness as the harness starts, before it reads its stdin (the
key, the config) or any test, and at once closes every descriptor it inherited but
stderr: it never learns either. It runs as root like the harness, is non-dumpable, and
answers requests over a unix socket:

    spawn   fork; in the child: new session, the passed fds in place, every other fd
            closed, oom_score_adj 1000 (so the memory limit takes the solution, not the
            harness), no supplementary groups, the untrusted uid and gid (checked: no
            capability left, and no_new_privs, which the zygote set on itself before
            any fork), SIGPIPE at its default, the given working directory and
            environment; then run the target
            (``template``: isolated mode's solution process; ``inprocess``: the advisory
            pytest run; ``exec``: a program with pipes for stdin and stdout, for
            contest-style cases; ``python``: a Python program run in the fork itself,
            the same way)
    reap    wait (bounded) for a child and say how it ended
    end     kill a child's process group and reap it; then, if asked, count what else of
            the untrusted uid is alive and kill all of it (:func:`processes.kill_all_of`),
            or all of it but isolated mode's template (:func:`processes.kill_all_but`):
            the end of a test in one round trip
    wipe    between cases and pooled jobs: remove what the untrusted uid owns
            (:func:`wipe.wipe_untrusted`)

Both ends of the protocol are here: :class:`Zygote` is the harness's (it forks the zygote
and sends the requests, one JSON line each, with descriptors passed alongside), and
:func:`main` the zygote's own life (:func:`serve` answers each request with one line).

A fork of this small, already-initialised interpreter costs about a millisecond, against
tens of milliseconds for a new ``python`` (the zygote has one thread, so it forks without
the interpreter's after-fork hooks: :func:`processes.fork`). Pytest is imported here
only when an ``inprocess`` run is first asked for (the pooled supervisor then keeps it
warm); a zygote that serves isolated runs never has it, so an isolated solution finds no
pytest in its process. Its hash seed is the harness's: an untrusted process can learn it, which helps
it build colliding keys, and why decoding its answers is bounded in time (:mod:`wire`).

Stdlib only (pytest in its flavour); runs inside the sandbox image.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal without its enum wrapper: cheaper in a fork
import atexit
import builtins
import gc
import io
import json
import os
import resource  # a case's limits: imported once here, not in each case's fork (0.45 ms)
import select
import socket
import sys
import time
import traceback
import types
from typing import Any

from . import isolated_child, processes, wire
from .privileges import UNTRUSTED_ENV, make_nondumpable, own_status, set_no_new_privs, status_field, untrusted_uid
from .wipe import ipc_not_owned_by, wipe_untrusted

#: Bytes of one request.
MAX_REQUEST = 1 << 20


# -- the harness's end ------------------------------------------------------------------


class Zygote:
    """The harness's end of the protocol: its handle on its zygote (see the module doc)."""

    def __init__(self, sock: socket.socket, pid: int, *, reply_timeout_s: float = 30.0) -> None:
        self.sock = sock
        self.pid = pid
        self.reply_timeout_s = reply_timeout_s
        self._buf = bytearray()

    @classmethod
    def fork(cls) -> Zygote:
        """Fork the zygote off this process. Call it before this process reads anything
        secret (the key, the config, the tests): the zygote's memory is this process's
        as it is now, and it closes every inherited descriptor but stderr at once."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ours.close()
                code = main(theirs)
            except BaseException:  # noqa: BLE001 - never return into the harness's code
                code = 1
            os._exit(code)
        theirs.close()
        return cls(ours, pid)

    def _ask(self, request: dict[str, Any], fds: list[int] | tuple[int, ...] = ()) -> dict[str, Any]:
        data = json.dumps(request).encode()
        try:
            socket.send_fds(self.sock, [data], list(fds))
            deadline = time.monotonic() + self.reply_timeout_s
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    raise ZygoteError(f"the zygote did not answer {request['op']!r} in time")
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ZygoteError("the zygote is gone")
                self._buf.extend(chunk)
        except OSError as exc:
            raise ZygoteError(f"the zygote is unreachable: {exc}") from exc
        line, _, rest = bytes(self._buf).partition(b"\n")
        self._buf = bytearray(rest)
        reply = json.loads(line)
        if "error" in reply:
            raise ZygoteError(str(reply["error"]))
        return reply

    def spawn(self, target: str, *, cwd: str, env: dict[str, str], args: dict[str, Any],
              fds: list[int], contained: bool) -> int:
        """Start an untrusted process running ``target``; ``fds`` arrive in it as 3, 4, ...
        ``contained``: drop to the untrusted uid (inside the sandbox only)."""
        return int(self._ask({"op": "spawn", "target": target, "cwd": cwd, "env": env,
                              "args": args, "contained": contained}, fds)["pid"])

    def reap(self, pid: int, timeout_s: float) -> int | None:
        """The exit code of ``pid`` (negative: killed by that signal), None if it has
        not ended within ``timeout_s``."""
        status = self._ask({"op": "reap", "pid": pid, "timeout_s": timeout_s})["status"]
        return None if status is None else int(status)

    def end(self, pid: int | None, *, sweep: bool, groups: frozenset[int] = frozenset()) -> tuple[int | None, int]:
        """One round trip at the end of a test: with ``sweep``, count the untrusted
        processes outside ``pid``'s group and ``groups`` (the test's earlier solution
        processes), then SIGKILL ``pid``'s process group and, with ``sweep``, every process
        of the untrusted uid. Returns (``pid``'s exit code if it has been reaped already,
        the count)."""
        reply = self._ask({"op": "end", "pid": pid, "sweep": sweep, "groups": sorted(groups)})
        status = reply.get("status")
        return (None if status is None else int(status)), int(reply.get("strays") or 0)

    def end_test(self, pid: int | None, *, groups: frozenset[int], spare: int) -> tuple[int, bool]:
        """The end of an isolated test: count the untrusted processes outside ``pid``'s
        group, ``groups`` and ``spare``'s group, kill ``pid``'s group, then every process
        of the untrusted uid but ``spare`` (:func:`processes.kill_all_but`). Returns (the count,
        whether ``spare`` lives on)."""
        reply = self._ask({"op": "end", "pid": pid, "sweep": True, "groups": sorted(groups),
                           "spare": spare})
        return int(reply.get("strays") or 0), bool(reply.get("spared"))

    def kill_all(self) -> int:
        """SIGKILL every process of the untrusted uid; how many were alive."""
        return self.end(None, sweep=True)[1]

    def sweep(self, *, pid: int | None = None, groups: frozenset[int] = frozenset(), confirm: bool = False,
              budget_s: float = 3.0) -> tuple[int, bool]:
        """Kill ``pid``'s group (the test's solution process) and then every process of
        the untrusted uid, unconditionally; with ``confirm``, wait until none is left
        (before the report). Between tests the kill is enough: a process that has taken
        SIGKILL never runs another instruction of its own, even before it is gone.

        Returns (processes outside ``pid``'s group and ``groups`` that were alive, whether
        all are gone). The kill does not depend on finding the processes; ``/proc`` and
        the pids cgroup only count them and confirm that all are gone."""
        seen = self.end(pid, sweep=True, groups=groups)[1]
        gone = self.confirm_gone(budget_s=budget_s) if confirm else True
        return seen, gone

    def confirm_gone(self, *, budget_s: float = 3.0) -> bool:
        """After a sweep: wait until no process of the untrusted uid is left (killed ones
        take a moment to exit), killing again now and then. False if some outlive
        ``budget_s``."""
        return processes.wait_until_gone(untrusted_uid(), self.kill_all, budget_s=budget_s)

    def wipe(self, paths: list[str]) -> list[str]:
        """Remove what the untrusted uid owns under ``paths`` (see :func:`wipe.wipe_untrusted`)."""
        return list(self._ask({"op": "wipe", "paths": paths})["failed"])

    def end_case(self, *, groups: frozenset[int], paths: list[str]) -> dict[str, Any]:
        """The end of an io case in one round trip (:func:`_end_case`): count the untrusted
        processes outside ``groups``, kill every one, wait until none is left, count the
        System V objects handed to another uid, then wipe what the uid made under
        ``paths``. Returns ``strays``, ``gone``, ``ipc_handed`` and the wipe's ``failed``."""
        return self._ask({"op": "end_case", "groups": sorted(groups), "paths": paths})

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            self._reap()

    def _reap(self) -> None:
        """Wait up to 5 s for the zygote to exit (its socket is closed), then kill it."""
        for _ in range(500):
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.01)
        processes.kill_pid(self.pid)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class ZygoteError(RuntimeError):
    """The zygote failed a request: the run cannot go on safely."""


# -- the zygote's end -------------------------------------------------------------------


def _become_untrusted(fds: list[int], cwd: str, env: dict[str, str], contained: bool) -> None:
    """In a fresh fork: leave the zygote's session and files, then drop to the untrusted
    uid. Order matters: nothing untrusted runs until the uid has changed.

    Every step here is paid by every untrusted process, and each first use of a Python
    feature in a fork copies the pages it touches (about 3 us a page here): so what all
    children share is done once in the zygote (:func:`_settle`: no_new_privs, default
    signal handlers, the untrusted environment), and the rest with plain system calls
    (the signal module's wrapper, ``ctypes`` and text files cost 35-65 pages each)."""
    os.setsid()
    # The passed fds go to 3, 4, ...; 0, 1, 2 are /dev/null; everything else closes.
    moved = [os.dup(fd) for fd in fds]
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    for i, fd in enumerate(moved):
        os.dup2(fd, 3 + i)
    os.closerange(3 + len(moved), os.sysconf("SC_OPEN_MAX"))
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # the zygote's own is ignored (_settle)
    if contained:
        try:
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            try:
                os.write(fd, b"1000")
            finally:
                os.close(fd)
        except OSError:
            pass
        os.setgroups([])
        uid = untrusted_uid()
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid,) * 3 or os.getresgid() != (uid,) * 3 or not _unprivileged():
            os._exit(70)
    os.chdir(cwd)
    os.umask(0o022)
    if env != _ENVIRON:
        os.environ.clear()
        os.environ.update(env)


#: The environment the zygote gave itself (:func:`_settle`): a child asking for this one
#: has it already.
_ENVIRON: dict[str, str] = {}


def _settle() -> None:
    """What every child of the zygote would otherwise do for itself, done once, before any
    child exists: no_new_privs (inherited by every fork, never undone), the default
    handlers of SIGINT, SIGTERM and SIGCHLD (SIGPIPE stays ignored here, where a write to
    a closed socket must not kill the zygote; each child resets it), and the untrusted
    processes' environment (:data:`privileges.UNTRUSTED_ENV`; the zygote reads none)."""
    set_no_new_privs()
    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGCHLD):
        _signal.signal(sig, _signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(UNTRUSTED_ENV)
    _ENVIRON.clear()
    _ENVIRON.update(UNTRUSTED_ENV)
    # Out of the collector's sight for good: a child's collection (a Python program's end
    # collects, as the interpreter's does) then scans only what was made after, instead
    # of touching, and so copying, every page of the zygote's objects.
    gc.collect()
    gc.freeze()


def _unprivileged() -> bool:
    """Whether this process has no effective capability and no_new_privs set (one read
    of ``/proc/self/status``)."""
    status = own_status()
    caps, nnp = status_field(status, b"CapEff"), status_field(status, b"NoNewPrivs")
    try:
        if caps is None or int(caps, 16) != 0:
            return False
        if nnp is None:  # Linux before 4.10 does not say: set it (again)
            return set_no_new_privs()
        return int(nnp) == 1
    except ValueError:
        return False


def _exec_program(args: dict[str, Any]) -> None:
    """``exec``: a program of the untrusted uid with fd 3 as its stdin and fd 4 as its
    stdout (contest-style cases, harness/program.py); stderr stays /dev/null."""
    os.dup2(3, 0)
    os.dup2(4, 1)
    if args.get("merge_stderr") is True:
        os.dup2(4, 2)  # a compiler's messages are its output
    os.close(3)
    os.close(4)
    _case_limits(args)
    argv = [str(a) for a in args["argv"]]
    os.execvpe(argv[0], argv, dict(os.environ))


def _case_limits(args: dict[str, Any]) -> None:
    """One case's limits: address space, CPU seconds and a contest judge's stack, as
    large as the case's memory (a deep DFS, a big local array), not the default 8 MiB
    (set before ``exec``, which lays out the new stack)."""
    memory = args.get("memory_bytes")
    if isinstance(memory, int) and memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = args.get("cpu_s")
    if isinstance(cpu, int) and cpu > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    stack = args.get("stack_bytes")
    if isinstance(stack, int) and stack > 0:
        hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
        if hard != resource.RLIM_INFINITY:
            stack = min(stack, hard)
        resource.setrlimit(resource.RLIMIT_STACK, (stack, hard))


def _program_stdio() -> tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper]:
    """A Python program's standard streams on fds 0, 1 and 2, made as ``python -I`` makes
    them on POSIX in the image's C.UTF-8 locale: UTF-8, ``surrogateescape`` errors
    (``backslashreplace`` for stderr), no newline translation, buffered as ``open``
    buffers that file, stderr line-buffered, named ``<stdin>``... Each stream asks its
    file once, as it is made, whether it can seek and how large its blocks are."""
    streams = []
    for fd, mode, errors, name in ((0, "r", "surrogateescape", "<stdin>"), (1, "w", "surrogateescape", "<stdout>"),
                                   (2, "w", "backslashreplace", "<stderr>")):
        raw = io.FileIO(fd, mode, closefd=False)
        raw.name = name
        size = os.fstat(fd).st_blksize  # what open() buffers by
        buffering = size if size > 1 else io.DEFAULT_BUFFER_SIZE
        buffer = io.BufferedReader(raw, buffering) if mode == "r" else io.BufferedWriter(raw, buffering)
        stream = io.TextIOWrapper(buffer, encoding="utf-8", errors=errors, newline="\n", line_buffering=fd == 2)
        stream.mode = mode  # type: ignore[misc]  # as open() and the interpreter set it
        streams.append(stream)
    return streams[0], streams[1], streams[2]


#: The streams of every Python program this zygote starts (:func:`_python_program`), made
#: once, before its first such fork (:func:`_make_program_stdio`), and never used here:
#: each fork starts with its own untouched copy instead of making them (about 75 pages
#: copied and a quarter of a millisecond, per case).
_PROGRAM_STDIO: tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper] | None = None


def _make_program_stdio() -> None:
    """:data:`_PROGRAM_STDIO`, made while fds 0 and 1 are a pipe and 2 is ``/dev/null``,
    as in a case (a program's stdin and stdout are pipes, its stderr ``/dev/null``), so
    what each stream learnt of its file as it was made holds there; the zygote's own
    fds are put back."""
    global _PROGRAM_STDIO
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    read_end, write_end = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd, target in ((read_end, 0), (write_end, 1), (null, 2)):
            os.dup2(fd, target)
        _PROGRAM_STDIO = _program_stdio()
        gc.freeze()  # as in _settle: no child's collection scans them
    finally:
        for target, fd in enumerate(saved):
            os.dup2(fd, target)
            os.close(fd)
        for fd in (read_end, write_end, null):
            os.close(fd)


def _python_program(args: dict[str, Any]) -> None:
    """``python``: a Python program run in this fork, as ``python -I -B`` would run it in
    a new process (a contest-style stdin case, harness/program.py) at a fork's cost: a
    fresh ``__main__``, fd 3 as its stdin and fd 4 as its stdout (stderr /dev/null), its
    own argv, the case's limits, a recursion limit its stack allows, its own ``atexit``.
    The zygote has nothing secret to inherit (see the module doc), as for ``template``."""
    os.dup2(3, 0)
    os.dup2(4, 1)
    os.close(3)
    os.close(4)
    _case_limits(args)
    path = str(args["path"])
    sys.setrecursionlimit(max(1000, int(args.get("recursion_limit") or 1000)))
    stdin, stdout, stderr = _PROGRAM_STDIO or _program_stdio()
    # the program's own process: the interpreter's original streams (sys.__std*__) are these too
    sys.stdin = sys.__stdin__ = stdin  # type: ignore[misc]
    sys.stdout = sys.__stdout__ = stdout  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = stderr  # type: ignore[misc]
    sys.argv[:] = [path]
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __builtins__=builtins, __cached__=None)
    sys.modules["__main__"] = main
    atexit._clear()
    code = 0
    try:
        with open(path, "rb") as f:  # closed before the program runs, as the interpreter does
            source = f.read()
        exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 - as the interpreter: a traceback, exit code 1
        traceback.print_exc()
        code = 1
    os._exit(_finish(code, main))


def _finish(code: int, main: types.ModuleType) -> int:
    """The end of a Python program, in the order of the interpreter's own end
    (``Py_FinalizeEx``): the threads it started that are not daemons joined; its
    ``atexit`` functions run; ``sys.stdout`` and ``sys.stderr`` flushed unless closed (one
    failing to flush makes the exit code 120); what it left in ``__main__`` released and
    collected, so an object finalized there does what it does at an interpreter's end (a
    file it opened on fd 1 writes out what it holds); the two streams flushed again.
    Returns the exit code."""
    threads = sys.modules.get("threading")
    if threads is not None:
        try:
            threads._shutdown()
        except BaseException:  # noqa: BLE001 - as the interpreter: reported, not fatal
            traceback.print_exc()
    atexit._run_exitfuncs()
    flushed = _flush_std()
    main.__dict__.clear()
    gc.collect()
    if not (_flush_std() and flushed):
        code = code or 120
    return code


def _flush_std() -> bool:
    """Flush ``sys.stdout`` and ``sys.stderr``, each unless closed; False when one fails."""
    ok = True
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name, None)
        if stream is None:
            continue
        try:
            closed = bool(stream.closed)
        except BaseException:  # noqa: BLE001 - as the interpreter: a stream that cannot say is left alone
            continue
        if closed:
            continue
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - as the interpreter: an unflushable stream is exit code 120
            ok = False
    return ok


def _exit_code(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _run_target(target: str, args: dict[str, Any], nfds: int) -> None:
    if target == "exec":
        _exec_program(args)
    elif target == "python":
        _python_program(args)
    elif target == "template":
        isolated_child.serve_template(wire, 3, str(args["solution_dir"]))
    elif target == "inprocess":
        # import cost of forked processes: imported (with pytest) by _spawn, only in a
        # zygote asked for an inprocess run; a zygote serving isolated runs never has it
        from . import inprocess_child

        sys.exit(inprocess_child.main(args, record_fd=3))
    else:
        os._exit(71)


def _spawn(request: dict[str, Any], fds: list[int]) -> int:
    contained = request.get("contained") is True
    if request.get("target") == "inprocess":
        # import cost of forked processes: imported here, before the fork, so every later
        # inprocess run of this zygote starts warm; an isolated run never gets here, so its
        # solution processes (forks of this zygote) never hold pytest.
        import pytest  # noqa: F401

        from . import collect, inprocess_child  # noqa: F401 - import cost of forked processes (as pytest)
    if request.get("target") == "python" and _PROGRAM_STDIO is None:
        _make_program_stdio()
    pid = processes.fork()  # the zygote has one thread: no after-fork hooks to run
    if pid == 0:
        code = 0
        try:
            _become_untrusted(fds, str(request["cwd"]), dict(request.get("env") or {}), contained)
            _run_target(str(request["target"]), dict(request.get("args") or {}), len(fds))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - a child never returns into the zygote
            code = 1
        os._exit(code)
    return pid


def _end(request: dict[str, Any], children: _Children) -> dict[str, Any]:
    """Count what of the untrusted uid is alive outside a test's process group, kill the
    group, then kill all of the untrusted uid: one round trip for the harness. The
    killed processes are reaped as they exit, not waited for."""
    pid = request.get("pid")
    pid = pid if isinstance(pid, int) and pid > 1 and pid != os.getpid() else None
    sweep = bool(request.get("sweep")) and os.geteuid() == 0  # only the sandbox's trusted side
    groups = frozenset(g for g in request.get("groups") or () if isinstance(g, int))
    spare = request.get("spare")
    # Isolated mode's template: the one untrusted process the harness keeps between tests.
    spare = spare if isinstance(spare, int) and spare > 1 else None
    if pid is not None:
        groups |= {pid}
    if spare is not None:
        groups |= {spare}
    spared = False
    if sweep and spare is not None:
        # one scan both counts what outlived its test and starts the kill
        if pid is not None:
            processes.kill_group(pid)
        spared, strays = processes.kill_all_but(untrusted_uid(), spare, reap=children.collect,
                                                outside_groups=groups)
    else:
        strays = processes.strays(untrusted_uid(), outside_groups=groups) if sweep else 0
        if pid is not None:
            processes.kill_group(pid)
        if sweep:
            processes.kill_all_of(untrusted_uid())
    children.collect()
    status = children.status.pop(pid, None) if pid is not None else None
    return {"status": status, "strays": strays, "spared": spared}


def _end_case(request: dict[str, Any], children: _Children, budget_s: float = 3.0) -> dict[str, Any]:
    """:meth:`Zygote.end_case`, here: what the harness did in three requests and a wait of
    its own (end, confirm, wipe), in the same order, nothing untrusted left alive before
    anything is counted or wiped."""
    if os.geteuid() != 0:
        raise RuntimeError("only the sandbox's trusted side (root) can end a case")
    deadline = time.monotonic() + budget_s
    ended = _end({"pid": None, "sweep": True, "groups": request.get("groups") or []}, children)
    children.wait_all(budget_s)  # the kill's own children: woken as each ends, not polled
    uid = untrusted_uid()
    gone = processes.wait_until_gone(uid, lambda: processes.kill_all_of(uid),
                                     budget_s=max(0.0, deadline - time.monotonic()),
                                     meanwhile=children.collect)
    children.collect()
    if not gone:
        return {"strays": ended["strays"], "gone": False, "ipc_handed": 0, "failed": []}
    handed = ipc_not_owned_by(uid)
    failed = wipe_untrusted([str(p) for p in request.get("paths") or []])
    return {"strays": ended["strays"], "gone": True, "ipc_handed": handed, "failed": failed}


class _Children:
    """Exit statuses of this zygote's children, collected as they end, and the children
    not yet collected (whose pids no other process can have)."""

    def __init__(self) -> None:
        self.status: dict[int, int] = {}
        self.live: set[int] = set()

    def started(self, pid: int) -> None:
        # An exit status kept for an earlier child with this pid (the counter wrapped)
        # is not this child's.
        self.status.pop(pid, None)
        self.live.add(pid)

    def collect(self) -> None:
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.live.discard(pid)
            self.status[pid] = os.waitstatus_to_exitcode(st)
            if len(self.status) > 10_000:
                self.status.pop(next(iter(self.status)))

    def wait(self, pid: int, timeout_s: float) -> int | None:
        deadline = time.monotonic() + timeout_s
        woken = False
        while True:
            self.collect()
            if pid in self.status:
                return self.status.pop(pid)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if pid in self.live and not woken and _until_exited([pid], left):
                woken = True  # once: a kernel that wakes us at the leader's exit, while
                continue      # its other threads run on, must not make this a busy loop
            time.sleep(0.0005)  # not a child of ours, no pidfds here, or not reapable yet

    def wait_all(self, timeout_s: float) -> None:
        """Until every child not yet collected has exited (the end of a case has killed
        them all), or ``timeout_s``; then collect them."""
        self.collect()
        if self.live:
            _until_exited(sorted(self.live), timeout_s)
            self.collect()


def _until_exited(pids: list[int], timeout_s: float) -> bool:
    """Block until each of ``pids`` (children of this process, not yet reaped, so no
    other process can have their pids) has exited, or ``timeout_s`` has passed: the
    kernel wakes us as each one ends (a pidfd is readable then), where polling would
    sleep past it. False where pidfds are not available (Linux before 5.3): the caller
    polls instead."""
    fds: list[int] = []
    try:
        for pid in pids:
            try:
                fds.append(os.pidfd_open(pid))
            except ProcessLookupError:
                continue  # already reaped
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + timeout_s
        pending = len(fds)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for fd, _ in poller.poll(left * 1000):
                poller.unregister(fd)
                pending -= 1
        return True
    except (AttributeError, OSError):
        return False
    finally:
        for fd in fds:
            os.close(fd)


def serve(sock: socket.socket) -> None:
    children = _Children()
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 8)
        except (OSError, ValueError):
            return
        if not data:
            return  # the harness is gone
        try:
            request = json.loads(data)
            op = request["op"]
            if op == "spawn":
                pid = _spawn(request, fds)
                children.started(pid)
                reply: dict[str, Any] = {"pid": pid}
            elif op == "reap":
                reply = {"status": children.wait(int(request["pid"]), float(request["timeout_s"]))}
            elif op == "end":
                reply = _end(request, children)
            elif op == "wipe":
                children.collect()
                reply = {"failed": wipe_untrusted([str(p) for p in request["paths"]])}
            elif op == "end_case":
                reply = _end_case(request, children)
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as exc:  # noqa: BLE001 - the harness gets the error, the zygote lives on
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        children.collect()
        try:
            sock.sendall(json.dumps(reply).encode() + b"\n")
        except OSError:
            return


def main(sock: socket.socket) -> int:
    """The zygote's life, in a fresh fork of the harness: let go of everything inherited
    but the socket and stderr, then serve."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the harness's stdin still holds the key, unread: not ours
    os.dup2(null, 1)  # the container's stdout is the harness's alone
    os.close(null)
    keep = sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    make_nondumpable()
    sys.dont_write_bytecode = True
    _settle()
    serve(sock)
    return 0
