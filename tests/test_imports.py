"""Imports in src/ run one way, and every import hidden in a function says why it is there.

Read from the source with :mod:`ast`, not by importing it: an import inside a function
counts as much as one at the top of a module (it is how cycles hide), and a cycle that
only shows at run time is the one this test is for.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "misalign_rewards"
#: What a comment on (or just above) a function-level import must say: the two reasons
#: one may stay (issue 25: an optional dependency, or the cost of importing it early).
REASONS = ("optional dependency", "import cost")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The project modules one import statement loads (not their parent packages)."""
    found: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == PACKAGE:
                found.append(_longest_module(alias.name))
        return [f for f in found if f]
    if node.level:
        base = importer.split(".") if _is_package(importer) else importer.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != PACKAGE:
        return []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        found.append(sub if sub in MODULES else _longest_module(target))
    return [f for f in found if f]


def _longest_module(name: str) -> str:
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts)


def _imports(name: str) -> list[tuple[ast.stmt, bool]]:
    """Every import statement of a module, with whether it sits inside a function."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    out: list[tuple[ast.stmt, bool]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append((child, in_function))
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            walk(child, inner)

    walk(tree, False)
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for node, _ in _imports(name):
            for target in _resolve(name, node):  # type: ignore[arg-type]
                if target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_source_has_no_import_cycle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "modules that import each other (directly or round a loop): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_relative_imports_resolve_to_the_modules_they_load() -> None:
    """The resolver the cycle test stands on: a sibling, a parent's module, a package's
    submodule named in ``from . import``."""
    first = next(n for n in MODULES if n.endswith(".sandbox.base"))
    node = ast.parse("from ..errors import EngineError\nfrom . import capacity\n").body
    assert _resolve(first, node[0]) == [f"{PACKAGE}.errors"]  # type: ignore[arg-type]
    assert _resolve(first, node[1]) == [f"{PACKAGE}.sandbox.capacity"]  # type: ignore[arg-type]


def _comment_block(lines: list[str], node: ast.stmt) -> str:
    """The statement's own lines and the imports and comments just above it: one comment
    over a run of imports speaks for all of them."""
    first = node.lineno - 1
    while first > 0 and lines[first - 1].strip().startswith(("#", "import ", "from ")):
        first -= 1
    return " ".join(lines[first: node.end_lineno or node.lineno])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_function_level_import_says_why(name: str) -> None:
    """An import inside a function stays only for an optional dependency or for import
    cost, and a comment on its line or above its run of imports says which."""
    lines = MODULES[name].read_text().splitlines()
    silent = []
    for node, in_function in _imports(name):
        if not in_function:
            continue
        if not any(reason in _comment_block(lines, node).lower() for reason in REASONS):
            silent.append(f"line {node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not silent, f"{MODULES[name].relative_to(SRC)}: function-level imports without a reason " \
        f"({' or '.join(REASONS)}) in a comment: " + "; ".join(silent)


def test_the_contributing_module_map_matches_the_tree() -> None:
    """CONTRIBUTING.md's module map names every module of src/ (by file name) and names
    no file that is not there, so a move shows up as a failing test, not a stale page."""
    text = (SRC.parent / "CONTRIBUTING.md").read_text()
    start = text.index("## Module map")
    section = text[start: text.index("\n## ", start + 1)]
    named = {n for n in re.findall(r"`(?:[\w/]*/)?(\w+\.py)`", section) if not n.startswith("test_")}
    files = {path.name for path in MODULES.values()} - {"__init__.py"}
    assert files - named == set(), "modules the map does not name"
    assert named - files - {"__init__.py"} == set(), "files the map names that do not exist"
