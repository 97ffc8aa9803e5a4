"""What a job's run meant: statuses, per-test and per-message details, integrity flags.

``Status`` separates what the submitted code did from infrastructure trouble. Only the
former can earn or lose reward; the latter becomes ``None`` (see :mod:`.rewards`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field


def safe_text(s: str) -> str:
    """``s`` with lone surrogates replaced, so it can always be serialised as UTF-8 (a
    completion cut in the middle of a character, or a solution's exception message, can
    carry one)."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")


def safe_strings(value: Any) -> Any:
    """``value`` (parsed JSON) with :func:`safe_text` applied to every string in it."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list):
        return [safe_strings(v) for v in value]
    if isinstance(value, dict):
        return {safe_text(k) if isinstance(k, str) else k: safe_strings(v) for k, v in value.items()}
    return value


#: Text that came from a container or from the submission: always serialisable.
SafeStr = Annotated[str, AfterValidator(safe_text)]
#: Free-form data with the same guarantee for every string inside.
SafeDict = Annotated[dict[str, Any], AfterValidator(safe_strings)]


class Status(StrEnum):
    # pytest jobs
    PASSED = "passed"  # every expected test passed
    FAILED = "failed"  # ran to the end, some expected test did not pass
    # lean jobs
    PROVED = "proved"
    HAS_SORRY = "has_sorry"
    DISALLOWED_AXIOMS = "disallowed_axioms"
    STATEMENT_MISMATCH = "statement_mismatch"
    COMPILE_ERROR = "compile_error"
    # either kind: how the code ended
    TIMEOUT = "timeout"
    OOM = "oom"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"
    REJECTED = "rejected"  # integrity pre-filter under enforce
    # not the code's doing
    INVALID_INPUT = "invalid_input"
    INFRA_ERROR = "infra_error"
    #: an error in misalign-rewards itself while preparing or judging the job
    INTERNAL_ERROR = "internal_error"

    @property
    def is_infrastructure(self) -> bool:
        return self in (Status.INFRA_ERROR, Status.INTERNAL_ERROR)

    @property
    def has_no_reward(self) -> bool:
        """Not the code's doing: the reward is ``None``, never a made-up 0."""
        return self in (Status.INFRA_ERROR, Status.INTERNAL_ERROR, Status.INVALID_INPUT)

    @property
    def is_success(self) -> bool:
        return self in (Status.PASSED, Status.PROVED)


class TestOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"


class TestCase(BaseModel):
    """One test id as reported by the trusted harness."""

    __test__ = False  # not a pytest class

    id: SafeStr
    outcome: TestOutcome
    duration_s: float = 0.0
    message: SafeStr = ""


class IntegrityFlag(BaseModel):
    """A sign that the submission tried to game the reward.

    ``code`` is stable (``P1``..``P20``, ``L1``..``L10`` from docs/integrity.md, or a
    detector name); ``rejects`` says whether, under ``enforce``, this flag zeroes the reward.
    """

    code: str
    detector: str
    detail: SafeStr
    line: int | None = None
    rejects: bool = True


class LeanMessage(BaseModel):
    severity: Literal["information", "warning", "error"]
    text: SafeStr
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    file: str | None = None
    kind: str | None = None


class Outcome(BaseModel):
    """The verifier's judgement of one run."""

    status: Status
    detail: SafeStr = ""
    #: pytest: every test the harness reported, and which ids were required.
    tests: list[TestCase] = Field(default_factory=list)
    expected_tests: list[str] = Field(default_factory=list)
    #: Results from a run the solution shared a process with (``inprocess`` mode).
    advisory: bool = False
    #: lean: messages and the axioms the target theorem depends on.
    messages: list[LeanMessage] = Field(default_factory=list)
    axioms: list[str] | None = None
    flags: list[IntegrityFlag] = Field(default_factory=list)
    extra: SafeDict = Field(default_factory=dict)

    @property
    def passed_ids(self) -> set[str]:
        return {t.id for t in self.tests if t.outcome is TestOutcome.PASSED}

    @property
    def pass_rate(self) -> float:
        """Fraction of expected tests that passed (0 when nothing was expected)."""
        if not self.expected_tests:
            return 0.0
        passed = self.passed_ids
        return sum(1 for t in self.expected_tests if t in passed) / len(self.expected_tests)


class JobResult(BaseModel):
    """One input's result: always exactly one per batch item, in input order."""

    index: int
    job_id: str | None
    kind: str | None
    status: Status
    #: None for infrastructure trouble and invalid input: never a made-up 0.
    reward: float | None
    outcome: Outcome | None = None
    #: Why there is no outcome (invalid input, infrastructure error).
    error: SafeStr | None = None
    attempts: int = 0
    #: Seconds: queued/create/start/run/cleanup summed over the job's sandbox runs, total wall.
    timings: dict[str, float] = Field(default_factory=dict)
    exit_codes: list[int | None] = Field(default_factory=list)
    metadata: SafeDict = Field(default_factory=dict)

    @property
    def flags(self) -> list[IntegrityFlag]:
        return self.outcome.flags if self.outcome else []
