"""How many runs may be in flight at once on one engine.

Each resource gives a bound: CPUs / CPUs per run, memory budget / memory per run, pids
budget / pids per run. The smallest wins; an explicit override wins over all. The
arithmetic is pure so it can be tested (and explained by ``misalign-rewards doctor``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

import anyio

from .base import Limits

#: Whom the runs of the current task are for, when several callers share one budget (a
#: Ray node's actor sets it to the driver's lease for each run): waiters of different
#: owners are then served in turn (see :class:`ResourceBudget`). None: one caller.
budget_owner: ContextVar[str | None] = ContextVar("misalign_budget_owner", default=None)


@dataclass(frozen=True)
class HostResources:
    """What the engine's host has. Read from the engine (``docker info``) when possible,
    since the engine may not run where the client does; :func:`local_resources` else."""

    cpus: float
    memory_bytes: int
    #: Processes the host can hold (kernel pid_max and threads-max, the smaller).
    pids: int


@dataclass(frozen=True)
class CapacityPlan:
    limit: int
    by_cpu: int
    by_memory: int
    by_pids: int
    override: int | None
    reason: str


def local_resources() -> HostResources:
    cpus = float(len(os.sched_getaffinity(0)))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    pids = _read_int("/proc/sys/kernel/pid_max", 32768)
    pids = min(pids, _read_int("/proc/sys/kernel/threads-max", pids))
    return HostResources(cpus=cpus, memory_bytes=memory, pids=pids)


def _read_int(path: str, default: int) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return default


def plan_capacity(
    limits: Limits,
    host: HostResources,
    *,
    memory_fraction: float = 0.8,
    pids_fraction: float = 0.5,
    override: int | None = None,
) -> CapacityPlan:
    """Runs allowed at once for runs of ``limits`` on ``host``.

    ``memory_fraction`` and ``pids_fraction`` keep part of the host for the engine, the
    client and everything else. Each bound is at least 1, so a single run can always go
    (the engine enforces its own limits if it cannot fit).
    """
    if not 0 < memory_fraction <= 1 or not 0 < pids_fraction <= 1:
        raise ValueError("memory_fraction and pids_fraction must be in (0, 1]")
    if override is not None and override < 1:
        raise ValueError(f"concurrency override must be >= 1, got {override}")
    by_cpu = max(1, math.floor(host.cpus / limits.cpus + 1e-9))
    by_memory = max(1, math.floor(host.memory_bytes * memory_fraction / limits.memory_bytes))
    by_pids = max(1, math.floor(host.pids * pids_fraction / limits.pids))
    bounds = {"cpu": by_cpu, "memory": by_memory, "pids": by_pids}
    smallest = min(bounds, key=lambda k: bounds[k])
    if override is not None:
        limit, reason = override, f"override ({override}); the host alone would allow {bounds[smallest]}"
    else:
        limit = bounds[smallest]
        per = {"cpu": f"{host.cpus:g} CPUs / {limits.cpus:g} per run",
               "memory": f"{memory_fraction:g} x {host.memory_bytes / 2**30:.1f} GiB / "
                         f"{limits.memory_bytes / 2**20:.0f} MiB per run",
               "pids": f"{pids_fraction:g} x {host.pids} pids / {limits.pids} per run"}[smallest]
        reason = f"{smallest} bound: {per}"
    return CapacityPlan(limit=limit, by_cpu=by_cpu, by_memory=by_memory, by_pids=by_pids,
                        override=override, reason=reason)


class ResourceBudget:
    """Admits runs while their limits fit in what is left of the host's budget.

    A run takes its CPUs, memory and pids from the budget and gives them back when it
    ends. Waiters are served first come, first served, so a large (Lean) run is not
    starved by a stream of small ones. A run larger than the whole budget is clamped to
    it, so it can still go, alone. ``max_runs``, when given, replaces all of that with a
    plain count (the explicit override).

    When waiters have owners (:data:`budget_owner`, set by whoever shares the budget
    among callers), the next to go is the first waiter of the owner served longest ago:
    owners take turns, first come, first served within one, so a caller that queued a
    thousand runs does not make another wait for all of them. Room still goes to that
    waiter alone (nobody overtakes it), so a large run is not starved either.
    """

    def __init__(
        self,
        host: HostResources,
        *,
        memory_fraction: float = 0.8,
        pids_fraction: float = 0.5,
        max_runs: int | None = None,
    ) -> None:
        if max_runs is not None and max_runs < 1:
            raise ValueError(f"max_runs must be >= 1, got {max_runs}")
        self.host = host
        self.memory_fraction = memory_fraction
        self.pids_fraction = pids_fraction
        self.max_runs = max_runs
        if max_runs is None:
            self._total = (host.cpus, host.memory_bytes * memory_fraction,
                           host.pids * pids_fraction, math.inf)
        else:  # an explicit override replaces the host-derived bounds, as in plan_capacity
            self._total = (math.inf, math.inf, math.inf, float(max_runs))
        self._free = list(self._total)
        self._waiters: list[_Waiter] = []
        #: owner -> when it was last given room (a count of grants), for taking turns
        self._served: dict[str | None, int] = {}
        self._grants = 0
        #: Called before a run would wait: gives back what is held but idle (a warm pool's
        #: idle containers), so that nothing waits on a reservation nobody uses.
        self.reclaim: Callable[[], Awaitable[None]] | None = None
        self.in_use = 0
        self.peak_in_use = 0

    def plan(self, limits: Limits) -> CapacityPlan:
        return plan_capacity(limits, self.host, memory_fraction=self.memory_fraction,
                             pids_fraction=self.pids_fraction, override=self.max_runs)

    def _need(self, limits: Limits) -> tuple[float, float, float, float]:
        cpu, mem, pids, _ = self._total
        return (min(limits.cpus, cpu), min(float(limits.memory_bytes), mem),
                min(float(limits.pids), pids), 1.0)

    def _fits(self, need: tuple[float, ...]) -> bool:
        return all(n <= f + 1e-9 for n, f in zip(need, self._free, strict=True))

    def _take(self, need: tuple[float, ...], owner: str | None) -> None:
        self._free = [f - n for f, n in zip(self._free, need, strict=True)]
        self.in_use += 1
        self.peak_in_use = max(self.peak_in_use, self.in_use)
        self._grants += 1
        self._served[owner] = self._grants

    def _next(self) -> _Waiter:
        """The waiter whose turn it is: the first one of the owner served longest ago."""
        first: dict[str | None, _Waiter] = {}
        for waiter in self._waiters:
            first.setdefault(waiter.owner, waiter)
        return min(first.values(), key=lambda w: self._served.get(w.owner, 0))

    def _give(self, need: tuple[float, ...]) -> None:
        self._free = [f + n for f, n in zip(self._free, need, strict=True)]
        self.in_use -= 1
        while self._waiters:
            waiter = self._next()
            if not self._fits(waiter.need):
                break
            self._waiters.remove(waiter)
            self._take(waiter.need, waiter.owner)
            waiter.granted = True
            waiter.event.set()
        if not self._waiters:
            self._served.clear()  # nobody waits: no turns to remember

    async def acquire(self, limits: Limits) -> tuple[float, ...]:
        need = self._need(limits)
        owner = budget_owner.get()
        if not self._waiters and self._fits(need):
            self._take(need, owner)
            return need
        if self.reclaim is not None:
            await self.reclaim()
            if not self._waiters and self._fits(need):
                self._take(need, owner)
                return need
        waiter = _Waiter(need, anyio.Event(), owner)
        self._waiters.append(waiter)
        try:
            await waiter.event.wait()
        except BaseException:
            if waiter.granted:
                self._give(need)
            else:
                self._waiters.remove(waiter)
            raise
        return need

    def release(self, need: tuple[float, ...]) -> None:
        self._give(need)

    def try_acquire(self, limits: Limits) -> tuple[float, ...] | None:
        """Take ``limits`` now if they fit and nobody waits; else None (never waits)."""
        need = self._need(limits)
        if self._waiters or not self._fits(need):
            return None
        self._take(need, budget_owner.get())
        return need

    def free_share(self) -> float:
        """The least-free resource's share left, 0 (full) to 1 (idle): how a scheduler
        that spreads runs over several budgets picks the emptiest."""
        return min(f / t for f, t in zip(self._free, self._total, strict=True) if math.isfinite(t))

    def beyond_host(self, limits: Limits) -> str | None:
        """Why this host can never give a run of ``limits`` (naming the field), or None
        when it can: what a sandbox refuses as the caller's mistake."""
        if limits.cpus > self.host.cpus:
            return f"limits.cpus: {limits.cpus:g} is more than the {self.host.cpus:g} CPUs of the engine's host"
        if limits.memory_bytes > self.host.memory_bytes:
            return (f"limits.memory_bytes: {limits.memory_bytes} is more than the "
                    f"{self.host.memory_bytes} bytes of the engine's host")
        return None

    @property
    def has_waiters(self) -> bool:
        """Whether some run waits for room (a warm pool then gives back what it holds idle)."""
        return bool(self._waiters)


@dataclass
class _Waiter:
    need: tuple[float, ...]
    event: anyio.Event
    owner: str | None = None
    granted: bool = False
