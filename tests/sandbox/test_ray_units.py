"""The Ray backend's pure parts, with no cluster: how a spec travels (packed with its
large contents as hashes, unpacked the same), how the driver holds object refs, how the
node's errors cross to the driver, and where the driver places runs. The backend itself
is tested against a real cluster in tests/sandbox/test_ray.py."""

from __future__ import annotations

import pickle

import anyio
import pytest

from misalign_rewards.errors import EngineError, EngineUnreachable, ImageNotFound, InfrastructureError, InvalidSpec
from misalign_rewards.sandbox.base import Limits, RunResult, RunSpec, WarmSpec
from misalign_rewards.sandbox.capacity import HostResources, ResourceBudget
from misalign_rewards.sandbox.engine import ContainerKilled
from misalign_rewards.sandbox.ray import RaySandbox
from misalign_rewards.sandbox.ray.driver import _Node
from misalign_rewards.sandbox.ray.payload import DriverBlobs, pack_spec, unpack_spec
from misalign_rewards.sandbox.ray.protocol import Blob, ErrorKind, NodeError, NodeInfo, NodeOptions, RunReply


def spec() -> RunSpec:
    big, other = b"h" * 10_000, bytes(range(256)) * 40
    return RunSpec(image="img", argv=["python", "x.py"], files={"a/big.py": big, "small.py": b"x=1\n",
                                                                "b/other": other},
                   stdin=b"s" * 5000, env={"K": "v"}, limits=Limits(memory_bytes=256 << 20),
                   timeout_s=7.5, labels={"l": "1"}, isolation="pooled",
                   warm=WarmSpec(argv=["python", "-m", "srv"], files={"a/big.py": big}), tmp_exec=True)


def test_a_packed_spec_unpacks_to_the_same_spec() -> None:
    s = spec()
    packed, blobs = pack_spec(s)
    assert unpack_spec(packed, blobs) == s
    assert unpack_spec(packed, blobs).warm.digest == s.warm.digest  # type: ignore[union-attr]


def test_large_contents_travel_once_by_hash_small_ones_inline() -> None:
    packed, blobs = pack_spec(spec())
    assert packed.files["small.py"] == b"x=1\n"
    assert isinstance(packed.files["a/big.py"], Blob) and isinstance(packed.stdin, Blob)
    # the same content in the run's files and the warm files is one blob
    assert packed.warm_files is not None and packed.warm_files["a/big.py"] == packed.files["a/big.py"]
    # and the spec beside them carries no content of its own
    assert packed.spec.files == {} and packed.spec.stdin == b""
    assert packed.spec.warm is not None and packed.spec.warm.files == {}
    assert len(blobs) == 3 and sum(map(len, blobs.values())) == 10_000 + 10_240 + 5000


def test_a_missing_blob_is_an_error_not_empty_content() -> None:
    packed, blobs = pack_spec(spec())
    blobs.pop(packed.files["a/big.py"].digest)  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        unpack_spec(packed, blobs)


def test_what_crosses_survives_pickling_as_ray_sends_it() -> None:
    packed, _ = pack_spec(spec())
    assert pickle.loads(pickle.dumps(packed)) == packed
    reply = RunReply(result=RunResult(exit_code=0, stdout=b"out"), free_share=0.5, leases=2)
    assert pickle.loads(pickle.dumps(reply)) == reply


@pytest.mark.parametrize("exc, kind", [
    (EngineUnreachable("x"), ErrorKind.ENGINE_UNREACHABLE),
    (ImageNotFound("x"), ErrorKind.IMAGE_NOT_FOUND),
    (EngineError("x"), ErrorKind.ENGINE_ERROR),
    (ContainerKilled("x"), ErrorKind.CONTAINER_KILLED),
    (InvalidSpec("x"), ErrorKind.INVALID_SPEC),
    (InfrastructureError("x"), ErrorKind.ENGINE_ERROR),
])
def test_a_node_error_crosses_as_a_declared_kind_and_comes_back_as_the_same_exception(
        exc: Exception, kind: ErrorKind) -> None:
    error = NodeError.of(exc)
    assert error.kind is kind and error.message == "x"
    back = error.exception(" (on node n)")
    assert isinstance(back, EngineError if type(exc) is InfrastructureError else type(exc))
    assert str(back) == "x (on node n)"


def test_anything_else_a_node_hits_is_an_engine_error_naming_its_type() -> None:
    error = NodeError.of(KeyError("k"))
    assert error.kind is ErrorKind.ENGINE_ERROR and error.message == "KeyError: 'k'"
    with pytest.raises(ValueError):
        NodeError(kind="SomeClassName", message="kinds are declared, not class names")  # type: ignore[arg-type]


def test_node_options_are_declared_a_typo_is_refused() -> None:
    assert RaySandbox(node_options={"idle_exit_s": 2}).node_options.idle_exit_s == 2
    with pytest.raises(InvalidSpec, match="idle_exit"):
        RaySandbox(node_options={"idle_exit": 2})


class _Refs:
    """Counts puts: the object store's stand-in for these pure tests of bookkeeping."""

    def __init__(self) -> None:
        self.puts = 0

    def put(self, data: bytes) -> tuple[str, int]:
        self.puts += 1
        return ("ref", self.puts)


def test_the_driver_puts_each_content_once_and_lets_go_of_old_ones() -> None:
    store = _Refs()
    held = DriverBlobs(store, keep=2)
    first = held.acquire({"d1": b"1", "d2": b"2"})
    again = held.acquire({"d1": b"1"})
    assert again["d1"] == first["d1"] and store.puts == 2
    held.release(first)
    held.release(again)
    for i in range(3, 6):  # three more, released: only the 2 most recent stay
        held.release(held.acquire({f"d{i}": b"x"}))
    assert set(held._refs) == {"d4", "d5"}
    held.acquire({"d1": b"1"})
    assert store.puts == 6  # d1 was let go, so it is put again


def test_free_share_is_the_least_free_resource() -> None:
    budget = ResourceBudget(HostResources(cpus=4, memory_bytes=10 << 30, pids=100_000))
    assert budget.free_share() == 1.0
    need = budget.try_acquire(Limits(cpus=1, memory_bytes=4 << 30))
    assert budget.free_share() == pytest.approx(0.5)  # memory: 4 of 8 GiB (0.8 x 10) left
    budget.release(need)  # type: ignore[arg-type]
    assert budget.free_share() == 1.0
    assert budget.beyond_host(Limits(cpus=4)) is None
    assert "limits.cpus: 5 is more than the 4 CPUs" in (budget.beyond_host(Limits(cpus=5)) or "")
    assert "limits.memory_bytes" in (budget.beyond_host(Limits(memory_bytes=11 << 30)) or "")


# -- placement: the driver's choice among nodes, with no Ray involved ------------------------


def node_info(cpus: float) -> NodeInfo:
    return NodeInfo(host="h", pid=1, endpoint="unix:///x", client_id="c", cpus=cpus, memory_bytes=64 << 30,
                    pids=1 << 20, max_runs=None, memory_fraction=0.8, pids_fraction=0.5,
                    options=NodeOptions(), free_share=1.0, leases=1)


def placer(*cpus: float, node_wait_s: float = 60.0) -> RaySandbox:
    """A RaySandbox whose membership is set by hand (node ids n0, n1, ...) and never
    looked up: only its placement runs."""
    sb = RaySandbox(refresh_s=1e9, node_wait_s=node_wait_s)
    sb._last_refresh = float("inf")
    for i, c in enumerate(cpus):
        budget = ResourceBudget(HostResources(cpus=c, memory_bytes=64 << 30, pids=1 << 20))
        sb._nodes[f"n{i}"] = _Node(node_id=f"n{i}", actor=None, info=node_info(c), budget=budget)
    return sb


def run_spec(cpus: float = 1.0) -> RunSpec:
    return RunSpec(image="img", argv=["true"], limits=Limits(cpus=cpus))


async def test_runs_go_to_the_emptiest_node_not_round_robin() -> None:
    sb = placer(4, 2)
    placed = [(await sb._place(run_spec(), set(), set()))[0].node_id for _ in range(6)]
    # by free share: n0 (4 CPUs) first, and it takes twice the runs of n1 (2 CPUs)
    assert placed[0] == "n0" and placed.count("n0") == 4 and placed.count("n1") == 2
    assert all(n.budget.free_share() == 0 for n in sb._nodes.values())


async def test_a_node_that_failed_the_run_is_avoided_while_another_can_take_it() -> None:
    sb = placer(2, 2)
    node, _ = await sb._place(run_spec(), set(), {"n0"})
    assert node.node_id == "n1"
    sb._nodes["n1"].state = "suspended"
    node, _ = await sb._place(run_spec(), set(), {"n0"})
    assert node.node_id == "n0"  # the only one up


async def test_image_missing_everywhere_and_limits_nowhere_are_errors_not_waits() -> None:
    sb = placer(2, 4)
    with pytest.raises(ImageNotFound):
        await sb._place(run_spec(), {"n0", "n1"}, set())
    with pytest.raises(InvalidSpec, match=r"limits\.cpus: 8 is more than the 4 CPUs .*largest engine node"):
        await sb._place(run_spec(cpus=8), set(), set())
    sb._nodes["n1"].state = "suspended"  # the only node big enough is away: wait for it
    sb.node_wait_s = 0.2
    sb.refresh_s = 0.05
    with pytest.raises(EngineUnreachable):
        await sb._place(run_spec(cpus=3), set(), set())


async def test_waiting_runs_are_served_in_arrival_order_one_per_release() -> None:
    sb = placer(1)
    node, first = await sb._place(run_spec(), set(), set())
    order: list[int] = []

    async def wait(i: int) -> None:
        n, need = await sb._place(run_spec(), set(), set())
        order.append(i)
        await anyio.sleep(0.01)
        n.budget.release(need)
        sb._signal(everyone=False)

    with anyio.fail_after(10):  # a lost wake-up would hang here
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(wait, i)
                await anyio.sleep(0.01)
            node.budget.release(first)
            sb._signal(everyone=False)
    assert order == [0, 1, 2, 3, 4]
