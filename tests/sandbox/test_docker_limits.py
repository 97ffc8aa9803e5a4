"""Each limit of the default profile, tested by trying to break it in a real container."""

from __future__ import annotations

import hashlib
import os
import textwrap

import anyio
import pytest

from misalign_rewards.sandbox.base import Limits, RunResult, RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox
from misalign_rewards.sandbox.uids import FIRST_UID, LAST_UID

pytestmark = pytest.mark.docker


def py(image: str, code: str, **kw: object) -> RunSpec:
    return RunSpec(image=image, argv=["python", "-c", textwrap.dedent(code)], **kw)  # type: ignore[arg-type]


async def test_network_is_unreachable(sandbox: DockerSandbox, python_image: str) -> None:
    res = await sandbox.run(py(python_image, """
        import socket
        for target in [("1.1.1.1", 53), ("172.17.0.1", 2375), ("8.8.8.8", 443)]:
            try:
                socket.create_connection(target, timeout=2)
                print("CONNECTED", target)
            except OSError as exc:
                print("blocked", target, exc.errno)
        print(sorted(n for _, n in socket.if_nameindex()))
        """, timeout_s=20))
    out = res.stdout.decode()
    assert res.exit_code == 0, res.stderr
    assert "CONNECTED" not in out
    assert out.count("blocked") == 3
    assert "['lo']" in out  # no interface but loopback


async def test_root_filesystem_is_read_only(sandbox: DockerSandbox, python_image: str) -> None:
    res = await sandbox.run(py(python_image, """
        import os
        for path in ["/etc/evil", "/opt/venv/evil.py", "/evil", "/usr/local/bin/python"]:
            try:
                with open(path, "a") as f:
                    f.write("x")
                print("WROTE", path)
            except OSError as exc:
                print("denied", path, exc.errno)
        with open("/tmp/ok.txt", "w") as f:
            f.write("tmp is writable")
        print(open("/tmp/ok.txt").read())
        """))
    out = res.stdout.decode()
    assert "WROTE" not in out
    assert out.count("denied") == 4
    assert "tmp is writable" in out


async def test_tmp_holds_about_64_mb(sandbox: DockerSandbox, python_image: str) -> None:
    res = await sandbox.run(py(python_image, """
        import errno
        written = 0
        try:
            for i in range(20):  # 20 x 8 MiB = 160 MiB wanted, in files under the fsize limit
                with open(f"/tmp/fill{i}", "wb") as f:
                    for _ in range(8):
                        f.write(b"x" * (1 << 20))
                        f.flush()
                        written += 1 << 20
        except OSError as exc:
            print("stopped", errno.errorcode.get(exc.errno), written)
        else:
            print("WROTE ALL", written)
        """, timeout_s=30))
    words = res.stdout.decode().split()
    assert words[0] == "stopped" and words[1] == "ENOSPC", res.stdout
    assert 48 * 2**20 <= int(words[2]) <= 64 * 2**20


async def test_allocating_1_gb_is_reported_as_oom(sandbox: DockerSandbox, python_image: str) -> None:
    res = await sandbox.run(py(python_image, """
        block = b"x" * (1 << 30)  # filled, so every page is touched
        print("SURVIVED", len(block))
        """, timeout_s=60))
    assert res.oom_killed
    assert not res.timed_out
    assert b"SURVIVED" not in res.stdout
    assert res.exit_code == 137


async def test_fork_bomb_is_held_by_the_pids_limit(sandbox: DockerSandbox, python_image: str) -> None:
    res = await sandbox.run(py(python_image, """
        import os, sys
        first = True
        while True:
            try:
                os.fork()
            except OSError as exc:
                if first:
                    first = False
                    sys.stdout.write(f"fork refused {exc.errno}\\n")
                    sys.stdout.flush()
        """, timeout_s=8))
    assert res.timed_out  # the bomb never stops by itself; the deadline ends it
    assert b"fork refused 11" in res.stdout  # EAGAIN: the pids cgroup said no
    # and the engine got the container back: nothing of this client is left
    from misalign_rewards.sandbox.reaper import list_labelled

    assert await list_labelled(sandbox, sandbox.client_id) == []


async def test_busy_loop_is_killed_at_its_deadline(sandbox: DockerSandbox, python_image: str) -> None:
    res = await sandbox.run(py(python_image, "while True: pass", timeout_s=2))
    assert res.timed_out
    assert res.exit_code is None
    assert 2.0 <= res.durations.run < 2.0 + 10  # ended by us, not by the process


async def test_output_flood_stops_at_the_cap(sandbox: DockerSandbox, python_image: str) -> None:
    limits = Limits(output_bytes=1 << 20)
    res = await sandbox.run(py(python_image, """
        import sys
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        print("FINISHED", file=sys.stderr)
        """, limits=limits, timeout_s=60))
    assert res.output_limit_exceeded
    assert res.stdout_truncated
    assert len(res.stdout) == 1 << 20
    assert res.exit_code is None  # we killed it; it did not finish
    assert b"FINISHED" not in res.stderr


async def test_process_runs_as_a_uid_of_its_containers_own_without_capabilities(sandbox: DockerSandbox,
                                                                               python_image: str) -> None:
    code = """
        import os
        print(os.getuid(), os.getgid(), os.environ["MISALIGN_UNTRUSTED_UID"])
        for attempt in (lambda: os.setuid(0), lambda: os.chown("/tmp", 0, 0),
                        lambda: os.mknod("/tmp/dev", 0o600 | 0o020000, os.makedev(1, 3))):
            try:
                attempt()
                print("ALLOWED")
            except OSError as exc:
                print("denied", exc.errno)
        """
    # two at once: each container has an untrusted uid of its own (no passwd entry)
    results: list[RunResult] = []

    async def one() -> None:
        results.append(await sandbox.run(py(python_image, code)))

    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(one)
    uids = set()
    for res in results:
        uid, gid, given, *rest = res.stdout.decode().split()
        assert uid == gid == given and FIRST_UID <= int(uid) <= LAST_UID, res.stdout
        assert "ALLOWED" not in rest and rest.count("denied") == 3
        uids.add(uid)
    assert len(uids) == 2
    assert not sandbox.uids.held()  # each uid let go once its container was removed


async def test_five_mb_of_files_arrive_byte_exact(sandbox: DockerSandbox, python_image: str) -> None:
    files = {f"data/part{i}.bin": os.urandom(1 << 20) for i in range(5)}
    files["data/nested/deeper/text.txt"] = "héllo\nwörld\n".encode()
    res = await sandbox.run(py(python_image, """
        import hashlib, pathlib
        for p in sorted(pathlib.Path("data").rglob("*")):
            if p.is_file():
                print(p.as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
        """, files=files, timeout_s=30))
    got = dict(line.split() for line in res.stdout.decode().splitlines())
    assert got == {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}


async def test_stdin_follows_the_files_and_ends(sandbox: DockerSandbox, python_image: str) -> None:
    payload = os.urandom(300_000)  # larger than a pipe buffer
    res = await sandbox.run(py(python_image, """
        import hashlib, sys
        data = sys.stdin.buffer.read()
        print(len(data), hashlib.sha256(data).hexdigest(), open("f.txt").read())
        """, files={"f.txt": b"file"}, stdin=payload))
    assert res.stdout.decode().split() == [str(len(payload)), hashlib.sha256(payload).hexdigest(), "file"]


async def test_file_size_and_open_files_limits(sandbox: DockerSandbox, python_image: str) -> None:
    limits = Limits(fsize_bytes=1 << 20, nofile=64)
    res = await sandbox.run(py(python_image, """
        import errno, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            with open("/tmp/big", "wb") as f:
                f.write(b"x" * (2 << 20))
            print("BIG WRITTEN")
        except OSError as exc:
            print("fsize", errno.errorcode[exc.errno])
        handles = []
        try:
            while True:
                handles.append(open("/dev/null"))
        except OSError as exc:
            print("nofile", errno.errorcode[exc.errno], len(handles) < 64)
        """, limits=limits))
    assert res.stdout.decode().split() == ["fsize", "EFBIG", "nofile", "EMFILE", "True"]


async def test_a_process_that_closes_its_output_early_is_waited_for(sandbox: DockerSandbox,
                                                                    python_image: str) -> None:
    # output ends long before the process does: the exit code must still be its own
    res = await sandbox.run(py(python_image, """
        import os, time
        print("bye", flush=True)
        os.close(1)
        os.close(2)
        time.sleep(1.5)
        os._exit(3)
        """, timeout_s=30))
    assert res.stdout == b"bye\n"
    assert res.exit_code == 3
    assert not res.timed_out and not res.oom_killed
    assert res.durations.run >= 1.5
