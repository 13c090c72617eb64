"""The peer corpus (tests/peer_corpus/): programs translated from Zygote's, HIPS autograd's
and Tangent's test suites, each differentiated by wengert with respect to its stated
arguments and compared with float64 central differences (issue 10's Goal).

A program that runs must agree with central differences, so a wrong gradient always fails.
EXPECTED records what wengert does today with the programs that do not run: a refusal is
asserted by name (`pytest.raises(UnsupportedError, match=...)`) and a crash by exception
type and message, so each flips to a failure when the construct starts working; then delete
its entry. `python tests/peer_corpus/report.py -v` prints the counts by source.
"""

import pytest

from tests.peer_corpus import all_cases
from tests.peer_corpus.harness import judge, wengert_grads
from wengert import UnsupportedError

CASES = all_cases()

EXPECTED = {
    # ---- refused, by name ----
    "autograd_tests.convolve2d": ("refused", r"no rule for scipy\.signal\._sigtools\._convolve2d"),
    "zygote_features.broadcast_closure": ("refused", r"a set of values that carry a derivative"),  # np.vectorize
    "zygote_gradcheck.backsolve_lower_triangular": ("refused", r"no rule for function dtrtrs"),
    "zygote_gradcheck.matrix_exponential": (
        "refused", r"no rule for scipy\.linalg\._cythonized_array_utils\.bandwidth"),  # scipy.linalg.expm
}


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_peer_program(c):
    expected = EXPECTED.get(c.name)
    if expected is None:
        outcome, detail = judge(c)
        assert outcome == "pass", f"{outcome}: {detail}"
        return
    kind, pattern = expected
    exc = UnsupportedError if kind == "refused" else kind
    with pytest.raises(exc, match=pattern):
        wengert_grads(c, c.args)


def test_expected_names_exist():
    names = {c.name for c in CASES}
    assert set(EXPECTED) <= names, set(EXPECTED) - names


def test_sqrt_of_square_at_its_kink():
    # |x| written as sqrt(x ** 2) has no derivative at 0. Zygote's test expects 0.0 there;
    # wengert, like JAX and PyTorch, applies the chain rule as written: 0 / (2 sqrt(0)) = nan.
    import math

    import wengert
    from tests.peer_corpus.zygote_features import sqrt_of_square

    assert math.isnan(wengert.grad(sqrt_of_square)(0.0))
