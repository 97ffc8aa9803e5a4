"""The tagged JSON encoding: exact builtin types survive, everything else is refused."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import heapq
import math
import operator
import pathlib
import sys
import types
import zoneinfo

import pytest

from misalign_rewards.harness import wire


def roundtrip(value):
    return wire.decode(wire.loads(wire.dumps(wire.encode(value))))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 10**40, 1.5, -0.0, "héllo", b"\x00\xff", 2 + 3j,
    [1, [2, (3,)]], (1, "a", None), (), {1, 2}, frozenset({"x"}), {(1, 2): [True], "k": {3: 4.0}},
    {}, [], {frozenset({1}): b""},
])
def test_exact_builtin_values_round_trip_with_their_types(value):
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


def test_containers_keep_element_types():
    back = roundtrip([1, True, 1.0, (1,), [1]])
    assert [type(x) for x in back] == [int, bool, float, tuple, list]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_round_trip(value):
    back = roundtrip(value)
    assert type(back) is float
    assert (math.isnan(back) and math.isnan(value)) or back == value


def test_complex_with_non_finite_parts():
    back = roundtrip(complex(float("inf"), -1.0))
    assert type(back) is complex and back.real == float("inf") and back.imag == -1.0


class AlwaysEqual(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


@pytest.mark.parametrize("value", [AlwaysEqual(3), [AlwaysEqual(1)], {"k": object()}, lambda: 1,
                                   collections.Counter, getattr, eval, print, [].append, "x".upper,
                                   object.__setattr__, type.__subclasses__])
def test_subclasses_and_other_objects_are_refused(value):
    """Without a hook (isolated mode's handles) only values cross; builtins that could act
    on the other side's objects (getattr, eval, bound methods, dunders) never do."""
    with pytest.raises(wire.WireError):
        wire.encode(value)


@pytest.mark.parametrize("value", [
    collections.Counter("aab"), collections.OrderedDict(a=1, b=2), collections.defaultdict(list, {1: [2]}),
    collections.deque([1, 2], maxlen=3), decimal.Decimal("1.50"), fractions.Fraction(1, 3),
    datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), datetime.date(2020, 1, 2),
    datetime.time(1, 2, 3), datetime.timedelta(1, 2, 3), range(1, 10, 2), slice(1, None), bytearray(b"xy"),
    pathlib.PosixPath("/tmp/x"), types.SimpleNamespace(a=1), Ellipsis,
])
def test_standard_library_values_round_trip_with_their_types(value):
    back = roundtrip(value)
    assert type(back) is type(value) and back == value
    if isinstance(value, collections.deque):
        assert back.maxlen == value.maxlen
    if isinstance(value, collections.defaultdict):
        assert back.default_factory is list


def test_iana_time_zones_cross_as_the_same_zone_object():
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    assert roundtrip(zone) is zone  # ZoneInfo keeps one object per key: equality is identity
    # the second 02:30 of the night the clocks go back (fold=1) stays the second one
    late = datetime.datetime(2024, 10, 27, 2, 30, tzinfo=zone, fold=1)
    back = roundtrip(late)
    assert back == late and back.tzinfo is zone and back.fold == 1 and back.utcoffset() == datetime.timedelta(hours=1)
    noon = datetime.time(12, 0, tzinfo=zone)
    assert roundtrip(noon) == noon and roundtrip(noon).tzinfo is zone
    # a zone read from a file of the caller's has no key: not a value
    with open("/usr/share/zoneinfo/Europe/Paris", "rb") as f:
        with pytest.raises(wire.WireError):
            wire.encode(zoneinfo.ZoneInfo.from_file(f))


@pytest.mark.parametrize("data", [
    {"$": "ZoneInfo", "v": "../../etc/passwd"}, {"$": "ZoneInfo", "v": "/etc/localtime"},
    {"$": "ZoneInfo", "v": "Nowhere/Atall"}, {"$": "ZoneInfo", "v": 5},
    {"$": "datetime", "v": ["2024-01-01T00:00:00+01:00", "Europe/Paris", 0]},
    {"$": "datetime", "v": ["2024-01-01T00:00:00", "Europe/Paris", 2]},
    {"$": "date", "v": ["2024-01-01", "Europe/Paris", 0]},
])
def test_time_zone_keys_are_names_of_zones_and_nothing_else(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_dict_views_round_trip():
    d = {1: "a", 2: "b"}
    for view in (d.keys(), d.values(), d.items()):
        back = roundtrip(view)
        assert type(back) is type(view) and list(back) == list(view)


@pytest.mark.parametrize("value", [len, int, str.upper, ValueError, operator.add, math.sqrt, heapq.heappush])
def test_builtins_cross_by_name(value):
    assert wire.encode(value)["$"] == "builtin"
    assert roundtrip(value) is value


@pytest.mark.parametrize("name", ["eval", "getattr", "object.__subclasses__", "builtins.eval", "os.system",
                                  "operator.__dict__", "type.mro", "str.__class__"])
def test_only_listed_builtins_are_looked_up(name):
    with pytest.raises(wire.WireError):
        wire.decode({"$": "builtin", "v": name})


def test_values_as_deep_as_max_depth_cross_and_deeper_are_refused():
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(wire.RECURSION_LIMIT)
    try:
        value: list = []
        for _ in range(wire.MAX_DEPTH - 1):
            value = [value]
        assert roundtrip(value) == value
        for _ in range(10):
            value = [value]
        with pytest.raises(wire.WireError):
            wire.encode(value)
        with pytest.raises(wire.WireError):
            wire.decode(wire.loads(b"[" * (wire.MAX_DEPTH + 10) + b"]" * (wire.MAX_DEPTH + 10)))
    finally:
        sys.setrecursionlimit(saved)


def test_a_hook_takes_what_the_encoder_does_not_know():
    marker = object()
    data = wire.encode([1, marker], hook=lambda v: {"$": "mine", "v": 7})
    assert data == [1, {"$": "mine", "v": 7}]
    assert wire.decode(data, hook=lambda tag, v, one: (tag, v)) == [1, ("mine", 7)]
    with pytest.raises(wire.WireError):
        wire.decode(data)


@pytest.mark.parametrize("line", [
    b'{"a": 1}', b'{"$": "evil", "v": 1}', b'NaN', b'[Infinity]', b'{"$": "set", "v": [[1]]}',
    b'{"$": "bytes", "v": "!!"}', b'{"$": "float", "v": "1e999"}', b'{"$": "complex", "v": [1]}',
    b'{"$": "dict", "v": [[1]]}', b'not json',
])
def test_decoding_refuses_what_encode_never_writes(line):
    with pytest.raises(wire.WireError):
        wire.decode(wire.loads(line))


def test_exceptions_map_to_the_nearest_builtin():
    class MyError(KeyError):
        pass

    exc = wire.decode_exception(wire.loads(wire.dumps(wire.encode_exception(MyError("k")))))
    assert type(exc) is KeyError and exc.args == ("k",)


@pytest.mark.parametrize("raised", [SystemExit(0), KeyboardInterrupt(), GeneratorExit()])
def test_process_ending_exceptions_become_runtime_errors(raised):
    exc = wire.decode_exception(wire.encode_exception(raised))
    assert type(exc) is RuntimeError
    assert type(raised).__name__ in str(exc)


def test_unknown_exception_names_become_runtime_errors():
    exc = wire.decode_exception({"types": ["Exit", "NotABuiltin"], "message": "m", "args": None})
    assert type(exc) is RuntimeError and "m" in str(exc)


def test_exception_with_unencodable_args_keeps_its_message():
    exc = wire.decode_exception(wire.encode_exception(ValueError(object())))
    assert type(exc) is ValueError and "object" in str(exc)
