# SPDX-License-Identifier: GPL-2.0-only
"""Switch jump tables: the targets of each indirect jump that reads one.

objtool's add_jump_table_alts() and its helpers (check.c): a table is found
from the relocation of the instruction that loads its address, walking back
from the indirect jump through unconditional forward jumps; each entry's
relocation gives one target, which becomes an alternative of the jump.
Back-ends whose tables are relative and carry no relocations (arm64) find
their targets themselves (`switch_targets`).  Part of cfg.build(), after
noreturn calls are known.
"""
from __future__ import annotations

import bisect

from .elf import STT_FUNC, STT_SECTION
from .insn import Kind
from .program import Program
from .symbols import Sym

C_JUMP_TABLE_SECTION = ".data.rel.ro.c_jump_table"


def _find_switch_table(p: Program, i: int):
    """The relocation of a jump table's first entry referenced by instruction i."""
    r = p.reloc_in(i)
    if r is None:
        return None
    rs = p.reloc_sym(r)
    if rs.type != STT_SECTION or rs.sec not in p.rodata:
        return None
    table_off, rip_relative = p.be.switch_table_addend(r.type, r.addend)
    tsec = p.elf.sections[rs.sec]
    if p.symtab.section(rs.sec).containing(table_off) is not None and tsec.name != C_JUMP_TABLE_SECTION:
        return None                       # GCC's tables are anonymous data
    tr = p.elf.relocs(tsec).at(table_off)
    if tr is None:
        return None
    if rip_relative:
        p.ignore_unreachables = True      # GCC's RIP-relative switch quirk leaves dead code
    return (rs.sec, tr)


def _find_jump_table(p: Program, func: Sym, orig: int):
    i = orig
    while i >= 0 and p.func(i) is not None and p.func(i).pfunc is func:
        k = p.kind[i]
        if i != orig and k == Kind.JUMP_DYNAMIC:
            break
        d = p.jump_dest[i]
        if k == Kind.JUMP_UNCOND and d >= 0 and \
                (p.insn.off[d] <= p.insn.off[i] or p.insn.off[d] > p.insn.off[orig]):
            break
        t = _find_switch_table(p, i)
        if t is not None:
            tr = t[1]
            dsec, doff, _ = _entry_target(p, tr, tr.offset)
            dest = p.find(dsec, doff)
            if dest >= 0 and p.func(dest) is not None and p.func(dest).pfunc is func:
                return t
        i = p.first_jump_src[i] if p.first_jump_src[i] >= 0 else p.prev_same_sym(i)
    return None


def _entry_target(p: Program, r, table_start: int) -> tuple[int, int, int]:
    """(section, offset) an entry's relocation points at, and the entry size.

    Kernel tables hold absolute addresses (8 bytes, R_X86_64_64): the target is
    the addend.  Position-independent tables hold `.long target - table`
    (4 bytes, PC-relative relocations): S + A - P = target - table_start.
    objtool reads every entry the first way (and so finds no PIC table); orcgen
    reads PIC tables only with --userspace, keeping objtool's results otherwise."""
    rs = p.reloc_sym(r)
    if p.opts.userspace and p.be.is_pc_relative(r.type):
        return rs.sec, rs.offset + r.addend - (r.offset - table_start), 4
    return rs.sec, r.addend, 8


def _add_jump_table(p: Program, i: int, nxt) -> None:
    pfunc = p.func(i).pfunc
    tsec, table = p.jump_table[i]
    prev_offset = 0
    for r in p.elf.relocs(p.elf.sections[tsec]).from_offset(table.offset):
        if r is not table and nxt is not None and r is nxt[1]:
            break
        dsec, doff, size = _entry_target(p, r, table.offset)
        if prev_offset and r.offset != prev_offset + size:
            break
        if dsec == pfunc.sec and doff == pfunc.offset:
            break                         # a function pointer of a neighbouring object
        if not (dsec == pfunc.sec and doff == pfunc.offset + pfunc.len):
            d = p.find(dsec, doff)
            if d < 0 or p.func(d) is None or p.func(d).pfunc is not pfunc:
                break
            if p.alts[i] is None:
                p.alts[i] = []
            p.alts[i].insert(0, (d, False))
        prev_offset = r.offset
    if not prev_offset:
        if p.opts.userspace:
            # userspace: an unresolved table ends this function's walk, not the file's
            p.warn_insn(i, "switch-table", "can't find switch jump table")
            p.jump_table[i] = None
            return
        raise p.fatal_insn(i, "switch-table", "can't find switch jump table")


def _relevant_jumps(p: Program, jumps: list[int]) -> list[int]:
    """The jumps (of `jumps`, sorted) that make a function's turn in
    add_jump_table_alts() do anything: its indirect jumps, whose tables it
    looks for, and the unconditional jumps into a function that has one.
    The pass also marks each forward jump's destination with the jump
    (first_jump_src), but only the walk back from an indirect jump reads the
    marks, and only inside the indirect jump's own function (or its .cold
    part): a mark anywhere else is never read, and a function whose jumps
    set only such marks can be passed over with the same result."""
    kind, DYN, UNCOND = p.kind, Kind.JUMP_DYNAMIC, Kind.JUMP_UNCOND
    dyn = [i for i in jumps if kind[i] == DYN]
    walked: set[int] = set()                 # ids of the functions a walk may run in
    for i in dyn:
        f = p.func(i)
        if f is not None:
            walked.update((id(f), id(f.pfunc)))
    out = list(dyn)
    jump_dest, func = p.jump_dest, p.func
    for i in jumps:
        if kind[i] == UNCOND:
            d = jump_dest[i]
            if d >= 0:
                fd = func(d)
                if fd is not None and id(fd.pfunc) in walked:
                    out.append(i)
    out.sort()
    return out

def add_jump_table_alts(p: Program) -> None:
    """Switch jump tables.  x86-64 tables are absolute addresses with a relocation
    each (objtool's method, below); back-ends with relative tables that carry no
    relocations (arm64) find their targets themselves (`switch_targets`)."""
    finder = getattr(p.be, "switch_targets", None)
    if not p.rodata and finder is None:
        return
    # Only jumps matter below; their kinds do not change in this pass.  Each
    # function's share is cut out of one sorted list, rather than each pass
    # stepping through every instruction of every function.
    kind = p.kind
    UNCOND, DYN = Kind.JUMP_UNCOND, Kind.JUMP_DYNAMIC
    jumps = p.with_kind(UNCOND, DYN)
    cut = bisect.bisect_left
    relevant = _relevant_jumps(p, jumps)

    def jumps_of(ranges):
        for a, b in ranges:
            yield from jumps[cut(jumps, a):cut(jumps, b)]

    sym = p.sym
    for f in p.syms:                      # symbol-table order, as objtool
        if f.type != STT_FUNC:
            continue
        # Most functions have no jump that matters here, which is seen from
        # the function's extent, without walking its instructions (func_ranges).
        start = p.find(f.sec, f.offset)
        part = sym[start] if start >= 0 else None
        if part is not None and part.type == STT_FUNC and part.cfunc is part:
            upper = p.sec_of[start].by_off.at_or_before(part.offset + part.len - 1) + 1
            if cut(relevant, start) == cut(relevant, upper):
                continue
        ranges = p.func_ranges(f)
        if finder is not None:
            for i in jumps_of(ranges):
                if kind[i] == DYN and p.jump_table[i] is None:
                    targets = finder(p, i)
                    if targets:
                        p.jump_table[i] = ("relative", tuple(targets))
                        p.alts[i] = [(t, False) for t in reversed(targets)]
        if not p.rodata or not ranges:
            continue
        last = ranges[0][0]
        for i in jumps_of(ranges):
            # back-pointers for unconditional forward jumps only, past the last
            # one's target (objtool's mark_func_jump_tables): following a
            # conditional jump back would carry the walk from a tail call through
            # a function pointer (`jmp *%rax` after an epilogue) up to a switch's
            # table load, and give the tail call the switch's targets
            d = p.jump_dest[i]
            if kind[i] == UNCOND and d >= 0 and p.insn.off[i] > p.insn.off[last] \
                    and p.insn.off[d] > p.insn.off[i] and p.first_jump_src[d] < 0:
                p.first_jump_src[d] = i
                last = d
            if kind[i] == DYN and p.jump_table[i] is None:
                t = _find_jump_table(p, f, i)
                if t is not None:
                    p.jump_table[i] = t
        t1 = -1
        for i in jumps_of(ranges):
            t = p.jump_table[i]
            if t is None or t[0] == "relative" or kind[i] == UNCOND:
                continue
            if t1 < 0:
                t1 = i
                continue
            _add_jump_table(p, t1, p.jump_table[i])
            t1 = i
        if t1 >= 0:
            _add_jump_table(p, t1, None)
