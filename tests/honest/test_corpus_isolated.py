"""Issue 22, item 8: every honest pair earns 1.0 in isolated mode under ``enforce``, in
fresh and in warm containers, as plain pytest passes it (tests/honest/test_corpus_plain.py).
A pair the corpus marks ``needs_inprocess`` (with its reason) must come back flagged so,
never as a silent 0. Inprocess mode over the corpus is a second reference (advisory
results, fresh containers only).

Each mode runs the whole corpus once, a few jobs at a time, then one test per pair reads
its verdict. `python -m tests.support.honest.report` prints the same verdicts as a table."""

from __future__ import annotations

import functools

import anyio
import pytest

from support.honest.corpus import PAIRS
from support.honest.sandboxed import Verdict, score, verdict

pytestmark = [pytest.mark.docker, pytest.mark.slow]

IDS = [p.id for p in PAIRS]
BY_ID = {p.id: p for p in PAIRS}


def _run(image: str, **kw: str) -> dict[str, tuple[Verdict, bool]]:
    outcomes = anyio.run(functools.partial(score, PAIRS, image=image, **kw))
    return {pid: (verdict(pid, o), o.advisory) for pid, o in outcomes.items()}


@pytest.fixture(scope="module", params=["fresh", "pooled"])
def isolated(python_image: str, request: pytest.FixtureRequest) -> dict[str, tuple[Verdict, bool]]:
    return _run(python_image, mode="isolated", isolation=request.param)


@pytest.fixture(scope="module")
def inprocess(python_image: str) -> dict[str, tuple[Verdict, bool]]:
    return _run(python_image, mode="inprocess", isolation="fresh")


@pytest.mark.parametrize("pair_id", IDS)
def test_honest_pair_earns_full_reward_in_isolated_mode(
        isolated: dict[str, tuple[Verdict, bool]], pair_id: str) -> None:
    v, advisory = isolated[pair_id]
    assert not advisory
    reason = BY_ID[pair_id].needs_inprocess
    if reason is None:
        assert v.reward == 1.0 and not v.needs_inprocess, v
    else:
        assert v.needs_inprocess, (reason, v)


@pytest.mark.parametrize("pair_id", IDS)
def test_honest_pair_earns_full_reward_in_inprocess_mode(
        inprocess: dict[str, tuple[Verdict, bool]], pair_id: str) -> None:
    v, advisory = inprocess[pair_id]
    assert advisory
    assert v.reward == 1.0, v
