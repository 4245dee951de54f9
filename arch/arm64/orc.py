# SPDX-License-Identifier: GPL-2.0-only
"""The arm64 ORC-like entry (objtool never had one; the format is documented in
docs/ORC-arm64.md).

It has the shape of LoongArch's in-kernel ORC, where the return address may
still be in a register: `s16 sp_offset; s16 fp_offset; s16 ra_offset;
u16 sp_reg:4, fp_reg:4, ra_reg:4, type:3, signal:1` (8 bytes, little-endian).
Return-address signing (PAC) is not in the entry: kernel unwinders strip the
PAC bits of every return address anyway.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from orcgen.backend import CFA, UNDEFINED, s16
from orcgen.cfi import Cfi

REG_UNDEFINED, REG_PREV_SP, REG_SP, REG_FP, REG_LR = 0, 1, 2, 3, 4
TYPE_UNDEFINED, TYPE_END_OF_STACK, TYPE_CALL, TYPE_REGS, TYPE_REGS_PARTIAL = 0, 1, 2, 3, 4
SP, FP, LR = 31, 29, 30

_PACK = struct.Struct("<hhhH")
_REG_NAMES = {REG_PREV_SP: "prevsp", REG_SP: "sp", REG_FP: "fp", REG_LR: "lr"}
_TYPE_NAMES = {TYPE_UNDEFINED: "(und)", TYPE_END_OF_STACK: "end", TYPE_CALL: "call",
               TYPE_REGS: "regs", TYPE_REGS_PARTIAL: "regs (partial)"}


@dataclass(frozen=True, slots=True)
class OrcEntry:
    sp_offset: int = 0
    fp_offset: int = 0
    ra_offset: int = 0
    sp_reg: int = 0
    fp_reg: int = 0
    ra_reg: int = 0
    type: int = 0
    signal: int = 0

    SIZE = 8

    def pack(self) -> bytes:
        return _PACK.pack(self.sp_offset, self.fp_offset, self.ra_offset,
                          self.sp_reg | self.fp_reg << 4 | self.ra_reg << 8 | self.type << 12
                          | self.signal << 15)

    @classmethod
    def unpack(cls, b: bytes, off: int = 0) -> "OrcEntry":
        sp, fp, ra, bits = _PACK.unpack_from(b, off)
        return cls(sp, fp, ra, bits & 15, (bits >> 4) & 15, (bits >> 8) & 15, (bits >> 12) & 7,
                   bits >> 15)

    def text(self) -> str:
        return "type:%s sp:%s fp:%s ra:%s signal:%d" % (
            _TYPE_NAMES.get(self.type, "?"), _reg_text(self.sp_reg, self.sp_offset),
            _reg_text(self.fp_reg, self.fp_offset), _reg_text(self.ra_reg, self.ra_offset),
            self.signal)


NULL = OrcEntry()


def _reg_text(reg: int, off: int) -> str:
    if reg == REG_UNDEFINED:
        return "(und)"
    if reg == REG_LR:
        return "lr"
    return "%s%+d" % (_REG_NAMES.get(reg, "?"), off)


class OrcEncodeError(Exception):
    """A state this ORC cannot express."""


def _where(base: int, off: int, in_register: int) -> tuple[int, int]:
    if base == UNDEFINED:
        return in_register, 0
    if base == CFA:
        return REG_PREV_SP, s16(off)
    raise OrcEncodeError("unsupported register rule (base %d)" % base)


def entry_from_cfi(c: Cfi | None) -> OrcEntry:
    if c is None or c.type == TYPE_UNDEFINED:
        return NULL
    if c.type == TYPE_END_OF_STACK:
        return OrcEntry(type=TYPE_END_OF_STACK)
    if c.type not in (TYPE_CALL, TYPE_REGS, TYPE_REGS_PARTIAL):
        raise OrcEncodeError("unknown unwind hint type %d" % c.type)
    sp_reg = {SP: REG_SP, FP: REG_FP}.get(c.cfa_base)
    if sp_reg is None:
        raise OrcEncodeError("unknown CFA base reg %d" % c.cfa_base)
    fp_reg, fp_off = _where(*c.reg(FP), REG_UNDEFINED)
    ra_reg, ra_off = _where(*c.reg(LR), REG_LR)
    return OrcEntry(s16(c.cfa_offset), fp_off, ra_off, sp_reg, fp_reg, ra_reg, c.type, int(c.signal))
