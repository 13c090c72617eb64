"""Which public NumPy callables (``np.*``, ``np.linalg.*``, ``np.fft.*``) have no rule, and why.

Run it to list them (``python tests/rules/numpy_coverage.py``); `test_numpy_coverage.py`
fails when a callable without a rule is missing from `SKIPPED`, so a new NumPy
function (or a lost rule) shows up in CI. A callable without a rule is still
refused by name when differentiated code calls it (``UnsupportedError``: no rule
for ..., and no Python source, or the source fails), never given a silent zero.
"""

from __future__ import annotations

import types

import numpy as np

SKIPPED = {
    # higher-order functions: wengert would have to differentiate the function they are given
    "np.apply_along_axis": "takes a function: write the loop, or vectorise with array functions",
    "np.apply_over_axes": "takes a function: call the reduction directly",
    "np.piecewise": "takes functions: use np.where / np.select on the pieces",
    "np.fromfunction": "takes a function: build the index grids with np.indices and call it",
    "np.frompyfunc": "wraps a Python function in an object-dtype ufunc",
    "np.nested_iters": "an iterator object, not a numerical function",
    "np.fromiter": "consumes an iterator: build a list and call np.array (which has a rule)",
    # in-place writes: a rule sees only the returned None, so these must refuse rather than drop gradients
    "np.copyto": "writes into its first argument in place: use np.where",
    "np.fill_diagonal": "writes in place: use a + np.diag(...) or np.where with an eye mask",
    "np.place": "writes in place: use np.where",
    "np.put": "writes in place: use indexing on a copy (x = x.copy(); x[i] = v)",
    "np.put_along_axis": "writes in place: use indexing on a copy",
    "np.putmask": "writes in place: use np.where",
    # outputs chosen by value equality: which input an output copies is ambiguous under ties
    "np.unique": "set operation: the derivative of a value that occurs several times is not defined",
    "np.unique_all": "set operation (see np.unique)",
    "np.unique_counts": "set operation (see np.unique)",
    "np.unique_inverse": "set operation (see np.unique)",
    "np.unique_values": "set operation (see np.unique)",
    "np.intersect1d": "set operation (see np.unique)",
    "np.union1d": "set operation (see np.unique)",
    "np.setdiff1d": "set operation (see np.unique)",
    "np.setxor1d": "set operation (see np.unique)",
    # bin edges computed from the data move with it: neither zero nor a rule would be honest
    "np.histogram": "counts are piecewise constant, but automatic bin edges depend on the data",
    "np.histogram2d": "see np.histogram",
    "np.histogramdd": "see np.histogram",
    # polynomial root finding: complex eigenvalues of a companion matrix, rare in models
    "np.roots": "complex roots; differentiate np.linalg.eigvals of the companion matrix instead",
    "np.poly": "rare in models: multiply the factors with np.polymul (which has a rule)",
    "np.polydiv": "rare in models; quotient and remainder of a polynomial long division",
    "np.kaiser": "a window whose shape parameter beta would need d I0(beta * ...) / d beta; rare",
    # np.matrix: deprecated class
    "np.asmatrix": "np.matrix is deprecated: use arrays",
    "np.bmat": "np.matrix is deprecated: use np.block (which has a rule)",
    # Hermitian-input transforms
    "np.fft.hfft": "Hermitian-input transform, rare in models: write it with np.fft.irfft of the conjugate",
    "np.fft.ihfft": "see np.fft.hfft",
    # test runners
    "np.test": "runs NumPy's test suite",
    "np.linalg.test": "runs NumPy's test suite",
    "np.fft.test": "runs NumPy's test suite",
}


def public_callables() -> dict:
    """``{"np.name": callable}`` for the public functions and ufuncs of np, np.linalg and np.fft."""
    out = {}
    for module, prefix in ((np, "np."), (np.linalg, "np.linalg."), (np.fft, "np.fft.")):
        for name in sorted(dir(module)):
            if name.startswith("_"):
                continue
            fn = getattr(module, name)
            if isinstance(fn, (type, types.ModuleType)) or not callable(fn):
                continue
            out[prefix + name] = fn
    return out


def without_rule() -> list[str]:
    import wengert  # noqa: F401  (registers the rules)
    from wengert.rules import get_rule

    return [name for name, fn in public_callables().items() if get_rule(fn) is None]


if __name__ == "__main__":
    fns = public_callables()
    missing = without_rule()
    print(f"{len(fns)} public callables, {len(fns) - len(missing)} with a rule (or nondiff), {len(missing)} without")
    for name in missing:
        print(f"  {name:24} {SKIPPED.get(name, 'NOT LISTED: add a rule or a reason')}")
