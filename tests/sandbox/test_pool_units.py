"""Pure parts of the warm pool, no engine: what it accepts as a supervisor's done line."""

from __future__ import annotations

import json

from misalign_rewards.harness.schema import PoolDone
from misalign_rewards.sandbox.pool import read_done

DONE: PoolDone = {"worker_exit": 0, "strays": 0, "served": 3, "problems": [], "job_anomaly": False,
                  "left_behind": [], "oom_kills": 0, "rewrites_reused": 1}


def test_a_done_line_with_exactly_the_declared_keys_is_taken_as_written() -> None:
    assert read_done(json.dumps(DONE).encode()) == DONE


def test_a_done_line_without_its_optional_key_is_taken_too() -> None:
    # an earlier version's supervisor (benchmarks.pool_ab drives them) says nothing of reuse
    old = {k: v for k, v in DONE.items() if k != "rewrites_reused"}
    assert read_done(json.dumps(old).encode()) == old


def test_a_done_line_with_a_key_more_or_less_retires_the_container() -> None:
    for line in (json.dumps({**DONE, "healthy": True}), json.dumps({k: v for k, v in DONE.items() if k != "strays"}),
                 "not json", "[]"):
        done = read_done(line.encode())
        assert done["problems"] == ["an unreadable done line"] and done["job_anomaly"] is True, line

