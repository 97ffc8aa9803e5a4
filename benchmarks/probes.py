"""Where CPU time and memory are read from (Linux, the engine on this host, cgroup v1 or v2).

- client: ``getrusage(RUSAGE_SELF)`` of the row's own process; for rows that spawn a
  command per job, ``RUSAGE_CHILDREN`` too (the ``docker`` CLI processes for the
  ``docker-cli`` row; for ``host-pytest`` the children *are* the jobs).
- engine: utime+stime (+ reaped children) of dockerd, containerd, containerd-shim*,
  runc and docker-init, from ``/proc/PID/stat``, summed over the processes alive at
  each sample. A lower bound: a shim or runc that starts and exits between two samples
  is not seen, and shims are reparented to init, so their time is not inherited.
- job: the cumulative ``cpuacct.usage`` of the engine's parent cgroup (``docker``).
  The kernel charges every container's CPU to its ancestors too, and that count does
  not drop when a container's own cgroup is removed (checked here: it never decreased
  while containers came and went), so the delta covers containers already removed.
  It also covers *anyone else's* containers on the engine: see :func:`foreign_starts`.
- host: busy jiffies of the whole machine from ``/proc/stat`` (everything, other work
  included): an upper bound on client + engine + job.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
ENGINE_NAMES = ("dockerd", "containerd", "runc", "docker-init", "docker-proxy")
CGROUP_CANDIDATES = (
    "/sys/fs/cgroup/cpuacct/docker/cpuacct.usage",        # v1, cgroupfs driver
    "/sys/fs/cgroup/cpu,cpuacct/docker/cpuacct.usage",
    "/sys/fs/cgroup/cpuacct/system.slice/cpuacct.usage",  # v1, systemd driver (coarser)
)


def _engine_name(name: str) -> bool:
    return name in ENGINE_NAMES or name.startswith("containerd-shim")


def engine_cpu_ticks() -> dict[tuple[int, str], int]:
    """The engine's own CPU so far, per live process (keyed by pid and start time, so a
    reused pid is a new process): user + system time of dockerd, containerd, runc and the
    shims, not their children's (a shim reaps the container's processes, whose CPU the
    job column already counts)."""
    ticks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if _engine_name(name):
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks[(int(pid), fields[19])] = int(fields[11]) + int(fields[12])
    return ticks


def engine_cpu_s(before: dict[tuple[int, str], int], after: dict[tuple[int, str], int]) -> float:
    """Engine CPU between two readings of :func:`engine_cpu_ticks`: what each process that
    is alive at the second reading used since the first (all of it, if it started since).
    A process that exited in between (a removed container's shim) is lost, so this is a
    lower bound, and never negative."""
    return sum(max(0, t - before.get(key, 0)) for key, t in after.items()) / TICKS


def _cgroup_v2_docker() -> float | None:
    # cgroup v2 with the cgroupfs driver: /sys/fs/cgroup/docker/cpu.stat usage_usec
    path = Path("/sys/fs/cgroup/docker/cpu.stat")
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("usage_usec "):
            return int(line.split()[1]) / 1e6
    return None


def cgroup_source() -> str | None:
    for c in CGROUP_CANDIDATES:
        if os.path.exists(c):
            return c
    return "/sys/fs/cgroup/docker/cpu.stat" if _cgroup_v2_docker() is not None else None


def containers_cpu_s() -> float | None:
    for c in CGROUP_CANDIDATES:
        try:
            return int(Path(c).read_text()) / 1e9
        except OSError:
            continue
    return _cgroup_v2_docker()


def host_busy_s() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] if len(fields) > 7 else 0)
    return busy / TICKS


def rusage_s(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass(frozen=True)
class Sample:
    self_s: float
    children_s: float
    engine: dict[tuple[int, str], int]
    containers_s: float | None
    host_s: float

    @classmethod
    def now(cls) -> Sample:
        return cls(rusage_s(resource.RUSAGE_SELF), rusage_s(resource.RUSAGE_CHILDREN), engine_cpu_ticks(),
                   containers_cpu_s(), host_busy_s())

    def __sub__(self, other: Sample) -> dict[str, float | None]:
        d: dict[str, float | None] = {
            k: (v - getattr(other, k)) if v is not None and getattr(other, k) is not None else None
            for k, v in asdict(self).items() if k != "engine"}
        d["engine_s"] = engine_cpu_s(other.engine, self.engine)
        return d


def foreign_starts(since: float, until: float, ours: callable) -> int | None:  # type: ignore[valid-type]
    """Containers started on the engine in ``[since, until]`` that ``ours(attributes)``
    does not claim: other work sharing the engine, whose CPU lands in the same cgroup."""
    try:
        out = subprocess.run(
            ["docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
             "--filter", "type=container", "--filter", "event=start", "--format", "{{json .Actor.Attributes}}"],
            capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    n = 0
    for line in out.splitlines():
        try:
            attrs = json.loads(line)
        except ValueError:
            continue
        n += not ours(attrs)
    return n


def _cmd(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine(image: str) -> dict[str, object]:
    """What the numbers were measured on."""
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    info = _cmd(["docker", "info", "--format",
                 "{{json .ServerVersion}} {{json .CgroupVersion}} {{json .CgroupDriver}} {{json .Driver}}"])
    server = cgroup = driver = storage = None
    if info:
        server, cgroup, driver, storage = (json.loads(x) for x in info.split(" ", 3))
    try:
        from misalign_rewards import __version__ as sdk_version
    except ImportError:
        sdk_version = None
    root = Path(__file__).resolve().parents[1]
    return {
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kb / 2**20, 1) if mem_kb else None,
        "kernel": platform.release(),
        "arch": platform.machine(),
        "os": _cmd(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "docker_server": server, "cgroup_version": cgroup, "cgroup_driver": driver, "storage_driver": storage,
        "image": image,
        "image_id": _cmd(["docker", "image", "inspect", "--format", "{{.Id}}", image]),
        "sdk_version": sdk_version,
        "git_commit": _cmd(["git", "-C", str(root), "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(_cmd(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])),
        "job_cpu_source": cgroup_source(),
    }


def _idle_ids(pool: object) -> list[str]:
    """The ids of a PooledSandbox's idle warm containers."""
    return [warm.container.id for kind in getattr(pool, "_kinds", {}).values() for warm in kind.idle]


def _first_number(paths: tuple[str, ...], key: str | None = None) -> float | None:
    """The number in the first of ``paths`` that can be read (the line ``key N`` of it
    when ``key`` is given)."""
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if key is not None:
            text = next((line.split()[1] for line in text.splitlines() if line.startswith(key + " ")), "")
        try:
            return float(text)
        except ValueError:
            continue
    return None


def pool_memory_mb(pool: object) -> float | None:
    """Memory (cgroup usage, page cache included) of a PooledSandbox's idle warm
    containers, read from the host's cgroup files; None where they cannot be read."""
    found = [_first_number((f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes",
                            f"/sys/fs/cgroup/docker/{cid}/memory.current",
                            f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current"))
             for cid in _idle_ids(pool)]
    known = [v for v in found if v is not None]
    return round(sum(known) / 2**20, 1) if known else None


def pool_cpu_s(pool: object) -> dict[str, float]:
    """CPU seconds so far of each of a PooledSandbox's idle warm containers, by id, from
    its own cgroup (``cpuacct.usage``, or ``cpu.stat`` on cgroup v2): what the pool's jobs
    cost inside their containers, unaffected by other work on the engine."""
    out: dict[str, float] = {}
    for cid in _idle_ids(pool):
        ns = _first_number((f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage",
                            f"/sys/fs/cgroup/cpu,cpuacct/docker/{cid}/cpuacct.usage"))
        us = None if ns is not None else _first_number(
            (f"/sys/fs/cgroup/docker/{cid}/cpu.stat", f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"),
            "usage_usec")
        if ns is not None or us is not None:
            out[cid] = ns / 1e9 if ns is not None else us / 1e6  # type: ignore[operator]
    return out


def pool_cpu_delta_s(before: dict[str, float], after: dict[str, float]) -> float | None:
    """The pool's own CPU between two :func:`pool_cpu_s` samples; None when a container of
    the first is gone (it was retired: its CPU since then is not known)."""
    if not before or set(before) - set(after):
        return None
    return sum(v - before.get(cid, 0.0) for cid, v in after.items())
