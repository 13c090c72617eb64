"""Cross-mode corpus: every function of tests/corpus.py through source reverse mode,
the run-time tape and the generated tangent code; gradients must agree to rounding."""

import math

import pytest
from corpus import CASES, TAPE_SKIP

import wengert


def _positions(args):
    """(argument index, element index or None) for every differentiable scalar input."""
    out = []
    for i, a in enumerate(args):
        if isinstance(a, float):
            out.append((i, None))
        elif isinstance(a, list):
            out += [(i, j) for j in range(len(a))]
    return out


def _flatten(grads):
    """One number per scalar input; None ("no gradient", e.g. an untouched list entry) is 0."""
    out = []
    for g in grads:
        out += list(g) if isinstance(g, list) else [g]
    return [0.0 if v is None else v for v in out]


def _reverse(f, args, mode):
    nums = tuple(i for i, a in enumerate(args) if isinstance(a, (float, list)))
    return _flatten(wengert.grad(f, nums, mode=mode)(*args))


def _forward(f, args):
    out = []
    for i, j in _positions(args):
        tangents = [None] * len(args)
        if j is None:
            tangents[i] = 1.0
        else:
            tangents[i] = [0.0] * len(args[i])
            tangents[i][j] = 1.0
        out.append(wengert.jvp(f, args, tangents)[1])
    return out


def _central(f, args, h=1e-6):
    out = []
    for i, j in _positions(args):
        def shifted(d, i=i, j=j):
            a = list(args)
            if j is None:
                a[i] = a[i] + d
            else:
                a[i] = list(a[i])
                a[i][j] += d
            return f(*a)
        out.append((shifted(h) - shifted(-h)) / (2 * h))
    return out


def _agree(a, b, rtol):
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=rtol, abs_tol=rtol) for x, y in zip(a, b))


@pytest.mark.parametrize("f, args", CASES, ids=[f"{f.__name__}{args}" for f, args in CASES])
def test_all_modes_agree(f, args):
    results = {"source": _reverse(f, args, "source"), "forward": _forward(f, args)}
    if f not in TAPE_SKIP:
        results["tape"] = _reverse(f, args, "tape")
    names = list(results)
    for a in names:
        for b in names[names.index(a) + 1:]:
            assert _agree(results[a], results[b], 1e-9), \
                f"{f.__name__}{args}: {a} mode gives {results[a]}, {b} mode gives {results[b]}"
    fd = _central(f, args)  # and all of them against float64 central differences
    assert _agree(results["source"], fd, 1e-5), f"{f.__name__}{args}: modes give {results['source']}, " \
                                                f"central differences {fd}"



def test_source_mode_through_an_alias_updated_in_place():
    import numpy as np
    from test_forward import alias_then_update

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(wengert.grad(alias_then_update)(x), 2 * x)
