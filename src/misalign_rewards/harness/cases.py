"""Contest-style cases, judged by trusted code: comparisons, the checker, one case's run.

The generated test module of an ``io`` job (verifiers/io.py) calls :func:`judge` once per
case, in the harness's own process (isolated mode): the expected output, the comparison
and the checker never exist where the program can reach them. A case that fails raises
``AssertionError`` with which comparison failed and a bounded diff.

Comparisons (``compare``):

    exact            the output equals the expected text (a single trailing newline of
                     either is ignored)
    tokens           the same whitespace-separated tokens (the common default)
    numbers          tokens, numeric ones equal within ``abs_tol`` or ``rel_tol``
    unordered_lines  the same non-empty lines (each stripped), in any order
    checker          the job's trusted ``check(input, output, expected)`` decides

Functional cases compare the returned value with the expected one as JSON values (tuples
are lists); with ``numbers``, floats within the tolerances.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import json
import math
from typing import Any

DIFF_CHARS = 300


class CaseFailed(AssertionError):
    """One case's verdict, with a reason the result shows."""


class CompileFailed(CaseFailed):
    """The program did not compile: every case fails with the compiler's message."""


def _clip(text: str, n: int = DIFF_CHARS) -> str:
    return text if len(text) <= n else text[:n] + f"... ({len(text)} chars)"


def _first_difference(got: list[str], want: list[str], what: str) -> str:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"{what} {i + 1}: got {_clip(repr(g), 120)}, expected {_clip(repr(w), 120)}"
    if len(got) != len(want):
        return f"{len(got)} {what}s, expected {len(want)}"
    return "no difference"


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def close(a: float, b: float, abs_tol: float, rel_tol: float) -> bool:
    return abs(a - b) <= max(abs_tol, rel_tol * max(abs(a), abs(b)))


def compare_text(output: str, expected: str, how: str, abs_tol: float = 1e-9,
                 rel_tol: float = 1e-9) -> str | None:
    """None when ``output`` is right, else why not."""
    if how == "exact":
        o, e = output.removesuffix("\n"), expected.removesuffix("\n")
        if o == e:
            return None
        return "exact: " + _first_difference(o.split("\n"), e.split("\n"), "line")
    if how == "tokens":
        o_tok, e_tok = output.split(), expected.split()
        return None if o_tok == e_tok else "tokens: " + _first_difference(o_tok, e_tok, "token")
    if how == "numbers":
        o_tok, e_tok = output.split(), expected.split()
        if len(o_tok) != len(e_tok):
            return f"numbers: {len(o_tok)} tokens, expected {len(e_tok)}"
        for i, (g, w) in enumerate(zip(o_tok, e_tok)):
            gn, wn = _number(g), _number(w)
            if wn is not None and gn is not None:
                if not close(gn, wn, abs_tol, rel_tol):
                    return (f"numbers: token {i + 1}: got {_clip(g, 60)}, expected {_clip(w, 60)} "
                            f"(abs_tol {abs_tol:g}, rel_tol {rel_tol:g})")
            elif g != w:
                return f"numbers: token {i + 1}: got {_clip(repr(g), 60)}, expected {_clip(repr(w), 60)}"
        return None
    if how == "unordered_lines":
        o_lines = sorted(x.strip() for x in output.splitlines() if x.strip())
        e_lines = sorted(x.strip() for x in expected.splitlines() if x.strip())
        if o_lines == e_lines:
            return None
        missing = [x for x in e_lines if x not in o_lines][:3]
        extra = [x for x in o_lines if x not in e_lines][:3]
        return f"unordered_lines: missing {_clip(repr(missing), 140)}, unexpected {_clip(repr(extra), 140)}"
    raise ValueError(f"unknown comparison {how!r}")


def _normal(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    return value


def compare_values(got: Any, want: Any, how: str, abs_tol: float, rel_tol: float) -> str | None:
    g, w = _normal(got), _normal(want)
    if how == "numbers":
        if _values_close(g, w, abs_tol, rel_tol):
            return None
    elif g == w and type(g) is type(w) or (g == w and {type(g), type(w)} <= {int, float}):
        return None
    return f"value: got {_clip(_show(got))}, expected {_clip(_show(want))}"


def _values_close(g: Any, w: Any, abs_tol: float, rel_tol: float) -> bool:
    if isinstance(g, bool) or isinstance(w, bool):
        return g is w
    if isinstance(g, int | float) and isinstance(w, int | float):
        return close(float(g), float(w), abs_tol, rel_tol)
    if isinstance(g, list) and isinstance(w, list):
        return len(g) == len(w) and all(_values_close(a, b, abs_tol, rel_tol) for a, b in zip(g, w))
    if isinstance(g, dict) and isinstance(w, dict):
        return g.keys() == w.keys() and all(_values_close(g[k], w[k], abs_tol, rel_tol) for k in g)
    return bool(g == w)


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def run_checker(check: Any, case_input: str, output: str, expected: str) -> str | None:
    """The job's trusted checker: True, or (True, why) passes; anything else fails."""
    verdict = check(case_input, output, expected)
    why = ""
    if isinstance(verdict, tuple) and verdict:
        verdict, why = verdict[0], (str(verdict[1]) if len(verdict) > 1 else "")
    if verdict is True:
        return None
    return f"checker: {_clip(why or 'rejected the output')}; output {_clip(repr(output), 120)}"
