"""containers/build_and_push.sh: its usage, and its messages for each thing that can go
wrong (no engine, not a git checkout, unknown flag, push refused)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "containers" / "build_and_push.sh"


def run(*args: str, env: dict[str, str] | None = None, script: Path = SCRIPT,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_help_documents_every_flag_and_variable() -> None:
    out = run("--help")
    assert out.returncode == 0
    # the patterns of the option parser's case statement: `--flag)`, `--flag=*)`, `-h|--help)`
    pattern = re.compile(r"^\s*(?:-[a-z]\|)?(--[a-z][a-z-]*)(?:=\*)?\)")
    handled = {m.group(1) for line in SCRIPT.read_text().splitlines() if (m := pattern.match(line))}
    assert {"--build-only", "--tag", "--only", "--offline-base", "--no-verify", "--recipe-hash",
            "--help"} <= handled
    for word in [*handled, "REGISTRY", "PLATFORMS", "PYTHON_BASE", "ghcr.io/your-org/misalign-fv",
                 "linux/amd64"]:
        assert word in out.stdout, word


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "unknown option: --bogus"),
    (["--only", "ruby"], "--only takes python-sandbox, cpp-sandbox or lean"),
    (["--tag"], "--tag needs a value"),
    (["--tag", "no spaces allowed"], "not a valid image tag"),
])
def test_bad_usage_exits_2_with_the_reason(args: list[str], needle: str) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert needle in out.stderr


def test_no_engine_exits_3_and_says_how_to_get_one(tmp_path: Path) -> None:
    out = run("--build-only", "--tag", "x", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert out.returncode == 3
    assert "no Docker engine answers" in out.stderr


@pytest.mark.docker
def test_outside_a_git_checkout_there_is_no_sha_to_tag(tmp_path: Path) -> None:
    copy = tmp_path / "containers"
    shutil.copytree(ROOT / "containers", copy, ignore=shutil.ignore_patterns("wheels"))
    out = run("--build-only", "--only", "python-sandbox", script=copy / "build_and_push.sh",
              env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert out.returncode == 2
    assert "not a git checkout" in out.stderr and "--tag" in out.stderr


@pytest.mark.docker
def test_refused_push_is_reported_with_what_to_do() -> None:
    registry = "127.0.0.1:9/misalign-push-test"  # nothing listens on port 9
    try:
        out = run("--only", "python-sandbox", "--tag", "pushtest", "--no-verify",
                  env={"REGISTRY": registry})
        assert out.returncode == 1, out.stderr[-2000:]
        assert f"push of {registry}/python-sandbox:pushtest refused" in out.stderr
        assert "docker login 127.0.0.1:9" in out.stderr
    finally:
        for tag in ("pushtest", "latest"):
            subprocess.run(["docker", "rmi", f"{registry}/python-sandbox:{tag}"], capture_output=True)


@pytest.mark.docker
def test_other_platforms_need_buildx() -> None:
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0:
        pytest.skip("buildx is installed here; this checks the message where it is not")
    out = run("--build-only", "--tag", "x", env={"PLATFORMS": "linux/arm64,linux/amd64"})
    assert out.returncode == 1
    assert "buildx is not installed" in out.stderr


def test_recipe_hash_follows_the_dockerfile_and_requirements(tmp_path: Path) -> None:
    copy = tmp_path / "containers"
    shutil.copytree(ROOT / "containers", copy, ignore=shutil.ignore_patterns("wheels"))
    script = copy / "build_and_push.sh"
    first = run("--recipe-hash", script=script)
    assert first.returncode == 0 and len(first.stdout.strip()) == 16
    assert run("--recipe-hash", script=script).stdout == first.stdout  # stable
    (copy / "requirements-sandbox.txt").write_text("pytest==9.2.0\n")
    assert run("--recipe-hash", script=script).stdout != first.stdout  # what setup.sh notices
