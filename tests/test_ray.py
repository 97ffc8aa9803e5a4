"""The Ray backend against a real cluster on this machine (tests/ray_cluster.py): a head
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
from engines import Engine, make_engine
from ray_cluster import RayCluster, ray_available


pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.ray]

DRIVER = str(Path(__file__).with_name("ray_driver.py"))
JOB = "io.misalign-rewards.job"


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
        [*_events_of(batch_id, '{{index .Actor.Attributes "' + JOB + '"}}'),
         "--since", f"{since:.3f}", "--until", f"{time.time():.3f}", "--filter", f"event={event}"],
        env=engine.env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def _events_of(batch_id: str, fmt: str) -> list[str]:
    """``docker events`` of the containers of ``batch_id``, each printed as ``fmt``."""
    return ["docker", "events", "--filter", f"label=io.misalign-rewards.batch={batch_id}", "--format", fmt]


class EventStream:
    """``docker events`` of one batch on one engine, followed live from a thread: what the
    engine said up to the moment it died (a restarted engine keeps no history)."""

    def __init__(self, engine: Engine, batch_id: str) -> None:
        self.lines: list[tuple[str, str]] = []
        self.proc = subprocess.Popen(
            _events_of(batch_id, '{{.Action}} {{index .Actor.Attributes "' + JOB + '"}}'),
            env=engine.env, stdout=subprocess.PIPE, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            action, _, job = line.strip().partition(" ")
            self.lines.append((action, job))

    def jobs(self, action: str) -> set[str]:
        return {job for a, job in list(self.lines) if a == action}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.thread.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def running_jobs(engine: Engine, batch_id: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "--filter", f"label=io.misalign-rewards.batch={batch_id}",
                          "--format", '{{.Label "' + JOB + '"}}'],
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


def test_a_killed_driver_leaves_no_container(cluster: tuple[RayCluster, Engine, Engine]) -> None:
    """SIGKILL the driver with warm containers busy on both engines: Ray kills its node
    actors, and each actor's watchdog removes everything that actor had on its engine."""
    c, w1, w2 = cluster
    batch_id = "orphans"
    driver = c.driver([DRIVER, batch_id, "8", "30", "pooled"])
    try:
        wait_for(lambda: running_jobs(w1, batch_id) and running_jobs(w2, batch_id), 120,
                 "busy containers on both engines")
    finally:
        stop(driver)
    # (w1's engine is the session's second engine: other tests' containers may be there)
    for engine in (w1, w2):
        wait_for(lambda engine=engine: not engine.containers(f"io.misalign-rewards.batch={batch_id}"), 30,
                 f"no container of the killed driver's batch left on {engine.url}")


def test_the_red_team_earns_nothing_through_ray(cluster: tuple[RayCluster, Engine, Engine]) -> None:
    """The red-team corpus (P1-P20, tests/redteam) through the Ray backend, both pytest
    modes, fresh and warm containers, in one batch over both nodes: under ``enforce`` no
    attack earns anything and each is judged (no infrastructure result stands in for a
    verdict), while the honest solution beside them earns 1.0 everywhere."""
    c, w1, w2 = cluster
    batch_id = "redteam"
    t0 = time.time()
    out = finish(c.driver([str(Path(__file__).with_name("ray_redteam_driver.py")), batch_id]), timeout=600)
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
