"""SSA intermediate representation with structured control flow.

Every value is assigned once. Control flow is kept as structured regions, as
in MLIR's ``scf`` dialect, so that loops come out of code generation as plain
Python loops and the adjoint of a loop is a loop:

- ``If(cond, then, orelse) -> outs``: each branch block ends in ``yield``
  (values for ``outs``), or in a loop exit (``break`` / ``continue``).
- ``While(inits) -> outs``: a ``header`` block (arguments: the carried values)
  computes the condition and ends in ``cond``; the ``body`` block (arguments:
  the carried values again) ends in ``continue`` (values for the next
  iteration) or ``break`` (values for ``outs``).
- ``For(iterable, inits) -> outs``: the body's first argument is the item.
- The function's top block ends in ``return``; the frontend guarantees there
  is exactly one ``return`` and that it is the top block's terminator.

Values carry the user's variable name and line, used for printing and for
naming generated code. The printed form reads like IRTools::

    1: (%1, %2)                  # x, n
      %3 = while (%2, 1) -> (%4, %5)
      ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, eq=False)
class Value:
    id: int
    name: str | None = None
    line: int | None = None
    static: Any = None  # the object a global/attribute read resolved to at transform time

    def __repr__(self) -> str:
        return f"%{self.id}"


@dataclass(slots=True, eq=False)
class Const:
    value: Any

    def __repr__(self) -> str:
        v = self.value
        if callable(v) and hasattr(v, "__name__"):
            return getattr(v, "__qualname__", v.__name__)
        return repr(v)


Operand = Value | Const


@dataclass(slots=True, eq=False)
class Op:
    """``outs = kind(args...)``.

    kinds: ``call`` (``fn`` is an operand: the callee; args/kwargs the
    arguments; ``star`` marks a call whose positional arguments are one tuple
    operand and keywords one dict operand), ``global`` (``fn`` is the name),
    ``free`` (read of the function's own closure cell ``fn``), ``attr``
    (``fn`` is the attribute name), ``method`` (``fn`` is the method name,
    args[0] the object), ``tuple`` / ``list`` / ``dict`` (``fn`` is the key
    list for dicts), ``unpack`` (``fn`` is the count), ``closure`` (``fn`` is
    the nested code object; args the captured values, kwargs the defaults),
    ``newlist`` and ``append`` (comprehension accumulators), ``setitem``
    (args: object, index, value) and ``setattr`` (``fn`` is the name; args:
    object, value): mutations, which define nothing.
    """

    outs: list[Value]
    kind: str
    fn: Any
    args: list[Operand] = field(default_factory=list)
    kwargs: dict[str, Operand] = field(default_factory=dict)
    line: int | None = None
    static: Any = None  # transform-time callee of a call (rules may be inlined)
    star: bool = False
    mutating: bool = False


@dataclass(slots=True, eq=False)
class Term:
    """Block terminator: ``yield``, ``break``, ``continue``, ``return``, ``cond``."""

    kind: str
    values: list[Operand] = field(default_factory=list)
    line: int | None = None


@dataclass(slots=True, eq=False)
class Block:
    args: list[Value] = field(default_factory=list)
    stmts: list[Any] = field(default_factory=list)
    term: Term | None = None
    id: int = 0


@dataclass(slots=True, eq=False)
class If:
    cond: Operand
    then: Block
    orelse: Block
    outs: list[Value] = field(default_factory=list)
    line: int | None = None


@dataclass(slots=True, eq=False)
class Loop:
    """``while`` (``header`` set, ``iterable`` None) or ``for`` (``iterable`` set)."""

    inits: list[Operand]
    body: Block
    outs: list[Value]
    header: Block | None = None
    iterable: Operand | None = None
    line: int | None = None
    id: int = 0


@dataclass(slots=True, eq=False)
class Function:
    name: str
    params: list[Value]
    body: Block
    filename: str
    firstlineno: int
    signature: Any = None  # the ast.arguments of the source definition
    freevars: tuple[str, ...] = ()
    globals_resolved: dict = field(default_factory=dict)


# ---- traversal ----


def operands(stmt) -> list[Operand]:
    if isinstance(stmt, Op):
        ops = list(stmt.args) + list(stmt.kwargs.values())
        if stmt.kind == "call":
            ops.insert(0, stmt.fn)
        return ops
    if isinstance(stmt, If):
        return [stmt.cond]
    if isinstance(stmt, Loop):
        return list(stmt.inits) + ([stmt.iterable] if stmt.iterable is not None else [])
    if isinstance(stmt, Term):
        return list(stmt.values)
    return []


def blocks_of(stmt) -> list[Block]:
    if isinstance(stmt, If):
        return [stmt.then, stmt.orelse]
    if isinstance(stmt, Loop):
        return [b for b in (stmt.header, stmt.body) if b is not None]
    return []


def defs_of(stmt) -> list[Value]:
    return list(stmt.outs) if isinstance(stmt, (Op, If, Loop)) else []


def walk(block: Block):
    """Yield (block, stmt) for every statement and terminator, nested ones included."""
    for s in block.stmts:
        yield block, s
        for b in blocks_of(s):
            yield from walk(b)
    if block.term is not None:
        yield block, block.term


def uses(block: Block) -> dict[int, int]:
    """Number of uses of each value id in ``block`` and below."""
    count: dict[int, int] = {}
    for _, s in walk(block):
        for o in operands(s):
            if isinstance(o, Value):
                count[o.id] = count.get(o.id, 0) + 1
    return count


# ---- printing ----


def _fmt(o: Operand) -> str:
    return repr(o)


def _fmt_op(s: Op) -> str:
    outs = ", ".join(map(repr, s.outs))
    args = [_fmt(a) for a in s.args] + [f"{k}={_fmt(v)}" for k, v in s.kwargs.items()]
    if s.kind == "call":
        head = f"{_fmt(s.fn)}({', '.join(args)})"
        if s.fn and isinstance(s.fn, Const) and hasattr(s.fn.value, "__name__"):
            head = f"{s.fn.value.__name__}({', '.join(args)})"
    elif s.kind in ("global", "free"):
        head = f"{s.kind} {s.fn}"
    elif s.kind in ("attr", "method"):
        head = f"{s.kind} {s.fn}({', '.join(args)})"
    elif s.kind == "closure":
        head = f"closure {s.fn.co_name}({', '.join(args)})"
    elif s.kind == "dict":
        head = "dict(" + ", ".join(f"{k!r}: {_fmt(v)}" for k, v in zip(s.fn, s.args)) + ")"
    else:
        head = f"{s.kind}({', '.join(args)})"
    return f"{outs} = {head}" if outs else head


def _comment(values, line, note=None) -> str:
    if note is None:
        names = [v.name for v in values if v.name]
    else:  # every value, with what ``note`` says of it (its kind, its activity)
        names = [f"{v.name or repr(v)}: {note(v)}" for v in values]
    parts = []
    if names:
        parts.append(", ".join(names))
    if line:
        parts.append(f"line {line}")
    return ("    # " + "    ".join(parts)) if parts else ""


def format_function(fn: Function, note=None) -> str:
    """``fn`` as text; ``note(value)``, when given, is written beside every value defined
    (`wengert.ir.activity.show_kinds`: its kind and whether it is active)."""
    lines: list[str] = []
    head = f"{fn.name}({', '.join(map(repr, fn.params))})"
    lines.append(head + _comment(fn.params, fn.firstlineno, note))
    _format_block(fn.body, lines, 1, "", note)
    return "\n".join(lines) + "\n"


def _format_block(block: Block, lines: list[str], depth: int, label: str, note=None) -> None:
    pad = "  " * depth
    if label:
        args = f" ({', '.join(map(repr, block.args))})" if block.args else ""
        lines.append(f"{pad[:-2]}{label}:{args}" + _comment(block.args, None, note))
    for s in block.stmts:
        if isinstance(s, Op):
            lines.append(pad + _fmt_op(s) + _comment(s.outs, s.line, note))
        elif isinstance(s, If):
            outs = ", ".join(map(repr, s.outs))
            lines.append(f"{pad}{outs + ' = ' if outs else ''}if {_fmt(s.cond)}" + _comment(s.outs, s.line, note))
            _format_block(s.then, lines, depth + 2, "then", note)
            _format_block(s.orelse, lines, depth + 2, "else", note)
        elif isinstance(s, Loop):
            outs = ", ".join(map(repr, s.outs))
            inits = ", ".join(map(_fmt, s.inits))
            kind = "while" if s.header is not None else f"for {_fmt(s.iterable)}"
            lines.append(f"{pad}{outs + ' = ' if outs else ''}{kind} ({inits})" + _comment(s.outs, s.line, note))
            if s.header is not None:
                _format_block(s.header, lines, depth + 2, "header", note)
            _format_block(s.body, lines, depth + 2, "body", note)
    t = block.term
    if t is not None:
        vals = ", ".join(map(_fmt, t.values))
        lines.append(f"{pad}{t.kind} {vals}".rstrip())


# ---- verification ----


class VerifyError(Exception):
    pass


def verify(fn: Function) -> None:
    """Check SSA form: single definitions, uses dominated by definitions, terminators."""
    defined: set[int] = set()

    def define(v: Value) -> None:
        if v.id in defined:
            raise VerifyError(f"{v!r} defined twice")
        defined.add(v.id)

    def check_block(block: Block, scope: set[int], where: str) -> None:
        local = set(scope)
        for a in block.args:
            define(a)
            local.add(a.id)
        for s in block.stmts:
            for o in operands(s):
                if isinstance(o, Value) and o.id not in local:
                    raise VerifyError(f"{o!r} used before definition in {where}")
            if isinstance(s, If):
                check_block(s.then, local, where + "/then")
                check_block(s.orelse, local, where + "/else")
                for b, n in ((s.then, "then"), (s.orelse, "else")):
                    if b.term is None:
                        raise VerifyError(f"{where}/{n}: missing terminator")
                    if b.term.kind == "yield" and len(b.term.values) != len(s.outs):
                        raise VerifyError(f"{where}/{n}: yields {len(b.term.values)} for {len(s.outs)} outs")
            elif isinstance(s, Loop):
                n = len(s.inits)
                if s.header is not None:
                    if len(s.header.args) != n or s.header.term is None or s.header.term.kind != "cond":
                        raise VerifyError(f"{where}: malformed while header")
                    check_block(s.header, local, where + "/header")
                    if len(s.body.args) != n:
                        raise VerifyError(f"{where}: body takes {len(s.body.args)} for {n} carried")
                elif len(s.body.args) != n + 1:
                    raise VerifyError(f"{where}: for body takes {len(s.body.args)} for {n} carried + item")
                check_block(s.body, local, where + "/body")
                if len(s.outs) != n:
                    raise VerifyError(f"{where}: loop has {len(s.outs)} outs for {n} carried")
            elif not isinstance(s, Op):
                raise VerifyError(f"{where}: unknown statement {s!r}")
            for v in defs_of(s):
                define(v)
                local.add(v.id)
        t = block.term
        if t is None:
            raise VerifyError(f"{where}: missing terminator")
        for o in t.values:
            if isinstance(o, Value) and o.id not in local:
                raise VerifyError(f"{o!r} used before definition in {where} terminator")

    for p in fn.params:
        define(p)
    check_block(fn.body, {p.id for p in fn.params}, fn.name)
    if fn.body.term is None or fn.body.term.kind != "return":
        raise VerifyError("top block must end in return")


# ---- dead code ----

_PURE = frozenset({"global", "free", "tuple", "list", "dict", "unpack", "closure", "newlist"})


def prune(fn: Function) -> None:
    """Drop unused pure ops, unused If results and loop-carried values nobody reads."""
    changed = True
    while changed:
        count = uses(fn.body)
        changed = _prune_block(fn.body, count)


def _prune_block(block: Block, count) -> bool:
    changed = False
    keep = []
    for s in block.stmts:
        for b in blocks_of(s):
            changed |= _prune_block(b, count)
        if isinstance(s, Op) and s.kind in _PURE and s.outs and all(count.get(o.id, 0) == 0 for o in s.outs):
            if s.kind != "newlist":
                changed = True
                continue
        if isinstance(s, If):
            dead = [i for i, o in enumerate(s.outs) if count.get(o.id, 0) == 0]
            if dead:
                changed = True
                s.outs = [o for i, o in enumerate(s.outs) if i not in dead]
                for b in (s.then, s.orelse):
                    if b.term is not None and b.term.kind == "yield":
                        b.term.values = [v for i, v in enumerate(b.term.values) if i not in dead]
        if isinstance(s, Loop):
            changed |= _prune_loop(s, count)
        keep.append(s)
    block.stmts = keep
    return changed


def loop_terms(block: Block):
    """break/continue terminators that belong to the loop whose body is ``block``."""
    for s in block.stmts:
        if isinstance(s, If):
            yield from loop_terms(s.then)
            yield from loop_terms(s.orelse)
    if block.term is not None and block.term.kind in ("break", "continue"):
        yield block.term


def _prune_loop(loop: Loop, count) -> bool:
    terms = list(loop_terms(loop.body))
    off = 0 if loop.iterable is None else 1
    dead = []
    for i, out in enumerate(loop.outs):
        if count.get(out.id, 0):
            continue
        arg = loop.body.args[off + i]
        self_uses = sum(1 for t in terms if t.values[i] is arg)
        if count.get(arg.id, 0) != self_uses:
            continue
        if loop.header is not None and count.get(loop.header.args[i].id, 0):
            continue
        dead.append(i)
    if not dead:
        return False
    keep = [i for i in range(len(loop.outs)) if i not in dead]
    loop.inits = [loop.inits[i] for i in keep]
    loop.outs = [loop.outs[i] for i in keep]
    loop.body.args = loop.body.args[:off] + [loop.body.args[off + i] for i in keep]
    if loop.header is not None:
        loop.header.args = [loop.header.args[i] for i in keep]
    for t in terms:
        t.values = [t.values[i] for i in keep]
    return True


# ---- constants the frontend puts in the IR ----


class _Undefined:
    """Value of a variable read before it is assigned (Python raises UnboundLocalError)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = _Undefined()


class _Self:
    def __repr__(self) -> str:
        return "SELF"


SELF = _Self()
