"""The Lean pre-filter: tokens outside comments and strings, mapped to L-codes."""

from __future__ import annotations

import pytest

from misalign_rewards.errors import InvalidSpec
from misalign_rewards.integrity.lean import (
    DEFAULT_REJECT_TOKENS,
    TOKENS,
    header_imports,
    scan_lean_source,
    tokenize,
)


def keys(source: str, **kw: object) -> dict[str, tuple[str, int | None, bool]]:
    """token key -> (code, line, rejects), read back from the flag detail."""
    out = {}
    for f in scan_lean_source(source, **kw):  # type: ignore[arg-type]
        key = f.detail.split("`")[1]
        out[key] = (f.code, f.line, f.rejects)
    return out


@pytest.mark.parametrize(
    ("snippet", "key", "code"),
    [
        ("theorem t : 1 = 2 := by sorry", "sorry", "L1"),
        ("theorem t : 1 = 2 := by admit", "admit", "L1"),
        ("theorem t : 1 = 2 := sorryAx _ false", "sorry", "L1"),
        ("axiom cheat : False", "axiom", "L2"),
        ("theorem t : 1 = 2 := by native_decide", "native_decide", "L3"),
        ("theorem t : 1 = 2 := by decide +native", "native_decide", "L3"),
        ("theorem t : P := Lean.ofReduceBool a b h", "native_decide", "L3"),
        ("@[implemented_by g] def f : Nat := 0", "implemented_by", "L3"),
        ('@[extern "f"] opaque f : Nat', "extern", "L3"),
        ("set_option maxHeartbeats 400000 in\ntheorem t : True := trivial", "set_option", "L4"),
        ("set_option debug.skipKernelTC true", "debug.skipKernelTC", "L4"),
        ("macro \"go\" : tactic => `(tactic| rfl)", "macro", "L5"),
        ("macro_rules | `(tactic| go) => `(tactic| rfl)", "macro", "L5"),
        ("syntax \"go\" : tactic", "syntax", "L5"),
        ("elab \"go\" : tactic => pure ()", "elab", "L5"),
        ("run_cmd pure ()", "run_cmd", "L5"),
        ("run_elab pure ()", "run_elab", "L5"),
        ("run_meta pure ()", "run_elab", "L5"),
        ("example : True := by run_tac pure ()", "run_tac", "L5"),
        ("open private foo from Bar", "open private", "L5"),
        ("prelude\ntheorem t : True := True.intro", "prelude", "L5"),
        ("#exit", "#exit", "L7"),
        ("#eval IO.println \"x\"", "#eval", "L8"),
        ("initialize IO.println \"x\"", "initialize", "L8"),
        ("unsafe def f : Nat := 0", "unsafe", "L9"),
        ("partial def f : Nat → Nat := f", "partial", "L9"),
        ("opaque f : Nat", "opaque", "L9"),
    ],
)
def test_each_token_is_flagged_with_its_code(snippet: str, key: str, code: str) -> None:
    found = keys(snippet)
    assert key in found, found
    assert found[key][0] == code


def test_comments_and_strings_are_ignored() -> None:
    source = (
        "-- sorry axiom #eval\n"
        "/- a block /- nested sorry -/ still comment: axiom native_decide -/\n"
        "/-- doc: uses sorry -/\n"
        'def s : String := "sorry #exit \\" axiom"\n'
        "def c : Char := '\"'\n"
        'def r : String := r#"sorry "quoted" axiom"#\n'
        "theorem t : True := trivial\n"
    )
    assert scan_lean_source(source) == []


def test_code_inside_interpolated_strings_is_scanned() -> None:
    found = keys('def x : String := s!"value {(sorry : Nat)} here"')
    assert "sorry" in found


def test_identifiers_that_merely_contain_a_token_are_not_flagged() -> None:
    source = "theorem axiom_of_x (h' : sorry_free) : my_macro = unsafe_thing := rfl\n"
    assert scan_lean_source(source) == []


def test_primes_do_not_start_char_literals() -> None:
    # h' and h'' are identifiers; the sorry after them must still be seen.
    found = keys("example (h' h'' : True) : True := by exact sorry")
    assert found["sorry"][1] == 1


def test_lines_and_counts_and_offset() -> None:
    src = "by\n  simp\n  sorry\n  sorry\n"
    flags = scan_lean_source(src, line_offset=10)
    assert len(flags) == 1
    assert flags[0].line == 13
    assert "2 times" in flags[0].detail


def test_default_reject_set() -> None:
    assert DEFAULT_REJECT_TOKENS == TOKENS - {"set_option", "partial", "opaque"}
    found = keys("set_option maxHeartbeats 0 in\ntheorem t : True := by sorry")
    assert found["set_option"][2] is False
    assert found["sorry"][2] is True


def test_reject_set_is_a_setting() -> None:
    src = "set_option maxHeartbeats 0 in\ntheorem t : True := by sorry"
    found = keys(src, reject_tokens=frozenset({"set_option"}))
    assert found["set_option"][2] is True
    assert found["sorry"][2] is False


def test_unknown_reject_token_is_a_configuration_error() -> None:
    with pytest.raises(InvalidSpec, match="unknown Lean reject tokens"):
        scan_lean_source("theorem t : True := trivial", frozenset({"sory"}))


def test_tokenize_keeps_dotted_names_and_hash_commands() -> None:
    toks = [t.text for t in tokenize("#print axioms Nat.add_comm\n#eval! 1")]
    assert toks[:3] == ["#print", "axioms", "Nat.add_comm"]
    assert "#eval!" in toks


def test_header_imports() -> None:
    src = "/- header -/\nimport Mathlib.Tactic -- tactics\nimport Aesop\n\ntheorem t : True := trivial\nimport X\n"
    assert header_imports(src) == ["Mathlib.Tactic", "Aesop"]
    assert header_imports("prelude\nimport Init.Core\n") == ["Init.Core"]
    assert header_imports("theorem t : True := trivial") == []
