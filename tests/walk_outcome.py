# SPDX-License-Identifier: GPL-2.0-only
"""What a walk leaves, in a form to compare: the speed paths of the walk
(test_straight.py, test_parwalk.py) must leave exactly what the plain walk does."""
import glob
import os

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
    "vmlinux-link-noinstr": Options(orc=False, noinstr=True, link=True, unret=True),  # noinstr walks only
}


def outcome(data: bytes, opts: Options, name: str = "t.o") -> tuple:
    """(states, visited marks, alternatives' states, findings, their
    instructions, ORC rows), or why there are none."""
    try:
        res = analyze_elf(ElfFile(data, name), opts, keep_program=True, cache=None)
    except InputError as e:
        return ("error", str(e))
    p = res.program
    lines = [f.line("x") for f in res.findings]
    if p is None:
        return ("no program", lines)
    groups = sorted({id(g): (p.insn.off[g.first], tuple(g.cfi)) for g in p.alt_group.values()}.values(),
                    key=repr)
    orc = [r.text() for r in res.orc or ()]
    return (list(p.cfi), bytes(p.visited), groups, lines, p.finding_insn, orc)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
