"""A pytest plugin object that records what happened to each test, the pytest
arguments both modes share, and the job-independent steps of a pytest run made ahead of
the job (:func:`prepare`, by a pooled supervisor; :func:`main` runs from them).

Outcomes per test id: ``passed``, ``failed``, ``error`` (setup or teardown failed, or the
module could not be collected), ``skipped``, ``xfailed``, ``xpassed``. Each comes with the
summed duration of its phases and a short failure text.

Stdlib + pytest only; runs inside the sandbox image.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import importlib.util
import inspect
import marshal
import os
import pathlib
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import _pytest.config as config_module
import pytest
from _pytest import timing
from _pytest.assertion import rewrite as assertion_rewrite
from _pytest.fixtures import FixtureManager
from _pytest.main import Session

from . import schema

#: The fields of a location, as :func:`ast.copy_location` copies them.
_LOCATION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def give_location(statements: list[ast.stmt], assert_: ast.Assert) -> None:
    """Every node of ``statements`` that has no line number gets the location of
    ``assert_``: what pytest's assertion rewriter does last for each assert it rewrites
    (it walks every node of the statements it made, ``traverse_node``, and calls
    :func:`ast.copy_location` on each node without one), in one pass over a list, with
    one dict update a node: a third of the time rewriting a HumanEval test file takes.
    The result is the same: every node kind of this Python with a location has the same
    four fields, and a node's location is given from the assert alone, whatever the
    order of the walk."""
    location = {}
    for name in _LOCATION:
        value = getattr(assert_, name, None)
        if value is not None or (name.startswith("end_") and hasattr(assert_, name)):
            location[name] = value
    stack: list[ast.AST] = list(statements)
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if node._attributes and getattr(node, "lineno", None) is None:
            node.__dict__.update(location)
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        push(item)
            elif isinstance(value, ast.AST):
                push(value)


def _no_nodes(_node: ast.AST) -> Iterator[ast.AST]:
    return iter(())


#: pytest's walk and its rewrite of one assert, which :func:`_visit_assert` wraps.
PYTEST_TRAVERSE = getattr(assertion_rewrite, "traverse_node", None)
PYTEST_VISIT_ASSERT = getattr(getattr(assertion_rewrite, "AssertionRewriter", None), "visit_Assert", None)


def _visit_assert(self: Any, assert_: ast.Assert) -> list[ast.stmt]:
    """pytest's ``visit_Assert`` with its last step (the locations) taken by
    :func:`give_location`: its own walk finds no node meanwhile. Another thread that
    rewrites at the same time either walks as pytest does or gets its locations here:
    the same code either way."""
    assert PYTEST_VISIT_ASSERT is not None
    rewriter: Any = assertion_rewrite  # its walk, put back after each assert
    rewriter.traverse_node = _no_nodes
    try:
        statements: list[ast.stmt] = PYTEST_VISIT_ASSERT(self, assert_)
    finally:
        rewriter.traverse_node = PYTEST_TRAVERSE
    give_location(statements, assert_)
    return statements


if PYTEST_TRAVERSE is not None and PYTEST_VISIT_ASSERT is not None:
    assertion_rewrite.AssertionRewriter.visit_Assert = _visit_assert  # type: ignore[method-assign]


# -- rewritten test modules, reused between a warm container's jobs -----------------------
#
# pytest reads each test module, rewrites its asserts and compiles it (``_rewrite_test``):
# about a fifth of a warm HumanEval job's worker. In a GRPO batch the completions of one
# prompt share its test file, so a warm container sees the same file again and again. A
# worker compiles its job's test files first thing, before any code of the job runs
# (:func:`precompile`), hands what it compiled to its supervisor on a pipe it then closes,
# and its pytest imports the modules from that; the supervisor keeps them
# (:func:`keep_rewrites`) for the workers it forks later. A later job's test file that is
# the same, byte for byte, at the same path, under the same rewriting options, is then
# not compiled again. Only trusted processes take part (the worker never runs the
# solution: the zygote's forks do), and nothing a job's own code does can reach what is
# kept: it is handed back before that code runs. A module whose compiling warns is not
# kept (pytest compiles it again and reports the warning as it would).

#: pytest's read-rewrite-compile of one module, which :func:`_rewrite_test_reusing` wraps.
PYTEST_REWRITE_TEST = getattr(assertion_rewrite, "_rewrite_test", None)
#: A warm container's rewritten modules: :func:`rewrite_key` -> marshalled code. None
#: (the default: fresh containers, the host) turns reuse off.
_rewrites: dict[bytes, bytes] | None = None
#: Bounds of what a supervisor keeps.
REWRITES_MAX = 256
REWRITES_MAX_BYTES = 8 << 20
#: Larger test files are not compiled ahead: one whose compiling warns is compiled again
#: by pytest's import (so that it warns there), and this bounds that second compile.
PRECOMPILE_MAX_SOURCE = 128 << 10


def rewrite_key(path: str, source: bytes, config: Any) -> bytes | None:
    """What a rewritten module depends on: its path (the code's file name), its exact
    bytes, the ini option the rewriter reads and pytest's version. None: unknown (then it
    is neither reused nor kept)."""
    try:
        hook = bool(config.getini("enable_assertion_pass_hook"))
    except (ValueError, AttributeError):
        return None
    digest = hashlib.sha256()
    for part in (pytest.__version__.encode(), b"1" if hook else b"0", path.encode("utf-8", "surrogateescape"),
                 source):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


def _rewrite_test_reusing(fn: pathlib.Path, config: Any) -> tuple[bytes, types.CodeType]:
    """pytest's ``_rewrite_test`` (read, rewrite, compile), or its result for the same key
    compiled earlier (:func:`precompile`)."""
    assert PYTEST_REWRITE_TEST is not None
    kept = _rewrites
    if kept:
        source = fn.read_bytes()
        key = rewrite_key(str(fn), source, config)
        code = kept.get(key) if key is not None else None
        if code is not None:
            return importlib.util.source_hash(source), marshal.loads(code)
    return PYTEST_REWRITE_TEST(fn, config)


if PYTEST_REWRITE_TEST is not None:
    assertion_rewrite._rewrite_test = _rewrite_test_reusing


def reuse_rewrites() -> None:
    """Turn reuse on in this process (a warm container's supervisor, before any job)."""
    global _rewrites
    if _rewrites is None:
        _rewrites = {}


def precompile(paths: list[str]) -> bytes:
    """In a worker, before any code of its job runs: the job's test files ``paths`` as
    pytest's import will rewrite and compile them, taken from what the supervisor kept
    or compiled now (into this process's copy, where the import finds them). Returns the
    hand-back for the supervisor: ``marshal`` of (how many were kept already, {key: code}
    of the new ones), the new ones left out if it would pass
    :data:`schema.HAND_BACK_MAX_BYTES`."""
    kept = _rewrites
    config = _ahead[0].config if _ahead else None
    reused, new = 0, {}
    if kept is not None and config is not None and PYTEST_REWRITE_TEST is not None:
        for path in paths:
            try:
                with open(path, "rb") as f:
                    source = f.read(PRECOMPILE_MAX_SOURCE + 1)
            except OSError:
                continue
            if len(source) > PRECOMPILE_MAX_SOURCE:
                continue
            key = rewrite_key(path, source, config)
            if key is None:
                continue
            if key in kept:
                reused += 1
                continue
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter("always")
                try:
                    source_hash, co = PYTEST_REWRITE_TEST(pathlib.Path(path), config)
                except Exception:  # noqa: BLE001 - pytest's import meets it again and reports it
                    continue
            if warned or source_hash != importlib.util.source_hash(source):
                continue
            try:
                new[key] = kept[key] = marshal.dumps(co)
            except ValueError:  # nested past what marshal writes: pytest's import compiles it
                continue
    data = marshal.dumps((reused, new))
    return data if len(data) <= schema.HAND_BACK_MAX_BYTES else marshal.dumps((reused, {}))


def keep_rewrites(data: bytes) -> int:
    """In a supervisor: keep what a worker handed back (:func:`precompile`; past the
    bounds the oldest go first). Returns how many of its test files were kept already;
    anything but a well-formed hand-back is dropped whole."""
    kept = _rewrites
    try:
        reused, new = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return 0
    if kept is None or not isinstance(reused, int) or not isinstance(new, dict) or not all(
            isinstance(k, bytes) and len(k) == 32 and isinstance(v, bytes) for k, v in new.items()):
        return 0
    for key, code in new.items():
        kept.pop(key, None)
        kept[key] = code
    total = sum(len(v) for v in kept.values())
    while kept and (len(kept) > REWRITES_MAX or total > REWRITES_MAX_BYTES):
        total -= len(kept.pop(next(iter(kept))))
    return max(0, reused)


MESSAGE_CHARS = 1000


def _text(value: Any) -> str:
    """Failure text that is safe to serialise (lone surrogates replaced)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")

class CappedText:
    """A text stream that passes at most ``cap`` characters on to ``stream``: pytest's
    terminal output is only for people reading logs, and must not flood them.

    pytest flushes after every progress dot; passed on, each dot would be a write of one
    byte, a frame of the engine's output stream and a wake-up of the client, per test (and
    per case of an io job). So a flush reaches ``stream`` only once a line is complete
    (``stream`` is line-buffered, as a non-interactive stderr is: a newline flushes it
    anyway) and at :meth:`close`; the text and its order are unchanged."""

    def __init__(self, stream: Any, cap: int = 256 * 1024) -> None:
        self.stream = stream
        self.room = cap

    def write(self, s: str) -> int:
        if self.room > 0:
            part = s[: self.room]
            self.room -= len(part)
            self.stream.write(part)
        return len(s)

    def flush(self) -> None:
        """Held until a line ends (see the class doc)."""

    def close(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return "utf-8"


class JobTerminal:
    """The stream pytest's terminal reporter writes to when the reporter was made ahead of
    the job (:func:`prepare` with options): it passes everything on to ``target``, which
    each run sets to its own capped terminal; outside a run, the process's stderr."""

    def __init__(self) -> None:
        self.target: Any = None

    def _to(self) -> Any:
        return self.target if self.target is not None else sys.__stderr__

    def write(self, s: str) -> int:
        return int(self._to().write(s))

    def flush(self) -> None:
        self._to().flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self._to().fileno())

    @property
    def encoding(self) -> str:
        return "utf-8"


#: The one :class:`JobTerminal` of this process.
TERMINAL = JobTerminal()


#: Built-in plugins no job uses: what they add is command-line options and files that the
#: hardened command line never asks for.
PLUGINS_OFF = ("cacheprovider", "stepwise")


def pytest_options(*, tests_dir: str, ini_path: str, basetemp: str | None = None) -> list[str]:
    """The hardened command line but for the test files: trusted ini, fixed rootdir, no
    conftest, no cache; ``basetemp`` where tests' temporary folders go."""
    return [
        *(["--basetemp", basetemp] if basetemp is not None else []),
        "-c", ini_path,
        "--rootdir", tests_dir,
        "--noconftest",
        *_off_args(),
        "-q",
        "--tb=short",
        "-o", "console_output_style=classic",
    ]


def pytest_targets(*, tests_dir: str, test_files: list[str]) -> list[str]:
    """The test files a run collects: those pytest's default patterns name, or all."""
    wanted = [n for n in test_files if n.startswith("test_") or n.endswith("_test.py")]
    return [os.path.join(tests_dir, n) for n in (wanted or test_files)]


def pytest_args(*, tests_dir: str, ini_path: str, test_files: list[str],
                basetemp: str | None = None) -> list[str]:
    """The whole hardened command line: :func:`pytest_options` then :func:`pytest_targets`."""
    return [*pytest_options(tests_dir=tests_dir, ini_path=ini_path, basetemp=basetemp),
            *pytest_targets(tests_dir=tests_dir, test_files=test_files)]


#: A pytest configuration made ahead of a job (see :func:`prepare`); taken by one run.
_prepared: list[Any] = []


@dataclass
class _Ahead:
    """A run's job-independent steps, taken ahead (:func:`prepare` with options)."""

    #: the command line it was parsed from: a run whose own is this plus test files uses it
    options: list[str]
    config: Any
    session: Any
    #: the run's recorder's place among the plugins, registered ahead (:class:`RecorderSlot`)
    slot: RecorderSlot


#: Taken by one run, like :data:`_prepared`.
_ahead: list[_Ahead] = []


def prepare(options: list[str] | None = None) -> None:
    """Make, ahead of any job, what every run's ``pytest.main`` starts by making: a plugin
    manager with pytest's built-in plugins imported and registered (but for
    :data:`PLUGINS_OFF`) and their options declared (``_pytest.config.get_config``).

    With ``options`` (the command line of the runs to come, but for their test files:
    :func:`pytest_options`), it goes on with the steps of ``pytest.main`` that depend on
    nothing else: the command line parsed, every plugin configured, the session made and
    started (its fixture manager with the plugins' fixtures). A run whose command line is
    ``options`` plus test files then starts at collection; pytest's own code runs every
    step, only earlier. What belongs to one run is made in the run: its test files, its
    plugins (the recorder), its output capture (its own files and descriptors), the
    stream the terminal writes to (:data:`TERMINAL`) and the session's start time. If a
    step fails, runs start from the configuration alone, as without ``options``.

    A pooled supervisor calls it once, before it forks its workers: each worker's run then
    starts from its own copy of it, made before any job and holding nothing of one; what
    a run changes in it dies with the worker."""
    config = config_module.get_config(_off_args(), prog="pytest.main()")
    _fixtureless[:] = [_fixtureless_holders(list(config.pluginmanager.get_plugins()))]
    _prepared[:] = [config]
    _ahead.clear()
    if options is None:
        return
    try:
        session = _run_ahead(config, list(options))
    except Exception:  # noqa: BLE001 - the runs start from a fresh configuration instead
        import traceback  # import cost: only on this failure

        traceback.print_exc()
        _prepared[:] = [config_module.get_config(_off_args(), prog="pytest.main()")]
        return
    _prepared.clear()
    slot = RecorderSlot()
    with _fixtureless_skipped():
        config.pluginmanager.register(slot, "misalign-recorder")
    _ahead[:] = [_Ahead(options=list(options), config=config, session=session, slot=slot)]
    _read_ahead(config)


def _read_ahead(config: Any) -> None:
    """What each run's pytest would compute the first time it needs it and keep for the
    rest of its process, computed once here: every ini value (``getini`` keeps what it
    read; a run reads about ten) and the patterns collection matches paths against
    (``norecursedirs``, ``python_files``, the doctest glob: ``fnmatch`` keeps each one
    compiled; each run compiled ten regular expressions, 0.8 ms of a warm job). Both
    depend on the configuration alone; a run that changes what it reads changes its own
    copy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in list(getattr(getattr(config, "_parser", None), "_inidict", {})):
            try:
                config.getini(name)
            except Exception:  # noqa: BLE001 - a run reads it then, and fails as it would
                continue
        try:
            patterns = [*config.getini("norecursedirs"), *config.getini("python_files"),
                        *(config.getoption("doctestglob") or ["test*.txt"])]
        except (ValueError, TypeError):
            return
        for pattern in patterns:
            fnmatch.fnmatch("", str(pattern))


def _run_ahead(config: Any, options: list[str]) -> Any:
    """``pytest.main``'s steps up to collection, for :func:`prepare`: parse, configure,
    make and start the session. Standard input is /dev/null meanwhile (what output
    capture saves of it must be nothing a job could read) and the rootdir exists (pytest
    checks it); the output capture that parsing starts is stopped again (each run starts
    its own)."""
    rootdir = options[options.index("--rootdir") + 1]
    made_root = not os.path.exists(rootdir)
    if made_root:
        os.makedirs(rootdir, mode=0o700)
    saved_in = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    saved_out = sys.stdout
    sys.stdout = TERMINAL  # the terminal reporter keeps the stream it is made with
    try:
        with _fixtureless_skipped():
            config.invocation_params = config_module.Config.InvocationParams(
                args=tuple(options), plugins=None, dir=pathlib.Path.cwd())
            config = config.pluginmanager.hook.pytest_cmdline_parse(
                pluginmanager=config.pluginmanager, args=list(options))
            config.pluginmanager.getplugin("capturemanager").stop_global_capturing()
            session = Session.from_config(config)
            session.exitstatus = pytest.ExitCode.OK
            config._do_configure()
            config.hook.pytest_sessionstart(session=session)
        return session
    finally:
        sys.stdout = saved_out
        os.dup2(saved_in, 0)
        os.close(saved_in)
        if made_root:
            os.rmdir(rootdir)


#: pytest's plugin modules, and its classes (and the recorder's) whose instances become
#: plugins, that define no fixture, found by :func:`prepare`: a run's fixture manager has
#: nothing to find in them, and skips them.
_fixtureless: list[frozenset[Any]] = []


def _fixtureless_holders(plugins: list[Any]) -> frozenset[Any]:
    modules = [p for p in plugins if isinstance(p, types.ModuleType) and p.__name__.startswith("_pytest.")]
    classes = {c for name, m in list(sys.modules.items()) if name.startswith("_pytest.") and m is not None
               for c in vars(m).values() if inspect.isclass(c) and c.__module__ == name}
    return frozenset(h for h in [*modules, *classes, Recorder, RecorderSlot] if _without_fixtures(h))


def _without_fixtures(holder: Any) -> bool:
    """Whether nothing in ``holder`` (a module, or a class whose instances are plugins) is
    a fixture, even behind a decorator: what ``FixtureManager.parsefactories`` looks at
    (the module's attributes; for an instance, its class's) to register a fixture or warn
    about one. Anything unexpected counts as a fixture."""
    # optional dependency: a name of pytest 8.4 and later, needed only where a pooled
    # supervisor prepares pytest (an older pytest still serves fresh containers)
    from _pytest.fixtures import FixtureFunctionDefinition

    def raw(name: str) -> Any:
        if inspect.ismodule(holder):
            return holder.__dict__.get(name)
        return next((b.__dict__[name] for b in holder.__mro__ if name in b.__dict__), None)

    try:
        for name in dir(holder):
            candidates: tuple[Any, ...] = (getattr(holder, name, None), raw(name))
            for obj in candidates:
                found = inspect.unwrap(obj, stop=lambda o: type(o) is FixtureFunctionDefinition) \
                    if callable(obj) or hasattr(obj, "__wrapped__") else obj
                if type(obj) is FixtureFunctionDefinition or type(found) is FixtureFunctionDefinition:
                    return False
    except Exception:  # noqa: BLE001 - when in doubt it is scanned
        return False
    return True


def _skipped(plugin: Any, skip: frozenset[Any]) -> bool:
    try:
        return plugin in skip or (not inspect.ismodule(plugin) and not inspect.isclass(plugin)
                                  and type(plugin) in skip)
    except TypeError:  # an unhashable plugin object: scanned
        return False


def _off_args() -> list[str]:
    return [x for name in PLUGINS_OFF for x in ("-p", f"no:{name}")]


def is_prepared() -> bool:
    """Whether the next :func:`main` starts from a configuration made ahead."""
    return bool(_prepared or _ahead)


def is_ahead(args: list[str]) -> bool:
    """Whether :func:`main` would run ``args`` from steps taken ahead (up to collection)."""
    return bool(_ahead) and _targets_after(_ahead[0].options, args) is not None


def _targets_after(options: list[str], args: list[str]) -> list[str] | None:
    """The test files of ``args`` if it is ``options`` followed by them, else None."""
    rest = args[len(options):]
    if args[:len(options)] != options or not rest or any(a.startswith("-") for a in rest):
        return None
    return rest


@contextmanager
def _fixtureless_skipped() -> Iterator[None]:
    """The fixture manager looks for fixtures only in plugins that may hold some."""
    registered = FixtureManager.pytest_plugin_registered
    skip = _fixtureless[0] if _fixtureless else frozenset()

    def parse_unless_fixtureless(self: Any, plugin: Any, plugin_name: str) -> None:
        if not _skipped(plugin, skip):
            registered(self, plugin, plugin_name)

    FixtureManager.pytest_plugin_registered = parse_unless_fixtureless  # type: ignore[method-assign]
    try:
        yield
    finally:
        FixtureManager.pytest_plugin_registered = registered  # type: ignore[method-assign]


@contextmanager
def _once(owner: Any, name: str, replacement: Callable[..., Any]) -> Iterator[None]:
    """``owner.name`` is ``replacement`` for its next call only (and at most until the
    block ends)."""
    original = vars(owner).get(name, _MISSING)

    def restore() -> None:
        if original is _MISSING:
            if name in vars(owner):
                delattr(owner, name)
        else:
            setattr(owner, name, original)

    def call(*args: Any, **kwargs: Any) -> Any:
        restore()
        return replacement(*args, **kwargs)

    setattr(owner, name, classmethod(lambda cls, *a, **k: call(*a, **k)) if isinstance(owner, type) else call)
    try:
        yield
    finally:
        restore()


_MISSING = object()


def main(args: list[str], plugins: list[Any]) -> int:
    """``pytest.main(args, plugins=plugins)``, from what was made ahead when there is
    some (:func:`prepare`). pytest's own ``main`` runs unchanged; the steps taken ahead
    are not taken again: building the configuration, and when ``args`` is the options
    prepared plus test files, parsing, configuring and starting the session too."""
    if _ahead and is_ahead(args):
        return _main_ahead(_ahead.pop(), args, plugins)
    if not _prepared:
        return int(pytest.main(args, plugins=plugins))
    config = _prepared.pop()
    build = config_module.get_config

    def prepared(args: Any = None, plugins: Any = None, *, prog: Any = None) -> Any:
        config_module.get_config = build
        config.invocation_params = config_module.Config.InvocationParams(
            args=args or (), plugins=plugins, dir=pathlib.Path.cwd())
        return config

    config_module.get_config = prepared
    try:
        with _fixtureless_skipped():
            return int(pytest.main(args, plugins=plugins))
    finally:
        config_module.get_config = build


def _main_ahead(ahead: _Ahead, args: list[str], plugins: list[Any]) -> int:
    config, session = ahead.config, ahead.session
    targets = _targets_after(ahead.options, args) or []
    # The run's recorder takes the place registered for it ahead: the same hooks, at the
    # same place among the plugins (the last registered before the run), without
    # registering a plugin in each run (a quarter of a warm run's start).
    recorders = [p for p in plugins if type(p) is Recorder]
    others = plugins
    if len(recorders) == 1:
        ahead.slot.recorder = recorders[0]
        others = [p for p in plugins if p is not recorders[0]]

    def configuration(*_: Any, **__: Any) -> Any:
        config.invocation_params = config_module.Config.InvocationParams(
            args=tuple(args), plugins=plugins, dir=pathlib.Path.cwd())
        return config

    def parse_targets(_args: Any, addopts: bool = True) -> None:
        # what parsing gives of the test files (the rest was parsed ahead, from the same options)
        config.option.file_or_dir = list(targets)
        config.known_args_namespace.file_or_dir = list(targets)
        config.args, config.args_source = list(targets), config_module.Config.ArgsSource.ARGS
        # the capture that parsing starts and leaves suspended: this run's own
        capture = config.pluginmanager.getplugin("capturemanager")
        capture.start_global_capturing()
        capture.suspend_global_capture()

    def session_started(**_: Any) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter._session_start = timing.Instant()

    with _once(config_module, "get_config", configuration), _once(config, "parse", parse_targets), \
            _once(Session, "from_config", lambda _config: session), \
            _once(config, "_do_configure", lambda: None), \
            _once(config.hook, "pytest_sessionstart", session_started), _fixtureless_skipped():
        return int(pytest.main(args, plugins=others))


def _short(report: Any) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skip: (path, line, reason)
        return _text(longrepr[2])[:MESSAGE_CHARS]
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return _text(crash.message)[:MESSAGE_CHARS]
    text = _text(longrepr)
    return text[-MESSAGE_CHARS:]


class Recorder:
    """Collects reports. ``on_collected`` runs once collection is over (isolated mode uses
    it to take the test files off disk); ``fault_for`` says whether the solution faulted
    during the current test (then the test fails whatever it caught); ``on_test_end``
    runs after each test's last phase; ``emit`` receives each finished record. Past
    ``deadline`` (``time.monotonic()``) no further test starts and ``deadline_hit`` is set."""

    def __init__(
        self,
        *,
        on_collected: Callable[[list[str]], None] | None = None,
        faults: Callable[[], list[str]] | None = None,
        on_test_end: Callable[[str | None], None] | None = None,
        on_test_start: Callable[[bool], None] | None = None,
        emit: Callable[[str, Any], None] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.deadline = deadline
        self.deadline_hit = False
        self.collected: list[str] | None = None
        self.tests: dict[str, dict[str, Any]] = {}
        self.collect_errors: list[schema.ReportedTest] = []
        self._on_collected = on_collected
        self._faults = faults
        self._on_test_end = on_test_end
        self._on_test_start = on_test_start
        self._emit = emit

    # -- collection -------------------------------------------------------------------
    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            record: schema.ReportedTest = {"id": report.nodeid, "outcome": "error", "duration_s": 0.0,
                                            "message": ("collection failed: " + _short(report))[:MESSAGE_CHARS]}
            self.add_collect_error(record)

    def pytest_collection_finish(self, session: Any) -> None:
        self.finish_collection([item.nodeid for item in session.items])

    # -- the steps of a run, for pytest's hooks here and for case_loop.py -------------
    def add_collect_error(self, record: schema.ReportedTest) -> None:
        self.collect_errors.append(record)
        if self._emit:
            self._emit("collect_error", record)

    def finish_collection(self, ids: list[str]) -> None:
        """Collection is over: these tests will run (``on_collected``)."""
        self.collected = list(ids)
        if self._emit:
            self._emit("collected", self.collected)
        if self._on_collected:
            self._on_collected(self.collected)

    def start_test(self, last: bool) -> bool:
        """Whether a test may start (False past the deadline: it has no result, so it
        cannot count as passed); ``last``: no test follows it."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.deadline_hit = True
            return False
        if self._on_test_start:
            self._on_test_start(last)
        return True

    def faults(self) -> list[str]:
        """How the solution's process faulted during the current test (then the test
        fails whatever it caught)."""
        return self._faults() if self._faults else []

    def end_test(self, nodeid: str) -> None:
        """A test's last phase is over (``on_test_end``, told its outcome); its record is final."""
        rec = self.tests.get(nodeid)
        if self._on_test_end:
            self._on_test_end(rec["outcome"] if rec is not None else None)
        if rec is not None and self._emit:
            self._emit("test", rec)

    # -- running ----------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        if not self.start_test(nextitem is None):
            item.session.shouldstop = "the harness's own deadline passed"
            return True  # not run
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        report = yield
        return self.checked(report)

    def checked(self, report: Any) -> Any:
        """A test phase's report, failed if the solution faulted during the test's call."""
        faults = self.faults()
        if faults and report.when == "call" and not report.failed:
            report.outcome = "failed"
            report.longrepr = "the solution's process faulted: " + "; ".join(faults)[:MESSAGE_CHARS]
            if hasattr(report, "wasxfail"):
                del report.wasxfail
        return report

    def pytest_runtest_logreport(self, report: Any) -> None:
        rec = self.tests.setdefault(
            report.nodeid, {"id": report.nodeid, "outcome": None, "duration_s": 0.0, "message": ""}
        )
        rec["duration_s"] += float(getattr(report, "duration", 0.0) or 0.0)
        xfail = hasattr(report, "wasxfail")
        if report.when == "setup":
            if report.failed:
                rec["outcome"], rec["message"] = "error", "setup: " + _short(report)
            elif report.skipped:
                rec["outcome"] = "xfailed" if xfail else "skipped"
                rec["message"] = _text(report.wasxfail) if xfail else _short(report)
        elif report.when == "call":
            if report.passed:
                rec["outcome"] = "xpassed" if xfail else "passed"
            elif report.failed:
                rec["outcome"], rec["message"] = "failed", _short(report)
            else:
                rec["outcome"] = "xfailed" if xfail else "skipped"
                rec["message"] = (_text(report.wasxfail) or _short(report)) if xfail else _short(report)
        elif report.when == "teardown":
            if report.failed:
                rec["outcome"] = "error"
                rec["message"] = ("teardown: " + _short(report))[:MESSAGE_CHARS]
            if rec["outcome"] is None:
                rec["outcome"] = "error"
                rec["message"] = rec["message"] or "no result for the test body"
        rec["message"] = rec["message"][:MESSAGE_CHARS]

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.end_test(nodeid)

    def results(self) -> list[schema.ReportedTest]:
        out: list[schema.ReportedTest] = [
            {"id": r["id"], "outcome": r["outcome"] or "error", "duration_s": r["duration_s"], "message": r["message"]}
            for r in self.tests.values()]
        return self.collect_errors + out


class RecorderSlot:
    """Where a run's :class:`Recorder` goes when the run was prepared ahead: registered
    with the plugins once, in :func:`prepare`, it passes each of the recorder's hooks to
    the recorder of the run in progress (none: the hooks do nothing)."""

    def __init__(self) -> None:
        self.recorder: Recorder | None = None

    def pytest_collectreport(self, report: Any) -> None:
        if self.recorder is not None:
            self.recorder.pytest_collectreport(report)

    def pytest_collection_finish(self, session: Any) -> None:
        if self.recorder is not None:
            self.recorder.pytest_collection_finish(session)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        if self.recorder is not None:
            return self.recorder.pytest_runtest_protocol(item, nextitem)
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        report = yield
        return self.recorder.checked(report) if self.recorder is not None else report

    def pytest_runtest_logreport(self, report: Any) -> None:
        if self.recorder is not None:
            self.recorder.pytest_runtest_logreport(report)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        if self.recorder is not None:
            self.recorder.pytest_runtest_logfinish(nodeid, location)
