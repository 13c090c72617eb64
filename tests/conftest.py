"""Test configuration: under CI, hypothesis draws the same examples every run.

Locally hypothesis explores new inputs on each run (and keeps failures in its
database); CI must not fail on an input nobody has seen, so there the examples
are derandomized, and a failure reproduces on every run.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
