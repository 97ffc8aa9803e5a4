"""The harness gives the nodes pytest's assertion rewriter made for an assert their
location itself (harness/collect.py ``give_location``, in place of the rewriter's own walk
and ``ast.copy_location`` per node): the rewritten code is pytest's, byte for byte, on
these asserts and on every HumanEval test module."""

from __future__ import annotations

import ast
import marshal

import pytest
from _pytest.assertion import rewrite

from misalign_rewards.datasets import humaneval
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


def _pytests_own(source: str, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(rewrite.AssertionRewriter, "visit_Assert", collect.PYTEST_VISIT_ASSERT)
        m.setattr(rewrite, "traverse_node", collect.PYTEST_TRAVERSE)
        return _rewritten(source)


@pytest.mark.parametrize("source", SOURCES)
def test_asserts_rewritten_with_it_compile_to_the_same_code(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert rewrite.AssertionRewriter.visit_Assert is collect._visit_assert  # importing the harness put it there
    ours = _rewritten(source)
    assert _pytests_own(source, monkeypatch) == ours
    assert rewrite.traverse_node is collect.PYTEST_TRAVERSE  # pytest's walk is back after each assert


def test_every_humaneval_test_module_compiles_to_the_same_code(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [humaneval.build_test_module(p) for p in humaneval.load_problems()]
    assert len(sources) == 164
    ours = [_rewritten(s) for s in sources]
    assert [_pytests_own(s, monkeypatch) for s in sources] == ours


def test_a_node_with_a_location_keeps_it() -> None:
    assert_ = ast.parse("assert x == 1\n").body[0]
    assert isinstance(assert_, ast.Assert)
    placed = ast.Name("y", ast.Load(), lineno=7, col_offset=2, end_lineno=7, end_col_offset=3)
    made = ast.Expr(ast.Call(ast.Name("f", ast.Load()), [placed], []))
    collect.give_location([made], assert_)
    assert (made.lineno, made.col_offset, made.end_lineno, made.end_col_offset) == (1, 0, 1, 13)
    assert (made.value.lineno, made.value.func.end_col_offset) == (1, 13)
    assert (placed.lineno, placed.col_offset) == (7, 2)
    assert not hasattr(made.value.func.ctx, "lineno")  # kinds without a location get none
