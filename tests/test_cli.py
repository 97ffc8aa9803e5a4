"""The misalign-rewards command: run, doctor, reap, demo, and their exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from misalign_rewards.demo import CASES

ROOT = Path(__file__).resolve().parents[1]
TESTS = "from solution import inc\n\ndef test_inc():\n    assert inc(1) == 2\n"


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "misalign_rewards.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def job(solution: str, **kw: object) -> str:
    return json.dumps({"kind": "pytest", "solution": solution, "tests": TESTS, **kw})


def test_help_lists_commands_and_exit_codes() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for word in ("run", "doctor", "reap", "demo", "Exit codes", "3 no engine"):
        assert word in out.stdout


def test_unknown_command_is_a_usage_error() -> None:
    assert cli("explode").returncode == 2


@pytest.mark.docker
def test_run_writes_one_result_per_valid_line_in_order(tmp_path: Path, python_image: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join([
        job("def inc(x):\n    return x + 1\n", job_id="a"),
        "{not json",
        job("def inc(x):\n    return x\n", job_id="b"),
        json.dumps({"kind": "pytest", "tests": TESTS}),
        "",
        job("def inc(x):\n    return x + 1\n", job_id="c"),
    ]) + "\n")
    results = tmp_path / "out.jsonl"
    log = tmp_path / "run.log"
    out = cli("run", str(jobs), "-o", str(results), "--log-file", str(log), "--python-image", python_image)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["line"], r["job_id"], r["reward"]) for r in rows] == [(1, "a", 1.0), (3, "b", 0.0), (6, "c", 1.0)]
    assert f"skipped: {jobs}:2: not JSON" in out.stderr
    assert f"skipped: {jobs}:4: pytest.solution: Field required" in out.stderr
    assert "passed" in out.stderr and "total" in out.stderr  # the summary table
    assert "progress: 3/3" in out.stderr  # plain progress lines when not on a terminal
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events.count("job.finished") == 3 and events[-1] == "batch.finished"


@pytest.mark.docker
def test_strict_stops_before_anything_runs(tmp_path: Path, python_image: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(job("def inc(x):\n    return x + 1\n") + "\n" + json.dumps({"kind": "lean"}) + "\n")
    results = tmp_path / "out.jsonl"
    out = cli("run", str(jobs), "-o", str(results), "--strict", "--python-image", python_image)
    assert out.returncode == 2
    assert f"error: {jobs}:2:" in out.stderr and "nothing was run" in out.stderr
    assert not results.exists()


def test_unreadable_input_is_a_usage_error(tmp_path: Path) -> None:
    out = cli("run", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl"))
    assert out.returncode == 2 and "cannot read" in out.stderr


@pytest.mark.parametrize("command", [["doctor"], ["reap"], ["demo"]])
def test_no_engine_exits_3(tmp_path: Path, command: list[str]) -> None:
    out = cli(*command, env={"MISALIGN_DOCKER_URL": f"unix://{tmp_path}/none.sock"})
    assert out.returncode == 3, out.stdout + out.stderr
    assert "none.sock" in out.stdout + out.stderr


@pytest.mark.docker
def test_demo_prints_every_case_with_its_expected_reward(python_image: str) -> None:
    out = cli("demo", "--python-image", python_image)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:] if line.strip()}
    for case in CASES:
        assert case.name in lines
        reward, expected = lines[case.name][1:3]
        assert float(reward) == float(expected) == case.expected_reward
    assert "unexpected" not in out.stdout


@pytest.mark.docker
def test_doctor_reports_images_and_concurrency(python_image: str) -> None:
    out = cli("doctor", "--python-image", python_image, "--lean-image", "misalign-rewards/absent:0")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"image python-sandbox: {python_image}: verified" in out.stdout
    assert "image lean: misalign-rewards/absent:0: MISSING" in out.stdout
    assert "concurrency for python-sandbox runs:" in out.stdout and "bound" in out.stdout


@pytest.mark.docker
def test_doctor_fails_when_the_python_image_is_missing() -> None:
    out = cli("doctor", "--python-image", "misalign-rewards/absent:0")
    assert out.returncode == 1
    assert "MISSING" in out.stdout


@pytest.mark.docker
def test_reap_reports_what_it_removed() -> None:
    out = cli("reap")
    assert out.returncode == 0
    assert out.stdout.startswith("removed ")


@pytest.mark.docker
def test_run_shows_a_progress_bar_on_a_terminal(tmp_path: Path, python_image: str) -> None:
    import pty

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(job("def inc(x):\n    return x + 1\n") for _ in range(3)) + "\n")
    controller, terminal = pty.openpty()  # stderr is a real terminal for the command
    try:
        proc = subprocess.run([sys.executable, "-m", "misalign_rewards.cli", "run", str(jobs), "-o",
                               str(tmp_path / "out.jsonl"), "--python-image", python_image,
                               "--log-file", str(tmp_path / "log")],
                              stdout=subprocess.PIPE, stderr=terminal, cwd=ROOT, timeout=300)
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "\r[" in screen and "3/3" in screen and "passed=3" in screen  # the bar, redrawn in place
    assert "progress:" not in screen  # plain lines are for pipes and files
