"""wengert's peer corpus: small programs translated to Python from the test suites of
Zygote.jl (test/gradcheck*.jl, test/features.jl, test/lib/*.jl, test/structures.jl),
HIPS autograd (tests/) and google/tangent (tests/functions.py), each run against float64
central differences by tests/test_peer_corpus.py; `python tests/peer_corpus/report.py`
prints the counts."""

SOURCES = ("zygote_gradcheck", "zygote_features", "autograd_tests", "tangent_functions")


def all_cases():
    import importlib
    cases = []
    for s in SOURCES:
        cases += importlib.import_module(f"tests.peer_corpus.{s}").CASES
    return cases
