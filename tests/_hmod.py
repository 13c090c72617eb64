"""A user module for tests/test_higher.py: functions reached as module attributes (``H.loglike``)."""

import numpy as np


def loglike(r, s):
    """Log-likelihood of residuals ``r`` under a centred normal of scale ``s``."""
    return -np.sum(r ** 2) / (2 * s ** 2) - r.size * np.log(s)


def quartic(x, w):
    return np.sum(w * x ** 4) + np.sum(x[:-1] * x[1:])
