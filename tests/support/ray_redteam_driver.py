"""A driver of the test cluster (tests/support/ray_cluster.py) that sends the red-team corpus
(tests/support/redteam_corpus.py, patterns P1-P20) through the Ray backend: every attack
in both pytest modes and both isolations, and the honest solution beside each, in one
batch under ``enforce`` with the binary reward. Prints one JSON line with a record per
job (its attack, mode, isolation, status, reward and rejecting flag codes).

    python tests/support/ray_redteam_driver.py BATCH_ID
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, where the support package is

from misalign_rewards import RewardClient  # noqa: E402
from misalign_rewards.jobs import PytestJob  # noqa: E402
from misalign_rewards.logs import configure_logging  # noqa: E402
from misalign_rewards.settings import Settings  # noqa: E402
from support.redteam_corpus import ALL_IDS, ATTACKS, HONEST, TESTS  # noqa: E402


def batch() -> tuple[list[PytestJob], list[dict[str, str]]]:
    jobs: list[PytestJob] = []
    keys: list[dict[str, str]] = []
    for isolation in ("fresh", "pooled"):
        for mode in ("isolated", "inprocess"):
            for attack in ATTACKS:
                jobs.append(PytestJob(solution=attack.files, tests=attack.tests, mode=mode,
                                      isolation=isolation, expected_tests=ALL_IDS,
                                      timeout_s=attack.timeout_s))
                keys.append({"id": attack.id, "mode": mode, "isolation": isolation})
            jobs.append(PytestJob(solution=HONEST, tests=TESTS, mode=mode, isolation=isolation))
            keys.append({"id": "honest", "mode": mode, "isolation": isolation})
    return jobs, keys


async def main(batch_id: str) -> None:
    configure_logging("json", level="warning")
    jobs, keys = batch()
    async with RewardClient(Settings(backend="ray", integrity="enforce", reward_policy="binary")) as client:
        results = await client.score(jobs, batch_id=batch_id)
    out = [{**key, "index": r.index, "status": r.status.value, "reward": r.reward,
            "rejecting": sorted({f.code for f in r.flags if f.rejects})}
           for key, r in zip(keys, results, strict=True)]
    print(json.dumps({"results": out}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
