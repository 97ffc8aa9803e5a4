"""A driver of the test cluster (tests/support/ray_cluster.py): scores a batch through Ray and
prints what came back as one JSON line.

    python tests/support/ray_driver.py BATCH_ID N SLEEP_S ISOLATION [settings|sandbox]

The first line printed says which actor (pid) serves each node; the last, the results.
Job i's solution returns i % 3 and its test asserts 1 after sleeping SLEEP_S, so job i
deserves 1.0 exactly when i % 3 == 1. ``settings`` makes the client from
``Settings(backend="ray")``; ``sandbox`` passes a RaySandbox that looks at the cluster
every second (for the tests of nodes that come and go), with the node options that the
environment's NODE_OPTIONS (JSON) gives.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import ray

from misalign_rewards import RewardClient
from misalign_rewards.logs import configure_logging
from misalign_rewards.sandbox.ray import RaySandbox
from misalign_rewards.settings import Settings


def batch(n: int, sleep_s: float) -> list[dict[str, object]]:
    tests = f"import time\nfrom solution import f\n\ndef test_f():\n    time.sleep({sleep_s})\n    assert f() == 1\n"
    return [{"kind": "pytest", "job_id": f"j{i}", "solution": f"def f():\n    return {i % 3}\n",
             "tests": tests} for i in range(n)]


async def main(batch_id: str, n: int, sleep_s: float, isolation: str, how: str) -> None:
    configure_logging("json", level="info")  # to stderr: the ray.* events explain a failure
    settings = Settings(backend="ray", isolation=isolation)  # type: ignore[arg-type]
    sandbox = None
    if how == "sandbox":
        sandbox = RaySandbox(os.environ["MISALIGN_RAY_ADDRESS"], refresh_s=1.0,
                             node_options=json.loads(os.environ.get("NODE_OPTIONS", "{}")))
    async with RewardClient(settings, sandbox=sandbox) as client:
        sb = client.sandbox
        assert isinstance(sb, RaySandbox)
        # which actor serves each node (one per node, shared by every driver)
        print(json.dumps({"started": True, "actors": {k: v["pid"] for k, v in sb.nodes.items()}}), flush=True)
        results = await client.score(batch(n, sleep_s), batch_id=batch_id)
        out = {"results": [{"index": r.index, "job_id": r.job_id, "reward": r.reward, "status": r.status.value,
                            "attempts": r.attempts} for r in results],
               "losses": sb.losses, "replaced": sb.replaced, "puts": sb._blobs.puts if sb._blobs else None,
               "distinct": len(sb._blobs.distinct) if sb._blobs else None,
               "nodes": sb.nodes, "stats": await sb.node_stats(),
               # each node's own resources (the test cluster names its workers so)
               "resources": {n["NodeID"]: sorted(n["Resources"]) for n in ray.nodes() if n["Alive"]}}
        if sandbox is not None:
            await sandbox.aclose()
    print(json.dumps(out, default=str), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], int(a[1]), float(a[2]), a[3], a[4] if len(a) > 4 else "settings"))
