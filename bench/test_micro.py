# SPDX-License-Identifier: GPL-2.0-only
"""Micro-benchmarks of the hot paths (pytest-benchmark; not part of the test run):

    python -m pytest bench/test_micro.py --benchmark-only

Inputs are the committed fixtures, or a kernel object named by ORCGEN_BENCH_OBJ.
"""
import glob
import os

import pytest

from orcgen.backend import backend_for
from orcgen.elf import ElfFile
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

HERE = os.path.dirname(__file__)
OBJ = os.environ.get("ORCGEN_BENCH_OBJ")
FIXTURES = sorted(glob.glob(os.path.join(HERE, "..", "tests", "fixtures", "x86_64", "*-O2-*.o")))


def _code():
    elfs = [ElfFile.from_path(p) for p in ([OBJ] if OBJ else FIXTURES)]
    return [e.section_data(s) for e in elfs for s in e.sections if s.is_exec and s.type != 8], elfs


CODE, ELFS = _code()


def test_capstone_disasm_lite(benchmark):
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    benchmark(lambda: sum(sum(1 for _ in md.disasm_lite(c, 0)) for c in CODE))


def test_decoder(benchmark):
    be = backend_for(62)
    benchmark(lambda: sum(len(be.decode_section(c, lambda off: True)[0]) for c in CODE))


@pytest.mark.parametrize("stackval", [False, True])
def test_analysis(benchmark, stackval):
    opts = Options(orc=True, stackval=stackval)
    benchmark(lambda: [analyze_elf(e, opts, cache=None) for e in ELFS])
