"""The built python-sandbox image does what the README and the seed promise."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.docker

SEED_FLAGS = ["--network", "none", "--read-only", "--tmpfs", "/tmp:size=64m", "--memory", "512m",
              "--cpus", "1", "--pids-limit", "64"]


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def test_inspect_shows_user_sandbox_and_entrypoint_python(python_image: str) -> None:
    out = docker("image", "inspect", python_image, "--format", "{{json .Config}}")
    config = json.loads(out.stdout)
    assert config["User"] == "sandbox"
    assert config["Entrypoint"] == ["python"]


def test_seed_verification_prints_ok(python_image: str) -> None:
    out = docker("run", "--rm", python_image, "-c", "import pytest; print('ok')")
    assert (out.returncode, out.stdout) == (0, "ok\n"), out.stderr


def test_python_311_with_pytest_numpy_scipy_as_non_root_sandbox(python_image: str) -> None:
    code = ("import os, pwd, sys, numpy, scipy, scipy.optimize, pytest;"
            "print(sys.version_info[:2], pwd.getpwuid(os.getuid()).pw_name, os.getuid(),"
            " numpy.linalg.solve([[2.0]], [4.0])[0], scipy.optimize.brentq(lambda x: x - 1.5, 0, 3))")
    out = docker("run", "--rm", *SEED_FLAGS, python_image, "-c", code)
    assert out.returncode == 0, out.stderr
    version, user, uid, solved, root = out.stdout.replace("(3, 11)", "3.11").split()
    assert version == "3.11" and user == "sandbox" and uid != "0"
    assert float(solved) == 2.0 and abs(float(root) - 1.5) < 1e-9


def test_no_network_inside_with_the_seed_flags(python_image: str) -> None:
    code = ("import socket\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3); print('CONNECTED')\n"
            "except OSError as e:\n    print('blocked', e.errno)\n"
            "try:\n    socket.getaddrinfo('pypi.org', 443); print('RESOLVED')\n"
            "except OSError as e:\n    print('no dns')")
    out = docker("run", "--rm", *SEED_FLAGS, python_image, "-c", code)
    assert out.stdout.split("\n")[:2] == ["blocked 101", "no dns"], out.stdout + out.stderr


def test_pytest_runs_a_suite_inside_the_image(python_image: str) -> None:
    code = ("import pathlib, sys, pytest;"
            "pathlib.Path('/tmp/t').mkdir();"
            "pathlib.Path('/tmp/t/test_a.py').write_text('def test_one():\\n    assert 1 + 1 == 2\\n"
            "def test_two():\\n    assert 1 + 1 == 3\\n');"
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '/tmp/t']))")
    out = docker("run", "--rm", *SEED_FLAGS, python_image, "-c", code)
    assert out.returncode == 1  # one test fails, as written
    assert "1 failed, 1 passed" in out.stdout
