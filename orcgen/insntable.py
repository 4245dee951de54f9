# SPDX-License-Identifier: GPL-2.0-only
"""All of an object's decoded instructions, stored by column.

A list of `Insn` tuples costs about 110 bytes an instruction (the tuple, and
an int object for each offset); vmlinux.o has five million instructions, so
that list had been a quarter of orcgen's peak memory.  Here the offsets,
lengths, decoded kinds and branch displacements are arrays (17 bytes an
instruction), and the stack operations (shared tuples) are kept only for the
instructions that have them, as the decoder hands them over (`Decoded`).
`table[i]` still gives the `Insn` the decoder made, built on demand, so code
that reads an instruction now and then is unchanged; passes over every
instruction read the columns (`off`, `size`, `imm`) directly.
"""
from __future__ import annotations

from array import array
from typing import Iterator

from .insn import Decoded, Insn, Kind, kind_indices, shifted

_KINDS = tuple(Kind)
_new = tuple.__new__


class InsnTable:
    __slots__ = ("off", "size", "_kind", "_imm", "_ops")

    def __init__(self) -> None:
        self.off = array("q")       # offset in its section
        self.size = array("H")      # length in bytes (an analysis padding NOP: up to 255, an alternative's u8)
        self._kind = bytearray()    # the decoder's Kind (Program.kind is the analysis' own copy)
        # Branch displacements, 0 where none: dense, because one instruction
        # in five has one, and a dict entry (about 110 bytes with its two int
        # objects) costs more than 4 bytes for each of five instructions.
        self._imm = array("i")
        # Stack operations, () where none: a list of shared tuples (8 bytes an
        # instruction), where a dict had cost 70 for each of a third of them.
        self._ops: list[tuple] = []

    def extend(self, d: Decoded, at: int = 0) -> None:
        """Append one section's decode, made at byte `at` of the section."""
        self.off.extend(shifted(d.off, at))
        self.size.extend(d.size)
        self._kind.extend(d.kind)
        self._imm.extend(d.imm)
        self._ops.extend(d.ops)

    def append(self, ins: Insn) -> None:
        self.extend(Decoded.from_insns((ins,)), ins.offset)

    def end(self, i: int) -> int:
        """Where instruction i ends (its offset plus its length)."""
        return self.off[i] + self.size[i]

    @property
    def imm_column(self) -> array:
        """Every instruction's branch displacement (0 if none), for passes over many."""
        return self._imm

    def imm(self, i: int) -> int:
        """Instruction i's branch displacement (0 if none)."""
        return self._imm[i]

    def __len__(self) -> int:
        return len(self._kind)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self._kind)))]
        if i < 0:
            i += len(self._kind)
        return _new(Insn, (self.off[i], self.size[i], _KINDS[self._kind[i]], self._imm[i],
                           self._ops[i]))

    def __iter__(self) -> Iterator[Insn]:
        for k in range(len(self._kind)):
            yield self[k]

    def __bool__(self) -> bool:
        return bool(self._kind)

    @property
    def kinds(self) -> bytearray:
        """The decoder's kind of each instruction, as a column (read, not written:
        building an Insn to ask one instruction's kind costs a microsecond)."""
        return self._kind

    def with_kind(self, *kinds: Kind) -> array:
        """The indices of the instructions the decoder gave one of `kinds`, in
        order (building an Insn for every instruction to read its kind had
        been a tenth of vmlinux.o's time)."""
        return kind_indices(self._kind, *kinds)

    def kind_bytes(self) -> bytes:
        """The decoded kinds, one byte (a Kind's value) per instruction."""
        return bytes(self._kind)

    def ops_list(self) -> list[tuple]:
        """Every instruction's stack operations, () where there are none: the
        column itself, which the analysis shares (a copy would be 8 bytes an
        instruction).  Its passes clear the push of a call that does not push
        for the unwinder, as objtool's remove_insn_ops() frees the decoder's."""
        return self._ops
