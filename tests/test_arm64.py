# SPDX-License-Identifier: GPL-2.0-only
"""The arm64 back-end: decoding, the interpreter on hand-assembled AAPCS64 code,
frame-record validation, and the fixtures' findings (each read and confirmed)."""
import glob
import os
import struct

import pytest
from conftest import FIXTURES
from elfbuild import ElfBuilder

from orcgen.arch.arm64 import BACKEND
from orcgen.backend import CFA, UNDEFINED
from orcgen.elf import ElfFile
from orcgen.insn import Dest, Kind, Src, StackOp
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

SP, FP, LR = 31, 29, 30


def words(*ws):
    return b"".join(struct.pack("<I", w) for w in ws)


DECODE = [
    (0xA9BF7BFD, Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=-16, dest_reg=SP),
                                 StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=FP, dest_reg=SP, dest_off=0),
                                 StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=LR, dest_reg=SP, dest_off=8)]),
    (0xA8C17BFD, Kind.OTHER, 0, [StackOp(Src.REG_INDIRECT, Dest.REG, src_reg=SP, src_off=0, dest_reg=FP),
                                 StackOp(Src.REG_INDIRECT, Dest.REG, src_reg=SP, src_off=8, dest_reg=LR),
                                 StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=16, dest_reg=SP)]),
    (0x910003FD, Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=SP, dest_reg=FP)]),          # mov x29, sp
    (0x910083FD, Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=32, dest_reg=FP)]),  # add x29, sp, #32
    (0x910003BF, Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=FP, dest_reg=SP)]),          # mov sp, x29
    (0xD10103FF, Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=-64, dest_reg=SP)]),  # sub sp, sp, #64
    (0xD14007FF, Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=-4096, dest_reg=SP)]),  # sub sp, sp, #1, lsl #12
    (0xA90153F3, Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=19, dest_reg=SP, dest_off=16),
                                 StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=20, dest_reg=SP, dest_off=24)]),
    (0xF9000BFC, Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=28, dest_reg=SP, dest_off=16)]),  # str x28, [sp, #16]
    (0xF81F0FFE, Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=-16, dest_reg=SP),
                                 StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=LR, dest_reg=SP, dest_off=0)]),  # str x30, [sp, #-16]!
    (0x6DBF27E8, Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=-16, dest_reg=SP),
                                 StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=72, dest_reg=SP, dest_off=0),
                                 StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=73, dest_reg=SP, dest_off=8)]),  # stp d8, d9, [sp, #-16]!
    (0xD503233F, Kind.OTHER, 0, [StackOp(Src.CONST, Dest.RA_SIGN, src_off=1)]),                # paciasp
    (0xD50323BF, Kind.OTHER, 0, [StackOp(Src.CONST, Dest.RA_SIGN, src_off=0)]),                # autiasp
    (0xD503245F, Kind.ENDBR, 0, []),                                                           # bti c
    (0xD503201F, Kind.NOP, 0, []),
    (0xD65F03C0, Kind.RETURN, 0, []),
    (0xD65F0BFF, Kind.RETURN, 0, [StackOp(Src.CONST, Dest.RA_SIGN, src_off=0)]),               # retaa
    (0xD61F0020, Kind.JUMP_DYNAMIC, 0, []),                                                    # br x1
    (0xD63F0020, Kind.CALL_DYNAMIC, 0, []),                                                    # blr x1
    (0x94000003, Kind.CALL, 8, []),                                                            # bl .+12
    (0x17FFFFFF, Kind.JUMP_UNCOND, -8, []),                                                    # b .-4
    (0x54000040, Kind.JUMP_COND, 4, []),                                                       # b.eq .+8
    (0xB4000040, Kind.JUMP_COND, 4, []),                                                       # cbz x0, .+8
    (0x36000040, Kind.JUMP_COND, 4, []),                                                       # tbz w0, #0, .+8
    (0xD4210000, Kind.BUG, 0, []),                                                             # brk #0x800
    (0xD69F03E0, Kind.CONTEXT_SWITCH, 0, []),                                                  # eret
    (0xAA0003FD, Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=0, dest_reg=FP)]),         # mov x29, x0
    (0x927AE53F, Kind.OTHER, 0, [StackOp(Src.AND, Dest.REG, src_reg=9, dest_reg=SP)]),         # and sp, x9, #~63
    (0x8B000000, Kind.OTHER, 0, []),                                                           # add x0, x0, x0
]


@pytest.mark.parametrize("word,kind,imm,ops", DECODE, ids=["%08x" % d[0] for d in DECODE])
def test_decode(word, kind, imm, ops):
    insns, failure = BACKEND.decode_section(words(word), lambda off: True)
    assert failure is None
    assert (insns[0].kind, insns[0].immediate, list(insns[0].ops)) == (kind, imm, ops)


def test_materialised_frame_size():
    # mov x16, #4384 ; sub sp, sp, x16
    insns, _ = BACKEND.decode_section(words(0xD2822410, 0xCB3063FF), lambda off: True)
    assert insns[1].ops == (StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=-4384, dest_reg=SP),)


def test_unknown_sp_write_is_explicit():
    # sub sp, sp, x0 (a dynamic allocation): SP becomes "unknown", never silently kept
    insns, _ = BACKEND.decode_section(words(0xCB2063FF), lambda off: True)
    assert insns[0].ops[0].dest_reg == SP and insns[0].ops[0].src_reg == 32


R_AARCH64_CALL26 = 283


def run(*ws, opts=None):
    """Analyse the words as function f; every `bl` calls the external function g."""
    b = ElfBuilder(machine=183)
    text = b.section(".text", words(*ws))
    text.relocs.extend((4 * k, R_AARCH64_CALL26, "g", 0) for k, w in enumerate(ws)
                       if w >> 26 == 0b100101)
    b.func("f", ".text", 0, 4 * len(ws))
    b.extern("g")
    return analyze_elf(ElfFile(b.build(), "a.o"), opts or Options(stackval=True), keep_program=True)


def state(res, k):
    c = res.program.cfi[k]
    return (c.cfa_base, c.cfa_offset, c.reg(FP), c.reg(LR), c.ra_signed)


def test_gcc_prologue_epilogue():
    res = run(0xD503233F, 0xA9BF7BFD, 0x910003FD, 0x94000000, 0xA8C17BFD, 0xD50323BF, 0xD65F03C0)
    assert [f.message for f in res.findings] == []
    assert state(res, 0) == (SP, 0, (UNDEFINED, 0), (UNDEFINED, 0), False)
    assert state(res, 2) == (SP, 16, (CFA, -16), (CFA, -8), True)
    assert state(res, 3) == (FP, 16, (CFA, -16), (CFA, -8), True)       # bl with a frame record
    assert state(res, 5) == (SP, 0, (UNDEFINED, 0), (UNDEFINED, 0), True)
    assert state(res, 6) == (SP, 0, (UNDEFINED, 0), (UNDEFINED, 0), False)
    assert [r.text() for r in res.orc] == [
        ".text+0:type:call sp:sp+0 fp:(und) ra:lr signal:0",
        ".text+8:type:call sp:sp+16 fp:prevsp-16 ra:prevsp-8 signal:0",
        ".text+c:type:call sp:fp+16 fp:prevsp-16 ra:prevsp-8 signal:0",
        ".text+14:type:call sp:sp+0 fp:(und) ra:lr signal:0",
        ".text+1c:type:(und) sp:(und) fp:(und) ra:(und) signal:0"]


def test_clang_prologue_with_record_above_locals():
    # sub sp, sp, #48 ; stp x29, x30, [sp, #32] ; add x29, sp, #32 ; bl ; ldp x29, x30, [sp, #32] ; add sp, sp, #48 ; ret
    res = run(0xD100C3FF, 0xA9027BFD, 0x910083FD, 0x94000000, 0xA9427BFD, 0x9100C3FF, 0xD65F03C0)
    assert [f.message for f in res.findings] == []
    assert state(res, 3)[:2] == (FP, 16)
    assert state(res, 5)[:2] == (SP, 48)
    assert state(res, 6)[:2] == (SP, 0)


def test_call_before_frame_record():
    res = run(0x94000000, 0xD65F03C0)
    assert [f.message for f in res.findings] == ["call without frame pointer save/setup"]


def test_frame_pointer_without_record():
    # stp x19, x20, [sp, #-16]! ; mov x29, sp  -> x29 does not point at {x29, x30}
    res = run(0xA9BF53F3, 0x910003FD, 0xA8C153F3, 0xD65F03C0)
    assert len(res.findings) == 1
    assert res.findings[0].message.startswith("frame pointer set to sp+0 (cfa-16), but no frame record is there")


def test_return_address_signing_must_agree_at_joins():
    # paciasp on one path only: cbz x0 skips it
    res = run(0xB4000040, 0xD503233F, 0xD65F03C0)
    assert [f.message for f in res.findings] == [
        "stack state mismatch: return address not signed on one path, signed on another"]


ARM64 = sorted(glob.glob(os.path.join(FIXTURES, "arm64", "*-fp*.o")))
# Findings read and confirmed in the fixtures' code (see tests/fixtures/src):
EXPECTED = {
    # computed gotos whose target goes through memory or a table objtool would refuse too
    ("cgoto", "sibling call from callable instruction with modified stack frame"),
    # nr_unknown_extern() / nr_unreachable_after_call() call noreturn functions orcgen cannot
    # know about (an unknown extern, a global without the attribute), as objtool on x86
    ("noreturn", "falls through to next function"),
    ("noreturn", "unreachable instruction"),
    ("noreturn", "is missing a __noreturn annotation"),
}


@pytest.mark.parametrize("obj", ARM64, ids=[os.path.basename(o) for o in ARM64])
def test_fixture_findings_are_the_confirmed_ones(obj):
    res = analyze_elf(ElfFile.from_path(obj), Options(stackval=True))
    src = os.path.basename(obj).split("-")[0]
    for f in res.findings:
        assert any(src == s and text in f.message for s, text in EXPECTED), f.line(obj)
    assert res.orc, "every fixture has code to describe"


def test_frame_pointer_used_as_scratch_is_reported_at_the_write():
    # stp x29, x30, [sp, #-16]! ; ldr w29, [x0] ; ldp x29, x30, [sp], #16 ; ret  (no mov x29, sp)
    res = run(0xA9BF7BFD, 0xB940001D, 0xA8C17BFD, 0xD65F03C0)
    assert [(f.where, f.message) for f in res.findings] == [
        ("f+0x4", "frame pointer x29 used as a scratch register")]
    assert run(0xA9BF7BFD, 0xB940001D, 0xA8C17BFD, 0xD65F03C0, opts=Options()).findings == []
