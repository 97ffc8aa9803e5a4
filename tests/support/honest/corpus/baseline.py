"""Builtin values only, in each dataset's style: what isolated mode carried before issue 22
(a control: these must keep earning 1.0)."""

from __future__ import annotations

from .pair import Pair

B = ("baseline",)

PAIRS = [
    Pair("base-humaneval-has-close", "humaneval", B, '''\
def has_close_elements(numbers, threshold):
    xs = sorted(numbers)
    return any(b - a < threshold for a, b in zip(xs, xs[1:]))
''', '''\
from solution import has_close_elements


def check(candidate):
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) is True
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) is False
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) is True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) is False


def test_check():
    check(has_close_elements)
'''),
    Pair("base-humaneval-separate-parens", "humaneval", B, '''\
from typing import List


def separate_paren_groups(paren_string: str) -> List[str]:
    groups, depth, current = [], 0, []
    for c in paren_string.replace(" ", ""):
        current.append(c)
        depth += 1 if c == "(" else -1
        if depth == 0:
            groups.append("".join(current))
            current = []
    return groups
''', '''\
from solution import separate_paren_groups

METADATA = {"author": "jt", "dataset": "test"}


def check(candidate):
    assert candidate("(()()) ((())) () ((())()())") == ["(()())", "((()))", "()", "((())()())"]
    assert candidate("() (()) ((())) (((())))") == ["()", "(())", "((()))", "(((())))"]
    assert candidate("( ) (( )) (( )( ))") == ["()", "(())", "(()())"]


check(separate_paren_groups)


def test_check():
    check(separate_paren_groups)
'''),
    Pair("base-mbpp-similar-elements", "mbpp", B, '''\
def similar_elements(test_tup1, test_tup2):
    return tuple(set(test_tup1) & set(test_tup2))
''', '''\
from solution import similar_elements


def test_similar_elements():
    assert set(similar_elements((3, 4, 5, 6), (5, 7, 4, 10))) == set((4, 5))
    assert set(similar_elements((1, 2, 3, 4), (5, 4, 3, 7))) == set((3, 4))
    assert set(similar_elements((11, 12, 14, 13), (17, 15, 14, 13))) == set((13, 14))
'''),
    Pair("base-mbpp-is-not-prime", "mbpp", B, '''\
import math


def is_not_prime(n):
    if n < 2:
        return True
    for i in range(2, int(math.sqrt(n)) + 1):
        if n % i == 0:
            return True
    return False
''', '''\
from solution import is_not_prime


def test_is_not_prime():
    assert is_not_prime(2) == False  # noqa: E712
    assert is_not_prime(10) == True  # noqa: E712
    assert is_not_prime(35) == True  # noqa: E712
    assert is_not_prime(37) == False  # noqa: E712
'''),
    Pair("base-mbpp-heap-largest", "mbpp", B, '''\
import heapq as hq


def heap_queue_largest(nums, n):
    return hq.nlargest(n, nums)
''', '''\
from solution import heap_queue_largest


def test_heap_queue_largest():
    assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 3) == [85, 75, 65]
    assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 2) == [85, 75]
    assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 5) == [85, 75, 65, 58, 35]
'''),
    Pair("base-apps-call-based", "apps", B, '''\
def solve(s):
    """Length of the longest substring without repeating characters."""
    last, start, best = {}, 0, 0
    for i, c in enumerate(s):
        if last.get(c, -1) >= start:
            start = last[c] + 1
        last[c] = i
        best = max(best, i - start + 1)
    return best
''', '''\
import json

from solution import solve

INPUTS = ['["abcabcbb"]', '["bbbbb"]', '["pwwkew"]', '[""]']
OUTPUTS = ["3", "1", "3", "0"]


def test_call_based():
    for raw_in, raw_out in zip(INPUTS, OUTPUTS):
        args = json.loads(raw_in)
        assert solve(*args) == json.loads(raw_out)
'''),
    Pair("base-apps-fn-name-lists", "apps", B, '''\
def count_inversions(arr):
    def sort(xs):
        if len(xs) <= 1:
            return xs, 0
        mid = len(xs) // 2
        left, a = sort(xs[:mid])
        right, b = sort(xs[mid:])
        merged, inv, i, j = [], a + b, 0, 0
        while i < len(left) and j < len(right):
            if left[i] <= right[j]:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                inv += len(left) - i
                j += 1
        return merged + left[i:] + right[j:], inv
    return sort(list(arr))[1]
''', '''\
import solution

FN_NAME = "count_inversions"
CASES = [([[1, 2, 3]], 0), ([[3, 2, 1]], 3), ([[2, 4, 1, 3, 5]], 3), ([[]], 0)]


def test_apps():
    fn = getattr(solution, FN_NAME)
    for args, expected in CASES:
        assert fn(*args) == expected
'''),
    Pair("base-kodcode-two-functions", "kodcode", B, '''\
def is_anagram(a, b):
    return sorted(a.replace(" ", "").lower()) == sorted(b.replace(" ", "").lower())


def anagram_groups_count(words):
    return len({"".join(sorted(w)) for w in words})
''', '''\
from solution import anagram_groups_count, is_anagram


def test_is_anagram_true():
    assert is_anagram("listen", "silent")
    assert is_anagram("Dormitory", "dirty room")


def test_is_anagram_false():
    assert not is_anagram("abc", "abd")


def test_groups():
    assert anagram_groups_count(["ab", "ba", "c"]) == 2
    assert anagram_groups_count([]) == 0
'''),
    Pair("base-kodcode-parametrize", "kodcode", B, '''\
def roman_to_int(s: str) -> int:
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for a, b in zip(s, s[1:] + " "):
        v = values[a]
        total += -v if b != " " and values[b] > v else v
    return total
''', '''\
import pytest
from solution import roman_to_int


@pytest.mark.parametrize("s, expected", [
    ("III", 3), ("IV", 4), ("IX", 9), ("LVIII", 58), ("MCMXCIV", 1994),
])
def test_roman(s, expected):
    assert roman_to_int(s) == expected
'''),
    Pair("base-bigcode-unittest-values", "bigcodebench", B, '''\
import re


def task_func(text):
    words = re.findall(r"\\b\\w+\\b", text.lower())
    freq = {}
    for w in words:
        freq[w] = freq.get(w, 0) + 1
    return dict(sorted(freq.items(), key=lambda kv: (-kv[1], kv[0])))
''', '''\
import unittest

from solution import task_func


class TestCases(unittest.TestCase):
    def test_case_1(self):
        self.assertEqual(task_func("a b a"), {"a": 2, "b": 1})

    def test_case_2(self):
        self.assertEqual(list(task_func("Z y y z z")), ["z", "y"])

    def test_case_3(self):
        self.assertDictEqual(task_func(""), {})

    def test_case_4(self):
        self.assertIn("hello", task_func("Hello, hello!"))
'''),
    Pair("base-bigcode-numpy-scalars", "bigcodebench", B, '''\
import numpy as np


def task_func(matrix):
    arr = np.array(matrix)
    return arr.sum(), arr.max(), arr.T
''', '''\
import unittest

import numpy as np

from solution import task_func


class TestCases(unittest.TestCase):
    def test_values(self):
        total, biggest, t = task_func([[1, 2], [3, 4]])
        self.assertEqual(total, 10)
        self.assertEqual(biggest, 4)
        np.testing.assert_array_equal(t, np.array([[1, 3], [2, 4]]))
'''),
    Pair("base-humaneval-strings", "humaneval", B, '''\
def encode_shift(s: str) -> str:
    return "".join(chr((ord(ch) + 5 - ord("a")) % 26 + ord("a")) for ch in s)


def decode_shift(s: str) -> str:
    return "".join(chr((ord(ch) - 5 - ord("a")) % 26 + ord("a")) for ch in s)
''', '''\
import random
import string

from solution import decode_shift, encode_shift


def check(candidate):
    rng = random.Random(7)
    for _ in range(50):
        s = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(10, 20)))
        assert candidate(encode_shift(s)) == s


def test_check():
    check(decode_shift)
'''),
    Pair("base-mbpp-test-imports-multiple", "mbpp", B, '''\
def remove_Occ(s, ch):
    first = s.find(ch)
    if first == -1:
        return s
    s = s[:first] + s[first + 1:]
    last = s.rfind(ch)
    return s if last == -1 else s[:last] + s[last + 1:]
''', '''\
from solution import remove_Occ


def test_remove_occ():
    assert remove_Occ("hello", "l") == "heo"
    assert remove_Occ("abcda", "a") == "bcd"
    assert remove_Occ("PHP", "P") == "H"
'''),
    Pair("base-two-test-files", "kodcode", B, '''\
def celsius_to_fahrenheit(c):
    return c * 9 / 5 + 32


def fahrenheit_to_celsius(f):
    return (f - 32) * 5 / 9
''', {
        "test_to_f.py": '''\
from solution import celsius_to_fahrenheit


def test_boiling():
    assert celsius_to_fahrenheit(100) == 212
''',
        "test_to_c.py": '''\
import pytest
from helpers_for_tests import ROUNDTRIP

from solution import celsius_to_fahrenheit, fahrenheit_to_celsius


def test_freezing():
    assert fahrenheit_to_celsius(32) == 0


@pytest.mark.parametrize("c", ROUNDTRIP)
def test_roundtrip(c):
    assert fahrenheit_to_celsius(celsius_to_fahrenheit(c)) == pytest.approx(c)
''',
        "helpers_for_tests.py": "ROUNDTRIP = [-40, 0, 37.5, 100]\n",
    }),
]
