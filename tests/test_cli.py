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


def on_terminal(args: list[str]) -> tuple[int, str]:
    """The command with its stderr on a real terminal (a pty); its exit code and what the
    terminal showed."""
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "misalign_rewards.cli", *args],
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
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def job(solution: str, **kw: object) -> str:
    return json.dumps({"kind": "pytest", "solution": solution, "tests": TESTS, **kw})


def test_help_lists_commands_and_exit_codes() -> None:
    out = cli("--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())  # as argparse wraps it for the terminal's width
    for word in ("run", "doctor", "reap", "demo", "Exit codes", "3 no engine"):
        assert word in text


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
def test_run_with_isolation_pooled_scores_in_warm_containers(tmp_path: Path, python_image: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join([
        job("def inc(x):\n    return x + 1\n", job_id="a"),
        job("def inc(x):\n    return x\n", job_id="b"),
        job("def inc(x):\n    return x + 1\n", job_id="c", isolation="fresh"),
    ]) + "\n")
    results = tmp_path / "out.jsonl"
    out = cli("run", str(jobs), "-o", str(results), "--isolation", "pooled", "--python-image", python_image,
              "--log-file", str(tmp_path / "run.log"))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["job_id"], r["reward"], r["outcome"]["extra"]["isolation"]) for r in rows] == [
        ("a", 1.0, "pooled"), ("b", 0.0, "pooled"), ("c", 1.0, "fresh")]


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
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(job("def inc(x):\n    return x + 1\n") for _ in range(3)) + "\n")
    code, screen = on_terminal(["run", str(jobs), "-o", str(tmp_path / "out.jsonl"), "--python-image", python_image,
                                "--log-file", str(tmp_path / "log")])
    assert code == 0
    assert "\r[" in screen and "3/3" in screen and "passed=3" in screen  # the bar, redrawn in place
    assert "progress:" not in screen  # plain lines are for pipes and files


# -- stopping, resuming, bad input (issue "Every input gets its correct result", 9 and 10) --


def _labelled_containers(pid: int) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.misalign-rewards.pid={pid}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_9_a_stopped_run_keeps_its_results_leaves_nothing_and_resumes(tmp_path: Path, python_image: str,
                                                                      sig: str, code: int) -> None:
    import signal
    import time

    slow = "import time\n\ndef inc(x):\n    time.sleep(1.5)\n    return x + 1\n"
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(job(slow if i % 2 else "def inc(x):\n    return x + 1\n") for i in range(12)) + "\n")
    results = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "misalign_rewards.cli", "run", str(jobs), "-o", str(results),
            "--python-image", python_image, "--max-concurrent", "2", "--log-file", str(tmp_path / "log")]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # stop it once a few results are on disk
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"stopped by {sig}" in err and "--resume" in err
    kept = [json.loads(line) for line in results.read_text().splitlines()]
    assert 3 <= len(kept) < 12 and all(r["status"] in ("passed", "failed") for r in kept)
    assert _labelled_containers(proc.pid) == []  # the stopped run removed its containers

    again = cli("run", str(jobs), "-o", str(results), "--resume", "--python-image", python_image,
                "--log-file", str(tmp_path / "log"))
    assert again.returncode == 0, again.stderr
    assert f"resume: {len(kept)} of 12 job(s) already have a result" in again.stderr
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["line"] for r in rows] == list(range(1, 13))  # every line once, in input order
    assert all(r["reward"] == 1.0 for r in rows)
    by_line = {r["line"]: r for r in kept}
    assert all(rows[line - 1]["job_id"] == r["job_id"] for line, r in by_line.items())  # not run twice


@pytest.mark.docker
def test_10_bad_lines_are_skipped_with_their_line_numbers(tmp_path: Path, python_image: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    good = job("def inc(x):\n    return x + 1\n", job_id="good").encode()
    jobs.write_bytes(b"\n".join([
        good,
        b'{"kind": "pytest", "solution": "\xff\xfe", "tests": "x"}',  # not UTF-8
        b'{"kind": "pytest", "n": ' + b"9" * 5000 + b"}",  # past the int digit limit
        b"[" * 100000 + b"]" * 100000,  # deeper than any parser will go
        b'{"kind": "pytest", "solution": 1}',
    ]) + b"\n")
    results = tmp_path / "out.jsonl"
    out = cli("run", str(jobs), "-o", str(results), "--python-image", python_image, "--log-file",
              str(tmp_path / "log"))
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    for lineno, why in ((2, "not UTF-8"), (3, "not JSON"), (4, "not JSON"), (5, "solution")):
        assert f"skipped: {jobs}:{lineno}: " in out.stderr and why in out.stderr.split(f"{jobs}:{lineno}: ")[1]
    assert [json.loads(line)["job_id"] for line in results.read_text().splitlines()] == ["good"]
    strict = cli("run", str(jobs), "-o", str(tmp_path / "o2.jsonl"), "--strict")
    assert strict.returncode == 2 and "nothing was run" in strict.stderr


def test_10_an_unwritable_output_is_refused_before_any_job_runs(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(job("def inc(x):\n    return x + 1\n") + "\n")
    # no engine is needed (nor reached): the output path is checked first
    out = cli("run", str(jobs), "-o", str(tmp_path / "no" / "such" / "dir" / "out.jsonl"),
              env={"MISALIGN_DOCKER_URL": f"unix://{tmp_path}/none.sock"})
    assert out.returncode == 2 and "cannot write" in out.stderr


def test_10_an_empty_input_says_so(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n  \n")
    out = cli("run", str(jobs), "-o", str(tmp_path / "out.jsonl"))
    assert out.returncode == 2 and "has no jobs" in out.stderr


@pytest.mark.docker
def test_10_logs_go_beside_the_results_when_the_bar_owns_the_terminal(tmp_path: Path, python_image: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(job("def inc(x):\n    return x + 1\n") for _ in range(2)) + "\n")
    results = tmp_path / "out.jsonl"
    code, screen = on_terminal(["run", str(jobs), "-o", str(results), "--python-image", python_image])
    assert code == 0
    assert f"logs: {results}.log" in screen and '"event"' not in screen  # no JSON on the terminal
    events = [json.loads(line)["event"] for line in Path(f"{results}.log").read_text().splitlines()]
    assert events.count("job.finished") == 2


# -- issue 23, item 11: no engine, and an output that fails mid-run ----------------------


def test_11_no_engine_is_exit_3_and_the_output_is_untouched(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(job("def inc(x):\n    return x + 1\n") + "\n")
    results = tmp_path / "out.jsonl"
    results.write_text('{"line": 1, "job_id": "kept"}\n')
    for extra in ([], ["--resume"]):
        out = cli("run", str(jobs), "-o", str(results), *extra,
                  env={"MISALIGN_DOCKER_URL": f"unix://{tmp_path}/none.sock"})
        assert out.returncode == 3, out.stderr
        assert "none.sock" in out.stderr and "nothing was run" in out.stderr and "Traceback" not in out.stderr
        assert results.read_text() == '{"line": 1, "job_id": "kept"}\n'
    fresh = tmp_path / "new.jsonl"
    out = cli("run", str(jobs), "-o", str(fresh), env={"MISALIGN_DOCKER_URL": f"unix://{tmp_path}/none.sock"})
    assert out.returncode == 3 and not fresh.exists()


def test_11_exit_codes_are_in_help() -> None:
    text = " ".join(cli("--help").stdout.split())
    assert "3 no engine or a needed image missing (run: nothing run, output untouched)" in text
    assert "4 run: writing the output failed mid-run" in text


@pytest.mark.docker
def test_11_an_output_device_that_is_full_is_exit_4_with_a_message(tmp_path: Path, python_image: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(job("def inc(x):\n    return x + 1\n") for _ in range(2)) + "\n")
    out = cli("run", str(jobs), "-o", "/dev/full", "--python-image", python_image, "--log-file", str(tmp_path / "log"))
    assert out.returncode == 4, out.stderr
    assert "writing /dev/full failed: No space left on device" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.docker
def test_11_a_disk_that_fills_mid_run_keeps_what_was_written_and_resumes(tmp_path: Path, python_image: str) -> None:
    """The file-size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so writes fail with
    EFBIG) stands in for a disk that fills after the first result."""
    import resource

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(job("def inc(x):\n    return x + 1\n", job_id=f"j{i}") for i in range(3)) + "\n")
    results = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "misalign_rewards.cli", "run", str(jobs), "-o", str(results), "--python-image",
            python_image, "--max-concurrent", "1", "--log-file", "/dev/null"]

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))  # room for one result line, not two

    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT, preexec_fn=small_disk)
    assert out.returncode == 4, out.stderr
    assert "File too large" in out.stderr and "1 result(s) were written" in out.stderr and "--resume" in out.stderr
    assert "Traceback" not in out.stderr
    kept = [json.loads(line) for line in results.read_text().splitlines() if line.endswith("}")]
    assert [r["job_id"] for r in kept] == ["j0"]
    again = cli("run", str(jobs), "-o", str(results), "--resume", "--python-image", python_image,
                "--log-file", "/dev/null")
    assert again.returncode == 0, again.stderr
    assert [json.loads(line)["job_id"] for line in results.read_text().splitlines()] == ["j0", "j1", "j2"]
