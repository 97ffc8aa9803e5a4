"""The supervisor of a warm container (``isolation="pooled"``).

It starts once per container, as root with the harness's four capabilities, and holds no
secret: it forks the zygote first thing, imports pytest and the harness and takes every
step of a job's pytest run that comes before collection and depends on no job (parsing
the command line this container's jobs use, configuring the plugins, starting the
session: :func:`collect.prepare`), so every job starts at its own collection, then loops:

1. fork a **worker**. The worker, not the supervisor, reads the next job from stdin (a
   frame: ``<length>\\n<JSON {"files": {path: base64}, "stdin": base64}>``), so the job's
   key and files arrive after the fork and never enter the supervisor's memory (but for
   the compiled form of its test files, below). It says ``@@misalign-pool begin {}`` once
   the whole frame is in and writes the job's files. Before any code of the job runs, it
   compiles the job's test files (or takes them as compiled for an earlier job) and hands
   what it compiled back on a pipe it then closes (:func:`collect.precompile`). It runs the
   job exactly as a fresh container's harness would (:func:`main.serve_message`): same
   layout, same zygote, same sealed report on stdout. A worker that waits ``idle_s`` for
   a frame ends, and with it the container: an idle pool shrinks by itself.
2. wait for the worker; then, between jobs: kill every process of the untrusted uid and
   wait until none is left, then wipe what the untrusted uid could write (``/tmp``,
   ``/dev/shm``, ``/dev/mqueue``, System V IPC objects): one request to the zygote, as at
   the end of an io case (:meth:`Zygote.end_case`); then the job's own files; check its
   own integrity (the harness files unchanged in contents, modes and owners, no process
   but PID 1, itself and the zygote, the same open descriptors as at the start, nothing
   left in the wiped places);
   note the container's counters the job moved that the next could read (:data:`COUNTERS`);
   keep the test modules the worker handed back (:func:`collect.keep_rewrites`).
3. say what it found on stdout: ``@@misalign-pool done {JSON}``. A container with any
   problem stops serving (the client recycles it anyway).

Only trusted processes ever write the container's stdout and stderr: untrusted ones hold
neither (see the zygote).

Stdlib + pytest only; runs inside the sandbox image.
"""

from __future__ import annotations

import base64
import fcntl
import gc
import json
import os
import re
import select
import shutil
import sys
import time
import traceback
from collections.abc import Mapping

from . import layout, processes, schema
from . import main as job_main
from .privileges import check_privileges, make_nondumpable, take_untrusted_uid
from .zygote import Zygote, ZygoteError

#: Largest job frame (files and stdin of one job).
MAX_FRAME = 128 << 20
#: Worker exit code: stdin is at its end (or idle too long), the supervisor is done.
EXIT_EOF = 3
#: Worker exit code: the frame was not one the client writes.
EXIT_BAD_FRAME = 4
#: Places the untrusted uid can write (besides its own folders), wiped between jobs.
SHARED_DIRS = ("/tmp", "/dev/shm", "/dev/mqueue")
_SAFE_REL = re.compile(r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_.\-/]+$")


def say(fd: int, what: str, data: Mapping[str, object]) -> None:
    """One line to the pool: ``<POOL_TAG> <what> <JSON>`` (schema.py)."""
    line = schema.POOL_TAG + b" " + what.encode() + b" " + json.dumps(data, separators=(",", ":")).encode() + b"\n"
    view = memoryview(line)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_header(fd: int) -> int | None:
    """The frame's length line, read a byte at a time: nothing past the frame is taken
    from stdin, which the next worker reads."""
    digits = bytearray()
    while True:
        b = os.read(fd, 1)
        if not b:
            return None
        if b == b"\n":
            break
        digits += b
        if len(digits) > 12 or not b.isdigit():
            raise ValueError("bad frame header")
    n = int(digits)
    if n > MAX_FRAME:
        raise ValueError("frame too large")
    return n


def _write_files(workdir: str, files: dict[str, str]) -> None:
    for rel, data in files.items():
        if not isinstance(rel, str) or not _SAFE_REL.match(rel):
            raise ValueError(f"bad file path {rel!r}")
        path = os.path.join(workdir, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            view = memoryview(base64.b64decode(data))
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


def _worker(out: int, zygote: Zygote, workdir: str, nondumpable: bool, idle_s: float,
            back: int) -> int:
    """One job, in a fresh fork of the supervisor. Its frame is read only now. Its test
    files, compiled, go back on ``back`` (:func:`_precompile`)."""
    if not select.select([0], [], [], idle_s)[0]:
        return EXIT_EOF
    try:
        n = _read_header(0)
    except ValueError:
        return EXIT_BAD_FRAME
    if n is None:
        return EXIT_EOF
    started = time.monotonic()
    body = _read_exact(0, n)
    if body is None:
        return EXIT_BAD_FRAME
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the next job's frame is the next worker's
    os.close(null)
    say(out, "begin", {})
    try:
        frame: schema.PoolFrame = json.loads(body)
        files = frame.get("files") or {}
        stdin = base64.b64decode(frame["stdin"])
        if not isinstance(files, dict):
            raise ValueError("files is not an object")
        _write_files(workdir, files)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        print(f"supervisor: bad frame: {exc}", file=sys.stderr)
        return EXIT_BAD_FRAME
    del body, frame
    _precompile(stdin, back)
    return job_main.serve_message(stdin, out, zygote, started, nondumpable)


def _precompile(stdin: bytes, back: int) -> None:
    """Before any code of the job runs: its test files compiled, or taken from what the
    supervisor kept, and what was new handed back on ``back``, which is then closed, so
    nothing the job does later can write there (:func:`collect.precompile`)."""
    from . import collect, isolated  # import cost of forked processes: the supervisor's, after the zygote's fork

    try:
        try:
            message = json.loads(stdin)
            paths = isolated.pytest_modules(message["config"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # the job's own run reports a bad message
        os.write(back, collect.precompile(paths))
    except OSError:
        pass  # nothing handed back: the supervisor keeps nothing of this job
    finally:
        os.close(back)


# -- between jobs ------------------------------------------------------------------------


def _tree_state(root: str) -> dict[str, tuple[int, ...]]:
    """Every file and folder under ``root`` as the kernel keeps it: inode, mode, owner,
    links, size, and the times of its last change of contents and of anything (ctime).
    Writing a file, changing its mode, owner or links, or putting another in its place
    all move ctime (or the inode); no process can set ctime back (only a change of the
    system clock could, which the container may not make), so comparing these shows any
    change to the files, contents included, without reading them (a hash of every file
    cost a third of the checks between jobs)."""
    st = os.lstat(root)
    out: dict[str, tuple[int, ...]] = {root: (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_nlink,
                                              st.st_mtime_ns, st.st_ctime_ns)}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[path] = (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_size,
                         st.st_mtime_ns, st.st_ctime_ns)
    return out


def _places(paths: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """The folders every job works in or under, as the kernel keeps them: inode, mode
    (the sticky bit of ``/tmp`` included) and owner. A job's trusted tests run as root:
    one that loosened ``/tmp`` would let a later job's solution rename the job folder
    away and put test files of its own in its place. Their times and contents change with
    every job; these do not."""
    out: dict[str, tuple[int, ...]] = {}
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        out[path] = (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid)
    # /dev's own entries too: nothing wipes it, so a folder a job's tests made there
    # (root, mode 0777) would carry one solution's files to the next
    try:
        names = os.listdir("/dev")
    except OSError:
        names = []
    for name in names:
        path = os.path.join("/dev", name)
        if path in out:
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        out[path] = (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid)
    return out


def _fds() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return out


def _sysv_objects() -> list[str]:
    found = []
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                found += [f"{kind} {line.split()[1]}" for line in f.readlines()[1:] if line.strip()]
        except OSError:
            pass
    return found


def _wipe_as_root(workdir: str, keep: set[str]) -> None:
    """What is left once the untrusted uid's own files are gone: the job's files (root's)."""
    for base in SHARED_DIRS:
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, name)
            if path in keep or any(k.startswith(path + "/") for k in keep):
                continue
            _remove(path)
    for name in os.listdir(workdir):
        path = os.path.join(workdir, name)
        if path not in keep:
            _remove(path)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
        try:
            os.rmdir(path)  # emptied by the untrusted wipe, but closed to root
        except OSError:
            pass
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


class _Baseline:
    """What the container looks like between jobs when all is well."""

    def __init__(self, workdir: str, harness_root: str, zygote: Zygote) -> None:
        self.workdir = workdir
        self.harness_root = harness_root
        self.keep = {workdir, harness_root}
        self.tree = _tree_state(harness_root)
        self.place_paths = ("/", "/dev", os.path.dirname(workdir) or "/", workdir, *SHARED_DIRS)
        self.places = _places(self.place_paths)
        self.fds = _fds()
        self.pids = {1, os.getpid(), zygote.pid}
        self.unix = _sockets()[1]
        self.counters = _counters()
        self.zygote = zygote

    def left_behind(self) -> list[str]:
        """What the job left in the places shared between jobs (before the wipe): files
        in /tmp outside the job's folder, in /dev/shm and /dev/mqueue; sockets (inet ones
        in any state, TIME_WAIT included; unix ones the container did not start with);
        System V objects; counters the container keeps that the job moved (:data:`COUNTERS`)."""
        found = [f"counter {path} changed" for path, value in _counters().items()
                 if value != self.counters.get(path)]
        for base in SHARED_DIRS:
            try:
                names = os.listdir(base)
            except OSError:
                continue
            allowed = {os.path.basename(k) for k in self.keep if os.path.dirname(k) == base}
            found += [os.path.join(base, n) for n in sorted(set(names) - allowed)]
        inet, unix = _sockets()
        found += [f"socket {s}" for s in inet]
        found += [f"unix socket inode {i}" for i in sorted(unix - self.unix)]
        return found + _sysv_objects()

    def problems(self) -> list[str]:
        out = []
        try:
            if os.waitpid(self.zygote.pid, os.WNOHANG)[0]:
                out.append("the zygote is gone")
        except ChildProcessError:
            out.append("the zygote is gone")
        if _tree_state(self.harness_root) != self.tree:
            out.append("the harness files changed")
        places = _places(self.place_paths)
        if places != self.places:
            changed = sorted(p for p in set(places) | set(self.places) if places.get(p) != self.places.get(p))
            out.append(f"the mode, owner or inode of {changed[:5]} changed")
        extra = _fds() - self.fds
        if extra:
            out.append(f"the supervisor holds descriptors it did not have: {sorted(extra)[:5]}")
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in self.pids]
        if others:
            out.append(f"processes besides the supervisor's own: {others[:5]}")
        for base in SHARED_DIRS:
            try:
                left = sorted(os.listdir(base))
            except OSError:
                continue
            allowed = {os.path.basename(k) for k in self.keep if os.path.dirname(k) == base}
            if set(left) - allowed:
                out.append(f"{base} still holds {sorted(set(left) - allowed)[:5]}")
        in_workdir = set(os.listdir(self.workdir)) - {os.path.basename(self.harness_root)}
        if in_workdir:
            out.append(f"{self.workdir} still holds {sorted(in_workdir)[:5]}")
        if _sysv_objects():
            out.append(f"System V IPC objects remain: {_sysv_objects()[:5]}")
        return out


#: Counters of the container's own kernel state that outlive every process and file of a
#: job, that any uid may read, and that a job keeping to itself leaves alone: packets and
#: errors of its network namespace (loopback only), forks its pids cgroup refused, times
#: its memory cgroup hit the limit. A job that moves one could pass the value to the next,
#: so the container is replaced (left_behind). What every job moves (the pid counter, the
#: next inode number of /tmp, CPU time and memory statistics) is documented as what
#: carries over (docs/sandbox.md).
COUNTERS = ("/proc/net/snmp", "/proc/net/snmp6", "/proc/net/netstat", "/proc/net/dev",
            "/sys/fs/cgroup/pids/pids.events", "/sys/fs/cgroup/pids.events",
            "/sys/fs/cgroup/memory/memory.failcnt", "/sys/fs/cgroup/memory/memory.memsw.failcnt",
            "/sys/fs/cgroup/memory/memory.kmem.failcnt", "/sys/fs/cgroup/memory/memory.kmem.tcp.failcnt",
            "/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory.swap.events")


def _counters() -> dict[str, bytes]:
    out = {}
    for path in COUNTERS:
        try:
            with open(path, "rb") as f:
                out[path] = f.read()
        except OSError:
            continue
    return out


#: The container's own network namespace (NetworkMode none: loopback only). A socket that
#: outlives every process of its job (TIME_WAIT after an active close, an orphan still
#: closing, say) holds its port for the next job. The kernel counts them per namespace:
#: ``/proc/net/sockstat`` and ``sockstat6`` say how many inet sockets of each protocol
#: are in use (TCP, UDP, UDP-Lite, raw), how many are in TIME_WAIT, and how many IP
#: fragment queues wait; between jobs every one of these is left over. (The per-socket
#: tables, ``/proc/net/tcp`` and the like, say the same one socket at a time, but reading
#: them walks the host's whole hash table: about 20 ms each here, per job.)
_SOCKSTAT = ("/proc/net/sockstat", "/proc/net/sockstat6")
_COUNTED = ("inuse", "tw")


def _sockets() -> tuple[list[str], set[str]]:
    """The namespace's inet sockets and fragment queues still counted by the kernel
    (any is left over: between jobs no process holds one), and the inodes of the unix
    sockets."""
    inet = []
    for name in _SOCKSTAT:
        try:
            with open(name) as f:
                rows = f.read().splitlines()
        except OSError:
            continue
        for row in rows:
            proto, _, rest = row.partition(":")
            if proto == "sockets":  # every family, this namespace's: unix ones are below
                continue
            fields = rest.split()
            for key, value in zip(fields[::2], fields[1::2], strict=False):
                if key in _COUNTED and value != "0":
                    inet.append(f"{proto} {key} {value}")
    unix = set()
    try:
        with open("/proc/net/unix") as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                if len(cols) >= 7:
                    unix.add(cols[6])
    except OSError:
        pass
    return inet, unix


def _hand_back_pipe() -> tuple[int, int]:
    """A worker's way back to the supervisor (:func:`collect.hand_back`): a pipe whose
    write end does not block and holds a whole hand-back, so a worker never waits on it
    (the supervisor reads it once the worker is gone)."""
    back, back_w = os.pipe()
    os.set_blocking(back_w, False)
    try:
        fcntl.fcntl(back_w, fcntl.F_SETPIPE_SZ, schema.HAND_BACK_MAX_BYTES)
    except OSError:
        pass  # a smaller pipe: a larger hand-back is then not written, only lost
    return back, back_w


def _drain(fd: int) -> bytes:
    """All a gone worker wrote to ``fd`` (at most a hand-back's bound: more is dropped)."""
    chunks: list[bytes] = []
    size = 0
    while size <= schema.HAND_BACK_MAX_BYTES:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return b""


def _warm_imports(workdir: str, harness_root: str) -> None:
    """What every job imports, once: pytest with its built-in plugins, what they import
    when a run configures them (``pdb``, ``faulthandler``, ``readline``), and the harness;
    and what every job's pytest run does before its collection, before any job exists
    (:func:`collect.prepare`: each worker runs from its own copy).

    Imported here, after the zygote is forked, not at the top: the zygote's memory is
    this process's as it was then, and the solution's processes are its forks, so none
    of this (pytest above all) is ever in an isolated solution's process."""
    # import cost of forked processes: all of these after the zygote's fork (see above)
    import faulthandler  # noqa: F401
    import pdb  # noqa: F401

    import pytest  # noqa: F401 - import cost of forked processes (see above)

    try:
        import readline  # noqa: F401 - import cost of forked processes (see above)
    except ImportError:
        pass

    # import cost of forked processes (see above): io jobs' modules too (a generated test
    # module imports cases; compiling it in each job cost more than a case)
    from . import case_loop, cases, collect, isolated, proxy  # noqa: F401

    # The command line of this container's isolated runs (the layout the client gives a
    # warm container's jobs): what a job's pytest does before collection is done here.
    collect.prepare(isolated.pytest_options(
        tests_dir=os.path.join(workdir, "tests"), solution_dir=os.path.join(workdir, "solution"),
        ini_path=os.path.join(harness_root, "pytest.ini")))

    # pytest's account of a failing test finds the module of each frame it shows
    # (inspect.getmodule), and the first search in a process maps the file of every
    # module loaded: some 300 realpath calls, 5 ms of each failing job. Mapped here, each
    # worker maps only the modules its job adds (inspect's own cache: the same answers but
    # for a module loaded here that a job removes from sys.modules: docs/sandbox.md).
    import inspect  # import cost of forked processes (see above)

    inspect.getmodule(None, os.path.join(harness_root, "pytest.ini"))


def main(workdir: str, harness_root: str, idle_s: float = 300.0) -> int:
    while True:  # anything the boot line left is reaped before the zygote exists
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    nondumpable = make_nondumpable()
    take_untrusted_uid(os.environ)  # the container's for its life (check_privileges)
    zygote = Zygote.fork()  # first: it must never see a job
    problem = check_privileges()
    if problem:
        print(f"supervisor: {problem}", file=sys.stderr)
        return 2
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.dont_write_bytecode = True
    out = os.dup(1)
    os.set_inheritable(out, False)
    os.dup2(2, 1)  # only `out` reaches the real stdout (nothing an import prints, say)
    # Root's and unchangeable by others, once: every worker is a fork of this process and
    # skips it, and the check between jobs compares modes and owners as well as contents.
    layout.lay_out_harness()
    _warm_imports(workdir, harness_root)
    from . import collect  # import cost of forked processes: imported just now, after the zygote's fork

    collect.reuse_rewrites()
    baseline = _Baseline(workdir, harness_root, zygote)
    # What is alive now lives as long as the container: the workers' collections (pytest
    # runs several at its end) need not scan it, and their pages stay shared.
    gc.collect()
    gc.freeze()
    say(out, "ready", {"pid": os.getpid()})
    served = 0
    while True:
        oom_before = processes.oom_kills()
        back, back_w = _hand_back_pipe()
        pid = processes.fork()  # one thread here: a worker skips the after-fork hooks
        if pid == 0:
            code = 1
            try:
                os.close(back)
                code = _worker(out, zygote, workdir, nondumpable, idle_s, back_w)
            except BaseException:  # noqa: BLE001 - a worker never returns into the loop
                traceback.print_exc()
            os._exit(code)
        os.close(back_w)
        _, status = os.waitpid(pid, 0)
        reused = collect.keep_rewrites(_drain(back))
        os.close(back)
        code = os.waitstatus_to_exitcode(status)
        if code == EXIT_EOF:
            return 0
        served += 1
        anomaly = code == job_main.EXIT_ANOMALY
        if anomaly:
            code = 0
        left = baseline.left_behind()
        try:
            # Every process of the untrusted uid killed and gone, then what that uid owns
            # removed as that uid (root may not enter its folders): one round trip to the
            # zygote, as at the end of an io case; then the rest as root. Only what is
            # still there counts.
            ended = zygote.end_case(groups=frozenset(), paths=list(SHARED_DIRS))
            strays, gone = int(ended.get("strays") or 0), bool(ended.get("gone"))
            if gone:
                _wipe_as_root(workdir, baseline.keep)
            problems = baseline.problems() if gone else ["processes of the untrusted uid would not die"]
        except ZygoteError as exc:
            strays, problems = 0, [f"the zygote failed: {exc}"]
        oom_after = processes.oom_kills()
        done: schema.PoolDone = {
            "worker_exit": code, "strays": strays, "served": served, "problems": problems,
            "job_anomaly": anomaly, "left_behind": left[:10],
            "oom_kills": (oom_after - oom_before) if oom_after is not None and oom_before is not None else None,
            "rewrites_reused": reused,
        }
        say(out, "done", done)
        if problems or code != 0 or anomaly or left:
            return 0  # a container that is not clean serves nothing more
