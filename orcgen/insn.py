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

import operator
import re
from array import array
from dataclasses import dataclass
from itertools import accumulate, repeat
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



def shifted(column, by: int):
    """An offset column moved by `by` (in C: a join of many pieces adds up);
    the column itself when `by` is 0."""
    return array("q", map(operator.add, column, repeat(by))) if by else column


_start = re.Match.start


def kind_indices(column: bytes | bytearray, *kinds: Kind) -> array:
    """The indices of a kind column (one byte per instruction) that hold one
    of `kinds`, in order: one regular-expression scan, the byte class matched
    in C, where a Python loop over five million instructions takes a third of
    a second per pass.  An array, not a list: a list of two million indices
    (libLLVM's jumps) holds an int object for each, 80 MB."""
    if not kinds:
        return array("i")
    pattern = re.compile(b"[" + b"".join(re.escape(bytes((int(k),))) for k in kinds) + b"]")
    return array("i", map(_start, pattern.finditer(column)))


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Bytes the back-end could not decode, at `offset` of the section."""
    offset: int
    reason: str


class Decoded:
    """A back-end's decode of one stretch of code, by column.

    The instructions are contiguous from byte 0, so offsets follow from the
    lengths (unless stretches with gaps between them were joined with `add`).
    Every column is dense: a branch displacement (0 where none) in an array,
    the stack operations (shared tuples, () where none) in a list.  Sparse
    dicts had looked cheaper, but each entry costs an int object for its key
    (and one for an immediate), about 70 bytes, for a third of the
    instructions: on libLLVM (13.6 million instructions) the decode's copies
    of them had been 600 MB of its peak.  Building this costs a bytearray
    append per ordinary instruction.  Indexing or iterating still gives
    `Insn`s, for tests and for the few readers that want one instruction."""
    __slots__ = ("size", "kind", "imm", "ops", "_off", "_sum")

    def __init__(self) -> None:
        self.size = array("H")      # lengths: 15 at most (x86), 4 (arm64)
        self.kind = bytearray()
        self.imm = array("i")                # branch displacement, 0 if none
        self.ops: list[tuple] = []           # stack operations, () if none
        self._off: array | None = None       # explicit offsets, once there is a gap
        self._sum: array | None = None       # offsets computed from the lengths

    def __getstate__(self):
        """For the processes of a parallel decode: the columns as bytes, the
        stack operations of the instructions that have some."""
        return (self.size.tobytes(), bytes(self.kind), self.imm.tobytes(),
                {n: o for n, o in enumerate(self.ops) if o},
                None if self._off is None else self._off.tobytes())

    def __setstate__(self, state) -> None:
        size, kind, imm, ops, off = state
        self.size = array("H")      # lengths: 15 at most (x86), 4 (arm64)
        self.size.frombytes(size)
        self.kind = bytearray(kind)
        self.imm = array("i")
        self.imm.frombytes(imm)
        self.ops = [()] * len(self.kind)
        for n, o in ops.items():
            self.ops[n] = o
        self._off = None if off is None else array("q", off)
        self._sum = None

    @classmethod
    def from_insns(cls, insns) -> "Decoded":
        """For back-ends that build `Insn`s (arm64: one word, one instruction)."""
        d = cls()
        for ins in insns:
            d.put(ins)
        return d

    def put(self, ins: "Insn") -> None:
        """Append one `Insn` (the decoders' general paths make them); it must
        start where the last one ends."""
        self.size.append(ins.length)
        self.kind.append(ins.kind)
        self.imm.append(ins.immediate)
        self.ops.append(ins.ops)

    def reserve(self, n: int) -> None:
        """Room for `n` more instructions' immediates and stack operations
        (zero, none), for a decoder that then sets the few it has by index
        and appends their lengths and kinds."""
        self.imm.frombytes(bytes(4 * n))
        self.ops += repeat((), n)

    def add(self, other: "Decoded", at: int) -> None:
        """Append `other`, decoded from byte `at` of the same code."""
        self.add_range(other, 0, len(other), at)

    def add_range(self, other: "Decoded", k0: int, k1: int, at: int = 0) -> None:
        """Append instructions k0..k1-1 of `other`, decoded from byte `at` of
        the same code."""
        if self._off is None:
            self._off = array("q", self.off)       # explicit from now on: `end` stays O(1)
        whole = k0 == 0 and k1 == len(other)          # no slice: a copy of each column
        self._off.extend(shifted(other.off if whole else other.off[k0:k1], at))
        self._sum = None
        for mine, theirs in ((self.size, other.size), (self.kind, other.kind),
                             (self.imm, other.imm), (self.ops, other.ops)):
            mine.extend(theirs if whole else theirs[k0:k1])

    @property
    def off(self) -> array:
        """Each instruction's offset in the decoded code."""
        if self._off is not None:
            return self._off
        if self._sum is None or len(self._sum) != len(self.kind):
            self._sum = array("q", accumulate(self.size, initial=0))
            self._sum.pop()
        return self._sum

    @property
    def end(self) -> int:
        """The offset just past the last instruction."""
        if not self.kind:
            return 0
        return self.off[-1] + self.size[-1] if self._off is not None else sum(self.size)

    def __len__(self) -> int:
        return len(self.kind)

    def __getitem__(self, n: int) -> "Insn":
        if n < 0:
            n += len(self.kind)
        if not 0 <= n < len(self.kind):
            raise IndexError(n)
        return Insn(self.off[n], self.size[n], Kind(self.kind[n]), self.imm[n], self.ops[n])

    def __iter__(self):
        return (self[n] for n in range(len(self.kind)))
