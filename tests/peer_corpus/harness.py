"""The peer corpus's harness: a registry of programs, and one judge for each.

A program is a small function and its arguments, registered with ``@case(*args, wrt=...)``
(stack the decorator for several argument sets). ``wrt`` names the argument positions
differentiated (default: every argument that holds a float). Arguments are deep-copied
before every evaluation, since some programs mutate what they are handed.

``judge(c)`` differentiates the program with wengert and compares with float64 central
differences of ``<dy, f(args)>`` (``dy = 1`` for a scalar output, a fixed random
cotangent otherwise, given to ``wengert.pullback``), leaf by leaf, through lists, tuples,
dicts, objects and arrays. It returns ``(outcome, detail)`` with outcome one of
``pass``, ``wrong``, ``refused`` (``UnsupportedError``) or ``crash`` (any other exception).
"""

import copy
import dataclasses
import numpy as np

import wengert
from wengert import UnsupportedError


@dataclasses.dataclass
class Case:
    source: str          # which peer suite: zygote_gradcheck, autograd_tests, ...
    name: str            # unique id: <source>.<function>[#k]
    f: object
    args: tuple
    wrt: tuple
    tol: float = 1e-4     # |wengert - fd| <= tol * max(1, |fd|)


def registry(source):
    """Return ``(CASES, case)``: the module's list and its decorator."""
    cases = []

    def case(*args, wrt=None, tol=1e-4, name=None):
        def deco(f):
            base = f"{source}.{name or f.__name__}"
            k = sum(1 for c in cases if c.name.split("#")[0] == base)
            nm = base if k == 0 else f"{base}#{k}"
            w = tuple(i for i, a in enumerate(args) if _has_float(a)) if wrt is None else tuple(wrt)
            cases.append(Case(source, nm, f, args, w, tol))
            return f
        return deco
    return cases, case


def _has_float(a):
    return bool(_leaves(a))


def _is_float(v):
    return isinstance(v, (float, np.floating))


def _leaves(a, path=()):
    """(path, value) for every float leaf of a structure."""
    if isinstance(a, bool) or isinstance(a, (int, np.integer)):
        return []
    if _is_float(a):
        return [(path, float(a))]
    if isinstance(a, np.ndarray):
        if a.dtype.kind != "f":
            return []
        return [(path + (("arr", ix),), float(a[ix])) for ix in np.ndindex(a.shape)]
    if isinstance(a, (list, tuple)):
        out = []
        for i, v in enumerate(a):
            out += _leaves(v, path + (("idx", i),))
        return out
    if isinstance(a, dict):
        out = []
        for k, v in a.items():
            out += _leaves(v, path + (("key", k),))
        return out
    if hasattr(a, "__dict__") and not callable(a):
        out = []
        for k, v in vars(a).items():
            out += _leaves(v, path + (("attr", k),))
        return out
    return []


def _get(g, path):
    """Read a leaf of a gradient; a missing part (None, absent key) reads 0."""
    for kind, k in path:
        if g is None:
            return 0.0
        if kind == "arr":
            g = np.asarray(g)
            if g.ndim == 0:  # a broadcast scalar gradient is not accepted
                raise AssertionError(f"gradient is a scalar where an array was expected: {g!r}")
            g = g[k]
        elif kind == "idx":
            g = g[k]
        elif kind == "key":
            g = g.get(k) if isinstance(g, dict) else getattr(g, k, None)
        else:
            g = g.get(k) if isinstance(g, dict) else getattr(g, k, None)
    if g is None:
        return 0.0
    if isinstance(g, np.ndarray) and g.size == 1:
        g = g.reshape(())
    return float(g)


def _set(a, path, v):
    """A copy of ``a`` with one leaf replaced (arrays and objects are copied first)."""
    if not path:
        return v
    (kind, k), rest = path[0], path[1:]
    if kind == "arr":
        b = a.copy()
        b[k] = v
        return b
    if kind == "idx":
        items = list(a)
        items[k] = _set(items[k], rest, v)
        return items if isinstance(a, list) else (type(a)(*items) if hasattr(a, "_fields") else tuple(items))
    if kind == "key":
        b = dict(a) if type(a) is dict else copy.copy(a)
        b[k] = _set(a[k], rest, v)
        return b
    b = copy.copy(a)
    setattr(b, k, _set(getattr(a, k), rest, v))
    return b


def _out_leaves(y):
    """Float leaves of an output (ints and bools carry no gradient)."""
    if isinstance(y, np.ndarray) and y.ndim == 0:
        y = y[()]
    return _leaves(y)


def _cotangent(y, rng):
    """A fixed random cotangent with the structure of ``y``."""
    if isinstance(y, (float, np.floating)):
        return float(rng.standard_normal())
    if isinstance(y, np.ndarray):
        if y.dtype.kind != "f":
            return None
        return rng.standard_normal(y.shape)
    if isinstance(y, (list, tuple)):
        parts = [_cotangent(v, rng) for v in y]
        return parts if isinstance(y, list) else tuple(parts)
    if isinstance(y, dict):
        return {k: _cotangent(v, rng) for k, v in y.items()}
    return None


def _inner(y, dy):
    total = 0.0
    for path, v in _out_leaves(y):
        total += v * _get(dy, path)
    return total


def _is_scalar(y):
    return isinstance(y, (float, np.floating)) or (isinstance(y, np.ndarray) and y.shape == ()
                                                 and y.dtype.kind == "f")


def wengert_grads(c, args):
    """wengert's gradient with respect to ``c.wrt``: ``grad`` for a scalar output, else
    ``pullback`` with a fixed cotangent. Returns (grads per wrt position, dy)."""
    y = c.f(*copy.deepcopy(args))
    if _is_scalar(y):
        g = wengert.grad(c.f, argnums=c.wrt)(*copy.deepcopy(args))
        return list(g), 1.0
    dy = _cotangent(y, np.random.default_rng(7))
    _, back = wengert.pullback(c.f, *copy.deepcopy(args))
    gs = back(dy)[1:]
    return [gs[i] for i in c.wrt], dy


def fd_grads(c, args, dy, h=1e-6):
    """Central differences of <dy, f(args)> for every float leaf of the wrt arguments."""
    out = []
    for i in c.wrt:
        leaves = {}
        for path, v in _leaves(args[i]):
            def at(x):
                a = list(copy.deepcopy(args))
                a[i] = _set(a[i], path, x)
                return _inner(c.f(*a), dy)
            leaves[path] = (at(v + h) - at(v - h)) / (2 * h)
        out.append(leaves)
    return out


def compare(c, got, want):
    """First disagreement as text, or None."""
    for i, g, w in zip(c.wrt, got, want):
        for path, wv in w.items():
            gv = _get(g, path)
            if not abs(gv - wv) <= c.tol * max(1.0, abs(wv)):
                where = "".join(f"[{k!r}]" if kd != "attr" else f".{k}" for kd, k in path)
                return f"d/d(arg {i}){where}: wengert {gv!r}, central differences {wv!r}"
    return None


def judge(c):
    try:
        got, dy = wengert_grads(c, c.args)
    except UnsupportedError as e:
        return "refused", f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - every other exception is a crash, recorded by type
        return "crash", f"{type(e).__name__}: {e}"
    try:
        want = fd_grads(c, c.args, dy)
        bad = compare(c, got, want)
    except Exception as e:  # noqa: BLE001 - the gradient has the wrong structure
        return "wrong", f"gradient unreadable: {type(e).__name__}: {e}"
    return ("wrong", bad) if bad else ("pass", None)
