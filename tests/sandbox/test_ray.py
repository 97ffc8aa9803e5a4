"""The Ray backend against a real cluster on this machine (tests/support/ray_cluster.py): a head
and two worker nodes, each worker with a Docker engine of its own. What each test
claims is read from the engines themselves (their events and containers) and from the
rewards, which every job's solution fixes in advance (job i deserves 1.0 iff i % 3 == 1).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from misalign_rewards.sandbox.base import Limits
from misalign_rewards.sandbox.capacity import HostResources, plan_capacity
from misalign_rewards.sandbox.labels import LABEL_BATCH, LABEL_CLIENT, LABEL_JOB
from misalign_rewards.sandbox.pool import EXTRA_PIDS
from misalign_rewards.sandbox.ray.protocol import LEASE_S
from support.engines import Engine, make_engine
from support.ray_cluster import RayCluster, ray_available

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.ray]

SUPPORT = Path(__file__).resolve().parents[1] / "support"
DRIVER = str(SUPPORT / "ray_driver.py")
#: How many times each test of killed or several drivers runs in one session (the fault
#: tests were run 20-50 times in a row before they were called stable: MISALIGN_RAY_ROUNDS=20).
ROUNDS = int(os.environ.get("MISALIGN_RAY_ROUNDS", "1"))


@pytest.fixture(scope="module")
def cluster(_second_engine_session: Engine, python_image: str) -> Iterator[tuple[RayCluster, Engine, Engine]]:
    problem = ray_available()
    if problem:
        pytest.fail(problem)  # the [test] extra installs Ray: missing it is a broken setup
    w1 = _second_engine_session
    w1.ensure_running()
    w2 = make_engine("misalign-ray-w2-")
    w2.start()
    w2.load_image(python_image)
    c = RayCluster()
    try:
        c.start()
        c.add_worker("w1", w1)
        c.add_worker("w2", w2)
        yield c, w1, w2
    finally:
        c.stop()
        w2.close()


def deserved(i: int) -> float:
    return 1.0 if i % 3 == 1 else 0.0


def events(engine: Engine, since: float, batch_id: str, event: str = "start") -> list[str]:
    """Job labels of the containers of ``batch_id`` that had ``event`` on ``engine``
    since ``since`` (the engine's own record)."""
    out = subprocess.run(
        [*_events_of(batch_id, '{{index .Actor.Attributes "' + LABEL_JOB + '"}}'),
         "--since", f"{since:.3f}", "--until", f"{time.time():.3f}", "--filter", f"event={event}"],
        env=engine.env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def _events_of(batch_id: str, fmt: str) -> list[str]:
    """``docker events`` of the containers of ``batch_id``, each printed as ``fmt``."""
    return ["docker", "events", "--filter", f"label={LABEL_BATCH}={batch_id}", "--format", fmt]


class EventStream:
    """``docker events`` of one batch (or of every batch) on one engine, followed live
    from a thread: what the engine said up to the moment it died (a restarted engine
    keeps no history)."""

    def __init__(self, engine: Engine, batch_id: str | None = None) -> None:
        #: (action, job label, container id, batch label), in the engine's order
        self.lines: list[tuple[str, str, str, str]] = []
        attr = '{{index .Actor.Attributes "%s"}}'
        self.proc = subprocess.Popen(
            ["docker", "events", "--filter", f"label={LABEL_BATCH}" + (f"={batch_id}" if batch_id else ""),
             "--format", "{{.Action}} " + attr % LABEL_JOB + " {{.Actor.ID}} " + attr % LABEL_BATCH],
            env=engine.env, stdout=subprocess.PIPE, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            action, job, cid, batch = (line.split() + ["", "", "", ""])[:4]
            self.lines.append((action, job, cid, batch))

    def jobs(self, action: str) -> set[str]:
        return {job for a, job, _, _ in list(self.lines) if a == action}

    def peak(self, batches: set[str]) -> int:
        """The most containers of ``batches`` that were running at once on this engine
        (between their start and their die, in the engine's own order of events)."""
        running: set[str] = set()
        most = 0
        for action, _, cid, batch in list(self.lines):
            if batch not in batches:
                continue
            if action == "start":
                running.add(cid)
                most = max(most, len(running))
            elif action == "die":
                running.discard(cid)
        return most

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.thread.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def running_jobs(engine: Engine, batch_id: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "--filter", f"label={LABEL_BATCH}={batch_id}",
                          "--format", '{{.Label "' + LABEL_JOB + '"}}'],
                         env=engine.env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def finish(driver: subprocess.Popen[str], timeout: float = 300) -> dict:
    out, err = driver.communicate(timeout=timeout)
    assert driver.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])


def stop(driver: subprocess.Popen[str]) -> None:
    if driver.poll() is None:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.communicate()


def wait_for(cond, timeout: float, what: str, step: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what} did not happen in {timeout:g} s")


def assert_every_result(out: dict, n: int) -> None:
    results = out["results"]
    assert [r["index"] for r in results] == list(range(n))
    assert [r["job_id"] for r in results] == [f"j{i}" for i in range(n)]
    assert [r["reward"] for r in results] == [deserved(i) for i in range(n)], results
    assert all(r["attempts"] == 1 for r in results), results


@pytest.mark.parametrize("isolation", ["fresh", "pooled"])
def test_a_batch_spreads_over_both_engines(cluster: tuple[RayCluster, Engine, Engine], isolation: str) -> None:
    c, w1, w2 = cluster
    batch_id, n = f"spread-{isolation}", 12
    t0 = time.time()
    out = finish(c.driver([DRIVER, batch_id, str(n), "0", isolation]))
    assert_every_result(out, n)
    on1, on2 = events(w1, t0, batch_id), events(w2, t0, batch_id)
    assert on1 and on2, (on1, on2)  # both engines started containers of this batch
    if isolation == "fresh":
        # one container per job, each on one engine only
        assert sorted(on1 + on2) == sorted(f"j{i}" for i in range(n))
    # The harness (a dozen files of some kB each) went into the object store once per
    # file, and each node fetched each of its files once, not once per run.
    assert out["distinct"] >= 10
    assert out["puts"] == out["distinct"]
    for stats in out["stats"].values():
        assert stats["runs"] >= 1
        assert stats["fetched"] <= out["puts"], stats


def test_a_node_lost_mid_batch_and_one_joining(cluster: tuple[RayCluster, Engine, Engine]) -> None:
    """w1 is killed with runs in flight, then a new node starts on its engine: every
    input gets exactly its deserved reward, the lost runs finish elsewhere, and the new
    node takes runs of the same batch."""
    c, w1, w2 = cluster
    batch_id, n = "lost", 30
    t0 = time.time()
    driver = c.driver([DRIVER, batch_id, str(n), "2", "fresh", "sandbox"])
    try:
        wait_for(lambda: running_jobs(w1, batch_id), 120, "a run of the batch on w1")
        t_kill = time.time()
        c.kill_worker("w1")
        # what still runs on w1 once its node is dead was in flight (a run's result leaves
        # the node only after its container exited); the node's watchdog removes it
        on_w1 = running_jobs(w1, batch_id)
        wait_for(lambda: not running_jobs(w1, batch_id), 30, "the killed node's containers removed")
        c.add_worker("w1", w1)
        t_join = time.time()
        out = finish(driver)
    finally:
        stop(driver)
        if "w1" not in c.workers:
            c.add_worker("w1", w1)
    assert_every_result(out, n)
    assert out["losses"] >= 1 and out["replaced"] >= len(on_w1), (on_w1, out)
    # what was running on w1 when it died was started again, after the kill, elsewhere
    restarted = events(w2, t_kill, batch_id) + events(w1, t_join, batch_id)
    assert set(on_w1) <= set(restarted), (on_w1, restarted)
    # the node that joined mid-batch took runs of it
    assert events(w1, t_join, batch_id), "the new node on w1 took no run"
    assert len(events(w1, t0, batch_id, "die")) + len(events(w2, t0, batch_id, "die")) >= n


def test_an_engine_lost_mid_batch(cluster: tuple[RayCluster, Engine, Engine]) -> None:
    """w2's dockerd is SIGKILLed with runs in flight (its Ray node lives on): those runs
    finish on w1, every reward is the deserved one, and w2 takes runs again once its
    engine is back."""
    c, w1, w2 = cluster
    batch_id, n = "engine-lost", 18
    seen_by_w2 = EventStream(w2, batch_id)  # ends when w2 dies
    driver = c.driver([DRIVER, batch_id, str(n), "2", "fresh", "sandbox"])
    try:
        on_w2 = wait_for(lambda: running_jobs(w2, batch_id), 120, "a run of the batch on w2")
        t_kill = time.time()
        w2.stop(signal.SIGKILL)
        time.sleep(3)
        w2.start()
        t_back = time.time()
        out = finish(driver)
    finally:
        stop(driver)
        w2.ensure_running()
        seen_by_w2.close()
    assert_every_result(out, n)
    # A run that w2 saw end before it was killed (between `docker ps` and the kill) was
    # finished there; every other one was in flight and must have moved to w1.
    in_flight = set(on_w2) - seen_by_w2.jobs("die")
    assert out["replaced"] >= len(in_flight), (on_w2, out)
    assert in_flight <= set(events(w1, t_kill, batch_id)), ("the runs on the lost engine did not move", on_w2)
    assert events(w2, t_back, batch_id), "w2 took no run once its engine was back"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_killed_driver_leaves_no_container(cluster: tuple[RayCluster, Engine, Engine], round_: int) -> None:
    """SIGKILL the driver with warm containers busy on both engines: its lease on each
    node lapses, the nodes cancel its runs (their warm containers are removed), and, no
    driver holding the nodes any more, their idle warm containers go too."""
    c, w1, w2 = cluster
    batch_id = f"orphans-{round_}"
    driver = c.driver([DRIVER, batch_id, "8", "30", "pooled"])
    try:
        wait_for(lambda: running_jobs(w1, batch_id) and running_jobs(w2, batch_id), 120,
                 "busy containers on both engines")
    finally:
        stop(driver)
    # (w1's engine is the session's second engine: other tests' containers may be there)
    for engine in (w1, w2):
        wait_for(lambda engine=engine: not engine.containers(f"{LABEL_BATCH}={batch_id}"),
                 LEASE_S + 30, f"no container of the killed driver's batch left on {engine.url}")


def node_budget(out: dict) -> dict[str, int]:
    """Each node's runs at once for the tests' jobs (fresh, and warm with their extra
    pid), from the host the node reported: the bound its engine must never pass."""
    bounds = {}
    for info in out["nodes"].values():
        host = HostResources(cpus=info["cpus"], memory_bytes=info["memory_bytes"], pids=info["pids"])
        bounds[info["endpoint"]] = min(
            plan_capacity(limits, host, memory_fraction=info["memory_fraction"],
                          pids_fraction=info["pids_fraction"], override=info["max_runs"]).limit
            for limits in (Limits(), Limits(pids=Limits().pids + EXTRA_PIDS)))
    return bounds


def first_line(driver: subprocess.Popen[str]) -> dict:
    """The driver's first line: which actor serves each node."""
    assert driver.stdout is not None
    line = driver.stdout.readline()
    if not line:
        stop(driver)
        raise AssertionError(f"the driver ended before it started: {driver.stderr.read()[-4000:]}")  # type: ignore[union-attr]
    return json.loads(line)


def actors(out: dict) -> dict[str, int]:
    return {node_id: info["pid"] for node_id, info in out["nodes"].items()}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_several_drivers_share_each_node(cluster: tuple[RayCluster, Engine, Engine], round_: int) -> None:
    """Three driver processes at once, each with a batch that could fill both nodes: one
    actor serves each node for all of them, and the containers running at once on each
    engine (its own events) never pass that node's budget, which all three share. Every
    input of every driver gets its deserved reward, in order."""
    c, w1, w2 = cluster
    batches = {f"share-{round_}-{k}" for k in range(3)}
    n = 12
    streams = {w1.url: EventStream(w1), w2.url: EventStream(w2)}
    drivers = [c.driver([DRIVER, b, str(n), "2", "fresh"]) for b in sorted(batches)]
    try:
        outs = [finish(d) for d in drivers]
    finally:
        for d in drivers:
            stop(d)
        time.sleep(1)  # the last events on their way
        for stream in streams.values():
            stream.close()
    for out in outs:
        assert_every_result(out, n)
    assert actors(outs[0]) == actors(outs[1]) == actors(outs[2]), [actors(o) for o in outs]
    bounds = node_budget(outs[0])
    peaks = {url: streams[url].peak(batches) for url in bounds}
    assert all(peaks[url] <= bounds[url] for url in bounds), (peaks, bounds)
    # not by leaving room unused: the drivers filled a node's whole budget together
    assert any(peaks[url] == bounds[url] for url in bounds), (peaks, bounds)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_driver_killed_mid_batch_beside_another(cluster: tuple[RayCluster, Engine, Engine], round_: int) -> None:
    """Two drivers share the nodes; one, with warm containers busy on both engines, is
    SIGKILLed. The node actors live on (the same ones serve the other driver to its end),
    the killed driver's lease lapses and its containers are gone within the lease and a
    margin, and the other driver's every input gets its deserved reward, in order. Neither
    engine ever runs more containers than its node's budget."""
    c, w1, w2 = cluster
    survivor, victim = f"survivor-{round_}", f"victim-{round_}"
    n = 30
    streams = {w1.url: EventStream(w1), w2.url: EventStream(w2)}
    a = c.driver([DRIVER, survivor, str(n), "2", "fresh"])
    b = c.driver([DRIVER, victim, "12", "30", "pooled"])
    try:
        started_a, started_b = first_line(a), first_line(b)
        assert started_a["actors"] == started_b["actors"]  # one actor per node, for both
        wait_for(lambda: running_jobs(w1, victim) and running_jobs(w2, victim), 120,
                 "the victim's runs busy on both engines")
        assert a.poll() is None, "the other driver ended before the kill: nothing was shared"
        stop(b)
        for engine in (w1, w2):
            wait_for(lambda engine=engine: not engine.containers(f"{LABEL_BATCH}={victim}"), LEASE_S + 30,
                     f"no container of the killed driver left on {engine.url}")
        out = finish(a)
    finally:
        stop(a)
        stop(b)
        time.sleep(1)
        for stream in streams.values():
            stream.close()
    assert_every_result(out, n)
    assert actors(out) == started_a["actors"]  # the shared actors outlived the killed driver
    bounds = node_budget(out)
    peaks = {url: streams[url].peak({survivor, victim}) for url in bounds}
    assert all(peaks[url] <= bounds[url] for url in bounds), (peaks, bounds)


def test_the_red_team_earns_nothing_through_ray(cluster: tuple[RayCluster, Engine, Engine]) -> None:
    """The red-team corpus (P1-P20, tests/support/redteam_corpus.py) through the Ray
    backend, both pytest modes, fresh and warm containers, in one batch over both nodes:
    under ``enforce`` no attack earns anything and each is judged (no infrastructure
    result stands in for a verdict), while the honest solution beside them earns 1.0
    everywhere."""
    c, w1, w2 = cluster
    batch_id = "redteam"
    t0 = time.time()
    out = finish(c.driver([str(SUPPORT / "ray_redteam_driver.py"), batch_id]), timeout=600)
    results = out["results"]
    assert [r["index"] for r in results] == list(range(len(results))) and len(results) == 84
    honest = [r for r in results if r["id"] == "honest"]
    attacks = [r for r in results if r["id"] != "honest"]
    assert len(honest) == 4 and all(r["reward"] == 1.0 and r["status"] == "passed" for r in honest), honest
    judged = [r for r in attacks if r["status"] not in ("infra_error", "internal_error", "invalid_input")]
    assert judged == attacks, [r for r in attacks if r not in judged]
    paid = [r for r in attacks if r["reward"] != 0.0]
    assert not paid, paid
    # spread over both engines (their own record, not our counters)
    assert events(w1, t0, batch_id) and events(w2, t0, batch_id)


def test_a_node_actor_no_driver_holds_exits(cluster: tuple[RayCluster, Engine, Engine]) -> None:
    """A node's actor is not kept forever: once no driver holds it for ``idle_exit_s``,
    it removes its containers and its process ends (a third node, on w2's engine, whose
    actor this test's driver starts with a short ``idle_exit_s``)."""
    c, _, w2 = cluster
    c.add_worker("w3", w2)
    try:
        out = finish(c.driver([DRIVER, "idle-exit", "6", "0", "pooled", "sandbox"],
                              env={"NODE_OPTIONS": json.dumps({"idle_exit_s": 2})}))
        assert_every_result(out, 6)
        (w3,) = [node_id for node_id, names in out["resources"].items() if "w3" in names]
        info = out["nodes"][w3]
        assert info["options"]["idle_exit_s"] == 2  # this driver started it
        wait_for(lambda: not Path(f"/proc/{info['pid']}").exists(), 60, "the idle node actor's exit")
        wait_for(lambda: not w2.containers(f"{LABEL_CLIENT}={info['client_id']}"), 30,
                 "the exited actor's containers removed")
    finally:
        c.kill_worker("w3")

