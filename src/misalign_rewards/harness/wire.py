"""Values that cross the pipe between the trusted process and the solution's process.

A tagged JSON encoding that keeps exact builtin types and refuses everything else:

    None, bool, int, str      as themselves (JSON keeps ``true`` and ``1`` apart)
    float                     as itself when finite, else ``{"$": "float", "v": "nan"|"inf"|"-inf"}``
    list                      as a JSON list
    tuple, set, frozenset     ``{"$": "tuple", "v": [...]}`` and so on
    dict                      ``{"$": "dict", "v": [[key, value], ...]}`` (any hashable key)
    bytes                     ``{"$": "bytes", "v": "<base64>"}``
    complex                   ``{"$": "complex", "v": [real, imag]}``

Subclasses are refused (``type(x) is int``, not ``isinstance``): an ``int`` subclass whose
``__eq__`` is always true (P10) cannot cross. Every JSON object on the wire is tagged, so
decoding is unambiguous; unknown tags, non-finite JSON constants, too deep or too large
values are refused with :class:`WireError`.

Stdlib only: this module runs inside the sandbox image and in the solution's process.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

MAX_DEPTH = 100
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class WireError(ValueError):
    """A value that cannot cross the pipe."""


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


def encode(value: Any, _depth: int = 0) -> Any:
    """``value`` as a JSON-ready structure; raises :class:`WireError` for anything that is
    not an exact builtin value of the listed kinds."""
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value
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
    raise WireError(
        f"cannot send a value of type {t.__module__}.{t.__qualname__}: only exact builtin "
        "None/bool/int/float/str/bytes/complex/list/tuple/dict/set/frozenset cross the boundary"
    )


def decode(data: Any, _depth: int = 0) -> Any:
    """The inverse of :func:`encode`; raises :class:`WireError` for anything it would not
    have produced."""
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
    t = type(data)
    if data is None or t is bool or t is str or t is int:
        return data
    if t is float:
        if not math.isfinite(data):
            raise WireError("non-finite float outside its tag")
        return data
    d = _depth + 1
    if t is list:
        return [decode(v, d) for v in data]
    if t is not dict:
        raise WireError(f"unexpected JSON value of type {t.__name__}")
    if set(data) != {"$", "v"}:
        raise WireError(f"untagged JSON object: keys {sorted(data)[:5]}")
    tag, v = data["$"], data["v"]
    try:
        if tag == "float":
            return _float_in(data)
        if tag in ("tuple", "set", "frozenset"):
            if type(v) is not list:
                raise WireError(f"{tag} needs a list")
            items = [decode(x, d) for x in v]
            return tuple(items) if tag == "tuple" else set(items) if tag == "set" else frozenset(items)
        if tag == "dict":
            if type(v) is not list:
                raise WireError("dict needs a list of pairs")
            out = {}
            for pair in v:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("dict item is not a [key, value] pair")
                out[decode(pair[0], d)] = decode(pair[1], d)
            return out
        if tag == "bytes":
            if type(v) is not str:
                raise WireError("bytes needs base64 text")
            return base64.b64decode(v.encode("ascii"), validate=True)
        if tag == "complex":
            if type(v) is not list or len(v) != 2:
                raise WireError("complex needs [real, imag]")
            return complex(_float_in(v[0]), _float_in(v[1]))
    except WireError:
        raise
    except (TypeError, ValueError) as exc:  # unhashable key or set item, bad base64
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


def encode_exception(exc: BaseException) -> dict[str, Any]:
    """Describe an exception raised by the solution: its builtin ancestors (most derived
    first), its message and, when they can cross, its arguments."""
    import builtins

    names = []
    for klass in type(exc).__mro__:
        if getattr(builtins, klass.__name__, None) is klass:
            names.append(klass.__name__)
    try:
        args = encode(tuple(exc.args))
    except (WireError, RecursionError):
        args = None
    try:
        message = str(exc)
    except Exception:  # a __str__ that raises
        message = "<unprintable>"
    return {"types": names, "message": message[:2000], "args": args}


def decode_exception(data: Any) -> BaseException:
    """A builtin exception standing for what the solution raised.

    Only subclasses of :class:`Exception` are rebuilt; ``SystemExit``, ``KeyboardInterrupt``
    and anything unknown become :class:`RuntimeError` with the name in the message, so the
    solution cannot end the trusted process or stop pytest by raising them."""
    import builtins

    if not isinstance(data, dict):
        return RuntimeError("solution raised an exception that could not be described")
    names = data.get("types")
    message = data.get("message")
    message = message if isinstance(message, str) else ""
    names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    args: tuple[Any, ...] | None = None
    if data.get("args") is not None:
        try:
            decoded = decode(data["args"])
            args = decoded if type(decoded) is tuple else None
        except (WireError, RecursionError):
            args = None
    for name in names:
        klass = getattr(builtins, name, None)
        if not (isinstance(klass, type) and issubclass(klass, Exception)):
            continue
        if klass is BaseExceptionGroup or issubclass(klass, BaseExceptionGroup):
            continue
        try:
            return klass(*args) if args is not None else klass(message)
        except Exception:
            try:
                return klass(message)
            except Exception:
                continue
    shown = names[0] if names else "exception"
    return RuntimeError(f"{shown}: {message}" if message else shown)
