"""The honest corpus is honest: plain pytest passes every test of every pair (each pair in
its own folder and process, with the worktree's Python). Also the corpus's own shape:
enough pairs, every feature class and style covered several times, ids unique."""

from __future__ import annotations

from collections import Counter

import pytest

from support.honest.corpus import FEATURES, PAIRS, STYLES
from support.honest.plain import PlainResult, run_pairs


def test_the_corpus_covers_every_feature_class_and_style() -> None:
    assert len(PAIRS) >= 170
    assert len({p.id for p in PAIRS}) == len(PAIRS)
    assert all(p.needs_inprocess is None or p.needs_inprocess.strip() for p in PAIRS)
    features = Counter(t for p in PAIRS for t in p.tags)
    styles = Counter(p.style for p in PAIRS)
    assert {f: n for f, n in features.items() if n < 3} == {} and set(features) == set(FEATURES)
    assert {s: n for s, n in styles.items() if n < 5} == {} and set(styles) == set(STYLES)


@pytest.fixture(scope="module")
def plain_results() -> dict[str, PlainResult]:
    return run_pairs(PAIRS)


@pytest.mark.slow
def test_plain_pytest_passes_every_pair(plain_results: dict[str, PlainResult]) -> None:
    bad = {pid: r.output for pid, r in plain_results.items() if not r.ok}
    assert not bad, "\n\n".join(f"== {pid}\n{out}" for pid, out in bad.items())
    assert set(plain_results) == {p.id for p in PAIRS}
