# SPDX-License-Identifier: GPL-2.0-only
"""--unret: entry code must untrain the return predictor before its first RET.

objtool 6.12 (check.c validate_unrets()): from every instruction a
VALIDATE_UNRET_BEGIN annotation marks (.discard.validate_unret, read by hints.py), follow every
path -- alternatives, branches, calls into their callees -- until one reaches
VALIDATE_UNRET_END (a retpoline-safe NOP) or a call returns (a callee that
returned without error has untrained).  A RET or an indirect branch on the
way is a warning.  The walk has its own visited mark (VISITED_UNRET), so it
sees code the stack validation walked already; it runs after that walk,
as in objtool, and reads `next_to_validate` from the interpreter.
"""
from __future__ import annotations

from typing import Callable

from .cfg import is_sibling_call
from .insn import Kind
from .program import Program


class _Unret:
    def __init__(self, p: Program, next_insn: Callable[[int], int]) -> None:
        self.p = p
        self.next_insn = next_insn
        self.seen = bytearray(len(p.insn))

    def walk(self, i: int) -> int:
        """validate_unret(): 0 when every path untrains, 1 after a warning, -1 when lost."""
        p = self.p
        while True:
            nxt = self.next_insn(i)
            if self.seen[i]:
                return 0
            self.seen[i] = 1
            alts = p.alts[i]
            if alts and not p.ignore_alts[i]:
                for a, _skip in alts:
                    ret = self.walk(a)
                    if ret:
                        return ret
                if any(skip for _a, skip in alts):
                    return 0
            k = p.kind[i]
            if k in (Kind.CALL_DYNAMIC, Kind.JUMP_DYNAMIC, Kind.JUMP_DYNAMIC_COND):
                p.warn_insn(i, "unret", "early indirect call")
                return 1
            if k in (Kind.JUMP_COND, Kind.JUMP_UNCOND) and not is_sibling_call(p, i):
                d = p.jump_dest[i]
                if d < 0:
                    p.warn_insn(i, "unret", "unresolved jump target after linking?!?")
                    return -1
                ret = self.walk(d)
                if ret:
                    return ret
                if k == Kind.JUMP_UNCOND:
                    return 0
            elif k in (Kind.JUMP_COND, Kind.JUMP_UNCOND, Kind.CALL):
                s = p.call_dest[i]
                d = p.find(s.sec, s.offset) if s is not None else -1
                if d < 0:
                    p.warn("unret", "Unresolved function after linking!?: %s"
                           % (s.name if s is not None else "(null)"))
                    return -1
                # a callee that returns without error has untrained
                return self.walk(d)
            elif k == Kind.RETURN:
                p.warn_insn(i, "unret", "RET before UNTRAIN")
                return 1
            elif k == Kind.CONTEXT_SWITCH:
                if p.func(i) is None:
                    return 0
            elif k == Kind.NOP and p.retpoline_safe[i]:
                return 0
            if p.dead_end[i]:
                return 0
            if nxt < 0:
                p.warn_insn(i, "unret", "teh end!")                       # sic
                return -1
            i = nxt


def validate_unrets(p: Program, next_insn: Callable[[int], int]) -> int:
    """validate_unrets(): the warnings; raises Fatal where objtool gives up."""
    v = _Unret(p, next_insn)
    warnings = 0
    for i in sorted(set(getattr(p, "unret_begin", ()))):     # for_each_insn() order
        ret = v.walk(i)
        if ret < 0:
            raise p.fatal_insn(i, "unret", "Failed UNRET validation")
        warnings += ret
    return warnings
