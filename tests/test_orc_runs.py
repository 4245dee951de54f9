# SPDX-License-Identifier: GPL-2.0-only
"""build_table() looks at the states a bounded slice at a time: cut into
slices of three instructions, every fixture's ORC table is the same."""
from walk_outcome import OBJECTS, OPTIONS, outcome, read

from orcgen import orc


def test_the_table_does_not_depend_on_its_slices(monkeypatch):
    whole = [outcome(read(p), OPTIONS["objtool-vmlinux"], p)[-1] for p in OBJECTS]
    monkeypatch.setattr(orc, "_RUN", 3)
    sliced = [outcome(read(p), OPTIONS["objtool-vmlinux"], p)[-1] for p in OBJECTS]
    assert sliced == whole
    assert sum(len(t) for t in whole if isinstance(t, list)) > 1000
