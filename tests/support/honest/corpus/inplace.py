"""Honest in-place functions: the test passes its own list, matrix or dict and checks it
afterwards (often also a returned count)."""

from __future__ import annotations

from .pair import Pair

P = ("inplace",)

PAIRS = [
    Pair("inp-sort-returns-none", "kodcode", P, '''\
def bubble_sort(xs):
    n = len(xs)
    for i in range(n):
        for j in range(n - 1 - i):
            if xs[j] > xs[j + 1]:
                xs[j], xs[j + 1] = xs[j + 1], xs[j]
''', '''\
from solution import bubble_sort


def test_sorts_in_place():
    xs = [5, 2, 9, 1]
    assert bubble_sort(xs) is None
    assert xs == [1, 2, 5, 9]


def test_alias_sees_change():
    xs = [3, 2, 1]
    alias = xs
    bubble_sort(xs)
    assert alias == [1, 2, 3]
'''),
    Pair("inp-append-and-count", "kodcode", P, '''\
def collect_evens(source, sink):
    n = 0
    for x in source:
        if x % 2 == 0:
            sink.append(x)
            n += 1
    return n
''', '''\
from solution import collect_evens


def test_appends_and_counts():
    out = ["start"]
    assert collect_evens([1, 2, 3, 4], out) == 2
    assert out == ["start", 2, 4]
    assert collect_evens([6], out) == 1
    assert out == ["start", 2, 4, 6]
'''),
    Pair("inp-shuffle-seeded", "kodcode", P, '''\
import random


def shuffle(xs, seed=None):
    rng = random.Random(seed)
    for i in range(len(xs) - 1, 0, -1):
        j = rng.randint(0, i)
        xs[i], xs[j] = xs[j], xs[i]
''', '''\
import random

from solution import shuffle


def test_permutation_in_place():
    xs = list(range(20))
    shuffle(xs, seed=1)
    assert sorted(xs) == list(range(20))
    assert xs != list(range(20))


def test_deterministic():
    a, b = list("abcdef"), list("abcdef")
    shuffle(a, seed=42)
    shuffle(b, seed=42)
    assert a == b
    ref = list("abcdef")
    rng = random.Random(42)
    for i in range(len(ref) - 1, 0, -1):
        j = rng.randint(0, i)
        ref[i], ref[j] = ref[j], ref[i]
    assert a == ref
'''),
    Pair("inp-rotate-matrix", "leetcode", ("inplace", "instances"), '''\
class Solution:
    def rotate(self, matrix):
        """Rotate a square matrix 90 degrees clockwise, in place."""
        n = len(matrix)
        for i in range(n):
            for j in range(i + 1, n):
                matrix[i][j], matrix[j][i] = matrix[j][i], matrix[i][j]
        for row in matrix:
            row.reverse()
''', '''\
from solution import Solution


def test_rotate():
    m = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    rows = list(m)
    assert Solution().rotate(m) is None
    assert m == [[7, 4, 1], [8, 5, 2], [9, 6, 3]]
    assert rows[0] is m[0]


def test_rotate_twice():
    m = [[1, 2], [3, 4]]
    Solution().rotate(m)
    Solution().rotate(m)
    assert m == [[4, 3], [2, 1]]
'''),
    Pair("inp-remove-duplicates-k", "leetcode", ("inplace", "instances"), '''\
class Solution:
    def removeDuplicates(self, nums):
        if not nums:
            return 0
        k = 1
        for i in range(1, len(nums)):
            if nums[i] != nums[k - 1]:
                nums[k] = nums[i]
                k += 1
        return k
''', '''\
from solution import Solution


def test_remove_duplicates():
    nums = [0, 0, 1, 1, 1, 2, 2, 3, 3, 4]
    k = Solution().removeDuplicates(nums)
    assert k == 5
    assert nums[:k] == [0, 1, 2, 3, 4]
    assert len(nums) == 10


def test_empty():
    assert Solution().removeDuplicates([]) == 0
'''),
    Pair("inp-move-zeroes", "leetcode", ("inplace", "instances"), '''\
class Solution:
    def moveZeroes(self, nums) -> None:
        pos = 0
        for i, x in enumerate(nums):
            if x != 0:
                nums[pos], nums[i] = nums[i], nums[pos]
                pos += 1
''', '''\
from solution import Solution


def test_move_zeroes():
    nums = [0, 1, 0, 3, 12]
    Solution().moveZeroes(nums)
    assert nums == [1, 3, 12, 0, 0]
'''),
    Pair("inp-merge-sorted-array", "leetcode", ("inplace", "instances"), '''\
class Solution:
    def merge(self, nums1, m, nums2, n):
        i, j, k = m - 1, n - 1, m + n - 1
        while j >= 0:
            if i >= 0 and nums1[i] > nums2[j]:
                nums1[k] = nums1[i]
                i -= 1
            else:
                nums1[k] = nums2[j]
                j -= 1
            k -= 1
''', '''\
from solution import Solution


def test_merge():
    nums1 = [1, 2, 3, 0, 0, 0]
    nums2 = [2, 5, 6]
    Solution().merge(nums1, 3, nums2, 3)
    assert nums1 == [1, 2, 2, 3, 5, 6]
    assert nums2 == [2, 5, 6]
'''),
    Pair("inp-set-matrix-zeroes", "leetcode", P, '''\
def set_zeroes(matrix):
    rows = {i for i, row in enumerate(matrix) for x in row if x == 0}
    cols = {j for row in matrix for j, x in enumerate(row) if x == 0}
    for i, row in enumerate(matrix):
        for j in range(len(row)):
            if i in rows or j in cols:
                row[j] = 0
    return len(rows) + len(cols)
''', '''\
from solution import set_zeroes


def test_zeroes():
    m = [[1, 1, 1], [1, 0, 1], [1, 1, 1]]
    assert set_zeroes(m) == 2
    assert m == [[1, 0, 1], [0, 0, 0], [1, 0, 1]]
'''),
    Pair("inp-dict-update", "mbpp", P, '''\
def add_word_counts(counts, text):
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts
''', '''\
from solution import add_word_counts


def test_update_in_place():
    counts = {"a": 1}
    result = add_word_counts(counts, "a b a")
    assert result is counts
    assert counts == {"a": 3, "b": 1}
'''),
    Pair("inp-sort-colors", "leetcode", ("inplace", "instances"), '''\
class Solution:
    def sortColors(self, nums):
        lo, mid, hi = 0, 0, len(nums) - 1
        while mid <= hi:
            if nums[mid] == 0:
                nums[lo], nums[mid] = nums[mid], nums[lo]
                lo += 1
                mid += 1
            elif nums[mid] == 1:
                mid += 1
            else:
                nums[mid], nums[hi] = nums[hi], nums[mid]
                hi -= 1
''', '''\
import pytest
from solution import Solution


@pytest.mark.parametrize("nums", [[2, 0, 2, 1, 1, 0], [2, 0, 1], [0], [1, 1]])
def test_sort_colors(nums):
    expected = sorted(nums)
    Solution().sortColors(nums)
    assert nums == expected
'''),
    Pair("inp-next-permutation", "leetcode", P, '''\
def next_permutation(nums):
    i = len(nums) - 2
    while i >= 0 and nums[i] >= nums[i + 1]:
        i -= 1
    if i >= 0:
        j = len(nums) - 1
        while nums[j] <= nums[i]:
            j -= 1
        nums[i], nums[j] = nums[j], nums[i]
    nums[i + 1:] = reversed(nums[i + 1:])
''', '''\
from solution import next_permutation


def test_next_permutation():
    cases = [([1, 2, 3], [1, 3, 2]), ([3, 2, 1], [1, 2, 3]), ([1, 1, 5], [1, 5, 1])]
    for nums, expected in cases:
        next_permutation(nums)
        assert nums == expected
'''),
    Pair("inp-heapify-in-place", "kodcode", P, '''\
def sift_down(heap, i):
    n = len(heap)
    while True:
        smallest = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < n and heap[child] < heap[smallest]:
                smallest = child
        if smallest == i:
            return
        heap[i], heap[smallest] = heap[smallest], heap[i]
        i = smallest


def heapify(xs):
    for i in reversed(range(len(xs) // 2)):
        sift_down(xs, i)
''', '''\
import heapq

from solution import heapify


def test_heapify():
    xs = [9, 4, 7, 1, 8, 2]
    heapify(xs)
    assert all(xs[i] <= xs[c] for i in range(len(xs)) for c in (2 * i + 1, 2 * i + 2) if c < len(xs))
    assert [heapq.heappop(xs) for _ in range(6)] == [1, 2, 4, 7, 8, 9]
'''),
    Pair("inp-reverse-words-chars", "leetcode", ("inplace", "instances"), '''\
class Solution:
    def reverseString(self, s) -> None:
        i, j = 0, len(s) - 1
        while i < j:
            s[i], s[j] = s[j], s[i]
            i, j = i + 1, j - 1
''', '''\
from solution import Solution


def test_reverse_chars():
    s = list("hello")
    Solution().reverseString(s)
    assert s == list("olleh")
    s = ["H", "a"]
    Solution().reverseString(s)
    assert s == ["a", "H"]
'''),
    Pair("inp-bytearray-and-set", "kodcode", ("inplace", "stdlib"), '''\
def mask(buf, start, end, char=b"*"):
    buf[start:end] = char * (end - start)
    return end - start


def prune(s, limit):
    removed = {x for x in s if x > limit}
    s -= removed
    return len(removed)
''', '''\
from solution import mask, prune


def test_bytearray_in_place():
    buf = bytearray(b"secret-token")
    assert mask(buf, 0, 6) == 6
    assert buf == bytearray(b"******-token")


def test_set_in_place():
    s = {1, 5, 10, 20}
    assert prune(s, 6) == 2
    assert s == {1, 5}
'''),
    # numpy arrays changed in place by the solution (a mask assignment, np.fill_diagonal),
    # and bytes written to sys.stdout.buffer, checked by capsysbinary (found by a hunt for
    # honest suites scored wrongly).
    Pair("inp-numpy-arrays-and-byte-output", "bigcodebench", P, '''\
import sys

import numpy as np


def clip_negatives(arr):
    arr[arr < 0] = 0


def zero_diagonal(matrix):
    np.fill_diagonal(matrix, 0)
    return matrix


def emit(values):
    sys.stdout.buffer.write(" ".join(map(str, values)).encode() + b"\\n")
    sys.stdout.flush()
''', '''\
import numpy as np

from solution import clip_negatives, emit, zero_diagonal


def test_clip():
    a = np.array([1, -2, 3, -4])
    assert clip_negatives(a) is None
    assert a.tolist() == [1, 0, 3, 0]


def test_zero_diagonal_returns_the_same_array():
    m = np.ones((3, 3))
    out = zero_diagonal(m)
    assert out is m
    assert np.trace(m) == 0 and m.sum() == 6


def test_emit(capsysbinary):
    emit([1, 2, 3])
    assert capsysbinary.readouterr().out == b"1 2 3\\n"
'''),
]
