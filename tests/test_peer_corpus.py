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

# np.sum / np.mean / np.var / np.linalg.norm of a Python list
_LIST_COTANGENT = r"cotangent (float|ndarray) does not fit a list of length \d"
EXPECTED = {
    # ---- refused, by name ----
    "autograd_tests.convolve2d": ("refused", r"no rule for scipy\.signal\._sigtools\._convolve2d"),
    "autograd_tests.make_dict": ("refused", r"autograd_tests\.py:\d+: dict: keyword argument b= carries a derivative"),
    "zygote_features.broadcast_closure": ("refused", r"a set of values that carry a derivative"),  # np.vectorize
    "zygote_features.tasks_queue": ("refused", r"no rule for deque\.append"),
    "zygote_gradcheck.backsolve_lower_triangular": ("refused", r"no rule for function dtrtrs"),
    "zygote_gradcheck.matrix_exponential": (
        "refused", r"no rule for scipy\.linalg\._cythonized_array_utils\.bandwidth"),  # scipy.linalg.expm
    # ---- crashes: reductions of a Python list hand back a scalar cotangent ----
    "autograd_tests.mean_of_list": (ValueError, _LIST_COTANGENT),
    "autograd_tests.var_of_list": (ValueError, _LIST_COTANGENT),
    "autograd_tests.norm_list_of_boxes": (ValueError, _LIST_COTANGENT),
    "tangent_functions.anf_list": (ValueError, _LIST_COTANGENT),
    "tangent_functions.deep_anf_list": (ValueError, _LIST_COTANGENT),
    "tangent_functions.listcomp": (ValueError, _LIST_COTANGENT),
    # a user function named like a NumPy function with a full rule (det, diag, kron, tile, ...)
    # gets that rule's pullback called with the generated code's arguments
    "tangent_functions.det": (TypeError, r"det_pullback\.<locals>\.det_back\(\) takes 1 positional argument"),
    # two gradients of a dataclass field holding an array are added as dataclasses
    "zygote_features.struct_array_field": (TypeError, r"unsupported operand type\(s\) for \+: 'Imm' and 'Imm'"),
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
