"""OpenRLHF 0.11.2's own remote-reward client (SingleTurnAgentExecutor, what
``--remote_rm_url`` uses) against a real ``misalign-rewards serve`` on 127.0.0.1. Run in
.venv-trainers by tests/test_trainers.py."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

TESTS = "from solution import neg\n\ndef test_neg():\n    assert neg(3) == -3\n"
PROMPT = "Write neg.\n"


@pytest.fixture
def server(python_image: str):
    yield from _serve(python_image, {})


def _serve(python_image: str, env: dict[str, str]):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "misalign_rewards.cli", "serve", "--port", str(port),
                             "--python-image", python_image], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"the server did not come up: {proc.communicate()[1]}")
    yield url, proc
    proc.terminate()
    proc.wait(60)


def _fetch(url: str, query: str, label: object):
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    executor = SingleTurnAgentExecutor(remote_rm_url=f"{url}/openrlhf")
    return asyncio.run(executor._fetch_rewards_via_http([PROMPT + query], [PROMPT], [label]))


@pytest.mark.docker
def test_openrlhf_client_gets_the_rewards(server) -> None:
    url, _ = server
    (right,) = _fetch(url, "```python\ndef neg(x):\n    return -x\n```", TESTS)
    (wrong,) = _fetch(url, "def neg(x):\n    return x\n", {"tests": TESTS})
    assert right["rewards"] == [1.0] and wrong["rewards"] == [0.0]
    assert right["extra_logs"]["passed"] == [1.0]


@pytest.mark.docker
def test_openrlhf_client_on_a_label_that_cannot_become_a_job(server, caplog) -> None:
    """Its client retries every non-2xx answer 5 times and then raises, which its executor
    turns into a missing reward (logged at INFO): no answer of ours can make it stop at
    once. The server answers 422 (naming the sample) every time."""
    url, _ = server
    with pytest.raises(RuntimeError, match="Request error for 5 times"):
        _fetch(url, "def neg(x):\n    return -x\n", {"something": "else"})
    seen = [r.getMessage() for r in caplog.records if r.name == "openrlhf.utils.agent"]
    assert len(seen) == 5 and all("422" in m for m in seen), seen


class EngineDoor:
    """A unix socket in front of the real engine's, that the test closes (the engine is
    down for whoever uses it: a restart, a node drained) and opens again. The engine
    itself is never touched."""

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path, self.target = path, target
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []

    def open(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(self.path))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def close(self) -> None:
        assert self.listener is not None
        self.listener.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.conns.clear()
        self.path.unlink()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                a, _ = listener.accept()
            except OSError:
                return
            b = socket.socket(socket.AF_UNIX)
            b.connect(self.target)
            self.conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(x, y), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)  # pass the half-close on, as the engine's clients use it
            except OSError:
                pass


@pytest.mark.docker
def test_openrlhf_client_rides_out_an_engine_restart(python_image: str, tmp_path: Path) -> None:
    """The engine goes away between two requests and comes back after longer than
    OpenRLHF's client keeps retrying (5 tries a second apart): the server waits for it
    (within engine_wait_s) instead of answering 503s that would lose the reward."""
    door = EngineDoor(tmp_path / "engine.sock")
    door.open()
    gen = _serve(python_image, {"MISALIGN_DOCKER_URL": f"unix://{door.path}", "MISALIGN_ENGINE_WAIT_S": "60",
                                "MISALIGN_INFRA_RETRIES": "0"})
    url, _ = next(gen)
    try:
        right = "def neg(x):\n    return -x\n"
        assert _fetch(url, right, TESTS)[0]["rewards"] == [1.0]
        door.close()
        threading.Timer(10.0, door.open).start()  # longer than the client's retries
        assert _fetch(url, right, TESTS)[0]["rewards"] == [1.0]
    finally:
        next(gen, None)
