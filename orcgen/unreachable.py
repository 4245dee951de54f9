# SPDX-License-Identifier: GPL-2.0-only
"""Instructions no walk reached: objtool's "unreachable instruction" and
"missing a __noreturn annotation" findings, and the code it expects no walk
to reach (padding, alternatives' replacements, the tails of noreturn calls,
holes between a linked file's symbols)."""
from __future__ import annotations

import re

from .insn import Kind
from .program import Program

_UNREACHED = re.compile(rb"\x00+")


def validate_reachable(p: Program) -> None:
    """objtool's validate_reachable_instructions(): every instruction no walk
    reached is a finding, unless objtool has a reason to expect it."""
    if p.ignore_unreachables:
        return
    kind, ignore = p.kind, p.ignore
    quiet = (Kind.NOP, Kind.TRAP)
    for cs in p.code:
        # only the stretches no walk reached (a fifth of vmlinux.o), and at
        # C speed to them; padding (NOP, int3) and ignored code at a glance
        for m in _UNREACHED.finditer(p.visited, cs.first, cs.end):
            for i in range(*m.span()):
                if kind[i] in quiet or ignore[i] or _ignore_unreachable(p, i):
                    continue
                prev = p.prev_same_sec(i)
                if prev >= 0 and p.dead_end[prev]:
                    d = p.insn_call_dest(prev)
                    if d is not None:
                        p.warn_insn(i, "noreturn", "%s() is missing a __noreturn annotation" % d.name)
                        continue
                p.warn_insn(i, "unreachable", "unreachable instruction")


def _ignore_unreachable(p: Program, i: int) -> bool:
    k = p.kind[i]
    if p.ignore[i] or k in (Kind.NOP, Kind.TRAP):
        return True
    if p.sec_of[i].name in (".altinstr_replacement", ".altinstr_aux"):
        return True
    f = p.func(i)
    if p.opts.link and f is None:
        size = p.symtab.section(p.sec_of[i].sec.index).hole_size(p.insn.off[i])
        if size == 0:
            return False
        if size < 0:
            return True
        end = p.insn.off[i] + size
        j = p.next_same_sec(i)
        while j >= 0:
            if p.visited[j]:
                return True
            if p.insn.off[j] >= end:
                break
            d = p.jump_dest[j]
            if d >= 0 and p.func(d) is not None and ".cold" in p.func(d).name:
                for c in p.func_insns(p.func(d)):
                    p.ignore[c] = 1
            j = p.next_same_sec(j)
        return False
    if f is None:
        return False
    if f.static_call_tramp:
        return True
    prev = p.prev_same_sec(i)
    if prev >= 0 and p.dead_end[prev] and (
            k == Kind.BUG or (k == Kind.JUMP_UNCOND and p.jump_dest[i] >= 0
                              and p.kind[p.jump_dest[i]] == Kind.BUG)):
        return True
    j = i
    for _ in range(5):
        d = p.insn_call_dest(j) if p.kind[j] == Kind.CALL else None
        if d is not None and d.name in ("__asan_handle_no_return",
                                        "__ubsan_handle_builtin_unreachable"):
            return True
        if p.kind[j] == Kind.JUMP_UNCOND:
            jd = p.jump_dest[j]
            if jd >= 0 and p.func(jd) is p.func(j):
                j = jd
                continue
            break
        fj = p.func(j)
        if fj is None or p.insn.end(j) >= fj.offset + fj.len:
            break
        j = p.next_same_sec(j)
        if j < 0:
            break
    return False
