"""The harness's fork for a process of one thread (harness/processes.py ``fork``): the
child is a working interpreter with random numbers of its own, and a process with more
threads gets ``os.fork()`` (whose child forgets the threads it did not bring).

Each check runs in a fresh interpreter: this test process may have threads of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

SCRIPT = '''
import os, random, sys, threading, json
sys.path.insert(0, {src!r})
from misalign_rewards.harness import processes

def child_report(w):
    os.write(w, json.dumps({{"random": random.random(), "threads": threading.active_count(),
                            "alone": processes.alone(), "pid_differs": os.getpid() != parent}}).encode())

random.seed(1234)
parent = os.getpid()
stop = threading.Event()
if {with_thread}:
    threading.Thread(target=stop.wait, daemon=True).start()
r, w = os.pipe()
pid = processes.fork(reseed={reseed})
if pid == 0:
    try:
        child_report(w)
    finally:
        os._exit(7)
os.close(w)
report = json.loads(os.read(r, 4096))
_, status = os.waitpid(pid, 0)
report["parent_alone"] = processes.alone()  # before the thread may end (stop.set below)
stop.set()
report["exit"] = os.waitstatus_to_exitcode(status)
report["parent_random"] = random.random()  # the parent's next number, from the same seed
print(json.dumps(report))
'''


def _run(with_thread: bool, reseed: bool = True) -> dict[str, object]:
    import json

    out = subprocess.run([sys.executable, "-c", SCRIPT.format(src=SRC, with_thread=with_thread, reseed=reseed)],
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_a_single_threaded_process_forks_a_working_child_with_its_own_random_numbers() -> None:
    report = _run(with_thread=False)
    assert report["parent_alone"] is True and report["alone"] is True
    assert report["exit"] == 7 and report["pid_differs"] is True
    assert report["threads"] == 1
    # the child reseeded: it does not draw the number the parent's seeded generator draws next
    assert report["random"] != report["parent_random"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_a_process_with_threads_gets_os_fork() -> None:
    report = _run(with_thread=True)
    assert report["parent_alone"] is False
    assert report["exit"] == 7
    # os.fork's child forgot the thread it did not bring; a plain fork's would still count it
    assert report["threads"] == 1 and report["alone"] is True
    assert report["random"] != report["parent_random"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
@pytest.mark.parametrize("with_thread", [False, True], ids=["alone", "with-a-thread"])
def test_without_reseeding_the_child_draws_what_its_parent_would_next(with_thread: bool) -> None:
    # a test's process forked from the solution's: it goes on with the solution's numbers,
    # as the next test does in plain pytest (os.fork's own hook would reseed them)
    report = _run(with_thread=with_thread, reseed=False)
    assert report["parent_alone"] is not with_thread and report["exit"] == 7
    assert report["random"] == report["parent_random"]
