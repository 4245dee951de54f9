# SPDX-License-Identifier: GPL-2.0-only
"""All of an object's decoded instructions, stored by column.

A list of `Insn` tuples costs about 110 bytes an instruction (the tuple, and
an int object for each offset); vmlinux.o has five million instructions, so
that list had been a quarter of orcgen's peak memory.  Here the offsets,
lengths, decoded kinds and immediates are arrays (21 bytes an instruction)
and the stack operations a list of shared tuples.  `table[i]` still gives the
`Insn` the decoder made, built on demand, so code that reads an instruction
now and then is unchanged; passes over every instruction read the columns
(`off`, `size`) directly.
"""
from __future__ import annotations

from array import array
from typing import Iterable, Iterator

from .insn import Insn, Kind

_KINDS = tuple(Kind)
_new = tuple.__new__


class InsnTable:
    __slots__ = ("off", "size", "_kind", "_imm", "_ops")

    def __init__(self) -> None:
        self.off = array("q")       # offset in its section
        self.size = array("I")      # length in bytes (a padding NOP of the analysis' own may be long)
        self._kind = bytearray()    # the decoder's Kind (Program.kind is the analysis' own copy)
        self._imm = array("q")
        self._ops: list[tuple] = []

    def extend(self, insns: Iterable[Insn]) -> None:
        off, size, kind, imm, ops = self.off, self.size, self._kind, self._imm, self._ops
        for o, n, k, i, s in insns:
            off.append(o)
            size.append(n)
            kind.append(k)
            imm.append(i)
            ops.append(s)

    def append(self, ins: Insn) -> None:
        self.extend((ins,))

    def __len__(self) -> int:
        return len(self._ops)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self._ops)))]
        return _new(Insn, (self.off[i], self.size[i], _KINDS[self._kind[i]], self._imm[i], self._ops[i]))

    def __iter__(self) -> Iterator[Insn]:
        for k in range(len(self._ops)):
            yield self[k]

    def __bool__(self) -> bool:
        return bool(self._ops)

    def with_kind(self, *kinds: Kind) -> list[int]:
        """The indices of the instructions the decoder gave one of `kinds`, in
        order: one scan of the kind column, for the passes that look only at
        jumps or calls (building an Insn for every instruction to read its kind
        had been a tenth of vmlinux.o's time)."""
        want = frozenset(int(k) for k in kinds)
        return [i for i, k in enumerate(self._kind) if k in want]

    def kinds(self) -> list[Kind]:
        """The decoded kinds, as the list the analysis starts from."""
        return [_KINDS[k] for k in self._kind]

    def ops_list(self) -> list[tuple]:
        return list(self._ops)
