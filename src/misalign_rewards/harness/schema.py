"""What crosses each process boundary of the harness, declared once for both sides.

The SDK (``misalign_rewards``) and the harness in the container (``misalign_harness``)
import this same module, so a key is named in one place:

    SDK -> harness          the stdin message: :class:`Message` with its :class:`Config`
                            (verifiers/pytest.py writes it; main, isolated, inprocess read it)
    harness -> SDK          the sealed report: :class:`Report`, one :class:`ReportedTest`
                            per test (main, isolated, inprocess write it; the SDK's
                            ``HarnessReport`` declares the same keys and refuses any other)
    SDK -> io test module   an io job's generated, trusted test module: :class:`IoSpec`
                            and one :class:`IoCaseSpec` per case (verifiers/io.py)
    pool <-> supervisor     a warm container's frames and lines: :data:`POOL_TAG`,
                            :class:`PoolFrame`, :class:`PoolReady`, :class:`PoolDone`
                            (sandbox/pool.py, supervisor)
    client -> container     the container's untrusted uid: :data:`UID_ENV` and its range
                            (sandbox/uids.py gives it, privileges takes it)

The dictionaries stay plain JSON on the wire; the TypedDicts cost nothing at run time and
let a type checker hold both sides to the declared keys. ``tests/harness/test_schema.py``
fails when a side writes, reads or validates a key that is not declared here.

No ``from __future__ import annotations`` here: Python 3.11 only tells required keys from
``NotRequired`` ones when the annotations are evaluated.

Stdlib only; runs inside the sandbox image (and in the SDK).
"""

from typing import Any, NotRequired, Required, TypedDict

# -- SDK -> harness ---------------------------------------------------------------------

#: The two ways the harness runs a job (``Config["mode"]``).
MODES = ("isolated", "inprocess")
#: :attr:`Config.runner` for an io job, and the generated module its cases are in.
CASES_RUNNER = "cases"
CASES_MODULE = "test_cases.py"


class Config(TypedDict):
    """How to run one job, as the SDK tells the harness. Paths are inside the container."""

    #: one of :data:`MODES`; anything else is reported as a ``setup_error``
    mode: str
    tests_dir: str
    solution_dir: str
    #: the trusted pytest ini, given with ``-c``
    ini_path: str
    #: the test files' names in ``tests_dir``
    test_files: list[str]
    #: the solution's module names (isolated mode installs a proxy for each)
    solution_modules: list[str]
    #: one call into the solution (isolated mode)
    call_timeout_s: float
    #: the harness's own wall-clock deadline, from its start
    run_timeout_s: float
    #: whether the solution's folder is the untrusted uid's to write (default True);
    #: False: root's and read-only, and every test starts from a fresh import
    solution_writable: NotRequired[bool]
    #: the harness's own ``TMPDIR`` and ``HOME`` (made 0700, root's); none: left as is
    trusted_tmp: NotRequired[str]
    #: the job's time, charged to the solution's own work; None: no such budget
    code_timeout_s: NotRequired[float | None]
    #: what the inprocess pytest process may print (default 1 MiB)
    output_bytes: NotRequired[int]
    #: inside the sandbox: switch uids and sweep (default False: a host, in unit tests)
    contained: NotRequired[bool]
    #: who runs the tests in isolated mode: ``"pytest"`` (the default) or :data:`CASES_RUNNER`
    #: (an io job: its generated :data:`CASES_MODULE`'s cases in the harness's own loop)
    runner: NotRequired[str]


class Message(TypedDict):
    """The harness's whole stdin, read to EOF before anything else happens."""

    #: hex of the per-run key the report is sealed with (seal.py)
    key: str
    run_id: str
    config: Config


# -- harness -> SDK ---------------------------------------------------------------------

#: What happened to one test (``ReportedTest["outcome"]``; the SDK's ``TestOutcome``).
TEST_OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


class ReportedTest(TypedDict):
    """One test id's result (collect.Recorder; a collection error has the file's id)."""

    id: str
    #: one of :data:`TEST_OUTCOMES`
    outcome: str
    #: the summed duration of its phases
    duration_s: float
    #: a short failure (or skip) text
    message: str


class CaseWipes(TypedDict):
    """What an io job's judge saw between its cases (program.observed)."""

    #: processes of a program that outlived their case
    strays: int
    #: System V IPC objects a program handed to another uid
    ipc_handed: int


class Phases(TypedDict, total=False):
    """Seconds since the harness started, at the end of each phase (for benchmarks)."""

    setup: float
    tests: float
    swept: float


class Report(TypedDict, total=False):
    """The harness's account of one run, sealed on stdout (main.serve_message).

    Only ``mode`` is always there: a run that cannot start reports ``setup_error`` or
    ``harness_error`` and little else, and each mode writes keys of its own."""

    mode: Required[str]
    # -- both modes
    #: test ids pytest collected (None: collection never finished)
    collected: list[str] | None
    tests: list[ReportedTest]
    pytest_exit: int | None
    #: the harness's own deadline (or the job's time) ran out
    deadline_hit: bool
    #: processes of the untrusted uid that outlived their test (and the final sweep's)
    stray_processes: int
    #: some process of the untrusted uid would not die
    sweep_failed: bool
    # -- isolated mode (isolated.py, proxy.Broker)
    #: the test files were taken off disk once collected
    tests_hidden: bool
    solution_calls: int
    #: seconds of the solution's own work, charged to the job's time
    code_s: float
    #: calls into the solution while pytest collected
    collection_calls: int
    #: the first few calls that needed what cannot cross between the processes
    cannot_cross: list[str]
    cannot_cross_count: int
    #: the first few ``kind: detail`` lines of what only serves to defeat a test
    gaming: list[str]
    gaming_count: int
    #: times the template process imported the solution (1 unless it died)
    template_starts: int
    #: pytest started from the configuration a pooled supervisor made ahead
    pytest_prepared: bool
    #: ... and the steps before collection were taken ahead too (collect.prepare)
    pytest_ahead: bool
    #: who ran the tests: "pytest", or "cases" (case_loop.py)
    runner: str
    # -- inprocess mode (inprocess.py)
    records_overflow: bool
    #: record lines the recorder does not write
    malformed_records: int
    #: test files changed or removed during the run
    tests_tampered: list[str]
    output_limit_hit: bool
    #: bytes the pytest process printed (up to its cap and one more)
    output_bytes: int
    output_tail: str
    # -- the harness itself (main.py)
    #: an io job's programs, between cases (contained runs)
    io: CaseWipes
    phases_s: Phases
    #: the harness could not set itself up (not root, capabilities missing, bad mode)
    setup_error: str
    #: the harness itself failed while the job ran
    harness_error: str
    #: the harness made itself non-dumpable
    nondumpable: bool
    #: the harness's wall time and CPU time
    harness_s: float
    harness_cpu_s: float


# -- SDK -> an io job's generated test module -------------------------------------------


class IoSpec(TypedDict):
    """An io job, as its generated test module reads it (verifiers/io.py ``SPEC``)."""

    #: the program's file in the solution folder (None: compiled from ``source``)
    program: str | None
    fn_name: str | None
    #: a comparison of cases.py, or ``checker``
    compare: str
    abs_tol: float
    rel_tol: float
    stop_at_first_failure: bool
    case_timeout_s: float
    case_memory_bytes: int | None
    stack_bytes: int
    #: the compile command (empty: none)
    compile: list[str]
    #: how a case runs the program (empty: the image's Python on ``program``)
    run: list[str]
    compile_timeout_s: float
    compile_memory_bytes: int | None
    #: the program's text for the compiler's stdin ("" for a program file)
    source: str


class IoCaseSpec(TypedDict):
    """One case of an io job (values as cases.encode_value carries them)."""

    #: ``stdin`` or ``functional``
    kind: str
    input: Any
    output: Any
    #: the cap on a stdin program's output
    output_bytes: int


# -- pool <-> supervisor ----------------------------------------------------------------

#: Marks the supervisor's lines on a warm container's stdout: ``<POOL_TAG> <what> <JSON>``,
#: ``what`` one of ``ready`` (:class:`PoolReady`), ``begin`` (``{}``), ``done``
#: (:class:`PoolDone`).
POOL_TAG = b"@@misalign-pool"


class PoolFrame(TypedDict):
    """One job for a warm container, on its stdin after ``<length>\\n``."""

    #: path relative to the workdir -> base64 of the bytes
    files: dict[str, str]
    #: base64 of the harness's stdin (a :class:`Message`)
    stdin: str


class PoolReady(TypedDict):
    """The supervisor is warm and waits for frames."""

    pid: int


class PoolDone(TypedDict):
    """One job is over and the container was cleaned (or found not clean)."""

    #: the worker's exit code (0 also when the report shows an anomaly: see job_anomaly)
    worker_exit: int
    #: processes of the untrusted uid alive after the job
    strays: int
    #: jobs served so far
    served: int
    #: what is wrong with the container now (it then serves nothing more)
    problems: list[str]
    #: the job's report showed something a container should not be trusted after
    job_anomaly: bool
    #: what the job left in the places shared between jobs (before the wipe)
    left_behind: list[str]
    #: processes the memory limit killed during the job (None: unknown)
    oom_kills: int | None
    #: test files of the job taken as compiled for an earlier one (same path, same bytes:
    #: harness/collect.py, "rewritten test modules"); optional, so a client can drive the
    #: supervisors of earlier versions (benchmarks.pool_ab)
    rewrites_reused: NotRequired[int]


#: Largest hand-back of a pooled worker to its supervisor (the test modules it compiled,
#: ``marshal`` of ``(reused, {key: code})``): its pipe's size, so writing never waits.
HAND_BACK_MAX_BYTES = 1 << 20


# -- client -> container ----------------------------------------------------------------

#: The container's environment variable that carries its untrusted uid.
UID_ENV = "MISALIGN_UNTRUSTED_UID"
#: The untrusted uids (and gids), inclusive: the client draws from them, the harness
#: refuses any other (docs/sandbox.md).
FIRST_UNTRUSTED_UID = 0x70000000
LAST_UNTRUSTED_UID = 0x7FFDFFFF


__all__ = ["FIRST_UNTRUSTED_UID", "LAST_UNTRUSTED_UID", "MODES", "POOL_TAG", "TEST_OUTCOMES", "UID_ENV",
           "CaseWipes", "Config", "IoCaseSpec", "IoSpec", "Message", "Phases", "PoolDone", "PoolFrame",
           "PoolReady", "Report", "ReportedTest"]
