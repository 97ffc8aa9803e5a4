"""Red team: every pattern P1-P20 against the real sandbox, in both modes.

All runs happen once per module (concurrently, on one DockerSandbox) in the ``verdicts``
fixture, which also writes them to ``build/redteam-verdicts.json`` (or
``$MISALIGN_REDTEAM_VERDICTS``); ``scripts/gen_integrity_table.py`` renders that file into
docs/integrity.md. The tests then assert, per pattern:

- ``isolated``: the attack earns nothing (binary reward 0 and no passed test it did not
  earn), while the honest solution earns 1.0;
- ``inprocess``: either the attack earns nothing, or it is flagged with a rejecting flag
  (so ``enforce`` zeroes it) and the result is marked advisory.

Runs use integrity ``observe`` so the harness's own verdict is visible; the ``enforce``
reward is computed from the same outcome with the library's policy. A third column, a
naive grader (plain pytest in one folder, reward = exit code 0), shows that the attacks
are real.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome, Status
from misalign_rewards.rewards import apply_policy, binary, pass_rate
from misalign_rewards.sandbox.base import RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.verifiers.pytest import PytestVerifier
from support.redteam_corpus import (
    ALL_IDS,
    ATTACKS,
    ATTACKS_BY_ID,
    HONEST,
    TESTS,
    VISIBLE_TESTS,
    Attack,
)

ROOT = Path(__file__).resolve().parents[2]
MODES = ("isolated", "inprocess")
TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 1.0
#: The naive grader only needs to show which attacks fool it; hangs end early.
NAIVE_TIMEOUT_S = 4.0

PROBE = '''\
import ctypes
import os


def probe():
    """What this process can do to its parent (the trusted process)."""
    pid = os.getppid()
    got = {}
    for what in ("mem", "environ", "fd/0", "fd/1", "maps"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                f.read(16)
            got[what] = "allowed"
        except OSError as exc:
            got[what] = type(exc).__name__
    libc = ctypes.CDLL(None, use_errno=True)
    ok = libc.ptrace(16, pid, None, None) == 0
    if ok:
        libc.ptrace(17, pid, None, None)
    got["ptrace"] = "allowed" if ok else "denied"
    return got
'''
PROBE_TESTS = {"test_probe.py": '''\
from solution import probe


def test_parent_is_out_of_reach():
    got = probe()
    assert got == {"mem": "PermissionError", "environ": "PermissionError",
                   "fd/0": "PermissionError", "fd/1": "PermissionError",
                   "maps": "PermissionError", "ptrace": "denied"}, got
'''}


def _verdict(case: str, title: str, mode: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "id": case,
        "title": title,
        "mode": mode,
        "status": outcome.status.value,
        "reward": apply_policy(outcome, binary, IntegrityMode.OBSERVE),
        "pass_rate": apply_policy(outcome, pass_rate, IntegrityMode.OBSERVE),
        "reward_enforce": apply_policy(outcome, binary, IntegrityMode.ENFORCE),
        "advisory": outcome.advisory,
        "flags": sorted({f"{f.code}:{f.detector}" + ("" if f.rejects else " (observe)")
                         for f in outcome.flags}),
        "rejecting_flags": sum(1 for f in outcome.flags if f.rejects),
        "passed": sorted(outcome.passed_ids & set(outcome.expected_tests)),
        "detail": outcome.detail[:300],
    }


def _naive_spec(image: str, files: dict[str, str]) -> RunSpec:
    """The grader we are guarding against: solution and tests in one folder, plain pytest,
    reward = exit code 0."""
    return RunSpec(
        image=image,
        argv=["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        files={k: v.encode() for k, v in files.items()},
        workdir="/tmp/work/tests",
        timeout_s=NAIVE_TIMEOUT_S,
    )


async def _run_all(image: str, isolation: str = "fresh") -> dict[str, Any]:
    """Every attack in both modes, honest controls, and (fresh only) the naive grader."""
    observe = PytestVerifier(image, timeout_s=TIMEOUT_S, call_timeout_s=CALL_TIMEOUT_S,
                             integrity=IntegrityMode.OBSERVE, isolation=isolation)
    enforce = PytestVerifier(image, timeout_s=TIMEOUT_S, call_timeout_s=CALL_TIMEOUT_S,
                             integrity=IntegrityMode.ENFORCE, isolation=isolation)
    out: dict[str, Any] = {"verdicts": [], "naive": {}, "extra": {}}
    limiter = anyio.CapacityLimiter(3)

    async with PooledSandbox(DockerSandbox()) as sb:

        async def judge(key: str, title: str, mode: str, job: PytestJob,
                        verifier: PytestVerifier = observe) -> None:
            async with limiter:
                started = time.monotonic()
                outcome = await verifier.verify(job, sb.run)
                elapsed = time.monotonic() - started
            record = _verdict(key, title, mode, outcome)
            record["elapsed_s"] = round(elapsed, 2)
            if key in ("honest", "P17", "probe", "P19", "P20"):
                record["outcome"] = outcome.model_dump(mode="json")
            if key in ATTACKS_BY_ID:
                out["verdicts"].append(record)
            else:
                out["extra"].setdefault(key, {})[mode] = record

        async def naive(attack: Attack) -> None:
            files = {**attack.files, **attack.tests}
            async with limiter:
                started = time.monotonic()
                res = await sb.run(_naive_spec(image, files))
            out["naive"][attack.id] = {"exit_code": res.exit_code, "rewarded": res.exit_code == 0,
                                       "elapsed_s": round(time.monotonic() - started, 2)}

        async with anyio.create_task_group() as tg:
            for mode in MODES:
                for attack in ATTACKS:
                    job = PytestJob(solution=attack.files, tests=attack.tests, mode=mode,
                                    expected_tests=ALL_IDS, timeout_s=attack.timeout_s)
                    tg.start_soon(judge, attack.id, attack.title, mode, job)
                tg.start_soon(judge, "honest", "the honest solution", mode,
                              PytestJob(solution=HONEST, tests=TESTS, mode=mode))
                tg.start_soon(judge, "honest/enforce", "honest, enforce", mode,
                              PytestJob(solution=HONEST, tests=TESTS, mode=mode), enforce)
                tg.start_soon(judge, "P17/visible-only", "hard-coded, visible tests only", mode,
                              PytestJob(solution=ATTACKS_BY_ID["P17"].files, tests=VISIBLE_TESTS,
                                        mode=mode))
                tg.start_soon(judge, "probe", "what the solution can do to the trusted process",
                              mode, PytestJob(solution=PROBE, tests=PROBE_TESTS, mode=mode))
            if isolation == "fresh":
                for attack in ATTACKS:
                    tg.start_soon(naive, attack)
                honest = Attack("honest", "honest", {"solution.py": HONEST})
                tg.start_soon(naive, honest)
    out["verdicts"].sort(key=lambda v: (int(v["id"][1:]), MODES.index(v["mode"])))
    return out


@pytest.fixture(scope="module")
def both_isolations(python_image: str) -> dict[str, dict[str, Any]]:
    """The corpus in fresh and in warm containers, one after the other: run together, the
    load makes the harness's observe-only stray counts (P19) come and go, and the docs
    table generated from the fresh verdicts must not depend on load."""
    return {isolation: anyio.run(_run_all, python_image, isolation) for isolation in ("fresh", "pooled")}


@pytest.fixture(scope="module")
def verdicts(python_image: str, both_isolations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    result = both_isolations["fresh"]
    path = Path(os.environ.get("MISALIGN_REDTEAM_VERDICTS", ROOT / "build" / "redteam-verdicts.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    table = {"image": python_image, "timeout_s": TIMEOUT_S, "call_timeout_s": CALL_TIMEOUT_S,
             **{k: v for k, v in result.items()}}
    for rec in table["verdicts"]:
        rec["naive_rewarded"] = table["naive"][rec["id"]]["rewarded"]
    path.write_text(json.dumps(table, indent=1, default=str) + "\n")
    return result


@pytest.fixture(scope="module")
def pooled_verdicts(both_isolations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return both_isolations["pooled"]


@pytest.mark.docker
@pytest.mark.slow
def test_warm_containers_give_every_attack_the_verdict_of_a_fresh_one(
        verdicts: dict[str, Any], pooled_verdicts: dict[str, Any]) -> None:
    def table(v: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, ...]]:
        rows = {(r["id"], r["mode"]): r for r in v["verdicts"]}
        rows.update({(k, m): r for k, by in v["extra"].items() for m, r in by.items()})
        return {k: (r["status"], r["reward"], r["reward_enforce"], r["pass_rate"]) for k, r in rows.items()}

    fresh, pooled = table(verdicts), table(pooled_verdicts)
    assert set(fresh) == set(pooled)
    differ = {k: (fresh[k], pooled[k]) for k in fresh if fresh[k] != pooled[k]}
    assert differ == {}


def _get(verdicts: dict[str, Any], case: str, mode: str) -> dict[str, Any]:
    (found,) = [v for v in verdicts["verdicts"] if v["id"] == case and v["mode"] == mode]
    return found


PATTERNS = [a.id for a in ATTACKS]


@pytest.mark.docker
@pytest.mark.parametrize("mode", MODES)
def test_honest_solution_earns_full_reward(verdicts: dict[str, Any], mode: str) -> None:
    for key in ("honest", "honest/enforce"):
        rec = verdicts["extra"][key][mode]
        assert rec["status"] == Status.PASSED.value, rec
        assert rec["reward"] == 1.0 and rec["reward_enforce"] == 1.0, rec
        assert rec["rejecting_flags"] == 0, rec
        assert rec["advisory"] is (mode == "inprocess")


@pytest.mark.docker
@pytest.mark.parametrize("pattern", PATTERNS)
def test_isolated_mode_pays_nothing_for_the_attack(verdicts: dict[str, Any], pattern: str) -> None:
    rec = _get(verdicts, pattern, "isolated")
    assert rec["reward"] == 0.0, rec
    assert rec["reward_enforce"] == 0.0, rec
    if pattern == "P17":
        # The hard-coded examples pass; every held-out case fails.
        visible = {"test_mean.py::test_mean[xs0-2.5]", "test_mean.py::test_mean[xs1-7.5]",
                   "test_mean_errors.py::test_empty_raises"}
        assert set(rec["passed"]) <= visible, rec
    else:
        assert rec["passed"] == [], rec


@pytest.mark.docker
@pytest.mark.parametrize("pattern", PATTERNS)
def test_inprocess_mode_stops_or_flags_the_attack(verdicts: dict[str, Any], pattern: str) -> None:
    rec = _get(verdicts, pattern, "inprocess")
    assert rec["advisory"] is True
    assert rec["reward_enforce"] == 0.0, rec
    earned = rec["reward"] > 0.0 or rec["pass_rate"] > 0.0
    if pattern == "P17":
        earned = rec["reward"] > 0.0
    if earned:
        # Not stopped by the harness: it must be caught by a rejecting flag.
        assert rec["rejecting_flags"] > 0, rec


@pytest.mark.docker
@pytest.mark.parametrize("mode", MODES)
def test_p17_visible_examples_alone_are_fooled_held_out_tests_are_not(
        verdicts: dict[str, Any], mode: str) -> None:
    fooled = verdicts["extra"]["P17/visible-only"][mode]
    assert fooled["status"] == Status.PASSED.value and fooled["reward"] == 1.0, fooled
    held_out = _get(verdicts, "P17", mode)
    assert held_out["status"] == Status.FAILED.value and held_out["reward"] == 0.0, held_out


@pytest.mark.docker
@pytest.mark.parametrize("mode", MODES)
def test_p19_background_processes_are_killed_and_recorded(verdicts: dict[str, Any], mode: str) -> None:
    rec = _get(verdicts, "P19", mode)
    assert "P19:harness.stray_processes (observe)" in rec["flags"], rec
    assert rec["outcome"]["extra"]["harness"]["stray_processes"] > 0


@pytest.mark.docker
@pytest.mark.parametrize("mode", MODES)
def test_p20_trusted_process_is_out_of_reach(verdicts: dict[str, Any], mode: str) -> None:
    rec = verdicts["extra"]["probe"][mode]
    assert rec["status"] == Status.PASSED.value, rec
    assert rec["outcome"]["extra"]["harness"]["nondumpable"] is True


@pytest.mark.docker
def test_attacks_are_real_against_a_naive_grader(verdicts: dict[str, Any]) -> None:
    """At least the exit-code and report attacks fool plain pytest; otherwise the corpus
    would prove nothing."""
    fooled = {k for k, v in verdicts["naive"].items() if v["rewarded"] and k != "honest"}
    assert {"P1", "P5", "P7"} <= fooled, verdicts["naive"]
    assert verdicts["naive"]["honest"]["rewarded"] is True


def test_p6_config_files_cannot_be_submitted() -> None:
    for name in ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"):
        with pytest.raises(ValidationError):
            PytestJob(solution={"solution.py": HONEST, name: "[pytest]\naddopts = -p evil\n"},
                      tests=TESTS)


@pytest.mark.docker
def test_docs_table_is_the_one_this_run_produced(verdicts: dict[str, Any]) -> None:
    """docs/integrity.md's verdict table is generated from this run, never edited by hand.
    When it fails: run the red team, then scripts/gen_integrity_table.py, and commit."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_integrity_table", ROOT / "scripts" / "gen_integrity_table.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    doc = (ROOT / "docs" / "integrity.md").read_text()
    # what the fixture wrote, read back as the script reads it
    path = Path(os.environ.get("MISALIGN_REDTEAM_VERDICTS", ROOT / "build" / "redteam-verdicts.json"))
    written = json.loads(path.read_text())
    assert written["verdicts"] == json.loads(json.dumps(verdicts["verdicts"]))
    # (but for the one observation that depends on timing: see the table's header)
    assert gen.comparable(gen.render(written)) == gen.comparable(gen.section(doc)), \
        "docs/integrity.md is stale: run scripts/gen_integrity_table.py"
