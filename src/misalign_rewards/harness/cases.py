"""Contest-style cases, judged by trusted code: comparisons, the checker, one case's run.

The generated test module of an ``io`` job (verifiers/io.py) calls :func:`judge` once per
case, in the harness's own process (isolated mode): the expected output, the comparison
and the checker never exist where the program can reach them. A case that fails raises
``AssertionError`` with which comparison failed and a bounded diff.

Comparisons (``compare``):

    exact            the output equals the expected text (a single trailing newline of
                     either is ignored)
    tokens           the same whitespace-separated tokens (the common default)
    numbers          tokens; an integer expected token is matched exactly (by any numeric
                     token of exactly its value: ``6``, ``6.0``, ``6e0``), other numeric
                     ones within ``abs_tol`` or ``rel_tol`` (finite values only)
    unordered_lines  the same non-empty lines (each stripped), in any order
    checker          the job's trusted ``check(input, output, expected)`` decides

Functional cases compare the returned value with the expected one as values (tuples are
lists; a bool is never a number; dict keys keep their types; numpy scalars and arrays are
their Python values, as ``.item()`` and ``.tolist()`` give them); with ``numbers``, floats
within the tolerances, an int expected value exactly. Tokens are separated by ASCII
whitespace only, and numbers are ASCII.

Case values reach the generated module as JSON; a dict whose keys are not all strings is
carried as ``{"$dict": [[key, value], ...]}`` (:func:`encode_value`, :func:`decode_value`).

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

DIFF_CHARS = 300


class CaseFailed(AssertionError):
    """One case's verdict, with a reason the result shows."""


class CompileFailed(CaseFailed):
    """The program did not compile: every case fails with the compiler's message."""


def _clip(text: str, n: int = DIFF_CHARS) -> str:
    return text if len(text) <= n else text[:n] + f"... ({len(text)} chars)"


def _first_difference(got: list[str], want: list[str], what: str) -> str:
    for i, (g, w) in enumerate(zip(got, want, strict=False)):  # the shorter one may end first
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


def _integral_equal(token: str, want: int) -> bool:
    """Whether numeric ``token`` has exactly the value ``want`` (``6.0`` and ``6e0`` are
    6; ``1.2e12`` is 1200000000000; no tolerance)."""
    if _INT.fullmatch(token):
        return int(token) == want
    mantissa, _, exponent = token.lower().partition("e")
    if exponent and abs(int(exponent)) > 10 * (len(str(abs(want))) + len(mantissa) + 10):
        return False  # far too large or too small to be this integer (and costly to expand)
    try:
        return Decimal(token) == want
    except InvalidOperation:
        return False


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
        for i, (g, w) in enumerate(zip(o_tok, e_tok, strict=True)):
            gn, wn = _number(g), _number(w)
            if isinstance(wn, int) and _FLOAT.fullmatch(g):
                if not _integral_equal(g, wn):
                    return f"numbers: token {i + 1}: got {_clip(g, 60)}, expected the integer {_clip(w, 60)} exactly"
            elif wn is not None and gn is not None:
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
        o_count, e_count = Counter(o_lines), Counter(e_lines)
        missing = list((e_count - o_count).elements())[:3]
        extra = list((o_count - e_count).elements())[:3]
        return (f"unordered_lines: {len(o_lines)} lines, expected {len(e_lines)}; missing "
                f"{_clip(repr(missing), 140)}, unexpected {_clip(repr(extra), 140)}")
    raise ValueError(f"unknown comparison {how!r}")


def _normal(value: Any) -> Any:
    """The value to compare: tuples as lists; numpy scalars and arrays as their Python
    values (what ``==`` in the dataset's own checker compares); dict keys kept."""
    if isinstance(value, tuple | list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {_normal_key(k): _normal(v) for k, v in value.items()}
    np = sys.modules.get("numpy")
    if np is not None and type(value).__module__ == "numpy":
        if isinstance(value, np.ndarray):
            return _normal(value.tolist())
        if isinstance(value, np.generic):
            return _normal(value.item())
    return value


def _normal_key(key: Any) -> Any:
    key = _normal(key)
    return tuple(key) if isinstance(key, list) else key


def encode_value(value: Any) -> Any:
    """A case value as JSON: tuples as lists; a dict with a key that is not a string as
    ``{"$dict": [[key, value], ...]}``, so that ``{1: 5}`` stays apart from ``{"1": 5}``
    (and a dict that has the key ``"$dict"`` is carried that way too)."""
    if isinstance(value, tuple | list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and "$dict" not in value:
            return {k: encode_value(v) for k, v in value.items()}
        return {"$dict": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    return value


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value` (list keys come back as tuples)."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        pairs = value.get("$dict") if len(value) == 1 else None
        if isinstance(pairs, list):
            return {_normal_key(decode_value(k)): decode_value(v) for k, v in pairs}
        return {k: decode_value(v) for k, v in value.items()}
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
        if isinstance(w, int):
            # an integer answer is exact, whatever form the program's number takes
            return g == w if isinstance(g, int) else math.isfinite(g) and g == w
        if tolerant:
            return close(g, w, abs_tol, rel_tol)
        try:
            return math.isfinite(float(g)) and math.isfinite(float(w)) and g == w
        except OverflowError:
            return False
    if isinstance(g, list) and isinstance(w, list):
        return len(g) == len(w) and all(_values_equal(a, b, abs_tol, rel_tol, tolerant=tolerant)
                                        for a, b in zip(g, w, strict=True))
    if isinstance(g, dict) and isinstance(w, dict):
        # keys with their types: {1: 5} is not {"1": 5}, nor {1.0: 5} nor {True: 5}
        return _typed_keys(g) == _typed_keys(w) and all(
            _values_equal(g[k], w[k], abs_tol, rel_tol, tolerant=tolerant) for k in g)
    return type(g) is type(w) and bool(g == w)


def _typed_keys(d: dict[Any, Any]) -> set[tuple[type, Any]]:
    return {(type(k), k) for k in d}


def _show(value: Any) -> str:
    try:
        if encode_value(value) != value:
            return repr(value)  # keys that JSON would show as strings
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
