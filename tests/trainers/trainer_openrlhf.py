"""OpenRLHF 0.11.2's own remote-reward client (SingleTurnAgentExecutor, what
``--remote_rm_url`` uses) against a real ``misalign-rewards serve`` on 127.0.0.1. Run in
.venv-trainers by tests/test_trainers.py."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

TESTS = "from solution import neg\n\ndef test_neg():\n    assert neg(3) == -3\n"
PROMPT = "Write neg.\n"


@pytest.fixture
def server(python_image: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "misalign_rewards.cli", "serve", "--port", str(port),
                             "--python-image", python_image], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
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
