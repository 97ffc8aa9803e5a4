"""What the honest corpus earns in the sandbox, by feature class.

    .venv/bin/python -m tests.support.honest.report                      # isolated, fresh containers
    .venv/bin/python -m tests.support.honest.report --isolation pooled
    .venv/bin/python -m tests.support.honest.report --mode inprocess
    .venv/bin/python -m tests.support.honest.report --only inst- --json verdicts.json

For each feature class (a pair counts in each class it is tagged with): how many pairs
earned 1.0, how many earned 0 with the ``needs_inprocess`` flag, how many earned 0 with
no such flag (a silent 0), and how many got no reward (None: infrastructure). Then the
reason of a few pairs that did not earn 1.0 in each class. Needs the Docker engine and
the python-sandbox image (tests/conftest.py builds it when missing; this script does not).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import anyio

from misalign_rewards.logs import configure_logging

from .corpus import FEATURES, PAIRS
from .sandboxed import Verdict, score, verdict


def table(verdicts: dict[str, Verdict], *, examples: int = 3) -> str:
    """The per-class table and a few reasons per class, as text."""
    rows: dict[str, list[Verdict]] = defaultdict(list)
    for pair in PAIRS:
        if pair.id in verdicts:
            for tag in pair.tags:
                rows[tag].append(verdicts[pair.id])
    head = f"{'feature class':<14}{'pairs':>6}{'1.0':>6}{'0 flagged':>11}{'0 silent':>10}{'None':>6}"
    lines = [head, "-" * len(head)]
    every = list(verdicts.values())
    for name, vs in [*((f, rows[f]) for f in FEATURES if rows[f]), ("ALL", every)]:
        earned = sum(v.earned for v in vs)
        flagged = sum(v.reward == 0 and v.needs_inprocess for v in vs)
        silent = sum(v.reward is not None and v.reward < 1 and not v.needs_inprocess for v in vs)
        none = sum(v.reward is None for v in vs)
        lines.append(f"{name:<14}{len(vs):>6}{earned:>6}{flagged:>11}{silent:>10}{none:>6}")
    for name in FEATURES:
        misses = [v for v in rows[name] if not v.earned]
        if misses and examples > 0:
            lines.append(f"\n{name}: {len(misses)} not earned, e.g.")
            lines.extend(f"  {v.pair_id} [{v.status}{', needs_inprocess' if v.needs_inprocess else ''}]"
                         f" {v.why[:240]}" for v in misses[:examples])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.support.honest.report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["isolated", "inprocess"], default="isolated")
    ap.add_argument("--isolation", choices=["fresh", "pooled"], default="fresh")
    ap.add_argument("--only", default="", help="only pairs whose id starts with this")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--examples", type=int, default=3, help="reasons shown per class")
    ap.add_argument("--json", type=Path, help="also write every pair's verdict here")
    args = ap.parse_args(argv)
    configure_logging("console", level="warning")
    pairs = [p for p in PAIRS if p.id.startswith(args.only)]
    start = time.monotonic()
    outcomes = anyio.run(lambda: score(pairs, mode=args.mode, isolation=args.isolation,
                                       concurrency=args.concurrency))
    verdicts = {p.id: verdict(p.id, outcomes[p.id]) for p in pairs}
    print(f"{len(pairs)} pairs, mode={args.mode}, isolation={args.isolation}, enforce, "
          f"{time.monotonic() - start:.0f} s\n")
    print(table(verdicts, examples=args.examples))
    if args.json:
        args.json.write_text(json.dumps([asdict(v) for v in verdicts.values()], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
