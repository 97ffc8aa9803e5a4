"""Callables in either direction: key functions, comparators, builtins and partials given
to the solution; closures, decorators, wrapped functions, partials and generator
functions returned by it."""

from __future__ import annotations

from .pair import Pair

C = ("callables",)

PAIRS = [
    Pair("call-key-lambda", "kodcode", C, '''\
def sort_by(items, key=None, reverse=False):
    return sorted(items, key=key, reverse=reverse)


def top_k(items, k, key=lambda x: x):
    return sorted(items, key=key, reverse=True)[:k]
''', '''\
from solution import sort_by, top_k


def test_key_lambda():
    assert sort_by([3, 1, 2], key=lambda x: -x) == [3, 2, 1]
    assert sort_by(["bb", "a", "ccc"], key=len) == ["a", "bb", "ccc"]


def test_top_k_with_key():
    words = ["pear", "fig", "banana", "kiwi"]
    assert top_k(words, 2, key=len) == ["banana", "pear"]
    assert top_k([1, 5, 3], 1) == [5]
'''),
    Pair("call-comparator", "kodcode", C, '''\
from functools import cmp_to_key


def sort_with(items, cmp):
    return sorted(items, key=cmp_to_key(cmp))


def largest_number(nums):
    strs = [str(n) for n in nums]
    strs = sort_with(strs, lambda a, b: (b + a > a + b) - (b + a < a + b))
    return str(int("".join(strs)))
''', '''\
from solution import largest_number, sort_with


def by_length_then_alpha(a, b):
    if len(a) != len(b):
        return len(a) - len(b)
    return (a > b) - (a < b)


def test_comparator_from_test():
    assert sort_with(["bb", "a", "ab", "c"], by_length_then_alpha) == ["a", "c", "ab", "bb"]


def test_largest_number():
    assert largest_number([3, 30, 34, 5, 9]) == "9534330"
    assert largest_number([0, 0]) == "0"
'''),
    Pair("call-builtin-method-passed", "kodcode", C, '''\
def apply_all(func, items):
    return [func(x) for x in items]


def transform_keys(d, func):
    return {func(k): v for k, v in d.items()}
''', '''\
from solution import apply_all, transform_keys


def test_str_methods():
    assert apply_all(str.upper, ["a", "b"]) == ["A", "B"]
    assert apply_all(str.strip, [" x ", "y "]) == ["x", "y"]


def test_builtins():
    assert apply_all(abs, [-1, 2, -3]) == [1, 2, 3]
    assert apply_all(len, ["", "ab"]) == [0, 2]
    assert apply_all(int, ["7", "08"]) == [7, 8]
    assert transform_keys({"a": 1}, str.upper) == {"A": 1}
'''),
    Pair("call-partial-passed", "kodcode", C, '''\
def apply_twice(f, x):
    return f(f(x))


def map_values(d, f):
    return {k: f(v) for k, v in d.items()}
''', '''\
import functools
import operator

from solution import apply_twice, map_values


def power(base, exp):
    return base ** exp


def test_partial():
    square = functools.partial(power, exp=2)
    assert apply_twice(square, 3) == 81


def test_operator_functions():
    add5 = functools.partial(operator.add, 5)
    assert map_values({"a": 1, "b": 2}, add5) == {"a": 6, "b": 7}
    assert apply_twice(operator.neg, 4) == 4
'''),
    Pair("call-filter-predicate", "mbpp", C, '''\
def filter_by(items, predicate):
    return [x for x in items if predicate(x)]


def count_if(items, predicate):
    return sum(1 for x in items if predicate(x))
''', '''\
from solution import count_if, filter_by


def test_mbpp():
    assert filter_by([1, 2, 3, 4, 5, 6], lambda x: x % 2 == 0) == [2, 4, 6]
    assert filter_by(["a", "", "b"], bool) == ["a", "b"]
    assert count_if(range(10), lambda x: x > 6) == 3
    assert count_if("Hello World", str.isupper) == 2
'''),
    Pair("call-reduce-fold", "humaneval", C, '''\
def fold(func, items, initial):
    acc = initial
    for x in items:
        acc = func(acc, x)
    return acc
''', '''\
import operator

from solution import fold


def check(candidate):
    assert candidate(operator.add, [1, 2, 3], 0) == 6
    assert candidate(operator.mul, [1, 2, 3, 4], 1) == 24
    assert candidate(lambda a, x: a + [x * 2], [1, 2], []) == [2, 4]
    assert candidate(max, [3, 9, 2], 0) == 9


def test_check():
    check(fold)
'''),
    Pair("call-closure-returned", "kodcode", C, '''\
def make_counter(start=0):
    count = start

    def counter():
        nonlocal count
        count += 1
        return count

    return counter


def make_multiplier(n):
    return lambda x: x * n
''', '''\
from solution import make_counter, make_multiplier


def test_counter_keeps_state():
    c = make_counter()
    assert c() == 1
    assert c() == 2
    other = make_counter(10)
    assert other() == 11
    assert c() == 3


def test_multiplier():
    triple = make_multiplier(3)
    assert triple(4) == 12
    assert list(map(triple, [1, 2])) == [3, 6]
'''),
    Pair("call-compose", "kodcode", C, '''\
from functools import reduce


def compose(*funcs):
    def composed(x):
        return reduce(lambda acc, f: f(acc), reversed(funcs), x)
    return composed


def pipeline(*funcs):
    return compose(*reversed(funcs))
''', '''\
from solution import compose, pipeline


def test_compose_test_functions():
    inc = lambda x: x + 1  # noqa: E731
    dbl = lambda x: x * 2  # noqa: E731
    assert compose(inc, dbl)(5) == 11
    assert pipeline(inc, dbl)(5) == 12


def test_compose_builtins():
    assert compose(str, abs)(-7) == "7"
    assert compose()(3) == 3
'''),
    Pair("call-decorator-memoize", "kodcode", C, '''\
import functools


def memoize(func):
    cache = {}

    @functools.wraps(func)
    def wrapper(*args):
        if args not in cache:
            cache[args] = func(*args)
        return cache[args]

    wrapper.cache = cache
    return wrapper
''', '''\
from solution import memoize

calls = []


@memoize
def slow_square(n):
    """Square a number."""
    calls.append(n)
    return n * n


def test_memoized():
    assert slow_square(4) == 16
    assert slow_square(4) == 16
    assert slow_square(5) == 25
    assert calls == [4, 5]


def test_wraps_keeps_metadata():
    assert slow_square.__name__ == "slow_square"
    assert slow_square.__doc__ == "Square a number."
    assert (4,) in slow_square.cache
'''),
    Pair("call-decorator-retry", "kodcode", ("callables", "exceptions"), '''\
import functools


def retry(times, exceptions=(Exception,)):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for attempt in range(times):
                try:
                    return func(*args, **kwargs)
                except exceptions:
                    if attempt == times - 1:
                        raise
        return wrapper
    return decorate
''', '''\
import pytest
from solution import retry


def test_succeeds_after_failures():
    attempts = []

    @retry(3)
    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    assert flaky() == "ok"
    assert len(attempts) == 3


def test_gives_up():
    @retry(2, exceptions=(ValueError,))
    def always():
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        always()


def test_other_exception_not_retried():
    n = []

    @retry(5, exceptions=(KeyError,))
    def boom():
        n.append(1)
        raise TypeError

    with pytest.raises(TypeError):
        boom()
    assert n == [1]
'''),
    Pair("call-decorator-counting", "bigcodebench", C, '''\
import functools


def count_calls(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return func(*args, **kwargs)
    wrapper.calls = 0
    return wrapper


def validate_positive(func):
    @functools.wraps(func)
    def wrapper(x):
        if x <= 0:
            raise ValueError(f"{func.__name__} needs a positive number")
        return func(x)
    return wrapper
''', '''\
import math
import unittest

from solution import count_calls, validate_positive


class TestDecorators(unittest.TestCase):
    def test_counts(self):
        @count_calls
        def add(a, b):
            return a + b

        self.assertEqual(add(1, 2), 3)
        self.assertEqual(add(b=3, a=4), 7)
        self.assertEqual(add.calls, 2)
        self.assertEqual(add.__name__, "add")

    def test_validate_on_a_builtin(self):
        safe_log = validate_positive(math.log)
        self.assertAlmostEqual(safe_log(math.e), 1.0)
        with self.assertRaisesRegex(ValueError, "log needs a positive"):
            safe_log(-1)
'''),
    Pair("call-partial-returned", "kodcode", C, '''\
import functools


def power(base, exponent):
    return base ** exponent


def make_power(exponent):
    return functools.partial(power, exponent=exponent)
''', '''\
import functools

from solution import make_power, power


def test_partial_returned():
    cube = make_power(3)
    assert cube(2) == 8
    assert isinstance(cube, functools.partial)
    assert cube.keywords == {"exponent": 3}
    assert cube.func is power
    assert [make_power(2)(x) for x in range(4)] == [0, 1, 4, 9]
'''),
    Pair("call-generator-function", "kodcode", ("callables", "stdlib"), '''\
def fibonacci():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b


def take(n, iterable):
    out = []
    for x in iterable:
        if len(out) == n:
            break
        out.append(x)
    return out


def chunks(xs, size):
    for i in range(0, len(xs), size):
        yield xs[i:i + size]
''', '''\
import itertools
import types

from solution import chunks, fibonacci, take


def test_generator():
    gen = fibonacci()
    assert isinstance(gen, types.GeneratorType)
    assert next(gen) == 0
    assert list(itertools.islice(gen, 6)) == [1, 1, 2, 3, 5, 8]


def test_take_from_test_generator():
    assert take(3, (x * x for x in range(10))) == [0, 1, 4]
    assert take(2, fibonacci()) == [0, 1]


def test_chunks():
    assert list(chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
'''),
    Pair("call-callback-accumulate", "kodcode", C, '''\
def walk(tree, visit, depth=0):
    """Call visit(node_value, depth) for every node of a nested (value, children) tree."""
    value, children = tree
    visit(value, depth)
    for child in children:
        walk(child, visit, depth + 1)


def for_each(items, callback):
    for i, x in enumerate(items):
        if callback(i, x) is False:
            return i
    return None
''', '''\
from solution import for_each, walk


def test_visitor_collects():
    seen = []
    tree = ("a", [("b", [("d", [])]), ("c", [])])
    walk(tree, lambda v, d: seen.append((v, d)))
    assert seen == [("a", 0), ("b", 1), ("d", 2), ("c", 1)]


def test_callback_can_stop():
    visited = []

    def cb(i, x):
        visited.append(x)
        return x != "stop"

    assert for_each(["a", "stop", "b"], cb) == 1
    assert visited == ["a", "stop"]
'''),
    Pair("call-bound-method-passed", "kodcode", C, '''\
def drain(source, sink):
    """Move every item from source() (None when empty) into sink(item); return how many."""
    n = 0
    while True:
        item = source()
        if item is None:
            return n
        sink(item)
        n += 1
''', '''\
from collections import deque

from solution import drain


def test_bound_methods():
    q = deque([1, 2, 3])
    out = []
    assert drain(lambda: q.popleft() if q else None, out.append) == 3
    assert out == [1, 2, 3]


def test_object_methods():
    class Source:
        def __init__(self):
            self.items = ["x", "y"]

        def take(self):
            return self.items.pop() if self.items else None

    got = set()
    assert drain(Source().take, got.add) == 2
    assert got == {"x", "y"}
'''),
    Pair("call-max-by-key-apps", "apps", C, '''\
def solve(n, pairs):
    """The name with the highest score, ties broken by the earliest name alphabetically."""
    best = min(pairs, key=lambda p: (-p[1], p[0]))
    return best[0]
''', '''\
from solution import solve


def parse(text):
    lines = text.strip().splitlines()
    n = int(lines[0])
    pairs = [(name, int(score)) for name, score in (line.split() for line in lines[1:n + 1])]
    return n, pairs


CASES = [
    ("3\\nann 5\\nbob 7\\ncid 7\\n", "bob"),
    ("1\\nzed 0\\n", "zed"),
]


def test_call_based():
    for given, expected in CASES:
        assert solve(*parse(given)) == expected
'''),
    Pair("call-curry", "kodcode", C, '''\
import inspect


def curry(func):
    arity = len(inspect.signature(func).parameters)

    def curried(*args):
        if len(args) >= arity:
            return func(*args)
        return lambda *more: curried(*args, *more)

    return curried
''', '''\
from solution import curry


def add3(a, b, c):
    return a + b + c


def test_curry():
    c = curry(add3)
    assert c(1)(2)(3) == 6
    assert c(1, 2)(3) == 6
    assert c(1)(2, 3) == 6
    assert curry(lambda x, y: x * y)(4)(5) == 20
'''),
    Pair("call-sorted-with-key-on-objects", "leetcode", ("callables", "instances"), '''\
class Solution:
    def kClosest(self, points, k):
        return sorted(points, key=lambda p: p[0] ** 2 + p[1] ** 2)[:k]

    def customSortString(self, order, s):
        rank = {c: i for i, c in enumerate(order)}
        return "".join(sorted(s, key=lambda c: rank.get(c, len(order))))
''', '''\
from solution import Solution


def test_k_closest():
    assert Solution().kClosest([[1, 3], [-2, 2]], 1) == [[-2, 2]]
    assert sorted(Solution().kClosest([[3, 3], [5, -1], [-2, 4]], 2)) == [[-2, 4], [3, 3]]


def test_custom_sort():
    assert Solution().customSortString("cba", "abcd") == "cbad"
'''),
    Pair("call-group-by-key", "bigcodebench", C, '''\
from collections import defaultdict


def task_func(records, key_func, value_func=None):
    groups = defaultdict(list)
    for r in records:
        groups[key_func(r)].append(value_func(r) if value_func else r)
    return dict(groups)
''', '''\
import operator
import unittest

from solution import task_func


class TestGroup(unittest.TestCase):
    def test_itemgetter(self):
        recs = [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}]
        out = task_func(recs, operator.itemgetter("k"), operator.itemgetter("v"))
        self.assertEqual(out, {"a": [1, 3], "b": [2]})

    def test_lambda(self):
        out = task_func(range(6), lambda x: x % 3)
        self.assertDictEqual(out, {0: [0, 3], 1: [1, 4], 2: [2, 5]})

    def test_attrgetter(self):
        out = task_func(["ab", "CD"], operator.methodcaller("isupper"))
        self.assertEqual(out, {False: ["ab"], True: ["CD"]})
'''),
    Pair("call-numeric-integrate", "humaneval", C, '''\
def integrate(f, a, b, n=1000):
    """Simpson's rule of f over [a, b] with n (even) intervals."""
    if n % 2:
        n += 1
    h = (b - a) / n
    total = f(a) + f(b)
    for i in range(1, n):
        total += f(a + i * h) * (4 if i % 2 else 2)
    return total * h / 3
''', '''\
import math

from solution import integrate


def check(candidate):
    assert abs(candidate(lambda x: x * x, 0, 3) - 9.0) < 1e-9
    assert abs(candidate(math.sin, 0, math.pi) - 2.0) < 1e-9
    assert abs(candidate(math.exp, 0, 1, n=11) - (math.e - 1)) < 1e-6


def test_check():
    check(integrate)
'''),
    Pair("call-once-decorator", "kodcode", C, '''\
import functools


def once(func):
    """Run func the first time; later calls return the first result."""
    done = []

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not done:
            done.append(func(*args, **kwargs))
        return done[0]

    return wrapper
''', '''\
from solution import once


def test_once():
    calls = []

    @once
    def init(x):
        calls.append(x)
        return x * 10

    assert init(1) == 10
    assert init(2) == 10
    assert calls == [1]
    assert init.__wrapped__(3) == 30
'''),
    Pair("call-method-returning-bound", "kodcode", ("callables", "instances"), '''\
class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting

    def greet(self, name):
        return f"{self.greeting}, {name}!"

    def greeter_for(self, name):
        return lambda: self.greet(name)


def get_handler(greeter):
    return greeter.greet
''', '''\
from solution import Greeter, get_handler


def test_bound_method_returned():
    g = Greeter("Hello")
    handler = get_handler(g)
    assert handler("ann") == "Hello, ann!"
    assert list(map(handler, ["a", "b"])) == ["Hello, a!", "Hello, b!"]


def test_closure_over_self():
    g = Greeter("Hi")
    later = g.greeter_for("bo")
    g.greeting = "Yo"
    assert later() == "Yo, bo!"
'''),
    Pair("call-dispatch-table", "apps", C, '''\
import operator

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.floordiv}


def evaluate_rpn(tokens):
    stack = []
    for t in tokens:
        if t in OPS:
            b, a = stack.pop(), stack.pop()
            stack.append(int(OPS[t](a, b)) if t != "/" else int(a / b))
        else:
            stack.append(int(t))
    return stack[0]
''', '''\
import operator

from solution import OPS, evaluate_rpn


def test_rpn():
    assert evaluate_rpn(["2", "1", "+", "3", "*"]) == 9
    assert evaluate_rpn(["4", "13", "5", "/", "+"]) == 6


def test_table_of_callables():
    assert OPS["+"] is operator.add
    assert OPS["*"](6, 7) == 42
'''),
    Pair("call-lru-cache-solution", "leetcode", ("callables", "stdlib", "instances"), '''\
from functools import lru_cache


class Solution:
    def climbStairs(self, n: int) -> int:
        @lru_cache(maxsize=None)
        def ways(k):
            return 1 if k <= 1 else ways(k - 1) + ways(k - 2)
        return ways(n)


@lru_cache(maxsize=None)
def binomial(n, k):
    if k in (0, n):
        return 1
    return binomial(n - 1, k - 1) + binomial(n - 1, k)
''', '''\
from solution import Solution, binomial


def test_stairs():
    assert Solution().climbStairs(2) == 2
    assert Solution().climbStairs(5) == 8
    assert Solution().climbStairs(40) == 165580141


def test_binomial_cache_info():
    assert binomial(20, 10) == 184756
    info = binomial.cache_info()
    assert info.hits > 0
'''),
    Pair("call-async-functions", "kodcode", C, '''\
import asyncio


async def fetch(key, delay=0):
    await asyncio.sleep(delay)
    return key.upper()


async def fetch_all(keys):
    return list(await asyncio.gather(*(fetch(k) for k in keys)))


async def countdown(n):
    while n > 0:
        await asyncio.sleep(0)
        yield n
        n -= 1


class Cache:
    def __init__(self):
        self.data = {}

    async def get(self, key, loader):
        if key not in self.data:
            self.data[key] = await loader(key)
        return self.data[key]
''', '''\
import asyncio
from unittest.mock import AsyncMock

import pytest

from solution import Cache, countdown, fetch, fetch_all


def test_run_a_coroutine():
    assert asyncio.run(fetch("a")) == "A"


def test_gather_in_the_solution_and_here():
    assert asyncio.run(fetch_all(["x", "y"])) == ["X", "Y"]

    async def main():
        return await asyncio.gather(fetch("p"), fetch("q", 0.01))

    assert asyncio.run(main()) == ["P", "Q"]


def test_async_generator():
    async def main():
        return [n async for n in countdown(3)]

    assert asyncio.run(main()) == [3, 2, 1]


def test_the_solution_awaits_the_tests_coroutine():
    calls = []

    async def loader(key):
        calls.append(key)
        return len(key)

    cache = Cache()
    assert asyncio.run(cache.get("abc", loader)) == 3
    assert asyncio.run(cache.get("abc", loader)) == 3
    assert calls == ["abc"]


def test_async_mock():
    loader = AsyncMock(return_value=7)
    assert asyncio.run(Cache().get("k", loader)) == 7
    loader.assert_awaited_once_with("k")


def test_an_exception_from_a_coroutine():
    async def bad(key):
        raise KeyError(key)

    with pytest.raises(KeyError):
        asyncio.run(Cache().get("k", bad))
'''),
    # Objects of the tests' own classes handed to the solution, which uses what their
    # class defines: an observer's method, a strategy's, a property, __lt__ for sorted(),
    # __str__, a class constant (found by a hunt for honest suites scored wrongly).
    Pair("call-test-objects-with-methods", "kodcode", C, '''\\
class EventBus:
    def __init__(self):
        self.listeners = []

    def subscribe(self, listener):
        self.listeners.append(listener)

    def publish(self, event):
        for listener in self.listeners:
            listener.update(event)
        return len(self.listeners)


def apply_all(strategy, values):
    return [strategy.execute(v) for v in values]


def total_area(shapes):
    return sum(shape.area for shape in shapes)


def ranking(players):
    return [str(p) for p in sorted(players)]


def describe(animal):
    return f"{animal.name} says {animal.SOUND}"
''', '''\\
from solution import EventBus, apply_all, describe, ranking, total_area


class Recorder:
    def __init__(self):
        self.seen = []

    def update(self, event):
        self.seen.append(event)


class Doubler:
    def execute(self, x):
        return 2 * x


class Rect:
    def __init__(self, w, h):
        self.w, self.h = w, h

    @property
    def area(self):
        return self.w * self.h


class Player:
    def __init__(self, name, score):
        self.name, self.score = name, score

    def __lt__(self, other):
        return self.score > other.score

    def __str__(self):
        return f"{self.name}:{self.score}"


class Dog:
    SOUND = "woof"

    def __init__(self, name):
        self.name = name


def test_observer():
    bus, a, b = EventBus(), Recorder(), Recorder()
    bus.subscribe(a)
    bus.subscribe(b)
    assert bus.publish("start") == 2
    assert a.seen == ["start"] and b.seen == ["start"]


def test_strategy():
    assert apply_all(Doubler(), [1, 2, 3]) == [2, 4, 6]


def test_property():
    assert total_area([Rect(2, 3), Rect(1, 1)]) == 7


def test_sorted_by_the_tests_order():
    assert ranking([Player("a", 1), Player("b", 3), Player("c", 2)]) == ["b:3", "c:2", "a:1"]


def test_class_constant():
    assert describe(Dog("rex")) == "rex says woof"
'''),
    Pair("call-generator-send-and-return", "kodcode", ("callables",), '''\
def averager():
    total = count = 0
    average = None
    while True:
        x = yield average
        if x is None:
            return count
        total += x
        count += 1
        average = total / count


def countdown(n):
    while n > 0:
        yield n
        n -= 1
    return "liftoff"


class Restart(Exception):
    pass


opened = []


def session(name):
    opened.append(name)
    try:
        step = 0
        while True:
            try:
                yield step
                step += 1
            except Restart:
                step = 0
    finally:
        opened.remove(name)
''', '''\
import pytest

from solution import Restart, averager, countdown, session


def test_send_feeds_the_running_average():
    g = averager()
    assert next(g) is None
    assert g.send(10) == 10
    assert g.send(20) == 15
    with pytest.raises(StopIteration) as stopped:
        g.send(None)
    assert stopped.value.value == 2


def test_return_value_reaches_yield_from():
    def relay():
        result = yield from countdown(3)
        yield result

    assert list(relay()) == [3, 2, 1, "liftoff"]


def test_next_then_return_value():
    g = countdown(1)
    assert next(g) == 1
    with pytest.raises(StopIteration) as stopped:
        next(g)
    assert stopped.value.value == "liftoff"


def test_throw_restarts_and_close_cleans_up():
    s = session("db")
    assert [next(s), next(s), s.throw(Restart), next(s)] == [0, 1, 0, 1]
    with pytest.raises(KeyError):
        s.throw(KeyError("not handled"))
    t = session("cache")
    next(t)
    t.close()
    import solution
    assert solution.opened == []
'''),
    Pair("call-thread-pool-map-callback", "bigcodebench", C, '''\
from concurrent.futures import ThreadPoolExecutor


def task_func(func, items, workers=4):
    \"\"\"Apply func to every item on a pool of threads; results in the items' order.\"\"\"
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))
''', '''\
import unittest

from solution import task_func


class TestCases(unittest.TestCase):
    def test_squares_in_order(self):
        self.assertEqual(task_func(lambda x: x * x, range(32)), [x * x for x in range(32)])

    def test_strings(self):
        words = ["alpha", "beta", "gamma", "delta"] * 5
        self.assertEqual(task_func(str.upper, words), [w.upper() for w in words])

    def test_results_of_a_method_of_the_test(self):
        seen = []

        def record(x):
            seen.append(x)
            return x + 1

        self.assertEqual(task_func(record, range(10), workers=3), list(range(1, 11)))
        self.assertEqual(sorted(seen), list(range(10)))
'''),
]
