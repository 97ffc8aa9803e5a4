"""The harness's stray count (harness/processes.py ``strays``) on real processes of this host.

A process that was SIGKILLed spends a while in its exit (its memory being freed: tens to
hundreds of milliseconds for a large one under load) in state R, before it is a zombie.
It can never run user code again, so it is no stray; counting it made the observe-only
P19 flag appear on attacks that start no process, depending on load.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from misalign_rewards.harness import processes

#: a uid no process of this host has (checked), standing in for the untrusted one
UID = 10011


def _state(pid: int) -> tuple[str, bool] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[0].decode(), bool(int(fields[6]) & processes.PF_EXITING)


def _start_big_process() -> int:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            os.setresgid(UID, UID, UID)
            os.setresuid(UID, UID, UID)
            big = bytearray(1 << 30)
            for i in range(0, len(big), 4096):
                big[i] = 1
            os.write(w, b"x")
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.close(r)
    return pid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process of another uid")
def test_a_process_in_its_exit_is_not_a_stray() -> None:
    assert not processes.live_processes(UID), f"uid {UID} is in use on this host: pick another for the test"
    seen_exiting = 0
    for _ in range(10):
        pid = _start_big_process()
        try:
            assert processes.strays(UID) == 1  # alive: counted
            os.kill(pid, signal.SIGKILL)
            while (state := _state(pid)) is not None and state[0] != "Z":
                if state[1]:
                    assert processes.strays(UID) == 0, "a process in its exit was counted as a stray"
                    seen_exiting += 1
        finally:
            os.waitpid(pid, 0)
        if seen_exiting >= 3:
            break
    # the check above ran while the process was in its exit, not only before or after
    assert seen_exiting >= 3
    assert processes.strays(UID) == 0
