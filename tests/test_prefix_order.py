# SPDX-License-Identifier: GPL-2.0-only
"""Functions are walked in objtool's sec->symbol_list order, not address order.

A zero-size function is never another symbol's predecessor in objtool's list,
so a function defined after it at a higher address comes before it.  With
--prefix that changes the ORC: here z (size 0) sits inside b's padding, b is
handled first and gives the padding b's entry state, and then z finds a state
at its own start and passes it on to the 16 bytes before z, 8 bytes further
back than address order would reach."""
import os
import shutil
import subprocess

import pytest
from conftest import OBJTOOL, needs_gcc, needs_objtool

from orcgen.elf import Symbol
from orcgen.symbols import Sym, symbol_list

ASM = ("\t.text\n\t.type a,@function\na:\n\tret\n\t.size a, .-a\n"
       "\t.fill 39,1,0x90\n"                                   # NOPs at 1..39
       "\t.type z,@function\nz:\n\t.size z, 0\n"               # z at 0x28, no size
       "\t.fill 8,1,0x90\n"                                    # NOPs at 0x28..0x2f
       "\t.type b,@function\nb:\n\tret\n\t.size b, .-b\n")     # b at 0x30


def _sym(index: int, name: str, offset: int, size: int) -> Sym:
    return Sym(Symbol(index=index, name=name, value=offset, size=size, type=2, bind=0,
                      shndx=1, section=1, offset=offset))


def test_symbol_list_puts_zero_size_symbols_after_later_ones():
    a, z, b = _sym(1, "a", 0, 1), _sym(2, "z", 0x28, 0), _sym(3, "b", 0x30, 1)
    assert [s.name for s in symbol_list([a, z, b])] == ["a", "b", "z"]
    # with a size, z is an ordinary predecessor again: address order
    z2 = _sym(2, "z", 0x28, 4)
    assert [s.name for s in symbol_list([a, z2, b])] == ["a", "z", "b"]
    # table order, not address order, otherwise: a symbol with no predecessor goes first
    assert [s.name for s in symbol_list([b, a])] == ["a", "b"]
    c = _sym(4, "c", 0x30, 1)                                  # same offset: after b
    assert [s.name for s in symbol_list([a, b, c])] == ["a", "b", "c"]



def _replayed(syms: list[Sym]) -> list[Sym]:
    """elf_add_symbol()'s insertions replayed one by one, as objtool makes
    the list: the reference symbol_list's backward pass must agree with."""
    import bisect
    head, nxt, offsets, tree = None, {}, [], []
    for s in syms:
        k = bisect.bisect_right(offsets, s.offset)
        if k:
            nxt[id(s)], nxt[id(tree[k - 1])] = nxt[id(tree[k - 1])], s
        else:
            nxt[id(s)], head = head, s
        if s.len > 0:
            offsets.insert(k, s.offset)
            tree.insert(k, s)
    out, node = [], head
    while node is not None:
        out.append(node)
        node = nxt[id(node)]
    return out


def test_symbol_list_matches_a_replay_of_objtools_insertions():
    import random
    rng = random.Random(14)
    for trial in range(300):
        n = rng.randrange(1, 40)
        syms = [_sym(i, "s%d" % i, rng.randrange(0, 64) * rng.choice((1, 4)),
                     rng.choice((0, 0, 1, 8, 16))) for i in range(n)]
        want = [s.name for s in _replayed(syms)]
        assert [s.name for s in symbol_list(syms)] == want, (trial, syms)

@pytest.fixture
def obj(tmp_path):
    src = tmp_path / "t.s"
    src.write_text(ASM)
    out = str(tmp_path / "t.o")
    subprocess.run(["gcc", "-c", str(src), "-o", out], check=True)
    return out


def _orcgen_orc(path: str) -> str:
    from orcgen.elf import ElfFile
    from orcgen.options import Options
    from orcgen.pipeline import analyze_elf
    opts, _ = Options.from_objtool_args(["--orc", "--prefix=16", path])
    res = analyze_elf(ElfFile.from_path(path), opts, cache=None)
    return "".join(r.text() + "\n" for r in res.orc or ())


@needs_gcc
def test_prefix_follows_symbol_list_order(obj):
    orc = _orcgen_orc(obj)
    assert ".text+18:type:call sp:sp+8" in orc          # 0x28 - 16: z's prefix, after b's
    assert ".text+20:" not in orc


@needs_gcc
@needs_objtool
def test_prefix_order_matches_objtool(obj, tmp_path):
    copy = str(tmp_path / "copy.o")
    shutil.copyfile(obj, copy)
    env = dict(os.environ, SRCARCH="x86")
    env.pop("OBJTOOL_ARGS", None)
    subprocess.run([OBJTOOL, "--orc", "--prefix=16", copy], env=env, check=True,
                   capture_output=True)
    ref = subprocess.run([OBJTOOL, "--dump=orc", copy], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert _orcgen_orc(obj) == ref
