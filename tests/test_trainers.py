"""The trainers themselves (verl, TRL, OpenRLHF) driving the adapters: tests/trainers/,
run in their own environment (scripts/trainers.sh installs it on first use, then reuses
it) because the trainers pin versions of transformers, numpy and ray of their own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def trainers_python() -> str:
    out = subprocess.run([str(ROOT / "scripts" / "trainers.sh")], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.docker
@pytest.mark.parametrize("trainer", ["verl", "trl", "openrlhf"])
def test_inside_the_trainer(trainer: str, trainers_python: str, python_image: str) -> None:
    out = subprocess.run(
        [trainers_python, "-m", "pytest", f"tests/trainers/trainer_{trainer}.py", "-q", "-p", "no:cacheprovider",
         "-o", "python_files=trainer_*.py",
         # the trainers' own imports warn (Ray's deprecated state API, verl's loops and sockets)
         "-W", "ignore::DeprecationWarning", "-W", "ignore::ResourceWarning"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "MISALIGN_PYTHON_IMAGE": python_image})
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "skipped" not in out.stdout, out.stdout[-2000:]
