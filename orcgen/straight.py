# SPDX-License-Identifier: GPL-2.0-only
"""Which instructions the walk may pass without looking at them.

Most instructions the walk reaches do nothing it has to decide on: no stack
operation, no branch, no hint or annotation, not an alternative, not the
first of a symbol, not the last of a section; at most a stack operation
(push, pop, a frame pointer's setup).  At such an instruction, when
the walk arrived from the one before it and the instruction is not yet
visited, objtool's validate_branch() only records the state (and applies the
operation) and goes on, and so may the walk, without the dozen column reads
and comparisons that decide it (on an IBT vmlinux.o, 2.9 M of the 3.9 M
instructions the walk reaches).  The mask is
computed once per walk, from the columns, with byte-string operations.
"""
from __future__ import annotations

from itertools import chain
from operator import is_not

from .insn import Kind
from .program import Program

# Kinds at which the walk does nothing beyond recording the state (BUG is a
# dead end, and dead ends are excluded by their own column).
_QUIET_KINDS = (Kind.NOP, Kind.TRAP, Kind.ENDBR, Kind.OTHER)
_LOUD = bytes(0 if k in _QUIET_KINDS else 1 for k in range(256))
_PLAIN = bytes([1] + [0] * 255)


# Instructions at a time: the columns are combined as big integers, whose
# few copies of a whole column had been 70 MB of libLLVM's peak.
_CHUNK = 1 << 20


def _big(b) -> int:
    return int.from_bytes(b, "little")


def _plain(p: Program, a: int, b: int) -> bytes:
    """plain_mask()'s column-wide part for instructions a..b-1."""
    loud = _big(p.kind[a:b].translate(_LOUD)) | _big(p.hint[a:b]) | _big(p.ignore[a:b]) \
        | _big(p.dead_end[a:b])
    # a symbol other than the previous instruction's: the fall-through check
    sym = p.sym[a:b]
    loud |= _big(bytes(map(is_not, sym, chain((p.sym[a - 1] if a else None,), sym))))
    quiet = _big(loud.to_bytes(b - a, "little").translate(_PLAIN))
    quiet += quiet & _big(bytes(map(bool, p.ops[a:b])))        # 2: stack operations too
    return quiet.to_bytes(b - a, "little")


def plain_mask(p: Program, code=None) -> bytearray:
    """At each instruction, given that the walk came from the one before: 1
    where it may pass by recording the state, 2 where it then applies the
    instruction's stack operations and goes on, 0 where it must look; one
    more byte, 0, at the end.  With `code` (code sections), only theirs are
    worked out, 0 elsewhere (vmlinux.o's link-time run walks a few sections)."""
    n = len(p.kind)
    out = bytearray(n)
    for a, b in [(0, n)] if code is None else [(cs.first, cs.end) for cs in code]:
        for k in range(a, b, _CHUNK):
            e = min(b, k + _CHUNK)
            out[k:e] = _plain(p, k, e)
    for col in (p.alt_group, p.alts, p.instr, p.restore):    # (alt_group: fake NOPs too)
        for i in col:
            out[i] = 0
    for cs in p.code:
        if cs.end > cs.first:
            out[cs.end - 1] = 0          # the next instruction is in another section
    out.append(0)
    return out
