"""The test bed: a real Docker engine and the real python-sandbox image.

Tests that need the engine carry ``@pytest.mark.docker``. For them the session makes
sure an engine answers and the image exists, building it through the project's own
script (containers/build_and_push.sh) when it does not. Where that cannot be done the
tests are skipped with the reason, except when ``CI=true``: there a missing engine or
image fails the run. Nothing of Docker is mocked anywhere.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.engines import Engine, make_engine
from support.sandboxes import ForcedIsolation

from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.pool import PooledSandbox

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGISTRY = "ghcr.io/your-org/misalign-fv"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _engine_answers() -> str | None:
    try:
        out = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Docker engine: {exc}"
    if out.returncode != 0:
        return f"no Docker engine answers ({out.stderr.strip()[:200]}); run scripts/engine.sh"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    problem = _engine_answers()
    if problem:
        _unavailable(problem)


def _image(name: str, env_var: str) -> str:
    """The image ``name`` (or ``$env_var``), built with the project's script if missing."""
    registry = os.environ.get("REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    image = os.environ.get(env_var, f"{registry}/{name}:latest")
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
        return image
    build = subprocess.run(
        [str(ROOT / "containers" / "build_and_push.sh"), "--build-only", "--only", name],
        capture_output=True, text=True, env={**os.environ, "REGISTRY": registry},
    )
    if build.returncode != 0 or subprocess.run(["docker", "image", "inspect", image],
                                               capture_output=True).returncode != 0:
        _unavailable(f"the image {image} is missing and building it failed:\n{build.stderr[-3000:]}")
    return image


@pytest.fixture(scope="session")
def python_image(docker_engine: None) -> str:
    """Name of the python-sandbox image, built with the project's script if missing."""
    return _image("python-sandbox", "MISALIGN_PYTHON_IMAGE")


@pytest.fixture(scope="session")
def cpp_image(python_image: str) -> str:
    """Name of the cpp-sandbox image (python-sandbox plus g++, from Debian's archive),
    built with the project's script if missing."""
    return _image("cpp-sandbox", "MISALIGN_CPP_IMAGE")


@pytest.fixture(autouse=True)
def _docker_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is not None:
        request.getfixturevalue("python_image")


@pytest.fixture(scope="session")
def _second_engine_session(python_image: str) -> Iterator[Engine]:
    try:
        engine = make_engine()
        engine.start()
        engine.load_image(python_image)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"could not start a second engine: {exc}")
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def second_engine(_second_engine_session: Engine) -> Engine:
    """A Docker engine of the tests' own (tests/support/engines.py), up and thawed, with the
    python-sandbox image: a test may kill, freeze or stop it."""
    _second_engine_session.ensure_running()
    return _second_engine_session


@pytest.fixture
async def sandbox(python_image: str) -> AsyncIterator[DockerSandbox]:
    """An open DockerSandbox with a client id of its own (label-filterable in tests)."""
    async with DockerSandbox(client_id=f"test-{uuid.uuid4().hex}") as sb:
        yield sb


@pytest.fixture(params=["fresh", "pooled"])
def isolation(request: pytest.FixtureRequest) -> str:
    """Both backends a pytest job can run on (the verdicts must not differ)."""
    return str(request.param)


@pytest.fixture
async def any_sandbox(python_image: str, isolation: str) -> AsyncIterator[ForcedIsolation]:
    """Fresh containers or warm ones, as ``isolation`` says (see
    :class:`support.sandboxes.ForcedIsolation`)."""
    sb = ForcedIsolation(PooledSandbox(DockerSandbox(client_id=f"test-{uuid.uuid4().hex}")), isolation)
    try:
        yield sb
    finally:
        await sb.aclose()
