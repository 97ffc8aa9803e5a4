"""Helpers shared by the tests: engines, clusters, harness runners."""
