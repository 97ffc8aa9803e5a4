"""One honest pair (:class:`Pair`) and the feature classes and dataset styles it may be
tagged with. Kept apart from the package's ``__init__``, which gathers every module's
pairs, so that those modules import it without importing the package back."""

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
