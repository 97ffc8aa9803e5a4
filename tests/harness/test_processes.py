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

from misalign_rewards.harness import privileges, processes

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


def _start_named_process(name: bytes) -> tuple[int, int]:
    """A process of UID that names itself ``name`` (its ``comm``, the first line of its
    status) and waits; returns (pid, the fd whose closing ends it)."""
    import ctypes

    r, w = os.pipe()
    gate_r, gate_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            os.close(gate_w)
            ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
            os.setresgid(UID, UID, UID)
            os.setresuid(UID, UID, UID)
            os.write(w, b"x")
            os.read(gate_r, 1)
        finally:
            os._exit(0)
    os.close(w)
    os.close(gate_r)
    assert os.read(r, 1) == b"x"
    os.close(r)
    return pid, gate_w


def test_a_status_field_is_read_from_its_own_line_never_from_the_name() -> None:
    status = (b"Name:\tUid:\t0\t0\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t10011\t10011\t10011\t10011\n"
              b"SigPnd:\t0000000000000100\nCapEff:\t0000000000000000")
    assert processes.status_field(status, b"Uid") == b"10011\t10011\t10011\t10011"
    assert processes.status_field(status, b"State") == b"S (sleeping)"
    assert processes.status_field(status, b"CapEff") == b"0000000000000000"  # the last line, no newline
    assert processes.status_field(status, b"Name") is None  # the first line is the process's own word
    assert processes.status_field(status, b"NoNewPrivs") is None
    assert processes._killed(status)  # SIGKILL (9) pending
    assert not processes._killed(status.replace(b"0100", b"0000"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process of another uid")
def test_scans_read_the_uid_of_a_process_whose_name_looks_like_a_field() -> None:
    assert not processes.live_processes(UID), f"uid {UID} is in use on this host: pick another for the test"
    for name in (b"Uid:\t0\t0\t0\t0", b"Uid: 0", b"State:\tZ", b"CapEff:\tffff"):
        pid, gate = _start_named_process(name)
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                assert f.read().rstrip(b"\n") == name[:15]
            assert processes.live_processes(UID) == {pid}
            assert processes.strays(UID) == 1
        finally:
            os.close(gate)
            os.waitpid(pid, 0)
    assert not processes.live_processes(UID)
    assert (privileges.status_field(privileges.own_status(), b"Uid") or b"").split()[0] == str(os.getuid()).encode()


def test_a_proc_file_is_read_to_its_end(tmp_path) -> None:
    # The wipe lists every System V object from /proc/sysvipc/*, which a job can make long:
    # nothing past the first read may be missed.
    big = b"".join(b"%10d line of a long listing\n" % i for i in range(10_000))
    assert len(big) > 4 * (1 << 16)
    (tmp_path / "listing").write_bytes(big)
    assert privileges.read_proc(str(tmp_path / "listing")) == big
    assert privileges.read_proc("/proc/self/status").startswith(b"Name:")
