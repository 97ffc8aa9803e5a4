"""Contest-style cases, judged by trusted code: comparisons, the checker, one case's run.

The generated test module of an ``io`` job (verifiers/io.py) calls :func:`judge` once per
case, in the harness's own process (isolated mode): the expected output, the comparison
and the checker never exist where the program can reach them. A case that fails raises
``AssertionError`` with which comparison failed and a bounded diff.

Comparisons (``compare``):

    exact            the output equals the expected text (a single trailing newline of
                     either is ignored)
    tokens           the same whitespace-separated tokens (the common default)
    numbers          tokens; two integer tokens equal exactly, other numeric ones within
                     ``abs_tol`` or ``rel_tol`` (finite values only)
    unordered_lines  the same non-empty lines (each stripped), in any order
    checker          the job's trusted ``check(input, output, expected)`` decides

Functional cases compare the returned value with the expected one as JSON values (tuples
are lists; a bool is never a number); with ``numbers``, floats within the tolerances, ints
exactly. Tokens are separated by ASCII whitespace only, and numbers are ASCII.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import json
import math
import re
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


_WS = re.compile(r"[ \t\n\r\f\v]+")
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


def _tokens(text: str) -> list[str]:
    return [t for t in _WS.split(text) if t]


def _number(token: str) -> float | int | None:
    if _INT.fullmatch(token):
        return int(token)
    if not _FLOAT.fullmatch(token):
        return None
    value = float(token)
    return value if math.isfinite(value) else None


def close(a: float | int, b: float | int, abs_tol: float, rel_tol: float) -> bool:
    """Two numbers within the tolerances; two ints exactly; nothing non-finite."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    try:
        fa, fb = float(a), float(b)
    except OverflowError:
        return False
    if not (math.isfinite(fa) and math.isfinite(fb)):
        return False
    return abs(fa - fb) <= max(abs_tol, rel_tol * max(abs(fa), abs(fb)))


def compare_text(output: str, expected: str, how: str, abs_tol: float = 1e-9,
                 rel_tol: float = 1e-9) -> str | None:
    """None when ``output`` is right, else why not."""
    if how == "exact":
        o, e = output.removesuffix("\n"), expected.removesuffix("\n")
        if o == e:
            return None
        return "exact: " + _first_difference(o.split("\n"), e.split("\n"), "line")
    if how == "tokens":
        o_tok, e_tok = _tokens(output), _tokens(expected)
        return None if o_tok == e_tok else "tokens: " + _first_difference(o_tok, e_tok, "token")
    if how == "numbers":
        o_tok, e_tok = _tokens(output), _tokens(expected)
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
        from collections import Counter

        o_count, e_count = Counter(o_lines), Counter(e_lines)
        missing = list((e_count - o_count).elements())[:3]
        extra = list((o_count - e_count).elements())[:3]
        return (f"unordered_lines: {len(o_lines)} lines, expected {len(e_lines)}; missing "
                f"{_clip(repr(missing), 140)}, unexpected {_clip(repr(extra), 140)}")
    raise ValueError(f"unknown comparison {how!r}")


def _normal(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    return value


def compare_values(got: Any, want: Any, how: str, abs_tol: float, rel_tol: float) -> str | None:
    g, w = _normal(got), _normal(want)
    if _values_equal(g, w, abs_tol, rel_tol, tolerant=how == "numbers"):
        return None
    return f"value: got {_clip(_show(got))}, expected {_clip(_show(want))}"


def _values_equal(g: Any, w: Any, abs_tol: float, rel_tol: float, *, tolerant: bool) -> bool:
    """Equal as JSON values, all the way down: a bool only equals a bool; ints exactly;
    a float equals a number of the same value, or within the tolerances when
    ``tolerant``; a non-finite float equals nothing (not even itself)."""
    if isinstance(g, bool) or isinstance(w, bool):
        return type(g) is bool and type(w) is bool and g is w
    if isinstance(g, int | float) and isinstance(w, int | float):
        if isinstance(g, int) and isinstance(w, int):
            return g == w
        if tolerant:
            return close(g, w, abs_tol, rel_tol)
        try:
            return math.isfinite(float(g)) and math.isfinite(float(w)) and g == w
        except OverflowError:
            return False
    if isinstance(g, list) and isinstance(w, list):
        return len(g) == len(w) and all(_values_equal(a, b, abs_tol, rel_tol, tolerant=tolerant)
                                        for a, b in zip(g, w))
    if isinstance(g, dict) and isinstance(w, dict):
        return g.keys() == w.keys() and all(_values_equal(g[k], w[k], abs_tol, rel_tol, tolerant=tolerant)
                                            for k in g)
    return type(g) is type(w) and bool(g == w)


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
