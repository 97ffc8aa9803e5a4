"""A container stopped from outside mid-job (issue 23, item 12): ``docker kill`` or
``docker stop`` (a drain) of a running job's container is infrastructure trouble, retried
and then ``infra_error`` with no reward, in fresh and warm containers. The other way
round, a solution that fails and tries to look killed (signals to everything it may
reach, a report cut short) still earns 0 on its first attempt: only the engine's own
record of a kill it was told to do counts, and nothing in a container can write it."""

from __future__ import annotations

import subprocess
import time

import anyio
import anyio.to_thread
import pytest

from misalign_rewards import RewardClient, Settings
from misalign_rewards.sandbox.labels import LABEL_CLIENT
from misalign_rewards.sandbox.uids import FIRST_UID, LAST_UID
from support.sandboxes import ForcedIsolation

pytestmark = pytest.mark.docker

TESTS = "from solution import neg\n\n\ndef test_neg():\n    assert neg(3) == -3\n"
SLOW_GOOD = "import time\n\n\ndef neg(x):\n    time.sleep(5)\n    return -x\n"


def _untrusted_running(client_id: str) -> str | None:
    """A container of this client in which a process of the untrusted uid runs."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label={LABEL_CLIENT}={client_id}"],
                         capture_output=True, text=True).stdout.split()
    for cid in ids:
        top = subprocess.run(["docker", "top", cid, "-o", "pid,uid,args"], capture_output=True, text=True).stdout
        if any(FIRST_UID <= int(line.split()[1]) <= LAST_UID for line in top.splitlines()[1:]):
            return cid
    return None


def _stop_once_running(client_id: str, how: list[str], stopped: list[str], done: list[bool]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not done:
        cid = _untrusted_running(client_id)
        if cid:
            subprocess.run(["docker", *how, cid], capture_output=True, check=True)
            stopped.append(cid)
            return
        time.sleep(0.1)


async def _score_with_outside_stop(sandbox: ForcedIsolation, python_image: str, how: list[str],
                                   retries: int) -> tuple[object, list[str]]:
    settings = Settings(python_image=python_image, infra_retries=retries, infra_backoff_s=0.1)  # type: ignore[arg-type]
    stopped: list[str] = []
    done: list[bool] = []
    async with RewardClient(settings, sandbox=sandbox) as client, anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, _stop_once_running, sandbox.pool.fresh.client_id, how, stopped, done)
        try:
            [result] = await client.score([{"kind": "pytest", "solution": SLOW_GOOD, "tests": TESTS}])
        finally:
            done.append(True)
    return result, stopped


@pytest.mark.slow
async def test_12_docker_kill_mid_job_is_infra_error_not_auth(any_sandbox: ForcedIsolation, python_image: str) -> None:
    result, stopped = await _score_with_outside_stop(any_sandbox, python_image, ["kill"], retries=0)
    assert stopped, "no container was ever seen running the solution"
    assert result.status.value == "infra_error" and result.reward is None, result  # type: ignore[attr-defined]
    assert "stopped from outside" in (result.error or "")  # type: ignore[attr-defined]
    assert not result.flags  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_12_a_drained_container_is_retried_and_the_retry_earns_its_reward(any_sandbox: ForcedIsolation,
                                                                                 python_image: str) -> None:
    result, stopped = await _score_with_outside_stop(any_sandbox, python_image, ["stop", "-t", "1"], retries=1)
    assert stopped
    assert (result.status.value, result.reward, result.attempts) == ("passed", 1.0, 2), result  # type: ignore[attr-defined]


#: Solutions that fail and try every way an untrusted process without capabilities has to
#: make their run look stopped from outside.
FAKE_KILLED = {
    "signals_everything": '''\
import os
import signal

for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    for pid in (1, -1, os.getppid()):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def neg(x):
    return x
''',
    "cut_report_then_die": '''\
import os
import signal

for fd in (1, 2):
    try:
        os.write(fd, b"@@misalign-report v2 0 999\\n{\\"mode\\": \\"isolated\\", \\"tests\\": [")
    except OSError:
        pass
for target in ("/proc/1/fd/1", "/dev/stdout"):
    try:
        with open(target, "wb") as f:
            f.write(b"@@misalign-report v2 0 999\\n{")
    except OSError:
        pass
os.kill(-1, signal.SIGKILL)


def neg(x):
    return x
''',
}


@pytest.mark.parametrize("name", sorted(FAKE_KILLED))
async def test_12_a_solution_cannot_pass_its_failure_off_as_an_outside_kill(any_sandbox: ForcedIsolation,
                                                                            python_image: str, name: str) -> None:
    settings = Settings(python_image=python_image, infra_retries=2, infra_backoff_s=0.1)  # type: ignore[arg-type]
    async with RewardClient(settings, sandbox=any_sandbox) as client:
        [result] = await client.score([{"kind": "pytest", "solution": FAKE_KILLED[name], "tests": TESTS}])
    assert result.reward == 0.0 and result.attempts == 1, result
    assert result.status.value not in ("infra_error", "internal_error"), result
