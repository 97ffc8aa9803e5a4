"""``pysource.matches`` (is a dotted name one of some names, or inside one) answers as its
definition does: ``q == n or q.startswith(n + ".")`` for some ``n``. It looks the name and
each of its dotted prefixes up in a set instead, since a scan asks it of every name a
module references, once per rule."""

from __future__ import annotations

import itertools
import random

from misalign_rewards.integrity.pysource import matches


def by_definition(q: str, names: list[str]) -> bool:
    return any(q == n or q.startswith(n + ".") for n in names)


def test_matches_answers_as_its_definition_on_every_small_case() -> None:
    # every string of up to 4 symbols over an alphabet with dots, against name lists of
    # up to 2 such strings (empty names, trailing and doubled dots included)
    words = ["".join(p) for k in range(5) for p in itertools.product("ab.", repeat=k)]
    checked = 0
    for q in words:
        for size in (0, 1, 2):
            for names in itertools.combinations(words, size):
                for given in (list(names), set(names), frozenset(names), tuple(names)):
                    assert matches(q, given) == by_definition(q, list(names)), (q, names)
                    checked += 1
    assert checked > 100_000


def test_matches_answers_as_its_definition_on_real_looking_names() -> None:
    parts = ["os", "sys", "_exit", "exit", "modules", "inspect", "stack", "ossify", "o", "s"]
    rng = random.Random(7)
    for _ in range(20_000):
        q = ".".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        names = [".".join(rng.choice(parts) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(0, 6))]
        assert matches(q, names) == by_definition(q, names), (q, names)


def test_a_name_is_not_inside_one_it_only_starts_like() -> None:
    assert matches("os._exit", {"os"}) and matches("os", {"os"})
    assert not matches("ossify.run", {"os"}) and not matches("os", {"os._exit"})
