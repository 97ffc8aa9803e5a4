"""Parsing Lean's output. Every stream here is written by hand from the formats documented
in docs/lean-jobs.md (lean --json fields, the REPL's `info`, both sorry texts, the
`#print axioms` text); no Lean produced them."""

from __future__ import annotations

import base64
import json

from misalign_rewards.verifiers.lean_messages import (
    claimed_axioms,
    is_sorry_warning,
    parse_check_report,
    parse_frame,
    parse_lean_json,
    parse_print_axioms,
)


def jline(**fields: object) -> str:
    return json.dumps(fields)


def test_full_message_with_every_field() -> None:
    stream = jline(
        fileName="/tmp/work/Submission.lean", pos={"line": 3, "column": 8},
        endPos={"line": 3, "column": 13}, severity="error", data="unknown identifier 'x'",
        caption="", isSilent=False, keepFullRange=False, kind="unknownIdentifier",
    )
    (msg,), stray = parse_lean_json(stream)
    assert stray == []
    assert (msg.severity, msg.line, msg.column, msg.end_line, msg.end_column) == ("error", 3, 8, 3, 13)
    assert msg.file == "/tmp/work/Submission.lean"
    assert msg.kind == "unknownIdentifier"
    assert msg.text == "unknown identifier 'x'"


def test_both_severity_vocabularies() -> None:
    stream = "\n".join([
        jline(severity="information", data="a", pos={"line": 1, "column": 0}),
        jline(severity="info", data="b"),
        jline(severity="warning", data="c"),
        jline(severity="ERROR", data="d"),
    ])
    messages, _ = parse_lean_json(stream)
    assert [m.severity for m in messages] == ["information", "information", "warning", "error"]


def test_missing_and_null_fields_are_tolerated() -> None:
    stream = "\n".join([
        jline(severity="warning", data="old format", pos={"line": 2, "column": 0}, endPos=None),
        jline(severity="warning", data="no pos at all"),
        jline(data="no severity", pos={"line": "x"}),
        jline(severity="error"),
    ])
    messages, stray = parse_lean_json(stream)
    assert stray == []
    assert messages[0].end_line is None and messages[0].line == 2
    assert messages[1].line is None and messages[1].file is None and messages[1].kind is None
    assert messages[2].severity == "information" and messages[2].line is None
    assert messages[3].text == ""


def test_non_message_lines_are_stray_not_messages() -> None:
    stream = b"\n".join([
        b"plain text a submission printed",
        b"{not json",
        b'{"unrelated": 1}',
        b"[1, 2]",
        jline(severity="information", data="real").encode(),
        b"\xff\xfe broken utf-8",
    ])
    messages, stray = parse_lean_json(stream)
    assert [m.text for m in messages] == ["real"]
    assert len(stray) == 5


def test_old_and_new_sorry_texts_and_kind() -> None:
    stream = "\n".join([
        jline(severity="warning", data="declaration uses 'sorry'"),
        jline(severity="warning", data="declaration uses `sorry`"),
        jline(severity="warning", data="something else", kind="hasSorry"),
        jline(severity="warning", data="unused variable `h`"),
    ])
    messages, _ = parse_lean_json(stream)
    assert [is_sorry_warning(m) for m in messages] == [True, True, True, False]


def test_print_axioms_one_line_wrapped_and_none() -> None:
    assert parse_print_axioms("'foo' depends on axioms: [propext, Classical.choice, Quot.sound]") == {
        "foo": ["Classical.choice", "Quot.sound", "propext"]
    }
    wrapped = ("'Very.long_name' depends on axioms: [propext,\n sorryAx,\n  Classical.choice,\n"
               "  Quot.sound]")
    assert parse_print_axioms(wrapped)["Very.long_name"] == [
        "Classical.choice", "Quot.sound", "propext", "sorryAx"]
    assert parse_print_axioms("'bar' does not depend on any axioms") == {"bar": []}
    assert parse_print_axioms("no report here") == {}


def test_claimed_axioms_reads_only_the_named_theorem() -> None:
    stream = "\n".join([
        jline(severity="information", data="'other' depends on axioms: [sorryAx]"),
        jline(severity="information", data="'target' depends on axioms: [propext,\n Quot.sound]"),
    ])
    messages, _ = parse_lean_json(stream)
    assert claimed_axioms(messages, "target") == ["Quot.sound", "propext"]
    assert claimed_axioms(messages, "missing") is None


def test_frame_takes_the_last_exit_and_olean() -> None:
    real = b"\x00olean bytes\xff" * 40
    b64 = base64.encodebytes(real).decode()  # wrapped at 76 columns, like base64(1)
    stream = (
        "@@t exit 0\n@@t olean-begin\nZmFrZQ==\n@@t olean-end\n"  # printed early (fake)
        + jline(severity="warning", data="w") + "\n"
        + f"\n@@t exit 0\n@@t olean-begin\n{b64}@@t olean-end\n"
    )
    frame = parse_frame(stream, "t")
    assert frame.exit_code == 0
    assert frame.olean == real
    assert not frame.damaged


def test_frame_other_tags_and_damage() -> None:
    assert parse_frame("@@other exit 0\n", "t").exit_code is None
    frame = parse_frame("@@t exit 1\n", "t")
    assert frame.exit_code == 1 and frame.olean is None
    cut = parse_frame("@@t exit 0\n@@t olean-begin\nAAAA\n", "t")
    assert cut.olean is None and cut.damaged
    bad = parse_frame("@@t exit 0\n@@t olean-begin\n!!!\n@@t olean-end\n", "t")
    assert bad.olean is None and bad.damaged


NONCE = "0123456789abcdef0123456789abcdef"


def test_check_report_accepts_only_nonce_lines() -> None:
    stream = "\n".join([
        jline(severity="information", data=f"{NONCE} target found"),
        jline(severity="information", data=f"{NONCE} kind theorem"),
        jline(severity="information", data=f"{NONCE} type match"),
        jline(severity="information", data=f"{NONCE} axiom propext"),
        jline(severity="information", data=f"{NONCE} axiom Quot.sound"),
        # Lines that look right but carry no (or a wrong) nonce are not believed.
        jline(severity="information", data="'misalign_target' does not depend on any axioms"),
        jline(severity="information", data="ffffffffffffffffffffffffffffffff axiom sorryAx"),
        f"{NONCE}x axiom sorryAx",
        jline(severity="information", data=f"{NONCE} done"),
    ])
    messages, stray = parse_lean_json(stream)
    report = parse_check_report(messages, stray, NONCE)
    assert report.done
    assert report.target_found is True
    assert report.kind == "theorem"
    assert report.type_check == "match"
    assert report.axioms == ["propext", "Quot.sound"]


def test_check_report_without_done_is_incomplete() -> None:
    messages, stray = parse_lean_json(jline(severity="information", data=f"{NONCE} target missing"))
    report = parse_check_report(messages, stray, NONCE)
    assert not report.done
    assert report.target_found is False


def test_check_report_collects_problems() -> None:
    lines = [f"{NONCE} clash Nat.add_comm", f"{NONCE} duplicate foo", f"{NONCE} unresolved Bar.baz",
             f"{NONCE} error failed to read file", f"{NONCE} done"]
    report = parse_check_report([], lines, NONCE)
    assert report.clashes == ["Nat.add_comm"]
    assert report.duplicates == ["foo"]
    assert report.unresolved == ["Bar.baz"]
    assert report.errors == ["failed to read file"]


def test_claimed_axioms_also_reads_raw_output() -> None:
    assert claimed_axioms([], "t", ["junk", "'t' does not depend on any axioms"]) == []
