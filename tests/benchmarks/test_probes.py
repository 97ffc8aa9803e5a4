"""The benchmark's CPU probes, no engine."""

from __future__ import annotations

from benchmarks.probes import TICKS, engine_cpu_s


def test_the_engine_cpu_of_a_cell_never_goes_negative() -> None:
    """benchmarks/probes.py: a shim that exits between readings is lost (a lower bound),
    not subtracted; a process started since counts whole; a reused pid is a new process."""
    before = {(10, "100"): 50, (11, "200"): 500, (12, "300"): 7}
    after = {(10, "100"): 80, (12, "999"): 20, (13, "400"): 5}
    assert engine_cpu_s(before, after) == (30 + 20 + 5) / TICKS
