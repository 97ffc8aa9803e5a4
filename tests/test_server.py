"""``misalign-rewards serve`` as a real server process, with real HTTP clients: the
project's endpoint, OpenRLHF's request shape, bad requests, several client processes at
once sharing one budget (observed on the engine), a client that disconnects mid-batch,
and a graceful stop. Nothing of HTTP or Docker is mocked."""

from __future__ import annotations

import json
import multiprocessing
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[1]
TESTS = "from solution import neg\n\ndef test_neg():\n    assert neg(3) == -3\n"
GOOD = "def neg(x):\n    return -x\n"
SLOW = "import time\ndef neg(x):\n    time.sleep(8)\n    return -x\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, image: str, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "misalign_rewards.cli", "serve", "--port", str(self.port), "--python-image", image,
             "--graceful-s", "20", *extra], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(self.url + "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"the server did not come up: {self.stderr()}")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-3000:]

    def containers(self) -> list[str]:
        out = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.misalign-rewards.pid={self.proc.pid}"],
                             capture_output=True, text=True, check=True)
        return out.stdout.split()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def post(url: str, data: Any, raw: bytes | None = None, timeout: float = 300) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=raw if raw is not None else json.dumps(data).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def job(solution: str) -> dict[str, Any]:
    return {"kind": "pytest", "solution": solution, "tests": TESTS}


@pytest.fixture
def server(python_image: str):
    s = Server(python_image, "--max-concurrent", "2", "--max-batch", "50")
    try:
        yield s
    finally:
        s.stop()
        s.log.close()


def test_score_openrlhf_and_bad_requests(server: Server) -> None:
    assert get(server.url + "/ready") == (200, {"ready": True})
    status, body = post(server.url + "/v1/score", {"batch": [job(GOOD), {"kind": "pytest"}, job("def neg(x):\n    return x\n")]})
    assert status == 200
    assert [(r["index"], r["reward"], r["status"]) for r in body["results"]] == [
        (0, 1.0, "passed"), (1, None, "invalid_input"), (2, 0.0, "failed")]
    assert "solution" in body["results"][1]["error"]
    # OpenRLHF's remote reward model: query = prompt + response, labels = ground truth
    prompt = "Write neg.\n"
    status, body = post(server.url + "/openrlhf", {
        "query": [prompt + "```python\n" + GOOD + "```", prompt + "def neg(x):\n    return 0\n"],
        "prompts": [prompt, prompt], "labels": [TESTS, {"inputs": ["3\n"], "outputs": ["-3\n"]}]})
    assert status == 200 and body["rewards"] == body["scores"] == [1.0, 0.0], body
    assert body["extra_logs"]["passed"] == [1.0, 0.0]
    # bad requests: a 4xx that says what is wrong, never a 500
    assert post(server.url + "/v1/score", None, raw=b"{not json")[0] == 400
    assert post(server.url + "/v1/score", {"items": []})[1] == {"error": 'expected {"batch": [item, ...]}'}
    assert post(server.url + "/v1/score", {"batch": [job(GOOD)] * 51})[0] == 413
    status, body = post(server.url + "/openrlhf", {"query": ["x"], "prompts": [""], "labels": [{"what": 1}]})
    assert status == 422 and "sample 0" in body["error"], body
    assert post(server.url + "/openrlhf", {"query": "x", "labels": []})[0] == 400


def _client_process(url: str, n: int) -> list[float | None]:
    status, body = post(url + "/v1/score", {"batch": [job(GOOD if i % 2 == 0 else "def neg(x):\n    return x\n")
                                                      for i in range(n)]})
    assert status == 200
    return [r["reward"] for r in body["results"]]


def test_several_client_processes_share_one_budget(server: Server) -> None:
    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.append(len(server.containers()))
            except Exception as exc:  # noqa: BLE001 - a failed look is no sample, but say why
                errors.append(repr(exc))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # spawn, not fork: a forked worker would inherit the watcher's pipe to `docker ps`
        # (made while it runs) and hold its output open until the worker exits
        with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_client_process, [server.url] * 3, [8] * 3))
    finally:
        stop.set()
        watcher.join()
    assert results == [[1.0, 0.0] * 4] * 3
    assert len(seen) >= 5, f"too few looks at the engine to say anything: {seen} {errors[:3]}"
    assert max(seen) <= 2, f"the server's budget is 2 containers; the engine saw {max(seen)}"
    assert max(seen) >= 1


def test_a_client_that_disconnects_cancels_its_batch(server: Server) -> None:
    body = json.dumps({"batch": [job(SLOW)] * 2}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        deadline = time.monotonic() + 30
        while not server.containers() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.containers(), "the batch never started"
    deadline = time.monotonic() + 20
    while server.containers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.containers() == [], "a disconnected client's containers kept running"
    assert get(server.url + "/health")[0] == 200  # the server lives on


def test_sigterm_finishes_what_is_in_flight_and_leaves_nothing(python_image: str) -> None:
    s = Server(python_image, "--max-concurrent", "2")
    got: dict[str, Any] = {}

    def request() -> None:
        got["response"] = post(s.url + "/v1/score", {"batch": [job(SLOW)]})

    t = threading.Thread(target=request)
    t.start()
    deadline = time.monotonic() + 30
    while not s.containers() and time.monotonic() < deadline:
        time.sleep(0.1)
    code = s.stop()
    t.join(60)
    # uvicorn stops gracefully, then ends the way the signal would (re-raised)
    assert code in (0, -signal.SIGTERM), s.stderr()
    status, body = got["response"]
    assert status == 200 and body["results"][0]["reward"] == 1.0, body
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.misalign-rewards.pid={s.proc.pid}"],
                         capture_output=True, text=True, check=True)
    s.log.close()
    assert out.stdout.split() == []
