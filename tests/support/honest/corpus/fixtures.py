"""pytest fixtures and mocks aimed at the solution: files under ``tmp_path``, patched
``input``/``sys.stdin``, printed output, patched solution attributes and modules it
imported, logging, environment variables, ``tempfile`` in unittest suites."""

from __future__ import annotations

from .pair import Pair

F = ("fixtures",)

PAIRS = [
    Pair("fix-tmp-path-read", "kodcode", F, '''\
def count_words(path):
    with open(path) as f:
        return sum(len(line.split()) for line in f)


def longest_line(path):
    with open(path) as f:
        return max((line.rstrip("\\n") for line in f), key=len, default="")
''', '''\
from solution import count_words, longest_line


def test_count(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("one two\\nthree\\n")
    assert count_words(p) == 3
    assert count_words(str(p)) == 3


def test_longest(tmp_path):
    p = tmp_path / "b.txt"
    p.write_text("ab\\nabcd\\nabc\\n")
    assert longest_line(p) == "abcd"
'''),
    Pair("fix-tmp-path-write", "kodcode", F, '''\
import json


def save_scores(path, scores):
    with open(path, "w") as f:
        json.dump(scores, f, sort_keys=True)
    return len(scores)


def load_scores(path):
    with open(path) as f:
        return json.load(f)
''', '''\
import json

from solution import load_scores, save_scores


def test_write_then_read(tmp_path):
    path = tmp_path / "scores.json"
    assert save_scores(path, {"b": 2, "a": 1}) == 2
    assert path.read_text() == '{"a": 1, "b": 2}'
    assert load_scores(path) == {"a": 1, "b": 2}


def test_reads_test_file(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"x": [1, 2]}))
    assert load_scores(str(path)) == {"x": [1, 2]}
'''),
    Pair("fix-tmp-path-csv", "bigcodebench", F, '''\
import csv
import os


def task_func(directory, out_name="summary.csv"):
    rows = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".txt"):
            with open(os.path.join(directory, name)) as f:
                rows.append((name, len(f.read().split())))
    out = os.path.join(directory, out_name)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "words"])
        writer.writerows(rows)
    return out
''', '''\
import csv
import os
import shutil
import tempfile
import unittest

from solution import task_func


class TestSummary(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        for name, text in {"a.txt": "x y z", "b.txt": "w", "c.log": "ignored"}.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_summary(self):
        out = task_func(self.dir)
        self.assertTrue(os.path.exists(out))
        with open(out) as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows, [["file", "words"], ["a.txt", "3"], ["b.txt", "1"]])
'''),
    Pair("fix-tmp-path-dir-walk", "kodcode", F, '''\
from pathlib import Path


def find_by_suffix(root, suffix):
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob(f"*{suffix}"))


def total_size(root):
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
''', '''\
from solution import find_by_suffix, total_size


def test_find(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("x")
    (tmp_path / "sub" / "b.py").write_text("yy")
    (tmp_path / "sub" / "c.txt").write_text("zzz")
    assert find_by_suffix(tmp_path, ".py") == ["a.py", "sub/b.py"]
    assert total_size(tmp_path) == 6
'''),
    Pair("fix-monkeypatch-input", "kodcode", F, '''\
def ask_age():
    while True:
        text = input("Age? ")
        if text.isdigit():
            return int(text)
        print("Please enter a number")
''', '''\
from solution import ask_age


def test_input(monkeypatch):
    answers = iter(["abc", "42"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert ask_age() == 42


def test_input_and_output(monkeypatch, capsys):
    answers = iter(["x", "7"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert ask_age() == 7
    assert capsys.readouterr().out == "Please enter a number\\n"
'''),
    Pair("fix-stdin-stringio", "apps", F, '''\
def main():
    n = int(input())
    nums = list(map(int, input().split()))
    print(sum(nums[:n]))
    print(max(nums[:n]))
''', '''\
import io
import sys

from solution import main


def run(stdin_text, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin_text))
    main()
    return capsys.readouterr().out


def test_sample(monkeypatch, capsys):
    assert run("3\\n1 2 3\\n", monkeypatch, capsys) == "6\\n3\\n"


def test_prefix(monkeypatch, capsys):
    assert run("2\\n5 -1 100\\n", monkeypatch, capsys) == "4\\n5\\n"
'''),
    Pair("fix-stdin-readlines", "apps", F, '''\
import sys


def solve():
    data = sys.stdin.read().split()
    t = int(data[0])
    out = []
    for i in range(1, t + 1):
        out.append(str(int(data[i]) ** 2))
    sys.stdout.write("\\n".join(out) + "\\n")
''', '''\
import io
import sys

import solution


def test_solve(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("3\\n1\\n2\\n3\\n"))
    solution.solve()
    assert capsys.readouterr().out == "1\\n4\\n9\\n"
'''),
    Pair("fix-stdin-buffer-fast-read", "apps", F, '''\
import sys


def main():
    data = sys.stdin.buffer.read().split()
    n = int(data[0])
    values = list(map(int, data[1:1 + n]))
    sys.stdout.write(f"{max(values) - min(values)}\\n")


def first_line():
    return sys.stdin.buffer.readline().rstrip(b"\\n")
''', '''\
import io
import sys

from solution import first_line, main


def feed(monkeypatch, data):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_spread(monkeypatch, capsys):
    feed(monkeypatch, b"4\\n3 9 1 4\\n")
    main()
    assert capsys.readouterr().out == "8\\n"


def test_first_line_is_bytes(monkeypatch):
    feed(monkeypatch, b"hello\\nworld\\n")
    assert first_line() == b"hello"
'''),
    Pair("fix-capsys-print", "kodcode", F, '''\
def fizzbuzz(n):
    for i in range(1, n + 1):
        if i % 15 == 0:
            print("FizzBuzz")
        elif i % 3 == 0:
            print("Fizz")
        elif i % 5 == 0:
            print("Buzz")
        else:
            print(i)


def warn(msg):
    import sys
    print(f"warning: {msg}", file=sys.stderr)
''', '''\
from solution import fizzbuzz, warn


def test_fizzbuzz(capsys):
    fizzbuzz(5)
    assert capsys.readouterr().out.split() == ["1", "2", "Fizz", "4", "Buzz"]


def test_stderr(capsys):
    warn("low disk")
    captured = capsys.readouterr()
    assert captured.err == "warning: low disk\\n"
    assert captured.out == ""
'''),
    Pair("fix-patch-time", "kodcode", ("fixtures", "instances"), '''\
import time


class RateLimiter:
    def __init__(self, per_second):
        self.interval = 1.0 / per_second
        self.last = None

    def allow(self):
        now = time.time()
        if self.last is None or now - self.last >= self.interval:
            self.last = now
            return True
        return False


def timestamp():
    return int(time.time())
''', '''\
from unittest import mock

from solution import RateLimiter, timestamp


def test_patched_time():
    with mock.patch("solution.time.time", return_value=1000.7):
        assert timestamp() == 1000


def test_rate_limiter():
    rl = RateLimiter(2)
    with mock.patch("solution.time.time") as fake:
        fake.return_value = 10.0
        assert rl.allow() is True
        fake.return_value = 10.2
        assert rl.allow() is False
        fake.return_value = 10.6
        assert rl.allow() is True
    assert fake.call_count == 3
'''),
    Pair("fix-patch-object-helper", "kodcode", F, '''\
def fetch_price(symbol):
    raise RuntimeError("no network in tests")


def portfolio_value(holdings):
    return sum(fetch_price(sym) * qty for sym, qty in holdings.items())
''', '''\
from unittest import mock

import solution


def test_patch_object():
    prices = {"AAA": 10.0, "BBB": 2.5}
    with mock.patch.object(solution, "fetch_price", side_effect=prices.__getitem__) as fake:
        assert solution.portfolio_value({"AAA": 2, "BBB": 4}) == 30.0
    assert fake.call_count == 2
    fake.assert_any_call("AAA")


def test_monkeypatch_setattr(monkeypatch):
    monkeypatch.setattr(solution, "fetch_price", lambda s: 1.0)
    assert solution.portfolio_value({"X": 3}) == 3.0
'''),
    Pair("fix-patch-random", "bigcodebench", F, '''\
import random


def task_func(n, sides=6):
    rolls = [random.randint(1, sides) for _ in range(n)]
    return rolls, sum(rolls)
''', '''\
import unittest
from unittest.mock import patch

from solution import task_func


class TestDice(unittest.TestCase):
    @patch("solution.random.randint")
    def test_patched(self, mock_randint):
        mock_randint.side_effect = [1, 6, 3]
        rolls, total = task_func(3)
        self.assertEqual(rolls, [1, 6, 3])
        self.assertEqual(total, 10)
        mock_randint.assert_called_with(1, 6)

    def test_seeded(self):
        import random
        random.seed(0)
        rolls, total = task_func(5, sides=2)
        self.assertTrue(all(r in (1, 2) for r in rolls))
        self.assertEqual(total, sum(rolls))
'''),
    Pair("fix-patch-subprocess", "bigcodebench", F, '''\
import subprocess


def task_func(host):
    result = subprocess.run(["ping", "-c", "1", host], capture_output=True, text=True)
    return "up" if result.returncode == 0 else "down"
''', '''\
import unittest
from unittest.mock import MagicMock, patch

from solution import task_func


class TestPing(unittest.TestCase):
    @patch("solution.subprocess.run")
    def test_up(self, mock_run):
        mock_run.return_value = MagicMock(returncode=0, stdout="ok")
        self.assertEqual(task_func("example.org"), "up")
        args, kwargs = mock_run.call_args
        self.assertEqual(args[0], ["ping", "-c", "1", "example.org"])
        self.assertTrue(kwargs["capture_output"])

    @patch("solution.subprocess.run")
    def test_down(self, mock_run):
        mock_run.return_value.returncode = 1
        self.assertEqual(task_func("nowhere"), "down")
'''),
    Pair("fix-patch-os-path", "bigcodebench", F, '''\
import os


def task_func(path):
    if not os.path.exists(path):
        return "missing"
    return "dir" if os.path.isdir(path) else "file"
''', '''\
import unittest
from unittest import mock

from solution import task_func


class TestKind(unittest.TestCase):
    def test_missing(self):
        with mock.patch("os.path.exists", return_value=False):
            self.assertEqual(task_func("/anything"), "missing")

    def test_dir(self):
        with mock.patch("solution.os.path.exists", return_value=True), \\
             mock.patch("solution.os.path.isdir", return_value=True):
            self.assertEqual(task_func("/x"), "dir")

    def test_real(self):
        self.assertEqual(task_func("/"), "dir")
'''),
    Pair("fix-caplog", "kodcode", F, '''\
import logging

logger = logging.getLogger(__name__)


def process(items):
    done = 0
    for item in items:
        if item < 0:
            logger.warning("skipping negative item %s", item)
            continue
        logger.info("processing %s", item)
        done += 1
    return done
''', '''\
import logging

from solution import process


def test_warning_logged(caplog):
    with caplog.at_level(logging.INFO):
        assert process([1, -2, 3]) == 2
    assert "skipping negative item -2" in caplog.text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "solution"


def test_info_messages(caplog):
    caplog.set_level(logging.INFO, logger="solution")
    process([5])
    assert caplog.messages == ["processing 5"]
'''),
    Pair("fix-assert-logs-unittest", "bigcodebench", F, '''\
import logging


def task_func(values):
    log = logging.getLogger("stats")
    if not values:
        log.error("no values")
        return None
    avg = sum(values) / len(values)
    log.info("average is %.1f", avg)
    return avg
''', '''\
import unittest

from solution import task_func


class TestLogs(unittest.TestCase):
    def test_info(self):
        with self.assertLogs("stats", level="INFO") as cm:
            self.assertEqual(task_func([1, 2]), 1.5)
        self.assertEqual(cm.output, ["INFO:stats:average is 1.5"])

    def test_error(self):
        with self.assertLogs("stats", level="ERROR"):
            self.assertIsNone(task_func([]))
'''),
    Pair("fix-setenv", "kodcode", F, '''\
import os


def get_config():
    return {
        "debug": os.environ.get("APP_DEBUG", "0") == "1",
        "workers": int(os.getenv("APP_WORKERS", "4")),
    }
''', '''\
from solution import get_config


def test_defaults(monkeypatch):
    monkeypatch.delenv("APP_DEBUG", raising=False)
    monkeypatch.delenv("APP_WORKERS", raising=False)
    assert get_config() == {"debug": False, "workers": 4}


def test_env(monkeypatch):
    monkeypatch.setenv("APP_DEBUG", "1")
    monkeypatch.setenv("APP_WORKERS", "16")
    assert get_config() == {"debug": True, "workers": 16}
'''),
    Pair("fix-patch-dict-environ", "bigcodebench", F, '''\
import os


def task_func():
    return os.environ.get("GREETING", "hello") + ", " + os.environ.get("USER_NAME", "world")
''', '''\
import os
import unittest
from unittest import mock

from solution import task_func


class TestEnv(unittest.TestCase):
    @mock.patch.dict(os.environ, {"GREETING": "hi", "USER_NAME": "ann"})
    def test_patched(self):
        self.assertEqual(task_func(), "hi, ann")

    def test_default(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            self.assertEqual(task_func(), "hello, world")
'''),
    Pair("fix-monkeypatch-constant", "kodcode", F, '''\
MAX_ITEMS = 3


def take_allowed(items):
    return items[:MAX_ITEMS]


def limit():
    return MAX_ITEMS
''', '''\
import solution


def test_default():
    assert solution.take_allowed(list(range(10))) == [0, 1, 2]


def test_patched_constant(monkeypatch):
    monkeypatch.setattr(solution, "MAX_ITEMS", 5)
    assert solution.limit() == 5
    assert solution.take_allowed(list(range(10))) == [0, 1, 2, 3, 4]


def test_restored():
    assert solution.limit() == 3
'''),
    Pair("fix-chdir-relative-file", "kodcode", F, '''\
import os


def write_report(lines, name="report.txt"):
    with open(name, "w") as f:
        f.write("\\n".join(lines))
    return os.path.abspath(name)
''', '''\
from solution import write_report


def test_relative_write(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_report(["a", "b"])
    assert (tmp_path / "report.txt").read_text() == "a\\nb"
    assert path == str(tmp_path / "report.txt")
'''),
    Pair("fix-mock-open", "bigcodebench", F, '''\
def task_func(path):
    with open(path) as f:
        header = f.readline().strip()
    return header.split(",")
''', '''\
import unittest
from unittest.mock import mock_open, patch

from solution import task_func


class TestHeader(unittest.TestCase):
    def test_mock_open(self):
        with patch("builtins.open", mock_open(read_data="a,b,c\\n1,2,3\\n")) as m:
            self.assertEqual(task_func("data.csv"), ["a", "b", "c"])
        m.assert_called_once_with("data.csv")
'''),
    Pair("fix-tempfile-named", "bigcodebench", F, '''\
import hashlib


def task_func(path, algorithm="sha256"):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4096), b""):
            h.update(block)
    return h.hexdigest()
''', '''\
import hashlib
import os
import tempfile
import unittest

from solution import task_func


class TestHash(unittest.TestCase):
    def test_hash_file(self):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(b"hello")
            name = f.name
        try:
            self.assertEqual(task_func(name), hashlib.sha256(b"hello").hexdigest())
            self.assertEqual(task_func(name, "md5"), hashlib.md5(b"hello").hexdigest())
        finally:
            os.remove(name)

    def test_tempdir(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "empty")
            open(p, "wb").close()
            self.assertEqual(task_func(p), hashlib.sha256(b"").hexdigest())
'''),
    Pair("fix-input-loop-mock", "apps", F, '''\
def main():
    total = 0
    while True:
        line = input()
        if line == "end":
            break
        total += int(line)
    print(total)
''', '''\
from unittest import mock

from solution import main


def test_main(capsys):
    with mock.patch("builtins.input", side_effect=["1", "2", "39", "end"]):
        main()
    assert capsys.readouterr().out.strip() == "42"
'''),
    Pair("fix-patch-datetime-helper", "kodcode", F, '''\
from datetime import date


def today():
    return date.today()


def greeting():
    d = today()
    return "Happy New Year!" if (d.month, d.day) == (1, 1) else f"Today is {d.isoformat()}"
''', '''\
from datetime import date

import solution


def test_new_year(monkeypatch):
    monkeypatch.setattr(solution, "today", lambda: date(2025, 1, 1))
    assert solution.greeting() == "Happy New Year!"


def test_other_day(monkeypatch):
    monkeypatch.setattr(solution, "today", lambda: date(2025, 3, 4))
    assert solution.greeting() == "Today is 2025-03-04"
'''),
    # A test changes the environment or a logger's level for itself; the next test finds
    # them as they were (monkeypatch and caplog undo their changes at the end of a test).
    Pair("fix-setenv-then-default", "kodcode", F, '''\
import os


def debug_enabled():
    return os.environ.get("APP_DEBUG") == "1"


def workers():
    return int(os.environ.get("APP_WORKERS", "4"))
''', '''\
from solution import debug_enabled, workers


def test_debug_on(monkeypatch):
    monkeypatch.setenv("APP_DEBUG", "1")
    monkeypatch.setenv("APP_WORKERS", "16")
    assert debug_enabled() and workers() == 16


def test_defaults_again():
    assert not debug_enabled()
    assert workers() == 4
'''),
    Pair("fix-caplog-level-then-default", "kodcode", F, '''\
import logging

log = logging.getLogger("inventory")


def restock(item, n):
    log.debug("restocking %s x%d", item, n)
    return log.isEnabledFor(logging.DEBUG)
''', '''\
import logging

from solution import restock


def test_debug_logged(caplog):
    caplog.set_level(logging.DEBUG, logger="inventory")
    assert restock("apple", 3) is True
    assert "restocking apple x3" in caplog.text


def test_debug_off_again():
    assert restock("pear", 1) is False
'''),
    # The solution sets variables and a logger's level itself; tests override others for
    # a while: what the solution set stays, as in plain pytest's one process.
    Pair("fix-own-env-and-level-kept", "kodcode", F, '''\
import logging
import os

os.environ.setdefault("APP_HOME", "/srv/app")
log = logging.getLogger("app")
log.setLevel(logging.ERROR)


def configure(mode):
    os.environ["APP_MODE"] = mode


def mode():
    return os.environ.get("APP_MODE", "unset")


def greeting():
    return os.environ.get("GREETING", "hello")


def home():
    return os.environ["APP_HOME"]


def work():
    log.info("working")
    log.error("boom")
    return 1
''', '''\
import logging

from solution import configure, greeting, home, mode, work


def test_greeting_override(monkeypatch):
    monkeypatch.setenv("GREETING", "hi")
    assert greeting() == "hi"
    configure("prod")


def test_mode_kept_and_greeting_back():
    assert mode() == "prod"
    assert greeting() == "hello"
    assert home() == "/srv/app"


def test_verbose(caplog):
    caplog.set_level(logging.INFO, logger="app")
    work()
    assert "working" in caplog.text


def test_quiet_again(caplog):
    caplog.set_level(logging.INFO)
    work()
    assert "boom" in caplog.text
    assert "working" not in caplog.text
'''),
    # Module-level containers imported by name (`from solution import inventory`): plain
    # pytest's tests and solution hold one object, which the solution's calls fill and an
    # autouse fixture (or a test) empties or stocks.
    Pair("fix-module-containers-shared", "kodcode", F, '''\
from collections import deque

inventory = {}
log = []
seen = set()
recent = deque(maxlen=3)


def add_item(name, qty):
    inventory[name] = inventory.get(name, 0) + qty
    log.append(("add", name, qty))
    seen.add(name)
    recent.append(name)
    return inventory[name]


def remove_item(name, qty):
    if inventory.get(name, 0) < qty:
        raise ValueError("not enough")
    inventory[name] -= qty
    if inventory[name] == 0:
        del inventory[name]
    log.append(("remove", name, qty))
    return inventory.get(name, 0)


def total():
    return sum(inventory.values())
''', '''\
import pytest

import solution
from solution import add_item, inventory, log, recent, remove_item, seen, total


@pytest.fixture(autouse=True)
def empty_store():
    inventory.clear()
    log.clear()
    yield
    inventory.clear()


def test_add():
    assert add_item("apple", 3) == 3
    assert inventory == {"apple": 3}
    assert log == [("add", "apple", 3)]


def test_starts_empty():
    assert inventory == {}
    assert total() == 0


def test_remove():
    add_item("pear", 5)
    assert remove_item("pear", 2) == 3
    assert inventory["pear"] == 3
    assert [entry[0] for entry in log] == ["add", "remove"]


def test_remove_all():
    add_item("fig", 1)
    remove_item("fig", 1)
    assert "fig" not in inventory
    assert total() == 0


def test_test_sets_stock():
    inventory["kiwi"] = 10
    assert total() == 10
    assert remove_item("kiwi", 4) == 6
    assert inventory == {"kiwi": 6}


def test_module_attribute_is_the_same_object():
    assert solution.inventory is inventory
    add_item("plum", 2)
    assert solution.inventory == {"plum": 2}
    assert "plum" in seen
    assert list(recent)[-1] == "plum"


def test_not_enough():
    with pytest.raises(ValueError):
        remove_item("ghost", 1)
    assert inventory == {}
'''),
    # BigCodeBench's way with the outside world: the tests patch library functions by
    # their own names (os.listdir, time.sleep, urllib.request.urlopen, smtplib.SMTP,
    # builtins.print, sys.argv, os.path.exists through monkeypatch), which in plain pytest's
    # one process is what the solution calls.
    Pair("fix-patch-library-attributes", "bigcodebench", F, '''\
import os
import smtplib
import sys
import time
import urllib.request


def task_func(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".txt"))


def slow_upper(text):
    time.sleep(30)
    return text.upper()


def page(url):
    with urllib.request.urlopen(url) as response:
        return response.read().decode()


def notify(to):
    server = smtplib.SMTP("smtp.example.com", 587)
    server.sendmail("me@example.com", to, "done")
    server.quit()
    return True


def report(total):
    print(f"total: {total}")


def cli_args():
    return sys.argv[1:]


def is_configured(path):
    return os.path.exists(path)
''', '''\
import unittest
from unittest.mock import patch

import pytest

from solution import cli_args, is_configured, notify, page, report, slow_upper, task_func


class TestTaskFunc(unittest.TestCase):
    @patch("os.listdir")
    def test_lists_text_files(self, mock_listdir):
        mock_listdir.return_value = ["b.txt", "a.txt", "c.csv"]
        self.assertEqual(task_func("/data"), ["a.txt", "b.txt"])
        mock_listdir.assert_called_once_with("/data")

    @patch("time.sleep")
    def test_no_real_wait(self, mock_sleep):
        self.assertEqual(slow_upper("ok"), "OK")
        mock_sleep.assert_called_once_with(30)

    @patch("urllib.request.urlopen")
    def test_page(self, mock_urlopen):
        mock_urlopen.return_value.__enter__.return_value.read.return_value = b"<html>"
        self.assertEqual(page("http://example.com"), "<html>")

    @patch("smtplib.SMTP")
    def test_notify(self, mock_smtp):
        self.assertTrue(notify("you@example.com"))
        mock_smtp.assert_called_once_with("smtp.example.com", 587)
        mock_smtp.return_value.sendmail.assert_called_once()

    @patch("builtins.print")
    def test_report(self, mock_print):
        report(3)
        mock_print.assert_called_once_with("total: 3")

    def test_cli_args(self):
        with patch("sys.argv", ["prog", "--n", "2"]):
            self.assertEqual(cli_args(), ["--n", "2"])

    def test_listdir_back_to_normal(self):
        self.assertEqual(task_func("/"), [])


def test_configured(monkeypatch):
    monkeypatch.setattr("os.path.exists", lambda path: path == "/etc/app.conf")
    assert is_configured("/etc/app.conf") and not is_configured("/etc/other.conf")


def test_exists_back_to_normal():
    assert is_configured("/") and not is_configured("/etc/app.conf")
'''),
    Pair("fix-cwd-files-kodcode", "kodcode", F, '''\
import os


def count_words(path):
    with open(path) as f:
        return sum(len(line.split()) for line in f)


def save_totals(totals, path="totals.txt"):
    with open(path, "w") as f:
        for name in sorted(totals):
            f.write(f"{name}={totals[name]}\\n")
    return os.path.getsize(path)
''', '''\
import os

from solution import count_words, save_totals


def test_count_words_in_a_file_the_test_wrote():
    with open("sample.txt", "w") as f:
        f.write("the quick brown\\nfox jumps\\n")
    try:
        assert count_words("sample.txt") == 5
    finally:
        os.remove("sample.txt")


def test_the_solution_writes_where_the_test_reads():
    size = save_totals({"b": 2, "a": 1})
    with open("totals.txt") as f:
        assert f.read() == "a=1\\nb=2\\n"
    assert size == os.path.getsize("totals.txt")
    os.remove("totals.txt")
    assert not os.path.exists("totals.txt")
'''),
    Pair("fix-cwd-setup-dir-bigcode", "bigcodebench", F, '''\
import os
import shutil


def task_func(src_dir, dest_dir, ext):
    os.makedirs(dest_dir, exist_ok=True)
    moved = []
    for name in sorted(os.listdir(src_dir)):
        if name.endswith("." + ext):
            shutil.move(os.path.join(src_dir, name), os.path.join(dest_dir, name))
            moved.append(name)
    return moved
''', '''\
import os
import shutil
import unittest

from solution import task_func


class TestCases(unittest.TestCase):
    def setUp(self):
        self.src = "test_src"
        self.dest = "test_dest"
        os.makedirs(self.src, exist_ok=True)
        for name in ("a.txt", "b.csv", "c.txt"):
            with open(os.path.join(self.src, name), "w") as f:
                f.write(name)

    def tearDown(self):
        shutil.rmtree(self.src, ignore_errors=True)
        shutil.rmtree(self.dest, ignore_errors=True)

    def test_moves_matching_files(self):
        self.assertEqual(task_func(self.src, self.dest, "txt"), ["a.txt", "c.txt"])
        self.assertEqual(sorted(os.listdir(self.dest)), ["a.txt", "c.txt"])
        self.assertEqual(os.listdir(self.src), ["b.csv"])

    def test_nothing_to_move(self):
        self.assertEqual(task_func(self.src, self.dest, "json"), [])
        self.assertTrue(os.path.isdir(self.dest))
'''),
    Pair("fix-script-run-as-main-apps", "apps", F, '''\
import sys


def solve(data):
    n = int(data[0])
    nums = list(map(int, data[1:1 + n]))
    return max(nums) - min(nums)


def main():
    print(solve(sys.stdin.read().split()))


if __name__ == "__main__":
    main()
''', '''\
import io
import runpy
import sys

import pytest


@pytest.mark.parametrize(("given", "expected"), [("3\\n1 5 2\\n", "4"), ("1\\n7\\n", "0")])
def test_program(monkeypatch, capsys, given, expected):
    monkeypatch.setattr(sys, "stdin", io.StringIO(given))
    runpy.run_path("solution.py", run_name="__main__")
    assert capsys.readouterr().out.strip() == expected


def test_as_a_module(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("2\\n-3 3\\n"))
    runpy.run_module("solution", run_name="__main__")
    assert capsys.readouterr().out.strip() == "6"
'''),
    Pair("fix-script-reloaded-per-input", "apps", F, '''\
n = int(input())
words = [input().strip() for _ in range(n)]
print(" ".join(sorted(words, key=lambda w: (len(w), w))))
''', '''\
import importlib
import io
import sys

CASES = [("3\\npear\\nfig\\napple\\n", "fig pear apple"), ("1\\nz\\n", "z")]


def test_each_input(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("2\\nbb\\na\\n"))
    import solution  # the first run of the script

    assert capsys.readouterr().out.strip() == "a bb"
    for given, expected in CASES:
        monkeypatch.setattr(sys, "stdin", io.StringIO(given))
        importlib.reload(solution)
        assert capsys.readouterr().out.strip() == expected
'''),
    Pair("fix-child-process-reads-files", "bigcodebench", F, '''\
def task_func(rows, path="report.csv"):
    lines = ["name,score"] + [f"{name},{score}" for name, score in rows]
    with open(path, "w") as f:
        f.write("\\n".join(lines) + "\\n")
    return path
''', '''\
import os
import subprocess
import sys
import unittest

from solution import task_func


class TestCases(unittest.TestCase):
    def tearDown(self):
        if os.path.exists("report.csv"):
            os.remove("report.csv")

    def test_a_shell_command_sees_the_file(self):
        task_func([["ann", 3], ["bob", 5]])
        lines = subprocess.check_output(["wc", "-l", "report.csv"], text=True).split()[0]
        self.assertEqual(lines, "3")
        self.assertEqual(os.system("grep -q bob report.csv"), 0)

    def test_a_python_child_reads_it(self):
        task_func([["cy", 1]])
        code = "import csv; print(list(csv.reader(open('report.csv')))[-1])"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), "['cy', '1']")
'''),
]
