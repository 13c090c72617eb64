"""HIPS autograd's examples (github.com/HIPS/autograd, examples/, commit bff107b) ported to plain NumPy.

Each module keeps the example's model code as written; only the imports change
(`autograd.numpy` -> `numpy`, `autograd.scipy` -> `scipy`, `autograd.grad` ->
`wengert.grad`, `autograd.misc.flatten` -> `.flatten`), the data is generated in the
module at a small size, and the training driver is replaced by `checks()`: a dict of
zero-argument callables, each returning gradients the example computes.

tests/test_autograd_examples.py runs every check twice: on this module (wengert), and
on the same source with the imports mapped back to autograd, and compares.
"""
