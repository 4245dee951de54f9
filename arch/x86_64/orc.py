# SPDX-License-Identifier: GPL-2.0-only
"""The x86-64 ORC entry: layout, encoding from a stack state, and dump text.

Layout and names are the kernel's (arch/x86/include/asm/orc_types.h, v6.4+):
6 packed bytes, `s16 sp_offset; s16 bp_offset; u8 sp_reg:4, bp_reg:4;
u8 type:3, signal:1`.  The text is objtool's `--dump=orc` text, so the two
tools' output compare with diff.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from orcgen.backend import BP_INDIRECT, CFA, SP_INDIRECT, UNDEFINED, s16
from orcgen.cfi import Cfi

REG_UNDEFINED, REG_PREV_SP, REG_DX, REG_DI, REG_BP, REG_SP = 0, 1, 2, 3, 4, 5
REG_R10, REG_R13, REG_BP_INDIRECT, REG_SP_INDIRECT = 6, 7, 8, 9
TYPE_UNDEFINED, TYPE_END_OF_STACK, TYPE_CALL, TYPE_REGS, TYPE_REGS_PARTIAL = 0, 1, 2, 3, 4

_PACK = struct.Struct("<hhBB")
_REG_NAMES = {REG_PREV_SP: "prevsp", REG_DX: "dx", REG_DI: "di", REG_BP: "bp", REG_SP: "sp",
              REG_R10: "r10", REG_R13: "r13", REG_BP_INDIRECT: "bp(ind)", REG_SP_INDIRECT: "sp(ind)"}
_TYPE_NAMES = {TYPE_UNDEFINED: "(und)", TYPE_END_OF_STACK: "end", TYPE_CALL: "call",
               TYPE_REGS: "regs", TYPE_REGS_PARTIAL: "regs (partial)"}
# CFA base (DWARF register or pseudo register) -> ORC sp_reg
_SP_REG = {7: REG_SP, SP_INDIRECT: REG_SP_INDIRECT, 6: REG_BP, BP_INDIRECT: REG_BP_INDIRECT,
           10: REG_R10, 13: REG_R13, 5: REG_DI, 1: REG_DX}
_BP_REG = {UNDEFINED: REG_UNDEFINED, CFA: REG_PREV_SP, 6: REG_BP}
# ORC sp_reg of an unwind hint -> CFA base
HINT_BASE = {REG_UNDEFINED: UNDEFINED, REG_SP: 7, REG_BP: 6, REG_SP_INDIRECT: SP_INDIRECT,
             REG_R10: 10, REG_R13: 13, REG_DI: 5, REG_DX: 1}


@dataclass(frozen=True, slots=True)
class OrcEntry:
    sp_offset: int = 0
    bp_offset: int = 0
    sp_reg: int = 0
    bp_reg: int = 0
    type: int = 0
    signal: int = 0

    SIZE = 6

    def pack(self) -> bytes:
        return _PACK.pack(self.sp_offset, self.bp_offset, self.sp_reg | (self.bp_reg << 4),
                          self.type | (self.signal << 3))

    @classmethod
    def unpack(cls, b: bytes, off: int = 0) -> "OrcEntry":
        sp, bp, regs, tb = _PACK.unpack_from(b, off)
        return cls(sp, bp, regs & 0xF, regs >> 4, tb & 7, (tb >> 3) & 1)

    def text(self) -> str:
        return "type:%s sp:%s bp:%s signal:%d" % (_TYPE_NAMES.get(self.type, "?"),
                                                _reg_text(self.sp_reg, self.sp_offset),
                                                _reg_text(self.bp_reg, self.bp_offset), self.signal)


NULL = OrcEntry()


def _reg_text(reg: int, off: int) -> str:
    if reg == REG_BP_INDIRECT:
        return "(bp%+d)" % off
    if reg == REG_SP_INDIRECT:
        return "(sp)%+d" % off
    if reg == REG_UNDEFINED:
        return "(und)"
    return "%s%+d" % (_REG_NAMES.get(reg, "?"), off)


class OrcEncodeError(Exception):
    """A state ORC cannot express; the message is objtool's."""


def entry_from_cfi(c: Cfi | None) -> OrcEntry:
    """objtool's init_orc_entry(): the ORC entry for a stack state (None: not reached)."""
    if c is None or c.type == TYPE_UNDEFINED:
        return NULL
    if c.type == TYPE_END_OF_STACK:
        return OrcEntry(type=TYPE_END_OF_STACK)
    if c.type not in (TYPE_CALL, TYPE_REGS, TYPE_REGS_PARTIAL):
        raise OrcEncodeError("unknown unwind hint type %d" % c.type)
    sp_reg = _SP_REG.get(c.cfa_base)
    if sp_reg is None:
        raise OrcEncodeError("unknown CFA base reg %d" % c.cfa_base)
    bp_base, bp_off = c.regs[12], c.regs[13]          # rbp is DWARF register 6
    bp_reg = _BP_REG.get(bp_base)
    if bp_reg is None:
        raise OrcEncodeError("unknown BP base reg %d" % bp_base)
    return OrcEntry(s16(c.cfa_offset), s16(bp_off), sp_reg, bp_reg, c.type, int(c.signal))
