"""Load a misalign-rewards JSON log into a table: one row per finished job.

    misalign-rewards run jobs.jsonl -o results.jsonl --log-file run.log
    .venv/bin/python examples/logs_to_table.py run.log [table.csv]

With pandas, see docs/logging.md: a reward of ``None`` (infrastructure trouble, invalid
input) is empty here and NaN there, never 0.
"""

import csv
import json
import sys

COLUMNS = ["batch_id", "job_id", "kind", "index", "status", "reward", "attempts", "duration_s",
           "run_s", "queued_s", "exit_codes", "flag_codes", "timestamp"]


def job_rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.get("event") == "job.finished":
                rows.append({c: record.get(c) for c in COLUMNS})
    return rows


if __name__ == "__main__":
    rows = job_rows(sys.argv[1])
    out = open(sys.argv[2], "w", newline="") if len(sys.argv) > 2 else sys.stdout
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    if out is not sys.stdout:
        out.close()
        print(f"{len(rows)} jobs -> {sys.argv[2]}")
