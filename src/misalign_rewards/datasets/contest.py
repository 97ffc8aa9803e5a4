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

LiveCodeBench's private cases are also published as base64 of zlib of a **pickle**. A
pickle runs code when loaded: this module never unpickles. Convert such files once, in a
process you trust and with data from a source you trust, into the JSON list form, and
pass that.
"""

from __future__ import annotations

import base64
import json
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
    return _from_inputs_outputs(row["input_output"], program, True, "input_output", **options)


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
    return IoJob(program=program, cases=cases, **options)


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
        if isinstance(raw, str) and not raw.lstrip().startswith("[") and _looks_pickled(raw):
            raise DatasetRowError("private_test_cases: this is the pickled form; convert it to the JSON "
                                      "list once, in a process you trust (see the module doc): it is never "
                                      "unpickled here")
        cases += _listed_cases(raw, "private_test_cases")
    metadata = _json(row.get("metadata") or "{}", "metadata")
    fn_name = metadata.get("func_name") if isinstance(metadata, dict) else None
    if not cases:
        raise DatasetRowError("no cases in public_test_cases or private_test_cases")
    return IoJob(program=program, cases=cases, fn_name=fn_name, **options)


def _looks_pickled(text: str) -> bool:
    try:
        data = zlib.decompress(base64.b64decode(text, validate=True))
    except (ValueError, zlib.error):
        return False
    return data[:1] == b"\x80"  # a pickle's protocol opcode; nothing more is read


def deepcoder(row: dict[str, Any], program: str, **options: Any) -> IoJob:
    """DeepCoder: ``row["tests"]`` in either of its two forms."""
    tests = _json(row.get("tests"), "tests")
    if isinstance(tests, dict):
        return prime_code(tests, program, **options)
    metadata = _json(row.get("metadata") or "{}", "metadata")
    fn_name = metadata.get("func_name") if isinstance(metadata, dict) else None
    return IoJob(program=program, cases=_listed_cases(tests, "tests"), fn_name=fn_name, **options)


__all__ = ["DatasetRowError", "apps_job", "code_contests", "deepcoder", "livecodebench", "prime_code"]
