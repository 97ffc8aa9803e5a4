"""Import-time work: a solution that spends about half a second at import building a table,
checked by 80-120 small tests. Plain pytest imports it once (about a second in all)."""

from __future__ import annotations

from .pair import Pair

T = ("import_time",)

PAIRS = [
    Pair("imp-prime-table", "kodcode", T, '''\
from array import array

N = 4_500_000
_sieve = bytearray([1]) * (N + 1)
_sieve[0] = _sieve[1] = 0
for _i in range(2, int(N ** 0.5) + 1):
    if _sieve[_i]:
        _sieve[_i * _i::_i] = bytes(len(range(_i * _i, N + 1, _i)))
PI = array("I", bytes(4 * (N + 1)))
_count = 0
for _i in range(N + 1):
    _count += _sieve[_i]
    PI[_i] = _count


def is_prime(n):
    return 0 <= n <= N and bool(_sieve[n])


def prime_count(n):
    return PI[n]
''', '''\
import pytest
from solution import is_prime, prime_count


def slow_is_prime(n):
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))


@pytest.mark.parametrize("n", range(100))
def test_is_prime(n):
    assert is_prime(n) == slow_is_prime(n)


@pytest.mark.parametrize("n, expected", [(10, 4), (100, 25), (1000, 168), (10 ** 4, 1229),
                                         (10 ** 5, 9592), (10 ** 6, 78498)])
def test_prime_count(n, expected):
    assert prime_count(n) == expected
'''),
    Pair("imp-binomial-table", "leetcode", ("import_time", "instances"), '''\
from array import array

MOD = 10 ** 9 + 7
LIMIT = 1_700_000
FACT = array("q", [1]) * (LIMIT + 1)
for _i in range(1, LIMIT + 1):
    FACT[_i] = FACT[_i - 1] * _i % MOD
INV = array("q", [1]) * (LIMIT + 1)
INV[LIMIT] = pow(FACT[LIMIT], MOD - 2, MOD)
for _i in range(LIMIT, 0, -1):
    INV[_i - 1] = INV[_i] * _i % MOD


class Solution:
    def nCr(self, n: int, r: int) -> int:
        if r < 0 or r > n:
            return 0
        return FACT[n] * INV[r] % MOD * INV[n - r] % MOD
''', '''\
import math

import pytest
from solution import MOD, Solution

CASES = [(n, r) for n in range(0, 200, 2) for r in (0, n // 3)][:110]


@pytest.mark.parametrize("n, r", CASES)
def test_ncr(n, r):
    assert Solution().nCr(n, r) == math.comb(n, r) % MOD


def test_out_of_range():
    assert Solution().nCr(3, 5) == 0
'''),
    Pair("imp-collatz-table", "bigcodebench", T, '''\
from array import array

LIMIT = 800_000
STEPS = array("H", bytes(2 * LIMIT))
for _n in range(2, LIMIT):
    _m, _s = _n, 0
    while _m >= _n:
        _m = _m // 2 if _m % 2 == 0 else 3 * _m + 1
        _s += 1
    STEPS[_n] = _s + STEPS[_m]


def task_func(n):
    if n < LIMIT:
        return STEPS[n]
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps
''', '''\
import pytest
from solution import task_func


def reference(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


@pytest.mark.parametrize("n", list(range(1, 80)) + [97, 871, 77031, 837799, 1_000_001])
def test_steps(n):
    assert task_func(n) == reference(n)
'''),
    # A worker thread started at import and fed through a queue: plain pytest's one
    # process keeps it for every test (a fork of the solution's process would not).
    Pair("imp-worker-thread", "bigcodebench", T, '''\
import queue
import threading

_jobs = queue.Queue()
_results = {}
_done = threading.Condition()


def _worker():
    while True:
        key, value = _jobs.get()
        with _done:
            _results[key] = value * value
            _done.notify_all()


threading.Thread(target=_worker, daemon=True).start()


def square_async(key, value):
    _jobs.put((key, value))


def result(key, timeout=5.0):
    with _done:
        _done.wait_for(lambda: key in _results, timeout)
        return _results.get(key)
''', '''\
from solution import result, square_async


def test_one():
    square_async("a", 3)
    assert result("a") == 9


def test_two():
    square_async("b", 4)
    assert result("b") == 16


def test_earlier_results_are_still_there():
    square_async("c", 5)
    assert result("c") == 25
    assert result("a") == 9 and result("b") == 16
'''),
    # The same with a thread made through _thread (threading does not count it).
    Pair("imp-raw-thread", "bigcodebench", T, '''\
import _thread
import queue

_in, _out = queue.Queue(), queue.Queue()


def _worker():
    while True:
        _out.put(_in.get() + 1)


_thread.start_new_thread(_worker, ())


def inc(x):
    _in.put(x)
    return _out.get(timeout=5)
''', '''\
from solution import inc


def test_1():
    assert inc(1) == 2


def test_2():
    assert inc(5) == 6
'''),
]
