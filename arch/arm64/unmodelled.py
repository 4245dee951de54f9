# SPDX-License-Identifier: GPL-2.0-only
"""arm64 encodings that write SP or x29 outside the classes decode.py models.

The unwind model follows the stack pointer through add/sub, pre/post-indexed
loads and stores, and the frame pointer through `mov x29, sp`-like moves.  Many
other encodings can write either register: SVE/SME `addvl sp, sp, #-2`, a
32-bit `add wsp, wsp, #16`, `fmov x29, d0`, `mrs x29, ...`, exclusive and
atomic loads, compare-and-swap (which writes its *compare* register), a
structure load post-indexed on SP.  None of them is a stack operation the model
can express, so each becomes Src.UNKNOWN for the register it writes: the
interpreter skips it (objtool's decoder is silent too) and the `stack-writes`
check reports it.

Register number 31 means SP only where the encoding says so (Rd of add/sub
immediate and extended, logical immediate, addg/subg, irg, addvl/addpl, a
base register written back); everywhere else, e.g. a load's Rt, it is XZR, and
writing XZR writes nothing.  Every mask below is from the Arm ARM (A64
encoding index) and was checked against llvm-mc-19's assembler; the tests in
tests/test_stack_writes_arm64.py carry the instruction words.
"""
from __future__ import annotations

from orcgen.insn import Dest, Src, StackOp

SP, FP = 31, 29

UNK_SP = (StackOp(Src.UNKNOWN, Dest.REG, dest_reg=SP),)
UNK_FP = (StackOp(Src.UNKNOWN, Dest.REG, dest_reg=FP),)
UNK_BOTH = UNK_SP + UNK_FP
NONE: tuple[StackOp, ...] = ()


def unknown(sp: bool, fp: bool) -> tuple[StackOp, ...]:
    """The Src.UNKNOWN ops for an instruction that writes SP and/or x29."""
    if sp:
        return UNK_BOTH if fp else UNK_SP
    return UNK_FP if fp else NONE


def _gp(w: int, *fields: int) -> bool:
    """Whether any general-register field (bit position) of `w` names x29."""
    return any((w >> f) & 31 == FP for f in fields)


# -- loads and stores -------------------------------------------------------------

def load_store(w: int) -> tuple[StackOp, ...]:
    """Writes of SP/x29 by load/store classes decode.py does not model (the caller
    has already handled pairs, unsigned-offset, unscaled and pre/post-indexed
    single registers)."""
    rt, rn = w & 31, (w >> 5) & 31
    if (w & 0x3F000000) == 0x08000000:                  # load/store exclusive, ordered, CAS
        return unknown(False, _exclusive_writes_fp(w))
    if (w & 0x3B000000) == 0x18000000:                  # ldr/ldrsw (literal), prfm
        return unknown(False, not (w >> 26) & 1 and w >> 30 != 3 and rt == FP)
    if (w & 0xFF200400) == 0xF8200400:                  # ldraa/ldrab, W: pre-index writeback
        wb = (w >> 11) & 1
        return unknown(wb and rn == SP, rt == FP or (wb and rn == FP))
    if (w & 0x3F200C00) == 0x38200000:                  # atomic memory operations (LSE, RCW)
        return unknown(False, _atomic_writes_fp(w))
    if (w & 0x3F200C00) == 0x19000000:                  # ldapur*/stlur (RCpc, unscaled)
        return unknown(False, (w >> 22) & 3 != 0 and rt == FP)
    if (w & 0x3F200C00) == 0x19000800:                  # ldiapp/stilp, ldapr/stlr writeback (RCpc3)
        load, pair, wb = (w >> 22) & 1, not (w >> 23) & 1, not (w >> 12) & 1
        return unknown(wb and rn == SP,
                       (load and (rt == FP or (pair and _gp(w, 16)))) or (wb and rn == FP))
    if (w & 0x3B200C00) == 0x19000400:                  # cpy*/set* (MOPS): all three registers move
        fields = (0, 5) if (w >> 22) & 3 == 3 else (0, 5, 16)
        return unknown(False, _gp(w, *fields))
    if (w & 0xBF200C00) == 0x19200000:                  # 128-bit atomics (LSE128): Rt, Rt2
        return unknown(False, _gp(w, 0, 16))
    if (w & 0xBF20F800) == 0x19200800:                  # rcwcas(p): the compare register(s)
        return unknown(False, _gp(w, 16) or ((w >> 10) & 1 and (w >> 16) & 31 == FP - 1))
    if (w & 0xFF200000) == 0xD9200000:                  # memory tags (MTE)
        opc, op2 = (w >> 22) & 3, (w >> 10) & 3
        if op2 == 0:                                    # ldg, ldgm load a tag into Rt
            return unknown(False, opc in (1, 3) and rt == FP)
        # stg/stzg/st2g/stz2g: post (1) and pre (3) index write Rn back; SP is
        # handled by the caller as an SP adjustment
        return unknown(False, op2 in (1, 3) and rn == FP)
    if (w & 0xBFA00000) == 0x0C800000 or (w & 0xBF800000) == 0x0D800000:
        return unknown(rn == SP, rn == FP)              # ld1-4/st1-4 (structures), post-index
    return NONE


def _exclusive_writes_fp(w: int) -> bool:
    """ldxr/ldaxr/ldar/ldlar write Rt (ldxp/ldaxp Rt, Rt2); stxr/stxp write the
    status register Rs; cas* writes Rs, casp* Rs and Rs+1."""
    o2, load, o1 = (w >> 23) & 1, (w >> 22) & 1, (w >> 21) & 1
    rs = (w >> 16) & 31
    if not o1:
        if o2:                                          # ldar/ldlar, stlr/stllr
            return bool(load) and w & 31 == FP
        return _gp(w, 0) if load else rs == FP          # ldxr/ldaxr, stxr/stlxr
    if o2:                                              # cas, casa, casl, casal (all sizes)
        return rs == FP
    if w >> 31:                                         # ldxp/ldaxp, stxp/stlxp
        return _gp(w, 0, 10) if load else rs == FP
    return rs in (FP - 1, FP)                           # casp: Rs, Rs+1 (Rs even)


def _atomic_writes_fp(w: int) -> bool:
    """LSE atomics write the old value to Rt (31: the st* aliases, nothing);
    st64bv/st64bv0 write the status to Rs; ld64b loads Rt..Rt+7."""
    if (w >> 26) & 1:
        return False
    size, o3, opc = w >> 30, (w >> 15) & 1, (w >> 12) & 7
    rt = w & 31
    if size == 3 and o3:
        if opc in (2, 3):                               # st64bv0, st64bv
            return (w >> 16) & 31 == FP
        if opc == 1:                                    # st64b
            return False
        if opc == 5:                                    # ld64b
            return rt <= FP <= rt + 7
    return rt == FP


# -- everything else ----------------------------------------------------------------

def other(w: int) -> tuple[StackOp, ...]:
    """Writes of SP/x29 by encodings outside data processing and loads/stores:
    SVE/SME, FP/SIMD to general register moves and conversions, system registers."""
    rd = w & 31
    top = w >> 24
    if top == 0x04:                                     # SVE: integer and element-count group
        if (w & 0xFFA0F000) == 0x04205000:              # addvl/addpl, addsvl/addspl: Xd|SP
            return unknown(rd == SP, rd == FP)
        if rd == FP and ((w & 0xFFFFF000) == 0x04BF5000     # rdvl, rdsvl
                         or (w & 0xFF30FC00) == 0x0420E000  # cntb/h/w/d
                         or (w & 0xFF30F800) == 0x0430E000  # incb/decb... (scalar)
                         or (w & 0xFF20F000) == 0x0420F000):  # sqincb/uqdecb... (scalar)
            return UNK_FP
        return NONE
    if top == 0x05:                                     # lasta/lastb, clasta/clastb (scalar)
        return unknown(False, rd == FP and (w & 0xFF2EE000) == 0x0520A000)
    if top == 0x25:                                     # cntp, incp/decp, sqincp... (scalar)
        return unknown(False, rd == FP and ((w & 0xFF3FC000) == 0x25208000
                                            or (w & 0xFF3EFE00) == 0x252C8800
                                            or (w & 0xFF3CF800) == 0x25288800))
    if top == 0xC0:                                     # SME2 movt xt, zt0[off]
        return unknown(False, (w & 0xFFFF8FE0) == 0xC04C03E0 and rd == FP)
    if (w & 0x5F200000) == 0x1E200000 and (w & 0xFC00) == 0:    # FP <-> integer conversions
        return unknown(False, rd == FP and (w >> 16) & 7 in (0, 1, 4, 5, 6))  # fcvt*, fmov, fjcvtzs
    if (w & 0x5F200000) == 0x1E000000:                  # FP <-> fixed-point: fcvtzs/fcvtzu
        return unknown(False, rd == FP and (w >> 16) & 0x1E == 0x18)
    if (w & 0xBFE0EC00) == 0x0E002C00:                  # smov, umov (mov xd, vn.d[1])
        return unknown(False, rd == FP)
    if top == 0xD5:                                     # system
        if (w & 0xFFFFF0FF) == 0xD50040BF or (w & 0xFFFFFFE0) == 0xD5184200:
            return UNK_SP                               # msr spsel: another stack pointer
        if (w & 0xFFF00000) == 0xD5300000 or (w & 0xFFF80000) in (0xD5280000, 0xD5200000):
            return unknown(False, rd == FP)             # mrs, sysl (gcspopm...), tstart/ttest
        if (w & 0xFFE00000) == 0xD5600000:              # mrrs: Rt, Rt+1
            return unknown(False, rd in (FP - 1, FP))
    return NONE
