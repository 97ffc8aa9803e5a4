"""The harness's imports: stdlib and pytest only, siblings relatively, one way, and every
import inside a function says why it is there (src/misalign_rewards/harness/__init__.py)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from misalign_rewards import harness

HARNESS = Path(harness.__file__).parent
MODULES = {p.stem: ast.parse(p.read_text()) for p in sorted(HARNESS.glob("*.py")) if p.stem != "__init__"}
#: What a function-level import must say it is there for.
REASONS = ("import cost", "optional dependency")


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, bool]]:
    """Every import statement of ``tree``, and whether it is inside a function."""
    found: list[tuple[ast.stmt, bool]] = []

    def walk(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, inside))
            walk(child, inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    walk(tree, False)
    return found


def _siblings(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.ImportFrom) and node.level == 1:
        return {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return set()


def test_every_shipped_module_is_here_and_the_other_way_round() -> None:
    assert set(harness.MODULES) == set(MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_stdlib_pytest_and_siblings(name: str) -> None:
    """Inside the container the package is ``misalign_harness``, and only the standard
    library and pytest are there for sure (numpy only as an optional dependency)."""
    for node, _ in _imports(MODULES[name]):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1, ast.unparse(node)
            continue
        tops = [a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import) \
            else [(node.module or "").split(".")[0]]
        for top in tops:
            assert top in sys.stdlib_module_names or top in ("pytest", "_pytest", "numpy"), ast.unparse(node)


def test_no_cycle_between_harness_modules() -> None:
    """Counting imports inside functions too: a cycle hidden behind one is still a cycle."""
    graph = {name: set().union(*[_siblings(n) for n, _ in _imports(tree)]) for name, tree in MODULES.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, " -> ".join([*path[path.index(name):], name])
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_an_import_inside_a_function_says_why(name: str) -> None:
    """The reason is on the line, or in the comment just above its group of imports."""
    lines = (HARNESS / f"{name}.py").read_text().splitlines()
    pytest_ok = {"pytest", "_pytest"}
    for node, inside in _imports(MODULES[name]):
        top = node.names[0].name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "")
        if not inside or top.split(".")[0] in pytest_ok and not _siblings(node):
            continue  # pytest is imported where the harness always imported it
        i = node.lineno - 1
        said = lines[i]
        while i > 0 and (lines[i - 1].strip().startswith(("import ", "from ", "try:", "except", "pass"))
                         or not lines[i - 1].strip()):
            i -= 1  # up through the group of imports the statement is in
            said += "\n" + lines[i]
        while i > 0 and lines[i - 1].strip().startswith("#"):
            i -= 1  # and the comment above it
            said += "\n" + lines[i]
        assert any(r in said for r in REASONS), f"{name}.py:{node.lineno}: {ast.unparse(node)}"
