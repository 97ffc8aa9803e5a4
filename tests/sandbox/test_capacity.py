"""Capacity arithmetic and the resource budget (pure; no engine)."""

from __future__ import annotations

import anyio
import pytest

from misalign_rewards.sandbox.base import Limits
from misalign_rewards.sandbox.capacity import (
    HostResources,
    ResourceBudget,
    budget_owner,
    plan_capacity,
)

GiB = 2**30
HOST = HostResources(cpus=2, memory_bytes=24 * GiB, pids=4_194_304)
LEAN = Limits(memory_bytes=8 * GiB, pids=256)


def test_cpu_bound_wins_for_the_python_profile() -> None:
    plan = plan_capacity(Limits(), HOST)
    assert (plan.limit, plan.by_cpu) == (2, 2)
    assert plan.by_memory == int(24 * GiB * 0.8 // (512 * 2**20))
    assert plan.reason.startswith("cpu bound")


def test_memory_bound_wins_for_lean_on_a_big_cpu_host() -> None:
    plan = plan_capacity(LEAN, HostResources(cpus=64, memory_bytes=64 * GiB, pids=4_194_304))
    assert plan.limit == plan.by_memory == 6  # 0.8 * 64 / 8
    assert plan.reason.startswith("memory bound")


def test_pids_bound_and_override() -> None:
    small_pids = HostResources(cpus=64, memory_bytes=1024 * GiB, pids=1000)
    assert plan_capacity(Limits(), small_pids).limit == 7  # 0.5 * 1000 / 64
    plan = plan_capacity(Limits(), HOST, override=9)
    assert plan.limit == 9 and "override" in plan.reason
    with pytest.raises(ValueError):
        plan_capacity(Limits(), HOST, override=0)


def test_a_run_larger_than_the_host_still_gets_one_slot() -> None:
    huge = Limits(memory_bytes=100 * GiB, cpus=8)
    assert plan_capacity(huge, HOST).limit == 1


async def test_budget_admits_by_resources_first_come_first_served() -> None:
    budget = ResourceBudget(HostResources(cpus=4, memory_bytes=10 * GiB, pids=10_000))
    lean = Limits(memory_bytes=int(7.8 * GiB))  # of the 8 GiB lent out; 7 are free at first
    order: list[str] = []
    first = await budget.acquire(Limits())  # 1 CPU, 0.5 GiB
    second = await budget.acquire(Limits())

    async def take(name: str, limits: Limits, hold: anyio.Event) -> None:
        need = await budget.acquire(limits)
        order.append(name)
        await hold.wait()
        budget.release(need)

    hold = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "lean", lean, hold)  # needs 7 of the 8 GiB budget: waits
        await anyio.sleep(0.05)
        tg.start_soon(take, "small", Limits(), hold)  # would fit, but queues behind lean
        await anyio.sleep(0.05)
        assert order == [] and budget.in_use == 2
        budget.release(first)
        budget.release(second)
        await anyio.sleep(0.05)
        assert order == ["lean"]  # lean got in first; small waits for memory
        hold.set()
    assert order == ["lean", "small"]
    assert budget.in_use == 0 and budget.peak_in_use == 2


async def test_budget_cancelled_waiter_gives_nothing_away() -> None:
    budget = ResourceBudget(HOST, max_runs=1)
    need = await budget.acquire(Limits())
    with anyio.move_on_after(0.05):
        await budget.acquire(Limits())
    budget.release(need)
    again = await budget.acquire(Limits())  # the cancelled waiter is gone, not holding a slot
    assert budget.in_use == 1
    budget.release(again)


async def _grants(takers: list[tuple[str | None, str]]) -> list[str]:
    """The order in which a one-run budget lets in ``takers`` (owner, name) that arrive in
    that order while the first holds the room."""
    budget = ResourceBudget(HOST, max_runs=1)
    order: list[str] = []
    go = anyio.Event()

    async def take(owner: str | None, name: str) -> None:
        budget_owner.set(owner)
        need = await budget.acquire(Limits())
        order.append(name)
        await go.wait()
        budget.release(need)

    async with anyio.create_task_group() as tg:
        for owner, name in takers:
            tg.start_soon(take, owner, name)
            await anyio.wait_all_tasks_blocked()
        assert order == [takers[0][1]]
        go.set()
    return order


async def test_owners_sharing_a_budget_take_turns() -> None:
    """Several callers on one budget (the drivers of a Ray node): one that queued many runs
    does not make another wait for all of them. Owners take turns; within one, first come,
    first served."""
    takers = [("a", "a1"), ("a", "a2"), ("a", "a3"), ("a", "a4"), ("b", "b1"), ("b", "b2")]
    assert await _grants(takers) == ["a1", "b1", "a2", "b2", "a3", "a4"]


async def test_without_owners_the_budget_is_first_come_first_served() -> None:
    assert await _grants([(None, str(i)) for i in range(4)]) == ["0", "1", "2", "3"]


def test_warm_containers_of_a_kind_are_handed_over_in_turns() -> None:
    """The warm pool hands a container that comes back to the waiting runs of its kind
    the way the budget gives room: owners in turns, each first come, first served."""
    from misalign_rewards.sandbox.pool import _Kind, _Waiter

    kind = _Kind(waiters=[_Waiter(owner=o) for o in ("a", "a", "a", "b")])
    names = {id(w): f"{w.owner}{i}" for i, w in enumerate(kind.waiters)}
    assert [names[id(kind.next_waiter())] for _ in range(4)] == ["a0", "b3", "a1", "a2"]
    assert kind.waiters == []
