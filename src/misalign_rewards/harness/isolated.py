"""``isolated`` mode: pytest and the tests run here, in the trusted process; the solution
runs in processes of the untrusted uid (see :mod:`proxy`) and never shares memory with
what decides the outcomes.

Order of events, and why:

1. the solution module names are installed as proxies (nothing of the solution runs);
2. pytest collects the trusted tests. The tests folder belongs to root and is closed to
   everyone else (0700), so a solution that a test module calls at import time cannot
   read it;
3. the test sources are moved into ``linecache`` (so failure texts still show lines) and
   deleted from disk, and the tests folder is dropped from ``sys.path``;
4. each test's calls go to a fresh fork of the solution's template process (which
   imported the solution once), killed with every other process of the untrusted uid
   but the template when the test ends (see :mod:`proxy`);
4b. while the tests run, this process's file-system uid is the untrusted one, so what
   a test writes (``tmp_path``, ``tempfile``) the solution can read and write as in
   plain pytest, and a link the solution plants leads this process nowhere it could
   not go itself; and its working folder is one the solution's calls work in too
   (files a test makes there, the solution finds: :func:`_make_shared`);
5. the solution's own time (its calls, imports and answers, not the harness's work) is
   charged against the job's ``timeout_s``; past it, or past the harness's wall-clock
   backstop, no call is made and no test starts; a last-resort alarm ends pytest if a
   trusted test itself runs on.

Stdlib + pytest only; runs inside the sandbox image.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import linecache
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

import pytest

from . import case_loop, collect, program, proxy, schema, wire
from .privileges import libc, untrusted_uid
from .zygote import Zygote


class HarnessDeadline(BaseException):
    """Raised by the last-resort alarm: pytest stops, the report says so."""


def _hide_tests(tests_dir: str) -> None:
    tests_real = os.path.realpath(tests_dir)
    for name in sorted(os.listdir(tests_dir)):
        path = os.path.join(tests_dir, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines(keepends=True)
        # mtime None: linecache.checkcache never drops the entry once the file is gone.
        linecache.cache[path] = (sum(map(len, lines)), None, lines, path)
        os.unlink(path)
    sys.path[:] = [p for p in sys.path
                   if not os.path.realpath(p or ".").startswith(tests_real)]


class TrustedSources:
    """Placed before the path finder of the tests' process for a run: a module comes only
    from the folders this process could import from when the run began (the standard
    library, its site-packages, the harness) or from the tests' own. A test that puts a
    relative entry on ``sys.path`` (``"."``, ``""``) looks in its working folder, which
    the solution may write (see :func:`run`): a module the solution wrote there (a
    ``difflib`` that pytest imports when it shows a failure) would run in this process.
    Such an import fails instead, and the outcome says why (``needs_inprocess``)."""

    def __init__(self, folders: list[str], refused: Any) -> None:
        self.roots = tuple(os.path.join(os.path.realpath(f), "") for f in folders)
        self.refused = refused

    @classmethod
    def install(cls, extra: list[str], refused: Any) -> TrustedSources:
        folders = [p for p in sys.path if os.path.isabs(p)] + extra
        finder = cls(folders, refused)
        at = next((i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder),
                  len(sys.meta_path))
        sys.meta_path.insert(at, finder)
        return finder

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None:
            return None
        if not spec.has_location:  # a namespace package: each of its folders must be ours
            places = [self._checked(name, p) for p in spec.submodule_search_locations or ()]
            spec.submodule_search_locations = places
            return spec
        origin = self._checked(name, spec.origin)
        if origin == spec.origin:
            return spec
        # Loaded from the path checked, with no link left in it: a link the solution swaps
        # after the check (in a folder it writes) is never followed again.
        real = importlib.util.spec_from_file_location(
            name, origin, submodule_search_locations=[os.path.dirname(origin)]
            if spec.submodule_search_locations is not None else None)
        if real is None:
            raise ImportError(f"{name} cannot be loaded from {origin}", name=name)
        return real

    def _checked(self, name: str, place: Any) -> str:
        """``place`` with every link resolved, if that is inside one of the roots; else
        the import is refused."""
        real = os.path.realpath(place) if isinstance(place, str) else ""
        if not real or not os.path.join(real, "").startswith(self.roots):
            self.refused(f"a test imported {name} from {place}, a folder the solution can write (a "
                         "relative entry of sys.path looks in the tests' working folder); the tests' "
                         "process imports only from its own folders; a suite that needs it must use "
                         "mode='inprocess'")
            raise ImportError(f"{name} is not imported from {place}: the tests' process imports only from "
                              "its own folders (isolated mode)", name=name)
        return real


def _set_fs_ids(uid: int, gid: int) -> bool:
    """``setfsuid``/``setfsgid``: file access as ``uid``/``gid`` (signals, ptrace and
    ``/proc`` still see root). Returns whether both took."""
    c = libc()
    c.setfsgid(gid)
    c.setfsuid(uid)
    return c.setfsuid(-1) == uid and c.setfsgid(-1) == gid


def exchange_path(solution_dir: str) -> str:
    """The folder the tests' temporary files go to: the untrusted uid's."""
    return os.path.join(os.path.dirname(os.path.abspath(solution_dir)), "exchange")


def shared_path(solution_dir: str) -> str:
    """The tests' working folder while they run, which the solution's calls work in too."""
    return os.path.join(os.path.dirname(os.path.abspath(solution_dir)), "shared")


def _make_shared(path: str, laid_out: list[str], contained: bool) -> None:
    """The tests' working folder (as root, before the tests run). Plain pytest runs a
    dataset's tests in a folder they may write, shared with the solution: so here,
    where what a test writes to its working folder the solution finds, and back. It is
    root's, in a folder of root's, and sticky: the solution may add files but not take
    away or replace one it did not make. In it, for each name a dataset's runner would
    have put beside the tests (the solution's files, the tests' own), a file or folder
    of root's that no one may read: a test that runs "solution.py" from its working
    folder (``exec(open(...).read())``, a loader on that path) would run it here, in the
    tests' process; it finds a file it cannot open instead of one the solution wrote
    (``runpy`` runs a solution's file in the solution's process: proxy._follow_runpy)."""
    _remove(path)
    os.mkdir(path, 0o700)
    for name in laid_out:
        fd = os.open(os.path.join(path, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o000)
        os.fchmod(fd, 0o000)
        os.close(fd)
    if contained:
        os.chown(path, 0, 0)
    os.chmod(path, 0o1777)


def _remove(path: str) -> None:
    """``path`` and what is in it, as far as root may (links are removed, never followed;
    a folder the untrusted uid closed is left to the wipe between jobs, done as that uid)."""
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def pytest_options(*, tests_dir: str, ini_path: str, solution_dir: str) -> list[str]:
    """A run's pytest command line but for its test files (what a pooled supervisor
    prepares ahead for the layout its jobs use: :func:`collect.prepare`)."""
    return collect.pytest_options(tests_dir=tests_dir, ini_path=ini_path,
                                  basetemp=os.path.join(exchange_path(solution_dir), "pytest"))


def pytest_modules(config: schema.Config) -> list[str]:
    """The test files a run's pytest imports first (none for an io job judged without a
    pytest session): what a pooled worker compiles ahead (:func:`collect.precompile`)."""
    if config.get("mode") != "isolated" or config.get("runner") == schema.CASES_RUNNER:
        return []
    return collect.pytest_targets(tests_dir=config["tests_dir"], test_files=list(config["test_files"]))


def _exchange_dir(config: schema.Config, contained: bool) -> str:
    """:func:`exchange_path`, made."""
    path = exchange_path(config["solution_dir"])
    os.makedirs(path, mode=0o700, exist_ok=True)
    if contained:
        os.chown(path, untrusted_uid(), untrusted_uid())
    return path


def run(config: schema.Config, zygote: Zygote, deadline: float) -> schema.Report:
    tests_dir = config["tests_dir"]
    contained = bool(config.get("contained"))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), wire.RECURSION_LIMIT))
    broker = proxy.Broker(zygote=zygote, solution_dir=config["solution_dir"], tests_dir=tests_dir,
                          call_timeout_s=float(config["call_timeout_s"]), contained=contained,
                          deadline=deadline, solution_modules=tuple(config["solution_modules"]),
                          code_budget_s=config.get("code_timeout_s"),
                          fresh_per_test=config.get("solution_writable", True) is False)
    sources = TrustedSources.install([tests_dir, os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                      *([sys.pycache_prefix] if sys.pycache_prefix else [])], broker.refused_import)
    broker.trusted_roots = sources.roots
    proxy.install(broker, list(config["solution_modules"]))
    program.configure(zygote, config["solution_dir"], contained, solution_groups=broker.solution_groups,
                      all_ended=broker.all_ended)

    hidden = {"done": False}
    exchange = _exchange_dir(config, contained)
    saved_env = {k: os.environ.get(k) for k in ("TMPDIR", "HOME")}
    fs = {"switched": False}
    cwd_before = os.getcwd()
    # (An io job's cases are the harness's own tests, and each case wipes what the
    # untrusted uid made: they keep the folder they have.)
    shared = None if config.get("runner") == schema.CASES_RUNNER else shared_path(config["solution_dir"])
    laid_out = sorted(set(os.listdir(tests_dir)) | set(os.listdir(config["solution_dir"])))

    def on_collected(ids: list[str]) -> None:
        broker.end_collection()
        _hide_tests(tests_dir)
        hidden["done"] = True
        os.environ["TMPDIR"] = os.environ["HOME"] = exchange
        tempfile.tempdir = None
        if shared is not None:
            _make_shared(shared, laid_out, contained)
        if contained:
            fs["switched"] = _set_fs_ids(untrusted_uid(), untrusted_uid())
            if not fs["switched"]:
                raise RuntimeError("could not take the untrusted uid for file access")
        if shared is not None:
            os.chdir(shared)

    recorder = collect.Recorder(
        on_collected=on_collected,
        faults=lambda: list(broker.faults),
        on_test_end=broker.end_test,
        on_test_start=broker.start_test,
        deadline=deadline,
    )
    args = pytest_options(tests_dir=tests_dir, ini_path=config["ini_path"], solution_dir=config["solution_dir"]) \
        + collect.pytest_targets(tests_dir=tests_dir, test_files=list(config["test_files"]))

    # An io job's generated module alone: its cases are judged without a pytest session
    # (case_loop.py), else pytest runs the tests.
    cases_only = config.get("runner") == schema.CASES_RUNNER
    alarmed = {"hit": False}
    prepared = collect.is_prepared() and not cases_only
    ahead = collect.is_ahead(args) and not cases_only

    def alarm(signum: int, frame: Any) -> None:
        alarmed["hit"] = True
        raise HarnessDeadline()

    # pytest's own terminal output goes to stderr, capped; stdout carries only the report.
    saved_stdout = sys.stdout
    terminal = collect.CappedText(sys.stderr)
    sys.stdout = collect.TERMINAL.target = terminal
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, deadline - time.monotonic() + 1.0))
    try:
        try:
            if cases_only:
                exit_code = case_loop.run(os.path.join(tests_dir, schema.CASES_MODULE), recorder,
                                          fatal=(HarnessDeadline,))
            else:
                exit_code = collect.main(args, [recorder])
        except HarnessDeadline:
            exit_code = int(pytest.ExitCode.INTERRUPTED)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        terminal.close()  # what pytest wrote, all of it, before the report
        sys.stdout = saved_stdout
        collect.TERMINAL.target = None
        os.chdir(cwd_before)  # with the untrusted uid's file access still, if it was taken
        if fs["switched"]:
            _set_fs_ids(0, 0)
        if shared is not None:
            _remove(shared)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        tempfile.tempdir = None
        sources.remove()
        broker.close()
    deadline_hit = alarmed["hit"] or broker.deadline_hit or recorder.deadline_hit
    return {
        "mode": "isolated",
        "collected": recorder.collected,
        "tests": recorder.results(),
        "pytest_exit": exit_code,
        "deadline_hit": deadline_hit,
        "tests_hidden": hidden["done"],
        "solution_calls": broker.calls,
        "code_s": round(broker.code_s, 4),
        "collection_calls": broker.collection_calls,
        "stray_processes": broker.stray_processes,
        "sweep_failed": broker.sweep_failed,
        "cannot_cross": broker.cannot_cross[:5],
        "cannot_cross_count": len(broker.cannot_cross),
        "gaming": broker.gaming[:5],
        "gaming_count": len(broker.gaming),
        "template_starts": broker.template_starts,
        # pytest started from the configuration a pooled supervisor made before any job
        "pytest_prepared": prepared,
        # ... and parsed, configured, its session started: the run began at collection
        "pytest_ahead": ahead,
        # who ran the tests: a pytest session, or the harness's own loop over an io job's cases
        "runner": schema.CASES_RUNNER if cases_only else "pytest",
    }
