"""The tagged JSON encoding: exact builtin types survive, everything else is refused."""

from __future__ import annotations

import math

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


@pytest.mark.parametrize("value", [AlwaysEqual(3), [AlwaysEqual(1)], {"k": object()}, range(3),
                                   bytearray(b"x"), lambda: 1])
def test_subclasses_and_other_objects_are_refused(value):
    with pytest.raises(wire.WireError):
        wire.encode(value)


def test_deep_nesting_is_refused():
    value: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(wire.WireError):
        wire.encode(value)


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
