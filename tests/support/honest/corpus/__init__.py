"""The honest corpus: correct (solution, tests) pairs that plain pytest passes, in the
styles of the code datasets RL is trained on (KodCode, LeetCode, HumanEval, MBPP, APPS,
BigCodeBench), covering every class of feature of issue 22 (what must cross the boundary
of isolated mode).

Each pair is data: a :class:`Pair` with a stable id, its style, its feature classes
(``tags``), the solution (``solution.py`` or named files) and the tests
(``test_solution.py`` or named files). A pair that genuinely cannot cross in isolated
mode names why in ``needs_inprocess``; it must then come back flagged ``needs_inprocess``,
never as a silent 0. None is marked today: the goal is that all cross.

To add a pair: append it to the ``PAIRS`` of the module of its main feature class, give it
an id not used before, and run ``tests/honest/test_corpus_plain.py`` (plain pytest must
pass it)."""

from __future__ import annotations

from . import (
    baseline,
    callables,
    exceptions,
    fixtures,
    import_time,
    inplace,
    instances,
    star,
    stdlib,
)
from .pair import FEATURES, STYLES, Pair

__all__ = ["BY_ID", "FEATURES", "PAIRS", "STYLES", "Pair"]


def _load() -> list[Pair]:
    pairs = [p for mod in (instances, callables, exceptions, stdlib, fixtures, import_time,
                           inplace, star, baseline) for p in mod.PAIRS]
    seen: set[str] = set()
    for p in pairs:
        if p.id in seen:
            raise ValueError(f"pair id {p.id!r} is used twice")
        seen.add(p.id)
    return pairs


#: Every pair, in a stable order.
PAIRS: list[Pair] = _load()
BY_ID: dict[str, Pair] = {p.id: p for p in PAIRS}
