"""The Lean source pre-filter: a small lexer that skips comments and string literals,
and a table from tokens to the gaming patterns L1..L10 of docs/integrity.md.

It flags; under :attr:`IntegrityMode.ENFORCE` a flag whose token is in the reject set
makes the job ``rejected`` before anything runs. It is a cheap first line only: the
trusted axioms and statement step (verifiers/lean.py) is the defence that holds when
a pattern is obfuscated past this lexer.

Token keys (the names a reject set is made of) and what each stands for:

==================  ====  ===============================================================
key                 code  matched by
==================  ====  ===============================================================
sorry               L1    ``sorry``, and the identifier ``sorryAx`` anywhere
admit               L1    ``admit``
axiom               L2    ``axiom``
native_decide       L3    ``native_decide``, ``+native``, ``ofReduceBool``,
                          ``ofReduceNat``, ``trustCompiler``
implemented_by      L3    ``implemented_by``
extern              L3    ``extern``
set_option          L4    ``set_option`` (any option; flag only by default)
debug.skipKernelTC  L4    ``skipKernelTC`` anywhere (the option that skips the kernel)
macro               L5    ``macro``, ``macro_rules``
syntax              L5    ``syntax``, ``declare_syntax_cat``
elab                L5    ``elab``, ``elab_rules``
run_cmd             L5    ``run_cmd``
run_elab            L5    ``run_elab``, ``run_meta``
run_tac             L5    ``run_tac``
open private        L5    ``open private``
prelude             L5    ``prelude``
#exit               L7    ``#exit``
#eval               L8    ``#eval``, ``#eval!``
initialize          L8    ``initialize``, ``builtin_initialize``
unsafe              L9    ``unsafe``
partial             L9    ``partial`` (flag only by default)
opaque              L9    ``opaque`` (flag only by default)
==================  ====  ===============================================================

:data:`DEFAULT_REJECT_TOKENS` is every key except ``set_option``, ``partial`` and
``opaque``: honest proofs use ``set_option maxHeartbeats``, and ``partial``/``opaque``
bodies cannot be unfolded in a proof while the axioms step collects axioms through
opaque values, so those three are recorded without rejecting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import InvalidSpec
from ..outcomes import IntegrityFlag

DETECTOR = "lean_prefilter"

#: token key -> pattern code (docs/integrity.md, Lean part)
TOKEN_CODES: dict[str, str] = {
    "sorry": "L1",
    "admit": "L1",
    "axiom": "L2",
    "native_decide": "L3",
    "implemented_by": "L3",
    "extern": "L3",
    "set_option": "L4",
    "debug.skipKernelTC": "L4",
    "macro": "L5",
    "syntax": "L5",
    "elab": "L5",
    "run_cmd": "L5",
    "run_elab": "L5",
    "run_tac": "L5",
    "open private": "L5",
    "prelude": "L5",
    "#exit": "L7",
    "#eval": "L8",
    "initialize": "L8",
    "unsafe": "L9",
    "partial": "L9",
    "opaque": "L9",
}
TOKENS: frozenset[str] = frozenset(TOKEN_CODES)
DEFAULT_REJECT_TOKENS: frozenset[str] = TOKENS - {"set_option", "partial", "opaque"}

# A whole identifier token -> key.
_WHOLE: dict[str, str] = {
    "sorry": "sorry",
    "admit": "admit",
    "axiom": "axiom",
    "native_decide": "native_decide",
    "implemented_by": "implemented_by",
    "extern": "extern",
    "set_option": "set_option",
    "macro": "macro",
    "macro_rules": "macro",
    "syntax": "syntax",
    "declare_syntax_cat": "syntax",
    "elab": "elab",
    "elab_rules": "elab",
    "run_cmd": "run_cmd",
    "run_elab": "run_elab",
    "run_meta": "run_elab",
    "run_tac": "run_tac",
    "prelude": "prelude",
    "#exit": "#exit",
    "#eval": "#eval",
    "#eval!": "#eval",
    "initialize": "initialize",
    "builtin_initialize": "initialize",
    "unsafe": "unsafe",
    "partial": "partial",
    "opaque": "opaque",
}
# A component of a (possibly dotted) identifier -> key.
_COMPONENT: dict[str, str] = {
    "sorryAx": "sorry",
    "ofReduceBool": "native_decide",
    "ofReduceNat": "native_decide",
    "trustCompiler": "native_decide",
    "skipKernelTC": "debug.skipKernelTC",
}


@dataclass(frozen=True)
class Token:
    """One lexeme outside comments and string literals."""

    kind: str  # "ident" | "hash" | "symbol"
    text: str
    line: int
    #: True when no whitespace separates this token from the previous one.
    glued: bool = False


_GREEK_NOT_IDENT = set("λΠΣ")


def _id_start(c: str) -> bool:
    return c == "_" or (c.isalpha() and c not in _GREEK_NOT_IDENT)


def _id_rest(c: str) -> bool:
    return _id_start(c) or c.isdigit() or c in "'!?" or "\u2080" <= c <= "\u209c"


_CHAR_LIT = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^\\'\n])'")


class _Lexer:
    def __init__(self, src: str) -> None:
        self.s = src
        self.i = 0
        self.line = 1
        self.out: list[Token] = []
        self._gap = True

    def _emit(self, kind: str, text: str, line: int) -> None:
        self.out.append(Token(kind, text, line, glued=not self._gap))
        self._gap = False

    def _advance_to(self, j: int) -> None:
        self.line += self.s.count("\n", self.i, j)
        self.i = j

    def lex(self, until_brace: bool = False) -> None:
        """Lex from the current position; with ``until_brace`` stop after the ``}`` that
        closes an interpolation (``{`` ... ``}`` inside ``s!"..."``)."""
        s, n = self.s, len(self.s)
        depth = 0
        while self.i < n:
            c = s[self.i]
            if c == "\n" or c.isspace():
                self._gap = True
                self._advance_to(self.i + 1)
            elif s.startswith("--", self.i):
                j = s.find("\n", self.i)
                self._advance_to(n if j < 0 else j)
                self._gap = True
            elif s.startswith("/-", self.i):
                self._skip_block_comment()
                self._gap = True
            elif c == '"':
                prev = self.out[-1] if self.out else None
                interp = bool(prev and prev.kind == "ident" and prev.text.endswith("!")
                              and not self._gap)
                self._skip_string(interp)
                self._gap = False
            elif c == "'" and self._gap_or_symbol_before() and _CHAR_LIT.match(s, self.i):
                m = _CHAR_LIT.match(s, self.i)
                assert m is not None
                self._advance_to(m.end())
                self._gap = False
            elif c == "«" or _id_start(c):
                self._ident()
            elif c == "#" and self.i + 1 < n and _id_start(s[self.i + 1]):
                line = self.line
                j = self.i + 1
                while j < n and _id_rest(s[j]):
                    j += 1
                self._emit("hash", s[self.i:j], line)
                self._advance_to(j)
            elif c.isdigit():
                j = self.i + 1
                while j < n and (s[j].isalnum() or s[j] in "._"):
                    j += 1
                self._emit("symbol", s[self.i:j], self.line)
                self._advance_to(j)
            else:
                if until_brace:
                    if c == "{":
                        depth += 1
                    elif c == "}":
                        if depth == 0:
                            self._advance_to(self.i + 1)
                            return
                        depth -= 1
                self._emit("symbol", c, self.line)
                self._advance_to(self.i + 1)

    def _gap_or_symbol_before(self) -> bool:
        # `h'` continues an identifier; a char literal starts after a gap or a symbol.
        if self._gap or not self.out:
            return True
        return self.out[-1].kind == "symbol"

    def _skip_block_comment(self) -> None:
        s, n = self.s, len(self.s)
        j = self.i + 2
        depth = 1
        while j < n and depth:
            if s.startswith("/-", j):
                depth += 1
                j += 2
            elif s.startswith("-/", j):
                depth -= 1
                j += 2
            else:
                j += 1
        self._advance_to(j)

    def _skip_string(self, interpolated: bool) -> None:
        s, n = self.s, len(self.s)
        self._advance_to(self.i + 1)
        while self.i < n:
            c = s[self.i]
            if c == "\\":
                self._advance_to(min(n, self.i + 2))
            elif c == '"':
                self._advance_to(self.i + 1)
                return
            elif c == "{" and interpolated:
                self._advance_to(self.i + 1)
                self._gap = True
                self.lex(until_brace=True)
            else:
                self._advance_to(self.i + 1)

    def _skip_raw_string(self) -> bool:
        """At ``r"..."`` or ``r#"..."#``: skip it and return True."""
        m = re.compile(r'r(#*)"').match(self.s, self.i)
        if not m:
            return False
        close = '"' + m.group(1)
        j = self.s.find(close, m.end())
        self._advance_to(len(self.s) if j < 0 else j + len(close))
        self._gap = False
        return True

    def _ident(self) -> None:
        s, n = self.s, len(self.s)
        line = self.line
        if s[self.i] == "r" and self._skip_raw_string():
            return
        parts: list[str] = []
        j = self.i
        while True:
            if j < n and s[j] == "«":
                k = s.find("»", j + 1)
                k = n if k < 0 else k
                parts.append(s[j + 1:k])
                j = min(n, k + 1)
            else:
                k = j
                while k < n and _id_rest(s[k]):
                    k += 1
                parts.append(s[j:k])
                j = k
            if j + 1 < n and s[j] == "." and (s[j + 1] == "«" or _id_start(s[j + 1])):
                j += 1
                continue
            break
        self._advance_to(j)
        self._emit("ident", ".".join(parts), line)


def tokenize(source: str) -> list[Token]:
    """Identifiers, ``#commands`` and symbols of ``source``, without comments, string
    and char literals (code inside ``s!"{...}"`` interpolations is kept)."""
    lexer = _Lexer(source)
    lexer.lex()
    return lexer.out


def header_imports(source: str) -> list[str]:
    """Module names of the ``import`` lines that open ``source`` (after an optional
    ``prelude``), as Lean reads its header."""
    toks = tokenize(source)
    i = 0
    if toks and toks[0].kind == "ident" and toks[0].text == "prelude":
        i = 1
    found: list[str] = []
    while i + 1 < len(toks) and toks[i].kind == "ident" and toks[i].text == "import":
        j = i + 1
        if toks[j].kind == "ident" and toks[j].text == "runtime" and j + 1 < len(toks):
            j += 1
        if toks[j].kind != "ident":
            break
        found.append(toks[j].text)
        i = j + 1
    return found


def _hits(tokens: list[Token]) -> Iterator[tuple[str, int]]:
    for k, tok in enumerate(tokens):
        if tok.kind == "hash":
            key = _WHOLE.get(tok.text)
            if key:
                yield key, tok.line
            continue
        if tok.kind != "ident":
            continue
        key = _WHOLE.get(tok.text)
        if key:
            yield key, tok.line
        for comp in tok.text.split("."):
            ckey = _COMPONENT.get(comp)
            if ckey:
                yield ckey, tok.line
        prev = tokens[k - 1] if k else None
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if tok.text == "open" and nxt is not None and nxt.kind == "ident" and nxt.text == "private":
            yield "open private", tok.line
        if (tok.text == "native" and prev is not None and prev.text == "+" and tok.glued):
            yield "native_decide", tok.line


def check_reject_tokens(reject_tokens: Iterable[str]) -> frozenset[str]:
    """Validate a reject set; unknown keys are a configuration error."""
    chosen = frozenset(reject_tokens)
    unknown = chosen - TOKENS
    if unknown:
        raise InvalidSpec(f"unknown Lean reject tokens {sorted(unknown)}; known: {sorted(TOKENS)}")
    return chosen


def scan_lean_source(
    source: str,
    reject_tokens: frozenset[str] | None = None,
    *,
    line_offset: int = 0,
) -> list[IntegrityFlag]:
    """One flag per token key found in ``source`` (first line, and how often), with
    ``rejects`` set when the key is in ``reject_tokens`` (default
    :data:`DEFAULT_REJECT_TOKENS`). ``line_offset`` shifts reported lines, for a proof
    that sits further down a composed file."""
    rejects = DEFAULT_REJECT_TOKENS if reject_tokens is None else check_reject_tokens(reject_tokens)
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for key, line in _hits(tokenize(source)):
        first.setdefault(key, line)
        count[key] = count.get(key, 0) + 1
    flags = []
    for key in sorted(first, key=lambda k: (first[k], k)):
        line = first[key] + line_offset
        times = "once" if count[key] == 1 else f"{count[key]} times"
        flags.append(IntegrityFlag(
            code=TOKEN_CODES[key],
            detector=DETECTOR,
            detail=f"`{key}` appears {times}, first at line {line}",
            line=line,
            rejects=key in rejects,
        ))
    return flags


__all__ = [
    "DEFAULT_REJECT_TOKENS",
    "DETECTOR",
    "TOKENS",
    "TOKEN_CODES",
    "Token",
    "check_reject_tokens",
    "header_imports",
    "scan_lean_source",
    "tokenize",
]
