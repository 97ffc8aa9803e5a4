"""Run the policy's program on one input, as the untrusted uid: contest-style stdin cases.

Trusted code (the generated tests of an ``io`` job, running in the harness's process in
isolated mode) calls :func:`run`; the program is started by the zygote like every
untrusted process (its own session, the untrusted uid, no capabilities, no_new_privs),
with a pipe as its stdin and another as its stdout, and nothing else: no stderr, no
descriptor of ours. Its stdout is read up to a cap; past the case's time the whole
process group is killed. The end of the test sweeps every process of the untrusted uid,
as for any test.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import layout, schema
from .privileges import UNTRUSTED_ENV, untrusted_uid
from .zygote import Zygote

#: The environment of a program (the same as a solution process's).
ENV = dict(UNTRUSTED_ENV)

_state: dict[str, object] = {}
#: What the judge saw between cases, for the report (harness/main.py): processes of the
#: program that outlived it (``strays``), and System V IPC objects whose ownership it
#: handed away so that a wipe as its own uid would miss them (``ipc_handed``).
_observed: schema.CaseWipes = {"strays": 0, "ipc_handed": 0}
#: The process groups the current case started (each program leads its own).
_case_groups: set[int] = set()


def configure(zygote: Zygote, solution_dir: str, contained: bool,
              solution_groups: Callable[[], frozenset[int]] | None = None,
              all_ended: Callable[[], object] | None = None) -> None:
    """Called by the harness before the tests run (isolated mode). ``solution_groups``
    gives the process groups of the current test's own solution processes (a call case's
    process, :meth:`proxy.Broker.solution_groups`): killed at the end of a case like
    everything else, but never counted as processes that outlived it. ``all_ended`` is
    told when a case's end has confirmed that no process of the untrusted uid is left
    (:meth:`proxy.Broker.all_ended`: the test's end then has nothing to kill)."""
    _state.update(zygote=zygote, solution_dir=solution_dir, contained=contained,
                  solution_groups=solution_groups, all_ended=all_ended)


@dataclass
class Ran:
    stdout: bytes
    #: exit code (negative: the signal); None when we killed it (time, output cap)
    exit_code: int | None
    timed_out: bool
    output_exceeded: bool
    wall_s: float


def build_dir() -> str:
    """A folder for a compiler's output, the untrusted uid's to write until :func:`seal`."""
    path = os.path.join(os.path.dirname(str(_state["solution_dir"])), "build")
    os.makedirs(path, mode=0o755, exist_ok=True)
    if _state.get("contained"):
        os.chown(path, untrusted_uid(), untrusted_uid())
    return path


def seal(path: str) -> None:
    """After the compile: the build folder becomes root's and read-only to the program."""
    if _state.get("contained"):
        layout.seal_tree(path)


def end_case() -> None:
    """Between two cases: no process of the untrusted uid survives, and nothing it made
    does (files in ``/tmp``, ``/dev/shm``, ``/dev/mqueue``; every System V IPC object,
    whoever owns it; its program's folder is read-only to it), so no case can pass work
    or state to the next one. Processes that outlived the program are counted, and IPC
    objects handed to another uid. One round trip to the zygote (``Zygote.end_case``)."""
    zygote = _state.get("zygote")
    groups = _case_groups_now()
    if not isinstance(zygote, Zygote) or not _state.get("contained"):
        return
    ended = zygote.end_case(groups=groups, paths=["/tmp", "/dev/shm", "/dev/mqueue"])
    _observed["strays"] += int(ended.get("strays") or 0)
    if not ended.get("gone"):
        raise RuntimeError("processes of the program would not die")
    _observed["ipc_handed"] += int(ended.get("ipc_handed") or 0)
    all_ended = _state.get("all_ended")
    if callable(all_ended):
        all_ended()


def observed() -> schema.CaseWipes:
    """What :func:`end_case` saw during this run (for the report)."""
    return _observed.copy()


def _case_groups_now() -> frozenset[int]:
    """The case's own process groups (its stdin programs', its call's solution process),
    taken: the next case starts with none."""
    groups = frozenset(_case_groups)
    _case_groups.clear()
    solution_groups = _state.get("solution_groups")
    if callable(solution_groups):
        groups |= solution_groups()
    return groups


def stop_all(*, count: bool = False) -> Zygote | None:
    """Kill every process of the untrusted uid and wait until none is left; with
    ``count``, those alive outside the case's own process groups (its stdin programs',
    and its call's solution process) are strays (as for a pytest job's solution
    processes: harness/proxy.py)."""
    zygote = _state.get("zygote")
    groups = _case_groups_now()
    if not isinstance(zygote, Zygote) or not _state.get("contained"):
        return None
    seen = zygote.end(None, sweep=True, groups=groups)[1]
    if count:
        _observed["strays"] += seen
    if not zygote.confirm_gone():
        raise RuntimeError("processes of the program would not die")
    return zygote


#: Python frames a program may nest per byte of its stack (a 256 MiB stack: about a
#: million), so that a recursive solution a judge accepts is not a RecursionError here.
STACK_BYTES_PER_FRAME = 256


def run(argv: list[str] | None, stdin: bytes, *, timeout_s: float, output_bytes: int,
        memory_bytes: int | None = None, merge_stderr: bool = False, cwd: str | None = None,
        stack_bytes: int | None = None, python: str | None = None) -> Ran:
    """``argv`` (looked up on PATH) with ``stdin``; ``merge_stderr``: its stderr goes with
    its stdout (a compiler's messages), else nowhere; ``stack_bytes``: its stack limit
    (RLIMIT_STACK; default the image's 8 MiB). With ``python`` (a file) instead of
    ``argv``: that Python program, run in a fork of the zygote (its ``python`` target:
    a fresh ``__main__``, the same pipes and limits) rather than a new interpreter, with
    a recursion limit of one frame per :data:`STACK_BYTES_PER_FRAME` of its stack."""
    zygote = _state.get("zygote")
    if not isinstance(zygote, Zygote):
        raise RuntimeError("program.run is only available inside an isolated-mode harness")
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    started = time.monotonic()
    try:
        args: dict[str, Any]
        limits = {"memory_bytes": memory_bytes, "cpu_s": int(timeout_s) + 1, "stack_bytes": stack_bytes}
        if python is not None:
            target, args = "python", {"path": python, **limits,
                                      "recursion_limit": (stack_bytes or 0) // STACK_BYTES_PER_FRAME}
        else:
            target, args = "exec", {"argv": argv, "merge_stderr": merge_stderr, **limits}
        pid = zygote.spawn(target, cwd=cwd or str(_state["solution_dir"]), env=dict(ENV), args=args,
                           fds=[in_r, out_w], contained=bool(_state["contained"]))
    except BaseException:
        for fd in (in_w, out_r):
            os.close(fd)
        raise
    finally:
        os.close(in_r)
        os.close(out_w)
    _case_groups.add(pid)
    os.set_blocking(in_w, False)
    deadline = started + timeout_s
    out = bytearray()
    pending = memoryview(stdin)
    writing: int | None = in_w
    if not pending:
        os.close(in_w)
        writing = None
    timed_out = exceeded = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            readable, writable, _ = select.select([out_r], [writing] if writing is not None else [], [], left)
            if writable and writing is not None:
                try:
                    pending = pending[os.write(writing, pending[:65536]):]
                except (BrokenPipeError, OSError):
                    pending = pending[:0]  # it stopped reading: its business
                if not pending:
                    os.close(writing)
                    writing = None
            if readable:
                chunk = os.read(out_r, 1 << 16)
                if not chunk:
                    break
                out += chunk
                if len(out) > output_bytes:
                    exceeded = True
                    del out[output_bytes:]
                    break
    finally:
        if writing is not None:
            os.close(writing)
        os.close(out_r)
    code = None
    if not (timed_out or exceeded):
        code = zygote.reap(pid, max(0.05, deadline - time.monotonic()))
        timed_out = code is None
    if code is None:
        code = zygote.end(pid, sweep=False)[0]
        if code is None:
            code = zygote.reap(pid, 1.0)
        code = None  # killed by us
    return Ran(stdout=bytes(out), exit_code=code, timed_out=timed_out, output_exceeded=exceeded,
               wall_s=time.monotonic() - started)
