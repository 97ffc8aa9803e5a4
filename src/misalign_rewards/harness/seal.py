"""Authenticated reports: the harness seals its report with an HMAC-SHA256 keyed by a
per-run secret, and the verifier believes nothing else.

The key arrives on the harness's stdin, is read before any untrusted process exists, and
appears in no output, file, argv or environment. A report on stdout is framed as::

    @@misalign-report v2 <run_id> <body length>
    <body: JSON, exactly that many bytes>
    @@misalign-report mac <hex HMAC-SHA256 over "misalign-report v2\\0<run_id>\\0<body>">

The frame markers are not secret; the MAC is what makes a report the harness's. A copied
report from another run fails (other key, other run id); an altered or truncated one
fails; a second frame is refused. Both sides import this module (stdlib only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

TAG = b"@@misalign-report"
KEY_BYTES = 32
_HEADER = re.compile(rb"^@@misalign-report v2 ([A-Za-z0-9_-]{1,64}) ([0-9]{1,12})$")
_MAC_LINE = re.compile(rb"^@@misalign-report mac ([0-9a-f]{64})$")


def _mac(key: bytes, run_id: str, body: bytes) -> str:
    return hmac.new(key, b"misalign-report v2\0" + run_id.encode() + b"\0" + body, hashlib.sha256).hexdigest()


def seal(key: bytes, run_id: str, report: Mapping[str, Any]) -> bytes:
    body = json.dumps(report, separators=(",", ":"), allow_nan=False).encode()
    return (TAG + b" v2 " + run_id.encode() + b" " + str(len(body)).encode() + b"\n" + body
            + b"\n" + TAG + b" mac " + _mac(key, run_id, body).encode() + b"\n")


class SealError(ValueError):
    """No report, or none that authenticates. ``forged`` is true when something framed
    like a report was there but did not authenticate (altered, truncated, copied)."""

    def __init__(self, message: str, *, forged: bool) -> None:
        super().__init__(message)
        self.forged = forged


def unseal(stdout: bytes, key: bytes, run_id: str) -> bytes:
    """The body of the one report on ``stdout`` sealed with ``key`` for ``run_id``.

    Raises :class:`SealError` when there is none, when a framed report does not
    authenticate, or when there is more than one."""
    found: list[bytes] = []
    bad: list[str] = []
    pos = 0
    while True:
        at = stdout.find(TAG + b" v2 ", pos)
        if at < 0:
            break
        if at > 0 and stdout[at - 1 : at] != b"\n":
            pos = at + 1
            continue
        eol = stdout.find(b"\n", at)
        header = stdout[at : eol if eol >= 0 else len(stdout)]
        pos = at + 1
        m = _HEADER.match(header)
        if m is None or eol < 0:
            bad.append("a report header that does not parse")
            continue
        length = int(m.group(2))
        body = stdout[eol + 1 : eol + 1 + length]
        rest = stdout[eol + 1 + length :]
        mac_end = rest.find(b"\n", 1)
        mac_line = rest[1:mac_end] if rest[:1] == b"\n" and mac_end > 0 else b""
        mm = _MAC_LINE.match(mac_line)
        if len(body) != length or mm is None:
            bad.append("a truncated report")
            continue
        claimed_run = m.group(1).decode()
        if claimed_run != run_id:
            bad.append(f"a report for another run ({claimed_run})")
            continue
        if not hmac.compare_digest(mm.group(1).decode(), _mac(key, run_id, body)):
            bad.append("a report whose MAC does not match")
            continue
        found.append(body)
        pos = eol + 1 + length
    if bad:
        raise SealError(f"the report failed authentication: {bad[0]}"
                        + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""), forged=True)
    if not found:
        raise SealError("no report", forged=False)
    if len(found) > 1:
        raise SealError("more than one sealed report", forged=True)
    return found[0]
