"""Parsing what Lean prints, leniently across versions. Pure functions, no I/O.

- :func:`parse_lean_json`: ``lean --json`` output, one JSON object per line. Both
  severity vocabularies (``information`` from ``lean``, ``info`` from the REPL), optional
  ``pos``/``endPos``/``kind``/``caption``; lines that are not message objects are kept
  apart as stray output (a submission can print anything).
- :func:`is_sorry_warning`: the ``kind`` field (``hasSorry``) or either text of the
  warning (``declaration uses 'sorry'`` up to v4.27, ``declaration uses `sorry` `` from
  v4.28). A secondary signal only: the trusted axioms step decides.
- :func:`parse_print_axioms`: the text of ``#print axioms``, whose list may wrap over
  lines. Used only on what the *submission* printed, to notice a report that disagrees
  with the trusted step (L7); never to decide a verdict.
- :func:`parse_frame`: the framed exit status and olean bytes a compile step prints
  after ``lean`` has exited.
- :func:`parse_check_report`: the marker lines of the trusted check program, accepted
  only with that run's nonce.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Literal

from ..outcomes import LeanMessage

_SEVERITIES: dict[str, Literal["information", "warning", "error"]] = {
    "information": "information",
    "info": "information",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
}

SORRY_TEXTS = ("declaration uses 'sorry'", "declaration uses `sorry`")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pos(value: object) -> tuple[int | None, int | None]:
    if not isinstance(value, dict):
        return None, None
    return _int(value.get("line")), _int(value.get("column"))


def message_from_json(obj: object) -> LeanMessage | None:
    """A :class:`LeanMessage` from one decoded JSON value, or None when it is not shaped
    like a Lean message (needs a ``severity`` or a ``data`` field)."""
    if not isinstance(obj, dict) or not ("severity" in obj or "data" in obj):
        return None
    raw_sev = obj.get("severity")
    severity = _SEVERITIES.get(raw_sev.lower(), "information") if isinstance(raw_sev, str) else "information"
    data = obj.get("data", "")
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    line, column = _pos(obj.get("pos"))
    end_line, end_column = _pos(obj.get("endPos"))
    file = obj.get("fileName")
    kind = obj.get("kind")
    return LeanMessage(
        severity=severity,
        text=text,
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
        file=file if isinstance(file, str) else None,
        kind=kind if isinstance(kind, str) else None,
    )


def _lines(stream: bytes | str) -> list[str]:
    text = stream.decode("utf-8", errors="replace") if isinstance(stream, bytes) else stream
    return text.splitlines()


def parse_lean_json(stream: bytes | str) -> tuple[list[LeanMessage], list[str]]:
    """Messages in the order printed, and every other non-empty line (stray output)."""
    messages: list[LeanMessage] = []
    stray: list[str] = []
    for line in _lines(stream):
        stripped = line.strip()
        if not stripped:
            continue
        msg = None
        if stripped.startswith("{"):
            try:
                msg = message_from_json(json.loads(stripped))
            except ValueError:
                msg = None
        if msg is None:
            stray.append(line)
        else:
            messages.append(msg)
    return messages, stray


def is_sorry_warning(msg: LeanMessage) -> bool:
    if msg.kind == "hasSorry":
        return True
    return any(t in msg.text for t in SORRY_TEXTS)


def errors(messages: list[LeanMessage]) -> list[LeanMessage]:
    return [m for m in messages if m.severity == "error"]


_AXIOMS = re.compile(
    r"'(?P<name>[^']+)'\s+(?:depends\s+on\s+axioms:\s*\[(?P<list>[^\]]*)\]"
    r"|(?P<none>does\s+not\s+depend\s+on\s+any\s+axioms))",
    re.S,
)


def parse_print_axioms(text: str) -> dict[str, list[str]]:
    """Every ``#print axioms`` report in ``text``: name -> axioms (sorted; [] for "does
    not depend on any axioms"). Lists wrapped over lines are joined."""
    reports: dict[str, list[str]] = {}
    for m in _AXIOMS.finditer(text):
        if m.group("none"):
            reports[m.group("name")] = []
        else:
            items = [x.strip() for x in re.split(r"[,\s]+", m.group("list")) if x.strip()]
            reports[m.group("name")] = sorted(items)
    return reports


def claimed_axioms(messages: list[LeanMessage], name: str, stray: list[str] | None = None
                   ) -> list[str] | None:
    """What the messages (and stray output lines) *claim* ``name`` depends on (the last
    such report), or None."""
    found = None
    for text in [m.text for m in messages] + ["\n".join(stray or [])]:
        reports = parse_print_axioms(text)
        if name in reports:
            found = reports[name]
    return found


@dataclass(frozen=True)
class Frame:
    """What a compile step's wrapper printed after ``lean`` exited."""

    exit_code: int | None
    olean: bytes | None
    #: A begin marker without its end, or undecodable base64.
    damaged: bool = False


def parse_frame(stream: bytes | str, tag: str) -> Frame:
    """The last ``@@<tag> exit N`` line and the last complete olean block."""
    exit_code: int | None = None
    olean: bytes | None = None
    damaged = False
    block: list[str] | None = None
    head = f"@@{tag} "
    for line in _lines(stream):
        line = line.strip()
        if line.startswith(head):
            word = line[len(head):]
            if word.startswith("exit "):
                try:
                    exit_code = int(word[5:])
                except ValueError:
                    exit_code = None
            elif word == "olean-begin":
                block = []
            elif word == "olean-end" and block is not None:
                try:
                    olean = base64.b64decode("".join(block), validate=True)
                    damaged = False
                except (binascii.Error, ValueError):
                    olean, damaged = None, True
                block = None
        elif block is not None:
            block.append(line)
    if block is not None:
        damaged = True
    return Frame(exit_code=exit_code, olean=olean, damaged=damaged)


@dataclass
class CheckReport:
    """What the trusted check program reported, from lines carrying its nonce."""

    done: bool = False
    target_found: bool | None = None
    kind: str | None = None
    #: "match" / "mismatch" / "levels"; None when no reference was given.
    type_check: str | None = None
    axioms: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_check_report(messages: list[LeanMessage], stray: list[str], nonce: str) -> CheckReport:
    """Read marker lines ``<nonce> <tag> <payload>`` from message texts and stray lines.
    Anything without the exact nonce is ignored, whatever it says."""
    report = CheckReport()
    head = nonce + " "
    lines = [ln for m in messages for ln in m.text.splitlines()] + list(stray)
    for raw in lines:
        line = raw.strip()
        if not line.startswith(head):
            continue
        tag, _, payload = line[len(head):].partition(" ")
        payload = payload.strip()
        if tag == "done":
            report.done = True
        elif tag == "target":
            report.target_found = payload == "found"
        elif tag == "kind":
            report.kind = payload
        elif tag == "type":
            report.type_check = payload
        elif tag == "axiom":
            report.axioms.append(payload)
        elif tag == "unresolved":
            report.unresolved.append(payload)
        elif tag == "clash":
            report.clashes.append(payload)
        elif tag == "duplicate":
            report.duplicates.append(payload)
        elif tag == "error":
            report.errors.append(payload)
    return report


__all__ = [
    "SORRY_TEXTS",
    "CheckReport",
    "Frame",
    "claimed_axioms",
    "errors",
    "is_sorry_warning",
    "message_from_json",
    "parse_check_report",
    "parse_frame",
    "parse_lean_json",
    "parse_print_axioms",
]
