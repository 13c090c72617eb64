"""Timing for the benchmarks: calibrated inner loops, interleaved repeats, medians.

Each measurement runs a thunk enough times in a row (``inner``) to last at
least ``target`` seconds of `time.perf_counter`, and reports seconds per call.
The thunks of one workload (the primal, the hand-written gradient, wengert,
the peers) are measured in rounds: round r times every thunk once, so each
gradient's samples are paired with the primal's samples taken in the same
process, under the same conditions, minutes apart at most. A thunk too slow
for many rounds within ``budget`` seconds gets fewer (at least ``min_repeats``).
The garbage collector stays on, as in real use; each measurement starts after
a collection.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Timing:
    """Seconds per call of one thunk: every sample, their median, and how they were taken."""

    samples: list[float] = field(default_factory=list)
    inner: int = 1
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_dict(self) -> dict:
        return {
            "median_s": self.median,
            "min_s": min(self.samples),
            "max_s": max(self.samples),
            "repeats": len(self.samples),
            "inner": self.inner,
            "note": self.note,
        }


def time_calls(fn: Callable[[], object], inner: int) -> float:
    """Seconds per call of ``fn``, over ``inner`` consecutive calls."""
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def calibrate(fn: Callable[[], object], target: float, first: float | None = None) -> int:
    """How many consecutive calls of ``fn`` last at least ``target`` seconds.

    ``first`` is the duration of a call already made (the warm-up), if known.
    """
    per_call = first if first is not None else time_calls(fn, 1)
    inner = 1
    while per_call * inner < target:
        inner = max(inner + 1, int(inner * min(10.0, 1.2 * target / max(per_call * inner, 1e-9))))
        per_call = time_calls(fn, inner)
    return inner


def measure(
    thunks: dict[str, Callable[[], object]],
    *,
    target: float = 0.02,
    repeats: int = 7,
    min_repeats: int = 3,
    budget: float = 2.0,
    first: dict[str, float] | None = None,
    slow: float = float("inf"),
) -> dict[str, Timing]:
    """Interleaved medians of seconds per call for each thunk (see the module docstring).

    ``first`` maps names to the duration of a warm-up call already made; a thunk
    whose warm-up took ``slow`` seconds or more is not called again: its one
    sample is the warm-up call, and its note says so.
    """
    first = first or {}
    timings: dict[str, Timing] = {}
    planned: dict[str, int] = {}
    for name, fn in thunks.items():
        if first.get(name, 0.0) >= slow:
            timings[name] = Timing(samples=[first[name]], note="one call (the warm-up)")
            planned[name] = 1
            continue
        inner = calibrate(fn, target, first.get(name))
        est = time_calls(fn, inner) * inner  # one measurement, in seconds
        timings[name] = Timing(samples=[est / inner], inner=inner)
        planned[name] = max(min_repeats, min(repeats, int(budget / max(est, 1e-9))))
    for r in range(1, max(planned.values(), default=0)):
        for name, fn in thunks.items():
            if r < planned[name]:
                timings[name].samples.append(time_calls(fn, timings[name].inner))
    return timings
