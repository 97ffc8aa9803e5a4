"""``misalign-rewards serve`` as a real server process, with real HTTP clients: the
project's endpoint, OpenRLHF's request shape, bad requests, several client processes at
once sharing one budget (observed on the engine), a client that disconnects mid-batch,
and a graceful stop. Nothing of HTTP or Docker is mocked."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
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
    def __init__(self, image: str, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "misalign_rewards.cli", "serve", "--port", str(self.port), "--python-image", image,
             "--graceful-s", "20", *extra], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log,
            env={**os.environ, **(env or {})})
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


def post(url: str, data: Any, raw: bytes | None = None, timeout: float = 300,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=raw if raw is not None else json.dumps(data).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})}, method="POST")
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


# -- issue 23, items 8-10: a server only its owner can use, a /ready that is true, the policy --

TOKEN = "test-token-0123456789abcdef"
TWO_TESTS = ("from solution import neg\n\ndef test_neg():\n    assert neg(3) == -3\n\n"
             "def test_zero_is_an_int():\n    assert isinstance(neg(0), int)\n")
HALF = "def neg(x):\n    return -float(x)\n"  # passes test_neg, fails test_zero_is_an_int
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def token_server(python_image: str):
    s = Server(python_image, "--max-concurrent", "1", env={"MISALIGN_SERVE_TOKEN": TOKEN})
    try:
        yield s
    finally:
        s.stop()
        s.log.close()


def test_8_without_the_token_nothing_runs(token_server: Server) -> None:
    s = token_server
    assert get(s.url + "/health") == (200, {"status": "ok"})  # open: a liveness probe needs no secret
    openrlhf = {"query": ["```python\n" + GOOD + "```"], "prompts": [""], "labels": [TESTS]}
    wrong = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN[:-1]}"},
             {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}, {"Authorization": f"Token {TOKEN}"},
             {"Authorization": _basic("rm", "wrong")}, {"Authorization": _basic(TOKEN, "")},
             {"Authorization": "Basic !!not-base64"}]
    for route, body in (("/v1/score", {"batch": [job(GOOD)]}), ("/openrlhf", openrlhf)):
        for headers in wrong:
            status, answer = post(s.url + route, body, headers=headers)
            assert status == 401 and "token" in answer["error"], (route, headers, status, answer)
    assert s.containers() == []
    status, body = post(s.url + "/v1/score", {"batch": [job(GOOD)]}, headers=BEARER)
    assert status == 200 and body["results"][0]["reward"] == 1.0, body
    # curl, as docs/integrations.md shows it
    out = subprocess.run(["curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}", "-H", "Content-Type: application/json",
                          "-d", json.dumps({"batch": [job(GOOD)]}), s.url + "/v1/score"],
                         capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(out.stdout)["results"][0]["reward"] == 1.0


def test_8_openrlhf_sends_the_token_in_its_url(token_server: Server) -> None:
    """OpenRLHF's remote reward client posts with ``requests`` and only a Content-Type
    header; the token rides in ``--remote_rm_url http://rm:TOKEN@host/openrlhf``, which
    requests turns into Basic auth. The same call as its request_api_wrapper."""
    import requests

    s = token_server
    data = {"query": ["```python\n" + GOOD + "```"], "prompts": [""], "labels": [TESTS]}
    for url, code in ((f"http://rm:{TOKEN}@127.0.0.1:{s.port}/openrlhf", 200),
                      (f"http://rm:nope@127.0.0.1:{s.port}/openrlhf", 401),
                      (f"http://127.0.0.1:{s.port}/openrlhf", 401)):
        response = requests.post(url=url, json=data, headers={"Content-Type": "application/json"}, timeout=180)
        assert response.status_code == code, (url, response.text)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    ok = requests.post(url=f"http://rm:{TOKEN}@127.0.0.1:{s.port}/openrlhf", json=data, timeout=180)
    assert ok.json()["rewards"] == [1.0]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com"])
def test_8_serve_refuses_to_listen_beyond_loopback_without_a_token(host: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MISALIGN_SERVE_TOKEN"}
    out = subprocess.run([sys.executable, "-m", "misalign_rewards.cli", "serve", "--host", host, "--port",
                          str(_free_port())], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2, out.stderr
    assert f"refusing to listen on {host} without a token" in out.stderr and "Traceback" not in out.stderr


def test_8_what_counts_as_loopback_and_as_the_token() -> None:
    from misalign_rewards.server import ServeRefused, authorized, check_exposure, is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "host.local", ""))
    check_exposure("127.0.0.1", None)
    check_exposure("0.0.0.0", TOKEN)
    with pytest.raises(ServeRefused):
        check_exposure("0.0.0.0", "")
    assert authorized(f"Bearer {TOKEN}", TOKEN) and authorized(f"bearer  {TOKEN} ", TOKEN)
    assert authorized(_basic("anyone", TOKEN), TOKEN)
    assert not authorized(f"Bearer {TOKEN}\u00e9", TOKEN) and not authorized("Bearer \udcff", TOKEN)


@pytest.mark.slow
def test_9_ready_follows_the_engine_now(python_image: str, second_engine) -> None:
    s = Server(python_image, env={"MISALIGN_DOCKER_URL": second_engine.url})

    def ready_becomes(code: int) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = get(s.url + "/ready")
            if status == code:
                return body
            time.sleep(0.3)
        raise AssertionError(f"/ready never answered {code}; last {status} {body}")

    try:
        assert ready_becomes(200) == {"ready": True}
        second_engine.stop()
        down = ready_becomes(503)
        assert down["ready"] is False and down["error"]
        second_engine.ensure_running()
        assert ready_becomes(200) == {"ready": True}
    finally:
        s.stop()
        s.log.close()
        second_engine.ensure_running()


def test_10_the_policy_field_is_honoured_and_checked(server: Server) -> None:
    half = {"kind": "pytest", "solution": HALF, "tests": TWO_TESTS}
    batch = [half, job(GOOD), {"kind": "pytest"}]

    def rewards(body: dict[str, Any]) -> list[float | None]:
        status, answer = post(server.url + "/v1/score", body)
        assert status == 200, answer
        return [r["reward"] for r in answer["results"]]

    assert rewards({"batch": batch, "policy": "pass_rate"}) == [0.5, 1.0, None]
    assert rewards({"batch": batch, "policy": "binary"}) == [0.0, 1.0, None]
    assert rewards({"batch": batch}) == [0.0, 1.0, None]  # the server's own (binary)
    for bad in ("lenient", "", 1, ["pass_rate"]):
        status, answer = post(server.url + "/v1/score", {"batch": [job(GOOD)], "policy": bad})
        assert status == 400 and answer["error"].startswith("policy:"), (bad, answer)
    assert server.containers() == []


# -- issue 27, item 3: nothing in a body makes the server answer 500 -----------------------


def _deep_dict(depth: int) -> dict[str, Any]:
    top: dict[str, Any] = {}
    cur = top
    for _ in range(depth):
        cur["x"] = {}
        cur = cur["x"]
    return top


def _deep_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_27_3_deep_bodies_are_400_and_a_deep_item_is_its_own_invalid_input(server: Server) -> None:
    for route in ("/v1/score", "/openrlhf"):
        for raw in (b'{"batch": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"[" * 5000 + b"]" * 5000):
            status, body = post(server.url + route, None, raw=raw)
            assert status == 400 and "nested deeper" in body["error"], (route, status, body)
    deep_io = {"kind": "io", "program": "print(-int(input()))", "cases": [{"input": "3\n", "output": "-3\n"},
                                                                          {"input": "1\n", "output": _deep_list(700)}]}
    batch = [job(GOOD), {**job(GOOD), "metadata": _deep_dict(800)}, job(GOOD), deep_io,
             {**job(GOOD), "metadata": {"ok": _deep_list(60)}}]
    status, body = post(server.url + "/v1/score", None, raw=json.dumps({"batch": batch}).encode())
    assert status == 200, body
    got = [(r["status"], r["reward"]) for r in body["results"]]
    assert got == [("passed", 1.0), ("invalid_input", None), ("passed", 1.0), ("invalid_input", None),
                   ("passed", 1.0)], got
    assert "metadata" in body["results"][1]["error"] and "nested deeper than 64" in body["results"][1]["error"]
    assert "cases.1.output" in body["results"][3]["error"]
    status, body = post(server.url + "/openrlhf", {"query": ["x"], "prompts": [""], "labels": [_deep_dict(800)]})
    assert status in (400, 422) and "sample 0" in body["error"], body


async def test_27_3_through_the_sdk_a_deep_item_is_invalid_input_and_nothing_raises(python_image: str) -> None:
    from misalign_rewards import RewardClient
    from misalign_rewards.jobs import PytestJob
    from misalign_rewards.settings import Settings

    looped: dict[str, Any] = {}
    looped["self"] = looped
    async with RewardClient(Settings(python_image=python_image, max_concurrent=1)) as client:
        results = await client.score([job(GOOD), {**job(GOOD), "metadata": _deep_dict(900)},
                                      {**job(GOOD), "metadata": looped}, job(GOOD)])
    assert [(r.status.value, r.reward) for r in results] == [
        ("passed", 1.0), ("invalid_input", None), ("invalid_input", None), ("passed", 1.0)]
    with pytest.raises(ValueError, match="nested deeper"):
        PytestJob(solution=GOOD, tests=TESTS, metadata=_deep_dict(100))


# -- issue 27, item 4: slow and heavy requests are bounded; honest ones keep their results ----


def _open_request(port: int, declared: int | None, first: bytes, path: str = "/v1/score",
                  headers: str = "") -> socket.socket:
    """A request whose body has only begun to arrive (the rest never comes)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    length = f"Content-Length: {declared}\r\n" if declared is not None else "Transfer-Encoding: chunked\r\n"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}{length}\r\n"
                 .encode() + first)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """The status, headers and JSON body of the response on ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the connection closed without an answer: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), headers, json.loads(rest[:length] or b"null")


def post_until_admitted(url: str, data: Any, tries: int = 60) -> tuple[int, Any]:
    """What a well-behaved client does: on 503 with Retry-After, wait that long and again."""
    for _ in range(tries):
        req = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = json.loads(e.read())
            if e.code != 503 or "retry-after" not in {k.lower() for k in e.headers}:
                return e.code, body
            time.sleep(float(e.headers["Retry-After"]))
    raise AssertionError("never admitted")


@pytest.fixture
def tight_server(python_image: str):
    s = Server(python_image, "--max-concurrent", "1", "--max-requests", "3", "--max-body-bytes", str(1 << 20),
               "--max-bytes-in-flight", str(3 << 19), "--body-timeout-s", "3")
    try:
        yield s
    finally:
        s.stop()
        s.log.close()


def test_27_4_stalled_and_heavy_requests_hit_clear_bounds(tight_server: Server) -> None:
    s = tight_server
    big = 700 << 10
    held = [_open_request(s.port, big, b'{"batch": ['), _open_request(s.port, big, b'{"batch": [')]
    time.sleep(1.0)  # let both be admitted before the next arrives (an order, not a deadline)
    over = _open_request(s.port, big, b" " * big)  # all of it: the server drains it to answer
    status, headers, body = _answer(over)
    over.close()
    assert status == 503 and "retry-after" in headers and "bytes" in body["error"], (status, body)
    held.append(_open_request(s.port, 100, b"{"))  # small: fits the bytes, takes the last request slot
    time.sleep(0.5)
    status, body = post(s.url + "/v1/score", {"batch": [job(GOOD)]})
    assert status == 503 and "busy" in body["error"], body
    assert get(s.url + "/health")[0] == 200  # never behind the bound
    for sock in held:  # a body that never comes: 408, and everything it held is given back
        status, _, body = _answer(sock)
        sock.close()
        assert status == 408 and "did not arrive" in body["error"], body
    # bodies past the cap: declared (413 before reading) and chunked (413 once past it)
    with _open_request(s.port, (1 << 20) + 1, b"") as sock:
        assert _answer(sock)[0] == 413
    chunked = _open_request(s.port, None, b"")
    part = b" " * (256 << 10)
    try:
        for _ in range(6):
            chunked.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    except OSError:
        pass  # the server may close as soon as it has answered
    status, _, body = _answer(chunked)
    chunked.close()
    assert status == 413, body
    status, body = post(s.url + "/v1/score", {"batch": [job(GOOD)]})
    assert status == 200 and body["results"][0]["reward"] == 1.0


@pytest.mark.slow
def test_27_4_a_small_request_is_not_queued_behind_a_big_one(python_image: str) -> None:
    s = Server(python_image, "--max-concurrent", "1")
    slow = "import time\ndef neg(x):\n    time.sleep(2)\n    return -x\n"
    finished: list[str] = []
    answers: dict[str, Any] = {}

    def request(name: str, batch: list[Any]) -> None:
        answers[name] = post(s.url + "/v1/score", {"batch": batch})
        finished.append(name)

    try:
        big = threading.Thread(target=request, args=("big", [job(slow)] * 5))
        big.start()
        deadline = time.monotonic() + 60
        while not s.containers() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert s.containers(), "the big request never started"
        small = threading.Thread(target=request, args=("small", [job(GOOD)]))
        small.start()
        small.join(300)
        big.join(300)
    finally:
        s.stop()
        s.log.close()
    # with one run at a time, the small request got the second run, not the sixth
    assert finished == ["small", "big"], finished
    assert [r["reward"] for r in answers["big"][1]["results"]] == [1.0] * 5
    assert answers["small"][1]["results"][0]["reward"] == 1.0


@pytest.mark.slow
def test_27_4_under_abuse_every_honest_request_gets_its_result(python_image: str) -> None:
    s = Server(python_image, "--max-concurrent", "2", "--max-requests", "6", "--max-body-bytes", str(2 << 20),
               "--max-bytes-in-flight", str(5 << 20), "--body-timeout-s", "4")
    honest: dict[int, tuple[int, Any]] = {}
    bad: list[int] = []

    def honest_client(i: int) -> None:
        honest[i] = post_until_admitted(s.url + "/v1/score", {"batch": [job(GOOD), job("def neg(x):\n    return x\n")]})

    def abuser(i: int) -> None:
        kind = i % 4
        if kind == 0:  # a body that stalls
            sock = _open_request(s.port, 1 << 20, b'{"batch": [')
        elif kind == 1:  # one past the cap
            sock = _open_request(s.port, (2 << 20) + 1, b"")
        elif kind == 2:  # nested past any parser
            raw = b"[" * 200_000 + b"]" * 200_000
            sock = _open_request(s.port, len(raw), raw)
        else:  # garbage
            sock = _open_request(s.port, 9, b"{not json")
        with sock:
            bad.append(_answer(sock)[0])

    threads = [threading.Thread(target=abuser, args=(i,)) for i in range(12)]
    threads += [threading.Thread(target=honest_client, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert get(s.url + "/health")[0] == 200
    finally:
        code = s.stop()
        s.log.close()
    assert len(honest) == 8, honest
    assert all(status == 200 and [r["reward"] for r in body["results"]] == [1.0, 0.0]
               for status, body in honest.values()), honest
    assert len(bad) == 12 and all(c in (400, 408, 413, 503) for c in bad), bad
    assert 500 not in bad and code in (0, -signal.SIGTERM)
