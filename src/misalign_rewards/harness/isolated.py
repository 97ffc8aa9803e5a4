"""``isolated`` mode: pytest and the tests run here, in the trusted process; the solution
runs in child processes (see :mod:`proxy`) and never shares memory with what decides the
outcomes.

Order of events, and why:

1. the solution module names are installed as proxies (nothing of the solution runs);
2. pytest collects the trusted tests (test modules are imported; no solution process
   exists yet unless a test module calls the solution at import time);
3. the test sources are moved into ``linecache`` (so failure texts still show lines) and
   deleted from disk, and the tests folder is dropped from ``sys.path``: from now on the
   solution can neither read the tests nor plant a module the trusted process would import;
4. each test's calls go to a fresh solution process, killed with everything it spawned
   when the test ends.

Stdlib + pytest only; runs inside the sandbox image.
"""

from __future__ import annotations

import linecache
import os
import sys
from typing import Any

from . import collect, proxy


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


def run(config: dict[str, Any]) -> dict[str, Any]:
    import pytest

    tests_dir = config["tests_dir"]
    broker = proxy.Broker(
        python=config.get("python") or sys.executable,
        harness_dir=os.path.dirname(os.path.abspath(__file__)),
        solution_dir=config["solution_dir"],
        call_timeout_s=float(config["call_timeout_s"]),
        contained=bool(config.get("contained")),
    )
    proxy.install(broker, list(config["solution_modules"]))

    hidden = {"done": False}

    def on_collected(ids: list[str]) -> None:
        # A test module that called the solution at import time left a process behind.
        broker.end_test()
        if config.get("hide_tests", True):
            _hide_tests(tests_dir)
        hidden["done"] = True

    recorder = collect.Recorder(
        on_collected=on_collected,
        faults=lambda: list(broker.faults),
        on_test_end=broker.end_test,
    )
    args = collect.pytest_args(tests_dir=tests_dir, ini_path=config["ini_path"],
                               test_files=list(config["test_files"]))
    # pytest's own terminal output goes to stderr; stdout carries only the framed report.
    saved_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        exit_code = int(pytest.main(args, plugins=[recorder]))
    finally:
        sys.stdout = saved_stdout
        broker.end_test()
    return {
        "mode": "isolated",
        "collected": recorder.collected,
        "tests": recorder.results(),
        "pytest_exit": exit_code,
        "deadline_hit": False,
        "tests_hidden": hidden["done"],
        "solution_calls": broker.calls,
        "stray_processes": broker.stray_processes,
        "sweep_failed": broker.sweep_failed,
    }
