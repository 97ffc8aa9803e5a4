"""Plain pytest on the host, one honest pair at a time: the reference the corpus must meet.

Each pair runs in a temporary folder of its own (its solution files and test files side by
side, as a dataset's own runner lays them out) in a subprocess of the worktree's Python,
with entry-point plugins off so the project's own pytest plugins play no part."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .corpus import Pair

ROOT = Path(__file__).resolve().parents[3]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class PlainResult:
    pair_id: str
    exit_code: int
    tests: int
    failures: int
    errors: int
    skipped: int
    output: str

    @property
    def ok(self) -> bool:
        """Every test ran and passed."""
        return (self.exit_code == 0 and self.tests > 0
                and self.failures == self.errors == self.skipped == 0)


def python() -> str:
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


def run_pair(pair: Pair, *, timeout_s: float = 120) -> PlainResult:
    """Run one pair with plain pytest in a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix=f"honest-{pair.id}-") as tmp:
        work = Path(tmp)
        for name, text in {**pair.solution_files, **pair.test_files}.items():
            (work / name).write_text(text)
        (work / "pytest.ini").write_text("[pytest]\n")
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONPATH", None)
        tests = [n for n in pair.test_files if n.startswith("test_") or n.endswith("_test.py")]
        proc = subprocess.run(
            [python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml",
             str(work / "report.xml"), "--basetemp", str(work / "basetemp"), *tests],
            cwd=work, capture_output=True, text=True, timeout=timeout_s, env=env)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        report = work / "report.xml"
        if report.exists():
            for suite in ET.parse(report).getroot().iter("testsuite"):
                for key in counts:
                    counts[key] += int(suite.get(key, "0"))
        return PlainResult(pair.id, proc.returncode, output=(proc.stdout + proc.stderr)[-4000:], **counts)


def run_pairs(pairs: Iterable[Pair], *, workers: int = 3) -> dict[str, PlainResult]:
    """Every pair, a few at a time; results by pair id."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {r.pair_id: r for r in pool.map(run_pair, pairs)}
