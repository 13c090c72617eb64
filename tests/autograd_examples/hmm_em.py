"""autograd examples/hmm_em.py: EM for an HMM, the E step as the gradient of the log partition function.

As in the example, the data is its own source file: 3 lines, 3 hidden states. The check
runs one E step (`vgrad(log_partition_function)`, recursion through `sum(map(partial(...)))`)
and the whole EM loop to convergence.
"""

# ruff: noqa: E731 (the example's own lambdas, kept as written)

import string
from functools import partial
from os.path import dirname, join

import numpy as np
import numpy.random as npr
from scipy.special import logsumexp

from wengert import value_and_grad as vgrad


def EM(init_params, data, callback=None):
    def EM_update(params):
        natural_params = list(map(np.log, params))
        loglike, E_stats = vgrad(log_partition_function)(natural_params, data)  # E step
        if callback:
            callback(loglike, params)
        return list(map(normalize, E_stats))  # M step

    def fixed_point(f, x0):
        x1 = f(x0)
        while different(x0, x1):
            x0, x1 = x1, f(x1)
        return x1

    def different(params1, params2):
        allclose = partial(np.allclose, atol=1e-3, rtol=1e-3)
        return not all(map(allclose, params1, params2))

    return fixed_point(EM_update, init_params)


def normalize(a):
    def replace_zeros(a):
        return np.where(a > 0.0, a, 1.0)

    return a / replace_zeros(a.sum(-1, keepdims=True))


def log_partition_function(natural_params, data):
    if isinstance(data, list):
        return sum(map(partial(log_partition_function, natural_params), data))

    log_pi, log_A, log_B = natural_params

    log_alpha = log_pi
    for y in data:
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]

    return logsumexp(log_alpha)


def initialize_hmm_parameters(num_states, num_outputs):
    init_pi = normalize(npr.rand(num_states))
    init_A = normalize(npr.rand(num_states, num_states))
    init_B = normalize(npr.rand(num_states, num_outputs))
    return init_pi, init_A, init_B


def build_dataset(filename, max_lines=-1):
    """Loads a text file, and turns each line into an encoded sequence."""
    encodings = dict(list(map(reversed, enumerate(string.printable))))
    digitize = lambda char: encodings[char] if char in encodings else len(encodings)
    encode_line = lambda line: np.array(list(map(digitize, line)))
    nonblank_line = lambda line: len(line) > 2

    with open(filename) as f:
        lines = f.readlines()

    encoded_lines = list(map(encode_line, list(filter(nonblank_line, lines))[:max_lines]))
    num_outputs = len(encodings) + 1

    return encoded_lines, num_outputs


train_inputs, num_outputs = build_dataset(join(dirname(__file__), "hmm_em.py"), max_lines=3)
num_states = 3


def checks():
    def init_params():
        np.random.seed(0)
        return initialize_hmm_parameters(num_states, num_outputs)

    return {
        "E_step": lambda: vgrad(log_partition_function)(list(map(np.log, init_params())), train_inputs),
        "EM": lambda: EM(init_params(), train_inputs),
    }
