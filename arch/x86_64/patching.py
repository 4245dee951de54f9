# SPDX-License-Identifier: GPL-2.0-only
"""The code objtool writes over x86-64 instructions (tools/objtool/arch/x86/decode.c
arch_nop_insn() and arch_ret_insn(), with the 64-bit NOPs of asm/nops.h)."""
from __future__ import annotations

NOPS = {1: b"\x90", 2: b"\x66\x90", 3: b"\x0f\x1f\x00", 4: b"\x0f\x1f\x40\x00",
        5: b"\x0f\x1f\x44\x00\x00"}


def nop_insn(length: int) -> bytes:
    """The NOP of `length` bytes that replaces a jump-label JMP or a call objtool removes."""
    try:
        return NOPS[length]
    except KeyError:
        raise ValueError("invalid NOP size: %d" % length) from None


def ret_insn(length: int) -> bytes:
    """RET, INT3 and padding: what replaces a tail call objtool removes."""
    if not 1 <= length <= 5:
        raise ValueError("invalid RET size: %d" % length)
    return b"\xc3" if length == 1 else b"\xc3\xcc" + (NOPS[length - 2] if length > 2 else b"")
