"""One schema per process boundary (harness/schema.py), held to by both sides.

The harness runs here on the host, from the SDK's own message (``PytestVerifier.prepare``,
with ``contained`` off), and every report it writes must validate against the SDK's
``HarnessReport``, which refuses any key the schema does not declare. No engine needed."""

from __future__ import annotations

import ast
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from misalign_rewards import harness, outcomes
from misalign_rewards.harness import schema, seal
from misalign_rewards.jobs import IoJob, PytestJob
from misalign_rewards.verifiers.io import as_pytest_job
from misalign_rewards.verifiers.pytest import (
    CaseWipes,
    HarnessReport,
    Phases,
    PytestVerifier,
    ReportError,
    parse_report,
)

HARNESS = Path(harness.__file__).parent
SRC = HARNESS.parent


def _keys(typed: Any) -> set[str]:
    return set(typed.__annotations__)


def test_the_sdk_models_declare_exactly_the_schemas_keys() -> None:
    assert set(HarnessReport.model_fields) == _keys(schema.Report)
    assert set(CaseWipes.model_fields) == _keys(schema.CaseWipes)
    assert set(Phases.model_fields) == _keys(schema.Phases)
    assert set(outcomes.TestCase.model_fields) == _keys(schema.ReportedTest)
    assert {o.value for o in outcomes.TestOutcome} == set(schema.TEST_OUTCOMES)
    assert HarnessReport.model_config.get("extra") == "forbid"
    assert schema.Report.__required_keys__ == {"mode"}


TESTS = {"test_f.py": "from solution import f\n\n\ndef test_ok():\n    assert f(2) == 4\n\n\n"
                      "def test_bad():\n    assert f(2) == 5\n"}
#: A test file that cannot be collected: pytest then runs nothing else.
BROKEN = {"test_broken.py": "import nothing_of_that_name\n"}


def _job(mode: str = "isolated", tests: dict[str, str] = TESTS) -> PytestJob:
    return PytestJob(solution={"solution.py": "def f(x):\n    return 2 * x\n"}, mode=mode,  # type: ignore[arg-type]
                     tests=tests)


def test_the_sdk_sends_every_declared_config_key_and_no_other() -> None:
    spec = PytestVerifier("unused").prepare(_job(), b"k" * 32, "run")
    message = json.loads(spec.stdin)
    assert set(message) == _keys(schema.Message)
    # "runner" only for an io job (pytest runs the tests otherwise)
    assert set(message["config"]) == _keys(schema.Config) - {"runner"}
    spec = PytestVerifier("unused").prepare(_job(), b"k" * 32, "run", runner=schema.CASES_RUNNER)
    config = json.loads(spec.stdin)["config"]
    assert set(config) == _keys(schema.Config) and config["runner"] == schema.CASES_RUNNER


def _reads_of(name: str, tree: ast.AST) -> set[str]:
    """String keys read from a variable ``name``: ``name["k"]`` and ``name.get("k", ...)``."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == name \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            keys.add(node.slice.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == name \
                and node.args and isinstance(node.args[0], ast.Constant):
            keys.add(node.args[0].value)
    return keys


def test_the_harness_reads_every_declared_config_key_and_no_other() -> None:
    """A key sent and never read, or read and never sent, is a bug of one side."""
    read: set[str] = set()
    for path in HARNESS.glob("*.py"):
        read |= _reads_of("config", ast.parse(path.read_text()))
    assert read == _keys(schema.Config)


def test_the_io_test_module_reads_every_declared_key_and_no_other() -> None:
    job = IoJob(program="print(input())", cases=[{"input": "1\n", "output": "1\n"}])
    tree = ast.parse(as_pytest_job(job, 1 << 20).test_files["test_cases.py"])
    assert _reads_of("SPEC", tree) == _keys(schema.IoSpec)
    assert _reads_of("case", tree) == _keys(schema.IoCaseSpec)


def _run_on_host(tmp: Path, job: PytestJob, **config: Any) -> tuple[HarnessReport, dict[str, Any]]:
    """The SDK's own run of ``job``, on this host (``contained`` off): the report, and its
    body as the harness wrote it."""
    key, run_id = secrets.token_bytes(32), secrets.token_hex(8)
    spec = PytestVerifier("unused", workdir=str(tmp)).prepare(job, key, run_id)
    for rel, data in spec.files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(data)
    message = json.loads(spec.stdin)
    message["config"].update({"contained": False, **config})
    proc = subprocess.run([sys.executable, *spec.argv[1:]], input=json.dumps(message).encode(),
                          capture_output=True, cwd=tmp, timeout=120, check=False,
                          env={"PATH": "/usr/bin:/bin", **spec.env})
    body = json.loads(seal.unseal(proc.stdout, key, run_id))
    return parse_report(proc.stdout, key, run_id), body


@pytest.mark.parametrize("tests", [TESTS, {**TESTS, **BROKEN}], ids=["tests", "collection-error"])
@pytest.mark.parametrize("mode", ["isolated", "inprocess"])
def test_every_key_the_harness_writes_is_declared(tmp_path: Path, mode: str, tests: dict[str, str]) -> None:
    report, body = _run_on_host(tmp_path, _job(mode, tests))
    assert report.mode == mode and len(report.tests) == (1 if BROKEN.keys() & tests.keys() else 2), body
    assert set(body) <= _keys(schema.Report), set(body) - _keys(schema.Report)
    assert all(set(t) == _keys(schema.ReportedTest) for t in body["tests"])
    assert set(body["phases_s"]) == _keys(schema.Phases)


def test_a_report_that_cannot_start_is_declared_too(tmp_path: Path) -> None:
    report, body = _run_on_host(tmp_path, _job(), mode="neither")
    assert report.setup_error and set(body) <= _keys(schema.Report)


@pytest.mark.parametrize("report", [
    {"mode": "isolated", "undeclared": 1},
    {"mode": "isolated", "tests": [{"id": "t", "outcome": "passed", "duration_s": 0.0, "message": "",
                                    "undeclared": 1}]},
    {"mode": "isolated", "io": {"strays": 0, "ipc_handed": 0, "undeclared": 1}},
])
def test_the_sdk_refuses_an_undeclared_key(report: dict[str, Any]) -> None:
    key = secrets.token_bytes(32)
    with pytest.raises(ReportError, match="malformed"):
        parse_report(seal.seal(key, "run", report), key, "run")


@pytest.mark.parametrize("value", [schema.POOL_TAG, schema.UID_ENV, schema.FIRST_UNTRUSTED_UID,
                                   schema.LAST_UNTRUSTED_UID])
def test_the_constants_both_sides_share_are_defined_once(value: object) -> None:
    """The pool and the supervisor, the client and the harness, name them from schema.py."""
    where = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
             for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant)
             and node.value.value == value and type(node.value.value) is type(value)]
    assert where == ["harness/schema.py"]
