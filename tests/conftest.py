"""The test bed: a real Docker engine and the real python-sandbox image.

Tests that need the engine carry ``@pytest.mark.docker``. For them the session makes
sure an engine answers and the image exists, building it through the project's own
script (containers/build_and_push.sh) when it does not. Where that cannot be done the
tests are skipped with the reason, except when ``CI=true``: there a missing engine or
image fails the run. Nothing of Docker is mocked anywhere.

The marker is enforced, so that ``-m "not docker"`` needs no engine and leaves nothing
behind: a test whose fixtures reach ``docker_engine`` without it is a collection error,
and a test without it runs (setup, call and teardown, and every process it starts) with
the engine's address pointed at a socket that does not exist, where the engine fixtures
refuse it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.pool import PooledSandbox
from support.engines import Engine, make_engine
from support.sandboxes import ForcedIsolation

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGISTRY = "ghcr.io/your-org/misalign-fv"
IN_CI = os.environ.get("CI", "").lower() == "true"
#: The engine a test without the ``docker`` marker sees: none, at an address that says why.
NO_ENGINE = "unix:///nonexistent/a-test-without-the-docker-marker.sock"
#: Where the SDK (``MISALIGN_DOCKER_URL`` first) and the docker command look for the engine.
ENGINE_VARS = ("DOCKER_HOST", "MISALIGN_DOCKER_URL")
#: The node id of the test without the marker that is running, if one is.
UNMARKED_RUNNING = pytest.StashKey[str]()


def _needs_engine(item: pytest.Item) -> bool:
    return item.get_closest_marker("docker") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test whose fixtures reach the engine must say so with the marker (every engine
    fixture depends on ``docker_engine``), or ``-m "not docker"`` would start containers."""
    unmarked = [item.nodeid for item in items
                if "docker_engine" in getattr(item, "fixturenames", ()) and not _needs_engine(item)]
    if unmarked:
        raise pytest.UsageError("these tests use the Docker engine (their fixtures reach docker_engine) "
                                "but do not carry @pytest.mark.docker:\n  " + "\n  ".join(unmarked))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """Run a test without the ``docker`` marker against no engine: whatever reaches one
    (the SDK, the docker command, a CLI or server it starts, which inherit the
    environment) fails on a socket that does not exist instead of using the real one."""
    if _needs_engine(item):
        return (yield)
    saved = {name: os.environ.get(name) for name in ENGINE_VARS}
    os.environ.update(dict.fromkeys(ENGINE_VARS, NO_ENGINE))
    item.config.stash[UNMARKED_RUNNING] = item.nodeid
    try:
        return (yield)
    finally:
        del item.config.stash[UNMARKED_RUNNING]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _refuse_unmarked(config: pytest.Config) -> None:
    """An engine fixture first asked for while a test without the marker runs (by
    ``request.getfixturevalue``: the collection check sees every other way): fail, naming
    that test. These fixtures are per session, so pytest keeps the failure for every later
    test that asks for them, and the message says whose it is."""
    unmarked = config.stash.get(UNMARKED_RUNNING, None)
    if unmarked is not None:
        pytest.fail(f"{unmarked} asked for the Docker engine without @pytest.mark.docker", pytrace=False)


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
def docker_engine(pytestconfig: pytest.Config) -> None:
    _refuse_unmarked(pytestconfig)
    problem = _engine_answers()
    if problem:
        _unavailable(problem)


def _image(config: pytest.Config, name: str, env_var: str) -> str:
    """The image ``name`` (or ``$env_var``), built with the project's script if missing."""
    _refuse_unmarked(config)
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
def python_image(docker_engine: None, pytestconfig: pytest.Config) -> str:
    """Name of the python-sandbox image, built with the project's script if missing."""
    return _image(pytestconfig, "python-sandbox", "MISALIGN_PYTHON_IMAGE")


@pytest.fixture(scope="session")
def cpp_image(python_image: str, pytestconfig: pytest.Config) -> str:
    """Name of the cpp-sandbox image (python-sandbox plus g++, from Debian's archive),
    built with the project's script if missing."""
    return _image(pytestconfig, "cpp-sandbox", "MISALIGN_CPP_IMAGE")


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
