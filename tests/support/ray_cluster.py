"""A real Ray cluster on this machine for the tests and benchmarks: a head and worker
nodes, each a ``ray start --block`` process of its own, all in one network namespace
that this helper makes (loopback only: ``unshare --net``, then ``lo`` up), bound to
127.0.0.1. A worker is given a Docker engine (tests/support/engines.py) through ``DOCKER_HOST``
and offers the resources ``misalign_engine`` and its own name, so placement can be
checked. Drivers run as processes in the same namespace; they reach the engines through
unix sockets, which no network namespace stops.

Nothing here is a stand-in: these are Ray's own processes, killed and started as a
real node would be.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.engines import Engine

RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:1",
    # a dead node is noticed in about 3 s instead of 30+
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_DEDUP_LOGS": "0",
}


def ray_available() -> str | None:
    """Why a cluster cannot be started here, or None."""
    try:
        import ray  # noqa: F401 - optional dependency: ray (whether it is installed is the question)
    except ImportError:
        return "Ray is not installed (pip install 'misalign-rewards[ray]')"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def session_members(sid: int) -> set[int]:
    """The pids of every process whose session id is ``sid``."""
    pids: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session
        if int(fields[3]) == sid:
            pids.add(int(entry))
    return pids


def netns_members(pid: int) -> set[int]:
    """The pids of every process in the network namespace of ``pid``."""
    target = os.readlink(f"/proc/{pid}/ns/net")
    pids: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/net") == target:
                    pids.add(int(entry))
    return pids


class RayCluster:
    def __init__(self, port: int = 6399) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.root = Path(tempfile.mkdtemp(prefix="misalign-ray-"))
        self.ray = str(Path(sys.executable).with_name("ray"))
        self.ns: subprocess.Popen[bytes] | None = None
        self.head: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        # A home of its own: Ray keeps state there (an auth token left by another Ray
        # session on this machine made every `ray start` here refuse the head).
        (self.root / "home").mkdir()
        self.env = {**os.environ, **RAY_ENV, "HOME": str(self.root / "home")}

    # -- the namespace -------------------------------------------------------------------
    def _in_ns(self, argv: list[str]) -> list[str]:
        assert self.ns is not None
        return ["nsenter", "-t", str(self.ns.pid), "-n", "--", *argv]

    def start(self) -> None:
        self.ns = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"],
                                   start_new_session=True)
        for _ in range(50):
            if os.readlink(f"/proc/{self.ns.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.05)
        subprocess.run(self._in_ns(["ip", "link", "set", "lo", "up"]), check=True)
        self.head = self._ray_start("head", ["--head", f"--port={self.port}", "--num-cpus=1",
                                             "--include-dashboard=false"], {})

    def _ray_start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.root / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                self._in_ns([self.ray, "start", "--block", "--node-ip-address=127.0.0.1",
                             "--disable-usage-stats", *args]),
                stdout=out, stderr=subprocess.STDOUT, env={**self.env, **env}, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if b"Ray runtime started" in log.read_bytes():
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"ray start ({name}) did not come up:\n{log.read_text()[-3000:]}")

    # -- nodes ---------------------------------------------------------------------------
    def add_worker(self, name: str, engine: Engine, cpus: int = 1) -> None:
        resources = json.dumps({"misalign_engine": 1, name: 1})
        self.workers[name] = self._ray_start(
            name, [f"--address={self.address}", f"--num-cpus={cpus}", f"--resources={resources}"],
            {"DOCKER_HOST": engine.url})

    def kill_worker(self, name: str) -> None:
        """The node dies at once, as its host would: every process of its session
        (``ray start``, the raylet and the workers) is stopped, then SIGKILLed.

        Killing the ``ray start`` process group is not enough: Ray puts each worker in a
        process group of its own, so an actor outlives its raylet for a moment and may
        still finish a run and answer the driver. (Processes that left the session on
        purpose, such as an actor's watchdog, live on, as on a host whose Ray crashed.)"""
        proc = self.workers.pop(name)
        frozen: set[int] = set()
        while True:  # until no process of the session is left unfrozen (one may be forking)
            fresh = session_members(proc.pid) - frozen
            if not fresh:
                break
            for pid in fresh:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            frozen |= fresh
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()

    def driver(self, argv: list[str], *, env: dict[str, str] | None = None,
               stdout: int | None = subprocess.PIPE) -> subprocess.Popen[str]:
        """A Python process in the cluster's namespace (``python *argv``; its own session,
        so a test may SIGKILL it and all it started)."""
        return subprocess.Popen(self._in_ns([sys.executable, *argv]), stdout=stdout,
                                stderr=subprocess.PIPE, text=True,
                                env={**self.env, "MISALIGN_RAY_ADDRESS": self.address, **(env or {})},
                                start_new_session=True)

    def stop(self) -> None:
        for name in list(self.workers):
            self.kill_worker(name)
        if self.head is not None:
            os.killpg(self.head.pid, signal.SIGKILL)
            self.head.wait()
        if self.ns is not None:
            # What the nodes spawned outside their groups (Ray's own helpers): every
            # process in this cluster's network namespace but the actors' watchdogs (they
            # remove the containers of actors that died with their nodes). Not `ray stop`:
            # it kills every Ray process of the machine, other sessions' clusters included.
            for pid in netns_members(self.ns.pid) - {self.ns.pid}:
                with contextlib.suppress(OSError):
                    if b"misalign_rewards.sandbox.watchdog" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        os.kill(pid, signal.SIGKILL)
            self.ns.kill()
            self.ns.wait()
        # As `ray stop` would: the machine's pointer to "the" running cluster, if it names
        # this one, goes with it (a later ray.init() would try to join the dead cluster).
        pointer = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        with contextlib.suppress(OSError):
            if pointer.read_text().strip() == self.address:
                pointer.unlink()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self, name: str, n: int = 3000) -> str:
        try:
            return (self.root / f"{name}.log").read_text()[-n:]
        except OSError:
            return ""
