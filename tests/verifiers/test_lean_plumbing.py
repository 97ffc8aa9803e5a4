"""Container plumbing of Lean jobs, run against a TEST DOUBLE of the lean image.

The image ``misalign-rewards/lean-test-double:latest`` (tests/verifiers/lean_double/) is
the python-sandbox image with a fake ``lean`` whose behaviour is chosen by the input. It
shows that deadlines, the memory limit, crashes, the output cap, and files and olean bytes
crossing from the compile container to the check container work for Lean jobs. It proves
nothing about Lean: test_lean_e2e.py does that against a real image.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import LeanJob
from misalign_rewards.outcomes import Status
from misalign_rewards.sandbox.base import Limits
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.uids import FIRST_UID, LAST_UID
from misalign_rewards.verifiers.lean import LeanVerifier

pytestmark = pytest.mark.docker

DOUBLE_IMAGE = "misalign-rewards/lean-test-double:latest"
DOUBLE_DIR = Path(__file__).resolve().parent / "lean_double"
_MiB = 1024 * 1024

# Small limits so the double's floods and allocations end fast; the real profile is
# LEAN_LIMITS, sized for Mathlib.
DOUBLE_LIMITS = Limits(memory_bytes=192 * _MiB, cpus=1.0, pids=64, tmpfs_bytes=32 * _MiB,
                       output_bytes=256 * 1024)


@pytest.fixture(scope="session")
def lean_double_image(python_image: str) -> str:
    """Build the test double FROM the python-sandbox image (fast: one COPY)."""
    build = subprocess.run(
        ["docker", "build", "-q", "-t", DOUBLE_IMAGE, "--build-arg", f"BASE={python_image}",
         str(DOUBLE_DIR)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, f"building the Lean test double failed:\n{build.stderr[-3000:]}"
    return DOUBLE_IMAGE


@pytest.fixture
def double_verifier(lean_double_image: str) -> LeanVerifier:
    return LeanVerifier(image=lean_double_image, limits=DOUBLE_LIMITS, timeout_s=4.0,
                        integrity=IntegrityMode.OFF, check_timeout_s=4.0)


def job(mode: str) -> LeanJob:
    source = f"-- double:{mode}\ntheorem t : True := trivial\n" if mode else "theorem t : True := trivial\n"
    return LeanJob(source=source, theorem="t", imports=[])


@pytest.mark.parametrize(
    ("mode", "status", "step"),
    [
        pytest.param("sleep", Status.TIMEOUT, "compile", id="double-timeout"),
        pytest.param("oom", Status.OOM, "compile", id="double-oom"),
        pytest.param("crash", Status.CRASHED, "compile", id="double-sigsegv"),
        pytest.param("stackoverflow", Status.CRASHED, "compile", id="double-stack-overflow"),
        pytest.param("flood", Status.OUTPUT_LIMIT, "compile", id="double-output-cap"),
        pytest.param("check-sleep", Status.TIMEOUT, "check", id="double-check-timeout"),
    ],
)
async def test_lean_job_endings_with_the_double(
    sandbox: DockerSandbox, double_verifier: LeanVerifier, mode: str, status: Status, step: str
) -> None:
    outcome = await double_verifier.verify(job(mode), sandbox.run)
    assert outcome.status is status, outcome.detail
    assert outcome.detail.startswith(step)
    assert outcome.axioms is None
    assert list(outcome.extra["steps"])[-1] == step


async def test_olean_bytes_cross_from_compile_to_check_with_the_double(
    sandbox: DockerSandbox, double_verifier: LeanVerifier
) -> None:
    j = job("")
    outcome = await double_verifier.verify(j, sandbox.run)
    # The double's check names the sha256 of the olean it received as its one "axiom";
    # the double's compile wrote b"double-olean\n" + the source. Equal hashes mean the
    # bytes crossed intact (base64 frame out of one container, file into the next).
    assert j.source is not None
    expected = hashlib.sha256(b"double-olean\n" + j.source.encode()).hexdigest()
    assert outcome.axioms == ["double.check_uid_10002", f"double.olean_sha256_{expected}"]
    assert outcome.status is Status.DISALLOWED_AXIOMS
    # the untrusted compile runs as its container's own uid, never the trusted check's
    (message,) = [m.text for m in outcome.messages]
    head, _, uid = message.rpartition(" ")
    assert head == "test double compiled /tmp/work/Submission.lean as uid"
    assert FIRST_UID <= int(uid) <= LAST_UID
    assert outcome.extra["steps"]["compile"]["lean_exit"] == 0
