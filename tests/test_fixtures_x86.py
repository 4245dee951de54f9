# SPDX-License-Identifier: GPL-2.0-only
"""orcgen against objtool on every committed x86-64 fixture object.

The goldens were made by the real objtool (tests/fixtures/build.sh): the ORC it
writes, dumped with --dump=orc, and its warnings.  ORC must be equal line for
line; warnings equal in location and text (orcgen names registers where objtool
prints its internal register numbers).
"""
import glob
import os
import re

import pytest
from conftest import FIXTURES

from orcgen.elf import ElfFile
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

OBJECTS = sorted(glob.glob(os.path.join(FIXTURES, "x86_64", "*.o")))
# objtool's CFI register numbers (arch/x86/include/arch/cfi_regs.h) and pseudo registers
OBJTOOL_REGS = {0: "rax", 1: "rcx", 2: "rdx", 3: "rbx", 4: "rsp", 5: "rbp", 6: "rsi", 7: "rdi",
                16: "ra", -1: "undefined", -2: "cfa", -3: "(sp)", -4: "(fp)",
                **{n: "r%d" % n for n in range(8, 16)}}


def _objtool_message(text: str) -> str:
    m = re.match(r"stack state mismatch: cfa1=(-?\d+)([+-]\d+) cfa2=(-?\d+)([+-]\d+)$", text)
    if m:
        def w(r, off):
            name = OBJTOOL_REGS[int(r)]
            return "undefined" if name == "undefined" else name + off
        return "stack state mismatch: cfa1=%s cfa2=%s" % (w(*m.group(1, 2)), w(*m.group(3, 4)))
    return text


def _golden(base: str, kind: str, stackval: bool) -> str:
    if not stackval and os.path.exists("%s.%s-nostackval.txt" % (base, kind)):
        return "%s.%s-nostackval.txt" % (base, kind)
    return "%s.%s.txt" % (base, kind)


@pytest.mark.parametrize("stackval", [True, False], ids=["stackval", "orc-only"])
@pytest.mark.parametrize("obj", OBJECTS, ids=[os.path.basename(o) for o in OBJECTS])
def test_matches_objtool(obj, stackval):
    base = obj[:-2]
    res = analyze_elf(ElfFile.from_path(obj), Options(orc=True, stackval=stackval))
    want_orc = open(_golden(base, "orc", stackval)).read().splitlines()
    assert [r.text() for r in res.orc or ()] == want_orc
    want = []
    for line in open(_golden(base, "objtool", stackval)).read().splitlines():
        if "warning: objtool: " in line:
            rest = line.split("warning: objtool: ", 1)[1]
            where, sep, msg = rest.partition(": ")
            if not sep or " " in where:       # a file-level warning has no location
                where, msg = "", rest
            want.append((where, _objtool_message(msg)))
    assert [(f.where, f.message) for f in res.findings] == want


def test_fixture_corpus_is_present():
    assert len(OBJECTS) >= 100, "tests/fixtures/x86_64 should hold the committed fixture objects"
