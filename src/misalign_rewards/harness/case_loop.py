"""An io job's cases judged without a pytest session (``config["runner"] == "cases"``).

An io job's only test module is the one ``verifiers/io.py`` generates: trusted code whose
one test function, ``test_case(i)``, judges case ``i`` and raises when it fails. pytest
adds nothing a case's verdict depends on (no fixtures, no assertion rewriting: a failing
case raises ``cases.CaseFailed`` with its reason), yet a session costs more than the
judging itself when a job's cases are few and short. So the module is imported as pytest
imports it (its folder first on ``sys.path``, under its own name), and ``test_case`` is
called once per case, in order, by the same :class:`collect.Recorder` callbacks a pytest
run calls: the same collection step (the tests hidden, file access as the untrusted uid),
the same start and end of each test (the solution's processes swept), the same deadline,
a passing case failed when the solution's process faulted, and the same test ids,
outcomes and messages (pytest's own ``exconly`` text of what the case raised).

Stdlib + pytest only; runs inside the sandbox image.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

from _pytest._code import ExceptionInfo
from _pytest.outcomes import Skipped

from . import collect

#: The test function of a generated io module, and the name of its cases.
TEST_FUNCTION = "test_case"
CASES = "CASES"


def _message(exc: BaseException) -> str:
    """What pytest reports of ``exc`` (its crash line); never raises."""
    try:
        text = ExceptionInfo.from_exception(exc).exconly(tryshort=True)
    except Exception:  # noqa: BLE001 - a message must not end the run
        text = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return collect._text(text)[: collect.MESSAGE_CHARS]


def _failure(exc: BaseException) -> tuple[str, str]:
    """What a case that raised ``exc`` is: failed, but for ``unittest.SkipTest``, which
    pytest turns into a skip in any test (its unittest plugin), with its text."""
    unittest = sys.modules.get("unittest")
    if unittest is not None and isinstance(exc, unittest.SkipTest):
        try:
            raise Skipped(str(exc))  # as pytest makes it: raised, so it has a traceback
        except Skipped as skip:
            return "skipped", _message(skip)
    return "failed", _message(exc)


def case_ids(file_name: str, n: int) -> list[str]:
    """The ids pytest gives the cases of a generated module (``parametrize`` over ``i``)."""
    return [f"{file_name}::{TEST_FUNCTION}[case_{i}]" for i in range(n)]


def run(path: str, recorder: collect.Recorder, *, fatal: tuple[type[BaseException], ...] = ()) -> int:
    """Judge the cases of the generated module at ``path``, recording them in ``recorder``.
    Returns the exit code pytest would: 0 all passed (or skipped), 1 a case failed, 2 the
    module could not be imported or the deadline stopped the run. ``fatal``: exceptions
    that end the run (as pytest lets ``KeyboardInterrupt`` through) rather than a case."""
    stop: tuple[type[BaseException], ...] = (KeyboardInterrupt, *fatal)
    file_name = os.path.basename(path)
    name = os.path.splitext(file_name)[0]
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # as pytest's default import mode does for a test module
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        test = getattr(module, TEST_FUNCTION)
        n = len(getattr(module, CASES))
    except stop:
        raise
    except BaseException as exc:  # noqa: BLE001 - pytest reports it as the module's collection error
        recorder.add_collect_error({"id": file_name, "outcome": "error", "duration_s": 0.0,
                                    "message": ("collection failed: " + _message(exc))[: collect.MESSAGE_CHARS]})
        recorder.finish_collection([])  # as pytest ends its collection: the tests hidden all the same
        return 2
    ids = case_ids(file_name, n)
    recorder.finish_collection(ids)
    if not n:
        return 5  # pytest: no tests collected
    failed = False
    for i, test_id in enumerate(ids):
        if not recorder.start_test(i == n - 1):
            return 2  # past the deadline: no further case starts, as pytest stops
        outcome, message = "passed", ""
        started = time.perf_counter()
        try:
            test(i)
        except stop:
            raise
        except Skipped as exc:
            outcome, message = "skipped", _message(exc)
        except BaseException as exc:  # noqa: BLE001 - a case's failure, whatever it raised (below)
            outcome, message = _failure(exc)
        duration = time.perf_counter() - started
        faults = recorder.faults()
        if faults and outcome != "failed":
            outcome = "failed"
            message = "the solution's process faulted: " + "; ".join(faults)[: collect.MESSAGE_CHARS]
        failed = failed or outcome == "failed"
        recorder.tests[test_id] = {"id": test_id, "outcome": outcome, "duration_s": duration,
                                   "message": message[: collect.MESSAGE_CHARS]}
        recorder.end_test(test_id)
    return 1 if failed else 0
