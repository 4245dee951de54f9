# SPDX-License-Identifier: GPL-2.0-only
"""arm64 writes to SP and x29 that the unwind model cannot follow: each one is
decoded as Src.UNKNOWN and reported by the `stack-writes` check at its address,
while the modelled prologue/epilogue instructions are not.

Every instruction word below was produced by llvm-mc-19 from the text next to
it (test_words_are_what_the_assembler_makes re-checks that where llvm-mc-19 is
installed); each is placed in a function with a frame record,

    f:  stp x29, x30, [sp, #-16]! ; mov x29, sp ; INSN ; ldp x29, x30, [sp], #16 ; ret

so that a finding must be at f+0x8.  Register number 31 is SP only where the
encoding says so; as a load's or an atomic's destination it is XZR (see NOT_WRITES).
tests/fixtures/stack_writes/stack_writes.o (clang-19's assembler output, with
mapping symbols and a literal pool) checks the same on a real object, and
tests/a64writes.py compares the decoder with LLVM's disassembler word by word.
"""
import os
import shutil
import struct
import subprocess

import pytest
from conftest import FIXTURES
from elfbuild import ElfBuilder

from orcgen.arch.arm64 import BACKEND
from orcgen.checks import select
from orcgen.elf import ElfFile
from orcgen.insn import Dest, Src, StackOp
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

SP, FP = 31, 29
SPW, FPW = "unmodelled-sp-write", "unmodelled-fp-write"
STP, MOV_FP_SP, LDP, RET = 0xA9BF7BFD, 0x910003FD, 0xA8C17BFD, 0xD65F03C0

# (word, assembler text, the finding's kind)
WRITES = [
    (0x043F57DF, "addvl sp, sp, #-2", SPW),
    (0x047F507F, "addpl sp, sp, #3", SPW),
    (0x043F503D, "addvl x29, sp, #1", FPW),
    (0x043F583F, "addsvl sp, sp, #1", SPW),
    (0x04BF503D, "rdvl x29, #1", FPW),
    (0x0420E3FD, "cntb x29", FPW),
    (0x0430E3FD, "incb x29", FPW),
    (0x0430F7FD, "uqincb x29", FPW),
    (0x2520803D, "cntp x29, p0, p1.b", FPW),
    (0x252C883D, "incp x29, p1.b", FPW),
    (0x25288C3D, "sqincp x29, p1.b", FPW),
    (0x05E0A03D, "lasta x29, p0, z1.d", FPW),
    (0x05F0A03D, "clasta x29, p0, x29, z1.d", FPW),
    (0xC04C13FD, "movt x29, zt0[8]", FPW),
    (0x110043FF, "add wsp, wsp, #16", SPW),
    (0x5100401F, "sub wsp, w0, #16", SPW),
    (0x0B21401F, "add wsp, w0, w1, uxtw", SPW),
    (0x12000C1F, "and wsp, w0, #0xf", SPW),
    (0x32000FFF, "orr wsp, wzr, #0xf", SPW),
    (0xB100041D, "adds x29, x0, #1", FPW),
    (0xF240001D, "ands x29, x0, #1", FPW),
    (0xEB21401D, "subs x29, x0, w1, uxtw", FPW),
    (0x918107FF, "addg sp, sp, #16, #1", SPW),
    (0xD181041F, "subg sp, x0, #16, #1", SPW),
    (0x9ADF13FF, "irg sp, sp", SPW),
    (0x9E66001D, "fmov x29, d0", FPW),
    (0x1E26001D, "fmov w29, s0", FPW),
    (0x9EAE001D, "fmov x29, v0.d[1]", FPW),
    (0x9E78001D, "fcvtzs x29, d0", FPW),
    (0x1E19F41D, "fcvtzu w29, s0, #3", FPW),
    (0x1E7E001D, "fjcvtzs w29, d0", FPW),
    (0x0E033C1D, "umov w29, v0.b[1]", FPW),
    (0x4E062C1D, "smov x29, v0.h[1]", FPW),
    (0x4E183C1D, "mov x29, v0.d[1]", FPW),
    (0xD538D09D, "mrs x29, tpidr_el1", FPW),
    (0xD528127D, "sysl x29, #0, c1, c2, #3", FPW),
    (0xD52B773D, "gcspopm x29", FPW),
    (0xD523307D, "tstart x29", FPW),
    (0xD578127C, "mrrs x28, x29, s3_0_c1_c2_3", FPW),
    (0xD50041BF, "msr spsel, #1", SPW),
    (0xD5184200, "msr spsel, x0", SPW),
    (0xC85F7C1D, "ldxr x29, [x0]", FPW),
    (0x885FFC1D, "ldaxr w29, [x0]", FPW),
    (0xC8DFFC1D, "ldar x29, [x0]", FPW),
    (0xC8DF7C1D, "ldlar x29, [x0]", FPW),
    (0xC87F041D, "ldxp x29, x1, [x0]", FPW),
    (0xC87FF401, "ldaxp x1, x29, [x0]", FPW),
    (0xC81D7C01, "stxr w29, x1, [x0]", FPW),
    (0xC83D8801, "stlxp w29, x1, x2, [x0]", FPW),
    (0xF8BFC01D, "ldapr x29, [x0]", FPW),
    (0x38BFC01D, "ldaprb w29, [x0]", FPW),
    (0xD940801D, "ldapur x29, [x0, #8]", FPW),
    (0x9980801D, "ldapursw x29, [x0, #8]", FPW),
    (0xC8BD7C01, "cas x29, x1, [x0]", FPW),
    (0xC8FD7C01, "casa x29, x1, [x0]", FPW),
    (0xC8FDFC01, "casal x29, x1, [x0]", FPW),
    (0x08BD7C01, "casb w29, w1, [x0]", FPW),
    (0x483C7C40, "casp x28, x29, x0, x1, [x2]", FPW),
    (0xF820803D, "swp x0, x29, [x1]", FPW),
    (0xF8A0803D, "swpa x0, x29, [x1]", FPW),
    (0xF820003D, "ldadd x0, x29, [x1]", FPW),
    (0xF8E0103D, "ldclral x0, x29, [x1]", FPW),
    (0x7820403D, "ldsmaxh w0, w29, [x1]", FPW),
    (0xF83FD016, "ld64b x22, [x0]", FPW),
    (0xF83DB020, "st64bv x29, x0, [x1]", FPW),
    (0x1921101D, "ldclrp x29, x1, [x0]", FPW),
    (0x193D8020, "swpp x0, x29, [x1]", FPW),
    (0x193D0801, "rcwcas x29, x1, [x0]", FPW),
    (0x3820903D, "rcwclr x0, x29, [x1]", FPW),
    (0x5800005D, "ldr x29, #8", FPW),
    (0x1800005D, "ldr w29, #8", FPW),
    (0x9800005D, "ldrsw x29, #8", FPW),
    (0xB980001D, "ldrsw x29, [x0]", FPW),
    (0xB9800BFD, "ldrsw x29, [sp, #8]", FPW),
    (0x79C0041D, "ldrsh w29, [x0, #2]", FPW),
    (0x389FF01D, "ldursb x29, [x0, #-1]", FPW),
    (0xB880441D, "ldrsw x29, [x0], #4", FPW),
    (0xB880081D, "ldtrsw x29, [x0]", FPW),
    (0x38A1681D, "ldrsb x29, [x0, x1]", FPW),
    (0xB8A1681D, "ldrsw x29, [x0, x1]", FPW),
    (0xF820041D, "ldraa x29, [x0]", FPW),
    (0xF8FFFC1D, "ldrab x29, [x0, #-8]!", FPW),
    (0xF8201FE0, "ldraa x0, [sp, #8]!", SPW),
    (0xF8201FA0, "ldraa x0, [x29, #8]!", FPW),
    (0xD960001D, "ldg x29, [x0]", FPW),
    (0xD9E0001D, "ldgm x29, [x0]", FPW),
    (0xD9A02FA0, "st2g x0, [x29, #32]!", FPW),
    (0x4CDF73E0, "ld1 {v0.16b}, [sp], #16", SPW),
    (0x4CC173E0, "ld1 {v0.16b}, [sp], x1", SPW),
    (0x0D9F93E0, "st1 {v0.s}[1], [sp], #4", SPW),
    (0x4DDFCBA0, "ld1r {v0.4s}, [x29], #4", FPW),
    (0xD941181D, "ldiapp x29, x1, [x0]", FPW),
    (0xD9420BE1, "ldiapp x1, x2, [sp], #16", SPW),
    (0xD9020BE1, "stilp x1, x2, [sp, #-16]!", SPW),
    (0xD9C00BE0, "ldapr x0, [sp], #8", SPW),
    (0xD9800BE0, "stlr x0, [sp, #-8]!", SPW),
    (0x1901045D, "cpyfp [x29]!, [x1]!, x2!", FPW),
    (0x19C207A0, "setp [x0]!, x29!, x2", FPW),
]

# Neighbours of the above that write neither SP nor x29 (or do so in a modelled way)
NOT_WRITES = [
    (0xA9BF7BFD, "stp x29, x30, [sp, #-16]!"),
    (0x910003FD, "mov x29, sp"),
    (0x910043FD, "add x29, sp, #16"),
    (0xA8C17BFD, "ldp x29, x30, [sp], #16"),
    (0xD10103FF, "sub sp, sp, #64"),
    (0xF10043FF, "cmp sp, #16"),
    (0x110043E0, "add w0, wsp, #16"),
    (0xC85F7C1F, "ldxr xzr, [x0]"),
    (0xC89FFC1D, "stlr x29, [x0]"),
    (0xF83D001F, "stadd x29, [x0]"),
    (0xF83D0020, "ldadd x29, x0, [x1]"),
    (0xC8A07C3D, "cas x0, x29, [x1]"),
    (0x9E6703A0, "fmov d0, x29"),
    (0x9E660000, "fmov x0, d0"),
    (0xD538D080, "mrs x0, tpidr_el1"),
    (0xD5184100, "msr sp_el0, x0"),
    (0xF900001D, "str x29, [x0]"),
    (0xF83F9016, "st64b x22, [x0]"),
    (0x58000040, "ldr x0, #8"),
    (0xD920001D, "stzgm x29, [x0]"),
    (0xF9400BA0, "ldr x0, [x29, #16]"),
    (0xB9800BE0, "ldrsw x0, [sp, #8]"),
    (0x043F5020, "addvl x0, sp, #1"),
    (0x04BF5020, "rdvl x0, #1"),
    (0x0420E3E0, "cntb x0"),
    (0x9ADF13E0, "irg x0, sp"),
    (0x918107E0, "addg x0, sp, #16, #1"),
    (0xD93FFFFF, "stg sp, [sp, #-16]!"),
    (0xDAC103FE, "pacia x30, sp"),
    (0xDAC113FE, "autia x30, sp"),
]

LLVM_MC = "llvm-mc-19"
ATTRS = ("+sve,+sve2,+sme,+sme2,+mte,+lse,+rcpc,+rcpc-immo,+rcpc3,+mops,+lse128,+the,+d128,"
         "+gcs,+pauth,+ls64,+tme,+jsconv,+v9.4a")


def words(*ws):
    return b"".join(struct.pack("<I", w) for w in ws)


def analyse(word, opts=None):
    b = ElfBuilder(machine=183)
    code = words(STP, MOV_FP_SP, word, LDP, RET)
    b.section(".text", code)
    b.func("f", ".text", 0, len(code))
    res = analyze_elf(ElfFile(b.build(), "a.o"), opts or Options(), checks=select("check"))
    return [(f.kind, f.where) for f in res.findings if f.check == "stack-writes"], res


@pytest.mark.parametrize("word,text,kind", WRITES, ids=[t for _, t, _ in WRITES])
def test_unmodelled_write_is_reported(word, text, kind):
    got, _ = analyse(word)
    assert got == [(kind, "f+0x8")]


@pytest.mark.parametrize("word,text,kind", WRITES, ids=[t for _, t, _ in WRITES])
def test_unmodelled_write_is_an_unknown_op(word, text, kind):
    insns, _ = BACKEND.decode_section(words(word), lambda off: True)
    reg = SP if kind == SPW else FP
    assert StackOp(Src.UNKNOWN, Dest.REG, dest_reg=reg) in insns[0].ops


@pytest.mark.parametrize("word,text", NOT_WRITES, ids=[t for _, t in NOT_WRITES])
def test_modelled_or_harmless_instruction_is_not_reported(word, text):
    got, _ = analyse(word)
    assert got == []
    insns, _ = BACKEND.decode_section(words(word), lambda off: True)
    assert all(op.src != Src.UNKNOWN for op in insns[0].ops)


def test_the_message_names_register_and_instruction():
    _, res = analyse(0xC85F7C1D)                                    # ldxr x29, [x0]
    f = [f for f in res.findings if f.check == "stack-writes"]
    assert len(f) == 1 and f[0].message.startswith("frame pointer x29 changed by `ldxr")
    assert (f[0].location.function, f[0].location.func_offset) == ("f", 8)


def test_the_interpreter_skips_unknown_ops():
    # addvl sp, sp, #-2 is reported, but the interpreter (like objtool) keeps its state:
    # the ORC is that of the function without it
    _, with_addvl = analyse(0x043F57DF)
    _, with_nop = analyse(0xD503201F)
    assert [r.text() for r in with_addvl.orc] == [r.text() for r in with_nop.orc]


# pacia/pacib x30, sp is paciasp/pacibsp in the general encoding, and paciza x30
# is paciaz (zero modifier), which decode.py already models as signing.
PAC = [(0xDAC103FE, 1), (0xDAC107FE, 1),        # pacia x30, sp; pacib x30, sp
       (0xDAC123FE, 1), (0xDAC127FE, 1),        # paciza x30; pacizb x30
       (0xDAC113FE, 0), (0xDAC117FE, 0),        # autia x30, sp; autib x30, sp
       (0xDAC133FE, 0), (0xDAC137FE, 0)]        # autiza x30; autizb x30


@pytest.mark.parametrize("word,signed", PAC, ids=["%08x" % w for w, _ in PAC])
def test_pac_with_sp_modifier_is_modelled_as_the_hint_form(word, signed):
    insns, _ = BACKEND.decode_section(words(word), lambda off: True)
    assert insns[0].ops == (StackOp(Src.CONST, Dest.RA_SIGN, src_off=signed),)


def test_pac_with_another_modifier_is_not_the_hint_form():
    # pacia x30, x1: signed with x1, not SP; not what paciasp means to an unwinder
    insns, _ = BACKEND.decode_section(words(0xDAC1003E), lambda off: True)
    assert insns[0].ops == ()


def test_pacia_x30_sp_function_equals_paciasp_function():
    def orc_and_findings(sign, auth):
        b = ElfBuilder(machine=183)
        code = words(sign, STP, MOV_FP_SP, LDP, auth, RET)
        b.section(".text", code)
        b.func("f", ".text", 0, len(code))
        res = analyze_elf(ElfFile(b.build(), "a.o"), Options(stackval=True), keep_program=True)
        return [r.text() for r in res.orc], [f.message for f in res.findings], \
            [c.ra_signed for c in res.program.cfi]
    hint = orc_and_findings(0xD503233F, 0xD50323BF)                 # paciasp, autiasp
    assert orc_and_findings(0xDAC103FE, 0xDAC113FE) == hint          # pacia x30, sp; autia x30, sp
    assert hint[1] == [] and hint[2] == [False, True, True, True, True, False]


def test_stg_writeback_moves_sp():
    # stg sp, [sp, #-16]!: SP -= 16, a tag stored, no register saved
    insns, _ = BACKEND.decode_section(words(0xD93FFFFF), lambda off: True)
    assert insns[0].ops == (StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=-16, dest_reg=SP),)


@pytest.mark.skipif(shutil.which(LLVM_MC) is None, reason="llvm-mc-19 is not installed")
def test_words_are_what_the_assembler_makes():
    rows = [(w, t) for w, t, _ in WRITES] + NOT_WRITES + [(0xDAC127FE, "pacizb x30"),
                                                         (0xDAC137FE, "autizb x30")]
    r = subprocess.run([LLVM_MC, "-triple=aarch64", "-mattr=" + ATTRS, "-show-encoding"],
                       input="\n".join(t for _, t in rows) + "\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = []
    for line in r.stdout.splitlines():
        if "encoding: [" in line:
            b = [int(x, 16) for x in line.split("encoding: [")[1].rstrip("]").split(",")]
            got.append(b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24)
    assert ["%08x %s" % (w, t) for w, t in rows] == ["%08x %s" % (w, t) for w, (_, t) in zip(got, rows)]


@pytest.mark.skipif(shutil.which(LLVM_MC) is None, reason="llvm-mc-19 is not installed")
@pytest.mark.parametrize("seed", [1, 2])
def test_writes_agree_with_llvm_near_the_real_encodings(seed):
    # 20000 words: random ones with a register field at 29/31, and the words above with
    # up to three bits flipped; llvm-mc-19 disassembles them (tests/a64writes.py)
    import a64writes
    res = a64writes.compare(a64writes.near([w for w, *_ in WRITES + NOT_WRITES], 20000, seed))
    assert res["missed"] == [] and res["extra"] == []
    assert ["%08x" % w for w in res["invalid"]] == []      # no unknown write from a non-instruction


FIXTURE = os.path.join(FIXTURES, "stack_writes", "stack_writes.o")   # from stack_writes.S (build.sh)
FIXTURE_WRITES = [
    (SPW, "sw_addvl+0x8"), (SPW, "sw_addvl+0xc"),                    # addvl sp, sp, #-2 / #2
    (FPW, "sw_literal+0x8"),                                         # ldr x29, =... (not the pool word)
    (FPW, "sw_misc+0x8"), (FPW, "sw_misc+0xc"), (FPW, "sw_misc+0x10"),  # ldxr, mrs, fmov
    (SPW, "sw_misc+0x14"), (FPW, "sw_misc+0x18"), (FPW, "sw_misc+0x1c"),  # add wsp, ldadd, cas
]


@pytest.mark.parametrize("opts", [Options(), Options(stackval=True)], ids=["default", "stackval"])
def test_assembled_object_reports_exactly_the_unmodelled_writes(opts):
    # sw_clean (pacia/autia x30, sp, ldr xzr, stadd x29) has none; the literal pool word
    # 0x5800005d (ldr x29, #8 if it were code) is data under a $d mapping symbol
    res = analyze_elf(ElfFile.from_path(FIXTURE), opts, checks=select("check"))
    assert [(f.kind, f.where) for f in res.findings if f.check == "stack-writes"] == FIXTURE_WRITES
    assert [f.where for f in res.findings if f.check != "stack-writes"] == []
