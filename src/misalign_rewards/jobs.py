"""Input models. A batch item is a :class:`PytestJob`, an :class:`IoJob`, a
:class:`LeanJob`, or a dict with ``kind`` set to ``"pytest"``, ``"io"`` or ``"lean"``;
:func:`parse_job` turns any of them into a validated model and says which field of which
item is wrong otherwise."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .sandbox.base import LimitsOverride

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")

#: Largest solution (all files together, in characters) a pytest job takes: scanning and
#: shipping more would cost far more than any real completion needs. Past it the job is
#: ``invalid_input`` and nothing runs.
MAX_SOLUTION_BYTES = 1 << 20
#: Largest test suite (all files together, in characters); it must also fit the
#: container's /tmp.
MAX_TESTS_BYTES = 16 << 20
_LEAN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_'.]*$")
#: Deepest nesting of free-form data a job carries (``metadata``, an io case's values),
#: and most values in it. Whatever handles a job later (results, logs, JSON) may walk it
#: recursively; far below the interpreter's recursion limit, far above any real use.
MAX_DEPTH = 64
MAX_NODES = 1_000_000


def check_depth(value: Any) -> Any:
    """``value`` unchanged if it nests at most :data:`MAX_DEPTH` deep (walked without
    recursion, so a cycle or a deep object is refused, not a crash)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            children = item
        else:
            continue
        if depth >= MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        seen += len(children)
        if seen > MAX_NODES:
            raise ValueError(f"more than {MAX_NODES} values")
        stack.extend((child, depth + 1) for child in children)
    return value


#: Free-form data of bounded depth.
Nested = Annotated[Any, AfterValidator(check_depth)]


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


class _JobBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(default_factory=_new_id, min_length=1, max_length=128)
    timeout_s: float | None = Field(None, gt=0, le=3600)
    limits: LimitsOverride | None = None
    #: Passed through to the result untouched.
    metadata: Annotated[dict[str, Any], AfterValidator(check_depth)] = Field(default_factory=dict)


def _check_encodable(field: str, name: str, text: str) -> None:
    """Trusted text must be valid Unicode: a lone surrogate (half of a character) cannot
    be written as UTF-8, and a test file the harness cannot write is the job's fault."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise ValueError(f"{field}: {name} line {line} has a lone surrogate ({text[exc.start]!a}), "
                         "which is not valid text") from None


class PytestJob(_JobBase):
    """Untrusted ``solution`` code checked against a trusted pytest suite ``tests``.

    ``solution`` is one module's source (placed as ``solution_module``) or several named
    files. ``tests`` is one test module's source or several named files; test files are
    trusted input written by the harness, never by the solution.
    """

    kind: Literal["pytest"] = "pytest"
    solution: str | dict[str, str]
    tests: str | dict[str, str]
    solution_module: str = "solution.py"
    #: Test ids that must pass (``test_x.py::test_name``). Default: what was collected.
    expected_tests: list[str] | None = None
    mode: Literal["isolated", "inprocess"] = "isolated"
    #: ``fresh`` (a container of its own) or ``pooled`` (a warm container reused between
    #: jobs); default: the client's ``Settings.isolation``. The verdict is the same.
    isolation: Literal["fresh", "pooled"] | None = None
    #: Seconds each call into the solution may take in ``isolated`` mode (default: the
    #: verifier's, ``Settings.python_call_timeout_s``).
    call_timeout_s: float | None = Field(None, gt=0, le=3600)
    #: Whether the solution's folder is its own to write (the default) or read-only to it
    #: (io jobs: no state may pass from one case to the next through it). Read-only also
    #: means every test imports the solution afresh in a process of its own (isolated mode
    #: carries module state from test to test otherwise, as plain pytest does).
    solution_writable: bool = True

    @model_validator(mode="after")
    def _check_files(self) -> PytestJob:
        if not _MODULE_NAME.match(self.solution_module):
            raise ValueError(f"solution_module {self.solution_module!r} must look like 'mod.py'")
        for field, files in (("solution", self.solution_files), ("tests", self.test_files)):
            for name in files:
                if not _MODULE_NAME.match(name):
                    raise ValueError(f"{field}: file name {name!r} must be a plain module name like 'mod.py'")
        clash = set(self.solution_files) & set(self.test_files)
        if clash:
            raise ValueError(f"solution and tests both define {sorted(clash)}")
        if not self.test_files:
            raise ValueError("tests: at least one test file is needed")
        size = sum(len(v) for v in self.solution_files.values())
        if size > MAX_SOLUTION_BYTES:
            raise ValueError(f"solution: {size} characters, more than the {MAX_SOLUTION_BYTES} a job takes")
        size = sum(len(v) for v in self.test_files.values())
        if size > MAX_TESTS_BYTES:
            raise ValueError(f"tests: {size} characters, more than the {MAX_TESTS_BYTES} a job takes")
        for name, text in self.test_files.items():
            _check_encodable("tests", name, text)
        return self

    @property
    def solution_files(self) -> dict[str, str]:
        if isinstance(self.solution, str):
            return {self.solution_module: self.solution}
        return dict(self.solution)

    @property
    def test_files(self) -> dict[str, str]:
        if isinstance(self.tests, str):
            return {"test_solution.py": self.tests}
        return dict(self.tests)


class LeanJob(_JobBase):
    """A Lean proof. Either ``statement`` + ``proof`` (the grader composes the theorem, so
    the policy never restates it) or ``source`` + ``theorem`` (a whole file that must
    prove the named theorem, whose type must match ``statement`` when one is given)."""

    kind: Literal["lean"] = "lean"
    statement: str | None = None
    proof: str | None = None
    source: str | None = None
    theorem: str | None = None
    imports: list[str] = Field(default_factory=lambda: ["Mathlib"])
    #: Trusted Lean commands the grader places after the imports in the files it writes
    #: (the composed theorem and the reference), e.g. ``open Real Nat Topology``, for
    #: statements that need them. Grader-owned like the statement; not scanned.
    preamble: str = ""

    @model_validator(mode="after")
    def _one_form(self) -> LeanJob:
        composed = self.proof is not None
        whole = self.source is not None
        if composed == whole:
            raise ValueError("give either statement+proof or source+theorem")
        if composed and not (self.statement and self.statement.strip()):
            raise ValueError("statement: required with proof")
        if whole and not self.theorem:
            raise ValueError("theorem: required with source (the name it must prove)")
        if self.theorem is not None and not _LEAN_NAME.match(self.theorem):
            raise ValueError(f"theorem: {self.theorem!r} is not a Lean identifier")
        for imp in self.imports:
            if not _LEAN_NAME.match(imp):
                raise ValueError(f"imports: {imp!r} is not a module name")
        if any(line.lstrip().startswith("import ") for line in self.preamble.splitlines()):
            raise ValueError("preamble: imports go in 'imports', not in the preamble")
        return self


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Most cases an io job takes (each is one test of the generated suite).
MAX_CASES = 10_000


class IoCase(BaseModel):
    """One test case. ``stdin``: ``input`` is the program's stdin (text), ``output`` the
    expected stdout. ``functional``: ``input`` is the list of arguments (JSON values) of
    the call, ``output`` the expected return value. ``testtype`` defaults from the job
    (``functional`` when it has an ``fn_name``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: str | Annotated[list[Any], AfterValidator(check_depth)]
    output: Nested
    testtype: Literal["stdin", "functional"] | None = None


class IoJob(_JobBase):
    """A program judged on test cases, the way contest datasets do (docs/io-jobs.md).

    ``program`` is what the policy wrote. Each case runs the program once (``stdin``
    cases: a fresh process, the input on stdin, stdout compared) or calls ``fn_name`` (a
    function, or a method of ``class Solution``) in a fresh process. ``compare`` picks the
    comparison; ``checker`` (trusted Python defining ``check(input, output, expected)``)
    decides instead when ``compare="checker"``. Always judged in isolated mode.
    """

    kind: Literal["io"] = "io"
    program: str
    cases: list[IoCase] = Field(min_length=1, max_length=MAX_CASES)
    fn_name: str | None = None
    language: Literal["python", "cpp"] = "python"
    compare: Literal["exact", "tokens", "numbers", "unordered_lines", "checker"] = "tokens"
    abs_tol: float = Field(1e-6, ge=0, allow_inf_nan=False)
    rel_tol: float = Field(1e-6, ge=0, allow_inf_nan=False)
    checker: str | None = None
    #: Skip the cases after the first failing one. None: when the reward is ``binary``
    #: (the verifier's policy), where the first failure decides it.
    stop_at_first_failure: bool | None = None
    #: Seconds each case may take (a stdin run, or a call).
    case_timeout_s: float = Field(6.0, gt=0, le=600)
    #: Address-space limit of each stdin run (RLIMIT_AS); default: only the job's memory limit.
    case_memory_bytes: int | None = Field(None, ge=16 << 20)
    #: Seconds the compile step may take, and its address-space limit (compiled languages).
    compile_timeout_s: float = Field(30.0, gt=0, le=600)
    compile_memory_bytes: int | None = Field(1 << 30, ge=64 << 20)
    isolation: Literal["fresh", "pooled"] | None = None

    @model_validator(mode="after")
    def _check_cases(self) -> IoJob:
        if self.fn_name is not None and not _IDENTIFIER.match(self.fn_name):
            raise ValueError(f"fn_name: {self.fn_name!r} is not a Python identifier")
        if (self.compare == "checker") != (self.checker is not None):
            raise ValueError("checker: give a checker exactly when compare is 'checker'")
        for i, case in enumerate(self.cases):
            kind = self.case_kind(case)
            if kind == "functional":
                if self.fn_name is None:
                    raise ValueError(f"cases.{i}: a functional case needs the job's fn_name")
                if not isinstance(case.input, list):
                    raise ValueError(f"cases.{i}.input: a functional case's input is the list of arguments")
                if self.compare == "checker":
                    raise ValueError(f"cases.{i}: the checker judges stdin cases only")
                if self.language != "python":
                    raise ValueError(f"cases.{i}: functional cases call Python functions; "
                                     f"a {self.language} program takes stdin cases")
            else:
                if not isinstance(case.input, str):
                    raise ValueError(f"cases.{i}.input: a stdin case's input is text")
                if not isinstance(case.output, str):
                    raise ValueError(f"cases.{i}.output: a stdin case's expected output is text")
        if len(self.program) > MAX_SOLUTION_BYTES:
            raise ValueError(f"program: {len(self.program)} characters, more than {MAX_SOLUTION_BYTES}")
        return self

    def case_kind(self, case: IoCase) -> str:
        return case.testtype or ("functional" if self.fn_name else "stdin")


Job = Annotated[PytestJob | LeanJob | IoJob, Field(discriminator="kind")]
_JOB = TypeAdapter(Job)


class InvalidJob(BaseModel):
    """A batch item that failed validation: which item, what is wrong."""

    index: int
    job_id: str | None
    error: str


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(item)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_job(item: Any, index: int = 0) -> PytestJob | LeanJob | IoJob | InvalidJob:
    """Validate one batch item; never raises for bad input."""
    if isinstance(item, PytestJob | LeanJob | IoJob):
        return item
    job_id = item.get("job_id") if isinstance(item, dict) else None
    if not isinstance(item, dict):
        return InvalidJob(index=index, job_id=None, error=f"expected a job or a dict, got {type(item).__name__}")
    if "kind" not in item:
        return InvalidJob(index=index, job_id=job_id, error="kind: missing (use 'pytest', 'io' or 'lean')")
    try:
        return _JOB.validate_python(item)
    except ValidationError as err:
        return InvalidJob(index=index, job_id=job_id if isinstance(job_id, str) else None,
                          error=describe_validation_error(err))
