"""The harness's walk of an assert's nodes (harness/collect.py ``walk_in_order``) stands
in for pytest's own (``traverse_node``) while pytest rewrites asserts: the same nodes in
the same order, and so the same rewritten code, byte for byte."""

from __future__ import annotations

import ast
import marshal

import pytest
from _pytest.assertion import rewrite

from misalign_rewards.harness import collect

SOURCES = [
    "def check(candidate):\n    assert candidate([1.0, 2.0, 3.9], 0.3) == True\n"
    "    assert candidate([1, 2], 0.05) == False, 'close'\n\n\ndef test_x():\n    check(len)\n",
    "import math\n\n\ndef test_chain():\n    x = 3\n    assert 1 < x <= 3 != 4\n"
    "    assert math.isclose(x / 3, 1.0) and not (x > 5 or x < 0)\n",
    "def test_walrus():\n    assert (n := len('abc')) == 3 and n\n    assert [y for y in range(3) if y] == [1, 2]\n",
    "async def helper():\n    return 1\n\n\ndef test_misc():\n    d = {'a': 1}\n"
    "    assert d.get('a') == 1, f\"got {d!r}\"\n    assert (lambda *a, **k: (a, k))(1, b=2) == ((1,), {'b': 2})\n"
    "    assert {**d, 'b': 2} == dict(a=1, b=2)\n    assert [*range(2), *'ab'] == [0, 1, 'a', 'b']\n"
    "    assert not isinstance(d, list) is True\n",
    "class TestK:\n    def test_m(self):\n        def inner(v):\n            assert v, 'inner'\n            return v\n"
    "        assert inner(1) + inner(2) == 3\n        assert 'x' in 'xyz' and 'q' not in 'xyz'\n",
]


def _rewritten(source: str) -> bytes:
    tree = ast.parse(source, "test_x.py")
    rewrite.rewrite_asserts(tree, source.encode(), "test_x.py", None)
    return marshal.dumps(compile(tree, "test_x.py", "exec", dont_inherit=True))


@pytest.mark.parametrize("source", SOURCES)
def test_the_walk_visits_what_pytests_does_in_its_order(source: str) -> None:
    assert collect.PYTEST_TRAVERSE is not None
    tree = ast.parse(source)
    ours = list(collect.walk_in_order(tree))
    assert [id(n) for n in ours] == [id(n) for n in collect.PYTEST_TRAVERSE(tree)]
    assert len(ours) == len(list(ast.walk(tree)))  # every node, once


@pytest.mark.parametrize("source", SOURCES)
def test_asserts_rewritten_with_it_compile_to_the_same_code(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert rewrite.traverse_node is collect.walk_in_order  # importing the harness put it there
    ours = _rewritten(source)
    monkeypatch.setattr(rewrite, "traverse_node", collect.PYTEST_TRAVERSE)
    assert _rewritten(source) == ours
