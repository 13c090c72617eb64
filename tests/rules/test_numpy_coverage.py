"""Every public NumPy callable has a rule (or is nondiff), or a stated reason in `numpy_coverage.SKIPPED`."""

from numpy_coverage import SKIPPED, public_callables, without_rule


def test_every_public_callable_has_a_rule_or_a_reason():
    missing = without_rule()
    unexplained = [name for name in missing if name not in SKIPPED]
    assert not unexplained, f"NumPy callables with neither a rule nor a reason in numpy_coverage.SKIPPED: {unexplained}"


def test_skip_list_is_current():
    names = public_callables()
    missing = set(without_rule())
    stale = [name for name in SKIPPED if name in names and name not in missing]
    assert not stale, f"these now have rules: remove them from numpy_coverage.SKIPPED: {stale}"
