"""A pytest run from the configuration a pooled supervisor prepares ahead
(``collect.prepare`` then ``collect.main``) gives the same results as ``pytest.main``:
pytest's built-in fixtures, a module's own fixtures, marks, failures and errors. Both run
in fresh forks of one process that prepared once, as a warm container's workers do."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from misalign_rewards.harness.collect import CappedText

TESTS = '''\
import logging
import os
import warnings

import pytest


try:  # what the output capture's file holds when collection starts: nothing of another run
    os.lseek(1, 0, os.SEEK_SET)
    LEFT_IN_CAPTURE = os.read(1, 4096)
    os.lseek(1, 0, os.SEEK_END)
except OSError:
    LEFT_IN_CAPTURE = b"not a capture file"


def test_capture_starts_empty():
    assert LEFT_IN_CAPTURE == b""


def test_fails_first():
    # fails, so the terminal shows what was captured while it ran: whatever a run before
    # this one left unread in a shared capture would show here
    assert 1 == 2


@pytest.fixture
def mine():
    return 7


def test_builtin_fixtures(tmp_path, tmp_path_factory, monkeypatch, capsys, caplog, recwarn,
                          record_property, doctest_namespace, pytestconfig, request, tmpdir, subtests):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("PREPARED_PROBE", "1")
    print("out")
    assert capsys.readouterr().out == "out\\n"
    logging.getLogger("t").warning("logged")
    assert "logged" in caplog.text
    warnings.warn("w", UserWarning)
    assert len(recwarn) == 1
    record_property("k", "v")
    with subtests.test("one"):
        assert True
    assert tmpdir.check(dir=True)


def test_own_fixture(mine):
    assert mine == 7


def test_descriptor_capture(capfd):
    os.write(1, b"fd-out")
    os.write(2, b"fd-err")
    assert capfd.readouterr() == ("fd-out", "fd-err")


def test_dies_mid_test_when_asked():
    if os.environ.get("PROBE_DIE"):
        os.write(1, b"left by a run that died")
        os._exit(0)


def test_fails_with_output():
    print("printed by a failing test")
    os.write(2, b"written by a failing test")
    assert 1 == 2


@pytest.mark.parametrize("x", [1, 2])
def test_param(x):
    assert x in (1, 2)


def test_fails():
    assert 1 == 2


@pytest.fixture
def broken():
    raise RuntimeError("setup")


def test_errors(broken):
    pass


@pytest.mark.skip(reason="skipped")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False
'''

SCRIPT = '''\
import fnmatch, io, json, os, re, sys
sys.path.insert(0, sys.argv[1])
from misalign_rewards.harness import collect
tests_dir, ini, ahead = sys.argv[2], sys.argv[3], sys.argv[4] == "ahead"
basetemp = os.path.join(os.path.dirname(tests_dir), "basetemp")
options = collect.pytest_options(tests_dir=tests_dir, ini_path=ini, basetemp=basetemp)
args = options + collect.pytest_targets(tests_dir=tests_dir, test_files=["test_probe.py"])
os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
collect.prepare(options if ahead else None)
out = {}
for mode in ("plain", "prepared", "dies", "prepared again"):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        if mode == "plain":
            collect._prepared.clear()
            collect._ahead.clear()
        if mode == "dies":  # its captured output stays unread in its capture's file
            os.environ["PROBE_DIE"] = "1"
        was, was_ahead = collect.is_prepared(), collect.is_ahead(args)
        config = collect._ahead[0].config if collect._ahead else None
        read_before = len(config._inicache) if config is not None else None
        compiled_before = fnmatch._compile_pattern.cache_info().misses
        rec = collect.Recorder()
        terminal = io.StringIO()
        sys.stdout = collect.TERMINAL.target = terminal
        code = collect.main(list(args), [rec])
        sys.stdout = sys.__stdout__
        text = re.sub(r"in [0-9.]+s", "in Ns", terminal.getvalue())
        cold = {"patterns compiled": fnmatch._compile_pattern.cache_info().misses - compiled_before,
                "ini values read": None if config is None else len(config._inicache) - read_before}
        os.write(w, json.dumps({"code": code, "prepared": was, "ahead": was_ahead, "terminal": text,
                                "tests": sorted((t["id"], t["outcome"]) for t in rec.results()),
                                "cold": cold}).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    if mode != "dies":
        out[mode] = json.loads(data)
print(json.dumps(out))
'''


@pytest.mark.parametrize("ahead", ["config", "ahead"])
def test_a_prepared_run_gives_what_pytest_main_gives(tmp_path: Path, ahead: str) -> None:
    """From a configuration made ahead (``config``), or with parsing, configuring and the
    session's start done ahead too (``ahead``, what a warm container's supervisor does):
    the same outcomes and the same terminal text as ``pytest.main``, captured output
    included; and a run from the same preparation sees nothing of the runs before it."""
    from misalign_rewards.harness import TRUSTED_INI

    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_probe.py").write_text(TESTS)
    ini = tmp_path / "pytest.ini"
    ini.write_text(TRUSTED_INI)
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(src), str(tests), str(ini), ahead],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    plain, prepared, again = out["plain"], out["prepared"], out["prepared again"]
    cold = {mode: run.pop("cold") for mode, run in out.items()}
    # what pytest keeps once computed (ini values, compiled path patterns) is computed once
    # ahead: a run made ahead computes none of it, where a run from a configuration alone
    # compiles its patterns
    if ahead == "config":
        assert cold["prepared"]["patterns compiled"] > 0
    else:
        assert cold["prepared"] == cold["prepared again"] == {"patterns compiled": 0, "ini values read": 0}
    assert (plain["prepared"], prepared["prepared"], again["prepared"]) == (False, True, True)
    assert (plain["ahead"], prepared["ahead"]) == (False, ahead == "ahead")
    assert dict(map(tuple, plain["tests"])) == {
        "test_probe.py::test_capture_starts_empty": "passed",
        "test_probe.py::test_fails_first": "failed",
        "test_probe.py::test_builtin_fixtures": "passed",
        "test_probe.py::test_own_fixture": "passed",
        "test_probe.py::test_descriptor_capture": "passed",
        "test_probe.py::test_dies_mid_test_when_asked": "passed",
        "test_probe.py::test_fails_with_output": "failed",
        "test_probe.py::test_param[1]": "passed",
        "test_probe.py::test_param[2]": "passed",
        "test_probe.py::test_fails": "failed",
        "test_probe.py::test_errors": "error",
        "test_probe.py::test_skipped": "skipped",
        "test_probe.py::test_xfail": "xfailed",
    }
    # the failing test's captured output is in the terminal text, once
    assert plain["terminal"].count("printed by a failing test") == 1
    assert plain["terminal"].count("written by a failing test") == 1
    assert "fd-out" not in plain["terminal"], plain["terminal"]
    assert prepared == {**plain, "prepared": True, "ahead": ahead == "ahead"}
    # each fork starts from the same untouched preparation: nothing of a run before it,
    # not even output captured by a run that died before reading it
    assert again == prepared


def test_the_fixture_manager_skips_only_holders_without_fixtures() -> None:
    import _pytest.capture
    import _pytest.legacypath
    import _pytest.python
    import _pytest.terminal
    import _pytest.tmpdir

    from misalign_rewards.harness import collect

    holders = collect._fixtureless_holders([_pytest.python, _pytest.tmpdir, _pytest.capture,
                                            _pytest.terminal, _pytest.legacypath])
    assert {_pytest.python, _pytest.terminal, _pytest.legacypath} <= holders
    assert _pytest.tmpdir not in holders and _pytest.capture not in holders
    assert _pytest.legacypath.LegacyTmpdirPlugin not in holders  # its instance holds tmpdir
    assert _pytest.terminal.TerminalReporter in holders and collect.Recorder in holders

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

    assert not collect._skipped(Unhashable(), holders)
    assert collect._skipped(_pytest.terminal.TerminalReporter.__new__(_pytest.terminal.TerminalReporter), holders)


class _Recording(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_pytest_s_progress_is_not_flushed_a_dot_at_a_time() -> None:
    """pytest flushes after each progress dot; each flush passed on would be a write of one
    byte, an engine stream frame and a client wake-up per test (per case of an io job).
    The capped terminal holds flushes until it is closed, keeps the text whole and in
    order, and still caps it."""
    stream = _Recording()
    terminal = CappedText(stream, cap=150)
    for _ in range(100):
        terminal.write(".")
        terminal.flush()
    terminal.write("\n100 passed in 0.4s\n" + "x" * 100)
    assert stream.flushes == 0
    terminal.close()
    assert stream.flushes == 1
    assert stream.getvalue() == "." * 100 + "\n100 passed in 0.4s\n" + "x" * 30
