"""Run the shipped harness bundle on the host, in a temp folder, the way the sandbox
runs it (same files, same ``python -I`` launch), but with ``contained`` off: the
end-of-test sweep that kills every process of the user is for the sandbox only."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from misalign_rewards.harness import bundle, launch_program
from misalign_rewards.verifiers.pytest import HarnessReport, parse_report

RUN_ID = "host-run"


def run_harness(tmp: Path, mode: str, solution: dict[str, str], tests: dict[str, str], *,
                call_timeout_s: float = 5.0, run_timeout_s: float = 30.0,
                key: bytes | None = None,
                ) -> tuple[HarnessReport, subprocess.CompletedProcess[bytes], bytes]:
    for rel, data in bundle().items():
        path = tmp / "harness" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for sub, files in (("tests", tests), ("solution", solution)):
        (tmp / sub).mkdir()
        for name, text in files.items():
            (tmp / sub / name).write_text(text)
    key = key or secrets.token_bytes(32)
    config: dict[str, Any] = {
        "mode": mode, "tests_dir": str(tmp / "tests"), "solution_dir": str(tmp / "solution"),
        "ini_path": str(tmp / "harness" / "pytest.ini"), "test_files": sorted(tests),
        "solution_modules": sorted(n[:-3] for n in solution), "call_timeout_s": call_timeout_s,
        "run_timeout_s": run_timeout_s, "contained": False,
        "trusted_tmp": str(tmp / ".trusted"),
    }
    proc = subprocess.run(
        [sys.executable, "-I", "-B", "-c", launch_program(str(tmp / "harness"))],
        input=json.dumps({"key": key.hex(), "run_id": RUN_ID, "config": config}).encode(),
        capture_output=True, cwd=tmp, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    return parse_report(proc.stdout, key, RUN_ID), proc, key


def outcomes(report: HarnessReport) -> dict[str, str]:
    return {t.id.split("::", 1)[1]: t.outcome.value for t in report.tests}
