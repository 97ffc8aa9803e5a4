"""Benchmarks of misalign-rewards against its baselines (see benchmarks/README.md)."""
