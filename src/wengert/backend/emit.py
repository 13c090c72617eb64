"""IR -> Python source of the forward pass, naming, compiling and caching.

`Generator` turns a function's IR into one Python function, ``<f>_pullback``:
the forward pass (the primal program, plus pushes of what the adjoint needs),
then a nested ``<f>_back`` holding the adjoint (written by `reverse`). A fused
variant ``<f>_grad`` runs both in one call, for ``grad``.

Naming (Python variables from SSA values): values that Python would keep in
one variable do so here too. Values linked by control flow — a loop's
initial, carried and final values, the values yielded by a branch — share a
name whenever their live ranges do not overlap, and any two values may share
a name when neither is live where the other is defined. So
``r = r * x`` in a loop comes out as ``r = r * x``, not ``r_2 = r_1 * x``.
A value the adjoint reads outside every loop stays live to the end.

Generated source is registered with `linecache` under a name that carries
the user's file, and each statement carries ``# line N`` of the user's
source, so tracebacks point back to the user's code.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import linecache
import operator
import re
import textwrap
import threading
import types
import warnings

from wengert import ir
from wengert.ir.core import SELF, UNDEFINED

INFIX = {
    operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
    operator.floordiv: "//", operator.mod: "%", operator.pow: "**", operator.matmul: "@",
    operator.lt: "<", operator.le: "<=", operator.gt: ">", operator.ge: ">=",
    operator.eq: "==", operator.ne: "!=", operator.is_: "is", operator.is_not: "is not",
    operator.and_: "&", operator.or_: "|", operator.xor: "^", operator.lshift: "<<",
    operator.rshift: ">>",
}
INPLACE = {
    operator.iadd: "+", operator.isub: "-", operator.imul: "*", operator.itruediv: "/",
    operator.ifloordiv: "//", operator.imod: "%", operator.ipow: "**", operator.imatmul: "@",
}
PREFIX = {operator.neg: "-", operator.pos: "+", operator.not_: "not ", operator.invert: "~"}
INF = float("inf")


class Namer:
    def __init__(self, reserved):
        self.used = set(reserved) | set(keyword.kwlist)

    def fresh(self, base: str) -> str:
        base = base or "_t"
        if base not in self.used:
            self.used.add(base)
            return base
        i = 1
        while f"{base}_{i}" in self.used:
            i += 1
        name = f"{base}_{i}"
        self.used.add(name)
        return name


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, a):
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


class Layout:
    """Positions, loop depths, defining blocks and live ranges of every value."""

    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.pos = 0
        self.defpos: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.depth: dict[int, int] = {}      # value id -> loop depth of its definition
        self.block_of: dict[int, ir.Block] = {}
        self.values: dict[int, ir.Value] = {}
        self.loop_of_block: dict[int, ir.Loop] = {}
        self.parent_block: dict[int, ir.Block] = {}   # block id -> enclosing block
        self.pending: dict[int, list[int]] = {}
        self.stmt_pos: dict[int, int] = {}      # id(stmt) -> position (loops, Ifs: their end)
        self.block_depth: dict[int, int] = {fn.body.id: 0}
        self.stmt_block: dict[int, ir.Block] = {}
        for p in fn.params:
            self._def(p, fn.body, 0)
        self._block(fn.body, 0, [])

    def _def(self, v, block, depth, pos=None):
        self.values[v.id] = v
        self.defpos[v.id] = self.pos if pos is None else pos
        self.last.setdefault(v.id, self.defpos[v.id])
        self.depth[v.id] = depth
        self.block_of[v.id] = block

    def _use(self, o, loops):
        if isinstance(o, ir.Value):
            self.last[o.id] = max(self.last.get(o.id, 0), self.pos)
            # a value from outside a loop, used inside it, is live to that loop's end
            for start, loop in reversed(loops):
                if self.defpos.get(o.id, -1) < start:
                    self.pending[id(loop)].append(o.id)
                    break

    def _block(self, block, depth, loops):
        self.block_depth[block.id] = depth
        for a in block.args:
            self._def(a, block, depth)
        for s in block.stmts:
            self.pos += 1
            self.stmt_block[id(s)] = block
            for o in ir.operands(s):
                self._use(o, loops)
            if isinstance(s, ir.If):
                for b in (s.then, s.orelse):
                    self.parent_block[b.id] = block
                    self._block(b, depth, loops)
                self.pos += 1
                self.stmt_pos[id(s)] = self.pos
                for o in s.outs:
                    self._def(o, block, depth)
            elif isinstance(s, ir.Loop):
                start = self.pos
                inner = [(start, s)] + loops
                self.pending[id(s)] = []
                for b in (s.header, s.body):
                    if b is not None:
                        self.parent_block[b.id] = block
                        self.loop_of_block[b.id] = s
                        self.pos += 1
                        self._block(b, depth + 1, inner)
                self.pos += 1
                end = self.pos
                for vid in self.pending.pop(id(s)):
                    if self.last.get(vid, 0) < end:
                        self.last[vid] = end
                self.stmt_pos[id(s)] = end
                for o in s.outs:
                    self._def(o, block, depth)
            else:
                self.stmt_pos[id(s)] = self.pos
                for o in ir.defs_of(s):
                    self._def(o, block, depth)
        if block.term is not None:
            self.pos += 1
            for o in block.term.values:
                self._use(o, loops)

    def interferes(self, a: int, b: int) -> bool:
        da, db = self.defpos[a], self.defpos[b]
        if da == db:
            return True
        if da < db:
            return db < self.last[a]
        return da < self.last[b]


def assign_names(fn: ir.Function, layout: Layout, reserved: set[str], keep_live: set[int],
                 kind=None) -> dict[int, str]:
    """Python names for all values (see the module docstring).

    ``kind(value_id)``, when given, keeps values of different kinds (float cotangents
    against others) out of one linked group: they would share a cotangent variable
    with two different zeros.
    """
    for vid in keep_live:
        if layout.depth.get(vid, 0) == 0:
            layout.last[vid] = INF
    uf = _UnionFind()
    for vid in layout.values:
        uf.find(vid)
    members: dict[int, list[int]] = {vid: [vid] for vid in layout.values}

    def try_union(a: int, b: int, force: bool = False) -> bool:
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            return True
        if not force and any(layout.interferes(x, y) for x in members[ra] for y in members[rb]):
            return False
        if not force and kind is not None and {kind(x) for x in members[ra]} != {kind(y) for y in members[rb]}:
            return False
        uf.union(ra, rb)
        members[ra] = members[ra] + members.pop(rb)
        return True

    def carried(block: ir.Block):
        # a loop's final, carried and header values are one Python variable: joined
        # first, so that every optional join below is checked against whole groups
        for s in block.stmts:
            for b in ir.blocks_of(s):
                carried(b)
            if isinstance(s, ir.Loop):
                off = 1 if s.iterable is not None else 0
                for i, out in enumerate(s.outs):
                    group = [out.id, s.body.args[off + i].id]
                    if s.header is not None:
                        group.append(s.header.args[i].id)
                    for g in group[1:]:
                        try_union(group[0], g, force=True)

    def visit(block: ir.Block):
        for s in block.stmts:
            for b in ir.blocks_of(s):
                visit(b)
            if isinstance(s, ir.Loop):
                for i, out in enumerate(s.outs):
                    for t in ir.loop_terms(s.body):
                        v = t.values[i]
                        if isinstance(v, ir.Value) and _defined_inside(layout, v, s):
                            try_union(out.id, v.id)
                    init = s.inits[i]
                    if isinstance(init, ir.Value):
                        try_union(out.id, init.id)
            elif isinstance(s, ir.If):
                for i, out in enumerate(s.outs):
                    for b in (s.then, s.orelse):
                        if b.term is not None and b.term.kind == "yield":
                            v = b.term.values[i]
                            if isinstance(v, ir.Value):
                                try_union(out.id, v.id)

    carried(fn.body)
    visit(fn.body)
    # names: parameters keep theirs; other groups take the user's name when free
    namer_used: dict[str, list[int]] = {}
    names: dict[int, str] = {}
    roots = sorted({uf.find(v) for v in layout.values}, key=lambda r: min(layout.defpos[m] for m in members[r]))
    param_ids = {p.id for p in fn.params}

    def base_of(root):
        ms = sorted(members[root], key=lambda m: layout.defpos[m])
        for m in ms:
            if m in param_ids:
                return layout.values[m].name, True
        for m in ms:
            if layout.values[m].name:
                return _ident(layout.values[m].name), False
        return "_t", False

    for root in sorted(roots, key=lambda r: (not any(m in param_ids for m in members[r]),)):
        base, is_param = base_of(root)
        cands = [base] if is_param else [base] + [f"{base}_{i}" for i in range(1, 1000)]
        if base == "_t":
            cands = [f"_t{min(members[root])}"] + cands[1:]
        for c in cands:
            if c in reserved or keyword.iskeyword(c) or not is_param and c in _BUILTIN_NAMES:
                continue
            others = namer_used.get(c, [])
            if is_param or not any(layout.interferes(x, y) for x in members[root] for o in others
                                   for y in members[o]):
                namer_used.setdefault(c, []).append(root)
                for m in members[root]:
                    names[m] = c
                break
    return names


# generated code calls builtins by name (`reversed`, `range`, `len`, `zip`, ...): a user's
# variable of that name takes another (`reversed_1`) so it cannot shadow them
_BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))



def write_if(out: list, pad: str, head: str, then, orelse) -> int:
    """An ``if`` statement's text: ``head`` (``if c:``), the lines ``then()`` appends (``pass``
    when none), then ``else:`` and the lines ``orelse()`` appends, the ``else:`` dropped when
    there are none. Returns the index of ``head`` in ``out``."""
    out.append(head)
    n0 = len(out)
    then()
    if len(out) == n0:
        out.append(pad + "    pass")
    m0 = len(out)
    out.append(f"{pad}else:")
    orelse()
    if len(out) == m0 + 1:
        out.pop()
    return n0 - 1

def _ident(name: str) -> str:
    return name if name.isidentifier() else "_t"



def _defined_inside(layout: Layout, v: ir.Value, loop: ir.Loop) -> bool:
    b = layout.block_of.get(v.id)
    while b is not None:
        if layout.loop_of_block.get(b.id) is loop:
            return True
        b = layout.parent_block.get(b.id)
    return False


def expr_of_call(fn_obj, fn_expr: str, args: list[str], kwargs: dict[str, str]) -> str:
    """Python source for a call, with operators written infix."""
    if not kwargs:
        if fn_obj in INFIX and len(args) == 2:
            return f"{args[0]} {INFIX[fn_obj]} {args[1]}"
        if fn_obj in INPLACE and len(args) == 2:
            return f"{args[0]} {INPLACE[fn_obj]} {args[1]}"
        if fn_obj in PREFIX and len(args) == 1:
            return f"{PREFIX[fn_obj]}{args[0]}"
        if fn_obj is operator.getitem and len(args) == 2:
            return f"{args[0]}[{args[1]}]"
        if fn_obj is operator.contains and len(args) == 2:
            return f"{args[1]} in {args[0]}"
    parts = list(args) + [f"{k}={v}" for k, v in kwargs.items()]
    return f"{fn_expr}({', '.join(parts)})"


def same_code(a: list[str], b: list[str], live) -> bool:
    """Do the statement lines ``a`` and ``b`` do the same thing? Equal text, or equal up
    to the names of their own temporaries: a name whose first use in a block is a plain
    assignment at its top level, not among the names ``live`` after it. (Run in place of
    the other, each block then assigns its temporaries under other names; nothing reads
    them afterwards.)"""
    if a == b:
        return True
    if len(a) != len(b):
        return False
    try:
        ta, tb = (ast.parse(textwrap.dedent("\n".join(x))) for x in (a, b))
    except SyntaxError:
        return False
    return _canonical(ta, live) == _canonical(tb, live)


def _canonical(tree: ast.Module, live) -> str:
    seen: set[str] = set()
    local: dict[str, str] = {}

    def read(node):
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                seen.add(n.id)

    for st in tree.body:
        if isinstance(st, ast.Assign):
            read(st.value)
            for t in st.targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in seen \
                            and n.id not in live:
                        local[n.id] = f"@{len(local)}"  # no identifier: cannot meet a real name
                    if isinstance(n, ast.Name):
                        seen.add(n.id)
        else:
            read(st)

    class Rename(ast.NodeTransformer):
        def visit_Name(self, n):
            return ast.copy_location(ast.Name(local.get(n.id, n.id), n.ctx), n)

    return ast.unparse(Rename().visit(tree))


def _mentions(expr: str, name: str) -> bool:
    """Does source ``expr`` use the variable ``name``?"""
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", expr) is not None


def _tuple(items) -> str:
    """Source of a tuple display of the expressions ``items``."""
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _dict(kwargs) -> str:
    """Source of a dict display of ``kwargs`` (name -> expression), or ``None``."""
    if not kwargs:
        return "None"
    return "{" + ", ".join(f"{k!r}: {v}" for k, v in kwargs.items()) + "}"


def literal(v) -> str | None:
    """Source for a constant, or None when it must be passed as a helper."""
    if v is None or isinstance(v, (bool, int, str, bytes)):
        return repr(v)
    if isinstance(v, float):
        r = repr(v)
        return r if r not in ("inf", "-inf", "nan") else None
    if isinstance(v, slice) and all(literal(p) is not None for p in (v.start, v.stop, v.step)):
        return f"slice({literal(v.start)}, {literal(v.stop)}, {literal(v.step)})"
    if isinstance(v, tuple) and all(literal(p) is not None for p in v):
        inner = ", ".join(literal(p) for p in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return None


class HelperNames:
    """Objects the generated code needs, bound as closure variables under readable names.

    Users set ``helpers`` (name -> object), ``helper_ids`` (id -> name) and ``namer``.
    """

    def helper(self, base: str, obj) -> str:
        key = id(obj)
        if key in self.helper_ids and self.helpers.get(self.helper_ids[key]) is obj:
            return self.helper_ids[key]
        base = base if base.isidentifier() else "_h"
        if base in self.helpers and self.helpers[base] is obj:
            return base
        fn = getattr(self, "fn", None)
        if fn is not None and getattr(fn, "globals_resolved", {}).get(base) is obj and base not in self.helpers:
            return base  # the user's own global, already guarded to be this object (`math`, `np`)
        if base not in self.helpers and self._local_import(base, obj):
            return base  # the user's own `import numpy as np` inside the function
        name = self.namer.fresh(base)
        self.helpers[name] = obj
        self.helper_ids[key] = name
        return name

    def bound(self, v: ir.Value) -> bool:
        """Has the top-level statement defining ``v`` run where the code now being written
        runs? (In the adjoint pass, every one has: it runs after the whole forward pass.)"""
        return False

    def _local_import(self, base: str, obj) -> bool:
        """Is ``base`` the user's own name for module ``obj``, imported inside the function
        (``import numpy as np``) at its top level, and the only value with that name?"""
        if not isinstance(obj, types.ModuleType):
            return False
        from wengert.rules.builtins import import_name

        fn = self.fn
        found = [s for s in fn.body.stmts if isinstance(s, ir.Op) and s.kind == "call" and len(s.outs) == 1
                 and isinstance(s.fn, ir.Const) and s.fn.value is import_name
                 and self.names.get(s.outs[0].id) == base]
        return (len(found) == 1 and found[0].outs[0].static is obj and self.bound(found[0].outs[0])
                and [vid for vid, n in self.names.items() if n == base] == [found[0].outs[0].id])

    def const_expr(self, v) -> str:
        """Source for constant ``v``: a literal, or the name of a helper holding it."""
        lit = literal(v)
        if lit is not None:
            return lit
        if v is UNDEFINED:
            return self.helper("UNDEFINED", v)
        if v is SELF:
            return self.helper("SELF", v)
        return self.helper(getattr(v, "__name__", "_c"), v)


def compile_source(src: str, name: str, filename: str, helpers: dict, globals_: dict):
    """Compile generated source defining ``name`` with ``helpers`` as closure variables.
    Its file name is ``<wengert NAME from FILE>``, numbered (``NAME#2``) where another
    source was compiled under that name before (``f``'s gradient for other argument kinds,
    a nested function's of the same name): the frontend reads generated code back by its
    file name (forward over reverse), so one name must never stand for two sources."""
    params = ", ".join(helpers)
    factory = f"def _wengert_factory({params}):\n" + _indent(src, 1) + f"    return {name}\n"
    lines = factory.splitlines(keepends=True)
    with _NAMES_LOCK:
        fake, k = f"<wengert {name} from {filename}>", 1
        while _SOURCES.get(fake, factory) != factory:
            k += 1
            fake = f"<wengert {name}#{k} from {filename}>"
        _SOURCES[fake] = factory
        linecache.cache[fake] = (len(factory), None, lines, fake)
        LINE_MAPS[fake] = (filename, _line_map(lines))
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # inlined rules may test literals (`2 is None`)
        code = compile(factory, fake, "exec")
    exec(code, globals_, ns)
    return ns["_wengert_factory"](*helpers.values()), src


LINE_MAPS: dict = {}  # generated file name -> (user file, {generated line: user line})
_SOURCES: dict = {}  # generated file name -> the source compiled under it
_NAMES_LOCK = threading.Lock()


def _line_map(lines) -> dict:
    """Each generated line's user line: the nearest ``# line N`` comment above it at the
    same or a smaller indentation."""
    import re

    out = {}
    stack: list[tuple[int, int]] = []  # (indent, user line)
    for i, text in enumerate(lines, 1):
        indent = len(text) - len(text.lstrip())
        while stack and stack[-1][0] > indent:
            stack.pop()
        m = re.search(r"# line (\d+)\s*$", text)
        if m:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, int(m.group(1))))
        if stack:
            out[i] = stack[-1][1]
    return out


def user_location(tb):
    """The innermost frame of generated code in traceback ``tb``, as (user file, line)."""
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        entry = LINE_MAPS.get(name)
        if entry is not None:
            line = entry[1].get(tb.tb_lineno)
            if line is not None:
                found = (entry[0], line)
        tb = tb.tb_next
    return found


def _indent(src: str, n: int) -> str:
    pad = "    " * n
    return "".join(pad + line if line.strip() else line for line in src.splitlines(keepends=True))


__all__ = ["HelperNames", "Layout", "Namer", "assign_names", "compile_source", "expr_of_call", "literal",
           "same_code"]
