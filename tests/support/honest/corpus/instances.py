"""Instances of the solution's own classes: methods and state, dunders, hashing, the
container protocols, properties, classmethod and static constructors, context managers,
class attributes, subclasses in the tests, ``isinstance``, nodes built by the tests."""

from __future__ import annotations

from .pair import Pair

TAGS = ("instances",)

PAIRS = [
    Pair("inst-stack", "kodcode", TAGS, '''\
class Stack:
    def __init__(self):
        self._items = []

    def push(self, x):
        self._items.append(x)

    def pop(self):
        if not self._items:
            raise IndexError("pop from empty stack")
        return self._items.pop()

    def peek(self):
        return self._items[-1]

    def is_empty(self):
        return not self._items

    def size(self):
        return len(self._items)
''', '''\
import pytest
from solution import Stack


def test_push_pop():
    s = Stack()
    s.push(1)
    s.push(2)
    assert s.pop() == 2
    assert s.pop() == 1
    assert s.is_empty()


def test_peek_and_size():
    s = Stack()
    for i in range(5):
        s.push(i)
    assert s.peek() == 4
    assert s.size() == 5


def test_pop_empty():
    with pytest.raises(IndexError):
        Stack().pop()
'''),
    Pair("inst-queue-two-stacks", "leetcode", TAGS, '''\
class MyQueue:
    def __init__(self):
        self.inbox, self.outbox = [], []

    def push(self, x: int) -> None:
        self.inbox.append(x)

    def _shift(self):
        if not self.outbox:
            while self.inbox:
                self.outbox.append(self.inbox.pop())

    def pop(self) -> int:
        self._shift()
        return self.outbox.pop()

    def peek(self) -> int:
        self._shift()
        return self.outbox[-1]

    def empty(self) -> bool:
        return not self.inbox and not self.outbox
''', '''\
from solution import MyQueue


def test_queue():
    q = MyQueue()
    q.push(1)
    q.push(2)
    assert q.peek() == 1
    assert q.pop() == 1
    assert q.empty() is False
    assert q.pop() == 2
    assert q.empty() is True
'''),
    Pair("inst-lru-cache", "leetcode", TAGS, '''\
from collections import OrderedDict


class LRUCache:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.data = OrderedDict()

    def get(self, key: int) -> int:
        if key not in self.data:
            return -1
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key: int, value: int) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        if len(self.data) > self.capacity:
            self.data.popitem(last=False)
''', '''\
from solution import LRUCache


def test_lru():
    cache = LRUCache(2)
    cache.put(1, 1)
    cache.put(2, 2)
    assert cache.get(1) == 1
    cache.put(3, 3)
    assert cache.get(2) == -1
    cache.put(4, 4)
    assert cache.get(1) == -1
    assert cache.get(3) == 3
    assert cache.get(4) == 4


def test_capacity_one():
    cache = LRUCache(1)
    cache.put(2, 1)
    assert cache.get(2) == 1
    cache.put(3, 2)
    assert cache.get(2) == -1
    assert cache.get(3) == 2
'''),
    Pair("inst-min-stack", "leetcode", TAGS, '''\
class MinStack:
    def __init__(self):
        self.stack = []

    def push(self, val: int) -> None:
        low = min(val, self.stack[-1][1]) if self.stack else val
        self.stack.append((val, low))

    def pop(self) -> None:
        self.stack.pop()

    def top(self) -> int:
        return self.stack[-1][0]

    def getMin(self) -> int:
        return self.stack[-1][1]
''', '''\
from solution import MinStack


def test_min_stack():
    ms = MinStack()
    ms.push(-2)
    ms.push(0)
    ms.push(-3)
    assert ms.getMin() == -3
    ms.pop()
    assert ms.top() == 0
    assert ms.getMin() == -2
'''),
    Pair("inst-trie", "leetcode", TAGS, '''\
class TrieNode:
    def __init__(self):
        self.children = {}
        self.end = False


class Trie:
    def __init__(self):
        self.root = TrieNode()

    def insert(self, word: str) -> None:
        node = self.root
        for ch in word:
            node = node.children.setdefault(ch, TrieNode())
        node.end = True

    def _walk(self, prefix):
        node = self.root
        for ch in prefix:
            node = node.children.get(ch)
            if node is None:
                return None
        return node

    def search(self, word: str) -> bool:
        node = self._walk(word)
        return node is not None and node.end

    def startsWith(self, prefix: str) -> bool:
        return self._walk(prefix) is not None
''', '''\
from solution import Trie


def test_trie():
    trie = Trie()
    trie.insert("apple")
    assert trie.search("apple")
    assert not trie.search("app")
    assert trie.startsWith("app")
    trie.insert("app")
    assert trie.search("app")


def test_root_node_is_reachable():
    trie = Trie()
    trie.insert("ab")
    assert set(trie.root.children) == {"a"}
    assert trie.root.children["a"].children["b"].end is True
'''),
    Pair("inst-median-finder", "leetcode", TAGS, '''\
import heapq


class MedianFinder:
    def __init__(self):
        self.low = []   # max-heap (negated)
        self.high = []  # min-heap

    def addNum(self, num: int) -> None:
        heapq.heappush(self.low, -num)
        heapq.heappush(self.high, -heapq.heappop(self.low))
        if len(self.high) > len(self.low):
            heapq.heappush(self.low, -heapq.heappop(self.high))

    def findMedian(self) -> float:
        if len(self.low) > len(self.high):
            return float(-self.low[0])
        return (-self.low[0] + self.high[0]) / 2
''', '''\
import pytest
from solution import MedianFinder


@pytest.mark.parametrize("nums, medians", [
    ([1, 2, 3], [1.0, 1.5, 2.0]),
    ([5, 15, 1, 3], [5.0, 10.0, 5.0, 4.0]),
])
def test_running_median(nums, medians):
    mf = MedianFinder()
    got = []
    for n in nums:
        mf.addNum(n)
        got.append(mf.findMedian())
    assert got == medians
'''),
    Pair("inst-peeking-iterator", "leetcode", TAGS, '''\
class PeekingIterator:
    def __init__(self, iterator):
        self._it = iterator
        self._next = next(self._it, None)
        self._has = self._next is not None

    def peek(self):
        return self._next

    def next(self):
        value = self._next
        self._next = next(self._it, None)
        self._has = self._next is not None
        return value

    def hasNext(self):
        return self._has
''', '''\
from solution import PeekingIterator


def test_peeking():
    it = PeekingIterator(iter([1, 2, 3]))
    assert it.next() == 1
    assert it.peek() == 2
    assert it.next() == 2
    assert it.next() == 3
    assert it.hasNext() is False
'''),
    Pair("inst-bst-iterator", "leetcode", ("instances",), '''\
class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


class BSTIterator:
    def __init__(self, root):
        self.stack = []
        self._left(root)

    def _left(self, node):
        while node:
            self.stack.append(node)
            node = node.left

    def next(self) -> int:
        node = self.stack.pop()
        self._left(node.right)
        return node.val

    def hasNext(self) -> bool:
        return bool(self.stack)
''', '''\
from solution import BSTIterator, TreeNode


def test_inorder():
    root = TreeNode(7, TreeNode(3), TreeNode(15, TreeNode(9), TreeNode(20)))
    it = BSTIterator(root)
    out = []
    while it.hasNext():
        out.append(it.next())
    assert out == [3, 7, 9, 15, 20]
'''),
    Pair("inst-vector-dunders", "kodcode", TAGS, '''\
import math


class Vector:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Vector) and (self.x, self.y) == (other.x, other.y)

    def __add__(self, other):
        return Vector(self.x + other.x, self.y + other.y)

    def __sub__(self, other):
        return Vector(self.x - other.x, self.y - other.y)

    def __mul__(self, k):
        return Vector(self.x * k, self.y * k)

    __rmul__ = __mul__

    def __abs__(self):
        return math.hypot(self.x, self.y)

    def __repr__(self):
        return f"Vector({self.x}, {self.y})"
''', '''\
from solution import Vector


def test_add_sub():
    assert Vector(1, 2) + Vector(3, 4) == Vector(4, 6)
    assert Vector(5, 5) - Vector(1, 2) == Vector(4, 3)


def test_scale():
    assert Vector(1, 2) * 3 == Vector(3, 6)
    assert 2 * Vector(1, 1) == Vector(2, 2)


def test_abs_and_repr():
    assert abs(Vector(3, 4)) == 5.0
    assert repr(Vector(1, 2)) == "Vector(1, 2)"
    assert str(Vector(0, 0)) == "Vector(0, 0)"


def test_not_equal():
    assert Vector(1, 2) != Vector(2, 1)
    assert Vector(1, 2) != (1, 2)
'''),
    Pair("inst-money-classmethod", "kodcode", TAGS, '''\
class Money:
    def __init__(self, amount, currency="USD"):
        self.amount = round(amount, 2)
        self.currency = currency

    @classmethod
    def from_cents(cls, cents, currency="USD"):
        return cls(cents / 100, currency)

    @staticmethod
    def is_valid_currency(code):
        return isinstance(code, str) and len(code) == 3 and code.isupper()

    def cents(self):
        return int(round(self.amount * 100))

    def __add__(self, other):
        if self.currency != other.currency:
            raise ValueError("currency mismatch")
        return Money.from_cents(self.cents() + other.cents(), self.currency)

    def __eq__(self, other):
        return isinstance(other, Money) and (self.cents(), self.currency) == (other.cents(), other.currency)

    def __repr__(self):
        return f"Money({self.amount:.2f}, {self.currency!r})"
''', '''\
import pytest
from solution import Money


def test_from_cents():
    m = Money.from_cents(1250)
    assert m.amount == 12.5
    assert m.currency == "USD"
    assert m == Money(12.50)


def test_static():
    assert Money.is_valid_currency("EUR")
    assert not Money.is_valid_currency("eu")


def test_add():
    assert Money(1.10) + Money(2.20) == Money.from_cents(330)
    with pytest.raises(ValueError):
        Money(1, "USD") + Money(1, "EUR")


def test_repr():
    assert repr(Money.from_cents(5, "EUR")) == "Money(0.05, 'EUR')"
'''),
    Pair("inst-temperature-property", "kodcode", TAGS, '''\
class Temperature:
    def __init__(self, celsius=0.0):
        self.celsius = celsius

    @property
    def celsius(self):
        return self._celsius

    @celsius.setter
    def celsius(self, value):
        if value < -273.15:
            raise ValueError("below absolute zero")
        self._celsius = value

    @property
    def fahrenheit(self):
        return self._celsius * 9 / 5 + 32

    @fahrenheit.setter
    def fahrenheit(self, value):
        self.celsius = (value - 32) * 5 / 9
''', '''\
import pytest
from solution import Temperature


def test_property_roundtrip():
    t = Temperature(100)
    assert t.fahrenheit == 212
    t.fahrenheit = 32
    assert t.celsius == 0


def test_setter_validates():
    t = Temperature()
    with pytest.raises(ValueError):
        t.celsius = -300
    assert t.celsius == 0
'''),
    Pair("inst-timer-context-manager", "kodcode", TAGS, '''\
import time


class Timer:
    def __init__(self):
        self.elapsed = None
        self.running = False

    def __enter__(self):
        self.running = True
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.elapsed = time.perf_counter() - self._start
        self.running = False
        return False
''', '''\
import pytest
from solution import Timer


def test_timer():
    with Timer() as t:
        assert t.running
        sum(range(1000))
    assert not t.running
    assert t.elapsed >= 0


def test_exception_propagates():
    t = Timer()
    with pytest.raises(KeyError):
        with t:
            raise KeyError("x")
    assert t.elapsed is not None
'''),
    Pair("inst-suppress-context-manager", "kodcode", ("instances", "exceptions"), '''\
class Suppress:
    """Swallow the given exception types and remember what was swallowed."""

    def __init__(self, *types):
        self.types = types
        self.caught = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, self.types):
            self.caught.append(exc_type.__name__)
            return True
        return False
''', '''\
import pytest
from solution import Suppress


def test_suppress():
    s = Suppress(ValueError, KeyError)
    with s:
        raise ValueError("boom")
    with s:
        {}["missing"]
    assert s.caught == ["ValueError", "KeyError"]


def test_other_errors_pass_through():
    with pytest.raises(ZeroDivisionError):
        with Suppress(ValueError):
            1 / 0
'''),
    Pair("inst-class-constants", "kodcode", TAGS, '''\
class Color:
    RED = "#ff0000"
    GREEN = "#00ff00"
    BLUE = "#0000ff"
    ALL = (RED, GREEN, BLUE)


class Config:
    MAX_RETRIES = 3
    TIMEOUT = 2.5
    instances = 0

    def __init__(self):
        Config.instances += 1
''', '''\
from solution import Color, Config


def test_constants():
    assert Color.RED == "#ff0000"
    assert Color.ALL == ("#ff0000", "#00ff00", "#0000ff")
    assert Config.MAX_RETRIES == 3
    assert Config.TIMEOUT == 2.5


def test_counter_class_attribute():
    before = Config.instances
    Config()
    Config()
    assert Config.instances == before + 2
'''),
    Pair("inst-subclass-in-test", "kodcode", TAGS, '''\
class Shape:
    sides = 0

    def area(self):
        raise NotImplementedError

    def describe(self):
        return f"{type(self).__name__} with {self.sides} sides and area {self.area():.1f}"


class Rectangle(Shape):
    sides = 4

    def __init__(self, w, h):
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h
''', '''\
from solution import Rectangle, Shape


class Square(Rectangle):
    def __init__(self, side):
        super().__init__(side, side)


class Triangle(Shape):
    sides = 3

    def __init__(self, base, height):
        self.base, self.height = base, height

    def area(self):
        return self.base * self.height / 2


def test_subclass_of_solution_class():
    assert Square(3).area() == 9
    assert Square(2).describe() == "Square with 4 sides and area 4.0"


def test_test_defined_shape_uses_solution_method():
    t = Triangle(4, 3)
    assert t.describe() == "Triangle with 3 sides and area 6.0"
    assert isinstance(t, Shape)
'''),
    Pair("inst-isinstance", "kodcode", TAGS, '''\
class Animal:
    def speak(self):
        return "..."


class Dog(Animal):
    def speak(self):
        return "Woof"


class Cat(Animal):
    def speak(self):
        return "Meow"


def make_animal(kind):
    return {"dog": Dog, "cat": Cat}.get(kind, Animal)()
''', '''\
from solution import Animal, Cat, Dog, make_animal


def test_factory_types():
    d = make_animal("dog")
    assert isinstance(d, Dog)
    assert isinstance(d, Animal)
    assert not isinstance(d, Cat)
    assert type(make_animal("cow")) is Animal


def test_issubclass():
    assert issubclass(Cat, Animal)
    assert not issubclass(Animal, Cat)


def test_speak():
    assert [make_animal(k).speak() for k in ("dog", "cat", "x")] == ["Woof", "Meow", "..."]
'''),
    Pair("inst-linked-list-reverse", "leetcode", TAGS, '''\
class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


class Solution:
    def reverseList(self, head):
        prev = None
        while head:
            head.next, prev, head = prev, head, head.next
        return prev
''', '''\
from solution import ListNode, Solution


def build(values):
    head = None
    for v in reversed(values):
        head = ListNode(v, head)
    return head


def to_list(node):
    out = []
    while node:
        out.append(node.val)
        node = node.next
    return out


def test_reverse():
    assert to_list(Solution().reverseList(build([1, 2, 3, 4, 5]))) == [5, 4, 3, 2, 1]


def test_empty_and_single():
    assert Solution().reverseList(None) is None
    assert to_list(Solution().reverseList(build([7]))) == [7]
'''),
    Pair("inst-merge-two-lists", "leetcode", TAGS, '''\
class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


class Solution:
    def mergeTwoLists(self, a, b):
        dummy = tail = ListNode()
        while a and b:
            if a.val <= b.val:
                tail.next, a = a, a.next
            else:
                tail.next, b = b, b.next
            tail = tail.next
        tail.next = a or b
        return dummy.next
''', '''\
from solution import ListNode, Solution


def build(values):
    dummy = node = ListNode()
    for v in values:
        node.next = ListNode(v)
        node = node.next
    return dummy.next


def values(node):
    while node:
        yield node.val
        node = node.next


def test_merge():
    merged = Solution().mergeTwoLists(build([1, 2, 4]), build([1, 3, 4]))
    assert list(values(merged)) == [1, 1, 2, 3, 4, 4]


def test_one_empty():
    assert list(values(Solution().mergeTwoLists(None, build([0])))) == [0]
'''),
    Pair("inst-tree-depth-invert", "leetcode", TAGS, '''\
class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


class Solution:
    def maxDepth(self, root) -> int:
        if root is None:
            return 0
        return 1 + max(self.maxDepth(root.left), self.maxDepth(root.right))

    def invertTree(self, root):
        if root:
            root.left, root.right = self.invertTree(root.right), self.invertTree(root.left)
        return root
''', '''\
from solution import Solution, TreeNode


def tree():
    return TreeNode(4, TreeNode(2, TreeNode(1), TreeNode(3)), TreeNode(7, TreeNode(6), TreeNode(9)))


def level_order(root):
    out, level = [], [root]
    while level:
        out.extend(n.val for n in level)
        level = [c for n in level for c in (n.left, n.right) if c]
    return out


def test_depth():
    assert Solution().maxDepth(tree()) == 3
    assert Solution().maxDepth(None) == 0


def test_invert():
    root = tree()
    assert Solution().invertTree(root) is root
    assert level_order(root) == [4, 7, 2, 9, 6, 3, 1]
'''),
    Pair("inst-hash-in-set", "kodcode", TAGS, '''\
class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


def unique_points(pairs):
    return {Point(x, y) for x, y in pairs}
''', '''\
from solution import Point, unique_points


def test_set_dedup():
    pts = unique_points([(1, 2), (1, 2), (3, 4)])
    assert len(pts) == 2
    assert Point(1, 2) in pts
    assert Point(5, 5) not in pts


def test_dict_key():
    seen = {Point(0, 0): "origin"}
    seen[Point(0, 0)] = "still origin"
    assert len(seen) == 1
    assert seen[Point(0, 0)] == "still origin"
    assert hash(Point(1, 1)) == hash(Point(1, 1))
'''),
    Pair("inst-sorted-lt", "kodcode", TAGS, '''\
from functools import total_ordering


@total_ordering
class Version:
    def __init__(self, text):
        self.parts = tuple(int(p) for p in text.split("."))

    def __eq__(self, other):
        return self.parts == other.parts

    def __lt__(self, other):
        return self.parts < other.parts

    def __str__(self):
        return ".".join(map(str, self.parts))


def latest(versions):
    return str(max(Version(v) for v in versions))
''', '''\
from solution import Version, latest


def test_sorted():
    vs = [Version(v) for v in ["1.10.0", "1.2.0", "1.9.9"]]
    assert [str(v) for v in sorted(vs)] == ["1.2.0", "1.9.9", "1.10.0"]
    assert Version("2.0") > Version("1.99")
    assert Version("1.0") <= Version("1.0")


def test_latest():
    assert latest(["0.1", "0.10", "0.9"]) == "0.10"


def test_min_max():
    vs = [Version("3.1"), Version("3.0.1"), Version("2.9")]
    assert str(min(vs)) == "2.9" and str(max(vs)) == "3.1"
'''),
    Pair("inst-container-protocol", "kodcode", TAGS, '''\
class Playlist:
    def __init__(self, songs=()):
        self._songs = list(songs)

    def add(self, song):
        self._songs.append(song)
        return self

    def __len__(self):
        return len(self._songs)

    def __getitem__(self, index):
        return self._songs[index]

    def __contains__(self, song):
        return song in self._songs

    def __iter__(self):
        return iter(self._songs)

    def __bool__(self):
        return bool(self._songs)
''', '''\
from solution import Playlist


def test_protocol():
    p = Playlist(["a", "b"]).add("c")
    assert len(p) == 3
    assert p[0] == "a" and p[-1] == "c"
    assert p[1:] == ["b", "c"]
    assert "b" in p and "z" not in p
    assert list(p) == ["a", "b", "c"]
    assert [s.upper() for s in p] == ["A", "B", "C"]


def test_truth():
    assert not Playlist()
    assert Playlist(["x"])
'''),
    Pair("inst-linked-list-iter", "kodcode", TAGS, '''\
class Node:
    def __init__(self, value, next=None):
        self.value = value
        self.next = next


class LinkedList:
    def __init__(self, values=()):
        self.head = None
        self._size = 0
        for v in reversed(list(values)):
            self.push_front(v)

    def push_front(self, value):
        self.head = Node(value, self.head)
        self._size += 1

    def __iter__(self):
        node = self.head
        while node:
            yield node.value
            node = node.next

    def __len__(self):
        return self._size

    def reverse(self):
        prev, node = None, self.head
        while node:
            node.next, prev, node = prev, node, node.next
        self.head = prev
''', '''\
from solution import LinkedList, Node


def test_iterate():
    ll = LinkedList([1, 2, 3])
    assert list(ll) == [1, 2, 3]
    assert len(ll) == 3
    assert sum(ll) == 6


def test_reverse():
    ll = LinkedList("abc")
    ll.reverse()
    assert "".join(ll) == "cba"


def test_head_node():
    ll = LinkedList([9])
    assert isinstance(ll.head, Node)
    assert ll.head.value == 9 and ll.head.next is None
'''),
    Pair("inst-bank-account-state", "bigcodebench", TAGS, '''\
class BankAccount:
    interest_rate = 0.02

    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance
        self.history = []

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        self.history.append(("deposit", amount))

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount
        self.history.append(("withdraw", amount))

    def apply_interest(self):
        self.balance = round(self.balance * (1 + self.interest_rate), 2)
''', '''\
import unittest

from solution import BankAccount


class TestBankAccount(unittest.TestCase):
    def setUp(self):
        self.acct = BankAccount("ada", 100)

    def test_deposit_withdraw(self):
        self.acct.deposit(50)
        self.acct.withdraw(30)
        self.assertEqual(self.acct.balance, 120)
        self.assertEqual(self.acct.history, [("deposit", 50), ("withdraw", 30)])

    def test_overdraw(self):
        with self.assertRaises(ValueError):
            self.acct.withdraw(1000)
        self.assertEqual(self.acct.balance, 100)

    def test_interest(self):
        self.acct.apply_interest()
        self.assertAlmostEqual(self.acct.balance, 102.0)
        self.assertEqual(BankAccount.interest_rate, 0.02)

    def test_owner(self):
        self.assertEqual(self.acct.owner, "ada")
        self.assertIsInstance(self.acct, BankAccount)
'''),
    Pair("inst-callable-object", "kodcode", ("instances", "callables"), '''\
class Polynomial:
    def __init__(self, *coeffs):
        self.coeffs = list(coeffs)  # highest degree first

    def __call__(self, x):
        result = 0
        for c in self.coeffs:
            result = result * x + c
        return result

    def derivative(self):
        n = len(self.coeffs) - 1
        return Polynomial(*[c * (n - i) for i, c in enumerate(self.coeffs[:-1])])

    def __repr__(self):
        return f"Polynomial{tuple(self.coeffs)}"
''', '''\
from solution import Polynomial


def test_call():
    p = Polynomial(1, 0, -4)  # x^2 - 4
    assert p(2) == 0
    assert p(3) == 5
    assert list(map(p, [0, 1])) == [-4, -3]


def test_derivative():
    d = Polynomial(3, 2, 1).derivative()
    assert d.coeffs == [6, 2]
    assert d(1) == 8
    assert callable(d)
'''),
    Pair("inst-codec", "leetcode", TAGS, '''\
class TreeNode:
    def __init__(self, x):
        self.val = x
        self.left = None
        self.right = None


class Codec:
    def serialize(self, root):
        out = []

        def walk(node):
            if node is None:
                out.append("#")
                return
            out.append(str(node.val))
            walk(node.left)
            walk(node.right)

        walk(root)
        return ",".join(out)

    def deserialize(self, data):
        tokens = iter(data.split(","))

        def build():
            t = next(tokens)
            if t == "#":
                return None
            node = TreeNode(int(t))
            node.left = build()
            node.right = build()
            return node

        return build()
''', '''\
from solution import Codec, TreeNode


def test_roundtrip():
    root = TreeNode(1)
    root.left = TreeNode(2)
    root.right = TreeNode(3)
    root.right.left = TreeNode(4)
    codec = Codec()
    data = codec.serialize(root)
    back = codec.deserialize(data)
    assert back.val == 1 and back.left.val == 2 and back.right.left.val == 4
    assert back.left.left is None
    assert codec.serialize(back) == data
'''),
    Pair("inst-nested-iterator", "leetcode", TAGS, '''\
class NestedIterator:
    def __init__(self, nested):
        self._flat = []
        self._fill(nested)
        self._i = 0

    def _fill(self, items):
        for item in items:
            if isinstance(item, list):
                self._fill(item)
            else:
                self._flat.append(item)

    def next(self) -> int:
        self._i += 1
        return self._flat[self._i - 1]

    def hasNext(self) -> bool:
        return self._i < len(self._flat)
''', '''\
from solution import NestedIterator


def test_flatten():
    it = NestedIterator([[1, 1], 2, [1, [3, [4]]]])
    res = []
    while it.hasNext():
        res.append(it.next())
    assert res == [1, 1, 2, 1, 3, 4]
'''),
    Pair("inst-iterator-class", "kodcode", TAGS, '''\
class Countdown:
    def __init__(self, start):
        self.current = start

    def __iter__(self):
        return self

    def __next__(self):
        if self.current <= 0:
            raise StopIteration
        self.current -= 1
        return self.current + 1
''', '''\
import pytest
from solution import Countdown


def test_iterate():
    assert list(Countdown(3)) == [3, 2, 1]


def test_next_and_exhaust():
    c = Countdown(1)
    assert next(c) == 1
    with pytest.raises(StopIteration):
        next(c)
    assert next(c, "done") == "done"
'''),
    Pair("inst-matrix-getitem", "kodcode", TAGS, '''\
class Matrix:
    def __init__(self, rows):
        self.rows = [list(r) for r in rows]

    @property
    def shape(self):
        return (len(self.rows), len(self.rows[0]) if self.rows else 0)

    def __getitem__(self, idx):
        r, c = idx
        return self.rows[r][c]

    def __setitem__(self, idx, value):
        r, c = idx
        self.rows[r][c] = value

    def __matmul__(self, other):
        cols = list(zip(*other.rows))
        return Matrix([[sum(a * b for a, b in zip(row, col)) for col in cols] for row in self.rows])

    def __eq__(self, other):
        return isinstance(other, Matrix) and self.rows == other.rows

    def transpose(self):
        return Matrix(zip(*self.rows))
''', '''\
from solution import Matrix


def test_index():
    m = Matrix([[1, 2], [3, 4]])
    assert m[0, 1] == 2
    m[1, 0] = 9
    assert m.rows == [[1, 2], [9, 4]]
    assert m.shape == (2, 2)


def test_matmul_transpose():
    a = Matrix([[1, 2], [3, 4]])
    b = Matrix([[0, 1], [1, 0]])
    assert a @ b == Matrix([[2, 1], [4, 3]])
    assert a.transpose() == Matrix([[1, 3], [2, 4]])
'''),
    Pair("inst-inventory-bigcode", "bigcodebench", TAGS, '''\
class Item:
    def __init__(self, name, price, qty=0):
        self.name, self.price, self.qty = name, price, qty

    @property
    def total(self):
        return self.price * self.qty


class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, price, qty):
        item = self.items.setdefault(name, Item(name, price))
        item.qty += qty
        return item

    def value(self):
        return sum(i.total for i in self.items.values())

    def low_stock(self, threshold):
        return sorted(i.name for i in self.items.values() if i.qty < threshold)
''', '''\
import unittest

from solution import Inventory, Item


class TestInventory(unittest.TestCase):
    def test_add_returns_item(self):
        inv = Inventory()
        item = inv.add("pen", 1.5, 4)
        self.assertIsInstance(item, Item)
        self.assertEqual(item.total, 6.0)
        inv.add("pen", 1.5, 1)
        self.assertEqual(inv.items["pen"].qty, 5)

    def test_value_and_low_stock(self):
        inv = Inventory()
        inv.add("a", 2, 1)
        inv.add("b", 3, 10)
        self.assertEqual(inv.value(), 32)
        self.assertListEqual(inv.low_stock(5), ["a"])
'''),
    Pair("inst-solution-class-graph", "leetcode", TAGS, '''\
from collections import deque


class Solution:
    def canFinish(self, numCourses, prerequisites):
        indeg = [0] * numCourses
        adj = [[] for _ in range(numCourses)]
        for a, b in prerequisites:
            adj[b].append(a)
            indeg[a] += 1
        q = deque(i for i in range(numCourses) if indeg[i] == 0)
        seen = 0
        while q:
            n = q.popleft()
            seen += 1
            for m in adj[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    q.append(m)
        return seen == numCourses

    def numIslands(self, grid):
        rows, cols = len(grid), len(grid[0])
        seen = set()

        def sink(r, c):
            stack = [(r, c)]
            while stack:
                r, c = stack.pop()
                if 0 <= r < rows and 0 <= c < cols and grid[r][c] == "1" and (r, c) not in seen:
                    seen.add((r, c))
                    stack.extend([(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)])

        count = 0
        for r in range(rows):
            for c in range(cols):
                if grid[r][c] == "1" and (r, c) not in seen:
                    count += 1
                    sink(r, c)
        return count
''', '''\
import pytest
from solution import Solution


@pytest.fixture
def sol():
    return Solution()


def test_can_finish(sol):
    assert sol.canFinish(2, [[1, 0]]) is True
    assert sol.canFinish(2, [[1, 0], [0, 1]]) is False


def test_islands(sol):
    grid = [["1", "1", "0"], ["0", "1", "0"], ["0", "0", "1"]]
    assert sol.numIslands(grid) == 2
'''),
    Pair("inst-mutable-default-state", "kodcode", TAGS, '''\
class Counter:
    def __init__(self, start=0, step=1):
        self.value = start
        self.step = step

    def increment(self):
        self.value += self.step
        return self

    def reset(self):
        self.value = 0

    def __int__(self):
        return self.value

    def __format__(self, spec):
        return format(self.value, spec)
''', '''\
from solution import Counter


def test_chain():
    c = Counter(step=2)
    c.increment().increment().increment()
    assert c.value == 6
    assert int(c) == 6


def test_format_and_setattr():
    c = Counter(5)
    assert f"{c:03d}" == "005"
    c.step = 10
    c.increment()
    assert c.value == 15
    c.reset()
    assert c.value == 0
'''),
    Pair("inst-parking-lot", "leetcode", TAGS, '''\
class ParkingSystem:
    BIG, MEDIUM, SMALL = 1, 2, 3

    def __init__(self, big: int, medium: int, small: int):
        self.free = {1: big, 2: medium, 3: small}

    def addCar(self, carType: int) -> bool:
        if self.free[carType] == 0:
            return False
        self.free[carType] -= 1
        return True
''', '''\
from solution import ParkingSystem


def test_parking():
    ps = ParkingSystem(1, 1, 0)
    assert ps.addCar(ParkingSystem.BIG) is True
    assert ps.addCar(2) is True
    assert ps.addCar(3) is False
    assert ps.addCar(1) is False
    assert ps.free == {1: 0, 2: 0, 3: 0}
'''),
    Pair("inst-twitter-design", "leetcode", TAGS, '''\
import heapq
from collections import defaultdict
from itertools import count


class Twitter:
    def __init__(self):
        self._clock = count()
        self.tweets = defaultdict(list)
        self.follows = defaultdict(set)

    def postTweet(self, userId, tweetId):
        self.tweets[userId].append((-next(self._clock), tweetId))

    def getNewsFeed(self, userId):
        users = self.follows[userId] | {userId}
        return [t for _, t in heapq.nsmallest(10, (x for u in users for x in self.tweets[u]))]

    def follow(self, a, b):
        self.follows[a].add(b)

    def unfollow(self, a, b):
        self.follows[a].discard(b)
''', '''\
from solution import Twitter


def test_feed():
    t = Twitter()
    t.postTweet(1, 5)
    assert t.getNewsFeed(1) == [5]
    t.follow(1, 2)
    t.postTweet(2, 6)
    assert t.getNewsFeed(1) == [6, 5]
    t.unfollow(1, 2)
    assert t.getNewsFeed(1) == [5]
'''),
    Pair("inst-object-passed-back", "kodcode", TAGS, '''\
class Task:
    def __init__(self, name, priority):
        self.name = name
        self.priority = priority
        self.done = False


class TaskList:
    def __init__(self):
        self.tasks = []

    def add(self, task):
        self.tasks.append(task)

    def complete(self, task):
        task.done = True

    def pending(self):
        return [t for t in sorted(self.tasks, key=lambda t: -t.priority) if not t.done]
''', '''\
from solution import Task, TaskList


def test_pass_objects_back():
    tl = TaskList()
    a, b, c = Task("a", 1), Task("b", 3), Task("c", 2)
    for t in (a, b, c):
        tl.add(t)
    tl.complete(b)
    assert b.done is True
    assert [t.name for t in tl.pending()] == ["c", "a"]
    assert tl.pending()[0] is c
'''),
    Pair("inst-str-repr-eq-fraction", "humaneval", TAGS, '''\
from math import gcd


class Rational:
    def __init__(self, num, den=1):
        if den == 0:
            raise ZeroDivisionError("zero denominator")
        g = gcd(num, den) * (1 if den > 0 else -1)
        self.num, self.den = num // g, den // g

    def __add__(self, other):
        return Rational(self.num * other.den + other.num * self.den, self.den * other.den)

    def __mul__(self, other):
        return Rational(self.num * other.num, self.den * other.den)

    def __eq__(self, other):
        return (self.num, self.den) == (other.num, other.den)

    def __str__(self):
        return f"{self.num}/{self.den}"


def harmonic(n):
    total = Rational(0)
    for k in range(1, n + 1):
        total = total + Rational(1, k)
    return total
''', '''\
from solution import Rational, harmonic


def check(candidate):
    assert str(candidate(1)) == "1/1"
    assert str(candidate(3)) == "11/6"
    assert candidate(2) == Rational(3, 2)
    assert Rational(1, 2) * Rational(2, 3) == Rational(1, 3)
    assert str(Rational(2, -4)) == "-1/2"


def test_check():
    check(harmonic)
'''),
    Pair("inst-hit-counter", "leetcode", TAGS, '''\
from collections import deque


class HitCounter:
    WINDOW = 300

    def __init__(self):
        self.hits = deque()

    def hit(self, timestamp: int) -> None:
        self.hits.append(timestamp)

    def getHits(self, timestamp: int) -> int:
        while self.hits and self.hits[0] <= timestamp - self.WINDOW:
            self.hits.popleft()
        return len(self.hits)
''', '''\
from solution import HitCounter


def test_hits():
    hc = HitCounter()
    for t in (1, 2, 3):
        hc.hit(t)
    assert hc.getHits(4) == 3
    hc.hit(300)
    assert hc.getHits(300) == 4
    assert hc.getHits(301) == 3
    assert HitCounter.WINDOW == 300
'''),
    Pair("inst-dataclass-solution", "kodcode", ("instances", "stdlib"), '''\
from dataclasses import dataclass, field


@dataclass(order=True)
class Student:
    grade: float
    name: str = field(compare=False)
    courses: list = field(default_factory=list, compare=False)


def top_students(students, n):
    return sorted(students, reverse=True)[:n]
''', '''\
from dataclasses import asdict

from solution import Student, top_students


def test_dataclass():
    s = Student(3.5, "ann")
    assert s.courses == []
    assert s == Student(3.5, "bob")
    assert asdict(s) == {"grade": 3.5, "name": "ann", "courses": []}


def test_top():
    ss = [Student(2.0, "a"), Student(3.9, "b"), Student(3.1, "c")]
    assert [s.name for s in top_students(ss, 2)] == ["b", "c"]
'''),
    Pair("inst-event-emitter", "kodcode", ("instances", "callables"), '''\
class EventEmitter:
    def __init__(self):
        self._handlers = {}

    def on(self, event, handler):
        self._handlers.setdefault(event, []).append(handler)
        return handler

    def listener(self, event):
        def register(handler):
            return self.on(event, handler)
        return register

    def emit(self, event, *args):
        results = []
        for h in self._handlers.get(event, []):
            results.append(h(*args))
        return results
''', '''\
from solution import EventEmitter


def test_handlers_called_with_args():
    seen = []
    em = EventEmitter()
    em.on("data", lambda x: seen.append(x) or x * 2)
    em.on("data", lambda x: x + 1)
    assert em.emit("data", 5) == [10, 6]
    assert seen == [5]
    assert em.emit("nothing") == []


def test_decorator_style():
    em = EventEmitter()

    @em.listener("greet")
    def hello(name):
        return f"hi {name}"

    assert em.emit("greet", "bo") == ["hi bo"]
    assert hello("x") == "hi x"
'''),
    Pair("inst-leetcode-solution-class", "leetcode", TAGS, '''\
from typing import List


class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, n in enumerate(nums):
            if target - n in seen:
                return [seen[target - n], i]
            seen[n] = i
        return []

    def isValid(self, s: str) -> bool:
        pairs = {")": "(", "]": "[", "}": "{"}
        stack = []
        for c in s:
            if c in pairs:
                if not stack or stack.pop() != pairs[c]:
                    return False
            else:
                stack.append(c)
        return not stack
''', '''\
from solution import Solution


def test_two_sum():
    assert Solution().twoSum([2, 7, 11, 15], 9) == [0, 1]
    assert Solution().twoSum([3, 2, 4], 6) == [1, 2]


def test_valid_parens():
    s = Solution()
    assert s.isValid("()[]{}")
    assert not s.isValid("(]")
'''),
    # LeetCode's node problems with the tests' own ListNode and TreeNode: the nodes the
    # test passes are its objects, one each (lowestCommonAncestor returns one of them by
    # identity), a list may hold a cycle (hasCycle) and be thousands long (found by a hunt
    # for honest suites scored wrongly).
    Pair("inst-test-nodes-identity-cycles-length", "leetcode", TAGS, '''\\
class Solution:
    def lowestCommonAncestor(self, root, p, q):
        if root is None or root is p or root is q:
            return root
        left = self.lowestCommonAncestor(root.left, p, q)
        right = self.lowestCommonAncestor(root.right, p, q)
        if left and right:
            return root
        return left or right

    def hasCycle(self, head):
        slow = fast = head
        while fast and fast.next:
            slow, fast = slow.next, fast.next.next
            if slow is fast:
                return True
        return False

    def reverseList(self, head):
        prev = None
        while head:
            head.next, prev, head = prev, head, head.next
        return prev
''', '''\\
from solution import Solution


class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


def test_lowest_common_ancestor():
    p, q = TreeNode(5, TreeNode(6), TreeNode(2)), TreeNode(1, TreeNode(0), TreeNode(8))
    root = TreeNode(3, p, q)
    assert Solution().lowestCommonAncestor(root, p, q) is root
    assert Solution().lowestCommonAncestor(root, p, p.right) is p


def test_has_cycle():
    nodes = [ListNode(i) for i in range(4)]
    for a, b in zip(nodes, nodes[1:]):
        a.next = b
    assert not Solution().hasCycle(nodes[0])
    nodes[-1].next = nodes[1]
    assert Solution().hasCycle(nodes[0])


def test_reverse_a_long_list():
    head = None
    for v in range(3000):
        head = ListNode(v, head)
    node, seen = Solution().reverseList(head), []
    while node:
        seen.append(node.val)
        node = node.next
    assert seen == list(range(3000))
'''),
    Pair("inst-abc-frozen-mapping", "kodcode", ("instances", "stdlib"), '''\
from collections.abc import Mapping


class FrozenConfig(Mapping):
    """A read-only mapping of settings, hashable so it can key a cache."""

    def __init__(self, values=(), **extra):
        self._data = dict(values, **extra)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __hash__(self):
        return hash(frozenset(self._data.items()))

    def with_value(self, key, value):
        return FrozenConfig(self._data, **{key: value})
''', '''\
from collections.abc import Hashable, Mapping, MutableMapping

from solution import FrozenConfig


def test_is_a_read_only_mapping():
    cfg = FrozenConfig(debug=False, level=3)
    assert isinstance(cfg, Mapping)
    assert not isinstance(cfg, MutableMapping)
    assert isinstance(cfg, Hashable)


def test_mapping_methods_come_from_the_abc():
    cfg = FrozenConfig({"level": 3})
    assert cfg.get("missing", "default") == "default"
    assert sorted(cfg.items()) == [("level", 3)]
    assert dict(cfg.with_value("debug", True)) == {"level": 3, "debug": True}
'''),
    Pair("inst-version-eq-plain-string", "kodcode", TAGS, '''\
from collections import UserDict


class Version:
    def __init__(self, text):
        self.parts = tuple(int(p) for p in text.split("."))

    def __eq__(self, other):
        if isinstance(other, str):
            other = Version(other)
        return isinstance(other, Version) and self.parts == other.parts

    def __lt__(self, other):
        return self.parts < other.parts

    __hash__ = None


class Headers(UserDict):
    def __setitem__(self, key, value):
        super().__setitem__(key.lower(), value)
''', '''\
from solution import Headers, Version


def test_versions_order():
    assert Version("1.2.0") < Version("1.10.0")
    assert Version("2.0") == Version("2.0")


def test_a_version_equals_its_text():
    assert Version("1.2.0") == "1.2.0"
    assert Version("1.2") != "1.3"


def test_headers_compare_with_a_dict():
    h = Headers()
    h["Content-Type"] = "json"
    assert h == {"content-type": "json"}
''',
         needs_inprocess="isolated mode decides a comparison of a solution object with data from data (an object that equals everything earns nothing), not by the class's own __eq__"),
    Pair("inst-int-subclass-own-operator", "kodcode", TAGS, '''\
class Mod7(int):
    def __new__(cls, value):
        return super().__new__(cls, value % 7)

    def __add__(self, other):
        return Mod7(int(self) + int(other))

    def __mul__(self, other):
        return Mod7(int(self) * int(other))

    def __repr__(self):
        return f"Mod7({int(self)})"
''', '''\
from solution import Mod7


def test_reduced():
    assert Mod7(10) == 3


def test_arithmetic_stays_modular():
    assert Mod7(3) * 3 == 2
    assert Mod7(6) + 2 == 1
    assert repr(Mod7(5) * Mod7(4)) == "Mod7(6)"
''',
         needs_inprocess="isolated mode computes an operator of a solution object holding a builtin value with the test's data from that value, not by the class's own operator"),
    Pair("inst-attribute-containers-shared", "kodcode", TAGS, '''\
class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, count=1):
        self.items[name] = self.items.get(name, 0) + count

    def total(self):
        return sum(self.items.values())


class Game:
    def __init__(self):
        self.log = []

    def turn(self, i):
        raise NotImplementedError

    def play(self, rounds):
        for i in range(rounds):
            self.turn(i)
        return self.log
''', '''\
from solution import Game, Inventory


def test_the_test_edits_the_objects_own_dict():
    inv = Inventory()
    inv.items["apple"] = 3
    inv.add("pear")
    assert inv.total() == 4
    del inv.items["pear"]
    assert inv.total() == 3


def test_a_reference_to_the_attribute_follows_the_object():
    inv = Inventory()
    items = inv.items
    inv.add("fig", 2)
    assert items == {"fig": 2} and items is inv.items


class Echo(Game):
    def turn(self, i):
        self.log.append(i * i)


def test_a_subclass_hook_appends_to_the_objects_list():
    assert Echo().play(4) == [0, 1, 4, 9]
'''),
    Pair("inst-context-manager-changes-process-state", "kodcode", TAGS, '''\
import os
from contextlib import contextmanager


@contextmanager
def working_directory(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(previous)
''', '''\
import os

from solution import working_directory


def test_changes_and_restores(tmp_path):
    before = os.getcwd()
    with working_directory(tmp_path):
        assert os.getcwd() == str(tmp_path)
    assert os.getcwd() == before
''',
         needs_inprocess="a context manager of the solution's changes its own process (the working folder); the with-block runs in the tests' process, which isolated mode does not change"),
    Pair("inst-dict-subclass-as-dict", "kodcode", TAGS, '''\
class AttrDict(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def to_attrdict(data):
    return AttrDict({k: to_attrdict(v) if isinstance(v, dict) else v for k, v in data.items()})
''', '''\
import json

from solution import to_attrdict


def test_attribute_access():
    cfg = to_attrdict({"db": {"host": "x", "port": 5}})
    assert cfg.db.host == "x" and cfg.db.port == 5


def test_still_a_dict():
    cfg = to_attrdict({"a": 1})
    assert isinstance(cfg, dict)
    assert json.dumps(cfg) == '{"a": 1}'
''',
         needs_inprocess="a solution class derived from dict is not a dict in the tests' process in isolated mode (its contents can change, so no copy is kept)"),
]
