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

Subclasses are refused (``type(x) is int``, not ``isinstance``): an ``int`` subclass whose
``__eq__`` is always true (P10) cannot cross. Every JSON object on the wire is tagged, so
decoding is unambiguous; unknown tags, non-finite JSON constants, too deep or too large
values are refused with :class:`WireError`. Decoding can be given a deadline: building
sets and dicts from keys that all collide in the hash table is quadratic, and a decode
that runs past its deadline is refused too.

Stdlib only (numpy is imported only when a numpy value crosses): this module runs inside
the sandbox image, in the trusted process and in the solution's process.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sys
import time
from typing import Any

MAX_DEPTH = 100
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: Ints at least this large in magnitude travel as hex.
_BIG_INT = 1 << 63
_NP_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|[US][0-9]{1,6})$")
_NP_MAX_DIMS = 32
#: Exceptions whose meaning is control flow: rebuilt in the trusted process they would
#: end a ``map``/``filter``/``zip`` early or end a generator, so they arrive as RuntimeError.
CONTROL_FLOW_EXCEPTIONS = frozenset({"StopIteration", "StopAsyncIteration", "GeneratorExit"})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class WireError(ValueError):
    """A value that cannot cross the pipe."""


class DecodeDeadline(WireError):
    """Decoding ran past its deadline."""


def _float_out(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"$": "float", "v": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


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
        return {"$": "ndarray", "v": [dtype.str, list(value.shape), base64.b64encode(data).decode("ascii")]}
    if isinstance(value, np.generic):
        dtype = np.dtype(t)
        if dtype.type is not t or dtype.hasobject or not _NP_DTYPE.match(dtype.str):
            raise WireError(f"cannot send a value of type {t.__module__}.{t.__qualname__}")
        return {"$": "npscalar", "v": [dtype.str, base64.b64encode(value.tobytes()).decode("ascii")]}
    return None


def _numpy_in(tag: str, v: Any) -> Any:
    if type(v) is not list or len(v) != (3 if tag == "ndarray" else 2):
        raise WireError(f"bad {tag}")
    dstr = v[0]
    if type(dstr) is not str or not _NP_DTYPE.match(dstr):
        raise WireError(f"bad {tag} dtype {dstr!r:.40}")
    if type(v[-1]) is not str:
        raise WireError(f"bad {tag} data")
    import numpy as np

    dtype = np.dtype(dstr)
    data = base64.b64decode(v[-1].encode("ascii"), validate=True)
    if tag == "npscalar":
        if len(data) != dtype.itemsize:
            raise WireError("numpy scalar of the wrong size")
        return np.frombuffer(data, dtype=dtype)[0]
    shape = v[1]
    if (type(shape) is not list or len(shape) > _NP_MAX_DIMS
            or any(type(n) is not int or n < 0 for n in shape)):
        raise WireError("bad ndarray shape")
    if math.prod(shape) * dtype.itemsize != len(data):
        raise WireError("ndarray data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def encode(value: Any, _depth: int = 0) -> Any:
    """``value`` as a JSON-ready structure; raises :class:`WireError` for anything that is
    not an exact value of the listed kinds."""
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
        return [encode(v, d) for v in value]
    if t is tuple or t is set or t is frozenset:
        items = [encode(v, d) for v in value]
        return {"$": t.__name__, "v": items}
    if t is dict:
        return {"$": "dict", "v": [[encode(k, d), encode(v, d)] for k, v in value.items()]}
    if t is bytes:
        return {"$": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if t is complex:
        return {"$": "complex", "v": [_float_out(value.real), _float_out(value.imag)]}
    tagged = _numpy_out(value) if t.__module__ == "numpy" else None
    if tagged is not None:
        return tagged
    raise WireError(
        f"cannot send a value of type {t.__module__}.{t.__qualname__}: only exact builtin "
        "None/bool/int/float/str/bytes/complex/list/tuple/dict/set/frozenset and numpy "
        "arrays/scalars cross the boundary"
    )


class _Clock:
    """Counts decoded nodes and checks a deadline every few of them."""

    __slots__ = ("deadline", "n")

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.n = 0

    def tick(self) -> None:
        self.n += 1
        if self.deadline is not None and not self.n & 63 and time.monotonic() > self.deadline:
            raise DecodeDeadline("decoding the answer took longer than the call's deadline")


def decode(data: Any, deadline: float | None = None) -> Any:
    """The inverse of :func:`encode`; raises :class:`WireError` for anything it would not
    have produced, and :class:`DecodeDeadline` when ``time.monotonic()`` passes
    ``deadline`` while decoding."""
    return _decode(data, 0, _Clock(deadline))


def _decode(data: Any, depth: int, clock: _Clock) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
    clock.tick()
    t = type(data)
    if data is None or t is bool or t is str or t is int:
        return data
    if t is float:
        if not math.isfinite(data):
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
    try:
        if tag == "float":
            return _float_in(data)
        if tag == "int":
            if type(v) is not str or not re.fullmatch(r"-?[0-9a-f]+", v):
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
            if type(v) is not list:
                raise WireError("dict needs a list of pairs")
            out = {}
            for pair in v:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("dict item is not a [key, value] pair")
                out[_decode(pair[0], d, clock)] = _decode(pair[1], d, clock)
            return out
        if tag == "bytes":
            if type(v) is not str:
                raise WireError("bytes needs base64 text")
            return base64.b64decode(v.encode("ascii"), validate=True)
        if tag == "complex":
            if type(v) is not list or len(v) != 2:
                raise WireError("complex needs [real, imag]")
            return complex(_float_in(v[0]), _float_in(v[1]))
        if tag in ("ndarray", "npscalar"):
            return _numpy_in(tag, v)
    except WireError:
        raise
    except (TypeError, ValueError, UnicodeError) as exc:  # unhashable key or set item, bad base64
        raise WireError(f"bad {tag}: {exc}") from None
    raise WireError(f"unknown tag {tag!r:.40}")


def _no_constants(name: str) -> Any:
    raise WireError(f"JSON constant {name} is not allowed on the wire")


def dumps(message: Any) -> bytes:
    """One message (already encoded) as a single JSON line."""
    return json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n"


def loads(line: bytes) -> Any:
    """Parse one JSON line strictly (no NaN/Infinity constants, bounded size)."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise WireError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        return json.loads(line.decode("utf-8"), parse_constant=_no_constants)
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
    import builtins

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
    import builtins

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
