"""Star imports of solutions that define helper names, a solution that itself does
``from math import *``, and solutions that define a function named like a builtin (or like
a math function) for their own use, which the tests do not rely on."""

from __future__ import annotations

from .pair import Pair

S = ("star",)

PAIRS = [
    Pair("star-helpers", "kodcode", S, '''\
def _is_vowel(c):
    return c.lower() in "aeiou"


def count_vowels(s):
    return sum(1 for c in s if _is_vowel(c))


def count_consonants(s):
    return sum(1 for c in s if c.isalpha() and not _is_vowel(c))


VOWELS = "aeiou"
''', '''\
from solution import *  # noqa: F403


def test_vowels():
    assert count_vowels("Hello World") == 3  # noqa: F405
    assert count_consonants("Hello World") == 7  # noqa: F405
    assert VOWELS == "aeiou"  # noqa: F405


def test_private_not_exported():
    assert "_is_vowel" not in globals()
'''),
    Pair("star-solution-imports-math-star", "kodcode", S, '''\
from math import *


def hypotenuse(a, b):
    return sqrt(a * a + b * b)


def circle_area(r):
    return pi * r ** 2


def degrees_to_radians(d):
    return radians(d)
''', '''\
import math

from solution import *  # noqa: F403


def test_geometry():
    assert hypotenuse(3, 4) == 5.0  # noqa: F405
    assert math.isclose(circle_area(2), 4 * math.pi)  # noqa: F405
    assert math.isclose(degrees_to_radians(180), math.pi)  # noqa: F405


def test_builtins_untouched():
    assert abs(-2) == 2
    assert round(2.5) == 2
    assert pow(2, 3) == 8
'''),
    Pair("star-own-gcd", "kodcode", S, '''\
def gcd(a, b):
    while b:
        a, b = b, a % b
    return abs(a)


def lcm(a, b):
    return abs(a * b) // gcd(a, b) if a and b else 0


def lcm_all(nums):
    out = 1
    for n in nums:
        out = lcm(out, n)
    return out
''', '''\
import math

from solution import *  # noqa: F403


def test_lcm():
    assert lcm(4, 6) == 12  # noqa: F405
    assert lcm_all([2, 3, 4]) == 12  # noqa: F405
    assert lcm_all(range(1, 11)) == 2520  # noqa: F405


def test_math_gcd_still_math():
    assert math.gcd(12, 18) == 6
'''),
    Pair("star-own-builtin-name-private-use", "kodcode", S, '''\
__all__ = ["running_max", "clamp"]


def max(a, b):  # noqa: A001 - its own two-argument max
    return a if a >= b else b


def running_max(xs):
    out, best = [], float("-inf")
    for x in xs:
        best = max(best, x)
        out.append(best)
    return out


def clamp(x, lo, hi):
    return max(lo, x) if x < hi else hi
''', '''\
from solution import *  # noqa: F403


def test_running_max():
    assert running_max([1, 3, 2, 5, 4]) == [1, 3, 3, 5, 5]  # noqa: F405
    assert clamp(15, 0, 10) == 10 and clamp(-1, 0, 10) == 0  # noqa: F405


def test_builtin_max_is_the_builtin():
    assert max([4, 9, 2]) == 9
    assert max(1, 2, 3) == 3
'''),
    Pair("star-classes-and-constants", "kodcode", ("star", "instances"), '''\
GRAVITY = 9.81


class Body:
    def __init__(self, mass):
        self.mass = mass

    def weight(self):
        return self.mass * GRAVITY


def heaviest(bodies):
    return max(bodies, key=lambda b: b.mass)
''', '''\
from solution import *  # noqa: F403


def test_star_class():
    bodies = [Body(1), Body(10), Body(5)]  # noqa: F405
    assert heaviest(bodies).mass == 10  # noqa: F405
    assert Body(2).weight() == 2 * GRAVITY  # noqa: F405
'''),
    Pair("star-all-list", "humaneval", S, '''\
__all__ = ["is_palindrome", "make_palindrome"]


def is_palindrome(s):
    return s == s[::-1]


def make_palindrome(s):
    for i in range(len(s)):
        if is_palindrome(s[i:]):
            return s + s[:i][::-1]
    return s


def helper_not_exported():
    return 1
''', '''\
from solution import *  # noqa: F403


def check(candidate):
    assert candidate("") == ""
    assert candidate("cat") == "catac"
    assert candidate("cata") == "catac"
    assert candidate("jerry") == "jerryrrej"


def test_check():
    check(make_palindrome)  # noqa: F405
    assert is_palindrome("abba")  # noqa: F405
    assert "helper_not_exported" not in globals()
'''),
    Pair("star-solution-imports-modules", "kodcode", S, '''\
import re
from collections import Counter
from itertools import combinations


def words(text):
    return re.findall(r"[a-z']+", text.lower())


def top_words(text, n):
    return [w for w, _ in Counter(words(text)).most_common(n)]


def pairs(xs):
    return list(combinations(xs, 2))
''', '''\
from solution import *  # noqa: F403


def test_star_brings_helpers():
    assert words("It's a Test, a test.") == ["it's", "a", "test", "a", "test"]  # noqa: F405
    assert top_words("b a b c b a", 2) == ["b", "a"]  # noqa: F405
    assert pairs([1, 2, 3]) == [(1, 2), (1, 3), (2, 3)]  # noqa: F405
    assert Counter("aab")["a"] == 2  # noqa: F405 - the solution's import, as in plain pytest
'''),
    Pair("star-own-sum-digits", "mbpp", S, '''\
def digits(n):
    return [int(c) for c in str(abs(n))]


def sum_digits(n):
    return sum(digits(n))


def digital_root(n):
    while n >= 10:
        n = sum_digits(n)
    return n
''', '''\
from solution import *  # noqa: F403


def test_digits():
    assert sum_digits(12345) == 15  # noqa: F405
    assert digital_root(9875) == 2  # noqa: F405
    assert digits(-402) == [4, 0, 2]  # noqa: F405
    assert sum([1, 2, 3]) == 6
'''),
    Pair("star-own-round-and-len-helpers", "kodcode", S, '''\
def round_half_up(x, ndigits=0):
    from decimal import ROUND_HALF_UP, Decimal
    q = Decimal(1).scaleb(-ndigits)
    return float(Decimal(str(x)).quantize(q, rounding=ROUND_HALF_UP))


def length(xs):
    n = 0
    for _ in xs:
        n += 1
    return n
''', '''\
from solution import *  # noqa: F403


def test_round_half_up():
    assert round_half_up(2.5) == 3.0  # noqa: F405
    assert round_half_up(2.675, 2) == 2.68  # noqa: F405
    assert round(2.5) == 2


def test_length():
    assert length(iter(range(7))) == 7  # noqa: F405
    assert len([1, 2]) == 2
'''),
    Pair("star-mixed-imports", "kodcode", S, '''\
import math

EPS = 1e-9


def mean(xs):
    return math.fsum(xs) / len(xs)


def variance(xs):
    m = mean(xs)
    return math.fsum((x - m) ** 2 for x in xs) / len(xs)


def std(xs):
    return math.sqrt(variance(xs))
''', '''\
import math

import solution
from solution import *  # noqa: F403
from solution import mean


def test_mean_and_std():
    assert abs(mean([1, 2, 3, 4]) - 2.5) < EPS  # noqa: F405
    assert math.isclose(std([2, 4, 4, 4, 5, 5, 7, 9]), 2.0)  # noqa: F405
    assert solution.variance([1, 1]) == 0
'''),
    Pair("star-two-modules", "kodcode", S, {
        "solution.py": '''\
from geometry import *


def perimeter(shape):
    return sum(side_lengths(shape))
''',
        "geometry.py": '''\
import math


def distance(p, q):
    return math.dist(p, q)


def side_lengths(points):
    return [distance(points[i], points[(i + 1) % len(points)]) for i in range(len(points))]
'''}, '''\
from solution import *  # noqa: F403


def test_perimeter():
    square = [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert perimeter(square) == 4.0  # noqa: F405
    assert distance((0, 0), (3, 4)) == 5.0  # noqa: F405
'''),
    Pair("star-own-sorted-name-private", "leetcode", S, '''\
def _sorted(xs):
    """Insertion sort (the task forbids the builtin)."""
    out = []
    for x in xs:
        i = len(out)
        while i > 0 and out[i - 1] > x:
            i -= 1
        out.insert(i, x)
    return out


def kth_smallest(xs, k):
    return _sorted(xs)[k - 1]
''', '''\
from solution import *  # noqa: F403


def test_kth():
    xs = [7, 10, 4, 3, 20, 15]
    assert kth_smallest(xs, 3) == sorted(xs)[2]  # noqa: F405
    assert xs == [7, 10, 4, 3, 20, 15]
'''),
]
