# SPDX-License-Identifier: GPL-2.0-only
"""Lengths of instructions newer than capstone (lkgs, serialize, ...), so that
decoding goes on past them: most are 0F-escaped with a ModRM operand, or
VEX/EVEX-encoded, and their length follows from the encoding alone."""
from __future__ import annotations

from .writes import LEGACY_PREFIXES


def fallback_length(code: bytes, pos: int) -> int:
    """The length of an instruction capstone does not know, for the encodings new
    instructions use (0 if the bytes are none of them): legacy prefixes, REX,
    then 0F [38|3A] op, or a VEX (C4/C5) or EVEX (62) prefix and op; then ModRM,
    SIB, displacement, and the imm8 of the 0F 3A map."""
    n = len(code)
    p = pos
    while p < n and code[p] in LEGACY_PREFIXES and p - pos < 14:
        p += 1
    if p >= n:
        return 0
    imm = 0
    if code[p] in (0xC4, 0xC5, 0x62):                  # VEX / EVEX (always so in 64-bit mode)
        if code[p] == 0xC5:
            mmap, p = 1, p + 2
        elif code[p] == 0xC4:
            if p + 1 >= n:
                return 0
            mmap, p = code[p + 1] & 0x1F, p + 3
        else:
            if p + 1 >= n:
                return 0
            mmap, p = code[p + 1] & 0x7, p + 4
        imm = 1 if mmap == 3 else 0
        p += 1                                          # opcode
    else:
        if 0x40 <= code[p] <= 0x4F:
            p += 1
        if p + 2 >= n or code[p] != 0x0F:
            return 0
        op2 = code[p + 1]
        p += 2
        if op2 in (0x38, 0x3A):
            imm = 1 if op2 == 0x3A else 0
            p += 1
    if p >= n:
        return 0
    modrm = code[p]
    p += 1
    mod, rm = modrm >> 6, modrm & 7
    if mod != 3 and rm == 4:
        if p >= n:
            return 0
        if mod == 0 and (code[p] & 7) == 5:
            p += 4
        p += 1
    if mod == 1:
        p += 1
    elif mod == 2 or (mod == 0 and rm == 5):
        p += 4
    p += imm
    length = p - pos
    return length if length <= 15 and p <= n else 0
