"""Unit tests of naming (`wengert.backend.emit`: `Namer`, `Layout`, `assign_names`) and of
the names in generated source.

SSA values become Python variables: values Python would keep in one variable share it
(``r = r * x`` in a loop stays ``r``), two values share a name only where their live
ranges do not overlap, and no name takes a keyword, a builtin the generated code calls
or a helper's name. Checked on the IR (live ranges from `Layout`), on the generated
source (parsed), and by running the generated gradient against central differences.
"""

import ast
import builtins
import keyword
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wengert
from wengert import ir
from wengert.backend.emit import Layout, Namer, assign_names
from wengert.frontend.lower import lower


# ---- Namer ----


def test_namer_gives_the_base_then_numbered_names():
    n = Namer({"r"})
    assert [n.fresh("r"), n.fresh("r"), n.fresh("x"), n.fresh("x")] == ["r_1", "r_2", "x", "x_1"]


def test_namer_never_gives_a_keyword_or_a_reserved_name():
    n = Namer({"accum", "accum_1"})
    assert n.fresh("accum") == "accum_2"
    for kw in ("if", "for", "lambda", "None", "True", "return"):
        got = n.fresh(kw)
        assert got != kw and not keyword.iskeyword(got) and got.isidentifier()
    assert n.fresh("") == "_t" and n.fresh(None) == "_t_1"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["r", "x", "x_1", "if", "_t", "r_1", "saved"]), max_size=30),
       st.sets(st.sampled_from(["r", "x_1", "saved", "zip"])))
def test_namer_names_are_all_distinct(bases, reserved):
    n = Namer(reserved)
    names = [n.fresh(b) for b in bases]
    assert len(set(names)) == len(names)
    assert not set(names) & reserved
    assert not any(keyword.iskeyword(x) for x in names)


# ---- assign_names on the IR ----

def pow_(x, n):
    r = 1.0
    while n > 0:
        n -= 1
        r *= x
    return r


def fib_like(x, n):
    a = 0.0
    b = x
    for i in range(n):
        a, b = b, a + b * x
    return a + b


def branches(x, y):
    if x > y:
        z = x * 2.0
        w = y
    else:
        z = y * 3.0
        w = x
    t = z * w
    u = t + z
    return u * w


def shadowing(x):
    y = x * 2.0
    z = y + 1.0
    y = z * z  # a new value, the old y is dead: it may take the name again
    return y + x


SAMPLES = [pow_, fib_like, branches, shadowing]


def names_of(fn):
    f_ir = lower(fn)
    layout = Layout(f_ir)
    names = assign_names(f_ir, layout, set(), set())
    return f_ir, Layout(f_ir), names


def loop_groups(f_ir):
    """The values each loop index ties together: final, carried (body and header)."""
    out = []
    for _, s in ir.walk(f_ir.body):
        if isinstance(s, ir.Loop):
            off = 1 if s.iterable is not None else 0
            for i, o in enumerate(s.outs):
                g = {o.id, s.body.args[off + i].id}
                if s.header is not None:
                    g.add(s.header.args[i].id)
                out.append(g)
    return out


def test_loop_carried_value_keeps_the_users_name():
    f_ir, _, names = names_of(pow_)
    (loop,) = [s for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Loop)]
    r_values = [loop.outs[1], loop.body.args[1], loop.header.args[1], loop.inits[1]]
    imul = [s for _, s in ir.walk(loop.body) if isinstance(s, ir.Op) and s.outs and s.outs[0].name == "r"]
    r_values += [imul[0].outs[0]]
    assert {names[v.id] for v in r_values if isinstance(v, ir.Value)} == {"r"}
    assert names[f_ir.params[0].id] == "x" and names[f_ir.params[1].id] == "n"
    assert names[loop.outs[0].id] == names[loop.body.args[0].id] == "n"  # n -= 1 stays n


@pytest.mark.parametrize("fn", SAMPLES, ids=lambda f: f.__name__)
def test_values_share_a_name_only_when_their_live_ranges_do_not_overlap(fn):
    f_ir, layout, names = names_of(fn)
    groups = loop_groups(f_ir)
    by_name = {}
    for vid, name in names.items():
        by_name.setdefault(name, []).append(vid)
    shared = 0
    for vids in by_name.values():
        for i, a in enumerate(vids):
            for b in vids[i + 1:]:
                if any(a in g and b in g for g in groups):
                    continue  # one loop variable: its final, carried and header values
                shared += 1
                assert not layout.interferes(a, b), (names[a], a, b)
    if fn in (branches, shadowing):
        assert shared > 0  # the test checks something: some names are shared


def test_parameters_keep_their_names_and_each_value_gets_one():
    f_ir, layout, names = names_of(branches)
    assert set(names) == set(layout.values)
    assert [names[p.id] for p in f_ir.params] == ["x", "y"]
    assert not any(keyword.iskeyword(n) or not n.isidentifier() for n in names.values())


def test_reserved_names_are_never_given():
    f_ir = lower(shadowing)
    layout = Layout(f_ir)
    names = assign_names(f_ir, layout, {"y", "z"}, set())
    assert not {"y", "z"} & set(names.values())
    assert names[f_ir.params[0].id] == "x"


def test_value_kept_live_for_the_adjoint_does_not_share_its_name():
    f_ir = lower(shadowing)
    (first_y,) = [s.outs[0] for _, s in ir.walk(f_ir.body) if isinstance(s, ir.Op) and s.outs
                  and s.outs[0].name == "y" and s.args[0] is f_ir.params[0]]
    free = assign_names(f_ir, Layout(f_ir), set(), set())
    kept = assign_names(f_ir, Layout(f_ir), set(), {first_y.id})
    assert list(free.values()).count(free[first_y.id]) > 1  # dead after z: its name is reused
    assert list(kept.values()).count(kept[first_y.id]) == 1  # live to the end: its own name


# ---- names in the generated source ----

class _Scopes(ast.NodeVisitor):
    """Per generated function: the names it assigns and the builtins it calls."""

    def __init__(self):
        self.scopes = []

    def visit_FunctionDef(self, node):
        stores, calls = set(), set()
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                stores.add(n.id)
            elif isinstance(n, ast.arg):
                stores.add(n.arg)
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and hasattr(builtins, n.func.id):
                calls.add(n.func.id)
        self.scopes.append((node.name, stores, calls))
        self.generic_visit(node)


def check_source(src: str):
    tree = ast.parse(src)  # a keyword as a name would not parse
    v = _Scopes()
    v.visit(tree)
    assert v.scopes
    for name, stores, calls in v.scopes:
        assert not stores & calls, f"{name} assigns a builtin it calls: {sorted(stores & calls)}"
    return tree


@pytest.mark.parametrize("fused", [True, False])
def test_pow_adjoint_reads_like_the_hand_written_one(fused):
    src = wengert.show_adjoint(pow_, 1.5, 3, fused=fused)
    tree = check_source(src)
    lines = [ln.split("#")[0].strip() for ln in src.splitlines()]
    assert "r = r * x" in lines  # the loop-carried value keeps the user's name
    assert "n = n - 1" in lines
    stores = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    assert "x_bar" in stores and "r_bar" in stores


def helper_names(x, n):
    accum = 1.0
    r_stack = 2.0
    call_pullback = 0.0
    saved = x
    _pass = 0.5
    for i in range(n):
        unbroadcast = accum * x
        accum = unbroadcast + _pass * math.sin(x)
        r_stack = r_stack * accum
        call_pullback = call_pullback + r_stack * saved
    return call_pullback + accum


def builtin_names(x, n):
    r = 1.0
    for i in range(n):
        reversed = r * x  # the user's variable named like the builtin the adjoint loop calls
        r = reversed + x
    return r


def fd(f, x, *rest, h=1e-6):
    return (f(x + h, *rest) - f(x - h, *rest)) / (2 * h)


@settings(max_examples=25, deadline=None)
@given(st.floats(-1.5, 1.5), st.integers(0, 4))
def test_user_names_like_helpers_are_renamed_and_the_gradient_is_right(x, n):
    check_source(wengert.show_adjoint(helper_names, x, n, fused=False))
    check_source(wengert.show_adjoint(helper_names, x, n, fused=True))
    assert wengert.grad(helper_names)(x, n) == pytest.approx(fd(helper_names, x, n), rel=1e-5, abs=1e-6)


def test_user_variable_named_like_a_builtin_the_adjoint_calls():
    assert wengert.grad(builtin_names)(0.7, 3) == pytest.approx(fd(builtin_names, 0.7, 3), rel=1e-6)
    check_source(wengert.show_adjoint(builtin_names, 0.7, 3))


@settings(max_examples=25, deadline=None)
@given(st.floats(-2, 2), st.floats(-2, 2))
def test_branch_names_in_generated_code_give_the_right_gradient(x, y):
    if abs(x - y) < 1e-3:
        return  # the kink of the branch: finite differences straddle it
    check_source(wengert.show_adjoint(branches, x, y))
    gx, gy = wengert.grad(branches, argnums=(0, 1))(x, y)
    assert gx == pytest.approx(fd(lambda a: branches(a, y), x), rel=1e-5, abs=1e-6)
    assert gy == pytest.approx(fd(lambda b: branches(x, b), y), rel=1e-5, abs=1e-6)
