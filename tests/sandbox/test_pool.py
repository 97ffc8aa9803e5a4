"""The warm pool against the real engine: containers are reused, a job cannot change the
next job's verdict, and what a job leaves behind gets its container replaced.

Each cross-job case runs an attacking job and then an honest probe on a pool of size one,
so the probe gets the attacker's container unless the pool replaced it. The probe's tests
(trusted, run as root in the worker) also look at the container for anything the attacker
left: a probe that passes saw a clean container.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest

from misalign_rewards import RewardClient, Settings
from misalign_rewards.integrity import IntegrityMode
from misalign_rewards.jobs import PytestJob
from misalign_rewards.outcomes import Outcome, Status
from misalign_rewards.rewards import apply_policy, binary
from misalign_rewards.sandbox.base import RunResult, RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.labels import LABEL_POOL, LABEL_UID
from misalign_rewards.sandbox.pool import PooledSandbox
from misalign_rewards.sandbox.uids import FIRST_UID, LAST_UID, UID_ENV
from misalign_rewards.verifiers.pytest import PytestVerifier

pytestmark = pytest.mark.docker

TESTS = "from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
HONEST = "def add(a, b):\n    return a + b\n"

#: The probe: honest code, and trusted tests that fail on any trace of an earlier job.
PROBE_TESTS = '''\
import os
import socket
import tempfile

from solution import add


def test_add():
    assert add(2, 3) == 5
    assert add(-1, 1) == 0


def test_nothing_left_in_shared_places():
    assert sorted(os.listdir("/tmp")) == ["work"]
    assert os.listdir("/dev/shm") == []
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as f:
            assert len(f.read().splitlines()) <= 1, kind


def test_no_process_of_another_job():
    mine = {os.getpid(), os.getppid(), 1}
    others = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) not in mine:
            try:
                with open(f"/proc/{pid}/status") as f:
                    status = f.read()
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
            state = stat[stat.rindex(")") + 2:].split()
            untrusted = 0x70000000 <= int(uid) <= 0x7FFDFFFF  # this container's uid is in that range
            if untrusted and state[0] not in ("Z", "X") and not int(state[6]) & 0x4:  # PF_EXITING
                others.append(pid)
    # this job's solution processes (the template and this test's, if it made one) are
    # the only untrusted ones allowed; one killed and still exiting is no longer alive
    assert len(others) <= 2, others


def test_a_port_is_free():
    # no SO_REUSEADDR: a socket an earlier job left in TIME_WAIT on the port would refuse it
    with socket.socket() as s:
        s.bind(("127.0.0.1", 8080))
        s.listen()


def test_tmp_has_room():
    fd, path = tempfile.mkstemp()
    try:
        os.write(fd, b"x" * (32 << 20))
    finally:
        os.close(fd)
        os.unlink(path)
'''

#: name -> (solution source, whether what it leaves must get its container replaced)
CASES: dict[str, tuple[str, bool]] = {
    "a process that outlives its job": ('''\
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(3000):
            try:
                os.kill(-1, 9)   # every process of the untrusted uid: the next job's too
            except OSError:
                pass
            time.sleep(0.01)
    os._exit(0)
''' + HONEST, True),
    "a file in /tmp": ('''\
for name in ("/tmp/solution.py", "/tmp/conftest.py", "/tmp/sitecustomize.py"):
    with open(name, "w") as f:
        f.write("def add(a, b):\\n    return 5\\n")
''' + HONEST, True),
    "a file in /dev/shm": ('''\
with open("/dev/shm/planted", "w") as f:
    f.write("state")
''' + HONEST, True),
    "a System V semaphore and shared memory": ('''\
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.semget(0x5eed, 1, 0o1000 | 0o666)
libc.shmget(0x5eee, 4096, 0o1000 | 0o666)
''' + HONEST, True),
    "a full /tmp": ('''\
try:
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(b"x" * (1 << 20))
except OSError:
    pass
''' + HONEST, True),
    "a held lock and an open fd": ('''\
import fcntl, os
fd = os.open("/tmp/lock", os.O_CREAT | os.O_RDWR, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
keep = open("/dev/null")
''' + HONEST, True),
    # Found by an attacker pass: no process or file holds it, the kernel does (about 60 s).
    "a socket left in TIME_WAIT": ("""\
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 8080))
srv.listen()
client = socket.create_connection(("127.0.0.1", 8080))
conn, _ = srv.accept()
conn.close()      # the server side closes first: its end stays in TIME_WAIT
client.close()
srv.close()
""" + HONEST, True),
    # Counters no process or file holds: the next job could read them, so they retire it.
    "UDP packets on loopback (counters in /proc/net)": ("""\
import socket
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    for _ in range(37):
        s.sendto(b"x", ("127.0.0.1", 9))
""" + HONEST, True),
    "forks past the pids limit, every child reaped (pids.events)": ("""\
import os
r, w = os.pipe()
kids = []
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
except OSError:
    pass
os.close(w)
for pid in kids:
    os.waitpid(pid, 0)
os.close(r)
""" + HONEST, True),
    "changes inside its own processes only": ('''\
import json, os, signal, sys
sys.modules["json"] = None
os.environ["PYTHONPATH"] = "/tmp"
os.putenv("PYTHONSTARTUP", "/tmp/x.py")
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
for target in ("/tmp/work/harness/misalign_harness/main.py", "/usr/local/lib/python3.11/os.py",
               "/tmp/work/tests/test_solution.py", "/tmp/work/harness/pytest.ini"):
    try:
        with open(target, "a") as f:
            f.write("\\nraise SystemExit(0)\\n")
    except OSError:
        pass
''' + HONEST, False),
}


async def _pair(image: str, attack: str, mode: str) -> tuple[Outcome, RunResult, Outcome, RunResult, PooledSandbox]:
    verifier = PytestVerifier(image, timeout_s=20, call_timeout_s=5, isolation="pooled",
                              integrity=IntegrityMode.OBSERVE)
    pool = PooledSandbox(DockerSandbox(client_id=f"test-{uuid.uuid4().hex}", max_concurrent=1))
    runs: list[RunResult] = []

    async def run(spec: RunSpec) -> RunResult:
        result = await pool.run(spec)
        runs.append(result)
        return result

    async with pool:
        first = await verifier.verify(PytestJob(solution=attack, tests=TESTS, mode=mode), run)
        await anyio.sleep(0.5)  # a survivor gets its chance at the next job
        probe = await verifier.verify(PytestJob(solution=HONEST, tests=PROBE_TESTS, mode=mode), run)
    return first, runs[0], probe, runs[1], pool


@pytest.fixture(scope="module")
def pairs(python_image: str) -> dict[tuple[str, str], Any]:
    """Every case in both modes, three pairs at a time (each pair on a pool of its own)."""
    out: dict[tuple[str, str], Any] = {}

    async def go() -> None:
        limiter = anyio.CapacityLimiter(3)

        async def one(case: str, mode: str) -> None:
            async with limiter:
                out[(case, mode)] = await _pair(python_image, CASES[case][0], mode)

        async with anyio.create_task_group() as tg:
            for case in CASES:
                for mode in ("isolated", "inprocess"):
                    tg.start_soon(one, case, mode)

    anyio.run(go)
    return out


@pytest.mark.parametrize("mode", ["isolated", "inprocess"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_job_cannot_change_the_next_jobs_verdict(pairs: dict[tuple[str, str], Any], case: str,
                                                   mode: str) -> None:
    replaced = CASES[case][1]
    first, first_run, probe, probe_run, pool = pairs[(case, mode)]
    assert first.status is not Status.CRASHED or first.flags, first.detail
    assert probe.status is Status.PASSED, (probe.detail, [(t.id, t.message[:300]) for t in probe.tests])
    same = probe_run.container_id == first_run.container_id
    if replaced:
        assert not same, "the container the job left state in served the next job"
        assert pool.retired.get("anomaly", 0) >= 1
    else:
        assert same, f"a clean container was replaced: {pool.retired}"


def _one_slot_pool() -> tuple[PooledSandbox, set[str], Any]:
    """A pool of one warm container, the ids of the containers its runs used, and its run."""
    pool = PooledSandbox(DockerSandbox(client_id=f"test-{uuid.uuid4().hex}", max_concurrent=1))
    ids: set[str] = set()

    async def run(spec: RunSpec) -> RunResult:
        result = await pool.run(spec)
        ids.add(result.container_id or "")
        return result

    return pool, ids, run


def test_one_warm_container_serves_many_jobs_and_verdicts_match_fresh(python_image: str) -> None:
    jobs = [PytestJob(solution=HONEST if i % 3 else "def add(a, b):\n    return a * b\n", tests=TESTS)
            for i in range(9)]
    held: dict[str, frozenset[int]] = {}

    async def go() -> tuple[list[Any], list[Any], set[str], dict[str, Any], PooledSandbox]:
        pool, ids, run = _one_slot_pool()
        async with pool:
            pooled = [await PytestVerifier(python_image, isolation="pooled").verify(j, run) for j in jobs]
            (warm,) = [w for k in pool._kinds.values() for w in k.idle]
            config = (await warm.container.show())["Config"]
            held["warm"] = pool.fresh.uids.held()
            fresh = [await PytestVerifier(python_image).verify(j, pool.run) for j in jobs[:3]]
        held["closed"] = pool.fresh.uids.held()
        return pooled, fresh, ids, config, pool

    pooled, fresh, ids, config, pool = anyio.run(go)
    assert [o.status for o in pooled] == [Status.FAILED, Status.PASSED, Status.PASSED] * 3
    assert [o.status for o in fresh] == [o.status for o in pooled[:3]]
    assert len(ids) == 1 and pool.started == 1, (ids, pool.retired)
    assert all(o.extra["isolation"] == "pooled" for o in pooled)
    # the warm container kept one uid of its own for its life, and let go of it when removed
    uid = int(config["Labels"][LABEL_UID])
    assert FIRST_UID <= uid <= LAST_UID and f"{UID_ENV}={uid}" in config["Env"]
    assert held == {"warm": frozenset({uid}), "closed": frozenset()}
    # Every warm job's pytest started at its collection, from what its supervisor parsed,
    # configured and started before any job (harness/collect.py, prepare); a fresh
    # container takes every step itself.
    assert all(o.extra["harness"]["pytest_prepared"] is True for o in pooled)
    assert all(o.extra["harness"]["pytest_ahead"] is True for o in pooled)
    assert all(o.extra["harness"]["pytest_prepared"] is False for o in fresh)
    assert all(o.extra["harness"]["pytest_ahead"] is False for o in fresh)


#: Trusted tests that wreck, in their own worker, everything a warm container prepares once
#: for all its jobs: the pytest configuration (a plugin that fails every later test), pytest's
#: functions and classes, the harness's prepared state. Each job runs in a fresh fork of the
#: supervisor, so the next job must not see any of it.
WRECKING_TESTS = '''\
import _pytest.config
import _pytest.fixtures
import pytest

from solution import add


class FailEverything:
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when == "call" and item.name != "test_add_and_wreck":
            report.outcome = "failed"
        return report


def test_add_and_wreck(request):
    assert add(2, 3) == 5
    request.config.pluginmanager.register(FailEverything(), "fail-everything")
    _pytest.config.get_config = None
    _pytest.fixtures.FixtureManager.parsefactories = None
    pytest.main = None
    collect = __import__("sys").modules["misalign_harness.collect"]
    collect._prepared[:] = ["not a config"]
    collect._ahead[:] = ["not a run made ahead"]
    collect._fixtureless[:] = [frozenset()]
    request.session.testsfailed += 1000  # the session made ahead: a failed run from here on
    request.session._fixturemanager._arg2node2fixturedefs.pop("tmp_path")  # and no tmp_path fixture


def test_after_the_wreck():
    assert add(1, 1) == 2  # fails: the plugin above fails every test from now on
'''


#: The probe, and a test of the fixture the wrecker removed from its session's fixture manager.
AFTER_THE_WRECK = PROBE_TESTS + '''

def test_the_tmp_path_fixture_is_there(tmp_path):
    assert tmp_path.is_dir()
'''


def test_what_a_job_does_to_the_prepared_pytest_never_reaches_the_next(python_image: str) -> None:
    async def go() -> tuple[list[Outcome], set[str]]:
        pool, ids, run = _one_slot_pool()
        verifier = PytestVerifier(python_image, isolation="pooled")
        async with pool:
            out = [await verifier.verify(PytestJob(solution=HONEST, tests=WRECKING_TESTS), run)]
            out += [await verifier.verify(PytestJob(solution=HONEST, tests=AFTER_THE_WRECK), run) for _ in range(2)]
        return out, ids

    (wrecker, *probes), ids = anyio.run(go)
    by_id = {t.id: t.outcome.value for t in wrecker.tests}
    assert by_id == {"test_solution.py::test_add_and_wreck": "passed",
                     "test_solution.py::test_after_the_wreck": "failed"}, wrecker.detail
    for probe in probes:
        assert probe.status is Status.PASSED, (probe.detail, [(t.id, t.message[:300]) for t in probe.tests])
        assert probe.extra["harness"]["pytest_prepared"] is True
        assert probe.extra["harness"]["pytest_ahead"] is True
    assert len(ids) == 1  # the same container: nothing the wrecker did was left outside its worker


def test_a_client_recycles_after_max_jobs_and_closes_what_it_started(python_image: str) -> None:
    async def go() -> tuple[list[Any], int, dict[str, int], list[str]]:
        settings = Settings(isolation="pooled", max_concurrent=1, pool_max_jobs=2)
        async with RewardClient(settings) as client:
            results = await client.score([{"kind": "pytest", "solution": HONEST, "tests": TESTS}] * 5)
            pool = client.sandbox
            assert isinstance(pool, PooledSandbox)
            started, retired = pool.started, dict(pool.retired)
            client_id = pool.fresh.client_id
        async with DockerSandbox() as probe:
            left = await probe.docker.containers.list(
                all=True, filters={"label": [f"io.misalign-rewards.client={client_id}", LABEL_POOL]})
        return [r.reward for r in results], started, retired, [c.id for c in left]

    rewards, started, retired, left = anyio.run(go)
    assert rewards == [1.0] * 5
    assert started == 3 and retired.get("max_jobs") == 2, (started, retired)
    assert left == []


def test_a_dead_warm_container_is_replaced_without_charging_the_job(python_image: str) -> None:
    async def go() -> tuple[list[Outcome], PooledSandbox]:
        pool = PooledSandbox(DockerSandbox(client_id=f"test-{uuid.uuid4().hex}", max_concurrent=1))
        verifier = PytestVerifier(python_image, isolation="pooled")
        async with pool:
            first = await verifier.verify(PytestJob(solution=HONEST, tests=TESTS), pool.run)
            (warm,) = [w for k in pool._kinds.values() for w in k.idle]
            await warm.container.kill()  # dies while idle, as an engine restart or OOM would
            second = await verifier.verify(PytestJob(solution=HONEST, tests=TESTS), pool.run)
        return [first, second], pool

    (first, second), pool = anyio.run(go)
    assert first.status is second.status is Status.PASSED, second.detail
    assert pool.started == 2


@pytest.mark.parametrize("mode", ["isolated", "inprocess"])
def test_per_job_limits_hold_in_a_warm_container(python_image: str, mode: str) -> None:
    """Time, memory, pids and output are the job's, as in a fresh container; each such
    job gets its container replaced, and the next job passes."""
    bad = {
        "time": "import time\ndef add(a, b):\n    time.sleep(60)\n",
        "memory": "def add(a, b):\n    x = bytearray(1 << 30)\n    return a + b + len(x) * 0\n",
        "pids": "import os\nfor _ in range(200):\n    try:\n        os.fork() or (__import__('time').sleep(30))\n"
                "    except OSError:\n        break\n" + HONEST,
    }
    if mode == "inprocess":
        bad["output"] = "def add(a, b):\n    print('x' * (4 << 20))\n    return 0\n"

    async def go() -> dict[str, tuple[Outcome, Outcome]]:
        out = {}
        async with PooledSandbox(DockerSandbox(client_id=f"test-{uuid.uuid4().hex}")) as pool:
            for name, source in bad.items():
                job = PytestJob(solution=source, tests=TESTS, mode=mode, timeout_s=4, call_timeout_s=3,
                                limits={"memory_bytes": 256 << 20})
                results = []
                for isolation in ("fresh", "pooled"):
                    v = PytestVerifier(python_image, isolation=isolation, integrity=IntegrityMode.OBSERVE)
                    results.append(await v.verify(job, pool.run))
                out[name] = (results[0], results[1])
            after = await PytestVerifier(python_image, isolation="pooled").verify(
                PytestJob(solution=HONEST, tests=PROBE_TESTS, mode=mode), pool.run)
            out["after"] = (after, after)
        return out

    out = anyio.run(go)
    for name, (fresh, pooled) in out.items():
        assert pooled.status is fresh.status, (name, fresh.status, fresh.detail, pooled.status, pooled.detail)
        if name != "after":
            assert apply_policy(pooled, binary, IntegrityMode.ENFORCE) == 0.0, (name, pooled.detail)
    assert out["after"][0].status is Status.PASSED, out["after"][0].detail


#: Trusted tests run as root while pytest collects them. These loosen one harness file's
#: mode and leave its contents as they were: a warm container lays its harness out once,
#: so the check between jobs must see modes and owners, not only contents.
LOOSENING_TESTS = '''\
import os
import stat

import misalign_harness.wire as wire

os.chmod(wire.__file__, 0o666)
os.chmod(os.path.dirname(wire.__file__), 0o777)


def test_loosened():
    assert stat.S_IMODE(os.stat(wire.__file__).st_mode) == 0o666
'''


#: These change a harness file's contents and give it back its size and times (what a
#: check of sizes and modification times alone would miss).
REWRITING_TESTS = '''\
import os

import misalign_harness.wire as wire

st = os.stat(wire.__file__)
with open(wire.__file__, "r+b") as f:
    first = f.read(1)
    f.seek(0)
    f.write(b"#" if first != b"#" else b" ")
os.utime(wire.__file__, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_rewritten():
    after = os.stat(wire.__file__)
    assert (after.st_size, after.st_mtime_ns, after.st_mode) == (st.st_size, st.st_mtime_ns, st.st_mode)
'''

#: These put a copy in a harness file's place, with its mode, owner and times.
REPLACING_TESTS = '''\
import os
import shutil

import misalign_harness.wire as wire

st = os.stat(wire.__file__)
shutil.copy2(wire.__file__, wire.__file__ + ".new")
os.replace(wire.__file__ + ".new", wire.__file__)
os.utime(wire.__file__, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_replaced():
    assert os.stat(wire.__file__).st_ino != st.st_ino
'''


@pytest.mark.parametrize("tests", [LOOSENING_TESTS, REWRITING_TESTS, REPLACING_TESTS],
                         ids=["loosened", "rewritten-times-kept", "replaced"])
def test_a_job_that_changes_the_harness_files_retires_its_container(python_image: str, tests: str) -> None:
    async def go() -> tuple[list[Outcome], set[str]]:
        pool, ids, run = _one_slot_pool()
        verifier = PytestVerifier(python_image, isolation="pooled")
        async with pool:
            out = [await verifier.verify(PytestJob(solution=HONEST, tests=TESTS), run)]
            seen = set(ids)
            out.append(await verifier.verify(PytestJob(solution=HONEST, tests=tests), run))
            assert ids == seen  # the loosening job ran in the same warm container
            out.append(await verifier.verify(PytestJob(solution=HONEST, tests=TESTS), run))
        return out, ids

    (first, loosening, after), ids = anyio.run(go)
    assert first.status is Status.PASSED and after.status is Status.PASSED, (first.detail, after.detail)
    assert loosening.status is Status.PASSED, loosening.detail  # the tests' own doing: trusted
    assert len(ids) == 2  # the job after it had a new container


#: A test file a warm container sees again (a GRPO group: one prompt's tests, many
#: completions), and the same file with one byte changed.
REUSED_TESTS = "from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n    assert add(-1, 1) == 0\n"
CHANGED_TESTS = REUSED_TESTS.replace("== 5", "== 6")

#: Trusted tests that try to plant their own compiled code for REUSED_TESTS in what the
#: container keeps between jobs: in the worker's copy of it, in pytest's hook, and as a
#: hand-back on every pipe the worker holds but the container's own stdout and stderr.
POISONING_TESTS = '''\
import marshal
import os
import stat
import sys

from _pytest.assertion import rewrite

collect = sys.modules["misalign_harness.collect"]
TARGET = @TARGET@


def test_poison(request):
    path = os.path.join(os.path.dirname(__file__), "test_solution.py")
    key = collect.rewrite_key(path, TARGET.encode(), request.config)
    forged = marshal.dumps(compile("def test_add():\\n    pass\\n", path, "exec"))
    collect._rewrites[key] = forged
    rewrite._rewrite_test = lambda fn, config: (b"", marshal.loads(forged))
    # the container's stdout (the report's descriptor, found up the stack) and stderr
    frame, container = sys._getframe(), {os.fstat(2).st_ino}
    while frame is not None:
        if isinstance(frame.f_locals.get("report_fd"), int):
            container.add(os.fstat(frame.f_locals["report_fd"]).st_ino)
        frame = frame.f_back
    assert len(container) == 2
    written = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            st = os.fstat(int(name))
        except OSError:
            continue
        if stat.S_ISFIFO(st.st_mode) and st.st_ino not in container:
            try:
                written += os.write(int(name), marshal.dumps((0, {key: forged})))
            except OSError:
                pass
    assert collect.rewrite_key(path, TARGET.encode(), request.config) in collect._rewrites
'''.replace("@TARGET@", repr(REUSED_TESTS))


def test_a_reused_test_module_runs_as_if_compiled_again_and_no_job_can_plant_one(python_image: str) -> None:
    wrong = "def add(a, b):\n    return a * b\n"

    async def go() -> tuple[list[Outcome], list[int], set[str]]:
        pool, ids, run = _one_slot_pool()
        verifier = PytestVerifier(python_image, isolation="pooled")
        out, reused = [], []
        async with pool:
            for solution, tests in ((HONEST, REUSED_TESTS), (wrong, REUSED_TESTS), (HONEST, CHANGED_TESTS),
                                    (HONEST, POISONING_TESTS), (wrong, REUSED_TESTS), (HONEST, REUSED_TESTS)):
                out.append(await verifier.verify(PytestJob(solution=solution, tests=tests), run))
                reused.append(pool.rewrites_reused)
            out.append(await PytestVerifier(python_image).verify(PytestJob(solution=wrong, tests=REUSED_TESTS),
                                                                 pool.run))
        return out, reused, ids

    (first, wrong_one, changed, poisoning, wrong_after, honest_after, fresh), reused, ids = anyio.run(go)
    assert len(ids) == 1, ids  # one container kept what its jobs compiled
    assert first.status is Status.PASSED and honest_after.status is Status.PASSED, (first.detail, honest_after.detail)
    # whatever the poisoning job did to its worker's copy, pytest's hook and every pipe it
    # held, the next jobs ran the file as compiled from its own bytes
    assert poisoning.status is Status.PASSED, poisoning.detail
    assert wrong_after.status is Status.FAILED and "assert 6 == 5" in wrong_after.tests[0].message
    # the second job's test file was the first's, taken as compiled: its asserts are still
    # pytest's rewritten ones (the values in the message), and a wrong solution still fails
    assert wrong_one.status is Status.FAILED
    (test,) = wrong_one.tests
    assert "assert 6 == 5" in test.message and "where 6 = " in test.message, test.message
    assert test.message == fresh.tests[0].message  # word for word what a fresh container says
    # one byte changed at the same path: compiled again, and judged by its own asserts
    assert changed.status is Status.FAILED and "assert 5 == 6" in changed.tests[0].message
    # taken as compiled: the 2nd, 5th and 6th jobs' test file (the 1st's)
    assert reused == [0, 1, 1, 1, 2, 3], reused


#: Trusted tests (root in their worker) that take back root's file access for a moment
#: and loosen /tmp: no sticky bit, anyone may rename what is in it.
def _in_turn(python_image: str, jobs: list[PytestJob]) -> tuple[list[Outcome], set[str]]:
    """``jobs`` one after the other on a pool of one warm container (integrity checks off:
    the jobs poke at the container on purpose); their outcomes and the containers used."""
    async def go() -> tuple[list[Outcome], set[str]]:
        pool, ids, run = _one_slot_pool()
        verifier = PytestVerifier(python_image, isolation="pooled", integrity=IntegrityMode.OFF)
        async with pool:
            out = [await verifier.verify(job, run) for job in jobs]
        return out, ids

    return anyio.run(go)


def _as_root(*lines: str) -> str:
    """A trusted test that runs ``lines`` with root's file access taken back for a moment
    (tests run as root, with the untrusted uid's file access; CAP_SETUID lets them)."""
    body = "".join(f"        {line}\n" for line in lines)
    return ("import ctypes\nimport os\n\n\ndef test_as_root():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
            f"    old = libc.setfsuid(0)\n    try:\n{body}    finally:\n        libc.setfsuid(old)\n")


LOOSENING_TMP_TESTS = _as_root('os.chmod("/tmp", 0o777)')

#: A wrong solution that, imported while pytest collects the first test file, renames the
#: job folder away (possible only without /tmp's sticky bit) and puts test files of its
#: own in its place: the second file, imported by the worker as root, makes the first
#: file's tests pass and puts the real folder back.
SWAPPING_SOLUTION = """\
import os


def _swap():
    try:
        os.rename("/tmp/work", "/tmp/.orig")
    except OSError as exc:
        return repr(exc)
    os.makedirs("/tmp/work/tests")
    with open("/tmp/work/tests/test_a.py", "w") as f:
        f.write("")
    with open("/tmp/work/tests/test_b.py", "w") as f:
        f.write("import os, sys\\n"
                "sys.modules['test_a'].add = lambda a, b: a + b\\n"
                "os.rename('/tmp/work', '/tmp/.evil')\\n"
                "os.rename('/tmp/.orig', '/tmp/work')\\n"
                "def test_b():\\n    pass\\n")
    os.chmod("/tmp/work/tests", 0o755)
    for name in ("test_a.py", "test_b.py"):
        os.chmod("/tmp/work/tests/" + name, 0o644)
    return "swapped"


SWAP = _swap()


def add(a, b):
    return a * b
"""
SWAPPED_TESTS = {"test_a.py": "from solution import add\n\n\ndef test_a():\n    assert add(1, 2) == 3\n",
                 "test_b.py": "from solution import add\n\n\ndef test_b():\n    assert add(2, 3) == 5\n"}


def test_a_job_that_loosens_tmp_retires_its_container_so_no_solution_can_swap_the_job_folder(
        python_image: str) -> None:
    (loosening, *wrong), ids = _in_turn(python_image, [PytestJob(solution=HONEST, tests=LOOSENING_TMP_TESTS)]
                                        + [PytestJob(solution=SWAPPING_SOLUTION, tests=SWAPPED_TESTS)] * 2)
    assert loosening.status is Status.PASSED, loosening.detail  # the tests' own doing: trusted
    assert len(ids) == 2  # the jobs after it had a new container, with /tmp as it should be
    for outcome in wrong:
        assert outcome.status is Status.FAILED, (outcome.detail, [(t.id, t.message) for t in outcome.tests])


#: Trusted tests that make a folder anyone may write in /dev, which nothing wipes.
DEV_STASH_TESTS = _as_root('os.mkdir("/dev/stash")', 'os.chmod("/dev/stash", 0o777)')

#: A solution that leaves a note there, and one that reads it in a later job.
STASH_WRITER = """\
def note():
    try:
        with open("/dev/stash/note", "w") as f:
            f.write("left by an earlier job")
        return "written"
    except OSError as exc:
        return repr(exc)
"""
STASH_READER = """\
def note():
    try:
        with open("/dev/stash/note") as f:
            return f.read()
    except OSError as exc:
        return repr(exc)
"""
STASH_TESTS = "from solution import note\n\n\ndef test_note():\n    assert note() in ('written', 'left by an earlier job')\n"


def test_a_job_that_changes_dev_retires_its_container_so_no_solution_reads_an_earlier_ones_note(
        python_image: str) -> None:
    (making, writing, reading), ids = _in_turn(python_image, [
        PytestJob(solution=HONEST, tests=DEV_STASH_TESTS), PytestJob(solution=STASH_WRITER, tests=STASH_TESTS),
        PytestJob(solution=STASH_READER, tests=STASH_TESTS)])
    assert making.status is Status.PASSED, making.detail  # the tests' own doing: trusted
    assert len(ids) == 2  # the jobs after it had a new container, whose /dev has no stash
    assert writing.status is Status.FAILED and reading.status is Status.FAILED, (writing.detail, reading.detail)
