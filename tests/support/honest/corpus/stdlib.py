"""Standard-library values returned by the solution and passed to it with their exact
types: collections, namedtuples, dataclasses, enums, numbers, dates, ranges, iterators,
dict views, bytearray, heaps, numpy arrays."""

from __future__ import annotations

from .pair import Pair

S = ("stdlib",)

PAIRS = [
    Pair("std-counter", "kodcode", S, '''\
from collections import Counter


def letter_counts(text):
    return Counter(c for c in text.lower() if c.isalpha())


def merge_counts(a, b):
    return a + b
''', '''\
from collections import Counter

from solution import letter_counts, merge_counts


def test_counter():
    c = letter_counts("Hello")
    assert c == Counter({"l": 2, "h": 1, "e": 1, "o": 1})
    assert isinstance(c, Counter)
    assert c.most_common(1) == [("l", 2)]
    assert c["z"] == 0


def test_counter_passed_in():
    assert merge_counts(Counter("ab"), Counter("b")) == Counter({"b": 2, "a": 1})
'''),
    Pair("std-defaultdict", "kodcode", S, '''\
from collections import defaultdict


def group_anagrams(words):
    groups = defaultdict(list)
    for w in words:
        groups["".join(sorted(w))].append(w)
    return groups
''', '''\
from collections import defaultdict

from solution import group_anagrams


def test_defaultdict():
    g = group_anagrams(["eat", "tea", "tan", "ate", "nat", "bat"])
    assert isinstance(g, defaultdict)
    assert g["aet"] == ["eat", "tea", "ate"]
    assert sorted(map(sorted, g.values())) == [["ate", "eat", "tea"], ["bat"], ["nat", "tan"]]
    assert g["zzz"] == []
'''),
    Pair("std-ordereddict", "kodcode", S, '''\
from collections import OrderedDict


def first_seen(pairs):
    out = OrderedDict()
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def move_front(od, key):
    od.move_to_end(key, last=False)
    return od
''', '''\
from collections import OrderedDict

from solution import first_seen, move_front


def test_ordered():
    od = first_seen([("b", 1), ("a", 2), ("b", 3)])
    assert od == OrderedDict([("b", 1), ("a", 2)])
    assert type(od) is OrderedDict
    assert list(od) == ["b", "a"]


def test_move_front():
    od = OrderedDict(x=1, y=2, z=3)
    assert list(move_front(od, "z")) == ["z", "x", "y"]
'''),
    Pair("std-deque", "leetcode", ("stdlib", "instances"), '''\
from collections import deque


class Solution:
    def maxSlidingWindow(self, nums, k):
        dq, out = deque(), []
        for i, n in enumerate(nums):
            while dq and nums[dq[-1]] < n:
                dq.pop()
            dq.append(i)
            if dq[0] <= i - k:
                dq.popleft()
            if i >= k - 1:
                out.append(nums[dq[0]])
        return out


def rotate(items, n):
    d = deque(items)
    d.rotate(n)
    return d
''', '''\
from collections import deque

from solution import Solution, rotate


def test_window():
    assert Solution().maxSlidingWindow([1, 3, -1, -3, 5, 3, 6, 7], 3) == [3, 3, 5, 5, 6, 7]


def test_deque_returned():
    d = rotate([1, 2, 3, 4], 1)
    assert d == deque([4, 1, 2, 3])
    assert isinstance(d, deque)
    d.appendleft(0)
    assert list(d) == [0, 4, 1, 2, 3]
'''),
    Pair("std-namedtuple-solution", "kodcode", S, '''\
from collections import namedtuple

Point = namedtuple("Point", ["x", "y"])


def midpoint(a, b):
    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)


def parse_point(text):
    x, y = map(float, text.split(","))
    return Point(x, y)
''', '''\
from solution import Point, midpoint, parse_point


def test_namedtuple():
    m = midpoint(Point(0, 0), Point(2, 4))
    assert m == Point(1.0, 2.0)
    assert m.x == 1.0 and m.y == 2.0
    assert m == (1.0, 2.0)
    assert m._asdict() == {"x": 1.0, "y": 2.0}


def test_parse():
    p = parse_point("1.5,2")
    assert isinstance(p, Point)
    assert p._replace(y=0) == Point(1.5, 0)
'''),
    Pair("std-namedtuple-test-defined", "kodcode", S, '''\
def total_price(items):
    return round(sum(i.price * i.qty for i in items), 2)


def cheapest(items):
    return min(items, key=lambda i: i.price)
''', '''\
from collections import namedtuple

from solution import cheapest, total_price

Item = namedtuple("Item", "name price qty")


def test_test_defined_namedtuples():
    items = [Item("a", 1.25, 2), Item("b", 0.5, 4)]
    assert total_price(items) == 4.5
    c = cheapest(items)
    assert c == Item("b", 0.5, 4)
    assert c.name == "b"
'''),
    Pair("std-typing-namedtuple", "kodcode", S, '''\
from typing import NamedTuple


class Interval(NamedTuple):
    start: int
    end: int

    @property
    def length(self):
        return self.end - self.start


def merge(intervals):
    out = []
    for iv in sorted(Interval(*t) for t in intervals):
        if out and iv.start <= out[-1].end:
            out[-1] = Interval(out[-1].start, max(out[-1].end, iv.end))
        else:
            out.append(iv)
    return out
''', '''\
from solution import Interval, merge


def test_merge():
    got = merge([Interval(1, 3), Interval(2, 6), Interval(8, 10)])
    assert got == [Interval(1, 6), Interval(8, 10)]
    assert got[0].length == 5


def test_plain_tuples_in():
    assert merge([(5, 7), (1, 2)]) == [(1, 2), (5, 7)]
'''),
    Pair("std-dataclass-test-defined", "kodcode", S, '''\
def oldest(people):
    return max(people, key=lambda p: p.age)


def rename(person, name):
    person.name = name
    return person


def birthday(people):
    for p in people:
        p.age += 1
    return len(people)
''', '''\
from dataclasses import dataclass

from solution import birthday, oldest, rename


@dataclass
class Person:
    name: str
    age: int


def test_returns_test_object():
    ps = [Person("a", 30), Person("b", 41)]
    assert oldest(ps) == Person("b", 41)
    assert oldest(ps) is ps[1]


def test_mutates_test_object():
    p = Person("a", 1)
    assert rename(p, "z") is p
    assert p.name == "z"
    ps = [Person("x", 1), Person("y", 2)]
    assert birthday(ps) == 2
    assert [p.age for p in ps] == [2, 3]
'''),
    Pair("std-dataclass-frozen", "kodcode", ("stdlib", "instances"), '''\
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Card:
    rank: int
    suit: str

    def __str__(self):
        return f"{self.rank}{self.suit}"


def deck():
    return [Card(r, s) for s in "SHDC" for r in range(1, 14)]


def promote(card):
    return replace(card, rank=min(card.rank + 1, 13))
''', '''\
import dataclasses

import pytest
from solution import Card, deck, promote


def test_deck():
    d = deck()
    assert len(d) == 52
    assert len(set(d)) == 52
    assert d[0] == Card(1, "S")


def test_frozen():
    c = Card(5, "H")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.rank = 6
    assert promote(c) == Card(6, "H")
    assert str(promote(Card(13, "C"))) == "13C"
'''),
    Pair("std-enum", "kodcode", S, '''\
from enum import Enum, IntEnum, auto


class Color(Enum):
    RED = auto()
    GREEN = auto()
    BLUE = auto()


class Priority(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3


def complement(c):
    return {Color.RED: Color.GREEN, Color.GREEN: Color.RED}.get(c, Color.BLUE)


def most_urgent(priorities):
    return max(priorities)
''', '''\
from solution import Color, Priority, complement, most_urgent


def test_enum():
    assert complement(Color.RED) is Color.GREEN
    assert complement(Color.BLUE) == Color.BLUE
    assert Color.RED.name == "RED"
    assert [c.name for c in Color] == ["RED", "GREEN", "BLUE"]
    assert Color["GREEN"] is Color.GREEN


def test_int_enum():
    assert most_urgent([Priority.LOW, Priority.HIGH]) is Priority.HIGH
    assert Priority.MEDIUM == 2
    assert Priority(3) is Priority.HIGH
    assert sorted([3, Priority.LOW]) == [1, 3]
'''),
    Pair("std-decimal", "kodcode", S, '''\
from decimal import ROUND_HALF_UP, Decimal


def money_round(value):
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def split_bill(total, people):
    share = (Decimal(total) / people).quantize(Decimal("0.01"))
    return [share] * (people - 1) + [Decimal(total) - share * (people - 1)]
''', '''\
from decimal import Decimal

from solution import money_round, split_bill


def test_round():
    assert money_round("2.675") == Decimal("2.68")
    assert isinstance(money_round("1"), Decimal)
    assert str(money_round("1")) == "1.00"


def test_split():
    parts = split_bill("10.00", 3)
    assert parts == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]
    assert sum(parts) == Decimal("10.00")
'''),
    Pair("std-fraction", "humaneval", S, '''\
from fractions import Fraction


def egyptian(frac):
    """Greedy Egyptian fraction of a Fraction in (0, 1)."""
    out = []
    while frac:
        d = -(-frac.denominator // frac.numerator)
        out.append(Fraction(1, d))
        frac -= Fraction(1, d)
    return out
''', '''\
from fractions import Fraction

from solution import egyptian


def check(candidate):
    assert candidate(Fraction(2, 3)) == [Fraction(1, 2), Fraction(1, 6)]
    assert sum(candidate(Fraction(5, 121))) == Fraction(5, 121)
    assert all(isinstance(f, Fraction) for f in candidate(Fraction(3, 7)))


def test_check():
    check(egyptian)
'''),
    Pair("std-datetime", "kodcode", S, '''\
from datetime import date, datetime, timedelta


def add_business_days(start, days):
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def parse_ts(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


def duration(a, b):
    return b - a
''', '''\
from datetime import date, datetime, timedelta

from solution import add_business_days, duration, parse_ts


def test_dates():
    assert add_business_days(date(2024, 1, 5), 1) == date(2024, 1, 8)
    assert add_business_days(date(2024, 1, 1), 5).isoformat() == "2024-01-08"


def test_datetime():
    ts = parse_ts("2024-02-29 13:45")
    assert ts == datetime(2024, 2, 29, 13, 45)
    assert ts.year == 2024 and ts.minute == 45


def test_timedelta():
    d = duration(datetime(2024, 1, 1), datetime(2024, 1, 2, 6))
    assert d == timedelta(hours=30)
    assert d.total_seconds() == 108000
'''),
    Pair("std-range", "mbpp", S, '''\
def evens(n):
    return range(0, n, 2)


def span(r):
    return (r.start, r.stop, r.step, len(r))
''', '''\
from solution import evens, span


def test_range():
    r = evens(10)
    assert r == range(0, 10, 2)
    assert list(r) == [0, 2, 4, 6, 8]
    assert 4 in r and 5 not in r
    assert r[-1] == 8
    assert span(range(3, 30, 3)) == (3, 30, 3, 9)
'''),
    Pair("std-iterators", "kodcode", S, '''\
import itertools


def pairwise_sums(xs):
    return map(sum, itertools.pairwise(xs))


def interleave(*iterables):
    sentinel = object()
    for group in itertools.zip_longest(*iterables, fillvalue=sentinel):
        for x in group:
            if x is not sentinel:
                yield x


def windows(it, n):
    it = iter(it)
    window = tuple(itertools.islice(it, n))
    if len(window) == n:
        yield window
    for x in it:
        window = window[1:] + (x,)
        yield window
''', '''\
from solution import interleave, pairwise_sums, windows


def test_map_object():
    it = pairwise_sums([1, 2, 3, 4])
    assert next(it) == 3
    assert list(it) == [5, 7]


def test_generator_of_test_iterators():
    assert list(interleave("ab", [1, 2, 3])) == ["a", 1, "b", 2, 3]
    assert list(interleave(iter(range(2)), (x for x in "xyz"))) == [0, "x", 1, "y", "z"]


def test_windows():
    assert list(windows(range(5), 3)) == [(0, 1, 2), (1, 2, 3), (2, 3, 4)]
'''),
    Pair("std-dict-views", "kodcode", S, '''\
def common_keys(a, b):
    return a.keys() & b.keys()


def config_items(cfg):
    return cfg.items()


def only_values(d):
    return d.values()
''', '''\
from solution import common_keys, config_items, only_values


def test_views():
    assert common_keys({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {"b"}
    items = config_items({"x": 1})
    assert list(items) == [("x", 1)]
    assert ("x", 1) in items
    assert sorted(only_values({"a": 2, "b": 1})) == [1, 2]


def test_view_is_live():
    d = {"a": 1}
    keys = d.keys()
    d["b"] = 2
    assert set(keys) == {"a", "b"}
'''),
    Pair("std-bytearray-bytes", "kodcode", S, '''\
def xor_bytes(data, key):
    out = bytearray(len(data))
    for i, b in enumerate(data):
        out[i] = b ^ key[i % len(key)]
    return out


def checksum(data):
    return sum(data) % 256


def to_hex(data):
    return bytes(data).hex()
''', '''\
from solution import checksum, to_hex, xor_bytes


def test_bytearray():
    out = xor_bytes(b"abc", b"\\x01")
    assert out == bytearray(b"`cb")
    assert isinstance(out, bytearray)
    assert xor_bytes(out, b"\\x01") == b"abc"


def test_bytes_in():
    assert checksum(bytearray([250, 10])) == 4
    assert to_hex(bytearray(b"\\x00\\xff")) == "00ff"
    assert to_hex(memoryview(b"ab")) == "6162"
'''),
    Pair("std-heapq", "leetcode", ("stdlib", "instances"), '''\
import heapq


def k_smallest_heap(nums, k):
    heap = list(nums)
    heapq.heapify(heap)
    return heap, [heapq.heappop(heap) for _ in range(k)]


class KthLargest:
    def __init__(self, k, nums):
        self.k = k
        self.heap = heapq.nlargest(k, nums)
        heapq.heapify(self.heap)

    def add(self, val):
        heapq.heappush(self.heap, val)
        if len(self.heap) > self.k:
            heapq.heappop(self.heap)
        return self.heap[0]
''', '''\
import heapq

from solution import KthLargest, k_smallest_heap


def test_heap_list():
    heap, smallest = k_smallest_heap([5, 1, 4, 2, 3], 2)
    assert smallest == [1, 2]
    assert heap[0] == 3
    assert heapq.heappop(heap) == 3


def test_kth_largest():
    kl = KthLargest(3, [4, 5, 8, 2])
    assert [kl.add(x) for x in (3, 5, 10, 9, 4)] == [4, 5, 5, 8, 8]
'''),
    Pair("std-numpy-arrays", "kodcode", S, '''\
import numpy as np


def normalize(v):
    v = np.asarray(v, dtype=float)
    return (v - v.mean()) / v.std()


def moving_average(x, w):
    return np.convolve(x, np.ones(w) / w, mode="valid")


def argmax2d(a):
    return np.unravel_index(np.argmax(a), a.shape)
''', '''\
import numpy as np

from solution import argmax2d, moving_average, normalize


def test_normalize():
    z = normalize([1, 2, 3])
    assert isinstance(z, np.ndarray)
    assert abs(z.mean()) < 1e-12
    np.testing.assert_allclose(z.std(), 1.0)


def test_moving_average():
    np.testing.assert_allclose(moving_average(np.arange(5), 2), [0.5, 1.5, 2.5, 3.5])


def test_argmax():
    a = np.array([[1, 9], [3, 4]])
    assert tuple(int(i) for i in argmax2d(a)) == (0, 1)
'''),
    Pair("std-numpy-matrix-solution", "bigcodebench", S, '''\
import numpy as np


def _mode(column):
    values, counts = np.unique(column, return_counts=True)
    return values[np.argmax(counts)]


def task_func(data):
    arr = np.asarray(data, dtype=float)
    return {"mean": arr.mean(axis=0), "median": np.median(arr, axis=0),
            "mode": np.apply_along_axis(_mode, 0, arr)}
''', '''\
import unittest

import numpy as np

from solution import task_func


class TestStats(unittest.TestCase):
    def test_columns(self):
        out = task_func([[1, 2], [1, 4], [4, 4]])
        np.testing.assert_array_almost_equal(out["mean"], [2.0, 10 / 3])
        np.testing.assert_array_equal(out["median"], [1.0, 4.0])
        np.testing.assert_array_equal(out["mode"], [1.0, 4.0])
        self.assertEqual(out["mean"].shape, (2,))
'''),
    Pair("std-set-frozenset", "mbpp", S, '''\
def power_set(items):
    result = {frozenset()}
    for x in items:
        result |= {s | {x} for s in result}
    return result
''', '''\
from solution import power_set


def test_power_set():
    ps = power_set([1, 2])
    assert ps == {frozenset(), frozenset({1}), frozenset({2}), frozenset({1, 2})}
    assert len(power_set(range(4))) == 16
'''),
    Pair("std-complex-and-math", "humaneval", S, '''\
import cmath


def roots(a, b, c):
    d = cmath.sqrt(b * b - 4 * a * c)
    return ((-b + d) / (2 * a), (-b - d) / (2 * a))
''', '''\
from solution import roots


def check(candidate):
    r1, r2 = candidate(1, 0, 1)
    assert r1 == 1j and r2 == -1j
    assert candidate(1, -3, 2) == (2 + 0j, 1 + 0j)
    assert isinstance(r1, complex)


def test_check():
    check(roots)
'''),
    Pair("std-statistics-bigcode", "bigcodebench", S, '''\
import statistics
from collections import Counter, namedtuple

Summary = namedtuple("Summary", "mean median mode counts")


def task_func(values):
    return Summary(statistics.mean(values), statistics.median(values),
                   statistics.mode(values), Counter(values))
''', '''\
import unittest
from collections import Counter

from solution import Summary, task_func


class TestSummary(unittest.TestCase):
    def test_summary(self):
        s = task_func([1, 2, 2, 3])
        self.assertIsInstance(s, Summary)
        self.assertEqual(s.mean, 2)
        self.assertEqual(s.median, 2)
        self.assertEqual(s.mode, 2)
        self.assertEqual(s.counts, Counter({2: 2, 1: 1, 3: 1}))
        self.assertEqual(s.counts.most_common(1)[0][0], 2)
'''),
    Pair("std-uuid-pathlike", "kodcode", S, '''\
import uuid
from pathlib import PurePosixPath


NAMESPACE = uuid.UUID("12345678-1234-5678-1234-567812345678")


def stable_id(name):
    return uuid.uuid5(NAMESPACE, name)


def change_suffix(path, suffix):
    return PurePosixPath(path).with_suffix(suffix)
''', '''\
import uuid
from pathlib import PurePosixPath

from solution import change_suffix, stable_id


def test_uuid():
    a = stable_id("x")
    assert isinstance(a, uuid.UUID)
    assert a == stable_id("x") and a != stable_id("y")
    assert a.version == 5


def test_pure_path():
    p = change_suffix("/data/report.txt", ".csv")
    assert p == PurePosixPath("/data/report.csv")
    assert p.name == "report.csv"
    assert change_suffix(PurePosixPath("a/b.py"), ".pyc").parts == ("a", "b.pyc")
'''),
    Pair("std-nested-collections", "apps", S, '''\
from collections import Counter, defaultdict


def solve(edges):
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph[b].add(a)
    degrees = Counter({node: len(nbrs) for node, nbrs in graph.items()})
    return graph, degrees
''', '''\
from collections import Counter

from solution import solve


def test_graph():
    graph, degrees = solve([(1, 2), (2, 3), (3, 1), (3, 4)])
    assert graph[3] == {1, 2, 4}
    assert degrees == Counter({3: 3, 1: 2, 2: 2, 4: 1})
    assert degrees.most_common(1) == [(3, 3)]
    assert graph[99] == set()
'''),
    Pair("std-array-struct", "kodcode", S, '''\
import struct
from array import array


def pack_points(points):
    return b"".join(struct.pack("<ii", x, y) for x, y in points)


def unpack_points(data):
    return [struct.unpack_from("<ii", data, i) for i in range(0, len(data), 8)]


def squares(n):
    return array("i", (i * i for i in range(n)))
''', '''\
from array import array

from solution import pack_points, squares, unpack_points


def test_struct_roundtrip():
    data = pack_points([(1, 2), (-3, 4)])
    assert isinstance(data, bytes) and len(data) == 16
    assert unpack_points(data) == [(1, 2), (-3, 4)]


def test_array():
    a = squares(4)
    assert a == array("i", [0, 1, 4, 9])
    assert a.typecode == "i"
'''),
    Pair("std-time-struct-and-calendar", "mbpp", S, '''\
import calendar
from datetime import date


def month_days(year, month):
    return calendar.monthrange(year, month)[1]


def weekday_name(d):
    return calendar.day_name[d.weekday()]


def next_month(d):
    y, m = divmod(d.year * 12 + d.month, 12)
    return date(y, m + 1, 1)
''', '''\
from datetime import date

from solution import month_days, next_month, weekday_name


def test_calendar():
    assert month_days(2024, 2) == 29
    assert month_days(2023, 2) == 28
    assert weekday_name(date(2024, 1, 1)) == "Monday"
    assert next_month(date(2024, 12, 15)) == date(2025, 1, 1)
    assert next_month(date(2024, 1, 31)) == date(2024, 2, 1)
'''),
    Pair("std-chain-map-and-types", "kodcode", S, '''\
from collections import ChainMap
from types import SimpleNamespace


def settings(defaults, overrides):
    return ChainMap(overrides, defaults)


def as_namespace(d):
    return SimpleNamespace(**d)
''', '''\
from collections import ChainMap

from solution import as_namespace, settings


def test_chain_map():
    s = settings({"debug": False, "port": 80}, {"port": 8080})
    assert isinstance(s, ChainMap)
    assert s["port"] == 8080 and s["debug"] is False
    assert dict(s) == {"debug": False, "port": 8080}


def test_namespace():
    ns = as_namespace({"a": 1, "b": "x"})
    assert ns.a == 1 and ns.b == "x"
'''),
    Pair("std-value-types-are-values", "kodcode", S, '''\
import enum
from collections import namedtuple
from typing import NamedTuple

Interval = namedtuple("Interval", "start end")


class Score(NamedTuple):
    name: str
    points: int = 0


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 3


class Suit(str, enum.Enum):
    HEARTS = "H"
    SPADES = "S"


class Word(str):
    def vowels(self):
        return sum(ch in "aeiou" for ch in self.lower())


def merge(intervals):
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1].end:
            out[-1] = Interval(out[-1].start, max(out[-1].end, e))
        else:
            out.append(Interval(s, e))
    return out


def ranking(rows):
    return sorted((Score(n, p) for n, p in rows), key=lambda r: -r.points)


def bump(p):
    return Priority(min(p + 2, Priority.HIGH))


def words(text):
    return [Word(w) for w in text.split()]
''', '''\
import json

from solution import Interval, Priority, Score, Suit, Word, bump, merge, ranking, words


def test_namedtuples_are_tuples():
    merged = merge([(1, 3), (2, 6), (8, 10)])
    assert merged == [(1, 6), (8, 10)]
    assert all(isinstance(i, tuple) and isinstance(i, Interval) for i in merged)
    assert json.dumps(merged) == "[[1, 6], [8, 10]]"
    start, end = merged[0]
    assert (start, end) == (1, 6) and merged[0].end == 6


def test_typing_namedtuple():
    top = ranking([("a", 1), ("b", 5)])
    assert top[0] == ("b", 5) and top[0].name == "b"
    assert isinstance(top[0], tuple) and top[0]._asdict() == {"name": "b", "points": 5}
    assert Score("c") == ("c", 0)


def test_int_enum_is_an_int():
    assert bump(Priority.LOW) is Priority.HIGH
    assert isinstance(Priority.HIGH, int) and Priority.HIGH == 3 and Priority.HIGH > 2
    assert json.dumps({"p": Priority.LOW}) == '{"p": 1}'


def test_str_enum_and_str_subclass():
    assert Suit("H") is Suit.HEARTS and Suit.SPADES == "S" and isinstance(Suit.SPADES, str)
    ws = words("Hello brave world")
    assert [w.vowels() for w in ws] == [2, 2, 1]
    assert " ".join(ws) == "Hello brave world" and isinstance(ws[0], str) and isinstance(ws[0], Word)
'''),
    # A solution that seeds random when imported: plain pytest runs every test in one
    # process, so the tests see one stream of numbers, each test going on from the last.
    Pair("std-random-seeded-at-import", "bigcodebench", S, '''\
import random

random.seed(42)


def roll(sides=6):
    return random.randint(1, sides)


def shuffled(items):
    items = list(items)
    random.shuffle(items)
    return items
''', '''\
import random

from solution import roll, shuffled

_expected = random.Random(42)
FIRST = [_expected.randint(1, 6) for _ in range(3)]
SECOND = list(range(10))
_expected.shuffle(SECOND)
THIRD = _expected.randint(1, 20)


def test_first_rolls():
    assert [roll() for _ in range(3)] == FIRST


def test_then_a_shuffle():
    assert shuffled(range(10)) == SECOND


def test_then_another_roll():
    assert roll(20) == THIRD
'''),
    # The same with a thread the solution starts at import (its process then has two).
    Pair("std-random-seeded-with-a-thread", "bigcodebench", S, '''\
import random
import threading
import time

random.seed(7)
_ticks = []


def _tick():
    while True:
        _ticks.append(1)
        time.sleep(0.5)


threading.Thread(target=_tick, daemon=True).start()


def sample(population, k):
    return random.sample(population, k)
''', '''\
import random

from solution import sample

_expected = random.Random(7)
FIRST = _expected.sample(range(100), 5)
SECOND = _expected.sample("abcdefgh", 3)


def test_first_sample():
    assert sample(range(100), 5) == FIRST


def test_second_sample():
    assert sample("abcdefgh", 3) == SECOND
'''),
    # BigCodeBench's way: the test seeds the global random and compares the solution's
    # draws with the values that seed gives (plain pytest: one generator for both).
    Pair("std-random-seeded-in-test", "bigcodebench", S, '''\
import random


def task_func(n, low=1, high=100):
    return [random.randint(low, high) for _ in range(n)]


def shuffled(items):
    items = list(items)
    random.shuffle(items)
    return items


def pick(colors, k):
    return random.choice(colors), random.sample(range(50), k)
''', '''\
import random
import unittest

from solution import pick, shuffled, task_func


class TestTaskFunc(unittest.TestCase):
    def test_values(self):
        random.seed(42)
        self.assertEqual(task_func(5), [82, 15, 4, 95, 36])

    def test_shuffle(self):
        random.seed(0)
        self.assertEqual(shuffled(range(8)), [4, 1, 5, 2, 0, 3, 7, 6])

    def test_pick(self):
        random.seed(7)
        self.assertEqual(pick(["red", "green", "blue", "yellow"], 3), ("blue", [9, 25, 41]))

    def test_reseeded_twice_gives_the_same(self):
        random.seed(3)
        first = task_func(4)
        random.seed(3)
        self.assertEqual(task_func(4), first)
'''),
    # A solution that starts processes and does not wait for them (BigCodeBench's
    # subprocess tasks): the ended ones stay unreaped children of the solution's process
    # until it collects them, in plain pytest as here.
    Pair("std-subprocess-not-waited", "bigcodebench", S, '''\
import subprocess
import sys

#: every process started, kept for the record (never waited for)
HISTORY = []


def shout(text):
    proc = subprocess.Popen([sys.executable, "-c", "print(input().upper())"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    HISTORY.append(proc)
    proc.stdin.write(text + "\\n")
    proc.stdin.close()
    return proc.stdout.read().strip()
''', '''\
import unittest

from solution import shout


class TestTaskFunc(unittest.TestCase):
    def test_shout(self):
        self.assertEqual(shout("abc"), "ABC")

    def test_shout_again(self):
        self.assertEqual(shout("xyz"), "XYZ")

    def test_shout_once_more(self):
        self.assertEqual(shout("done"), "DONE")
'''),
    # A solution that seeds numpy's generator itself, with tests that use numpy only for
    # a generator of their own: the solution's numbers are its own seed's (found by the
    # review of the shared generators: carrying numpy's state from the moment the tests
    # loaded numpy.random overwrote the solution's seed).
    Pair("std-numpy-seeded-by-solution", "bigcodebench", S, '''\
import numpy as np

np.random.seed(0)


def roll():
    return int(np.random.randint(1, 7))
''', '''\
import numpy as np

from solution import roll


def test_rolls():
    noise = np.random.default_rng(1).normal(size=3)
    assert noise.shape == (3,)
    assert [roll() for _ in range(5)] == [5, 6, 1, 4, 4]
'''),
    # numpy's global generator seeded by the test (BigCodeBench's suites, setUp or test),
    # and numbers the test draws itself before calling: plain pytest has one generator of
    # each kind, so the solution goes on where the test stopped.
    Pair("std-numpy-seeded-in-test", "bigcodebench", S, '''\
import random

import numpy as np


def noisy_line(n, slope=2.0):
    x = np.arange(n, dtype=float)
    return slope * x + np.random.normal(0, 1, n)


def sample_ids(k):
    return np.random.choice(100, size=k, replace=False).tolist()


def dice(n):
    return [random.randint(1, 6) for _ in range(n)]
''', '''\
import random
import unittest

import numpy as np

from solution import dice, noisy_line, sample_ids


class TestSeeded(unittest.TestCase):
    def setUp(self):
        np.random.seed(42)

    def test_noisy_line(self):
        np.testing.assert_allclose(noisy_line(4), [0.496714, 1.861736, 4.647689, 7.52303], atol=1e-6)

    def test_sample(self):
        np.random.seed(0)
        self.assertEqual(sample_ids(5), [26, 86, 2, 55, 75])

    def test_reseeded_gives_the_same(self):
        np.random.seed(1)
        first = sample_ids(4)
        np.random.seed(1)
        self.assertEqual(sample_ids(4), first)

    def test_two_calls_differ(self):
        self.assertNotEqual(sample_ids(10), sample_ids(10))

    def test_solution_goes_on_after_the_tests_draws(self):
        np.random.seed(3)
        self.assertEqual(np.random.randint(0, 1000, 3).tolist(), [874, 664, 249])
        self.assertEqual(sample_ids(3), [94, 68, 6])

    def test_random_goes_on_after_the_tests_draw(self):
        random.seed(5)
        self.assertEqual(random.randint(1, 6), 5)
        self.assertEqual(dice(4), [3, 6, 3, 6])

    def test_random_calls_go_on(self):
        random.seed(9)
        self.assertEqual(dice(3), [4, 5, 3])
        self.assertEqual(dice(3), [3, 2, 2])
'''),
    Pair("std-zoneinfo-meetings", "bigcodebench", S, '''\
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def meeting_in(city_zone, utc_start):
    """The local start of a meeting given in UTC, in the city's own zone."""
    return utc_start.astimezone(ZoneInfo(city_zone))


def local_noon(zone_name, day):
    return datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(zone_name))


def shift(local, hours):
    return local + timedelta(hours=hours)
''', '''\
import unittest
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from solution import local_noon, meeting_in, shift


class TestMeetings(unittest.TestCase):
    def test_converted_to_the_city(self):
        start = datetime(2024, 7, 1, 9, tzinfo=timezone.utc)
        local = meeting_in("America/New_York", start)
        self.assertEqual(local.hour, 5)
        self.assertIs(local.tzinfo, ZoneInfo("America/New_York"))

    def test_noon_has_the_zone_offset(self):
        noon = local_noon("Europe/Paris", date(2024, 1, 15))
        self.assertEqual(noon.utcoffset(), timedelta(hours=1))
        self.assertEqual(noon.tzinfo, ZoneInfo("Europe/Paris"))

    def test_the_tests_own_zoned_time_goes_in(self):
        summer = datetime(2024, 6, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))
        later = shift(summer, 3)
        self.assertEqual(later, datetime(2024, 6, 1, 15, tzinfo=ZoneInfo("Europe/Paris")))
        self.assertEqual(later.utcoffset(), timedelta(hours=2))
'''),
    Pair("std-decimal-context-from-test", "kodcode", S, '''\
from decimal import Decimal


def split_bill(total, people):
    """Each person's share of ``total`` (a string or Decimal), at the context's precision."""
    return Decimal(total) / people


def compound(principal, rate, years):
    amount = Decimal(principal)
    for _ in range(years):
        amount *= 1 + Decimal(rate)
    return amount
''', '''\
from decimal import ROUND_HALF_UP, Decimal, localcontext

from solution import compound, split_bill


def test_share_at_six_significant_digits():
    with localcontext() as ctx:
        ctx.prec = 6
        assert split_bill("100", 3) == Decimal("33.3333")


def test_rounding_half_up():
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 3, ROUND_HALF_UP
        assert split_bill("2.5", 2) == Decimal("1.25")
        assert compound("1000", "0.05", 2) == Decimal("1.10E+3")


def test_default_precision_outside():
    assert split_bill("1", 3) == Decimal(1) / Decimal(3)
'''),
]
