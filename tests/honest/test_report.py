"""The report's table counts each verdict in the right column of each class of its pair."""

from __future__ import annotations

from support.honest.corpus import BY_ID
from support.honest.report import table
from support.honest.sandboxed import Verdict


def _v(pid: str, reward: float | None, flagged: bool) -> Verdict:
    return Verdict(pid, reward, "failed" if reward == 0 else "passed", flagged,
                   ("needs_inprocess",) if flagged else (), f"why {pid}")


def test_table_counts_earned_flagged_silent_and_none() -> None:
    verdicts = {
        "inst-stack": _v("inst-stack", 1.0, False),
        "exc-insufficient-funds": _v("exc-insufficient-funds", 0.0, True),  # exceptions + instances
        "exc-hierarchy": _v("exc-hierarchy", 0.0, False),
        "std-counter": _v("std-counter", None, False),
    }
    assert BY_ID["exc-insufficient-funds"].tags == ("exceptions", "instances")
    rows = {line.split()[0]: line.split()[1:] for line in table(verdicts).splitlines()
            if line and line.split()[0] in ("instances", "exceptions", "stdlib", "ALL")}
    #                       pairs 1.0 flagged silent None
    assert rows["instances"] == ["2", "1", "1", "0", "0"]
    assert rows["exceptions"] == ["2", "0", "1", "1", "0"]
    assert rows["stdlib"] == ["1", "0", "0", "0", "1"]
    assert rows["ALL"] == ["4", "1", "1", "1", "1"]
    text = table(verdicts)
    assert "why exc-hierarchy" in text and "why inst-stack" not in text
