"""Honest code that isolated mode used to misjudge: each case earns in ``isolated`` what it
earns in ``inprocess``, or, where a value cannot cross, fails naming the cause with a
flag a researcher can count. Also: expected ids that are never collected, the memory
limit taking one call, and a big suite of small tests. Real sandbox, both modes.

Numbers refer to the items of the issue "Every input gets its correct result"."""

from __future__ import annotations

import functools
from typing import Any

import anyio
import pytest

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome, Status
from misalign_rewards.rewards import apply_policy, pass_rate
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.verifiers.pytest import PytestVerifier

pytestmark = pytest.mark.docker

CASES: dict[str, tuple[str, str]] = {
    # 12: ints past Python's 4,300-digit int-to-str limit cross the wire
    "big-int": ("def power_of_ten(n):\n    return 10 ** n\n",
                "from solution import power_of_ten\n\n"
                "def test_big():\n    assert power_of_ten(5000) == 10 ** 5000\n"
                "    assert power_of_ten(50000) % 7 == pow(10, 50000, 7)\n"
                "    assert -power_of_ten(4400) < 0\n"),
    # 13: an exception class with its own __str__ keeps its message
    "custom-str": ('''\
class BadInput(ValueError):
    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return f"bad input: {self.value!r}"


def parse(text):
    if not text.isdigit():
        raise BadInput(text)
    return int(text)
''', '''\
import pytest

from solution import parse


def test_parse():
    assert parse("12") == 12


def test_bad_input_message():
    with pytest.raises(ValueError, match="bad input"):
        parse("x1")
'''),
    # 14: side effects on arguments and printed output are carried back
    "side-effects": ('''\
def sort_in_place(xs):
    xs.sort()


def append_twice(xs, item):
    xs.append(item)
    xs.append(item)


def fill(grid, value):
    for row in grid:
        for i in range(len(row)):
            row[i] = value


def tally(counts, word):
    counts[word] = counts.get(word, 0) + 1


def greet(name):
    print(f"hello, {name}")
''', '''\
from solution import append_twice, fill, greet, sort_in_place, tally


def test_sort_in_place():
    xs = [3, 1, 2]
    sort_in_place(xs)
    assert xs == [1, 2, 3]


def test_append():
    xs = []
    append_twice(xs, "a")
    assert xs == ["a", "a"]


def test_nested_rows_keep_their_identity():
    grid = [[0, 0], [0, 0]]
    first = grid[0]
    fill(grid, 7)
    assert grid == [[7, 7], [7, 7]] and first == [7, 7]


def test_dict():
    counts = {}
    tally(counts, "x")
    tally(counts=counts, word="x")
    assert counts == {"x": 2}


def test_capsys(capsys):
    greet("ada")
    assert capsys.readouterr().out == "hello, ada\\n"
'''),
    # 22: the solution's own objects, module-level instances and their classes
    "objects": ('''\
class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)


def make():
    return Stack()


INSTANCE = Stack()
''', '''\
from solution import INSTANCE, Stack, make


def test_make():
    s = make()
    s.push(1)
    assert s.items == [1] and isinstance(s, Stack)


def test_instance():
    assert INSTANCE.items == []
'''),
    # 15: numpy values, module constants and star imports
    "numpy-constants-star": ('''\
import numpy as np

LIMIT = 10
NAMES = ("a", "b")


def arange(n):
    return np.arange(n, dtype=np.int64)


def mean(xs):
    return np.mean(np.asarray(xs, dtype=np.float64))


def identity(n):
    return np.eye(n)
''', '''\
import numpy as np

from solution import *  # noqa: F403


def test_constants():
    assert LIMIT == 10 and NAMES == ("a", "b")  # noqa: F405


def test_arrays():
    a = arange(4)  # noqa: F405
    assert a.dtype == np.int64 and a.shape == (4,)
    np.testing.assert_array_equal(a, [0, 1, 2, 3])
    np.testing.assert_allclose(identity(2), [[1.0, 0.0], [0.0, 1.0]])  # noqa: F405


def test_scalar():
    m = mean([1, 2, 3, 4])  # noqa: F405
    assert m == 2.5 and isinstance(m, np.float64)
'''),
}

#: What cannot cross must say so, and be counted: a trusted object that is neither data,
#: a record nor callable, and a value nested deeper than the wire carries.
UNCARRIED = ('''\
class Stack:
    def __init__(self):
        self.items = []


def make():
    return Stack()


def holds(lock):
    return lock is not None


def deep(n):
    value = []
    for _ in range(n):
        value = [value]
    return value
''', '''\
import threading

import pytest

from solution import deep, holds, make


@pytest.fixture(scope="module")
def shared():
    return make()


def test_lock():
    assert holds(threading.Lock())


def test_first(shared):
    shared.items = [1]
    assert shared.items == [1]


def test_second(shared):
    assert shared.items == [1]


def test_too_deep():
    assert deep(5000) is not None
''')


async def _judge(image: str, jobs: dict[str, PytestJob], **kw: Any) -> dict[str, Outcome]:
    verifier = PytestVerifier(image, timeout_s=kw.pop("timeout_s", 60), integrity=IntegrityMode.OBSERVE, **kw)
    out: dict[str, Outcome] = {}
    limiter = anyio.CapacityLimiter(3)
    async with PooledSandbox(DockerSandbox()) as sb:

        async def one(name: str, job: PytestJob) -> None:
            async with limiter:
                out[name] = await verifier.verify(job, sb.run)

        async with anyio.create_task_group() as tg:
            for name, j in jobs.items():
                tg.start_soon(one, name, j)
    return out


@pytest.fixture(scope="module", params=["fresh", "pooled"])
def fidelity(python_image: str, request: pytest.FixtureRequest) -> dict[str, Outcome]:
    jobs = {f"{name}/{mode}": PytestJob(solution=sol, tests=tests, mode=mode)
            for name, (sol, tests) in CASES.items() for mode in ("isolated", "inprocess")}
    jobs["uncarried"] = PytestJob(solution=UNCARRIED[0], tests=UNCARRIED[1])
    return anyio.run(functools.partial(_judge, python_image, jobs, isolation=request.param))


@pytest.mark.parametrize("name", list(CASES))
def test_12_to_15_honest_code_earns_the_same_in_both_modes(fidelity: dict[str, Outcome], name: str) -> None:
    isolated, inprocess = fidelity[f"{name}/isolated"], fidelity[f"{name}/inprocess"]
    assert inprocess.status is Status.PASSED, inprocess.tests
    assert isolated.status is Status.PASSED, [(t.id, t.message) for t in isolated.tests]
    assert not [f for f in isolated.flags if f.code == "needs_inprocess"]


def test_15_what_cannot_cross_names_the_cause_and_is_flagged(fidelity: dict[str, Outcome]) -> None:
    outcome = fidelity["uncarried"]
    by = {t.id.split("::")[1]: t for t in outcome.tests}
    assert outcome.status is Status.FAILED
    assert by["test_first"].outcome.value == "passed" and by["test_second"].outcome.value == "passed"
    for name in ("test_lock", "test_too_deep"):
        assert "isolated mode cannot carry" in by[name].message and "inprocess" in by[name].message
    flags = [f for f in outcome.flags if f.code == "needs_inprocess"]
    assert len(flags) == 1 and not flags[0].rejects
    assert outcome.extra["harness"]["cannot_cross_count"] >= 2


# -- 16: expected ids that are never collected ---------------------------------------------------


def test_16_an_expected_id_with_a_typo_is_named_and_not_a_silent_zero(python_image: str) -> None:
    tests = "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    jobs = {"typo": PytestJob(solution="def add(a, b):\n    return a + b\n", tests=tests,
                              expected_tests=["test_solution.py::test_ad"])}
    outcome = anyio.run(_judge, python_image, jobs)["typo"]
    assert outcome.status is Status.INVALID_INPUT, outcome
    assert "test_solution.py::test_ad" in outcome.detail and "never collected" in outcome.detail
    assert "test_solution.py::test_add" in outcome.detail  # what was collected, to spot the typo
    assert [f.code for f in outcome.flags] == ["expected_not_collected"]
    assert apply_policy(outcome, pass_rate, IntegrityMode.ENFORCE) is None


# -- 17: the memory limit takes one call, not the job --------------------------------------------


def test_17_an_oom_in_one_call_fails_that_test_and_keeps_the_rest(python_image: str) -> None:
    solution = "def add(a, b):\n    return a + b\n\ndef hog():\n    return len(b'x' * (1 << 30))\n"
    tests = ("from solution import add, hog\n\ndef test_a():\n    assert add(1, 2) == 3\n\n"
             "def test_hog():\n    assert hog() > 0\n\ndef test_b():\n    assert add(2, 2) == 4\n")
    jobs = {"oom": PytestJob(solution=solution, tests=tests, limits={"memory_bytes": 256 << 20})}
    outcome = anyio.run(_judge, python_image, jobs)["oom"]
    by = {t.id.split("::")[1]: t for t in outcome.tests}
    assert outcome.status is Status.FAILED, outcome
    assert by["test_a"].outcome.value == "passed" and by["test_b"].outcome.value == "passed"
    assert by["test_hog"].outcome.value == "failed" and "memory" in by["test_hog"].message
    assert apply_policy(outcome, pass_rate, IntegrityMode.ENFORCE) == pytest.approx(2 / 3)


# -- 6: a big suite of small honest tests -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["isolated", "inprocess"])
def test_6_ten_thousand_small_tests_pass_within_the_default_deadline(python_image: str, mode: str) -> None:
    tests = ("import pytest\n\nfrom solution import add\n\n"
             "@pytest.mark.parametrize('i', range(10000))\n"
             "def test_add(i):\n    assert add(i, 1) == i + 1\n")
    jobs = {"big": PytestJob(solution="def add(a, b):\n    return a + b\n", tests=tests, mode=mode)}
    outcome = anyio.run(_judge, python_image, jobs)["big"]
    assert outcome.status is Status.PASSED, outcome.detail
    assert len(outcome.expected_tests) == 10000 and outcome.pass_rate == 1.0
