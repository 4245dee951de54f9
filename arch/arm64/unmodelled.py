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
        size, opc = w >> 30, (w >> 22) & 3
        return unknown(False, rt == FP and opc != 0 and opc <= 4 - size)
    if (w & 0xBF200C00) == 0x99000800:                  # ldiapp/stilp, ldapr/stlr writeback (RCpc3)
        load, pair, wb = (w >> 22) & 1, not (w >> 23) & 1, not (w >> 12) & 1
        if (w >> 13) & 7 or not (pair or (wb and not (w >> 16) & 31)):
            return NONE                                 # opc2 other than 000x: unallocated
        return unknown(wb and rn == SP,
                       (load and (rt == FP or (pair and _gp(w, 16)))) or (wb and rn == FP))
    if (w & 0xFB200C00) == 0x19000400:                  # cpy*/set* (MOPS): all three registers move
        d, s, n, op1 = rt, (w >> 16) & 31, rn, (w >> 22) & 3
        if op1 == 3:                                    # set*: Xd, Xn written, Xs is the value
            ok = (w >> 14) & 3 != 3 and 31 not in (d, n) and len({d, n, s}) == 3
            return unknown(False, ok and FP in (d, n))
        ok = 31 not in (d, s) and len({d, s, n}) == 3
        return unknown(False, ok and FP in (d, s, n))
    if (w & 0xBF200C00) == 0x19200000:                  # 128-bit atomics (LSE128): Rt, Rt2
        op = (w >> 12) & 15                             # o3:opc
        ok = op in ((9, 10, 11) if (w >> 30) & 1 else (1, 3, 8, 9, 10, 11))
        t, t2 = rt, (w >> 16) & 31
        return unknown(False, ok and 31 not in (t, t2) and FP in (t, t2))
    if (w & 0xBF20F800) == 0x19200800:                  # rcwcas(p): the compare register(s)
        rs = (w >> 16) & 31
        if (w >> 10) & 1:                               # rcwcasp: Rs, Rs+1 (even pairs)
            return unknown(False, rs == FP - 1 and not rt & 1)
        return unknown(False, rs == FP)
    if (w & 0xFF200000) == 0xD9200000:                  # memory tags (MTE)
        opc, op2 = (w >> 22) & 3, (w >> 10) & 3
        if op2 == 0:                                    # ldg, ldgm (no offset) load a tag into Rt
            return unknown(False, rt == FP and (opc == 1 or (opc == 3 and not (w >> 12) & 0x1FF)))
        # stg/stzg/st2g/stz2g: post (1) and pre (3) index write Rn back; SP is
        # handled by the caller as an SP adjustment
        return unknown(False, op2 in (1, 3) and rn == FP)
    if (w & 0xBFA00000) == 0x0C800000:                  # ld1-4/st1-4 (multiple structures), post-index
        opcode = (w >> 12) & 15
        if opcode not in (0, 2, 4, 6, 7, 8, 10) or (
                opcode in (0, 4, 8) and (w >> 10) & 3 == 3 and not (w >> 30) & 1):
            return NONE                                 # ld2-4 have no .1d form
        return unknown(rn == SP, rn == FP)
    if (w & 0xBF800000) == 0x0D800000 and _single_structure_ok(w):
        return unknown(rn == SP, rn == FP)              # ld1-4/st1-4 (single structure), ld1r-4r
    return NONE


def _single_structure_ok(w: int) -> bool:
    """An allocated single-structure encoding: the lane size fits the opcode,
    and replicating forms (ld1r-ld4r) are loads."""
    opcode, s, size = (w >> 13) & 7, (w >> 12) & 1, (w >> 10) & 3
    if opcode >= 6:
        return bool((w >> 22) & 1) and not s
    if opcode >= 4:                                     # 32-bit lanes, or 64-bit (size 01, S 0)
        return size == 0 or (size == 1 and not s)
    if opcode >= 2:                                     # 16-bit lanes
        return not size & 1
    return True


def _exclusive_writes_fp(w: int) -> bool:
    """ldxr/ldaxr/ldar/ldlar write Rt (ldxp/ldaxp Rt, Rt2); stxr/stxp write the
    status register Rs; cas* writes Rs, casp* Rs and Rs+1."""
    o2, load, o1 = (w >> 23) & 1, (w >> 22) & 1, (w >> 21) & 1
    rs = (w >> 16) & 31
    if o1 and (o2 or not w >> 31) and (w >> 10) & 31 != 31:
        return False                                    # cas/casp: Rt2 is 11111, or unallocated
    if o1 and not o2 and not w >> 31 and (w & 1 or rs & 1):
        return False                                    # casp: even register pairs
    if not o1:
        if o2:                                          # ldar/ldlar, stlr/stllr
            return bool(load) and w & 31 == FP
        return _gp(w, 0) if load else rs == FP          # ldxr/ldaxr, stxr/stlxr
    if o2:                                              # cas, casa, casl, casal (all sizes)
        return rs == FP
    if w >> 31:                                         # ldxp/ldaxp, stxp/stlxp
        return _gp(w, 0, 10) if load else rs == FP
    return rs == FP - 1                                 # casp: Rs, Rs+1 (Rs even)


def _atomic_writes_fp(w: int) -> bool:
    """LSE atomics write the old value to Rt (31: the st* aliases, nothing);
    st64bv/st64bv0 write the status to Rs; ld64b loads Rt..Rt+7."""
    if (w >> 26) & 1:
        return False
    size, o3, opc = w >> 30, (w >> 15) & 1, (w >> 12) & 7
    rt, rs = w & 31, (w >> 16) & 31
    if not o3:                                          # ldadd ... ldumin, all sizes
        return rt == FP
    if opc == 0:                                        # swp
        return rt == FP
    if opc == 4:                                        # ldapr: A 1, R 0, Rs 11111
        return rt == FP and rs == 31 and (w >> 22) & 3 == 2
    if size == 3:
        if (w >> 22) & 3:                               # ls64: no acquire/release forms
            return False
        if opc in (2, 3):                               # st64bv0, st64bv (Rt even, at most 22)
            return rs == FP and not rt & 1 and rt <= 22
        if opc == 5:                                    # ld64b
            return rs == 31 and rt == 22
        return False                                    # st64b writes nothing
    return size <= 1 and opc in (1, 2, 3) and rt == FP  # rcwclr, rcwswp, rcwset (rcws*)


# -- everything else ----------------------------------------------------------------

def _fp_to_gp(w: int) -> bool:
    """Whether an FP/integer conversion encoding (bits 15:10 zero) is allocated and
    writes its general register: fcvt[npmz][su] (any rounding mode), fcvta[su],
    fmov to general (Wd from Sn/Hn, Xd from Dn/Hn, Xd from Vn.D[1]), fjcvtzs."""
    sf, ftype, rmode, opcode = w >> 31, (w >> 22) & 3, (w >> 19) & 3, (w >> 16) & 7
    if opcode in (0, 1):
        return ftype != 2
    if opcode in (4, 5):
        return ftype != 2 and rmode == 0
    if opcode == 6:
        if rmode == 0:
            return ftype == 3 or ftype == sf            # s <-> w, d <-> x, h <-> either
        if rmode == 1:
            return ftype == 2 and bool(sf)
        return rmode == 3 and ftype == 1 and not sf     # fjcvtzs
    return False


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
        cntp_pn = (w & 0xFF3FFA00) == 0x25208200 or (w & 0xFF3FC200) == 0x25208000
        return unknown(False, rd == FP and (cntp_pn
                                            or (w & 0xFF3EFE00) == 0x252C8800
                                            or (w & 0xFF3CFA00) == 0x25288800))
    if top == 0xC0:                                     # SME2 movt xt, zt0[off]
        return unknown(False, (w & 0xFFFF8FE0) == 0xC04C03E0 and rd == FP)
    if rd == FP and (w & 0x7F200000) == 0x1E200000 and (w & 0xFC00) == 0:
        # FP <-> integer: fcvt[npmza][su], fmov to general, fjcvtzs (ftype 10: fmov xd, vn.d[1])
        return unknown(False, _fp_to_gp(w))
    if rd == FP and (w & 0x7F200000) == 0x1E000000:      # FP <-> fixed-point: fcvtzs/fcvtzu
        return unknown(False, (w >> 16) & 0x1E == 0x18 and (w >> 22) & 3 != 2
                       and (w >> 31 or (w >> 15) & 1))  # 32-bit: scale 32 at most
    if (w & 0xBFE0EC00) == 0x0E002C00:                  # smov, umov (mov xd, vn.d[1])
        q, imm5, umov = (w >> 30) & 1, (w >> 16) & 31, (w >> 12) & 1
        if umov:                                        # umov wd: b/h/s lanes; xd: the d lane
            ok = imm5 & 15 == 8 if q else imm5 & 7 != 0
        else:                                           # smov wd: b/h lanes; xd: b/h/s lanes
            ok = imm5 & (7 if q else 3) != 0
        return unknown(False, rd == FP and ok)
    if top == 0xD5:                                     # system
        if (w & 0xFFFFF0FF) == 0xD50040BF or (w & 0xFFFFFFE0) == 0xD5184200:
            return UNK_SP                               # msr spsel: another stack pointer
        if (w & 0xFFF00000) == 0xD5300000 or (w & 0xFFF80000) in (0xD5280000, 0xD5200000):
            return unknown(False, rd == FP)             # mrs, sysl (gcspopm...), tstart/ttest
        if (w & 0xFFE00000) == 0xD5600000:              # mrrs: Rt, Rt+1
            return unknown(False, rd == FP - 1)
    return NONE
