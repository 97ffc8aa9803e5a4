"""The untrusted-uid allocator (no engine): uids in range, held by one holder at a time
across processes, let go on release and when the holder dies; and the harness takes only
what the client hands out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from misalign_rewards.harness import privileges
from misalign_rewards.sandbox import uids
from misalign_rewards.sandbox.uids import FIRST_UID, LAST_UID, UidAllocator

_HOLD = textwrap.dedent("""\
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o444)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.read()
""")


def test_the_harness_and_the_client_agree_on_the_range_and_the_variable() -> None:
    assert (privileges.FIRST_UNTRUSTED_UID, privileges.LAST_UNTRUSTED_UID, privileges.UID_ENV) == (FIRST_UID, LAST_UID,
                                                                                    uids.UID_ENV)
    # every trusted uid is outside it
    assert not any(FIRST_UID <= u <= LAST_UID for u in (0, 10002, privileges.SWEEPER_UID, 65534))
    assert LAST_UID < 2**31 - 1


def test_leases_are_distinct_in_range_and_let_go(tmp_path: Path) -> None:
    alloc = UidAllocator(str(tmp_path / "uids"))
    leases = [alloc.lease() for _ in range(200)]
    got = [lease.uid for lease in leases]
    assert len(set(got)) == 200 and all(FIRST_UID <= u <= LAST_UID for u in got)
    assert sorted(os.listdir(tmp_path / "uids")) == sorted(str(u) for u in got)
    assert os.stat(tmp_path / "uids").st_mode & 0o7777 == 0o1777
    for lease in leases:
        lease.release()
        lease.release()  # idempotent
    assert os.listdir(tmp_path / "uids") == [] and alloc.held() == frozenset()


def test_a_uid_another_process_holds_is_never_handed_out(tmp_path: Path) -> None:
    alloc = UidAllocator(str(tmp_path))
    uid = FIRST_UID + 12345
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path / str(uid))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert alloc._take(str(tmp_path), uid) is None
        # a second allocator of this very process is another holder too
        mine = UidAllocator(str(tmp_path)).lease()
        assert alloc._take(str(tmp_path), mine.uid) is None
        mine.release()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    # the holder died: its uid is free again
    fd = alloc._take(str(tmp_path), uid)
    assert fd is not None
    os.close(fd)


def test_a_lock_file_unlinked_by_its_last_holder_is_not_taken(tmp_path: Path) -> None:
    alloc = UidAllocator(str(tmp_path))
    lease = alloc.lease()
    path = tmp_path / str(lease.uid)
    # someone opened the file just before the holder let go (and unlinked it)
    late = os.open(path, os.O_RDONLY)
    lease.release()
    try:
        assert not uids._lock(late, str(path))  # the lock is free, but the name is gone
        # ... or already someone else's file
        again = alloc._take(str(tmp_path), lease.uid)
        assert again is not None
        assert not uids._lock(late, str(path))
        os.close(again)
    finally:
        os.close(late)


def test_lock_files_nobody_holds_are_tidied_away_and_held_ones_kept(tmp_path: Path) -> None:
    for uid in (FIRST_UID + 1, FIRST_UID + 2):  # left by processes that ended
        (tmp_path / str(uid)).write_text("")
    held = tmp_path / str(FIRST_UID + 3)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(held)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        lease = UidAllocator(str(tmp_path)).lease()  # the first lease tidies the folder
        assert sorted(os.listdir(tmp_path)) == sorted([held.name, str(lease.uid)])
        lease.release()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert uids.tidy(str(tmp_path)) == 1 and os.listdir(tmp_path) == []


def test_without_a_usable_folder_uniqueness_holds_in_process(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    alloc = UidAllocator(str(blocker))  # not a folder
    leases = [alloc.lease() for _ in range(50)]
    assert len({lease.uid for lease in leases}) == 50
    assert alloc.held() == {lease.uid for lease in leases}


@pytest.mark.parametrize("raw", ["", "abc", "0", "10001", "10002", "10003", "65534", str(FIRST_UID - 1),
                                 str(LAST_UID + 1), "-5", " 1879048192"])
def test_the_harness_refuses_a_uid_outside_the_range(raw: str) -> None:
    assert privileges.take_untrusted_uid({privileges.UID_ENV: raw}) is not None
    with pytest.raises(RuntimeError):
        privileges.untrusted_uid()
    assert "no untrusted uid" in (privileges.check_privileges() or "")


def test_the_harness_takes_a_uid_in_the_range() -> None:
    try:
        assert privileges.take_untrusted_uid({privileges.UID_ENV: str(FIRST_UID + 7)}) is None
        assert privileges.untrusted_uid() == FIRST_UID + 7
    finally:
        privileges._untrusted.clear()
