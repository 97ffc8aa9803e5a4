"""Io jobs from the test-case schemas RL code datasets ship (docs/io-jobs.md).

Each loader takes one dataset row (a dict, as ``datasets`` or a JSON line gives it) and
the policy's program, and returns an :class:`~misalign_rewards.jobs.IoJob`. None of these
datasets can be downloaded where this project is tested: each loader is tested on small
rows written in the dataset's exact schema (tests/data/contest/).

=================  ======================================================================
loader             schema
=================  ======================================================================
``apps_job``       APPS / TACO: ``input_output`` (a JSON string or dict) ``{"inputs",
                   "outputs", "fn_name"?}``; call-based when ``fn_name`` is there (each
                   input is the list of arguments; each output is usually wrapped in a
                   one-element list)
``code_contests``  CodeContests: ``public_tests`` / ``private_tests`` /
                   ``generated_tests``, each ``{"input": [...], "output": [...]}``
``livecodebench``  LiveCodeBench: ``public_test_cases`` (a JSON string: a list of
                   ``{"input", "output", "testtype": "stdin"|"functional"}``) and
                   ``private_test_cases`` in its JSON form; ``metadata`` may hold
                   ``func_name``
``prime_code``     verl's ``prime_code`` ground truth and DeepCoder's tests: a dict or JSON
                   string ``{"inputs", "outputs", "fn_name"?}``; call-based inputs are
                   newline-separated JSON arguments, outputs JSON
``deepcoder``      DeepCoder rows: ``tests`` as a JSON list of ``{"input", "output",
                   "testtype"}`` (LiveCodeBench-style) or a ``prime_code`` dict
=================  ======================================================================

LiveCodeBench publishes its private cases as base64 of zlib of a **pickle** of a JSON
string. A pickle runs code when loaded, so this module never calls :mod:`pickle`: it
reads the pickle's opcodes itself (:func:`pickled_string`) and accepts only a pickle
that is one plain string (protocol 2-5: the protocol, frames, one string, its memo entry,
stop); anything else (a global, a call, a build, any other object) is refused unread.

Limits written in the rows become the job's (the caller's own options win): CodeContests
``time_limit`` (``{seconds, nanos}``) and ``memory_limit_bytes``, TACO ``time_limit``
(``"2 seconds"``) and ``memory_limit`` (``"256 megabytes"``) set ``case_timeout_s`` and
``case_memory_bytes``. CodeContests rows whose program reads or writes a named file
(``input_file`` / ``output_file``) are refused: an io job gives the program stdin and
stdout only.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from ..jobs import IoJob


class DatasetRowError(ValueError):
    """A row that does not have the schema its loader reads."""


def _json(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise DatasetRowError(f"{what}: not JSON ({exc})") from None
    return value


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _call_args(raw: Any, what: str) -> list[Any]:
    """Arguments of a call-based case: a list already, or JSON values one per line."""
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, str):
        raise DatasetRowError(f"{what}: expected a list of arguments or newline-separated JSON")
    out = []
    for line in raw.split("\n"):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as exc:
                raise DatasetRowError(f"{what}: a line is not JSON ({exc})") from None
    return out


def _text(value: Any, what: str) -> str:
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    if not isinstance(value, str):
        raise DatasetRowError(f"{what}: expected text")
    return value


def _from_inputs_outputs(io: Any, program: str, unwrap_single: bool, what: str, **options: Any) -> IoJob:
    io = _json(io, what)
    if not isinstance(io, dict) or "inputs" not in io or "outputs" not in io:
        raise DatasetRowError(f"{what}: expected an object with 'inputs' and 'outputs'")
    inputs, outputs = io["inputs"], io["outputs"]
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise DatasetRowError(f"{what}: 'inputs' and 'outputs' must be lists of the same length")
    fn_name = io.get("fn_name") or None
    cases = []
    for i, (inp, out) in enumerate(zip(inputs, outputs, strict=True)):
        if fn_name:
            expected = _maybe_json(out) if not unwrap_single else out
            if unwrap_single and isinstance(expected, list) and len(expected) == 1:
                expected = expected[0]
            cases.append({"input": _call_args(inp, f"{what}.inputs[{i}]"), "output": expected})
        else:
            cases.append({"input": _text(inp, f"{what}.inputs[{i}]"), "output": _text(out, f"{what}.outputs[{i}]")})
    return IoJob(program=program, cases=cases, fn_name=fn_name, **options)


def apps_job(row: dict[str, Any], program: str, **options: Any) -> IoJob:
    """APPS or TACO: ``row["input_output"]``."""
    if "input_output" not in row:
        raise DatasetRowError("input_output: missing")
    limits = {}
    seconds = _quantity(row.get("time_limit"), _SECONDS, "time_limit")
    if seconds:
        limits["case_timeout_s"] = seconds
    memory = _quantity(row.get("memory_limit"), _BYTES, "memory_limit")
    if memory:
        limits["case_memory_bytes"] = int(memory)
    return _from_inputs_outputs(row["input_output"], program, True, "input_output", **{**limits, **options})


_SECONDS = {"second": 1.0, "seconds": 1.0, "s": 1.0, "sec": 1.0, "millisecond": 1e-3, "milliseconds": 1e-3,
            "ms": 1e-3}
_BYTES = {"megabyte": 1e6, "megabytes": 1e6, "mb": 1e6, "mib": 1 << 20, "kilobytes": 1e3, "kb": 1e3,
          "gigabyte": 1e9, "gigabytes": 1e9, "gb": 1e9, "bytes": 1.0}
_QUANTITY = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]+)\s*", re.ASCII)


def _quantity(value: Any, units: dict[str, float], what: str) -> float | None:
    """TACO's ``"2 seconds"`` / ``"256 megabytes"``; None when the row has none."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) or None
    found = _QUANTITY.fullmatch(value) if isinstance(value, str) else None
    if not found or found.group(2).lower() not in units:
        raise DatasetRowError(f"{what}: {value!r} is not a quantity this loader reads")
    return float(found.group(1)) * units[found.group(2).lower()] or None


def prime_code(ground_truth: Any, program: str, **options: Any) -> IoJob:
    """verl's ``prime_code`` ground truth (a dict or its JSON text). A call-based case's
    output is the JSON of the return value wrapped in a one-element list (``"[3]"``), which
    is unwrapped as verl's checker does."""
    io = _json(ground_truth, "ground_truth")
    if isinstance(io, dict) and io.get("fn_name") and isinstance(io.get("outputs"), list):
        io = {**io, "outputs": [_maybe_json(out) for out in io["outputs"]]}
        return _from_inputs_outputs(io, program, True, "ground_truth", **options)
    return _from_inputs_outputs(io, program, False, "ground_truth", **options)


def code_contests(row: dict[str, Any], program: str, *,
                  splits: tuple[str, ...] = ("public_tests", "private_tests", "generated_tests"),
                  **options: Any) -> IoJob:
    """CodeContests: the cases of ``splits``, in that order."""
    cases = []
    for split in splits:
        tests = row.get(split)
        if tests is None:
            continue
        if not isinstance(tests, dict) or not isinstance(tests.get("input"), list) \
                or not isinstance(tests.get("output"), list) or len(tests["input"]) != len(tests["output"]):
            raise DatasetRowError(f"{split}: expected {{'input': [...], 'output': [...]}} of the same length")
        cases += [{"input": _text(i, f"{split}.input"), "output": _text(o, f"{split}.output")}
                  for i, o in zip(tests["input"], tests["output"], strict=True)]
    if not cases:
        raise DatasetRowError(f"no cases in {', '.join(splits)}")
    for field in ("input_file", "output_file"):
        if row.get(field):
            raise DatasetRowError(f"{field}: the program uses the file {row[field]!r}; io jobs give it "
                                  "stdin and stdout only")
    return IoJob(program=program, cases=cases, **{**_code_contests_limits(row), **options})


def _code_contests_limits(row: dict[str, Any]) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    time_limit = row.get("time_limit")
    if time_limit is not None:
        if not isinstance(time_limit, dict):
            raise DatasetRowError("time_limit: expected {'seconds': ..., 'nanos': ...}")
        try:
            seconds = float(time_limit.get("seconds") or 0) + float(time_limit.get("nanos") or 0) / 1e9
        except (TypeError, ValueError):
            raise DatasetRowError("time_limit: seconds and nanos must be numbers") from None
        if seconds > 0:
            limits["case_timeout_s"] = seconds
    memory = row.get("memory_limit_bytes")
    if isinstance(memory, int) and not isinstance(memory, bool) and memory > 0:
        limits["case_memory_bytes"] = memory
    return limits


def _listed_cases(tests: Any, what: str) -> list[dict[str, Any]]:
    tests = _json(tests, what)
    if not isinstance(tests, list):
        raise DatasetRowError(f"{what}: expected a list of cases")
    out = []
    for i, t in enumerate(tests):
        if not isinstance(t, dict) or "input" not in t or "output" not in t:
            raise DatasetRowError(f"{what}[{i}]: expected an object with 'input' and 'output'")
        kind = t.get("testtype", "stdin")
        if kind == "functional":
            out.append({"input": _call_args(t["input"], f"{what}[{i}].input"),
                        "output": _maybe_json(t["output"]), "testtype": "functional"})
        elif kind == "stdin":
            out.append({"input": _text(t["input"], f"{what}[{i}].input"),
                        "output": _text(t["output"], f"{what}[{i}].output"), "testtype": "stdin"})
        else:
            raise DatasetRowError(f"{what}[{i}].testtype: {kind!r} is neither 'stdin' nor 'functional'")
    return out


def livecodebench(row: dict[str, Any], program: str, *, private: bool = True, **options: Any) -> IoJob:
    """LiveCodeBench: public cases, and the private ones when given in JSON form."""
    cases = _listed_cases(row.get("public_test_cases", "[]"), "public_test_cases")
    if private and row.get("private_test_cases"):
        raw = row["private_test_cases"]
        if isinstance(raw, str) and not raw.lstrip().startswith("["):
            raw = pickled_string(raw, "private_test_cases")
        cases += _listed_cases(raw, "private_test_cases")
    metadata = _json(row.get("metadata") or "{}", "metadata")
    fn_name = metadata.get("func_name") if isinstance(metadata, dict) else None
    if not cases:
        raise DatasetRowError("no cases in public_test_cases or private_test_cases")
    return IoJob(program=program, cases=cases, fn_name=fn_name, **options)


#: The most a pickled field may inflate to (a zlib bomb is refused, not expanded).
MAX_PICKLE_BYTES = 256 << 20

# Pickle opcodes (pickletools) that a pickle of one plain string is made of.
_PROTO, _FRAME, _STOP = 0x80, 0x95, 0x2E
_STRINGS = {0x8C: 1, 0x58: 4, 0x8D: 8}  # SHORT_BINUNICODE, BINUNICODE, BINUNICODE8: size bytes
_MEMO = {0x94: 0, 0x71: 1, 0x72: 4}  # MEMOIZE, BINPUT, LONG_BINPUT: argument bytes


def pickled_string(text: str, what: str) -> str:
    """The string in ``text``, base64 of zlib of a pickle of one plain string (how
    LiveCodeBench publishes its private cases), read without :mod:`pickle`: the opcodes
    are parsed here, and anything but a string (a global, a call, a build, another
    object, a second value) is refused before any of it would mean anything."""
    try:
        packed = base64.b64decode(text, validate=True)
        inflate = zlib.decompressobj()
        data = inflate.decompress(packed, MAX_PICKLE_BYTES)
    except (ValueError, zlib.error) as exc:
        raise DatasetRowError(f"{what}: neither a JSON list nor base64 of zlib data ({exc})") from None
    if inflate.unconsumed_tail:
        raise DatasetRowError(f"{what}: the pickled cases inflate to more than {MAX_PICKLE_BYTES} bytes")
    value = _read_pickled_string(data)
    if value is None:
        raise DatasetRowError(f"{what}: the pickle holds something other than one plain string; it is not "
                              "loaded (a pickle can run code)")
    return value


def _read_pickled_string(data: bytes) -> str | None:
    i, value = 0, None
    if data[:1] == bytes([_PROTO]):
        if len(data) < 2 or not 2 <= data[1] <= 5:
            return None
        i = 2
    while i < len(data):
        op = data[i]
        i += 1
        if op == _FRAME:
            if i + 8 > len(data):
                return None
            i += 8  # a frame's length is a hint for readers; we hold all the data already
        elif op in _STRINGS and value is None:
            n = _STRINGS[op]
            if i + n > len(data):
                return None
            size = int.from_bytes(data[i:i + n], "little")
            i += n
            if size > len(data) - i:
                return None  # claims more than there is
            try:
                value = data[i:i + size].decode("utf-8")
            except UnicodeDecodeError:
                return None
            i += size
        elif op in _MEMO and value is not None:
            i += _MEMO[op]
        elif op == _STOP and value is not None:
            return value if i == len(data) else None
        else:
            return None
    return None


def deepcoder(row: dict[str, Any], program: str, **options: Any) -> IoJob:
    """DeepCoder: ``row["tests"]`` in either of its two forms."""
    tests = _json(row.get("tests"), "tests")
    if isinstance(tests, dict):
        return prime_code(tests, program, **options)
    metadata = _json(row.get("metadata") or "{}", "metadata")
    fn_name = metadata.get("func_name") if isinstance(metadata, dict) else None
    return IoJob(program=program, cases=_listed_cases(tests, "tests"), fn_name=fn_name, **options)


__all__ = ["DatasetRowError", "apps_job", "code_contests", "deepcoder", "livecodebench", "prime_code"]
