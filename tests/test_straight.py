# SPDX-License-Identifier: GPL-2.0-only
"""The walk's straight-line fast path (orcgen/straight.py) is exact: on every
committed fixture object, the states, the visited marks, the alternatives'
states and the findings are those of the walk that looks at every instruction."""
import os

import pytest
from walk_outcome import FIXTURES, OBJECTS, OPTIONS, outcome, read

from orcgen import interp


def _outcome(path: str, opts, fast: bool, monkeypatch) -> tuple:
    if not fast:
        real = interp.plain_mask
        monkeypatch.setattr(interp, "plain_mask", lambda p, code=None: bytearray(len(real(p, code))))
    try:
        return outcome(read(path), opts, path)
    finally:
        monkeypatch.undo()


def test_fixtures_found():
    assert len(OBJECTS) > 100


@pytest.mark.parametrize("opts", sorted(OPTIONS))
def test_fast_path_is_exact(opts, monkeypatch):
    stretched = 0
    for path in OBJECTS:
        fast = _outcome(path, OPTIONS[opts], True, monkeypatch)
        slow = _outcome(path, OPTIONS[opts], False, monkeypatch)
        assert fast == slow, os.path.relpath(path, FIXTURES)
        if fast[0] not in ("error", "no program"):
            stretched += 1
            # every instruction the walk reached has a state (the fast path once stored None)
            assert all(c is not None for c, v in zip(fast[0], fast[1]) if v & 3), path
    assert stretched > 100


def test_the_mask_does_not_depend_on_its_chunks(monkeypatch):
    """plain_mask() combines the columns a chunk at a time: cut into chunks
    of three instructions, every fixture's mask is the same."""
    from orcgen import straight
    masks: dict[int, list] = {}
    real = straight.plain_mask
    for size in (straight._CHUNK, 3):
        monkeypatch.setattr(straight, "_CHUNK", size)
        monkeypatch.setattr(interp, "plain_mask", lambda p, code=None: masks.setdefault(size, []).append(real(p, code))
                            or masks[size][-1])
        for path in OBJECTS[::4]:
            outcome(read(path), OPTIONS["keep-going"], path)
    monkeypatch.undo()
    assert len(masks[3]) > 50 and masks[3] == masks[straight._CHUNK]
