"""Values that cross the pipe between the trusted process and the solution's process.

A tagged JSON encoding that keeps exact types and refuses everything else:

    None, bool, str           as themselves (JSON keeps ``true`` and ``1`` apart)
    int                       as itself below 2**63 in magnitude, else ``{"$": "int", "v": "<hex>"}``
                              (no digit limit: hex is not subject to Python's int-to-str cap)
    float                     as itself when finite, else ``{"$": "float", "v": "nan"|"inf"|"-inf"}``
    list                      as a JSON list
    tuple, set, frozenset     ``{"$": "tuple", "v": [...]}`` and so on
    dict                      ``{"$": "dict", "v": [[key, value], ...]}`` (any hashable key)
    bytes                     ``{"$": "bytes", "v": "<base64>"}``
    complex                   ``{"$": "complex", "v": [real, imag]}``
    numpy arrays and scalars  ``{"$": "ndarray", "v": [dtype, shape, "<base64>"]}`` and
                              ``{"$": "npscalar", "v": [dtype, "<base64>"]}``, for numeric, bool
                              and fixed-width text dtypes; exact numpy types only
    standard-library values   Counter, OrderedDict, defaultdict (a builtin type as its
                              factory), deque, Decimal, Fraction, datetime, date, time,
                              timedelta (no time zone but a fixed offset or an IANA zone,
                              ``zoneinfo.ZoneInfo(key)``, itself a value), range, slice,
                              Ellipsis, bytearray, dict views, PosixPath, SimpleNamespace,
                              UUID, array.array, ChainMap, memoryview, functools.partial (of
                              what can cross), each under a tag of its name, rebuilt with its
                              exact type
    builtin types, functions  ``{"$": "builtin", "v": "len"}`` / ``"str.upper"`` /
                              ``"operator.add"``: named, and looked up by name on arrival

Anything else goes to the caller's ``hook`` (isolated mode's object protocol sends
handles that way, see :mod:`proxy` and :mod:`isolated_child`), or is refused.

Subclasses are refused (``type(x) is int``, not ``isinstance``): an ``int`` subclass whose
``__eq__`` is always true (P10) cannot cross. Every JSON object on the wire is tagged, so
decoding is unambiguous; unknown tags, non-finite JSON constants, too deep or too large
values are refused with :class:`WireError`. Decoding can be given a deadline: building
sets and dicts from keys that all collide in the hash table is quadratic, and a decode
that runs past its deadline is refused too.

Stdlib only (numpy is imported only when a numpy value crosses, and the modules of the
other types above only when a value of theirs does: a process that never meets one never
loads them): this module runs inside the sandbox image, in the trusted process and in the
solution's process.
"""

from __future__ import annotations

import array
import base64
import builtins
import collections
import functools
import importlib
import json
import math
import re
import sys
import time
import types
from typing import Any

#: Nesting a value may have (JSON has no limit; the interpreters here allow this much).
MAX_DEPTH = 1000
#: The recursion limit both ends of the pipe run with, so MAX_DEPTH fits.
RECURSION_LIMIT = 8000
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: Ints at least this large in magnitude travel as hex.
_BIG_INT = 1 << 63
_NP_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|[US][0-9]{1,6})$")
_NP_MAX_DIMS = 32
#: Exceptions whose meaning is control flow: rebuilt in the trusted process they would
#: end a ``map``/``filter``/``zip`` early or end a generator, so they arrive as RuntimeError.
CONTROL_FLOW_EXCEPTIONS = frozenset({"StopIteration", "StopAsyncIteration", "GeneratorExit"})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_HEX = re.compile(r"-?[0-9a-f]+")
#: The library functions this module runs on, taken when it is loaded: a test that
#: patches one (``@patch("base64.b64encode")``) changes what its own code sees, not how
#: values cross (isolated mode carries such patches to the solution's code only).
_b64encode, _b64decode = base64.b64encode, base64.b64decode
_isfinite, _isnan, _prod = math.isfinite, math.isnan, math.prod
_import_module = importlib.import_module
_monotonic = time.monotonic


class WireError(ValueError):
    """A value that cannot cross the pipe."""


class DecodeDeadline(WireError):
    """Decoding ran past its deadline."""


def _float_out(x: float) -> Any:
    if _isfinite(x):
        return x
    return {"$": "float", "v": "nan" if _isnan(x) else ("inf" if x > 0 else "-inf")}


def _float_in(v: Any) -> float:
    if type(v) is float:
        return v
    if type(v) is int and not isinstance(v, bool):
        # JSON writes 1.0 as "1.0", so an int here only comes from a hand-made message.
        raise WireError("float expected, got int")
    if isinstance(v, dict) and v.get("$") == "float" and v.get("v") in ("nan", "inf", "-inf"):
        return float(v["v"])
    raise WireError(f"float expected, got {v!r:.80}")


def _numpy_out(value: Any) -> Any:
    """The tagged form of an exact numpy array or scalar, or None if it is not one."""
    np = sys.modules.get("numpy")
    if np is None:
        return None
    t = type(value)
    if t is np.ndarray:
        dtype = value.dtype
        if dtype.hasobject or not _NP_DTYPE.match(dtype.str) or value.ndim > _NP_MAX_DIMS:
            raise WireError(f"cannot send a numpy array of dtype {dtype}: only numeric, bool and "
                            "fixed-width text arrays cross the boundary")
        data = np.ascontiguousarray(value).tobytes()
        return {"$": "ndarray", "v": [dtype.str, list(value.shape), _b64encode(data).decode("ascii")]}
    if isinstance(value, np.generic):
        dtype = np.dtype(t)
        if dtype.type is not t or dtype.hasobject or not _NP_DTYPE.match(dtype.str):
            raise WireError(f"cannot send a value of type {t.__module__}.{t.__qualname__}")
        return {"$": "npscalar", "v": [dtype.str, _b64encode(value.tobytes()).decode("ascii")]}
    return None


def _numpy_in(tag: str, v: Any) -> Any:
    if type(v) is not list or len(v) != (3 if tag == "ndarray" else 2):
        raise WireError(f"bad {tag}")
    dstr = v[0]
    if type(dstr) is not str or not _NP_DTYPE.match(dstr):
        raise WireError(f"bad {tag} dtype {dstr!r:.40}")
    if type(v[-1]) is not str:
        raise WireError(f"bad {tag} data")
    import numpy as np  # optional dependency: numpy (only a numpy value brings it)

    dtype = np.dtype(dstr)
    data = _b64decode(v[-1].encode("ascii"), validate=True)
    if tag == "npscalar":
        if len(data) != dtype.itemsize:
            raise WireError("numpy scalar of the wrong size")
        return np.frombuffer(data, dtype=dtype)[0]
    shape = v[1]
    if (type(shape) is not list or len(shape) > _NP_MAX_DIMS
            or any(type(n) is not int or n < 0 for n in shape)):
        raise WireError("bad ndarray shape")
    if _prod(shape) * dtype.itemsize != len(data):
        raise WireError("ndarray data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


#: Builtin types and functions that cross by name (as the other side's own object).
_BUILTIN_NAMES = frozenset({
    "int", "float", "str", "bytes", "bool", "list", "tuple", "dict", "set", "frozenset",
    "complex", "bytearray", "range", "slice",
    "len", "abs", "min", "max", "sum", "sorted", "reversed", "round", "divmod", "pow",
    "repr", "ord", "chr", "hash", "iter", "next", "any", "all", "map", "filter", "zip",
    "enumerate", "isinstance", "issubclass", "callable", "bin", "hex", "oct", "format", "ascii",
})
#: Modules whose functions may cross by name (``operator.add``, ``math.sqrt``).
_NAMED_MODULES = frozenset({"operator", "math", "string", "heapq", "bisect"})


def _builtin_name(value: Any) -> str | None:
    """The name under which ``value`` (a builtin type, exception class, function or
    method of a builtin type) can be looked up on the other side, or None."""
    kind = type(value).__name__
    if not (type(value) is type or type(value) in (
            types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType)):
        return None
    try:
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
        module = getattr(value, "__module__", None)
    except Exception:  # noqa: BLE001 - a hostile __getattr__ is not ours to care about
        return None
    if not isinstance(name, str):
        return None
    if isinstance(value, type):
        cls: type = value
        if module == "builtins" and getattr(builtins, name, None) is cls and (
                name in _BUILTIN_NAMES or issubclass(cls, BaseException)):
            return name
        return None
    if kind == "builtin_function_or_method" and getattr(value, "__self__", None) not in (None, builtins) \
            and not isinstance(getattr(value, "__self__", None), type(builtins)):
        return None  # a bound method of some object: not a name
    if kind in ("builtin_function_or_method", "method_descriptor", "wrapper_descriptor"):
        objclass = getattr(value, "__objclass__", None)
        if objclass is not None:
            owner = _builtin_name(objclass)
            short = getattr(value, "__name__", "")
            if owner and not short.startswith("_") and getattr(objclass, short, None) is value:
                return f"{owner}.{short}"
            return None
        if module in (None, "builtins") and name in _BUILTIN_NAMES and getattr(builtins, name, None) is value:
            return name
        if module and module.startswith("_"):
            module = module[1:]  # _operator, _heapq, _bisect: the public module re-exports them
        mod = sys.modules.get(module or "")
        if (module in _NAMED_MODULES and mod is not None and not name.startswith("_")
                and getattr(mod, name, None) is value):
            return f"{module}.{name}"
    return None


def _from_builtin_name(v: Any) -> Any:
    if type(v) is not str or not v or len(v) > 100:
        raise WireError("bad builtin name")
    head, _, tail = v.partition(".")
    if head in _NAMED_MODULES and tail and head != "builtins":
        found = getattr(_import_module(head), tail, None)
    else:
        found = getattr(builtins, head, None)
        if not (head in _BUILTIN_NAMES or (isinstance(found, type) and issubclass(found, BaseException))):
            raise WireError(f"unknown builtin {v!r:.40}")
        if tail:
            if not isinstance(found, type):
                raise WireError(f"unknown builtin {v!r:.40}")
            found = getattr(found, tail, None)
    if found is None or _builtin_name(found) != v:
        raise WireError(f"unknown builtin {v!r:.40}")
    return found


def _tz_ok(value: Any) -> bool:
    import datetime as dt  # import cost: only when such a value crosses

    tz = value.tzinfo
    return tz is None or type(tz) is dt.timezone


#: What an IANA time zone's key may be here (``Europe/Paris``, ``Etc/GMT+5``): a name
#: looked up in the system's zone files, so nothing that walks out of their folder.
_ZONE_KEY = re.compile(r"^[A-Za-z0-9_+\-]{1,30}(/[A-Za-z0-9_+\-]{1,30}){0,3}$")


def _zone_key(tz: Any) -> str | None:
    """The key of ``tz`` if it is a ``zoneinfo.ZoneInfo`` made from one (``ZoneInfo(key)``
    is then the same object in every process: the class keeps one per key)."""
    if type(tz).__module__ != "zoneinfo" or type(tz).__name__ != "ZoneInfo":
        return None
    key = getattr(tz, "key", None)
    return key if isinstance(key, str) and _ZONE_KEY.match(key) else None


def _zone(key: Any) -> Any:
    """``zoneinfo.ZoneInfo(key)`` for a key :func:`_zone_key` gives, else WireError."""
    if not isinstance(key, str) or not _ZONE_KEY.match(key):  # (no "." at all: no "..")
        raise WireError("bad time zone key")
    import zoneinfo  # import cost: only when such a value crosses

    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise WireError(f"unknown time zone {key!r}") from exc


class Encoder:
    """Turns values into JSON-ready structures. ``hook(value)`` is asked for anything that
    is not a value of the kinds listed in the module doc; it returns a tagged dict or
    raises :class:`WireError`. Without a hook such values are refused."""

    __slots__ = ("hook",)

    def __init__(self, hook: Any = None) -> None:
        self.hook = hook

    def __call__(self, value: Any, _depth: int = 0) -> Any:
        if _depth > MAX_DEPTH:
            raise WireError(f"value nested deeper than {MAX_DEPTH}")
        t = type(value)
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return value if -_BIG_INT < value < _BIG_INT else {"$": "int", "v": format(value, "x")}
        if t is float:
            return _float_out(value)
        d = _depth + 1
        if t is list:
            return [self(v, d) for v in value]
        if t is tuple or t is set or t is frozenset:
            return {"$": t.__name__, "v": [self(v, d) for v in value]}
        if t is dict:
            return {"$": "dict", "v": self._pairs(value, d)}
        if t is bytes:
            return {"$": "bytes", "v": _b64encode(value).decode("ascii")}
        if t is complex:
            return {"$": "complex", "v": [_float_out(value.real), _float_out(value.imag)]}
        module = t.__module__
        if module == "numpy":
            tagged = _numpy_out(value)
            if tagged is not None:
                return tagged
        elif module in _STDLIB_OUT:
            tagged = _STDLIB_OUT[module](self, value, d)
            if tagged is not None:
                return tagged
        if value is Ellipsis:
            return {"$": "ellipsis", "v": None}
        name = _builtin_name(value)
        if name is not None:
            return {"$": "builtin", "v": name}
        if self.hook is not None:
            return self.hook(value)
        raise WireError(
            f"cannot send a value of type {t.__module__}.{t.__qualname__}: only exact builtin "
            "None/bool/int/float/str/bytes/complex/list/tuple/dict/set/frozenset, numpy "
            "arrays/scalars and the standard library's value types cross the boundary"
        )

    def _pairs(self, mapping: Any, d: int) -> list[Any]:
        return [[self(k, d), self(v, d)] for k, v in mapping.items()]


def _collections_out(enc: Encoder, value: Any, d: int) -> Any:
    t = type(value)
    if t is collections.ChainMap:
        return _misc_out(enc, value, d)
    if t is collections.Counter or t is collections.OrderedDict:
        return {"$": t.__name__, "v": enc._pairs(value, d)}
    if t is collections.defaultdict:
        factory = None if value.default_factory is None else enc(value.default_factory, d)
        return {"$": "defaultdict", "v": [factory, enc._pairs(value, d)]}
    if t is collections.deque:
        return {"$": "deque", "v": [value.maxlen, [enc(v, d) for v in value]]}
    return None


def _builtins_out(enc: Encoder, value: Any, d: int) -> Any:
    t = type(value)
    if t is range:
        return {"$": "range", "v": [enc(value.start, d), enc(value.stop, d), enc(value.step, d)]}
    if t is slice:
        return {"$": "slice", "v": [enc(value.start, d), enc(value.stop, d), enc(value.step, d)]}
    if t is bytearray:
        return {"$": "bytearray", "v": _b64encode(bytes(value)).decode("ascii")}
    if t.__name__ in ("dict_keys", "dict_values", "dict_items"):
        return {"$": t.__name__, "v": [enc(v, d) for v in value]}
    if t is memoryview:
        return _misc_out(enc, value, d)
    return None


def _datetime_out(enc: Encoder, value: Any, d: int) -> Any:
    import datetime as dt  # import cost: only when such a value crosses

    t = type(value)
    if t is dt.timedelta:
        return {"$": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if t in (dt.datetime, dt.date, dt.time) and (t is dt.date or _tz_ok(value)):
        return {"$": t.__name__, "v": value.isoformat()}
    if t in (dt.datetime, dt.time):
        key = _zone_key(value.tzinfo)
        if key is not None:  # its wall time, zone and fold: the offset is the zone's
            return {"$": t.__name__, "v": [value.replace(tzinfo=None).isoformat(), key, value.fold]}
    return None


def _zoneinfo_out(enc: Encoder, value: Any, d: int) -> Any:
    key = _zone_key(value)
    return None if key is None else {"$": "ZoneInfo", "v": key}


def _decimal_out(enc: Encoder, value: Any, d: int) -> Any:
    import decimal  # import cost: only when such a value crosses

    return {"$": "Decimal", "v": str(value)} if type(value) is decimal.Decimal else None


def _fractions_out(enc: Encoder, value: Any, d: int) -> Any:
    import fractions  # import cost: only when such a value crosses

    if type(value) is fractions.Fraction:
        return {"$": "Fraction", "v": [enc(value.numerator, d), enc(value.denominator, d)]}
    return None


def _pathlib_out(enc: Encoder, value: Any, d: int) -> Any:
    import pathlib  # import cost: only when such a value crosses

    if type(value) in (pathlib.PosixPath, pathlib.PurePosixPath):
        return {"$": type(value).__name__, "v": str(value)}
    return None


def _types_out(enc: Encoder, value: Any, d: int) -> Any:
    if type(value) is types.SimpleNamespace:
        return {"$": "SimpleNamespace", "v": enc._pairs(vars(value), d)}
    return None


def _misc_out(enc: Encoder, value: Any, d: int) -> Any:
    """UUID, array.array, ChainMap, memoryview and functools.partial, by value."""
    t = type(value)
    module = t.__module__
    if module == "uuid" and t.__name__ == "UUID":
        return {"$": "UUID", "v": str(value)}
    if module == "array" and t.__name__ == "array":
        return {"$": "array", "v": [value.typecode, [enc(x, d) for x in value.tolist()]]}
    if module == "collections" and t.__name__ == "ChainMap":
        return {"$": "ChainMap", "v": [enc(m, d) for m in value.maps]}
    if t is memoryview:
        return {"$": "memoryview", "v": _b64encode(value.tobytes()).decode("ascii")}
    if module == "functools" and t.__name__ == "partial":
        return {"$": "partial", "v": [enc(value.func, d), [enc(a, d) for a in value.args],
                                      enc._pairs(value.keywords, d)]}
    return None


_STDLIB_OUT = {
    "collections": _collections_out, "builtins": _builtins_out, "datetime": _datetime_out,
    "decimal": _decimal_out, "fractions": _fractions_out, "pathlib": _pathlib_out,
    "types": _types_out, "uuid": _misc_out, "array": _misc_out, "functools": _misc_out,
    "zoneinfo": _zoneinfo_out,
}

_PLAIN = Encoder()


def encode(value: Any, _depth: int = 0, hook: Any = None) -> Any:
    """``value`` as a JSON-ready structure; raises :class:`WireError` for anything that is
    not an exact value of the listed kinds (and that ``hook``, if given, does not take)."""
    return (Encoder(hook) if hook is not None else _PLAIN)(value, _depth)


class _Clock:
    """Counts decoded nodes and checks a deadline every few of them; carries the hook."""

    __slots__ = ("deadline", "hook", "n")

    def __init__(self, deadline: float | None, hook: Any = None) -> None:
        self.deadline = deadline
        self.hook = hook
        self.n = 0

    def tick(self) -> None:
        self.n += 1
        if self.deadline is not None and not self.n & 63 and _monotonic() > self.deadline:
            raise DecodeDeadline("decoding the answer took longer than the call's deadline")


def decode(data: Any, deadline: float | None = None, hook: Any = None) -> Any:
    """The inverse of :func:`encode`; raises :class:`WireError` for anything it would not
    have produced, and :class:`DecodeDeadline` when ``time.monotonic()`` passes
    ``deadline`` while decoding. ``hook(tag, v, decode_one)`` rebuilds the tags it knows
    (handles) and raises :class:`WireError` for others."""
    return _decode(data, 0, _Clock(deadline, hook))


def _pairs_in(v: Any, d: int, clock: _Clock, out: Any) -> Any:
    if type(v) is not list:
        raise WireError("a mapping needs a list of pairs")
    for pair in v:
        if type(pair) is not list or len(pair) != 2:
            raise WireError("mapping item is not a [key, value] pair")
        out[_decode(pair[0], d, clock)] = _decode(pair[1], d, clock)
    return out


def _int_in(v: Any, d: int, clock: _Clock) -> int | None:
    x = _decode(v, d, clock)
    if x is not None and type(x) is not int:
        raise WireError("int expected")
    return x


def _stdlib_in(tag: str, v: Any, d: int, clock: _Clock) -> Any:
    if tag in ("Counter", "OrderedDict"):
        return _pairs_in(v, d, clock, getattr(collections, tag)())
    if tag == "defaultdict":
        if type(v) is not list or len(v) != 2:
            raise WireError("bad defaultdict")
        factory = _decode(v[0], d, clock)
        if factory is not None and not callable(factory):
            raise WireError("defaultdict factory is not callable")
        return _pairs_in(v[1], d, clock, collections.defaultdict(factory))
    if tag == "deque":
        if type(v) is not list or len(v) != 2 or type(v[1]) is not list:
            raise WireError("bad deque")
        maxlen = v[0]
        if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
            raise WireError("bad deque maxlen")
        return collections.deque((_decode(x, d, clock) for x in v[1]), maxlen)
    if tag in ("range", "slice"):
        if type(v) is not list or len(v) != 3:
            raise WireError(f"bad {tag}")
        parts = [_int_in(x, d, clock) for x in v]
        return range(*parts) if tag == "range" else slice(*parts)  # type: ignore[arg-type]
    if tag == "bytearray":
        if type(v) is not str:
            raise WireError("bytearray needs base64 text")
        return bytearray(_b64decode(v.encode("ascii"), validate=True))
    if tag in ("dict_keys", "dict_values", "dict_items"):
        if type(v) is not list:
            raise WireError(f"{tag} needs a list")
        items = [_decode(x, d, clock) for x in v]
        if tag == "dict_keys":
            return dict.fromkeys(items).keys()
        if tag == "dict_values":
            return dict(enumerate(items)).values()
        if not all(type(p) is tuple and len(p) == 2 for p in items):
            raise WireError("dict_items needs pairs")
        return dict(items).items()
    if tag == "timedelta":
        import datetime as dt  # import cost: only when such a value crosses

        if type(v) is not list or len(v) != 3 or not all(type(x) is int for x in v):
            raise WireError("bad timedelta")
        return dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2])
    if tag in ("datetime", "date", "time"):
        import datetime as dt  # import cost: only when such a value crosses

        zoned = type(v) is list and tag != "date"
        text, key, fold = v if zoned and len(v) == 3 else (v, None, 0)
        if type(text) is not str or len(text) > 64 or type(fold) is not int or fold not in (0, 1):
            raise WireError(f"bad {tag}")
        value = getattr(dt, tag).fromisoformat(text)
        if zoned:  # a wall time in an IANA zone (see _zone_key)
            if value.tzinfo is not None:
                raise WireError(f"bad {tag}")
            value = value.replace(tzinfo=_zone(key), fold=fold)
        return value
    if tag == "ZoneInfo":
        return _zone(v)
    if tag == "Decimal":
        import decimal  # import cost: only when such a value crosses

        if type(v) is not str or len(v) > 100_000:
            raise WireError("bad Decimal")
        return decimal.Decimal(v)
    if tag == "Fraction":
        import fractions  # import cost: only when such a value crosses

        if type(v) is not list or len(v) != 2:
            raise WireError("bad Fraction")
        num, den = _int_in(v[0], d, clock), _int_in(v[1], d, clock)
        if num is None or not den:
            raise WireError("bad Fraction")
        return fractions.Fraction(num, den)
    if tag in ("PosixPath", "PurePosixPath"):
        import pathlib  # import cost: only when such a value crosses

        if type(v) is not str:
            raise WireError(f"bad {tag}")
        return getattr(pathlib, tag)(v)
    if tag == "SimpleNamespace":
        ns = _pairs_in(v, d, clock, {})
        if not all(type(k) is str for k in ns):
            raise WireError("SimpleNamespace keys must be text")
        return types.SimpleNamespace(**ns)
    if tag == "ellipsis":
        return Ellipsis
    if tag == "UUID":
        import uuid  # import cost: only when such a value crosses

        if type(v) is not str or len(v) > 100:
            raise WireError("bad UUID")
        return uuid.UUID(v)
    if tag == "array":
        if type(v) is not list or len(v) != 2 or type(v[0]) is not str or v[0] not in array.typecodes:
            raise WireError("bad array")
        if type(v[1]) is not list:
            raise WireError("bad array")
        return array.array(v[0], [_decode(x, d, clock) for x in v[1]])
    if tag == "ChainMap":
        if type(v) is not list:
            raise WireError("bad ChainMap")
        maps = [_decode(m, d, clock) for m in v]
        if not all(isinstance(m, dict) for m in maps):
            raise WireError("bad ChainMap")
        return collections.ChainMap(*maps)
    if tag == "memoryview":
        if type(v) is not str:
            raise WireError("memoryview needs base64 text")
        return memoryview(_b64decode(v.encode("ascii"), validate=True))
    if tag == "partial":
        if type(v) is not list or len(v) != 3 or type(v[1]) is not list:
            raise WireError("bad partial")
        func = _decode(v[0], d, clock)
        if not callable(func):
            raise WireError("a partial of something not callable")
        keywords = _pairs_in(v[2], d, clock, {})
        if not all(type(k) is str for k in keywords):
            raise WireError("bad partial keywords")
        return functools.partial(func, *[_decode(a, d, clock) for a in v[1]], **keywords)
    if tag == "builtin":
        return _from_builtin_name(v)
    return _MISSING


_MISSING = object()


def _decode(data: Any, depth: int, clock: _Clock) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
    clock.tick()
    t = type(data)
    if data is None or t is bool or t is str or t is int:
        return data
    if t is float:
        if not _isfinite(data):
            raise WireError("non-finite float outside its tag")
        return data
    d = depth + 1
    if t is list:
        return [_decode(v, d, clock) for v in data]
    if t is not dict:
        raise WireError(f"unexpected JSON value of type {t.__name__}")
    if set(data) != {"$", "v"}:
        raise WireError(f"untagged JSON object: keys {sorted(data)[:5]}")
    tag, v = data["$"], data["v"]
    if type(tag) is not str:
        raise WireError("a tag must be text")
    try:
        if tag == "float":
            return _float_in(data)
        if tag == "int":
            if type(v) is not str or not _HEX.fullmatch(v):
                raise WireError("int needs hex digits")
            return int(v, 16)
        if tag in ("tuple", "set", "frozenset"):
            if type(v) is not list:
                raise WireError(f"{tag} needs a list")
            if tag == "tuple":
                return tuple(_decode(x, d, clock) for x in v)
            out_set: set[Any] = set()
            for x in v:
                out_set.add(_decode(x, d, clock))
            return out_set if tag == "set" else frozenset(out_set)
        if tag == "dict":
            return _pairs_in(v, d, clock, {})
        if tag == "bytes":
            if type(v) is not str:
                raise WireError("bytes needs base64 text")
            return _b64decode(v.encode("ascii"), validate=True)
        if tag == "complex":
            if type(v) is not list or len(v) != 2:
                raise WireError("complex needs [real, imag]")
            return complex(_float_in(v[0]), _float_in(v[1]))
        if tag in ("ndarray", "npscalar"):
            return _numpy_in(tag, v)
        found = _stdlib_in(tag, v, d, clock)
        if found is not _MISSING:
            return found
        if clock.hook is not None:
            return clock.hook(tag, v, lambda x: _decode(x, d, clock))
    except WireError:
        raise
    except (TypeError, ValueError, UnicodeError, ArithmeticError) as exc:  # unhashable key, bad base64
        raise WireError(f"bad {tag}: {exc}") from None
    raise WireError(f"unknown tag {tag!r:.40}")


def _no_constants(name: str) -> Any:
    raise WireError(f"JSON constant {name} is not allowed on the wire")


#: Bound when this module is imported, before any solution code runs in the process: a
#: solution that replaces ``json.dumps`` in its own process changes its answers, not
#: the protocol that carries them.
_json_dumps = json.dumps
_json_loads = json.loads


#: How many elements, at every depth, the containers held live on both sides may have in
#: all (:meth:`proxy.Broker._track`): each request compares them on both sides.
LIVE_ELEMENTS = 2000


def elements(value: Any, budget: int = LIVE_ELEMENTS) -> int:
    """How many elements of lists, tuples, sets, dicts (keys and values) and the
    collections module's containers ``value`` holds, at every depth, with each 64 bytes
    of a text, a bytes value or a numpy array counting as one more (exact types only:
    nothing of an object's own runs); counting stops past ``budget`` (then more than
    ``budget`` is returned)."""
    n = 0
    todo = [value]
    while todo and n <= budget:
        item = todo.pop()
        t = type(item)
        if t is dict or (t.__module__ == "collections" and issubclass(t, dict)):
            n += 2 * dict.__len__(item)
            if n <= budget:
                todo.extend(dict.keys(item))
                todo.extend(dict.values(item))
        elif t in (list, tuple, set, frozenset) or (t.__module__ == "collections" and t.__name__ == "deque"):
            n += len(item)
            if n <= budget:
                todo.extend(item)
        elif t in (str, bytes, bytearray):
            n += len(item) // 64
        elif t.__module__ == "numpy" and type(getattr(item, "nbytes", None)) is int:
            n += item.nbytes // 64
    return n


def dumps(message: Any) -> bytes:
    """One message (already encoded) as a single JSON line."""
    return _json_dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n"


def loads(line: bytes) -> Any:
    """Parse one JSON line strictly (no NaN/Infinity constants, bounded size)."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise WireError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        return _json_loads(line.decode("utf-8"), parse_constant=_no_constants)
    except WireError:
        raise
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed message: {exc}") from None


def text(value: Any, limit: int = 2000) -> str:
    """``value`` as text that is safe to serialise: at most ``limit`` characters, lone
    surrogates replaced."""
    if isinstance(value, str):
        s = value
    else:
        try:
            s = str(value)
        except Exception:  # a __str__ that raises
            s = "<unprintable>"
    return s[:limit].encode("utf-8", "replace").decode("utf-8")


def encode_exception(exc: BaseException) -> dict[str, Any]:
    """Describe an exception raised by the solution: its class name, its builtin
    ancestors (most derived first), its message and, when they can cross, its arguments."""
    names = []
    for klass in type(exc).__mro__:
        if getattr(builtins, klass.__name__, None) is klass:
            names.append(klass.__name__)
    try:
        args = encode(tuple(exc.args))
    except (WireError, RecursionError, ValueError):
        args = None
    try:
        message = str(exc)
    except Exception:  # a __str__ that raises
        message = "<unprintable>"
    return {"name": text(type(exc).__name__, 100), "types": names, "message": text(message),
            "args": args}


def _with_message(klass: type[BaseException], name: str, message: str) -> type[BaseException]:
    """A subclass of ``klass`` named ``name`` whose ``str()`` is ``message``: how an
    exception whose class defined its own ``__str__`` keeps its text."""
    return type(name, (klass,), {"__str__": lambda self: message, "__module__": "solution"})


def decode_exception(data: Any, deadline: float | None = None) -> BaseException:
    """A builtin exception standing for what the solution raised.

    Only subclasses of :class:`Exception` are rebuilt; ``SystemExit``, ``KeyboardInterrupt``,
    the control-flow exceptions (``StopIteration``, ``StopAsyncIteration``,
    ``GeneratorExit``) and anything unknown become :class:`RuntimeError` carrying the
    name and message, so the solution can neither end the trusted process nor end an
    iteration in the test early by raising them. When the rebuilt exception's text differs
    from the original's (its class had its own ``__str__``), a subclass of the builtin
    type carrying the original name and text stands in for it."""
    if not isinstance(data, dict):
        return RuntimeError("solution raised an exception that could not be described")
    names = data.get("types")
    message = data.get("message")
    message = text(message) if isinstance(message, str) else ""
    names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    original = data.get("name")
    original = original if isinstance(original, str) and _IDENT.match(original) else None
    shown = original or (names[0] if names else "exception")
    if CONTROL_FLOW_EXCEPTIONS & set(names):
        return RuntimeError(f"{shown}: {message}" if message else shown)
    args: tuple[Any, ...] | None = None
    if data.get("args") is not None:
        try:
            decoded = decode(data["args"], deadline)
            args = decoded if type(decoded) is tuple else None
        except DecodeDeadline:
            raise
        except (WireError, RecursionError):
            args = None
    for name in names:
        klass = getattr(builtins, name, None)
        if not (isinstance(klass, type) and issubclass(klass, Exception)):
            continue
        if issubclass(klass, BaseExceptionGroup):
            continue
        for attempt in ((args,) if args is not None else ()) + ((message,),):
            try:
                exc = klass(*attempt)
                same = str(exc) == message
            except Exception:
                continue
            if same:
                return exc
            try:
                return _with_message(klass, original or klass.__name__, message)(*attempt)
            except Exception:
                continue
    return RuntimeError(f"{shown}: {message}" if message else shown)
