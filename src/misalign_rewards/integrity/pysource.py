"""A small static analyser of Python source: one file parsed once, each expression that
names something resolved to a dotted name, and string expressions folded to constants.

It knows nothing of gaming; the detectors of :mod:`.python` ask it questions
("references to ``os._exit``?", "strings matching this pattern?", "what does this file
replace?") and decide what is suspicious.

How names are seen
------------------
:class:`PySource` resolves each expression that names something to a dotted name,
following what a policy would use to hide it:

- import aliases (``import os as o``, ``from os import _exit as e``), star imports of the
  modules the detectors care about, and plain assignments (``m = __import__("os")``);
- ``getattr(x, "a")``, ``vars(x)["a"]``, ``x.__dict__["a"]``, ``x.__getattribute__("a")``;
- ``__import__("m")``, ``importlib.import_module("m")``, ``sys.modules["m"]``;
- strings folded from constant pieces: ``"_ex" + "it"``, f-strings of constants,
  ``"".join([...])``, ``"tixe_"[::-1]``, ``chr(95)``, ``b"..".decode()``, and names bound
  once to such a string;
- ``exec``/``eval``/``compile`` of a foldable string: the string is parsed too (into
  :attr:`PySource.nested`), its positions all mapped to the line of the call.

What is *not* seen (by design: the detectors are cheap filters, never the only defence):
names built at run time from non-constant data, ``operator.attrgetter``,
``functools.reduce`` over ``getattr``, code fetched or decoded at run time (``base64`` +
``exec``), pickles. Process separation in the harness is what defeats those.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["PySource", "matches", "single_assignment"]

#: Longest string the folder will build; longer results are left unfolded.
_MAX_FOLD = 10_000
#: How deep ``exec("exec('...')")`` nesting is followed.
_MAX_EXEC_DEPTH = 3

# Names exported by ``from M import *`` for the modules the detectors care about. Only
# stdlib modules are imported here (trusted and already importable on the host); pytest
# is not a runtime dependency, so its few dangerous exports are listed by hand.
_STAR_MODULES = (
    "os", "posix", "sys", "signal", "atexit", "inspect", "gc", "subprocess", "ctypes",
    "marshal", "importlib", "builtins", "math", "time", "unittest", "traceback", "pty",
    "multiprocessing", "py_compile", "compileall",
)
_PYTEST_STAR = {"exit", "skip", "xfail", "fail", "importorskip", "hookimpl", "mark", "raises", "approx"}


def _star_exports(module: str) -> set[str]:
    if module == "pytest":
        return set(_PYTEST_STAR)
    if module not in _STAR_MODULES:
        return set()
    try:
        mod = importlib.import_module(module)
    except ImportError:  # not on this platform (e.g. posix on Windows)
        return set()
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")]
    return set(names)


_BUILTIN_NAMES = frozenset(dir(builtins)) | {"__builtins__", "__import__"}


# --------------------------------------------------------------------------------------
# One parsed file


@dataclass
class PySource:
    """One source file and what the detectors ask of it. Build it with :meth:`parse`;
    every view is computed on first use and kept, since each detector asks again."""

    file: str
    text: str
    #: None when the source does not parse (the detectors then use their regexes).
    tree: ast.Module | None
    #: For code found inside ``exec("...")``: every line maps to the call's line.
    fixed_line: int | None = None
    #: The sources of ``exec``/``eval``/``compile`` of constant strings in this one,
    #: parsed while indexing.
    nested: list[PySource] = field(default_factory=list)

    @classmethod
    def parse(cls, file: str, text: str, fixed_line: int | None = None, depth: int = 0) -> PySource:
        """Never raises for any text: a source that does not parse gets ``tree=None``."""
        try:
            tree: ast.Module | None = ast.parse(text, filename=file)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
        mod = cls(file=file, text=text, tree=tree, fixed_line=fixed_line)
        if tree is not None and depth < _MAX_EXEC_DEPTH:
            mod.nested = list(mod._exec_sources(depth))
        return mod

    # ---- positions ---------------------------------------------------------------------

    def line(self, node: ast.AST) -> int | None:
        """The line to report ``node`` at: the ``exec`` call's line for nested sources."""
        if self.fixed_line is not None:
            return self.fixed_line
        return getattr(node, "lineno", None)

    # ---- plain views of the tree -------------------------------------------------------

    @cached_property
    def nodes(self) -> list[ast.AST]:
        return list(ast.walk(self.tree)) if self.tree is not None else []

    @cached_property
    def parents(self) -> dict[int, ast.AST]:
        out: dict[int, ast.AST] = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                out[id(child)] = node
        return out

    def of_type(self, *types: type[ast.AST]) -> Iterator[ast.AST]:
        return (n for n in self.nodes if isinstance(n, types))

    @cached_property
    def calls(self) -> list[tuple[str | None, ast.Call]]:
        return [(self.resolve(n.func), n) for n in self.nodes if isinstance(n, ast.Call)]

    def calls_to(self, *names: str) -> Iterator[tuple[str, ast.Call]]:
        wanted = frozenset(names)
        for q, call in self.calls:
            if q is not None and matches(q, wanted):
                yield q, call

    # ---- names --------------------------------------------------------------------------

    @cached_property
    def _bound(self) -> set[str]:
        """Every name the file binds anywhere (so a local ``open`` is not the builtin)."""
        bound: set[str] = set()
        for n in self.nodes:
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
                bound.add(n.id)
            elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(n.name)
            elif isinstance(n, ast.arg):
                bound.add(n.arg)
            elif isinstance(n, ast.ExceptHandler) and n.name:
                bound.add(n.name)
            elif isinstance(n, ast.alias):
                bound.add((n.asname or n.name).split(".")[0])
        return bound

    @cached_property
    def _aliases(self) -> dict[str, str]:
        """Local name -> dotted name, from imports and from assignments that resolve."""
        aliases: dict[str, str] = {}
        self.__dict__["_aliases"] = aliases  # visible to resolve() while being built
        for n in self.nodes:
            if isinstance(n, ast.Import):
                for a in n.names:
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        aliases[top] = top
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                for a in n.names:
                    if a.name != "*":
                        aliases[a.asname or a.name] = f"{n.module}.{a.name}"
        # Assignments: two rounds catch ``a = __import__("os"); b = a._exit``.
        for _ in range(2):
            for n in self.nodes:
                target, value = single_assignment(n)
                if target is None or value is None or target in aliases:
                    continue
                q = self.resolve(value)
                if q is not None and q != target:
                    aliases[target] = q
        return aliases

    @cached_property
    def _star(self) -> list[tuple[str, set[str]]]:
        return [(n.module, _star_exports(n.module))
                for n in self.of_type(ast.ImportFrom)
                if isinstance(n, ast.ImportFrom) and n.module and n.level == 0
                and any(a.name == "*" for a in n.names)]

    @cached_property
    def _constants(self) -> dict[str, str]:
        """Names bound exactly once, to a foldable string."""
        seen: dict[str, int] = {}
        values: dict[str, ast.AST] = {}
        for n in self.nodes:
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                seen[n.id] = seen.get(n.id, 0) + 1
            target, value = single_assignment(n)
            if target is not None and value is not None:
                values[target] = value
        out: dict[str, str] = {}
        self.__dict__["_constants"] = out
        for name, value in values.items():
            if seen.get(name) == 1:
                s = self.fold(value)
                if s is not None:
                    out[name] = s
        return out

    def resolve(self, node: ast.AST | None) -> str | None:
        """The dotted name ``node`` stands for, or None when it is not a known name."""
        if isinstance(node, ast.Name):
            name = node.id
            if name in self._aliases:
                return self._aliases[name]
            if name == "__builtins__":
                return "builtins"
            if name in self._bound:
                return None
            if name in _BUILTIN_NAMES:
                return f"builtins.{name}"
            for module, names in reversed(self._star):
                if name in names:
                    return f"{module}.{name}"
            # Unbound and not a builtin: a module injected some other way (exec, globals()).
            return name
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base is not None else None
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            key = self.fold(node.slice)
            return _item(base, key)
        if isinstance(node, ast.Call):
            return self._resolve_call(node)
        return None

    def _resolve_call(self, node: ast.Call) -> str | None:
        func = self.resolve(node.func)
        if func is None:
            return None
        args = node.args
        arg0 = self.fold(args[0]) if args else None
        if func in ("builtins.__import__", "importlib.__import__"):
            if arg0 is None:
                return None
            fromlist = args[3] if len(args) > 3 else next(
                (k.value for k in node.keywords if k.arg == "fromlist"), None)
            has_fromlist = isinstance(fromlist, ast.List | ast.Tuple) and bool(fromlist.elts)
            return arg0 if has_fromlist else arg0.split(".")[0]
        if func in ("importlib.import_module", "importlib.reload"):
            return arg0 if func.endswith("import_module") else self.resolve(args[0]) if args else None
        if func == "builtins.getattr" and len(args) >= 2:
            base = self.resolve(args[0])
            attr = self.fold(args[1])
            return f"{base}.{attr}" if base is not None and attr is not None else None
        if func == "builtins.vars" and args:
            base = self.resolve(args[0])
            return f"{base}.__dict__" if base is not None else None
        if func.endswith((".__getattribute__", ".__getattr__")) and arg0 is not None:
            return f"{func.rsplit('.', 1)[0]}.{arg0}"
        if func.endswith(".get") and arg0 is not None:
            return _item(func[: -len(".get")], arg0)
        return None

    # ---- strings -------------------------------------------------------------------------

    def fold(self, node: ast.AST | None) -> str | None:
        """The string ``node`` always evaluates to, when cheaply known."""
        s = _fold(node, self._constants)
        return s if s is None or len(s) <= _MAX_FOLD else None

    @cached_property
    def strings(self) -> list[tuple[str, ast.AST]]:
        """Every constant string and every foldable string expression, with its node."""
        out: list[tuple[str, ast.AST]] = []
        inert = {id(n.value) for n in self.nodes if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for n in self.nodes:
            if id(n) in inert:
                continue  # docstrings and other string statements do nothing at run time
            if isinstance(n, ast.Constant) and isinstance(n.value, str | bytes):
                v = n.value if isinstance(n.value, str) else n.value.decode("latin-1")
                out.append((v, n))
            elif isinstance(n, ast.BinOp | ast.JoinedStr | ast.Call | ast.Subscript):
                s = self.fold(n)
                if s is None and isinstance(n, ast.JoinedStr | ast.BinOp):
                    s = self._template(n)
                if s is not None:
                    out.append((s, n))
        return out

    def _template(self, node: ast.AST) -> str | None:
        """``f"/proc/{pid}/mem"`` or ``"/proc/" + str(pid) + "/mem"`` as ``"/proc/{}/mem"``:
        the constant parts of a string built around run-time values."""
        if isinstance(node, ast.JoinedStr):
            parts = [self.fold(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
            return "".join("{}" if p is None else p for p in parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.fold(node.left) or self._template(node.left)
            right = self.fold(node.right) or self._template(node.right)
            if left is None and right is None:
                return None
            return (left or "{}") + (right or "{}")
        return None

    def strings_matching(self, pattern: re.Pattern[str]) -> Iterator[tuple[str, ast.AST]]:
        for s, node in self.strings:
            if pattern.search(s):
                yield s, node

    # ---- references ----------------------------------------------------------------------

    @cached_property
    def references(self) -> list[tuple[str, ast.AST]]:
        """Each place a dotted name is named: expressions and import statements."""
        out: list[tuple[str, ast.AST]] = []
        for n in self.nodes:
            if isinstance(n, ast.Import):
                out.extend((a.name, n) for a in n.names)
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                out.append((n.module, n))
                out.extend((f"{n.module}.{a.name}", n) for a in n.names if a.name != "*")
            elif isinstance(n, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
                q = self.resolve(n)
                if q is not None:
                    out.append((q, n))
        return out

    def refs(self, *names: str) -> Iterator[tuple[str, ast.AST]]:
        """References to any of ``names`` or to something inside them."""
        wanted = frozenset(names)
        for q, node in self.references:
            if matches(q, wanted):
                yield q, node

    def attrs(self, *attrs: str) -> Iterator[ast.Attribute]:
        """Attribute accesses by name, whatever the object (``frame.f_back``)."""
        wanted = set(attrs)
        for n in self.nodes:
            if isinstance(n, ast.Attribute) and n.attr in wanted:
                yield n

    @cached_property
    def patches(self) -> list[tuple[str, ast.AST]]:
        """Dotted names the file replaces or deletes: ``m.a = ...``, ``setattr(m, "a",
        ...)``, ``m.__dict__["a"] = ...``, ``del m.a``, ``mock.patch("m.a")``,
        ``mock.patch.object(m, "a")``, ``sys.modules["m"] = ...``."""
        out: list[tuple[str, ast.AST]] = []
        for n in self.nodes:
            if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store | ast.Del) \
                    and self.resolve(n.value) == "sys.modules":
                out.append((f"sys.modules.{self.fold(n.slice) or '?'}", n))
            elif isinstance(n, ast.Attribute | ast.Subscript) and isinstance(n.ctx, ast.Store | ast.Del):
                q = self.resolve(n)
                if q is not None:
                    out.append((q, n))
        for q, call in self.calls:
            if q is None:
                continue
            args = call.args
            if q in ("builtins.setattr", "builtins.delattr") and len(args) >= 2:
                base, attr = self.resolve(args[0]), self.fold(args[1])
                if base is not None and attr is not None:
                    out.append((f"{base}.{attr}", call))
            elif matches(q, ("unittest.mock.patch", "mock.patch")):
                if q.endswith(".object") and len(args) >= 2:
                    base, attr = self.resolve(args[0]), self.fold(args[1])
                    if base is not None and attr is not None:
                        out.append((f"{base}.{attr}", call))
                elif args and (target := self.fold(args[0])) is not None:
                    out.append((target, call))
            elif q.endswith((".__setattr__", ".__delattr__")) and args:
                attr = self.fold(args[0])
                if attr is not None:
                    out.append((f"{q.rsplit('.', 1)[0]}.{attr}", call))
            elif q in ("sys.modules.update", "sys.modules.__setitem__", "sys.modules.setdefault"):
                out.append(("sys.modules", call))
            elif q.endswith((".__dict__.update", ".__dict__.__setitem__", ".__dict__.setdefault")):
                base = q.rsplit(".", 2)[0]
                attr = self.fold(args[0]) if args else None
                out.append((f"{base}.{attr}" if attr else base, call))
        return out

    def patched(self, *names: str) -> Iterator[tuple[str, ast.AST]]:
        wanted = frozenset(names)
        for q, node in self.patches:
            if matches(q, wanted):
                yield q, node

    # ---- exec of constant strings ------------------------------------------------------

    def _exec_sources(self, depth: int) -> Iterator[PySource]:
        for q, call in self.calls_to("builtins.exec", "builtins.eval", "builtins.compile"):
            if not call.args:
                continue
            src = self.fold(call.args[0])
            if src is None:
                continue
            line = self.line(call) or 1
            yield PySource.parse(f"{self.file}[{q.split('.')[-1]}]", src, fixed_line=line,
                                depth=depth + 1)

    def enclosing(self, node: ast.AST, *types: type[ast.AST]) -> ast.AST | None:
        cur = self.parents.get(id(node))
        while cur is not None:
            if isinstance(cur, types):
                return cur
            cur = self.parents.get(id(cur))
        return None

    def in_main_guard(self, node: ast.AST) -> bool:
        """Inside ``if __name__ == "__main__":`` (never true when the module is imported)."""
        cur = self.parents.get(id(node))
        while cur is not None:
            if isinstance(cur, ast.If) and _is_main_test(cur.test):
                return True
            cur = self.parents.get(id(cur))
        return False


def matches(q: str, names: Iterable[str]) -> bool:
    """Whether the dotted name ``q`` is one of ``names`` or something inside one (``q``
    itself, or ``q`` up to one of its dots, is in ``names``). A scan asks this of every
    name a module references, once per rule: with ``names`` a set it costs a lookup per
    dot of ``q``, not a string comparison per name."""
    wanted = names if isinstance(names, set | frozenset) else frozenset(names)
    if q in wanted:
        return True
    dot = q.find(".")
    while dot != -1:
        if q[:dot] in wanted:
            return True
        dot = q.find(".", dot + 1)
    return False


def _item(base: str | None, key: str | None) -> str | None:
    if base is None or key is None:
        return None
    if base == "sys.modules":
        return key
    if base.endswith(".__dict__"):
        return f"{base[: -len('.__dict__')]}.{key}"
    if base == "builtins":
        return f"builtins.{key}"
    return None


def single_assignment(node: ast.AST) -> tuple[str | None, ast.AST | None]:
    """``(name, value)`` when ``node`` binds one plain name (``x = v``, ``x: T = v``,
    ``(x := v)``), else ``(None, None)``."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign | ast.NamedExpr) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _is_main_test(test: ast.AST) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _fold(node: ast.AST | None, names: Mapping[str, str]) -> str | None:
    """Constant-fold a string expression built from literal pieces."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return node.value
        return None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _fold(node.left, names), _fold(node.right, names)
        return left + right if left is not None and right is not None and len(left) + len(right) <= _MAX_FOLD else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            inner = v.value if isinstance(v, ast.FormattedValue) else v
            if isinstance(v, ast.FormattedValue) and (v.conversion != -1 or v.format_spec is not None):
                return None
            s = _fold(inner, names)
            if s is None:
                return None
            parts.append(s)
        return "".join(parts)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        base = _fold(node.value, names)
        sl = node.slice
        bounds: list[int | None] = []
        for b in (sl.lower, sl.upper, sl.step):
            if b is None:
                bounds.append(None)
            elif isinstance(b, ast.Constant) and type(b.value) is int:
                bounds.append(b.value)
            elif isinstance(b, ast.UnaryOp) and isinstance(b.op, ast.USub) and isinstance(b.operand, ast.Constant) and type(b.operand.value) is int:
                bounds.append(-b.operand.value)
            else:
                return None
        if base is None or bounds[2] == 0:
            return None
        return base[slice(*bounds)]
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "chr" and len(node.args) == 1:
            a = node.args[0]
            if isinstance(a, ast.Constant) and type(a.value) is int and 0 <= a.value < 0x110000:
                return chr(a.value)
            return None
        if isinstance(func, ast.Name) and func.id == "str" and len(node.args) == 1:
            return _fold(node.args[0], names)
        if isinstance(func, ast.Attribute):
            if func.attr == "join" and len(node.args) == 1:
                sep = _fold(func.value, names)
                seq = node.args[0]
                if sep is None or not isinstance(seq, ast.List | ast.Tuple):
                    return None
                pieces = [_fold(e, names) for e in seq.elts]
                if any(p is None for p in pieces):
                    return None
                return sep.join(p for p in pieces if p is not None)
            if func.attr == "decode" and len(node.args) <= 1:
                raw = _fold_bytes(func.value)
                if raw is None:
                    return None
                try:
                    return raw.decode(*(a.value for a in node.args
                                        if isinstance(a, ast.Constant) and isinstance(a.value, str)))
                except (UnicodeDecodeError, LookupError, TypeError):
                    return None
            if func.attr in ("lower", "upper", "strip") and not node.args:
                base = _fold(func.value, names)
                return getattr(base, func.attr)() if base is not None else None
    return None


def _fold_bytes(node: ast.AST) -> bytes | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        return node.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "bytes"
            and len(node.args) == 1 and isinstance(node.args[0], ast.List | ast.Tuple)):
        vals = [e.value for e in node.args[0].elts if isinstance(e, ast.Constant) and type(e.value) is int]
        if len(vals) == len(node.args[0].elts) and all(0 <= v < 256 for v in vals):
            return bytes(vals)
    return None
