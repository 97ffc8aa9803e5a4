"""No job can hurt a neighbour through the kernel's per-user quotas.

The kernel counts pipe buffers, inotify instances, POSIX message-queue bytes and pending
signals per uid, across containers (there is no user namespace). An attacker job takes
all of each for its own uid and holds it; while it does, an honest job in another
container, which needs a little of each (a ``multiprocessing`` Queue that must buffer 15 KB
before it is read, an inotify instance, a message queue, a queued signal), must still earn
1.0: its untrusted uid is not the attacker's. Both fresh and warm containers.

The attacker says it holds everything by starting a ``sleep`` whose arguments carry a mark
of this run and which quotas it found exhausted; the test waits for it in ``docker top``.
"""

from __future__ import annotations

import secrets
import subprocess
import time
import uuid
from typing import Any

import anyio
import anyio.to_thread
import pytest

from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome, Status
from misalign_rewards.rewards import apply_policy, binary
from misalign_rewards.sandbox.base import Sandbox
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.labels import LABEL_CLIENT
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.verifiers.pytest import PytestVerifier

pytestmark = pytest.mark.docker

#: Takes every per-user quota of its uid, then holds it (its holders live until the end
#: of its test sweeps them; the test cancels it once the victim is done).
ATTACK = '''\
import ctypes, fcntl, os, signal, time

MARK = "{mark}"
libc = ctypes.CDLL(None, use_errno=True)


def _holder(work):
    """Fork a process that runs work() (True: the quota is exhausted) and keeps what it
    took; its answer comes back on a pipe."""
    r, w = os.pipe()
    if os.fork() == 0:
        try:
            ok = work()
        except BaseException:
            ok = False
        os.write(w, b"1" if ok else b"0")
        while True:
            time.sleep(60)
    os.close(w)
    answer = os.read(r, 1)
    os.close(r)
    return answer == b"1"


def _pipes():
    fds = []
    while len(fds) < 200:
        r, w = os.pipe()
        fds += [r, w]
        if fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) < 65536:
            return True  # past pipe-user-pages-soft: new pipes of this uid get 8 KiB
    return False


def _inotify():
    for _ in range(200):
        if libc.inotify_init1(0) < 0:
            return True  # max_user_instances
    return False


def _mqueues():
    for i in range(200):
        if libc.mq_open(f"/hog{{i}}".encode(), os.O_CREAT | os.O_RDWR, 0o600, None) < 0:
            return True  # RLIMIT_MSGQUEUE
    return False


def _signals():
    sig = signal.SIGRTMIN
    signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
    for _ in range(1 << 20):
        if libc.sigqueue(os.getpid(), sig, ctypes.c_void_p(0)) != 0:
            return True  # RLIMIT_SIGPENDING
    return False


def add(a, b):
    got = [any(_holder(_pipes) for _ in range(30)), _holder(_inotify), _holder(_mqueues), _holder(_signals)]
    status = "".join("1" if g else "0" for g in got)
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "300", "0." + MARK, "0.1" + status])
    time.sleep(90)
    return a + b
'''

ATTACK_TESTS = "from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"

#: Honest code that needs a little of each quota.
VICTIM = '''\
import ctypes, multiprocessing, os, signal, time

libc = ctypes.CDLL(None, use_errno=True)


def _produce(q):
    q.put("x" * 15000)


def queue_roundtrip():
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=_produce, args=(q,))
    p.start()
    p.join(timeout=20)  # before get(): the 15 KB wait in the pipe
    if p.exitcode is None:
        p.kill()
        p.join()
        return None
    return len(q.get(timeout=5))


def inotify_errno():
    fd = libc.inotify_init1(0)
    if fd < 0:
        return ctypes.get_errno()
    os.close(fd)
    return 0


def mqueue_errno():
    name = b"/victim"
    fd = libc.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, None)
    if fd < 0:
        return ctypes.get_errno()
    libc.mq_close(fd)
    libc.mq_unlink(name)
    return 0


def sigqueue_errno():
    sig = signal.SIGRTMIN + 1
    got = []
    old = signal.signal(sig, lambda s, f: got.append(s))
    try:
        if libc.sigqueue(os.getpid(), sig, ctypes.c_void_p(7)) != 0:
            return ctypes.get_errno()
        for _ in range(500):
            if got:
                return 0
            time.sleep(0.01)
        return -1
    finally:
        signal.signal(sig, old)
'''

VICTIM_TESTS = '''\
from solution import inotify_errno, mqueue_errno, queue_roundtrip, sigqueue_errno


def test_a_queue_buffers_15_kb_in_its_pipe():
    assert queue_roundtrip() == 15000


def test_an_inotify_instance():
    assert inotify_errno() == 0


def test_a_message_queue():
    assert mqueue_errno() == 0


def test_a_queued_signal():
    assert sigqueue_errno() == 0
'''


async def _held(client_id: str, mark: str) -> str:
    """The attacker's status digits once its marker runs (pipes, inotify, mqueue, signals)."""
    deadline = time.monotonic() + 120

    def look() -> str | None:
        ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label={LABEL_CLIENT}={client_id}"],
                             capture_output=True, text=True).stdout.split()
        for cid in ids:
            top = subprocess.run(["docker", "top", cid, "-o", "pid,args"], capture_output=True, text=True).stdout
            for line in top.splitlines():
                words = line.split()[1:]
                if words[:1] == ["sleep"] and f"0.{mark}" in words:
                    return words[-1][3:]
        return None

    while time.monotonic() < deadline:
        found = await anyio.to_thread.run_sync(look)
        if found is not None:
            return found
        await anyio.sleep(0.3)
    raise AssertionError("the attacker never said it held the quotas")


def _sandbox(isolation: str, **kw: Any) -> Sandbox:
    fresh = DockerSandbox(client_id=f"test-{uuid.uuid4().hex}", **kw)
    return PooledSandbox(fresh) if isolation == "pooled" else fresh


def _client_id(sandbox: Sandbox) -> str:
    fresh = sandbox.fresh if isinstance(sandbox, PooledSandbox) else sandbox
    assert isinstance(fresh, DockerSandbox)
    return fresh.client_id


@pytest.mark.parametrize("isolation", ["fresh", "pooled"])
def test_an_honest_job_keeps_its_quotas_next_to_one_that_takes_all_of_its_own(python_image: str,
                                                                               isolation: str) -> None:
    mark = str(secrets.randbelow(10**9)).zfill(9)
    attacker = PytestVerifier(python_image, timeout_s=120, call_timeout_s=100, isolation=isolation,
                              integrity=IntegrityMode.OBSERVE)
    # observe: the static scan would reject the victim's ctypes (inotify, mq_open and sigqueue
    # have no stdlib wrapper); what is tested here is the sandbox, not the scan
    victim = PytestVerifier(python_image, timeout_s=60, call_timeout_s=40, isolation=isolation,
                            integrity=IntegrityMode.OBSERVE)

    async def go() -> tuple[str, Outcome]:
        async with _sandbox(isolation, max_concurrent=1) as bad, _sandbox(isolation, max_concurrent=1) as good:
            async with anyio.create_task_group() as tg:
                tg.start_soon(attacker.verify, PytestJob(solution=ATTACK.format(mark=mark), tests=ATTACK_TESTS),
                              bad.run)
                status = await _held(_client_id(bad), mark)
                outcome = await victim.verify(PytestJob(solution=VICTIM, tests=VICTIM_TESTS), good.run)
                tg.cancel_scope.cancel()
        return status, outcome

    status, outcome = anyio.run(go)
    # the attack works: its own uid has none of the four left
    assert status == "1111", f"the attacker exhausted only {status} (pipes, inotify, mqueue, signals)"
    detail = [(t.id, t.message[:200]) for t in outcome.tests if t.outcome != "passed"]
    assert outcome.status is Status.PASSED, (outcome.detail, detail)
    assert apply_policy(outcome, binary, IntegrityMode.OBSERVE) == 1.0


NO_PASSWD = '''\
import getpass, os, pathlib, subprocess, sys, tempfile


def lookups():
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"x")
        tmp = os.path.dirname(f.name)
    import numpy
    return {"uid": os.getuid(), "user": getpass.getuser(), "home": os.path.expanduser("~"),
            "path_home": str(pathlib.Path.home()), "tmp": tmp, "numpy": int(numpy.arange(4).sum()),
            "python": subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True,
                                     text=True).stdout.strip()}
'''

NO_PASSWD_TESTS = '''\
import pwd

from solution import lookups


def test_lookups_work_for_a_uid_without_a_passwd_entry():
    got = lookups()
    assert 0x70000000 <= got["uid"] <= 0x7FFDFFFF, got
    try:
        pwd.getpwuid(got["uid"])
    except KeyError:
        pass
    else:
        raise AssertionError("the uid has a passwd entry")
    assert got["user"] == "sandbox" and got["home"] == got["path_home"] == "/tmp", got
    assert got["tmp"] == "/tmp" and got["numpy"] == 6 and got["python"] == "42", got
'''


@pytest.mark.parametrize("mode", ["isolated", "inprocess"])
def test_honest_code_needs_no_passwd_entry_for_its_uid(python_image: str, mode: str) -> None:
    async def go() -> Outcome:
        async with DockerSandbox(client_id=f"test-{uuid.uuid4().hex}") as sandbox:
            return await PytestVerifier(python_image).verify(
                PytestJob(solution=NO_PASSWD, tests=NO_PASSWD_TESTS, mode=mode), sandbox.run)

    outcome = anyio.run(go)
    assert outcome.status is Status.PASSED, (outcome.detail, [(t.id, t.message[:300]) for t in outcome.tests])
