"""The zygote's bookkeeping of its children (``zygote._Children``): exit statuses are
collected as children end, a wait is woken by the child's end (a pidfd), and the end of an
io case waits for every child it killed before it looks for what is left.

Runs on the host: the children are plain forks of the test process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from misalign_rewards.harness import zygote


def _child(code: int | None, sleep_s: float = 0.0) -> int:
    pid = os.fork()
    if pid == 0:
        if sleep_s:
            time.sleep(sleep_s)
        os._exit(code or 0)
    return pid


def test_wait_returns_the_exit_code_of_a_child_that_ends() -> None:
    children = zygote._Children()
    pid = _child(7, sleep_s=0.05)
    children.started(pid)
    assert children.wait(pid, 10.0) == 7
    assert pid not in children.live
    assert pid not in children.status  # handed over once


def test_wait_gives_up_on_a_child_that_runs_on_and_keeps_it_live() -> None:
    children = zygote._Children()
    pid = _child(0, sleep_s=30.0)
    children.started(pid)
    try:
        assert children.wait(pid, 0.1) is None
        assert pid in children.live
    finally:
        os.kill(pid, signal.SIGKILL)
    assert children.wait(pid, 10.0) == -signal.SIGKILL


def test_wait_all_collects_every_killed_child() -> None:
    children = zygote._Children()
    pids = [_child(0, sleep_s=30.0) for _ in range(5)]
    for pid in pids:
        children.started(pid)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    children.wait_all(10.0)
    assert children.live == set()
    assert {children.status[pid] for pid in pids} == {-signal.SIGKILL}


def test_wait_all_returns_at_its_budget_when_a_child_lives_on() -> None:
    children = zygote._Children()
    pid = _child(0, sleep_s=30.0)
    children.started(pid)
    try:
        children.wait_all(0.1)
        assert children.live == {pid}
    finally:
        os.kill(pid, signal.SIGKILL)
        children.wait(pid, 10.0)


def test_a_pid_used_again_does_not_inherit_an_old_exit_status() -> None:
    children = zygote._Children()
    pid = _child(3)
    children.started(pid)
    assert children.wait(pid, 10.0) == 3
    children.status[pid] = 99  # as if kept from an earlier child of this pid
    children.started(pid)
    assert pid not in children.status


def test_waiting_needs_no_pidfd() -> None:
    """Where pidfds are missing (Linux before 5.3), a wait polls instead."""
    if not hasattr(os, "pidfd_open"):
        pytest.skip("this Python has no os.pidfd_open; the polling path is the only one")
    children = zygote._Children()
    pid = _child(5, sleep_s=0.05)
    children.started(pid)
    real = os.pidfd_open
    try:
        def missing(*_: object) -> int:
            raise OSError(38, "Function not implemented")

        os.pidfd_open = missing  # type: ignore[assignment]
        assert zygote._until_exited([pid], 1.0) is False
        assert children.wait(pid, 10.0) == 5
    finally:
        os.pidfd_open = real  # type: ignore[assignment]


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="calls the exit system call by its x86_64 number")
def test_a_child_whose_first_thread_ends_before_the_rest_is_waited_for_to_the_end() -> None:
    """Its leader exits alone (the raw exit system call) while another thread runs on:
    the child is not reapable until that thread ends the process, and the wait must
    still give its exit code (some kernels wake a pidfd at the leader's exit)."""
    pid = os.fork()
    if pid == 0:
        import ctypes
        import threading

        threading.Thread(target=lambda: (time.sleep(0.3), os._exit(4))).start()
        ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: this thread only
        os._exit(99)  # never reached
    children = zygote._Children()
    children.started(pid)
    assert children.wait(pid, 10.0) == 4
