# SPDX-License-Identifier: GPL-2.0-only
"""Program's per-section offset index (16-byte blocks) answers exactly what a
binary search of the offset column answers."""
import bisect
import random
from array import array

import pytest

from orcgen.program import OffsetIndex


@pytest.mark.parametrize("seed", range(6))
def test_lookups_agree_with_a_binary_search(seed):
    rng = random.Random(seed)
    size = rng.choice((64, 500, 5000))
    offs = sorted(rng.sample(range(size), rng.randrange(1, min(size, 1500))))
    lead = [7, 3]                       # another section's instructions before this one's
    column = array("q", lead + offs)
    idx = OffsetIndex(size, column, len(lead), len(column))
    for o in range(-40, size + 40):
        k = bisect.bisect_left(offs, o)
        exact = len(lead) + k if k < len(offs) and offs[k] == o else None
        assert idx.get(o) == exact, o
        assert idx.at_or_before(o) == len(lead) + bisect.bisect_right(offs, o) - 1 if o >= 0 \
            else idx.at_or_before(o) == len(lead) - 1, o
