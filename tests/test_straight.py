# SPDX-License-Identifier: GPL-2.0-only
"""The walk's straight-line fast path (orcgen/straight.py) is exact: on every
committed fixture object, the states, the visited marks, the alternatives'
states and the findings are those of the walk that looks at every instruction."""
import glob
import os

import pytest

from orcgen import interp
from orcgen.elf import ElfFile
from orcgen.errors import InputError
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
OBJECTS = sorted(glob.glob(os.path.join(FIXTURES, "**", "*.o"), recursive=True))
OPTIONS = {
    "objtool-vmlinux": Options(orc=True, stackval=True, uaccess=True, noinstr=True, link=True,
                               ibt=True, unret=True, rethunk=True, retpoline=True, prefix=16),
    "keep-going": Options(orc=True, stackval=True, keep_going=True, precise=True),
}


def _outcome(path: str, opts: Options, fast: bool, monkeypatch) -> tuple:
    if not fast:
        real = interp.plain_mask
        monkeypatch.setattr(interp, "plain_mask", lambda p: bytearray(len(real(p))))
    try:
        res = analyze_elf(ElfFile(open(path, "rb").read(), path), opts, keep_program=True, cache=None)
    except InputError as e:
        return ("error", str(e))
    finally:
        monkeypatch.undo()
    p = res.program
    if p is None:
        return ("no program", [f.line("x") for f in res.findings])
    groups = sorted({id(g): (p.insn.off[g.first], tuple(g.cfi)) for g in p.alt_group.values()}.values(),
                    key=repr)
    return (list(p.cfi), bytes(p.visited), groups, [f.line("x") for f in res.findings])


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
