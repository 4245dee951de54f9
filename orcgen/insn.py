# SPDX-License-Identifier: GPL-2.0-only
"""Architecture-neutral instruction facts: the contract between back-ends and the core.

A back-end turns bytes into `Insn` records the way objtool's
arch_decode_instruction() fills `struct instruction`: a kind, a length, a
PC-relative immediate for direct branches, and the instruction's effect on the
stack as a short tuple of `StackOp`s.  The core never sees an opcode, only these.
Register numbers are the architecture's DWARF numbers, so interpreted states and
DWARF CFI rows compare without translation.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    """What an instruction does to control flow (objtool's enum insn_type)."""
    JUMP_COND = 0
    JUMP_UNCOND = 1
    JUMP_DYNAMIC = 2
    JUMP_DYNAMIC_COND = 3
    CALL = 4
    CALL_DYNAMIC = 5
    RETURN = 6
    CONTEXT_SWITCH = 7        # iret/sysret/eret: leaves the function's frame
    BUG = 8                   # ud2 and friends: a dead end unless annotated reachable
    NOP = 9
    STAC = 10                 # user-access enable/disable, direction flag
    CLAC = 11
    STD = 12
    CLD = 13
    TRAP = 14                 # int3/brk: padding or a deliberate trap
    ENDBR = 15                # landing pad (endbr64 / bti)
    OTHER = 16


STATIC_JUMPS = (Kind.JUMP_COND, Kind.JUMP_UNCOND)
DYNAMIC_JUMPS = (Kind.JUMP_DYNAMIC, Kind.JUMP_DYNAMIC_COND)


class Src(IntEnum):
    """Where a stack operation's value comes from (objtool's op_src_type)."""
    REG = 0            # a register's value (mov reg, reg; push reg)
    REG_INDIRECT = 1   # memory at reg + offset (mov off(reg), reg)
    CONST = 2          # a constant or a value the analysis need not know (push imm)
    POP = 3            # popped from the stack
    POPF = 4           # flags popped from the stack
    ADD = 5            # reg + offset (add/sub imm, lea off(reg))
    AND = 6            # reg & offset (stack realignment)
    UNKNOWN = 7        # a value the back-end does not model (sub %eax,%esp; addvl sp, sp, #-2)


# Src.UNKNOWN marks a write to SP or FP that the back-end recognises but cannot
# express (objtool's decoder is silent on it too, so the state machine must not
# apply it: ORC stays identical to objtool's).  It exists so that the write is
# never silent: the `stack-writes` check reports every one.


class Dest(IntEnum):
    """Where a stack operation's value goes (objtool's op_dest_type)."""
    REG = 0
    REG_INDIRECT = 1   # memory at reg + offset
    MEM = 2            # somewhere not on the tracked stack (pop to memory, popf)
    PUSH = 3
    PUSHF = 4
    RA_SIGN = 5        # the return address becomes signed (src_off 1) or authenticated (0)


class StackOp(NamedTuple):
    """One effect on the stack or a tracked register: dest <- src.

    Facts are immutable records; the two made once per instruction are named
    tuples rather than frozen dataclasses because a frozen dataclass costs three
    times as much to build, and a kernel object has tens of thousands of them."""
    src: Src
    dest: Dest
    src_reg: int = 0
    src_off: int = 0
    dest_reg: int = 0
    dest_off: int = 0

    def __str__(self) -> str:
        return "%s(r%d%+d) -> %s(r%d%+d)" % (self.src.name, self.src_reg, self.src_off,
                                           self.dest.name, self.dest_reg, self.dest_off)


class Insn(NamedTuple):
    """The facts about one decoded instruction.

    `offset` is relative to its section.  `immediate` is the PC-relative
    displacement of a direct branch or call (target = offset + length +
    immediate); 0 where there is none.  Disassembly text for people comes
    from the back-end's `disassemble()` on demand: analysis never reads text.
    """
    offset: int
    length: int
    kind: Kind
    immediate: int = 0
    ops: tuple[StackOp, ...] = ()

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Bytes the back-end could not decode, at `offset` of the section."""
    offset: int
    reason: str
