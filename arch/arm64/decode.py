# SPDX-License-Identifier: GPL-2.0-only
"""arm64 instruction facts from instruction words.

Every A64 instruction is one little-endian 32-bit word, so the facts come
straight from the encoding fields (Arm ARM C4), with no disassembler in the hot
path; capstone is used only for text shown to people.  Stack operations are
expressed in the core's objtool-shaped model: a pre-indexed `stp x29, x30,
[sp, #-16]!` is "SP += -16" followed by two stores relative to SP; post-indexed
forms store or load first and move SP after.

An instruction that writes SP or FP in a way not modelled here is not ignored.
Within the classes modelled here (add/sub, logical, moves, loads and stores
of general registers) it becomes "SP (or FP) := an unknown register", which the
interpreter turns into an undefined CFA where it matters, i.e. a finding, never
a guess.  Every other encoding that writes SP or x29 (SVE `addvl sp, sp, #-2`,
`add wsp, wsp, #16`, `fmov x29, d0`, `ldxr x29, [x0]`, ...; see unmodelled.py)
becomes Src.UNKNOWN, which the `stack-writes` check reports.
"""
from __future__ import annotations

import struct
from typing import Callable

from orcgen.insn import Decoded, DecodeFailure, Dest, Insn, Kind, Src, StackOp

from . import unmodelled
from .unmodelled import UNK_FP, UNK_SP

SP, FP, LR = 31, 29, 30
UNKNOWN = 32            # a register number no instruction names: "some unknown value"
D0 = 64                 # DWARF number of v0/d0


def _sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v & (1 << (bits - 1)) else v


def _store(reg: int, base: int, off: int) -> StackOp:
    return StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=reg, dest_reg=base, dest_off=off)


SCS = 18            # x18, the shadow call stack pointer (Abi.shadow_stack)
RA = 30             # x30, the link register


def _load(reg: int, base: int, off: int) -> StackOp:
    return StackOp(Src.REG_INDIRECT, Dest.REG, src_reg=base, src_off=off, dest_reg=reg)


def _add(dest: int, src: int, imm: int) -> StackOp:
    if imm == 0:
        return StackOp(Src.REG, Dest.REG, src_reg=src, dest_reg=dest)
    return StackOp(Src.ADD, Dest.REG, src_reg=src, src_off=imm, dest_reg=dest)


_UNKNOWN_SP = (StackOp(Src.REG, Dest.REG, src_reg=UNKNOWN, dest_reg=SP),)
_UNKNOWN_FP = (StackOp(Src.REG, Dest.REG, src_reg=UNKNOWN, dest_reg=FP),)
_SIGN = (StackOp(Src.CONST, Dest.RA_SIGN, src_off=1),)
_AUTH = (StackOp(Src.CONST, Dest.RA_SIGN, src_off=0),)
# pac*/aut* x30, sp (and the zero-modifier forms) by the opcode field, bits 15:10
_PAC_LR = {0: _SIGN, 1: _SIGN, 8: _SIGN, 9: _SIGN,              # pacia, pacib, paciza, pacizb
           4: _AUTH, 5: _AUTH, 12: _AUTH, 13: _AUTH}            # autia, autib, autiza, autizb

# HINT-space instructions (0xd503201f | op << 5)
_HINTS = {0xD503201F: Kind.NOP, 0xD503233F: _SIGN, 0xD503237F: _SIGN,      # nop, paciasp, pacibsp
          0xD503231F: _SIGN, 0xD503235F: _SIGN,                            # paciaz, pacibz
          0xD50323BF: _AUTH, 0xD50323FF: _AUTH, 0xD503239F: _AUTH, 0xD50323DF: _AUTH,
          0xD503241F: Kind.ENDBR, 0xD503245F: Kind.ENDBR, 0xD503249F: Kind.ENDBR,
          0xD50324DF: Kind.ENDBR}                                          # bti, bti c/j/jc


def constant_before(words: list[int], k: int, reg: int) -> int | None:
    """The constant a movz/movn(+movk) sequence just before word k puts in `reg`
    (GCC and Clang materialise large frame sizes so), or None."""
    val = None
    j = k - 1
    seen = []
    while j >= 0 and k - j <= 4:
        w = words[j]
        if (w & 31) == reg and (w & 0x1F800000) == 0x12800000:       # move wide immediate
            opc, hw, imm16 = (w >> 29) & 3, (w >> 21) & 3, (w >> 5) & 0xFFFF
            seen.append((opc, hw, imm16, w >> 31))
            if opc in (0, 2):                                        # movn / movz start the value
                break
        elif (w & 31) == reg:
            return None
        j -= 1
    else:
        return None
    if not seen:
        return None
    for opc, hw, imm16, sf in reversed(seen):
        if opc == 2:
            val = imm16 << (16 * hw)
        elif opc == 0:
            val = ~(imm16 << (16 * hw)) & (0xFFFFFFFFFFFFFFFF if sf else 0xFFFFFFFF)
        elif opc == 3 and val is not None:
            val = (val & ~(0xFFFF << (16 * hw))) | (imm16 << (16 * hw))
    if val is None:
        return None
    return _sext(val, 64)


def decode_word(w: int, off: int, words: list[int], k: int) -> Insn:
    """The facts for the instruction word `w` at section offset `off` (word k)."""
    top6 = w >> 26
    # -- branches --------------------------------------------------------------
    if top6 == 0b000101:                                            # b
        return Insn(off, 4, Kind.JUMP_UNCOND, immediate=_sext(w & 0x3FFFFFF, 26) * 4 - 4)
    if top6 == 0b100101:                                            # bl
        return Insn(off, 4, Kind.CALL, immediate=_sext(w & 0x3FFFFFF, 26) * 4 - 4)
    if (w & 0xFF000010) == 0x54000000 or (w & 0x7E000000) == 0x34000000:   # b.cond, cbz/cbnz
        return Insn(off, 4, Kind.JUMP_COND, immediate=_sext((w >> 5) & 0x7FFFF, 19) * 4 - 4)
    if (w & 0x7E000000) == 0x36000000:                              # tbz/tbnz
        return Insn(off, 4, Kind.JUMP_COND, immediate=_sext((w >> 5) & 0x3FFF, 14) * 4 - 4)
    if (w & 0xFE000000) == 0xD6000000:                              # unconditional branch (register)
        opc = (w >> 21) & 0xF
        if opc in (0, 8):                                           # br, braa...
            return Insn(off, 4, Kind.JUMP_DYNAMIC)
        if opc in (1, 9):                                           # blr, blraa...
            return Insn(off, 4, Kind.CALL_DYNAMIC)
        if opc == 2:                                                # ret, retaa, retab
            return Insn(off, 4, Kind.RETURN, ops=_AUTH if (w >> 11) & 1 else ())
        if opc == 4:                                                # eret
            return Insn(off, 4, Kind.CONTEXT_SWITCH)
        return Insn(off, 4, Kind.OTHER)
    # -- system: hints, traps ----------------------------------------------------
    if (w & 0xFFFFF01F) == 0xD503201F:
        h = _HINTS.get(w)
        if h is None:
            return Insn(off, 4, Kind.OTHER)
        if isinstance(h, tuple):
            return Insn(off, 4, Kind.OTHER, ops=h)
        return Insn(off, 4, h)
    if (w & 0xFFE0001F) == 0xD4200000:                              # brk: BUG() unless reachable
        return Insn(off, 4, Kind.BUG)
    if (w & 0xFFFF0000) == 0:                                       # udf
        return Insn(off, 4, Kind.BUG)
    if (w & 0xFFE0001F) == 0xD4400000:                              # hlt
        return Insn(off, 4, Kind.TRAP)
    # -- loads and stores ---------------------------------------------------------
    if (w & 0x0A000000) == 0x08000000:
        return _load_store(w, off)
    # -- data processing -----------------------------------------------------------
    rd = w & 31
    if (w & 0x1F800000) == 0x11000000:                              # add/sub (immediate)
        sf, sub, setflags = w >> 31, (w >> 30) & 1, (w >> 29) & 1
        if setflags or not sf:
            if rd == SP and not setflags:                           # add wsp, wsp, #16
                return Insn(off, 4, Kind.OTHER, ops=UNK_SP)
            return _writes_fp(w, off, rd, setflags)
        rn = (w >> 5) & 31
        imm = ((w >> 10) & 0xFFF) << (12 if (w >> 22) & 1 else 0)
        if sub:
            imm = -imm
        if rd in (SP, FP) or rn == SP:
            return Insn(off, 4, Kind.OTHER, ops=(_add(rd, rn, imm),))
        return Insn(off, 4, Kind.OTHER)
    if (w & 0x1F200000) == 0x0B200000:                              # add/sub (extended register)
        sf, sub, setflags = w >> 31, (w >> 30) & 1, (w >> 29) & 1
        rn, rm = (w >> 5) & 31, (w >> 16) & 31
        if sf and not setflags and rd == SP:
            c = constant_before(words, k, rm) if rn == SP else None
            if c is not None and ((w >> 13) & 7) in (3, 7):        # uxtx/sxtx: the whole register
                c <<= (w >> 10) & 7
                return Insn(off, 4, Kind.OTHER, ops=(_add(SP, SP, -c if sub else c),))
            return Insn(off, 4, Kind.OTHER, ops=_UNKNOWN_SP)
        if (rd == SP or setflags) and ((w >> 22) & 3 or (w >> 10) & 7 > 4):
            return Insn(off, 4, Kind.OTHER)                         # opt, imm3: unallocated
        if rd == SP and not setflags:                               # add wsp, wsp, w0, uxtw
            return Insn(off, 4, Kind.OTHER, ops=UNK_SP)
        return _writes_fp(w, off, rd, setflags)
    if (w & 0x1F800000) == 0x12000000:                              # logical (immediate)
        opc = (w >> 29) & 3
        if rd == SP and opc != 3 and w >> 31:
            if opc == 0:                                            # and sp, xN, #mask: realignment
                return Insn(off, 4, Kind.OTHER,
                            ops=(StackOp(Src.AND, Dest.REG, src_reg=(w >> 5) & 31, dest_reg=SP),))
            return Insn(off, 4, Kind.OTHER, ops=_UNKNOWN_SP)
        if (rd == SP or opc == 3) and not _bitmask_ok(w):          # reserved immediate
            return Insn(off, 4, Kind.OTHER)
        if rd == SP and opc != 3:                                   # and wsp, w0, #0xf
            return Insn(off, 4, Kind.OTHER, ops=UNK_SP)
        return _writes_fp(w, off, rd, opc == 3)
    if rd == SP and ((w & 0xBFC00000) == 0x91800000                 # addg/subg sp, ...
                     or (w & 0xFFE0FC00) == 0x9AC01000):            # irg sp, ...
        return Insn(off, 4, Kind.OTHER, ops=UNK_SP)
    if (w & 0xFFFFC000) == 0xDAC10000 and rd == LR and (w >> 5) & 31 == SP:
        # pacia/pacib/autia/autib x30, sp and the zero-modifier paciza/autiza x30:
        # the same as the hint-space paciasp/autiasp (paciaz/autiaz) modelled above
        ops = _PAC_LR.get((w >> 10) & 0x3F)
        if ops is not None:
            return Insn(off, 4, Kind.OTHER, ops=ops)
    if (w & 0x7FE0FFE0) == 0x2A0003E0 and w >> 31:                  # mov xd, xm (orr xd, xzr, xm)
        rm = (w >> 16) & 31
        if rd != 31 and rm != 31:
            return Insn(off, 4, Kind.OTHER,
                        ops=(StackOp(Src.REG, Dest.REG, src_reg=rm, dest_reg=rd),))
    if (w & 0x0E000000) == 0x0A000000 or (w & 0x1C000000) == 0x10000000:
        return _writes_fp(w, off, rd, False)                        # other data processing
    ops = unmodelled.other(w)
    return Insn(off, 4, Kind.OTHER, ops=ops) if ops else Insn(off, 4, Kind.OTHER)


def _bitmask_ok(w: int) -> bool:
    """Whether a logical-immediate encoding is allocated (Arm ARM DecodeBitMasks:
    N is 0 in 32-bit forms, the element size exists, the run is not all ones)."""
    n, imms = (w >> 22) & 1, (w >> 10) & 0x3F
    if n and not w >> 31:
        return False
    length = ((n << 6) | (~imms & 0x3F)).bit_length() - 1
    if length < 1:
        return False
    levels = (1 << length) - 1
    return (imms & levels) != levels


def _writes_fp(w: int, off: int, rd: int, setflags: bool) -> Insn:
    """A data-processing instruction not modelled: if it writes FP, FP becomes
    unknown; a flag-setting one (adds/subs/ands x29: Rd 29 is x29 there too)
    is an unmodelled write."""
    if rd == FP:
        return Insn(off, 4, Kind.OTHER, ops=UNK_FP if setflags else _UNKNOWN_FP)
    return Insn(off, 4, Kind.OTHER)


def _load_store(w: int, off: int) -> Insn:
    rt, rn = w & 31, (w >> 5) & 31
    v = (w >> 26) & 1
    if (w & 0x3A000000) == 0x28000000:                              # load/store pair
        kind = (w >> 23) & 3                                        # 1 post, 2 offset, 3 pre
        load = (w >> 22) & 1
        opc = w >> 30
        size = (4 << opc) if v else (8 if opc == 2 else 4)
        imm = _sext((w >> 15) & 0x7F, 7) * size
        rt2 = (w >> 10) & 31
        if kind == 0:                                               # no-allocate pair: no writeback
            kind = 2
        regs = []
        if (not v and opc == 2) or (v and opc == 1):                # x registers, d registers
            base = D0 if v else 0
            regs = [(rt + base, 0), (rt2 + base, size)]
        return _memory_op(off, rn, kind, imm, load, regs, v, rt, rt2)
    if (w & 0x3B000000) == 0x39000000:                              # unsigned offset
        size = 1 << (w >> 30)
        opc = (w >> 22) & 3
        imm = ((w >> 10) & 0xFFF) * (size if not v else (16 if opc & 2 and size == 1 else size))
        regs = [(rt + (D0 if v else 0), 0)] if size == 8 and opc in (0, 1) else []
        return _signed_load(w, _memory_op(off, rn, 2, imm, opc == 1, regs, v, rt, -1, opc))
    if (w & 0x3B200000) == 0x38000000:                              # unscaled / pre / post
        idx = (w >> 10) & 3
        size = 1 << (w >> 30)
        opc = (w >> 22) & 3
        imm = _sext((w >> 12) & 0x1FF, 9)
        kind = {0: 2, 1: 1, 3: 3}.get(idx, 2)
        regs = [(rt + (D0 if v else 0), 0)] if size == 8 and opc in (0, 1) else []
        return _signed_load(w, _memory_op(off, rn, kind, imm, opc == 1, regs, v, rt, -1, opc))
    # register offset, literal, exclusive, atomics...: loads into FP are unknown writes
    if not v and rt == FP and (w & 0x3B200C00) == 0x38200800:
        if (w >> 22) & 1:
            return Insn(off, 4, Kind.OTHER, ops=_UNKNOWN_FP)
        if (w >> 14) & 1:                                           # option: uxtw/lsl/sxtw/sxtx
            return _signed_load(w, Insn(off, 4, Kind.OTHER))       # ldrsw x29, [x0, x1]
    if (w & 0xFF200000) == 0xD9200000 and rn == SP and (w >> 10) & 1:
        # stg/stzg/st2g/stz2g [sp, #imm]! and [sp], #imm: SP moves, nothing is saved
        return Insn(off, 4, Kind.OTHER, ops=(_add(SP, SP, _sext((w >> 12) & 0x1FF, 9) * 16),))
    ops = unmodelled.load_store(w)
    return Insn(off, 4, Kind.OTHER, ops=ops) if ops else Insn(off, 4, Kind.OTHER)


def _signed_load(w: int, ins: Insn) -> Insn:
    """ldrsb/ldrsh/ldrsw (opc 2 or 3 below 64 bits) into x29 also write FP; the
    classes above model only opc 1 as a load."""
    size, opc = w >> 30, (w >> 22) & 3
    if (w & 31) == FP and not (w >> 26) & 1 and opc >= 2 and size < 3 and not (size == 2 and opc == 3):
        return ins._replace(ops=ins.ops + UNK_FP)
    return ins


def _memory_op(off: int, rn: int, kind: int, imm: int, load: int, regs, v: int, rt: int,
               rt2: int, opc: int = 0) -> Insn:
    ops = []
    tracked = rn in (SP, FP)
    if kind == 3 and rn == SP:                                      # pre-index: move SP first
        ops.append(_add(SP, SP, imm))
    if tracked and regs:
        disp = 0 if kind in (1, 3) else imm
        for reg, extra in regs:
            ops.append(_load(reg, rn, disp + extra) if load else _store(reg, rn, disp + extra))
    if kind == 1 and rn == SP:                                      # post-index: move SP after
        ops.append(_add(SP, SP, imm))
    if kind in (1, 3) and rn == FP:
        ops.append(StackOp(Src.REG, Dest.REG, src_reg=UNKNOWN, dest_reg=FP))
    if load and not v and not regs and (rt == FP or rt2 == FP):
        ops.append(StackOp(Src.REG, Dest.REG, src_reg=UNKNOWN, dest_reg=FP))
    if load and not v and rn == SCS and any(reg == RA for reg, _ in regs):
        # ldr x30, [x18, #-8]!: the return address back from the shadow call stack
        ops.append(_load(RA, SCS, 0 if kind in (1, 3) else imm))
    if load and not v and regs:
        # loads of FP from untracked bases (e.g. from x0) make FP unknown
        if not tracked and (rt == FP or rt2 == FP):
            ops.append(StackOp(Src.REG, Dest.REG, src_reg=UNKNOWN, dest_reg=FP))
    return Insn(off, 4, Kind.OTHER, ops=tuple(ops))


class Arm64Decoder:
    def decode_section(self, code: bytes, in_func: Callable[[int], bool]
                       ) -> tuple[Decoded, DecodeFailure | None]:
        n = len(code) // 4
        words = list(struct.unpack_from("<%dI" % n, code, 0))
        out = Decoded.from_insns(decode_word(w, 4 * k, words, k) for k, w in enumerate(words))
        if len(code) % 4:
            return out, DecodeFailure(4 * n, "section size is not a multiple of 4")
        return out, None

    def disassemble(self, code: bytes, offset: int) -> list[tuple[int, int, str]]:
        import capstone
        md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
        out = []
        for k in range(0, len(code) - len(code) % 4, 4):
            got = list(md.disasm_lite(code[k:k + 4], offset + k))
            text = ("%s %s" % got[0][2:]).strip() if got else ".inst 0x%08x" % \
                int.from_bytes(code[k:k + 4], "little")
            out.append((offset + k, 4, text))
        return out
