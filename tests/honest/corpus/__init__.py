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

from dataclasses import dataclass

#: The feature classes of issue 22, in the order the report prints them.
FEATURES = {
    "instances": "instances of the solution's own classes",
    "callables": "callables in either direction",
    "exceptions": "the task's own and builtin exceptions",
    "stdlib": "standard-library values and numpy",
    "fixtures": "pytest fixtures and mocks aimed at the solution",
    "import_time": "import-time work with many tests",
    "inplace": "honest in-place functions",
    "star": "star imports and names like builtins",
    "baseline": "builtin values only (what crossed before)",
}

#: The dataset styles.
STYLES = ("kodcode", "leetcode", "humaneval", "mbpp", "apps", "bigcodebench")


@dataclass(frozen=True)
class Pair:
    """One honest task: a correct solution and a suite plain pytest passes."""

    id: str
    style: str
    tags: tuple[str, ...]
    solution: str | dict[str, str]
    tests: str | dict[str, str]
    #: Why this pair cannot cross in isolated mode (None: it must earn 1.0 there).
    needs_inprocess: str | None = None

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"{self.id}: unknown style {self.style!r}")
        unknown = set(self.tags) - set(FEATURES)
        if not self.tags or unknown:
            raise ValueError(f"{self.id}: tags {self.tags!r} (unknown: {sorted(unknown)})")

    @property
    def solution_files(self) -> dict[str, str]:
        return {"solution.py": self.solution} if isinstance(self.solution, str) else dict(self.solution)

    @property
    def test_files(self) -> dict[str, str]:
        return {"test_solution.py": self.tests} if isinstance(self.tests, str) else dict(self.tests)


def _load() -> list[Pair]:
    from . import (baseline, callables, exceptions, fixtures, import_time, inplace, instances,
                   star, stdlib)

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
