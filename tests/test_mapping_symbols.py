# SPDX-License-Identifier: GPL-2.0-only
"""Data in arm64 code ($d mapping symbols: KCFI type hashes, literal pools) is not code."""
import glob
import os

import pytest
from conftest import FIXTURES

from orcgen.checks import select
from orcgen.options import Options
from orcgen.pipeline import analyze_elf, load

KCFI_ARM64 = sorted(glob.glob(os.path.join(FIXTURES, "kcfi", "*-arm64-*.o")))


@pytest.mark.parametrize("path", KCFI_ARM64, ids=os.path.basename)
def test_kcfi_hash_words_are_not_unreachable_instructions(path):
    (elf,) = load(path)
    res = analyze_elf(elf, Options(orc=True, stackval=True), cache=None, checks=select("check"))
    assert not [f for f in res.findings if f.kind == "unreachable"], res.findings


def test_data_is_decoded_as_nops():
    from orcgen.insn import Kind
    from orcgen.program import Program
    from orcgen.backend import backend_for
    (elf,) = load(os.path.join(FIXTURES, "kcfi", "consistent-arm64-2.o"))
    p = Program(elf, backend_for(elf.machine), Options())
    marks = [s for s in p.syms if s.name == "$d" and s.sec is not None]
    assert marks, "fixture has no $d mapping symbols"
    hit = 0
    for m in marks:
        cs = p.code_by_secno.get(m.sec)
        if cs is None or m.offset not in cs.by_off:
            continue
        i = cs.by_off[m.offset]
        assert p.kind[i] == Kind.NOP and not p.ops[i]
        hit += 1
    assert hit
