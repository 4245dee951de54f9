# SPDX-License-Identifier: GPL-2.0-only
"""The CFI reader (orcgen/dwarf.py) and expression evaluator (orcgen/dwarf_expr.py).

Committed inputs under tests/fixtures/dwarf (rebuilt by its build.sh) cover what
pyelftools gets wrong or cannot do; a few tests also build fresh objects with
the installed compilers and skip, saying so, when there are none.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from orcgen import dwarf, dwarf_expr
from orcgen.dwarf import CFA_EXPR, EXPR, OFFSET, SAME, read_cfi
from orcgen.elf import ElfFile

DWARF = os.path.join(os.path.dirname(__file__), "fixtures", "dwarf")


def load(name: str) -> ElfFile:
    return ElfFile.from_path(os.path.join(DWARF, name))


def fde_named(elf: ElfFile, table, func: str):
    sym = next(s for s in elf.symbols if s.name == func)
    return next(f for f in table.fdes if f.secno == sym.section and f.start == sym.offset)


def rows_by_pc(fde) -> dict:
    """Rows keyed by offset from the FDE's start."""
    return {r.pc - fde.start: r for r in fde.rows}


# -- relocations -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ffs-gcc.o", "ffs-clang.o"])
def test_function_sections_fdes_follow_their_relocations(name):
    """pyelftools says pc=0 for every FDE; the .rela.eh_frame symbol names the section."""
    elf = load(name)
    table = read_cfi(elf)
    assert table.source == ".eh_frame" and not table.problems
    funcs = {s.name: s for s in elf.symbols if s.type == 2}
    assert len(table.fdes) == 5
    for f in table.fdes:
        sec = elf.sections[f.secno]
        name = sec.name[len(".text."):]
        assert sec.name.startswith(".text.") and name in funcs
        assert (f.start, f.end - f.start) == (funcs[name].offset, funcs[name].size)


def test_linked_file_maps_addresses_to_sections():
    elf = load("linked-x86")
    table = read_cfi(elf)
    text = elf.section_by_name(".text")
    starts = sorted(s.offset for s in elf.symbols if s.type == 2)
    assert [f.secno for f in table.fdes] == [text.index] * 5
    assert [f.start for f in table.fdes] == starts


def test_debug_frame_cie_pointers_are_relocated():
    """The FDE for f1 names the second CIE (data alignment -4) through a
    relocation; read against the first CIE its offsets would scale by -8."""
    elf = load("debug-frame-x86.o")
    table = read_cfi(elf)
    assert table.source == ".debug_frame"
    f1 = fde_named(elf, table, "f1")
    row = rows_by_pc(f1)[1]
    assert (row.cfa.reg, row.cfa.offset) == (7, 16)          # def_cfa_sf: -4 * -4
    assert row.rule(3) == dwarf.Rule(OFFSET, -16)            # offset 4 * -4
    f2 = fde_named(elf, table, "f2")
    assert rows_by_pc(f2)[4].rule(6) == dwarf.Rule(OFFSET, -16)   # CIE 1: 2 * -8


def test_prefer_selects_the_section():
    elf = load("cfi-x86.o")
    assert read_cfi(elf, "debug_frame").source is None
    assert read_cfi(elf, "eh_frame").source == ".eh_frame"


# -- what pyelftools' decoder gets wrong -------------------------------------------------

def test_gnu_args_size_is_kept_and_does_not_raise():
    elf = load("cfi-x86.o")
    table = read_cfi(elf)
    fde = fde_named(elf, table, "remember")
    assert any(r.args_size == 16 for r in fde.rows)
    assert not table.problems and not fde.problems


def test_pyelftools_own_decoder_still_fails_on_args_size():
    """Why the reader runs the CFA instructions itself; if this starts passing,
    pyelftools fixed the bug and the workaround could go."""
    from io import BytesIO

    from elftools.dwarf.callframe import FDE, CallFrameInfo
    from elftools.dwarf.structs import DWARFStructs
    elf = load("cfi-x86.o")
    sec = elf.section_by_name(".eh_frame")
    cfi = CallFrameInfo(BytesIO(elf.section_data(sec)), sec.size, 0,
                        DWARFStructs(little_endian=True, dwarf_format=32, address_size=8), True)
    fdes = [e for e in cfi.get_entries() if isinstance(e, FDE)]
    with pytest.raises(Exception):
        for f in fdes:
            f.get_decoded()


def test_def_cfa_sf_uses_the_data_alignment_factor():
    elf = load("cfi-x86.o")
    fde = fde_named(elf, read_cfi(elf), "remember")
    row = rows_by_pc(fde)[1]
    assert (row.cfa.reg, row.cfa.offset) == (7, 16)           # -2 * -8, not -2 * 1
    assert "DW_CFA_def_cfa_sf" in row.cfa_origin.text


def test_remember_restore_state():
    elf = load("cfi-x86.o")
    fde = fde_named(elf, read_cfi(elf), "remember")
    rows = fde.rows
    before = fde.row_at(fde.start + 5)     # after the push: CFA=rsp+16, rbx at cfa-16
    after = next(r for r in rows if r.cfa_origin.text == "DW_CFA_restore_state")
    assert (after.cfa, after.regs) == (before.cfa, before.regs)
    assert after.cfa_origin.via is not None and "def_cfa_sf" in after.cfa_origin.via.text
    epilogue = next(r for r in rows if r.pc < after.pc and r.cfa.offset == 8)
    assert epilogue.rule(3) == dwarf.Rule(SAME)


def test_restore_state_with_nothing_remembered_is_a_problem():
    elf = load("debug-frame-x86.o")
    fde = fde_named(elf, read_cfi(elf), "f1")
    assert any("nothing remembered" in p for p in fde.problems)


def test_negate_ra_state_toggles_and_is_remembered():
    elf = load("pac-arm64.o")
    table = read_cfi(elf)
    (fde,) = table.fdes
    signed = {r.pc: r.ra_signed for r in fde.rows}
    assert signed[0] is False and signed[4] is True
    assert signed[0x18] is False                     # after the first autiasp
    assert signed[0x1c] is True                      # restore_state brings "signed" back
    assert signed[0x28] is False
    assert fde.row_at(0x1c).rule(30) == dwarf.Rule(OFFSET, -8)


def test_window_save_on_x86_is_a_problem():
    elf = load("debug-frame-x86.o")
    fde = fde_named(elf, read_cfi(elf), "f2")
    assert any("window_save" in p for p in fde.problems)


def test_unknown_opcode_is_reported_not_raised():
    table = read_cfi(load("debug-frame-x86.o"))
    assert any("cannot parse" in p for p in table.problems)
    assert len(table.fdes) == 3


def test_corrupt_section_never_raises():
    """Every byte of the CFA programs flipped in turn: the reader reports, never raises."""
    elf = load("cfi-x86.o")
    sec = elf.section_by_name(".eh_frame")
    data = bytearray(elf.data)
    for k in range(0, sec.size, 3):
        d = bytearray(data)
        d[sec.offset + k] ^= 0xFF
        table = read_cfi(ElfFile(bytes(d), "mutant"))
        assert isinstance(table.problems, tuple)


def test_expression_rules_are_kept():
    elf = load("cfi-x86.o")
    fde = fde_named(elf, read_cfi(elf), "expr_cfa")
    row = fde.row_at(fde.start + 1)
    assert row.cfa.reg == CFA_EXPR and row.cfa.expr[:2] == b"\x77\x08"


# -- expressions ------------------------------------------------------------------

def test_expression_text():
    assert dwarf_expr.text(b"\x76\x78\x06") == "DW_OP_breg6 (r6): -8; DW_OP_deref"
    assert dwarf_expr.text(b"\xff") == "<unknown opcode 0xff>"


@pytest.mark.parametrize("expr,initial,want", [
    (b"\x76\x78\x06", None, dwarf_expr.Value(6, -8, True, 0)),             # GCC DRAP CFA
    (b"\x76\x70", dwarf_expr.Value(-2, 0), dwarf_expr.Value(6, -16)),       # DRAP register save
    (b"\x77\x08\x23\x10", None, dwarf_expr.Value(7, 24)),                   # breg7 8; plus_uconst 16
    (b"\x77\x00\x06\x23\x08", None, dwarf_expr.Value(7, 0, True, 8)),       # *(rsp) + 8
    (b"\x9c\x38\x1c", None, dwarf_expr.Value(-2, -8)),                      # cfa; lit8; minus
    (b"\x77\x08\x28\x00\x00", None, None),                                  # a branch: not reduced
    (b"\x77\x00\x76\x00\x22", None, None),                                  # rsp + rbp: not reduced
    (b"\x77", None, None),                                                  # truncated
    (b"", None, None),
])
def test_expression_evaluate(expr, initial, want):
    assert dwarf_expr.evaluate(expr, initial) == want


# -- fresh objects from the installed compilers -----------------------------------------

CC_CASES = [("gcc", ["-O2"]), ("clang-19", ["-O2"])]


@pytest.mark.parametrize("cc,flags", CC_CASES)
def test_fresh_function_sections_object(tmp_path, cc, flags):
    if shutil.which(cc) is None:
        pytest.skip("%s is not installed: the committed ffs-*.o cover this case" % cc)
    src = os.path.join(DWARF, "ffs.c")
    out = tmp_path / "ffs.o"
    subprocess.run([cc, *flags, "-ffunction-sections", "-fasynchronous-unwind-tables", "-fno-pic",
                    "-ffreestanding", "-nostdinc", "-c", src, "-o", str(out)], check=True)
    elf = ElfFile.from_path(str(out))
    table = read_cfi(elf)
    names = sorted(elf.sections[f.secno].name for f in table.fdes)
    assert names == sorted(".text." + n for n in ("_start", "helper", "leaf", "nonleaf", "with_saves"))
    assert all(f.start == 0 and f.rows for f in table.fdes)


def test_fresh_debug_frame_with_expressions(tmp_path):
    """GCC's stack realignment with -g and no .eh_frame: .debug_frame with a CFA
    expression; the reader keeps it, the diff reduces it to *(rbp-8)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: debug-frame-x86.o covers .debug_frame relocation")
    src = tmp_path / "drap.c"
    src.write_text("void g(void *, void *);\nint f(int n) { char big[64] __attribute__((aligned(64)));"
                   " char v[n]; g(big, v); return 0; }\n")
    out = tmp_path / "drap.o"
    subprocess.run(["gcc", "-O2", "-g", "-fno-asynchronous-unwind-tables", "-fomit-frame-pointer",
                    "-mno-red-zone", "-c", str(src), "-o", str(out)], check=True)
    elf = ElfFile.from_path(str(out))
    table = read_cfi(elf)
    assert table.source == ".debug_frame"
    exprs = [r for f in table.fdes for r in f.rows if r.cfa.reg == CFA_EXPR]
    regs = [rule for f in table.fdes for r in f.rows for _, rule in r.regs if rule.kind == EXPR]
    if not exprs:
        pytest.skip("this gcc realigned without a CFA expression")
    assert dwarf_expr.evaluate(exprs[0].cfa.expr) is not None
    assert all(dwarf_expr.evaluate(r.expr, dwarf_expr.Value(-2, 0)) is not None for r in regs)
