"""SciPy's rules, registered only once a program has imported SciPy.

``import wengert`` must not import SciPy (it is slow to import and optional).
This module installs a rule-table provider (`wengert.rules.table.add_provider`):
when a lookup misses and ``scipy.special`` (or ``scipy.stats``) is in
``sys.modules``, it imports `wengert.rules.scipy_special` (or
`wengert.rules.scipy_stats`), which register their rules, and answers the
lookup from the table. Before that, a miss costs two dictionary lookups.

Covered: see `wengert.rules.scipy_special` (``erf``, ``gammaln``, ``digamma``,
``polygamma``, ``logsumexp``, ``expit``, ``logit``, ``xlogy``, ``betaln``,
``log_ndtr``, ``ndtr``, ``softmax``, ``log_softmax``, Bessel functions, ...) and
`wengert.rules.scipy_stats` (``logpdf``/``pdf``/``cdf``/... of ``norm``, ``t``,
``gamma``, ``beta``, ``expon``, ``laplace``, ``poisson.logpmf``,
``multivariate_normal.logpdf``).

>>> import scipy.special, wengert
>>> wengert.grad(lambda x: scipy.special.gammaln(x))(3.0)  # digamma(3)
0.9227843350984671
"""

from __future__ import annotations

import sys

from wengert.rules import table

_LOADED: set[str] = set()
_MODULES = (("scipy.special", "wengert.rules.scipy_special"), ("scipy.stats", "wengert.rules.scipy_stats"))


def load() -> bool:
    """Register the rules of every SciPy module the program has imported; whether any were new."""
    new = False
    for scipy_name, rules_name in _MODULES:
        if scipy_name in sys.modules and scipy_name not in _LOADED:
            _LOADED.add(scipy_name)
            __import__(rules_name)
            new = True
    return new


def _scipy_provider(fn):
    if len(_LOADED) == len(_MODULES) or not load():
        return None
    return table.get_rule(fn)


table.add_provider(_scipy_provider)
