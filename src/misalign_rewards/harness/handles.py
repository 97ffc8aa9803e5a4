"""The trusted side's stand-ins for the solution's objects (``isolated`` mode).

A :class:`Handle` stands for one object that lives in a solution process. Every
operation on it (attribute get and set, calls, operators, ``len``/``iter``/``next``,
``str``/``repr``/``format``, ``hash``, ``with``) is one request that the solution's
process answers with data or another handle (:mod:`proxy` carries it). What is decided
here, by trusted code, and never by the solution:

- ``handle == data`` (and ``!=``, ``<``, ...): from data. An object of a class derived
  from a builtin value type (a namedtuple, an IntEnum, a ``list`` subclass) is compared
  by the builtin value it holds (its *projection*, read through the builtin's own
  methods); any other object is not data, and the comparison is left to the other
  operand (``NotImplemented``), as Python does for unrelated types. So an object that
  claims to equal everything equals nothing here.
- Between two handles the solution's own class decides, as in plain Python (and the
  solution's process checks whether that class looks at its operand at all).

Each class of the solution that reaches the trusted side gets a *mirror*: a trusted
class of the same name, module and qualified name, whose bases mirror the solution
class's bases. Handles are instances of their object's mirror, so ``isinstance(x,
Stack)``, ``type(x).__name__`` and ``class MyStack(Stack)`` in a test behave as in plain
Python. Calling a mirror class constructs the object in the solution's process; class
attributes are fetched from there. Exception classes are mirrored as real trusted
exception classes (builtin bases kept), so ``pytest.raises(InsufficientFunds)`` works;
an exception the solution raises arrives as an instance of its mirror with its
arguments and attributes as data.

Stdlib only; runs inside the sandbox image.
"""

from __future__ import annotations

import abc
import builtins
import collections.abc
import dataclasses
import inspect
import operator
import sys
import types
from collections.abc import Sequence
from typing import Any, cast

#: Dunder attributes a test may read from a solution object (``functools.wraps`` checks).
FORWARDED_DUNDERS = frozenset({
    "__name__", "__qualname__", "__wrapped__", "__dict__", "__self__", "__func__",
    "__annotations__", "__defaults__", "__kwdefaults__", "__slots__", "__members__",
    "__dataclass_fields__", "__match_args__",
})
#: Builtin exception bases a mirror may not keep: raised in the trusted process they
#: would end an iteration early or end the process (see :mod:`wire`).
_UNSAFE_EXC_BASES = frozenset({"StopIteration", "StopAsyncIteration", "GeneratorExit", "SystemExit",
                               "KeyboardInterrupt", "BaseExceptionGroup"})

_NO = object()


def _b(h: Handle) -> Any:
    return object.__getattribute__(h, "_h_broker")


def _proj(h: Handle) -> Any:
    """The handle's projection (see the module doc), or ``_NO``."""
    return _b(h).projection(h)


class _Signature:
    """``inspect.signature`` of a solution's callable: rebuilt here from its parameters as
    data (:meth:`proxy.Broker.signature`). None on a class, where inspect goes on to the
    class's own ways."""

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return None
        return _b(obj).signature(obj)


def _plain() -> None:
    pass


def _generator() -> Any:
    yield


async def _coroutine() -> None:
    pass


async def _async_generator() -> Any:
    yield


#: Code objects of the harness's own, one of each kind of function; a solution function's
#: ``__code__`` here is one of them renamed (:class:`_Code`): never the solution's code.
_CODE_OF_KIND = {c.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR): c
                 for c in (_plain.__code__, _generator.__code__, _coroutine.__code__, _async_generator.__code__)}


class _Code:
    """``__code__`` of a solution function: a code object of the harness's own of the
    same kind (generator, coroutine, async generator or plain) and name, so that
    ``inspect.isgeneratorfunction`` and its kin answer as for the solution's function.
    A class or an object with no code has none (AttributeError)."""

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            raise AttributeError("__code__")
        kind = _b(obj).do("code", obj)
        if not (isinstance(kind, list) and len(kind) == 2 and kind[0] in _CODE_OF_KIND and isinstance(kind[1], str)):
            raise AttributeError("__code__")
        name = kind[1] if kind[1].isidentifier() or kind[1] == "<lambda>" else "solution_function"
        return _CODE_OF_KIND[kind[0]].replace(co_name=name)


class _RemoteAttr:
    """A data descriptor that reads a dunder attribute (``__doc__``) from the solution."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return None
        return _b(obj).get(obj, self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        _b(obj).set(obj, self.name, value)


def _binary(name: str) -> Any:
    local: Any = {"divmod": divmod, "pow": pow, "and": operator.and_, "or": operator.or_}.get(name) or \
        getattr(operator, name, None)

    def forward(self: Handle, other: Any) -> Any:
        if not isinstance(other, Handle) and local is not None:
            p = _proj(self)
            if p is not _NO:
                _own_operator(self, name, type(other).__name__)
                return local(p, other)  # with the test's data: from the builtin value, here
        return _b(self).do(name, self, other)

    def reflected(self: Handle, other: Any) -> Any:
        if not isinstance(other, Handle) and local is not None:
            p = _proj(self)
            if p is not _NO:
                _own_operator(self, "r" + name, type(other).__name__)
                return local(other, p)
        return _b(self).do(name, other, self)

    return forward, reflected


def _own_operator(h: Handle, name: str, other: str) -> None:
    """Say so when the solution's class defines the operator computed here from the
    builtin value its object holds (:meth:`proxy.Broker.refused_operator`)."""
    if f"__{name}__" in getattr(type(h), "_mr_operators", ()):
        _b(h).refused_operator(type(h).__name__, name, other)


def _unary(name: str, local: Any = None) -> Any:
    def forward(self: Handle) -> Any:
        if local is not None:
            p = _proj(self)
            if p is not _NO:
                _own_operator(self, name, "")
                return local(p)
        return _b(self).do(name, self)

    return forward


def _compare(name: str, local: Any) -> Any:
    def compare(self: Handle, other: Any) -> Any:
        if isinstance(other, Handle):
            return _b(self).do(name, self, other)
        p = _proj(self)
        if p is _NO:
            if name != "ne" and f"__{name}__" in getattr(type(self), "_mr_operators", ()):
                # the solution's class would decide in plain pytest: say why it does not
                # (equality with data is the trust rule itself, which a gamed __eq__
                # meets: it still equals nothing, and the outcome says why; ``!=`` comes
                # out as a class that equals only its own kind says, so it goes unsaid)
                _b(self).refused_comparison(type(self).__name__, name, type(other).__name__)
            return NotImplemented
        return local(p, other)

    return compare


class Handle:
    """One object of the solution's (see the module doc). The behaviour of every handle;
    its state (``_h_*``) lives in its instance dict (:class:`ObjectHandle`, or a value
    mirror: see :func:`make_mirror`)."""

    __slots__ = ()
    #: the immutable builtin type a value mirror derives from (inherited by subclasses);
    #: set here so that looking it up never asks the solution (MirrorMeta.__getattr__)
    _mr_builtin: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Construction happens in the solution's process; this runs only for a test's
        own subclass calling ``super().__init__(...)``, and does nothing."""

    __doc__ = _RemoteAttr("__doc__")
    __signature__ = _Signature()
    __code__ = _Code()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_h_") or (name.startswith("__") and name not in FORWARDED_DUNDERS):
            raise AttributeError(name)
        return _b(self).get(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_h_"):
            object.__setattr__(self, name, value)
        else:
            _b(self).set(self, name, value)

    def __delattr__(self, name: str) -> None:
        _b(self).set(self, name, None, delete=True)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _b(self).call(self, args, kwargs)

    def __repr__(self) -> str:
        return _b(self).do("repr", self)

    def __str__(self) -> str:
        return _b(self).do("str", self)

    def __format__(self, spec: str) -> str:
        return _b(self).do("format", self, spec)

    def __hash__(self) -> int:
        return _b(self).do("hash", self)

    def __bool__(self) -> bool:
        p = _proj(self)
        if p is not _NO:
            return bool(p)
        return _b(self).do("bool", self)

    def __len__(self) -> int:
        p = _proj(self)
        if p is not _NO:
            return len(p)
        return _b(self).do("len", self)

    def __iter__(self) -> Any:
        p = _proj(self)
        if p is not _NO and isinstance(p, (tuple, frozenset, str, bytes)):
            return iter(p)
        return _b(self).do("iter", self)

    def __next__(self) -> Any:
        return _b(self).do("next", self)

    def __reversed__(self) -> Any:
        return _b(self).do("reversed", self)

    def __getitem__(self, key: Any) -> Any:
        p = _proj(self)
        if p is not _NO and isinstance(p, (tuple, str, bytes)):
            return p[key]
        return _b(self).do("getitem", self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        _b(self).do("setitem", self, key, value)

    def __delitem__(self, key: Any) -> None:
        _b(self).do("delitem", self, key)

    def __contains__(self, item: Any) -> bool:
        p = _proj(self)
        if p is not _NO and isinstance(p, (tuple, frozenset, str, bytes)):
            return item in p
        return bool(_b(self).do("contains", self, item))

    def __enter__(self) -> Any:
        return _b(self).do("enter", self)

    def __exit__(self, et: Any, ev: Any, tb: Any) -> Any:
        if et is not None and (issubclass(et, AssertionError) or not issubclass(et, Exception)):
            # A failed check of the test's (or pytest's own outcome): the solution's
            # __exit__ runs (its clean-up), without the text, and cannot suppress it.
            suppressed = _b(self).do("exit", self, AssertionError, None, None)
            if suppressed:
                _b(self).gaming.append(f"exit: {type(self).__qualname__}.__exit__ tried to suppress the "
                                       "test's own failed check")
            return False
        return _b(self).do("exit", self, et, ev, None)

    def __copy__(self) -> Any:
        return _b(self).do("copy", self)

    def __deepcopy__(self, memo: Any) -> Any:
        return _b(self).do("deepcopy", self)

    def __dir__(self) -> Any:
        return _b(self).do("dir", self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        _b(self)._cannot_carry("a test pickled an object of the solution's; isolated mode cannot pickle it in "
                               "the tests' process (unpickling runs code of the pickled object's class); a suite "
                               "that needs it must use mode='inprocess'")
        raise TypeError("an object of the solution's cannot be pickled in the trusted process")

    def __round__(self, *args: Any) -> Any:
        p = _proj(self)
        if p is not _NO:
            return round(p, *args)
        return _b(self).do("round", self, *args)

    __eq__ = _compare("eq", lambda p, o: p == o)
    __ne__ = _compare("ne", lambda p, o: p != o)
    __lt__ = _compare("lt", lambda p, o: p < o)
    __le__ = _compare("le", lambda p, o: p <= o)
    __gt__ = _compare("gt", lambda p, o: p > o)
    __ge__ = _compare("ge", lambda p, o: p >= o)
    __neg__ = _unary("neg", lambda p: -p)
    __pos__ = _unary("pos", lambda p: +p)
    __abs__ = _unary("abs", abs)
    __invert__ = _unary("invert", lambda p: ~p)
    __index__ = _unary("index", lambda p: p.__index__())
    __int__ = _unary("int", int)
    __float__ = _unary("float", float)
    __complex__ = _unary("complex", complex)
    __trunc__ = _unary("trunc")
    __floor__ = _unary("floor")
    __ceil__ = _unary("ceil")
    __add__, __radd__ = _binary("add")
    __sub__, __rsub__ = _binary("sub")
    __mul__, __rmul__ = _binary("mul")
    __matmul__, __rmatmul__ = _binary("matmul")
    __truediv__, __rtruediv__ = _binary("truediv")
    __floordiv__, __rfloordiv__ = _binary("floordiv")
    __mod__, __rmod__ = _binary("mod")
    __pow__, __rpow__ = _binary("pow")
    __divmod__, __rdivmod__ = _binary("divmod")
    __lshift__, __rlshift__ = _binary("lshift")
    __rshift__, __rrshift__ = _binary("rshift")
    __and__, __rand__ = _binary("and")
    __or__, __ror__ = _binary("or")
    __xor__, __rxor__ = _binary("xor")


# A handle's ``__annotations__`` are the solution object's (forwarded, FORWARDED_DUNDERS),
# not the annotations of this class's own body.
del Handle.__annotations__

for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift", "and",
            "or", "xor", "matmul"):
    # In-place operators: the solution's object decides (``s += [1]`` on its list subclass).
    setattr(Handle, f"__i{_op}__", _binary(f"i{_op}")[0])


def _remote_dict(self: Handle) -> Any:
    return _b(self).get(self, "__dict__")


#: ``vars(h)`` / ``h.__dict__``: the solution object's attributes. A handle keeps its own
#: state (``_h_*``) in its instance dict, which this hides (it is set in each class that
#: makes that dict, as the dict's own descriptor would be).
_DICT = property(_remote_dict)


class ObjectHandle(Handle):
    """A handle whose class derives from no immutable builtin value type. Its state is in
    an instance dict, not slots, so a mirror can combine it with a builtin value type."""

    __dict__ = _DICT


#: Immutable builtin value types a mirror derives from when the solution's class does
#: (a namedtuple, an IntEnum, a ``str`` subclass): its handles are then real values of
#: that type holding the object's value, which cannot change.
VALUE_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, tuple, frozenset)}


def new_handle(cls: type, proj: Any) -> Any:
    """A bare instance of the mirror (or handle class) ``cls``; for a value mirror, a value
    of its builtin type holding ``proj`` (its empty value when the projection is unknown:
    then only its type is right, and every operation still goes to the solution)."""
    builtin = cls._mr_builtin if issubclass(cls, Handle) else None
    if builtin is None:
        return object.__new__(cls if issubclass(cls, ObjectHandle) else ObjectHandle)
    return builtin.__new__(cls, proj if type(proj) is builtin else builtin())


def _mirror_of(cls: type) -> Any:
    """The nearest mirrored solution class in ``cls``'s bases (``cls`` itself for a mirror)."""
    return next((k for k in cls.__mro__ if "_mr_key" in k.__dict__), None)


def _method(name: str) -> Any:
    """A mirror's method: the solution class's own function, called on the object in the
    solution's process (``super().area()`` in a test's subclass reaches it too)."""
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        mirror = method.__mr_owner__  # type: ignore[attr-defined]
        if type(self).__dict__.get(name) is method:
            # obj.method(...): the object's own attribute, bound as Python binds it
            return mirror._mr_broker.callattr(self, name, args, kwargs)
        # super().method(...) from a test's subclass: this class's function, explicitly
        return mirror._mr_broker.callattr(mirror, name, (self, *args), kwargs)

    method.__name__ = method.__qualname__ = name
    method._mr_method = name  # type: ignore[attr-defined]
    return method


class MirrorMeta(type):
    """The metaclass of mirrored solution classes (see the module doc)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        mirror = _mirror_of(cls)
        if mirror is None:  # pragma: no cover - a mirror always has a key
            raise TypeError(f"{cls.__name__} cannot be constructed")
        broker = mirror._mr_broker
        if mirror is cls:
            return broker.call(mirror, args, kwargs)
        # A test's own subclass of a solution class: the solution's process gets a
        # subclass whose methods the test defined are its callables (so the solution's
        # code calling self.run() runs the test's run), and the object is made there.
        return broker.call(broker.remote_subclass(cls, mirror), args, kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        if type.__instancecheck__(cls, obj):
            return True
        # A runtime-checkable Protocol of the solution's: structural, as typing checks it,
        # from the names of its members (data), here (a test's own object qualifies)
        members = cls.__dict__.get("_mr_protocol")
        return members is not None and all(hasattr(obj, m) for m in members)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_mr_") or (name.startswith("__") and name not in FORWARDED_DUNDERS):
            raise AttributeError(name)
        mirror = _mirror_of(cls)
        if mirror is None:
            raise AttributeError(name)
        return mirror._mr_broker.get(mirror, name)

    def __iter__(cls) -> Any:  # an Enum's members
        mirror = _mirror_of(cls)
        return iter(mirror._mr_broker.do("iter", mirror))

    def __len__(cls) -> int:
        mirror = _mirror_of(cls)
        return mirror._mr_broker.do("len", mirror)

    def __contains__(cls, item: Any) -> bool:
        mirror = _mirror_of(cls)
        return bool(mirror._mr_broker.do("contains", mirror, item))

    def __getitem__(cls, key: Any) -> Any:  # Color["RED"]
        mirror = _mirror_of(cls)
        return mirror._mr_broker.do("getitem", mirror, key)

    def __setattr__(cls, name: str, value: Any) -> None:
        if name.startswith("_mr_") or name.startswith("__") or "_mr_key" not in cls.__dict__:
            type.__setattr__(cls, name, value)
        elif getattr(value, "_mr_method", None) == name:
            # A patch undone (mock.patch.object puts back what it read from __dict__, the
            # mirror's own method): the solution's class gets its original back.
            cls._mr_broker.set(cls, name, None, delete=True)
            type.__setattr__(cls, name, value)
        else:
            cls._mr_broker.set(cls, name, value)
            if name in cls.__dict__ and callable(cls.__dict__[name]):
                type.__delattr__(cls, name)  # the patched attribute is fetched from there now

    def __delattr__(cls, name: str) -> None:
        if "_mr_key" in cls.__dict__ and not name.startswith("_"):
            cls._mr_broker.set(cls, name, None, delete=True)
        else:
            type.__delattr__(cls, name)

    def __repr__(cls) -> str:
        return f"<class '{cls.__module__}.{cls.__qualname__}'>"


def make_mirror(broker: Any, key: Any, desc: dict[str, Any], bases: list[type]) -> type:
    """A trusted class standing for a solution class described by ``desc`` (see
    :meth:`isolated_child.Server.describe_class`), with ``bases`` already mirrored."""
    name = _ident(desc.get("name"), "SolutionClass")
    ns: dict[str, Any] = {
        "__module__": _text(desc.get("module"), "solution"),
        "__qualname__": _text(desc.get("qualname"), name),
        "_mr_key": key, "_mr_broker": broker,
    }
    value_base = desc.get("value_base")
    ns["_mr_value_base"] = value_base if isinstance(value_base, str) else None
    methods = desc.get("methods")
    ns["_mr_methods"] = frozenset(m for m in methods if isinstance(m, str)) if isinstance(methods, list) else frozenset()
    operators = desc.get("operators")
    ns["_mr_operators"] = frozenset(o for o in operators if isinstance(o, str)) if isinstance(operators, list) \
        else frozenset()
    if desc.get("exc"):
        exc_bases = [b for b in bases if isinstance(b, type) and issubclass(b, BaseException)]
        if not exc_bases:
            exc_bases = [Exception]
        ns["__str__"] = _mirror_exc_str
        return type(name, tuple(exc_bases), ns)
    handle_bases = [b for b in bases if isinstance(b, type) and issubclass(b, Handle)]
    builtin = VALUE_TYPES.get(value_base) if isinstance(value_base, str) else None
    if builtin is not None:
        # the mirrors of builtin classes (``tuple`` itself) give way to the real ones
        handle_bases = [b for b in handle_bases if not str(b.__dict__.get("_mr_key", "")).startswith("b:")]
    if builtin is not None and not any(b._mr_builtin for b in handle_bases):
        # A value mirror: ``isinstance(p, tuple)`` holds and C code reading the value (a
        # ``str.join``, ``json.dumps``) sees it; its handle state is in its instance dict.
        value_ns = dict(ns, _mr_builtin=builtin, __dict__=_DICT)
        try:
            return _finish_mirror(name, desc, (handle_bases or [Handle]) + [builtin], value_ns)
        except TypeError:  # bases that cannot be combined with it: a plain mirror
            pass
    ns["__slots__"] = ()
    return _finish_mirror(name, desc, handle_bases or [ObjectHandle], ns)


def _finish_mirror(name: str, desc: dict[str, Any], bases: Sequence[type], ns: dict[str, Any]) -> type:
    ns["__doc__"] = _RemoteAttr("__doc__")
    fields = desc.get("dataclass")
    if isinstance(fields, list) and all(isinstance(f, str) and f.isidentifier() for f in fields):
        # dataclasses.fields / asdict / replace on the solution's dataclass instances
        made = {}
        for fname in fields[:200]:
            f = dataclasses.field()
            f.name, f.type, f._field_type = fname, object, dataclasses._FIELD  # type: ignore[attr-defined]
            made[fname] = f
        ns["__dataclass_fields__"] = made
    methods_here = {m: _method(m) for m in ns["_mr_methods"] if m.isidentifier()}
    methods_here["__init__"] = _method("__init__")
    ns.update(methods_here)
    cls = MirrorMeta(name, tuple(bases), ns)
    for fn in methods_here.values():
        fn.__mr_owner__ = cls
    protocol = desc.get("protocol")
    if isinstance(protocol, list) and len(protocol) <= 200 and all(isinstance(m, str) for m in protocol):
        type.__setattr__(cls, "_mr_protocol", tuple(protocol))
    slots = desc.get("slots")
    if isinstance(slots, list) and len(slots) == 2 and slots[0] in ("str", "list", "tuple") \
            and isinstance(slots[1], list) and all(isinstance(n, str) and n.isidentifier() for n in slots[1]):
        # ``Point.__slots__`` as the solution's class wrote them (data; a mirror's layout is its own)
        kind = slots[0]
        type.__setattr__(cls, "__slots__", slots[1][0] if kind == "str" and slots[1] else
                         list(slots[1]) if kind == "list" else tuple(slots[1]))
    abcs = desc.get("abcs")
    for abc_name in abcs if isinstance(abcs, list) else ():
        # isinstance(obj, Mapping) as the solution's class answers it (it derives from
        # collections.abc.Mapping, or registered with it): the mirror, registered alike
        found: Any = getattr(collections.abc, abc_name, None) if abc_name in _ABC_NAMES else None
        # (only where the mirror does not belong already: Iterable, Sized, Hashable and the
        # like hold through its own methods, and each registration empties every abstract
        # class's cache)
        if isinstance(found, abc.ABCMeta) and not issubclass(cls, found):
            found.register(cast(Any, cls))
    return cls


#: The abstract classes of :mod:`collections.abc` a mirror may be registered with.
_ABC_NAMES = frozenset(collections.abc.__all__)


def builtin_exception(name: str) -> type[BaseException] | None:
    """The builtin exception class a mirror may use as a base, or None."""
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return RuntimeError if name in _UNSAFE_EXC_BASES else found
    return None


def _mirror_exc_str(self: BaseException) -> str:
    message = self.__dict__.get("_mr_message")
    if isinstance(message, str):
        return message
    return BaseException.__str__(self)


def _ident(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 200 else default


def _text(value: Any, default: str) -> str:
    return value[:400] if isinstance(value, str) and value else default


class SolutionModule(types.ModuleType):
    """A module whose attributes live in the solution's process: ``from solution import
    f`` gets ``f``'s handle (or its value, if it is data); setting an attribute
    (``monkeypatch.setattr(solution, "helper", fake)``, ``mock.patch("solution.x")``)
    sets it there.

    ``from solution import *`` binds the module's public names except those that would
    replace a builtin or a name the importing module has already bound, and a name that
    is a module binds the trusted process's own copy of that module (never a module the
    solution could have changed)."""

    def __init__(self, name: str, broker: Any) -> None:
        super().__init__(name, f"the solution module {name!r}, served from another process")
        self.__dict__["_broker"] = broker
        self.__dict__["_star"] = {}

    def __getattr__(self, name: str) -> Any:
        broker = self.__dict__["_broker"]
        star: dict[str, Any] = self.__dict__["_star"]
        if name == "__all__":
            caller = sys._getframe(1).f_globals  # the module running ``import *``
            names, modules = broker.star_names(self.__name__)
            keep = [n for n in names if n not in caller and not hasattr(builtins, n)]
            star.clear()
            for n in keep:
                if n in modules:
                    star[n] = modules[n]
            return [n for n in keep if n not in modules or modules[n] is not None]
        if name in star:
            return star.pop(name)
        if name == "__file__":
            # a test that runs the solution's file as a program of its own would run it
            # as the tests: not given, and said (plain pytest hands the path over)
            broker.refused_file(self.__name__, sys._getframe(1).f_globals.get("__name__"))
        if name.startswith("__"):
            raise AttributeError(name)
        return broker.module_get(self.__name__, name)

    def __dir__(self) -> list[str]:
        return self.__dict__["_broker"].module_dir(self.__name__)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("__"):
            types.ModuleType.__setattr__(self, name, value)
        else:
            self.__dict__["_broker"].set({"path": [self.__name__]}, name, value)

    def __delattr__(self, name: str) -> None:
        if name.startswith("__"):
            types.ModuleType.__delattr__(self, name)
        else:
            self.__dict__["_broker"].set({"path": [self.__name__]}, name, None, delete=True)


class Unavailable:
    """Stands for a solution name that could not be looked up (the import failed, the
    process died): using it fails the test with the reason, counted as a fault."""

    def __init__(self, broker: Any, text: str) -> None:
        object.__setattr__(self, "_broker", broker)
        object.__setattr__(self, "_text", text)

    def _fail(self, *_: Any, **__: Any) -> Any:
        object.__getattribute__(self, "_broker").fault(object.__getattribute__(self, "_text"))

    __call__ = __iter__ = __len__ = __getitem__ = __contains__ = _fail
    __hash__ = object.__hash__

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __repr__(self) -> str:
        return f"<unavailable: {object.__getattribute__(self, '_text')}>"
