"""Rewritten test modules kept between a warm container's jobs (harness/collect.py,
"rewritten test modules"): a file is taken as compiled only for the same bytes at the same
path, the code is pytest's own, a module whose compiling warns is never kept, and a
supervisor keeps only well-formed hand-backs, within its bounds."""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from misalign_rewards.harness import collect, schema

SOURCE = "def check(candidate):\n    assert candidate(2) == 4\n\n\ndef test_x():\n    check(lambda v: v * 2)\n"


@pytest.fixture
def reuse(pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[bytes, bytes]]:
    """This process as a warm container's worker: reuse on, the prepared run's config."""
    kept: dict[bytes, bytes] = {}
    monkeypatch.setattr(collect, "_rewrites", kept)
    monkeypatch.setattr(collect, "_ahead", [collect._Ahead(options=[], config=pytestconfig, session=None,
                                                                  slot=collect.RecorderSlot())])
    yield kept


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _handed_back(data: bytes) -> tuple[int, dict[bytes, bytes]]:
    reused, new = marshal.loads(data)
    return reused, new


def test_pytests_import_takes_a_kept_module_and_it_is_pytests_own_code(
        reuse: dict[bytes, bytes], tmp_path: Path, pytestconfig: pytest.Config) -> None:
    assert rewrite._rewrite_test is collect._rewrite_test_reusing  # importing the harness put it there
    assert collect.PYTEST_REWRITE_TEST is not None
    path = _write(tmp_path / "test_a.py", SOURCE)
    reused, new = _handed_back(collect.precompile([path]))
    assert reused == 0 and len(new) == 1 and reuse == new
    _, own = collect.PYTEST_REWRITE_TEST(Path(path), pytestconfig)
    assert marshal.loads(next(iter(new.values()))) == own
    # the import hook takes what is kept: plant a marker under the key to see it used
    (key,) = new
    marker = compile("MARKER = 1\n", path, "exec")
    reuse[key] = marshal.dumps(marker)
    assert rewrite._rewrite_test(Path(path), pytestconfig)[1] == marker
    # and the next job with the same file compiles nothing
    assert _handed_back(collect.precompile([path])) == (1, {})


def test_other_bytes_or_another_path_are_compiled_again(reuse: dict[bytes, bytes], tmp_path: Path) -> None:
    first = _write(tmp_path / "test_a.py", SOURCE)
    collect.precompile([first])
    changed = _write(tmp_path / "test_a.py", SOURCE.replace("== 4", "== 5"))
    assert changed == first
    reused, new = _handed_back(collect.precompile([changed]))
    assert reused == 0 and len(new) == 1
    (tmp_path / "b").mkdir()
    elsewhere = _write(tmp_path / "b" / "test_a.py", SOURCE)
    reused, new = _handed_back(collect.precompile([elsewhere]))
    assert reused == 0 and len(new) == 1 and len(reuse) == 3


def test_a_module_whose_compiling_warns_or_fails_is_not_kept(reuse: dict[bytes, bytes], tmp_path: Path) -> None:
    warns = _write(tmp_path / "test_tuple.py", "def test_t():\n    assert (1 == 2, 'always true')\n")
    escape = _write(tmp_path / "test_escape.py", "import re\n\n\ndef test_e():\n    assert re.match('\\d', '1')\n")
    broken = _write(tmp_path / "test_broken.py", "def test_b(:\n    pass\n")
    missing = str(tmp_path / "test_missing.py")
    fine = _write(tmp_path / "test_fine.py", SOURCE)
    reused, new = _handed_back(collect.precompile([warns, escape, broken, missing, fine]))
    assert reused == 0 and len(new) == 1 and list(reuse) == list(new)


def test_off_outside_a_warm_container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(collect, "_rewrites", None)
    assert _handed_back(collect.precompile([_write(tmp_path / "test_a.py", SOURCE)])) == (0, {})


def test_a_hand_back_larger_than_its_pipe_hands_back_nothing_new(
        reuse: dict[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "HAND_BACK_MAX_BYTES", 100)
    reused, new = _handed_back(collect.precompile([_write(tmp_path / "test_a.py", SOURCE)]))
    assert (reused, new) == (0, {})


def test_a_supervisor_keeps_well_formed_hand_backs_within_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    kept: dict[bytes, bytes] = {}
    monkeypatch.setattr(collect, "_rewrites", kept)
    monkeypatch.setattr(collect, "REWRITES_MAX", 3)
    code = marshal.dumps(compile("x = 1\n", "f.py", "exec"))
    good = marshal.dumps((2, {bytes([1]) * 32: code}))
    for bad in (b"", b"junk", good[:-3], marshal.dumps((1, {b"short": code})), marshal.dumps((1, {bytes(32): "text"})),
                marshal.dumps(("1", {})), marshal.dumps([1, 2, 3])):
        assert collect.keep_rewrites(bad) == 0
    assert kept == {}
    assert collect.keep_rewrites(good) == 2 and list(kept) == [bytes([1]) * 32]
    for n in range(2, 6):
        collect.keep_rewrites(marshal.dumps((0, {bytes([n]) * 32: code})))
    assert list(kept) == [bytes([n]) * 32 for n in (3, 4, 5)]  # the oldest went first
    monkeypatch.setattr(collect, "REWRITES_MAX_BYTES", 2 * len(code))
    collect.keep_rewrites(marshal.dumps((0, {bytes([9]) * 32: code})))
    assert list(kept) == [bytes([n]) * 32 for n in (5, 9)]


def test_a_large_test_file_is_left_to_pytests_import(reuse: dict[bytes, bytes], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collect, "PRECOMPILE_MAX_SOURCE", len(SOURCE) - 1)
    assert _handed_back(collect.precompile([_write(tmp_path / "test_a.py", SOURCE)])) == (0, {})
    assert reuse == {}
