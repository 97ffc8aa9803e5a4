"""What the harness may import: the standard library and pytest, and its siblings relatively
(it runs in the container as ``misalign_harness``, beside no SDK). That its imports run one
way and that an import inside a function says why is tests/test_imports.py's, for all of
src/."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from misalign_rewards import harness

HARNESS = Path(harness.__file__).parent
MODULES = {p.stem: ast.parse(p.read_text()) for p in sorted(HARNESS.glob("*.py")) if p.stem != "__init__"}


def test_every_shipped_module_is_here_and_the_other_way_round() -> None:
    assert set(harness.MODULES) == set(MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_stdlib_pytest_and_siblings(name: str) -> None:
    """Inside the container the package is ``misalign_harness``, and only the standard
    library and pytest are there for sure (numpy only as an optional dependency)."""
    for node in ast.walk(MODULES[name]):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1, ast.unparse(node)
            continue
        tops = [a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import) \
            else [(node.module or "").split(".")[0]]
        for top in tops:
            assert top in sys.stdlib_module_names or top in ("pytest", "_pytest", "numpy"), ast.unparse(node)
