"""``misalign-rewards build`` and the install paths a pip user has (issue 23 item 7): the
package ships the image recipes, builds from them with the same recipe hash the
checkout's scripts compare, and a missing image says how to build it."""

from __future__ import annotations

import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from misalign_rewards import RewardClient, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_build_uses_the_shipped_recipe_with_the_checkout_s_hash() -> None:
    out = subprocess.run([sys.executable, "-m", "misalign_rewards.cli", "build", "--dry-run",
                          "--python-image", "example/python-sandbox:test"], capture_output=True, text=True, check=True)
    want = subprocess.run([str(ROOT / "containers" / "build_and_push.sh"), "--recipe-hash"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert f"recipe: {want}" in out.stdout
    assert "-t example/python-sandbox:test" in out.stdout and "BASE_IMAGE=example/python-sandbox:test" in out.stdout


def test_a_wheel_ships_the_recipes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("misalign_rewards-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("Dockerfile.python-sandbox", "Dockerfile.cpp-sandbox", "requirements-sandbox.txt"):
        assert f"misalign_rewards/images/{name}" in names
        shipped = zipfile.ZipFile(wheel).read(f"misalign_rewards/images/{name}")
        assert shipped == (ROOT / "containers" / name).read_bytes()


@pytest.mark.docker
async def test_a_missing_image_says_how_to_build_it(docker_engine: None) -> None:
    missing = f"misalign-rewards/none:{uuid.uuid4().hex[:6]}"
    async with RewardClient(Settings(python_image=missing, infra_retries=0)) as client:
        (result,) = await client.score([{"kind": "pytest", "solution": "x = 1", "tests": "def test_x(): pass"}])
    assert result.status.value == "infra_error"
    assert "misalign-rewards build" in (result.error or ""), result.error
