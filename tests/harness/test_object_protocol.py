"""Isolated mode's object protocol on the host (the shipped harness, uncontained): what
crosses between the trusted tests and the solution's process, and what is decided on
which side. The same cases run in real containers in tests/verifiers and tests/honest.

Each group runs one harness with one solution and a suite of tests, and checks every
test's outcome: a test that fails here names the feature that broke."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.harness_runner import outcomes, run_harness

SOLUTION = '''\
import collections
import dataclasses
import decimal
import enum
import functools
import logging
import time
from typing import NamedTuple

log = logging.getLogger("app")


class Stack:
    LIMIT = 10

    def __init__(self):
        self._items = []

    def push(self, x):
        self._items.append(x)

    def pop(self):
        return self._items.pop()

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __repr__(self):
        return f"Stack({self._items})"

    @property
    def top(self):
        return self._items[-1]

    @classmethod
    def of(cls, *xs):
        s = cls()
        for x in xs:
            s.push(x)
        return s


class Vector:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, o):
        return isinstance(o, Vector) and (self.x, self.y) == (o.x, o.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __add__(self, o):
        return Vector(self.x + o.x, self.y + o.y)

    def __lt__(self, o):
        return (self.x, self.y) < (o.x, o.y)


class Temperature:
    def __init__(self):
        self._c = 0

    @property
    def celsius(self):
        return self._c

    @celsius.setter
    def celsius(self, value):
        if value < -273.15:
            raise ValueError("below absolute zero")
        self._c = value


class Timer:
    def __enter__(self):
        self.entered = True
        return self

    def __exit__(self, *exc):
        self.exited = exc[0] is not None
        return exc[0] is KeyError


class BankError(Exception):
    pass


class InsufficientFunds(BankError):
    def __init__(self, needed):
        super().__init__(f"need {needed}")
        self.needed = needed


def withdraw(balance, amount):
    if amount > balance:
        raise InsufficientFunds(amount - balance)
    return balance - amount


def apply(xs, key):
    return sorted(xs, key=key)


def make_adder(n):
    def add(x):
        return x + n
    return add


def shout(fn):
    @functools.wraps(fn)
    def wrapper(*a):
        return fn(*a).upper()
    return wrapper


def each(xs, fn):
    for x in xs:
        fn(x)


def retry(fn, times):
    for _ in range(times):
        try:
            return fn()
        except ValueError:
            pass
    return None


def counts(s):
    return collections.Counter(s)


def money(x):
    return decimal.Decimal(x) / 2


class Point(NamedTuple):
    x: int
    y: int


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 3


@dataclasses.dataclass
class Item:
    name: str
    price: float


def cheapest(items):
    return min(items, key=lambda i: i.price)


def total(records):
    return sum(r.qty for r in records)


def squares(n):
    for i in range(n):
        yield i * i


def first_two(it):
    return [next(it), next(it)]


def read_two():
    return int(input()) + int(input())


def now_plus(n):
    return time.time() + n


def warn(x):
    log.warning("careful %s", x)
    return x


def helper():
    return 1


def uses_helper():
    return helper() + 1


def read_upper(path):
    with open(path) as f:
        return f.read().upper()


def write_hi(path):
    with open(path, "w") as f:
        f.write("hi")


def sort_in_place(xs):
    xs.sort()


def dedupe(nums):
    nums[:] = sorted(set(nums))
    return len(nums)


def env(name):
    import os
    return os.environ.get(name)


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value
'''

TESTS = '''\
import collections
import dataclasses
import decimal
import io
import itertools
import logging
import sys
from collections import namedtuple
from unittest import mock

import pytest

import solution
from solution import *


def test_instances_methods_properties_and_class_attributes():
    s = Stack()
    s.push(1)
    s.push(2)
    assert len(s) == 2 and s.top == 2 and list(s) == [1, 2]
    assert s.pop() == 2
    assert repr(s) == "Stack([1])" and str(s) == "Stack([1])"
    assert isinstance(s, Stack) and type(s).__name__ == "Stack"
    assert Stack.LIMIT == 10 and s.LIMIT == 10
    assert list(Stack.of(3, 4)) == [3, 4]


def test_operators_hash_and_sorting():
    a, b = Vector(1, 2), Vector(3, 4)
    assert a + b == Vector(4, 6)
    assert sorted([b, a]) == [a, b]
    assert {a, Vector(1, 2)} == {a}
    assert a != [1, 2] and not (a == (1, 2))


def test_property_setter_and_its_exception():
    t = Temperature()
    t.celsius = 25
    assert t.celsius == 25
    with pytest.raises(ValueError, match="absolute zero"):
        t.celsius = -300


def test_context_manager():
    with Timer() as t:
        pass
    assert t.entered and not t.exited
    with Timer() as t:
        raise KeyError("swallowed by __exit__")
    assert t.exited


def test_the_tasks_own_exceptions():
    with pytest.raises(InsufficientFunds, match="need 5") as e:
        withdraw(10, 15)
    assert e.value.needed == 5 and isinstance(e.value, BankError)
    with pytest.raises(BankError):
        withdraw(0, 1)
    try:
        withdraw(1, 2)
    except InsufficientFunds as exc:
        assert exc.needed == 1 and str(exc) == "need 1"


def test_callables_in_both_directions():
    assert apply([3, 1, 2], key=lambda x: -x) == [3, 2, 1]
    assert apply(["b", "A"], key=str.lower) == ["A", "b"]
    assert make_adder(5)(1) == 6

    @shout
    def hello(n):
        return f"hi {n}"

    assert hello("bob") == "HI BOB" and hello.__name__ == "hello"
    seen = []
    each([1, 2], seen.append)
    assert seen == [1, 2]
    attempts = iter([ValueError("no"), ValueError("no"), 7])

    def flaky():
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    assert retry(flaky, 5) == 7


def test_standard_library_values():
    c = counts("aab")
    assert c == collections.Counter(a=2, b=1) and type(c) is collections.Counter
    assert money("3") == decimal.Decimal("1.5")


def test_namedtuple_enum_intenum():
    p = Point(1, 2)
    assert p == (1, 2) and p.x == 1
    x, y = p
    assert (x, y) == (1, 2)
    assert Color.RED is Color.RED and Color(1) is Color.RED and Color.RED.value == 1
    assert Priority.HIGH > Priority.LOW and Priority.HIGH == 3


def test_dataclasses_both_ways():
    items = [Item("a", 3.0), Item("b", 1.0)]
    assert cheapest(items).name == "b"
    assert cheapest(items) == Item("b", 1.0)

    @dataclasses.dataclass
    class Line:
        qty: int

    Row = namedtuple("Row", "qty")
    assert total([Line(2), Line(3)]) == 5
    assert total([Row(4), Row(1)]) == 5


def test_generators_both_ways():
    assert list(squares(4)) == [0, 1, 4, 9]
    g = squares(3)
    assert next(g) == 0 and next(g) == 1
    assert first_two(itertools.count(5)) == [5, 6]


def test_input_patched(monkeypatch):
    feed = iter(["2", "3"])
    monkeypatch.setattr("builtins.input", lambda *a: next(feed))
    assert read_two() == 5


def test_stdin_patched(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("4\\n5\\n"))
    assert read_two() == 9


def test_mock_patch_of_a_module_the_solution_uses():
    with mock.patch("solution.time.time", return_value=100.0):
        assert now_plus(1) == 101.0


def test_patch_object_of_a_solution_helper():
    with mock.patch.object(solution, "helper", return_value=41) as fake:
        assert uses_helper() == 42
    fake.assert_called_once_with()
    assert uses_helper() == 2


def test_monkeypatch_setenv(monkeypatch):
    monkeypatch.setenv("GREETING", "hello")
    assert env("GREETING") == "hello"


def test_caplog(caplog):
    with caplog.at_level(logging.WARNING):
        warn(3)
    assert "careful 3" in caplog.text


def test_capsys(capsys):
    each([1], print)
    assert capsys.readouterr().out == "1\\n"


def test_tmp_path(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("abc")
    assert read_upper(p) == "ABC"
    write_hi(tmp_path / "b.txt")
    assert (tmp_path / "b.txt").read_text() == "hi"


def test_honest_in_place():
    xs = [3, 1, 2]
    assert sort_in_place(xs) is None and xs == [1, 2, 3]
    nums = [1, 1, 2]
    assert dedupe(nums) == 2 and nums == [1, 2]


class MyStack(Stack):
    def peek_twice(self):
        return self.top * 2


def test_a_test_class_that_subclasses_a_solution_class():
    s = MyStack()
    s.push(4)
    assert s.peek_twice() == 8 and isinstance(s, Stack)


def test_deep_values_cross():
    value = nested(500)
    depth = 0
    while value:
        value = value[0]
        depth += 1
    assert depth == 500
'''


@pytest.fixture(scope="module")
def protocol(tmp_path_factory: pytest.TempPathFactory):
    return run_harness(tmp_path_factory.mktemp("protocol"), "isolated", {"solution.py": SOLUTION},
                       {"test_protocol.py": TESTS})


def test_every_feature_crosses(protocol) -> None:
    report, proc, _ = protocol
    failed = {t.id: t.message for t in report.tests if t.outcome.value != "passed"}
    assert not failed, (failed, proc.stderr.decode()[-3000:])
    assert len(report.tests) == TESTS.count("\ndef test_")
    assert report.cannot_cross_count == 0 and report.gaming_count == 0


def test_import_happens_once_per_job(protocol) -> None:
    report, _, _ = protocol
    assert report.template_starts == 1


def run(tmp_path: Path, solution: str, tests: str, **kw):
    return run_harness(tmp_path, "isolated", {"solution.py": solution}, {"test_x.py": tests}, **kw)


def test_import_time_work_is_paid_once(tmp_path: Path) -> None:
    tests = "import pytest\nfrom solution import TABLE, lookup\n\n" + \
        "@pytest.mark.parametrize('i', range(60))\ndef test_lookup(i):\n    assert lookup(i) == i * i\n"
    report, _, _ = run(tmp_path, "import time\ntime.sleep(0.4)\nTABLE = [i * i for i in range(100)]\n\n"
                                 "def lookup(i):\n    return TABLE[i]\n", tests, run_timeout_s=20)
    assert [t.outcome.value for t in report.tests] == ["passed"] * 60
    assert report.template_starts == 1
    assert report.code_s is not None and report.code_s < 5  # 60 imports would be 24 s


def test_module_state_carries_from_test_to_test_as_in_plain_pytest(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "calls = []\n\ndef note(x):\n    calls.append(x)\n    return list(calls)\n",
                       "from solution import note\n\nfirst = note(0)\n\n"
                       "def test_a():\n    assert note(1) == [0, 1]\n\n"
                       "def test_b():\n    assert note(2) == [0, 1, 2]\n\n"
                       "def test_c():\n    assert note(3) == [0, 1, 2, 3]\n")
    assert outcomes(report) == {"test_a": "passed", "test_b": "passed", "test_c": "passed"}
    assert report.template_starts == 1


ASYNC_SOLUTION = """\
import asyncio

queue = None


async def put(x):
    global queue
    queue = queue or asyncio.Queue()
    await queue.put(x)


async def take():
    return await queue.get()


async def through(key, loader):
    return await loader(key)
"""

ASYNC_TESTS = """\
import asyncio
import inspect

import pytest

from solution import put, take, through


def test_a_coroutine_is_a_coroutine_here():
    c = take()
    assert inspect.iscoroutine(c)
    c.close()


def test_the_solutions_loop_serves_every_await():
    # a Queue binds to the loop that first uses it: one loop in the solution's process
    asyncio.run(put(1))
    asyncio.run(put(2))
    assert [asyncio.run(take()), asyncio.run(take())] == [1, 2]


def test_coroutines_nest_across_the_boundary():
    async def loader(key):
        return await through(key, lambda k: asyncio.sleep(0, result=k + "!"))

    assert asyncio.run(through("z", loader)) == "z!"


def test_the_tests_exception_reaches_the_solution_and_back():
    async def bad(key):
        raise KeyError(key)

    with pytest.raises(KeyError):
        asyncio.run(through("k", bad))
"""


def test_coroutines_and_async_generators_cross(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, ASYNC_SOLUTION, ASYNC_TESTS)
    assert set(outcomes(report).values()) == {"passed"}, [(t.id, t.message) for t in report.tests]


def test_a_long_chain_of_tests_does_not_deepen_the_solution_process(tmp_path: Path) -> None:
    """Each test's process is forked from the last test's: the chain of 40 tests leaves
    the solution's stack as deep as it was at the first (a stack that grew with the
    chain made every fork dearer, and 10,000 tests ran out of time)."""
    report, _, _ = run(tmp_path, "import inspect\n\ndef depth():\n    return len(inspect.stack(0))\n",
                       "import pytest\nfrom solution import depth\n\nseen = []\n\n"
                       "@pytest.mark.parametrize('i', range(40))\n"
                       "def test_depth(i):\n    seen.append(depth())\n    assert seen[-1] == seen[0], seen\n")
    assert set(outcomes(report).values()) == {"passed"}, outcomes(report)


def test_a_test_whose_process_died_leaves_the_state_before_it(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "import os\ncalls = []\n\ndef note(x):\n    calls.append(x)\n"
                                 "    if x == 'die':\n        os._exit(3)\n    return list(calls)\n",
                       "from solution import note\n\n"
                       "def test_a():\n    assert note(1) == [1]\n\n"
                       "def test_b():\n    note('die')\n\n"
                       "def test_c():\n    assert note(3) == [1, 3]\n")
    assert outcomes(report) == {"test_a": "passed", "test_b": "failed", "test_c": "passed"}


def test_star_import_cannot_replace_builtins_or_names_the_test_bound(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
import math as _m


def abs(x):
    return 0


def sorted(xs, **kw):
    return [0]


class math:
    pi = 3


def mean(xs):
    return 42
''', '''\
import math

from solution import *


def test_trusted_names_stand():
    assert abs(mean([1, 2]) - 1.5) > 1
    assert sorted([2, 1]) == [1, 2]
    assert math.pi > 3.14
''')
    assert outcomes(report) == {"test_trusted_names_stand": "passed"}


def test_a_module_imported_by_name_is_the_trusted_copy(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "import json\njson.dumps = lambda *a, **k: 'forged'\n\ndef f():\n    return 1\n",
                       "from solution import *\n\ndef test_json_is_ours():\n    assert json.dumps([1]) == '[1]'\n")
    assert outcomes(report) == {"test_json_is_ours": "passed"}


def test_emptying_an_argument_to_defeat_the_test_is_flagged(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "def sort_desc(xs):\n    xs.clear()\n    return []\n",
                       "from solution import sort_desc\n\n"
                       "def test_sorts():\n    xs = [3, 1, 2]\n    assert sort_desc(xs) == sorted(xs, reverse=True)\n")
    # plain pytest passes this too; the flag is what keeps it from earning
    assert outcomes(report) == {"test_sorts": "passed"}
    assert report.gaming_count == 1
    assert "emptied" in report.gaming[0]


def test_a_module_scoped_fixture_keeps_its_solution_object(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "class Box:\n    def get(self):\n        return 1\n", '''\
import pytest

from solution import Box


@pytest.fixture(scope="module")
def box():
    return Box()


def test_first(box):
    assert box.get() == 1


def test_second(box):
    assert box.get() == 1
''')
    assert outcomes(report) == {"test_first": "passed", "test_second": "passed"}
    assert report.cannot_cross_count == 0


def test_a_callback_cannot_reach_the_trusted_side(tmp_path: Path) -> None:
    """A trusted callable can only be called: its attributes, globals and code, the
    frames that called it, are not reachable from the solution's process."""
    report, _, _ = run(tmp_path, '''\
def probe(fn):
    found = []
    for name in ("__globals__", "__code__", "__closure__", "__self__", "_server", "__dict__"):
        try:
            value = getattr(fn, name)
            found.append((name, type(value).__name__))
        except AttributeError:
            pass
    return found
''', '''\
from solution import probe

SECRET = "expected-answer"


def test_probe():
    found = probe(lambda: SECRET)
    assert all(kind in ("Server", "dict") for _, kind in found), found
    assert "expected-answer" not in repr(found)
''')
    assert outcomes(report) == {"test_probe": "passed"}


def test_a_solution_cannot_call_back_what_it_was_not_given(tmp_path: Path) -> None:
    """The solution finds its end of the protocol in its own frames and asks the trusted
    side to call numbers it was never given. (One it was given stays callable in later
    tests, as a stored callback does in plain pytest.)"""
    report, _, _ = run(tmp_path, '''\
import sys

KEPT = []


def server():
    # the protocol's own frames, below this call, hold it
    frame = sys._getframe()
    while frame is not None:
        found = frame.f_locals.get("server")
        if type(found).__name__ == "Server":
            return found
        frame = frame.f_back
    raise LookupError("no Server")


def keep(fn):
    KEPT.append(fn._tid)
    return fn()


def call_number(n):
    return server().callback(n, None, (), {})


def call_kept():
    return server().callback(KEPT[0], None, (), {})
''', '''\
import pytest

from solution import call_kept, call_number, keep


def test_given():
    assert keep(lambda: 5) == 5


@pytest.mark.parametrize("n", [0, 2, 50, 10**6])
def test_guess(n):
    call_number(n)


def test_from_an_earlier_test():
    assert call_kept() == 5
''')
    out = outcomes(report)
    assert out.pop("test_given") == "passed" and out.pop("test_from_an_earlier_test") == "passed"
    assert set(out.values()) == {"failed"}, out


def test_a_module_container_imported_by_name_is_one_live_object(tmp_path: Path) -> None:
    """What plain pytest's one object gives: the solution's calls fill it, a fixture or a
    test empties or stocks it, the name looked up again is the same object; a container
    the solution rebinds leaves the test's old one behind (as the old object is, in plain
    Python); past the elements the harness compares at each call, a container is a copy."""
    report, _, _ = run(tmp_path, '''\
from collections import deque

inventory = {}
log = []
recent = deque(maxlen=2)
TABLE = list(range(5000))
BIG = ["x" * 200_000]
history = []


def add(name, n):
    inventory[name] = inventory.get(name, 0) + n
    log.append(name)
    recent.append(name)
    TABLE.append(n)
    BIG.append(name)
    return inventory[name]


def total():
    return sum(inventory.values())


def restart():
    global history
    history = ["restarted"]
''', '''\
import pytest

import solution
from solution import BIG, TABLE, add, history, inventory, log, recent, restart, total


@pytest.fixture(autouse=True)
def empty():
    inventory.clear()
    log.clear()


def test_filled_by_calls():
    assert add("a", 2) == 2 and add("a", 1) == 3
    assert inventory == {"a": 3} and log == ["a", "a"] and list(recent) == ["a", "a"]


def test_emptied_by_the_fixture():
    assert total() == 0 and inventory == {}


def test_stocked_by_the_test():
    inventory["b"] = 5
    assert total() == 5


def test_same_object():
    assert solution.inventory is inventory and solution.log is log


def test_rebound_leaves_the_old_object():
    restart()
    assert history == [] and solution.history == ["restarted"]


def test_a_large_table_is_a_copy():
    add("c", 7)
    assert len(TABLE) == 5000 and len(solution.TABLE) > 5000
    assert len(BIG) == 1 and len(solution.BIG) > 1  # 200,000 characters count as 3,125
''')
    assert set(outcomes(report).values()) == {"passed"}, outcomes(report)
    assert report.gaming_count == 0


def test_a_function_that_consumes_module_state_is_not_flagged(tmp_path: Path) -> None:
    """A module container is the solution's own state: emptying it is what a checkout or a
    flush does (a test that computes its expected value from it is weak in plain pytest
    too: docs/integrity.md's known limits)."""
    report, _, _ = run(tmp_path, '''\
CART = []


def add(item, price):
    CART.append((item, price))


def checkout():
    receipt = {"total": sum(p for _, p in CART)}
    CART.clear()
    return receipt
''', '''\
from solution import CART, add, checkout


def test_checkout():
    add("apple", 2.0)
    add("pear", 3.0)
    assert checkout() == {"total": 5.0}
    assert CART == []
''')
    assert outcomes(report) == {"test_checkout": "passed"}
    assert report.gaming_count == 0, report.gaming


def test_a_tests_threads_calling_the_solution_at_once_each_get_their_own_answer(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "import time\n\ndef square(x):\n    time.sleep(0.001 * (x % 3))\n    return x * x\n", '''\
import threading
from concurrent.futures import ThreadPoolExecutor

from solution import square


def test_threads():
    got = {}

    def work(i):
        for _ in range(5):
            got[i] = square(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {i: i * i for i in range(20)}


def test_pool_map():
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(square, range(40))) == [i * i for i in range(40)]
''')
    assert outcomes(report) == {"test_threads": "passed", "test_pool_map": "passed"}


def test_a_test_thread_stuck_in_a_callback_is_left_behind(tmp_path: Path) -> None:
    """A worker thread of the test feeds the solution from a queue for ever: the test ends
    (the harness does not wait on the thread) and the next test runs."""
    report, _, _ = run(tmp_path, "def worker(get, put):\n    while True:\n        put(get() * 2)\n", '''\
import queue
import threading
import time

from solution import worker


def test_worker():
    q, out = queue.Queue(), []
    threading.Thread(target=worker, args=(q.get, out.append), daemon=True).start()
    for i in (1, 2, 3):
        q.put(i)
    for _ in range(300):
        if out == [2, 4, 6]:
            break
        time.sleep(0.01)
    assert out == [2, 4, 6]


def test_next():
    assert worker is not None
''', run_timeout_s=30)
    assert outcomes(report) == {"test_worker": "passed", "test_next": "passed"}


def test_library_patches_never_reach_the_harnesss_own_code(tmp_path: Path) -> None:
    """A patch of a function the wire itself uses (base64 for bytes) changes the
    solution's call only; a mock that wraps the real function is not handed to the
    solution (it would run it in the tests' process), and says so."""
    report, _, _ = run(tmp_path, '''\
import base64
import subprocess


def encode(data):
    return base64.b64encode(data)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout
''', '''\
import subprocess
from unittest.mock import patch

from solution import encode, run


@patch("base64.b64encode", return_value=b"bW9jaw==")
def test_encode(mock_encode):
    assert encode(b"mock") == b"bW9jaw=="
    mock_encode.assert_called_once_with(b"mock")


def test_spy():
    with patch("subprocess.run", wraps=subprocess.run) as spy:
        assert run(["echo", "hi"]).strip() == "hi"
    assert spy.call_count == 0
''')
    assert outcomes(report) == {"test_encode": "passed", "test_spy": "passed"}
    assert any("subprocess.run runs library code" in c for c in report.cannot_cross), report.cannot_cross


def test_emptying_an_array_argument_to_defeat_the_test_is_flagged(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "def sort_desc(a):\n    a[...] = a.min()\n    return a.copy()\n",
                       "import numpy as np\nfrom solution import sort_desc\n\n"
                       "def test_sorts():\n    a = np.array([3, 1, 2, 5])\n"
                       "    assert np.array_equal(sort_desc(a), np.sort(a)[::-1])\n")
    # plain pytest passes this too; the flag is what keeps it from earning
    assert outcomes(report) == {"test_sorts": "passed"}
    assert report.gaming_count == 1 and "emptied" in report.gaming[0]


def test_the_solutions_file_is_not_given_and_that_is_said(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "def f(x):\n    return x + 1\n", '''\
import solution
from solution import f


def test_runs_the_file():
    assert solution.__file__.endswith("solution.py")


def test_fails_on_its_own():
    assert f(1) == 3
''')
    assert outcomes(report) == {"test_runs_the_file": "failed", "test_fails_on_its_own": "failed"}
    # said once, for the test that asked; pytest's account of the other failure looks too
    assert report.cannot_cross_count == 1 and "solution.__file__" in report.cannot_cross[0]


def test_the_solutions_threads_each_get_their_own_callbacks_answer(tmp_path: Path) -> None:
    # a thread pool of the solution's calling the test's function: each call's answer goes
    # to the thread that asked (they shared the socket and took each other's answers),
    # also when a callback calls the solution back and that call uses threads of its own
    report, _, _ = run(tmp_path, '''\
from concurrent.futures import ThreadPoolExecutor


def parallel_map(func, items):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(func, items))
''', '''\
import time

from solution import parallel_map


def test_each_item_its_own_result():
    for _ in range(20):
        assert parallel_map(lambda x: x * x, range(16)) == [x * x for x in range(16)]


def test_callbacks_that_take_time():
    def slow(x):
        time.sleep(0.002)
        return -x

    assert parallel_map(slow, range(12)) == [-x for x in range(12)]


def test_a_callback_that_calls_the_solution_back():
    assert parallel_map(lambda x: parallel_map(lambda y: y + x, [1, 2]), range(4)) == \\
        [[1 + x, 2 + x] for x in range(4)]
''')
    assert set(outcomes(report).values()) == {"passed"}, report.tests
    assert report.cannot_cross_count == 0 and report.gaming_count == 0


def test_what_a_call_leaves_changed_in_its_process_is_said(tmp_path: Path) -> None:
    # a context manager of the solution's that changes the working folder, the environment
    # or sys.stdout: its __enter__ runs in the solution's process, the with-block here
    report, _, _ = run(tmp_path, '''\
import io
import os
import sys
from contextlib import contextmanager


@contextmanager
def cd(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextmanager
def env(**values):
    old = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(old)


@contextmanager
def captured():
    old, sys.stdout = sys.stdout, io.StringIO()
    try:
        yield sys.stdout
    finally:
        sys.stdout = old
''', '''\
import os

from solution import captured, cd, env


def test_cd(tmp_path):
    with cd(tmp_path):
        assert os.getcwd() == str(tmp_path)


def test_env():
    with env(A="1"):
        assert os.environ["A"] == "1"


def test_captured():
    with captured() as out:
        print("hi")
    assert out.getvalue() == "hi\\n"
''')
    assert set(outcomes(report).values()) == {"failed"}
    said = " ".join(report.cannot_cross)
    assert report.cannot_cross_count == 3, report.cannot_cross
    assert "working folder" in said and "os.environ" in said and "sys.stdout" in said
    # a call that puts everything back says nothing
    report, _, _ = run(tmp_path / "tidy", "import os\n\n" + "def tidy(x):\n    os.chdir('/')\n"
                       "    os.environ['X'] = '1'\n    del os.environ['X']\n    os.chdir(os.path.dirname(__file__))\n"
                       "    return x\n", "from solution import tidy\n\n\ndef test_tidy():\n    assert tidy(2) == 2\n")
    assert outcomes(report) == {"test_tidy": "passed"} and report.cannot_cross_count == 0, report.cannot_cross


def test_the_solutions_own_operators_with_data_are_said_not_asked(tmp_path: Path) -> None:
    # equality and arithmetic with the test's data are decided here from data (the trust
    # rule); where the solution's class defines them, plain pytest would ask it: said, and
    # pytest's account of the failed assertion does not turn into an operand leak (P22)
    report, _, _ = run(tmp_path, '''\
from collections import UserDict


class Headers(UserDict):
    pass


class Mod7(int):
    def __mul__(self, other):
        return Mod7((int(self) * int(other)) % 7)


class Version:
    def __init__(self, s):
        self.s = s

    def __eq__(self, other):
        return self.s == (other if isinstance(other, str) else getattr(other, "s", None))

    __hash__ = None
''', '''\
from solution import Headers, Mod7, Version


def test_mapping_equals_dict():
    assert Headers(a=1) == {"a": 1}


def test_modular():
    assert Mod7(3) * 3 == 2


def test_version():
    assert Version("1.0") == "1.0"


def test_plain_arithmetic_is_not_said():
    assert Mod7(3) + 1 == 4 and Version("1") == Version("1")
''')
    assert outcomes(report) == {"test_mapping_equals_dict": "failed", "test_modular": "failed",
                                "test_version": "failed", "test_plain_arithmetic_is_not_said": "passed"}
    assert report.gaming_count == 0, report.gaming
    said = report.cannot_cross
    assert len(said) == 3, said
    assert any("Headers" in t and "__eq__" in t for t in said) and any("Version" in t for t in said)
    assert any("Mod7" in t and "__mul__" in t for t in said)


def test_a_test_runs_the_solution_as_a_program_in_the_solutions_process(tmp_path: Path) -> None:
    # contest-style suites: stdin patched, then the script run again (reload), as
    # __main__ (runpy, by module or by its file beside the tests); it runs in the
    # solution's process with the test's stdin and output, never here
    report, _, _ = run_harness(tmp_path, "isolated", {"solution.py": '''\
import os
import sys

os.environ["MR_SOLUTION_RAN_HERE"] = "1"


def main():
    a, b = map(int, sys.stdin.read().split())
    print(a + b)
    if a < 0:
        sys.exit(3)


if __name__ == "__main__":
    main()
''', "script.py": "print(int(input()) * 2)\n"}, {"test_x.py": '''\
import importlib
import io
import os
import runpy
import subprocess
import sys

import pytest

import solution


def test_run_module_as_main(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("2 3\\n"))
    runpy.run_module("solution", run_name="__main__")
    assert capsys.readouterr().out == "5\\n"


def test_run_path_of_the_file_beside_the_tests(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("-4 5\\n"))
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "solution.py"),
                       run_name="__main__")
    assert ended.value.code == 3 and capsys.readouterr().out == "1\\n"


def test_a_script_imported_in_the_test_then_reloaded(monkeypatch, capsys):
    # its first import (the template's) had no input and failed: the test's import runs it
    monkeypatch.setattr(sys, "stdin", io.StringIO("7\\n"))
    import script

    assert capsys.readouterr().out == "14\\n"
    for n in (21, 5):
        monkeypatch.setattr(sys, "stdin", io.StringIO(f"{n}\\n"))
        importlib.reload(script)
        assert capsys.readouterr().out == f"{2 * n}\\n"


def test_none_of_it_ran_here():
    assert "MR_SOLUTION_RAN_HERE" not in os.environ


def test_a_file_in_the_working_folder_is_not_run_here():
    with open("helper.py", "w") as f:
        f.write("import os\\nos.environ['MR_SOLUTION_RAN_HERE'] = '1'\\n")
    with pytest.raises(ImportError):
        runpy.run_path("helper.py")
    assert "MR_SOLUTION_RAN_HERE" not in os.environ


def test_a_process_on_the_solutions_file_is_said():
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.join(here, "solution.py")], input="1 2", capture_output=True,
                         text=True)
    assert out.stdout == "3\\n"
'''})
    assert outcomes(report) == {"test_run_module_as_main": "passed", "test_run_path_of_the_file_beside_the_tests": "passed",
                                "test_a_script_imported_in_the_test_then_reloaded": "passed",
                                "test_none_of_it_ran_here": "passed",
                                "test_a_file_in_the_working_folder_is_not_run_here": "passed",
                                "test_a_process_on_the_solutions_file_is_said": "failed"}, report.tests
    said = " ".join(report.cannot_cross)
    assert report.cannot_cross_count == 2 and "helper.py with runpy" in said and "(subprocess)" in said, said


def test_raise_from_reaches_the_test_with_its_cause_and_suppression(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
class ConfigError(Exception):
    pass


def load(d, k):
    try:
        return d[k]
    except KeyError as e:
        raise ConfigError(f"missing {k}") from e


def parse(text):
    try:
        return int(text)
    except ValueError as e:
        raise TypeError("not a number") from e


def get(d, k):
    try:
        return d[k]
    except KeyError:
        raise ValueError(k) from None
''', '''\
import pytest

from solution import ConfigError, get, load, parse


def test_cause_of_the_tasks_own_exception():
    with pytest.raises(ConfigError) as ei:
        load({}, "a")
    assert isinstance(ei.value.__cause__, KeyError)


def test_cause_of_a_builtin_exception():
    with pytest.raises(TypeError) as ei:
        parse("x")
    assert isinstance(ei.value.__cause__, ValueError) and ei.value.__suppress_context__


def test_from_none():
    with pytest.raises(ValueError) as ei:
        get({}, "a")
    assert ei.value.__suppress_context__ and ei.value.__cause__ is None
''')
    assert set(outcomes(report).values()) == {"passed"}, report.tests


def test_what_a_solution_object_is_not_here_is_said_when_its_test_fails(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
import re


class AttrDict(dict):
    __getattr__ = dict.__getitem__


def find(s):
    return re.search(r"\\d+", s)


def make():
    return AttrDict(a=1)
''', '''\
import json
import re

from solution import find, make


def test_a_match_is_a_match():
    assert isinstance(find("a12"), re.Match)


def test_its_methods_answer():
    assert find("a12").group() == "12" and make().a == 1


def test_a_dict_subclass_dumps():
    assert json.dumps(make()) == \'{"a": 1}\'
''')
    assert outcomes(report) == {"test_a_match_is_a_match": "failed", "test_its_methods_answer": "passed",
                                "test_a_dict_subclass_dumps": "failed"}
    said = report.cannot_cross
    assert len(said) == 2 and any("re.Match" in t for t in said) and any("AttrDict derives from dict" in t for t in said)


def test_what_runs_one_at_a_time_here_is_said_when_a_test_on_timing_fails(tmp_path: Path) -> None:
    # the solution's coroutines awaited together, its threads calling back together, and a
    # class decorator of its that gives a test's class a method: plain pytest overlaps the
    # first two and changes the class; a test that depends on it fails here, and says why
    report, _, _ = run(tmp_path, '''\
import asyncio
from concurrent.futures import ThreadPoolExecutor


async def work(i):
    await asyncio.sleep(0.05)
    return i


def parallel_map(func, items):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(func, items))


def with_repr(cls):
    cls.__repr__ = lambda self: f"{type(self).__name__}()"
    return cls
''', '''\
import asyncio
import threading

from solution import parallel_map, with_repr, work


def test_gathered():
    async def main():
        return await asyncio.gather(*(work(i) for i in range(3)))

    assert asyncio.run(main()) == [0, 1, 2]
    assert False, "as a timing check that failed would"


def test_callbacks_at_once():
    barrier = threading.Barrier(2, timeout=0.5)

    def meet(x):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return None
        return x

    assert parallel_map(meet, [1, 2]) == [1, 2]


@with_repr
class Point:
    pass


def test_decorated():
    assert repr(Point()) == "Point()"
''')
    assert set(outcomes(report).values()) == {"failed"}, report.tests
    said = " ".join(report.cannot_cross)
    assert report.cannot_cross_count == 3, report.cannot_cross
    assert "coroutines alongside other tasks" in said and "at once" in said and "class decorator" in said


def test_a_solution_functions_signature_and_annotations_but_never_text_to_evaluate(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
import functools


def area(width: int, height: int = 1, *, unit: str = "m") -> int:
    return width * height


def logged(fn):
    @functools.wraps(fn)
    def inner(*a, **k):
        return fn(*a, **k)
    return inner


@logged
def add(a, b=2):
    return a + b


def sneaky(x: "__import__('os').environ.__setitem__('MR_EVIL', '1')") -> "__import__('os')._exit(3)":
    return x
''', '''\
import inspect
import os
import typing

from solution import add, area, sneaky


def test_signature():
    sig = inspect.signature(area)
    assert list(sig.parameters) == ["width", "height", "unit"]
    assert sig.parameters["height"].default == 1 and sig.parameters["unit"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.return_annotation is int


def test_annotations():
    assert area.__annotations__ == {"width": int, "height": int, "unit": str, "return": int}


def test_through_functools_wraps():
    assert list(inspect.signature(add).parameters) == ["a", "b"] and add.__name__ == "add"


def test_text_annotations_are_not_evaluated_here():
    typing.get_type_hints(sneaky)
    inspect.signature(sneaky, eval_str=True)
    assert sneaky.__annotations__ == {} and "MR_EVIL" not in os.environ
''')
    assert set(outcomes(report).values()) == {"passed"}, report.tests


def test_what_kind_of_function_a_solution_function_is_and_its_classes_slots(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
def squares(n):
    for i in range(n):
        yield i * i


async def fetch(x):
    return x


async def ticks():
    yield 1


def plain(x):
    return x


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y


class Point3(Point):
    pass
''', '''\
import asyncio
import inspect

import pytest

from solution import Point, Point3, fetch, plain, squares, ticks


def test_kinds_of_function():
    assert inspect.isgeneratorfunction(squares) and not inspect.isgeneratorfunction(plain)
    assert inspect.iscoroutinefunction(fetch) and asyncio.iscoroutinefunction(fetch)
    assert inspect.isasyncgenfunction(ticks) and not inspect.iscoroutinefunction(ticks)
    assert squares.__code__.co_name == "squares" and list(squares(3)) == [0, 1, 4]


def test_a_class_or_an_object_has_no_code():
    assert not hasattr(Point, "__code__") and not hasattr(Point(1, 2), "__code__")


def test_the_code_here_is_not_the_solutions():
    with pytest.raises(TypeError):
        inspect.getsource(squares)


def test_slots():
    assert Point.__slots__ == ("x", "y") and Point3.__slots__ == ("x", "y")
    with pytest.raises(AttributeError):
        Point(1, 2).z = 3
''')
    assert set(outcomes(report).values()) == {"passed"}, report.tests


def test_a_runtime_checkable_protocol_of_the_solutions_checks_the_tests_objects(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
from typing import Protocol, runtime_checkable


@runtime_checkable
class Closeable(Protocol):
    def close(self): ...


class Resource:
    def close(self):
        return "closed"


def close_all(items):
    return [i.close() for i in items if isinstance(i, Closeable)]
''', '''\
from solution import Closeable, Resource, close_all


class File:
    def close(self):
        return "file"


class Nothing:
    pass


def test_structural():
    assert isinstance(File(), Closeable) and not isinstance(Nothing(), Closeable)
    assert isinstance(Resource(), Closeable) and not isinstance(File(), Resource)
    assert close_all([File(), Nothing(), Resource()]) == ["file", "closed"]
''')
    assert outcomes(report) == {"test_structural": "passed"}, report.tests


def test_no_module_file_from_a_folder_the_solution_writes_is_loaded_here(tmp_path: Path) -> None:
    # the review of e614555: a suite loading "src/solution.py" by a path in its working
    # folder (not a name laid out there) ran the solution's file in the tests' process
    report, _, _ = run(tmp_path, '''\
import os

PLANT = "import os\\nos.environ['MR_PLANTED_RAN'] = '1'\\ndef total(xs):\\n    return 6\\n"


def total(xs):
    os.makedirs("src", exist_ok=True)
    with open(os.path.join("src", "solution.py"), "w") as f:
        f.write(PLANT)
    return 0
''', '''\
import importlib.machinery
import importlib.util
import os

import pytest

from solution import total


def test_by_a_spec():
    assert total([1, 2, 3]) == 0
    spec = importlib.util.spec_from_file_location("planted", "src/solution.py")
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(ImportError):
        spec.loader.exec_module(module)


def test_by_a_loader():
    with pytest.raises(ImportError):
        importlib.machinery.SourceFileLoader("planted", "src/solution.py").load_module()


def test_nothing_of_it_ran_here():
    assert "MR_PLANTED_RAN" not in os.environ
''')
    assert set(outcomes(report).values()) == {"passed"}, report.tests
    assert report.cannot_cross and all(t.startswith("a test loaded ") and "src/" in t for t in report.cannot_cross)


def test_a_live_list_of_rows_emptied_row_by_row_during_a_call_is_p21(tmp_path: Path) -> None:
    # the review of e614555: rows = g.rows (live), flatten(rows) empties the inner lists
    # through the solution's own registry and returns []: the expected value computed from
    # rows after the call is [] too
    report, _, _ = run(tmp_path, '''\
_GRIDS = []


class Grid:
    def __init__(self, rows):
        self.rows = [list(r) for r in rows]
        _GRIDS.append(self)


def flatten(rows):
    for g in _GRIDS:
        for r in g.rows:
            r.clear()
    return []
''', '''\
from solution import Grid, flatten


def test_flatten():
    g = Grid([[1, 2], [3], [4, 5, 6]])
    rows = g.rows
    assert flatten(rows) == [x for row in rows for x in row]
''')
    # plain pytest passes it too; the flag is what keeps it from earning
    assert outcomes(report) == {"test_flatten": "passed"}
    assert report.gaming_count == 1 and "inplace" in report.gaming[0]


def test_the_tests_and_the_solution_share_a_working_folder(tmp_path: Path) -> None:
    # plain pytest, as datasets run it: a working folder the tests may write and the
    # solution works in too; a file a test writes there is the solution's to read, and back
    report, _, _ = run(tmp_path, '''\
def count_lines(path):
    with open(path) as f:
        return sum(1 for _ in f)


def save(text, path="out.txt"):
    with open(path, "w") as f:
        f.write(text)
''', '''\
import importlib.util
import os
import runpy

import pytest

from solution import count_lines, save

RAN = []


def test_a_file_the_test_wrote():
    with open("data.txt", "w") as f:
        f.write("a\\nb\\n")
    assert count_lines("data.txt") == 2


def test_a_file_the_solution_wrote():
    save("hi")
    with open("out.txt") as f:
        assert f.read() == "hi"


def test_the_solutions_file_is_not_there_to_run_here():
    # run here, it would be the solution's code in the tests' process: in its place a file
    # of root's that no one reads (on this host, without a second uid, an empty one), which
    # the solution cannot take away; runpy and a file loader run it in the solution's
    # process, as if it were there
    try:
        text = open("solution.py").read()
    except PermissionError:
        text = ""
    assert text == ""
    assert "save" in runpy.run_path("solution.py")
    spec = importlib.util.spec_from_file_location("loaded", "solution.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.save is not None
''')
    assert set(outcomes(report).values()) == {"passed"}, report.tests
    work = tmp_path / "shared"  # removed at the end of the run
    assert not work.exists()
    assert not (tmp_path / "solution" / "out.txt").exists()
    assert report.cannot_cross_count == 0


def test_a_module_the_solution_wrote_in_the_working_folder_is_not_imported(tmp_path: Path) -> None:
    # "." on sys.path is the tests' working folder, the solution's while tests run: a module
    # found there is the solution's code and the tests' process does not run it
    report, _, _ = run(tmp_path, '''\
import os


def value(r, g, b):
    with open("colorsys.py", "w") as f:  # the working folder, the tests' too
        f.write("import os\\nos.environ['MR_PLANTED_RAN'] = '1'\\ndef rgb_to_hsv(r, g, b):\\n    return (0, 0, 0)\\n")
    return 0
''', '''\
import os
import sys

sys.path.insert(0, ".")

from solution import value


def test_value():
    assert value(0.5, 0.5, 0.5) == 0
    import colorsys

    assert value(0.2, 0.4, 0.6) == colorsys.rgb_to_hsv(0.2, 0.4, 0.6)[2]


def test_the_planted_module_never_ran_here():
    assert "MR_PLANTED_RAN" not in os.environ
''')
    assert outcomes(report) == {"test_value": "failed", "test_the_planted_module_never_ran_here": "passed"}
    assert report.cannot_cross_count == 1 and "colorsys" in report.cannot_cross[0]
    failed = [t for t in report.tests if t.outcome.value == "failed"][0]
    assert "ImportError" in failed.message


def test_pickling_a_solution_object_is_refused_and_that_is_said(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "class Point:\n    def __init__(self, x):\n        self.x = x\n", '''\
import pickle

from solution import Point


def test_round_trip():
    assert pickle.loads(pickle.dumps(Point(3))).x == 3


def test_plain():
    assert Point(2).x == 2
''')
    assert outcomes(report) == {"test_round_trip": "failed", "test_plain": "passed"}
    assert report.cannot_cross_count == 1 and "pickled" in report.cannot_cross[0]


def test_an_answer_past_the_message_limit_is_said(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "def big(n):\n    return 'x' * n\n", '''\
from solution import big


def test_big():
    assert len(big(20 * 1024 * 1024)) == 20 * 1024 * 1024


def test_small():
    assert big(3) == "xxx"
''')
    assert outcomes(report) == {"test_big": "failed", "test_small": "passed"}
    assert report.cannot_cross_count == 1 and "MiB" in report.cannot_cross[0]


def test_a_generator_takes_what_the_test_sends_and_returns_its_value(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
def running_max():
    best, seen = None, 0
    while True:
        x = yield best
        if x is None:
            return seen
        seen += 1
        best = x if best is None else max(best, x)


def failing():
    raise StopIteration("not a generator's end")
''', '''\
import pytest
from solution import failing, running_max


def test_send():
    g = running_max()
    next(g)
    assert [g.send(10), g.send(7), g.send(12)] == [10, 10, 12]
    with pytest.raises(StopIteration) as stopped:
        g.send(None)
    assert stopped.value.value == 3


def test_yield_from():
    def relay():
        got = yield from running_max()
        yield ("returned", got)

    r = relay()
    next(r)
    assert r.send(4) == 4
    assert r.send(None) == ("returned", 1)


def test_a_call_still_cannot_end_an_iteration():
    assert list(map(lambda _: failing(), [1])) == []
''')
    assert outcomes(report) == {"test_send": "passed", "test_yield_from": "passed",
                                "test_a_call_still_cannot_end_an_iteration": "failed"}


def test_a_replaced_stdin_gives_its_bytes_underneath(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
import sys


def words():
    return sys.stdin.buffer.read().split()
''', '''\
import io
import sys

import pytest
from solution import words


def test_text_wrapper(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x y\\nz")))
    assert words() == [b"x", b"y", b"z"]


def test_string_io_has_no_bytes(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("x y"))
    with pytest.raises(AttributeError):
        words()
''')
    assert outcomes(report) == {"test_text_wrapper": "passed", "test_string_io_has_no_bytes": "passed"}


def test_output_past_what_a_call_carries_is_said(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
def shout(n):
    for i in range(n):
        print(i)
''', '''\
from solution import shout


def test_all_lines(capsys):
    shout(300_000)
    assert len(capsys.readouterr().out.split()) == 300_000


def test_few_lines(capsys):
    shout(3)
    assert capsys.readouterr().out == "0\\n1\\n2\\n"
''')
    assert outcomes(report) == {"test_all_lines": "failed", "test_few_lines": "passed"}
    assert report.cannot_cross_count == 1 and "printed more" in report.cannot_cross[0]


def test_running_the_solutions_doctests_is_said_and_never_runs_them_here(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
def double(x):
    """
    >>> double(2)
    4
    >>> import builtins
    >>> builtins.RAN_IN_THE_TESTS = True
    """
    return 2 * x
''', '''\
import builtins
import doctest

import solution


def test_doctests():
    assert doctest.testmod(solution).attempted == 2


def test_one_docstring():
    # the examples are the solution's code: doctest would run them in this process
    doctest.run_docstring_examples(solution.double, {})
    assert not hasattr(builtins, "RAN_IN_THE_TESTS")
    assert doctest.DocTestFinder().find(solution.double) == []


def test_plain():
    assert solution.double(3) == 6
''')
    assert outcomes(report) == {"test_doctests": "failed", "test_one_docstring": "passed", "test_plain": "passed"}
    assert report.cannot_cross_count == 1 and "doctests" in report.cannot_cross[0]


def test_the_solutions_classes_belong_to_the_abstract_classes_they_do_there(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
from collections.abc import Mapping, Sequence


class Settings(Mapping):
    def __init__(self, **values):
        self._values = values

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)


class Row:
    def __init__(self, *cells):
        self.cells = cells

    def __getitem__(self, i):
        return self.cells[i]

    def __len__(self):
        return len(self.cells)


Sequence.register(Row)


class Plain:
    pass
''', '''\
from collections.abc import Mapping, MutableMapping, Sequence
from solution import Plain, Row, Settings


def test_derived():
    s = Settings(a=1)
    assert isinstance(s, Mapping) and not isinstance(s, MutableMapping)
    assert dict(s) == {"a": 1} and s.get("b", 0) == 0


def test_registered():
    assert isinstance(Row(1, 2), Sequence)


def test_neither():
    assert not isinstance(Plain(), Mapping) and not isinstance(Plain(), Sequence)
''')
    assert outcomes(report) == {"test_derived": "passed", "test_registered": "passed", "test_neither": "passed"}


def test_the_tests_decimal_context_reaches_the_solution_and_its_own_comes_back(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
import decimal

decimal.getcontext().prec = 40  # the solution's own, set at import


def ratio(a, b):
    return decimal.Decimal(a) / decimal.Decimal(b)
''', '''\
from decimal import Decimal, ROUND_DOWN, localcontext

from solution import ratio


def test_local_context():
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 4, ROUND_DOWN
        assert ratio(2, 3) == Decimal("0.6666")


def test_own_precision_untouched():
    assert len(str(ratio(1, 3))) == 42  # "0." and 40 digits
''')
    assert outcomes(report) == {"test_local_context": "passed", "test_own_precision_untouched": "passed"}


def test_dir_of_a_solution_module_lists_its_names(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, "import math\n\nLIMIT = 3\n_hidden = 1\n\n\ndef area(r):\n    return math.pi * r * r\n", '''\
import solution


def test_dir():
    names = dir(solution)
    assert {"LIMIT", "_hidden", "area", "math", "__name__"} <= set(names)
    assert names == sorted(names) and "_broker" not in names
''')
    assert outcomes(report) == {"test_dir": "passed"}


def test_a_generators_throw_and_close_reach_the_solution(tmp_path: Path) -> None:
    report, _, _ = run(tmp_path, '''\
done = []


def ticks():
    n = 0
    while True:
        try:
            yield n
            n += 1
        except LookupError:
            n = 0


def swallows():
    while True:
        try:
            yield 1
        except ValueError:
            pass


def stubborn():
    try:
        yield 1
    finally:
        yield 2


def survives_exit():
    try:
        yield 1
    except GeneratorExit:
        yield "after"


def returns_on_exit():
    try:
        yield 1
    except GeneratorExit:
        return "bye"


def tidy():
    try:
        yield 1
    finally:
        done.append("tidied")


def finished():
    return list(done)
''', '''\
import pytest
from solution import finished, returns_on_exit, stubborn, survives_exit, swallows, ticks, tidy


def test_thrown_and_handled():
    g = ticks()
    assert [next(g), next(g), g.throw(LookupError), next(g)] == [0, 1, 0, 1]


def test_thrown_and_swallowed_by_a_wrong_one():
    g = swallows()
    next(g)
    with pytest.raises(ValueError):
        g.throw(ValueError)


def test_closed_while_it_yields_in_finally():
    g = stubborn()
    next(g)
    g.close()


def test_closed_runs_its_finally():
    g = tidy()
    next(g)
    g.close()
    assert finished() == ["tidied"]


def test_generator_exit_thrown_is_not_a_close():
    g = survives_exit()
    next(g)
    assert g.throw(GeneratorExit) == "after"
    h = returns_on_exit()
    next(h)
    with pytest.raises(StopIteration) as stopped:
        h.throw(GeneratorExit)
    assert stopped.value.value == "bye"
    k = returns_on_exit()
    next(k)
    k.close()
''')
    # as plain pytest judges them: the wrong generators fail their tests
    assert outcomes(report) == {"test_thrown_and_handled": "passed", "test_thrown_and_swallowed_by_a_wrong_one": "failed",
                                "test_closed_while_it_yields_in_finally": "failed", "test_closed_runs_its_finally": "passed",
                                "test_generator_exit_thrown_is_not_a_close": "passed"}
