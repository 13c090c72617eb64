"""Run the peer corpus against wengert and print pass / refused / crash / wrong by source.

    python tests/peer_corpus/report.py            # counts
    python tests/peer_corpus/report.py -v         # and every case that did not pass
"""

import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.peer_corpus import SOURCES, all_cases  # noqa: E402
from tests.peer_corpus.harness import judge  # noqa: E402

OUTCOMES = ("pass", "refused", "crash", "wrong")


def main(verbose=False):
    t0 = time.time()
    counts = {s: collections.Counter() for s in SOURCES}
    programs = {s: set() for s in SOURCES}
    others = []
    for c in all_cases():
        outcome, detail = judge(c)
        counts[c.source][outcome] += 1
        programs[c.source].add(c.name.split("#")[0])
        if outcome != "pass":
            others.append((outcome, c.name, detail))
    print(f"{'source':<20}{'programs':>9}{'cases':>7}" + "".join(f"{o:>9}" for o in OUTCOMES))
    total = collections.Counter()
    for s in SOURCES:
        total.update(counts[s])
        n = sum(counts[s].values())
        print(f"{s:<20}{len(programs[s]):>9}{n:>7}" + "".join(f"{counts[s][o]:>9}" for o in OUTCOMES))
    print(f"{'total':<20}{sum(len(p) for p in programs.values()):>9}{sum(total.values()):>7}"
          + "".join(f"{total[o]:>9}" for o in OUTCOMES))
    if verbose:
        for outcome, name, detail in sorted(others):
            print(f"{outcome:<8} {name}: {detail[:240]}")
    print(f"({time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main(verbose="-v" in sys.argv)
