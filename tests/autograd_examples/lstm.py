"""autograd examples/lstm.py: the LSTM character model (helpers imported from rnn.py, as in the example).

It learns to predict its own source file: 4 lines, 6 characters each, state size 5.
"""

# ruff: noqa: E731 (the example's own lambdas, kept as written)

from os.path import dirname, join

import numpy as np
import numpy.random as npr
from scipy.special import logsumexp

from wengert import grad

from .rnn import build_dataset, concat_and_multiply, one_hot_to_string, sigmoid, string_to_one_hot  # noqa: F401


def init_lstm_params(input_size, state_size, output_size, param_scale=0.01, rs=None):
    rs = rs if rs is not None else npr.RandomState(0)

    def rp(*shape):
        return rs.randn(*shape) * param_scale

    return {
        "init cells": rp(1, state_size),
        "init hiddens": rp(1, state_size),
        "change": rp(input_size + state_size + 1, state_size),
        "forget": rp(input_size + state_size + 1, state_size),
        "ingate": rp(input_size + state_size + 1, state_size),
        "outgate": rp(input_size + state_size + 1, state_size),
        "predict": rp(state_size + 1, output_size),
    }


def lstm_predict(params, inputs):
    def update_lstm(input, hiddens, cells):
        change = np.tanh(concat_and_multiply(params["change"], input, hiddens))
        forget = sigmoid(concat_and_multiply(params["forget"], input, hiddens))
        ingate = sigmoid(concat_and_multiply(params["ingate"], input, hiddens))
        outgate = sigmoid(concat_and_multiply(params["outgate"], input, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
        return hiddens, cells

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)  # Normalize log-probs.

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    cells = np.repeat(params["init cells"], num_sequences, axis=0)

    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:  # Iterate over time steps.
        hiddens, cells = update_lstm(input, hiddens, cells)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def lstm_log_likelihood(params, inputs, targets):
    logprobs = lstm_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


num_chars = 128

# Learn to predict our own source code.
text_filename = join(dirname(__file__), "lstm.py")
train_inputs = build_dataset(text_filename, sequence_length=6, alphabet_size=num_chars, max_lines=4)


def training_loss(params, iter):
    return -lstm_log_likelihood(params, train_inputs, train_inputs)


# Build gradient of loss function using autograd.
training_loss_grad = grad(training_loss)


def checks():
    init_params = lambda: init_lstm_params(input_size=128, output_size=128, state_size=5, param_scale=0.01)
    return {"grad": lambda: training_loss_grad(init_params(), 0)}
