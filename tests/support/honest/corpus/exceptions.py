"""The task's own exceptions (raised, matched, caught by class and by base, with
attributes) and builtin exceptions raised by the solution."""

from __future__ import annotations

from .pair import Pair

E = ("exceptions",)

PAIRS = [
    Pair("exc-insufficient-funds", "kodcode", ("exceptions", "instances"), '''\
class InsufficientFunds(Exception):
    pass


class Wallet:
    def __init__(self, balance=0):
        self.balance = balance

    def spend(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(f"need {amount}, have {self.balance}")
        self.balance -= amount
        return self.balance
''', '''\
import pytest
from solution import InsufficientFunds, Wallet


def test_spend():
    w = Wallet(10)
    assert w.spend(3) == 7


def test_raises_own_exception():
    w = Wallet(5)
    with pytest.raises(InsufficientFunds):
        w.spend(10)
    assert w.balance == 5


def test_match():
    with pytest.raises(InsufficientFunds, match=r"need 10, have 0"):
        Wallet().spend(10)
'''),
    Pair("exc-code-attribute", "kodcode", E, '''\
class HttpError(Exception):
    def __init__(self, code, reason):
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def fetch(path):
    routes = {"/": "home", "/about": "about"}
    if path not in routes:
        raise HttpError(404, "Not Found")
    if path == "/about":
        raise HttpError(403, "Forbidden")
    return routes[path]
''', '''\
import pytest
from solution import HttpError, fetch


def test_ok():
    assert fetch("/") == "home"


def test_except_as():
    try:
        fetch("/missing")
    except HttpError as e:
        assert e.code == 404
        assert e.reason == "Not Found"
        assert str(e) == "404 Not Found"
    else:
        pytest.fail("no error")


def test_excinfo_value():
    with pytest.raises(HttpError) as excinfo:
        fetch("/about")
    assert excinfo.value.code == 403
    assert excinfo.type is HttpError
    assert "Forbidden" in str(excinfo.value)
'''),
    Pair("exc-hierarchy", "kodcode", E, '''\
class AppError(Exception):
    """Base of this app's errors."""


class NotFound(AppError):
    pass


class PermissionDenied(AppError):
    pass


USERS = {"ann": "admin", "bob": "guest"}


def delete_user(actor, name):
    if name not in USERS:
        raise NotFound(name)
    if USERS.get(actor) != "admin":
        raise PermissionDenied(actor)
    return f"deleted {name}"
''', '''\
import pytest
from solution import AppError, NotFound, PermissionDenied, delete_user


def test_base_catches_subclass():
    with pytest.raises(AppError):
        delete_user("ann", "zed")


def test_specific():
    with pytest.raises(NotFound, match="zed"):
        delete_user("ann", "zed")
    with pytest.raises(PermissionDenied):
        delete_user("bob", "ann")


def test_hierarchy():
    assert issubclass(NotFound, AppError)
    assert issubclass(AppError, Exception)
    assert not issubclass(NotFound, PermissionDenied)
    try:
        delete_user("bob", "ann")
    except NotFound:
        pytest.fail("wrong branch")
    except AppError as e:
        assert type(e) is PermissionDenied
        assert isinstance(e, PermissionDenied)
'''),
    Pair("exc-assert-raises-unittest", "bigcodebench", E, '''\
import json


class ConfigError(ValueError):
    def __init__(self, key, problem):
        super().__init__(f"{key}: {problem}")
        self.key = key


def task_func(text):
    data = json.loads(text)
    if "port" not in data:
        raise ConfigError("port", "missing")
    if not 0 < data["port"] < 65536:
        raise ConfigError("port", "out of range")
    return data
''', '''\
import json
import unittest

from solution import ConfigError, task_func


class TestConfig(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(task_func('{"port": 80}'), {"port": 80})

    def test_missing(self):
        with self.assertRaises(ConfigError) as cm:
            task_func("{}")
        self.assertEqual(cm.exception.key, "port")

    def test_range_is_value_error(self):
        self.assertRaises(ValueError, task_func, '{"port": 0}')
        with self.assertRaisesRegex(ConfigError, "out of range"):
            task_func('{"port": 70000}')

    def test_bad_json(self):
        with self.assertRaises(json.JSONDecodeError):
            task_func("{")
'''),
    Pair("exc-builtin-value-error", "mbpp", E, '''\
def parse_positive(text):
    value = int(text)
    if value <= 0:
        raise ValueError(f"not positive: {value}")
    return value
''', '''\
import pytest
from solution import parse_positive


def test_parse_positive():
    assert parse_positive("5") == 5
    assert parse_positive(" 12 ") == 12
    with pytest.raises(ValueError, match="not positive: -3"):
        parse_positive("-3")
    with pytest.raises(ValueError, match="invalid literal"):
        parse_positive("abc")
'''),
    Pair("exc-builtin-key-index", "kodcode", E, '''\
def get_nested(d, path):
    for key in path.split("."):
        d = d[key]
    return d


def nth(xs, n):
    if n < 0:
        raise IndexError("negative index")
    return xs[n]
''', '''\
import pytest
from solution import get_nested, nth


def test_nested():
    assert get_nested({"a": {"b": 1}}, "a.b") == 1


def test_key_error():
    with pytest.raises(KeyError) as exc:
        get_nested({"a": {}}, "a.c")
    assert exc.value.args == ("c",)


def test_index_error():
    with pytest.raises(IndexError):
        nth([1], 5)
    with pytest.raises(IndexError, match="negative"):
        nth([1], -1)
    with pytest.raises(LookupError):
        nth([], 0)
'''),
    Pair("exc-zero-division", "humaneval", E, '''\
def safe_ratio(a, b, default=None):
    try:
        return a / b
    except ZeroDivisionError:
        if default is None:
            raise
        return default


def average(xs):
    return sum(xs) / len(xs)
''', '''\
import pytest
from solution import average, safe_ratio


def check(candidate):
    assert candidate(6, 3) == 2.0
    assert candidate(1, 0, default=0.0) == 0.0
    with pytest.raises(ZeroDivisionError):
        candidate(1, 0)


def test_check():
    check(safe_ratio)


def test_average_empty():
    with pytest.raises(ZeroDivisionError):
        average([])
    assert average([1, 2]) == 1.5
'''),
    Pair("exc-type-error", "kodcode", E, '''\
def add_vectors(a, b):
    if not isinstance(a, (list, tuple)) or not isinstance(b, (list, tuple)):
        raise TypeError("vectors must be lists or tuples")
    if len(a) != len(b):
        raise ValueError("length mismatch")
    return [x + y for x, y in zip(a, b)]
''', '''\
import pytest
from solution import add_vectors


@pytest.mark.parametrize("a, b, exc", [
    ([1], "x", TypeError),
    (None, [1], TypeError),
    ([1, 2], [1], ValueError),
])
def test_errors(a, b, exc):
    with pytest.raises(exc):
        add_vectors(a, b)


def test_ok():
    assert add_vectors((1, 2), [3, 4]) == [4, 6]
'''),
    Pair("exc-custom-str", "kodcode", E, '''\
class ValidationError(Exception):
    def __init__(self, field, errors):
        super().__init__(field, errors)
        self.field = field
        self.errors = list(errors)

    def __str__(self):
        return f"{self.field}: " + "; ".join(self.errors)


def validate_username(name):
    errors = []
    if len(name) < 3:
        errors.append("too short")
    if not name.isalnum():
        errors.append("not alphanumeric")
    if errors:
        raise ValidationError("username", errors)
    return name.lower()
''', '''\
import pytest
from solution import ValidationError, validate_username


def test_valid():
    assert validate_username("Alice") == "alice"


def test_errors_list():
    with pytest.raises(ValidationError) as e:
        validate_username("a!")
    assert e.value.errors == ["too short", "not alphanumeric"]
    assert e.value.field == "username"
    assert str(e.value) == "username: too short; not alphanumeric"
    assert e.value.args == ("username", ["too short", "not alphanumeric"])
'''),
    Pair("exc-value-error-subclass-caught-as-base", "kodcode", E, '''\
class ParseError(ValueError):
    def __init__(self, line, message):
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse_kv(text):
    out = {}
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if "=" not in raw:
            raise ParseError(i, "expected key=value")
        k, v = raw.split("=", 1)
        out[k.strip()] = v.strip()
    return out
''', '''\
import pytest
from solution import ParseError, parse_kv


def test_parse():
    assert parse_kv("a = 1\\n\\nb=two") == {"a": "1", "b": "two"}


def test_caught_as_value_error():
    with pytest.raises(ValueError, match="line 2"):
        parse_kv("a=1\\noops")


def test_line_attribute():
    with pytest.raises(ParseError) as info:
        parse_kv("x")
    assert info.value.line == 1
    assert isinstance(info.value, ValueError)
'''),
    Pair("exc-raise-from", "kodcode", E, '''\
class StorageError(Exception):
    pass


def load(store, key):
    try:
        return store[key]
    except KeyError as exc:
        raise StorageError(f"no such key: {key}") from exc
''', '''\
import pytest
from solution import StorageError, load


def test_chained():
    with pytest.raises(StorageError) as info:
        load({}, "k")
    assert isinstance(info.value.__cause__, KeyError)
    assert str(info.value) == "no such key: k"


def test_found():
    assert load({"k": 1}, "k") == 1
'''),
    Pair("exc-in-generator", "kodcode", ("exceptions", "stdlib"), '''\
class BadRecord(Exception):
    def __init__(self, index):
        super().__init__(index)
        self.index = index


def records(lines):
    for i, line in enumerate(lines):
        parts = line.split(",")
        if len(parts) != 2:
            raise BadRecord(i)
        yield parts[0], int(parts[1])
''', '''\
import pytest
from solution import BadRecord, records


def test_yields_until_bad():
    gen = records(["a,1", "b,2", "broken", "c,3"])
    assert next(gen) == ("a", 1)
    assert next(gen) == ("b", 2)
    with pytest.raises(BadRecord) as info:
        next(gen)
    assert info.value.index == 2


def test_list():
    assert list(records(["x,5"])) == [("x", 5)]
'''),
    Pair("exc-stack-empty-leetcode", "leetcode", ("exceptions", "instances"), '''\
class EmptyStackError(IndexError):
    pass


class MaxStack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        if not self.items:
            raise EmptyStackError("empty")
        return self.items.pop()

    def popMax(self):
        if not self.items:
            raise EmptyStackError("empty")
        m = max(self.items)
        i = len(self.items) - 1 - self.items[::-1].index(m)
        return self.items.pop(i)
''', '''\
import pytest
from solution import EmptyStackError, MaxStack


def test_pop_max():
    s = MaxStack()
    for x in (5, 1, 5):
        s.push(x)
    assert s.popMax() == 5
    assert s.pop() == 1
    assert s.pop() == 5


def test_empty_is_index_error():
    s = MaxStack()
    with pytest.raises(EmptyStackError):
        s.pop()
    with pytest.raises(IndexError):
        s.popMax()
'''),
    Pair("exc-several-raises-parametrized", "kodcode", E, '''\
class TooLow(Exception):
    pass


class TooHigh(Exception):
    pass


def check_guess(guess, target):
    if guess < target:
        raise TooLow(guess)
    if guess > target:
        raise TooHigh(guess)
    return True
''', '''\
import pytest
import solution
from solution import check_guess


@pytest.mark.parametrize("guess, error", [(1, solution.TooLow), (9, solution.TooHigh)])
def test_wrong(guess, error):
    with pytest.raises(error):
        check_guess(guess, 5)


def test_right():
    assert check_guess(5, 5) is True


def test_tuple_of_exceptions():
    with pytest.raises((solution.TooLow, solution.TooHigh)):
        check_guess(0, 5)
'''),
    Pair("exc-exception-group", "kodcode", E, '''\
def validate_all(values):
    errors = []
    for v in values:
        if not isinstance(v, int):
            errors.append(TypeError(f"{v!r} is not an int"))
        elif v < 0:
            errors.append(ValueError(f"{v} is negative"))
    if errors:
        raise ExceptionGroup("invalid values", errors)
    return sum(values)
''', '''\
import pytest
from solution import validate_all


def test_ok():
    assert validate_all([1, 2]) == 3


def test_group():
    with pytest.raises(ExceptionGroup) as info:
        validate_all([1, -2, "x"])
    group = info.value
    assert [type(e) for e in group.exceptions] == [ValueError, TypeError]
    assert group.message == "invalid values"


def test_except_star():
    caught = []
    try:
        validate_all([-1])
    except* ValueError as eg:
        caught.extend(str(e) for e in eg.exceptions)
    assert caught == ["-1 is negative"]
'''),
    Pair("exc-stop-iteration-default", "kodcode", E, '''\
def first(iterable, predicate=bool):
    return next(x for x in iterable if predicate(x))


def first_or(iterable, default, predicate=bool):
    return next((x for x in iterable if predicate(x)), default)
''', '''\
import pytest
from solution import first, first_or


def test_first():
    assert first([0, "", 3, 4]) == 3
    assert first(range(10), lambda x: x > 7) == 8


def test_none_found():
    with pytest.raises(StopIteration):
        first([0, 0])
    assert first_or([], "none") == "none"
''',
         needs_inprocess="a StopIteration raised by a call becomes RuntimeError in isolated mode, so that it cannot end an iteration of the test's (map, filter, zip) early"),
    Pair("exc-not-implemented-abstract", "kodcode", ("exceptions", "instances"), '''\
from abc import ABC, abstractmethod


class Plugin(ABC):
    @abstractmethod
    def run(self, data):
        ...

    def describe(self):
        return type(self).__name__


class Upper(Plugin):
    def run(self, data):
        return data.upper()
''', '''\
import pytest
from solution import Plugin, Upper


def test_abstract_cannot_instantiate():
    with pytest.raises(TypeError):
        Plugin()


def test_concrete():
    assert Upper().run("ab") == "AB"
    assert Upper().describe() == "Upper"


def test_test_defined_plugin():
    class Reverse(Plugin):
        def run(self, data):
            return data[::-1]

    assert Reverse().run("abc") == "cba"
    assert Reverse().describe() == "Reverse"
'''),
    Pair("exc-assert-raises-context-msg", "bigcodebench", E, '''\
import os


def task_func(path):
    if not isinstance(path, str):
        raise TypeError("path must be a string")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist")
    with open(path) as f:
        return sum(1 for _ in f)
''', '''\
import unittest

from solution import task_func


class TestTaskFunc(unittest.TestCase):
    def test_missing_file(self):
        with self.assertRaises(FileNotFoundError) as ctx:
            task_func("/nonexistent/file.txt")
        self.assertIn("does not exist", str(ctx.exception))

    def test_type(self):
        with self.assertRaises(TypeError):
            task_func(42)

    def test_oserror_base(self):
        self.assertRaises(OSError, task_func, "/nope")
'''),
    Pair("exc-warning", "kodcode", E, '''\
import warnings


class DeprecatedAPIWarning(DeprecationWarning):
    pass


def old_api(x):
    warnings.warn("old_api is deprecated; use new_api", DeprecatedAPIWarning, stacklevel=2)
    return new_api(x)


def new_api(x):
    return x * 2
''', '''\
import pytest
from solution import DeprecatedAPIWarning, old_api


def test_warns():
    with pytest.warns(DeprecatedAPIWarning, match="deprecated"):
        assert old_api(2) == 4


def test_warns_base_class():
    with pytest.warns(DeprecationWarning):
        old_api(1)
'''),
    Pair("exc-state-unchanged-after-error", "leetcode", ("exceptions", "instances"), '''\
class OutOfStock(Exception):
    def __init__(self, item, wanted, have):
        super().__init__(f"{item}: wanted {wanted}, have {have}")
        self.item, self.wanted, self.have = item, wanted, have


class VendingMachine:
    def __init__(self, stock):
        self.stock = dict(stock)

    def buy(self, item, n=1):
        have = self.stock.get(item, 0)
        if n > have:
            raise OutOfStock(item, n, have)
        self.stock[item] = have - n
        return n
''', '''\
import pytest
from solution import OutOfStock, VendingMachine


def test_out_of_stock_attributes():
    vm = VendingMachine({"cola": 1})
    assert vm.buy("cola") == 1
    with pytest.raises(OutOfStock) as info:
        vm.buy("cola", 2)
    err = info.value
    assert (err.item, err.wanted, err.have) == ("cola", 2, 0)
    assert vm.stock == {"cola": 0}
'''),
    Pair("exc-recursion-and-assertion", "apps", E, '''\
def solve(n):
    assert n >= 0, "n must be non-negative"
    return 1 if n < 2 else n * solve(n - 1)
''', '''\
import pytest
from solution import solve


def test_values():
    assert [solve(i) for i in range(6)] == [1, 1, 2, 6, 24, 120]


def test_assertion():
    with pytest.raises(AssertionError, match="non-negative"):
        solve(-1)
'''),
    # A command-line task: argparse's error and an explicit sys.exit end the function the
    # test calls, and pytest.raises(SystemExit) checks the code; an exception carrying a
    # note and an attribute of its own (found by a hunt for honest suites scored wrongly).
    Pair("exc-system-exit-and-notes", "kodcode", E, '''\
import argparse
import sys


def parse(argv):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--count", type=int, required=True)
    return parser.parse_args(argv).count


def main(argv):
    if not argv:
        sys.exit("usage: tool FILE")
    return 0


def check_age(age):
    if age < 0:
        error = ValueError(f"bad age: {age}")
        error.code = 422
        error.add_note("ages start at 0")
        raise error
    return age
''', '''\
import pytest

from solution import check_age, main, parse


def test_parse():
    assert parse(["--count", "3"]) == 3


def test_missing_argument_exits_with_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse([])
    assert exit_info.value.code == 2
    assert "--count" in capsys.readouterr().err


def test_usage_message():
    with pytest.raises(SystemExit, match="usage"):
        main([])


def test_note_and_code():
    with pytest.raises(ValueError) as info:
        check_age(-1)
    assert info.value.code == 422
    assert info.value.__notes__ == ["ages start at 0"]
'''),
    Pair("exc-chain-from-and-from-none", "kodcode", ("exceptions",), '''\
import json


class SettingsError(Exception):
    pass


def load_settings(text):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("settings are not JSON") from exc
    try:
        return int(data["port"])
    except KeyError:
        raise SettingsError("no port") from None
''', '''\
import json

import pytest

from solution import SettingsError, load_settings


def test_bad_json_keeps_its_cause():
    with pytest.raises(ValueError, match="not JSON") as info:
        load_settings("{oops")
    assert isinstance(info.value.__cause__, json.JSONDecodeError)


def test_missing_key_hides_the_key_error():
    with pytest.raises(SettingsError) as info:
        load_settings("{}")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_good_settings():
    assert load_settings('{"port": "8080"}') == 8080
'''),
]
