# SPDX-License-Identifier: GPL-2.0-only
"""arm64 switch jump tables: relative tables without relocations.

GCC and Clang emit the same shape:

    cmp   wI, #N ; b.hi default          (the table has N + 1 entries)
    adrp  xT, table ; add xT, xT, :lo12:table     (relocations against .rodata)
    ldrb  wE, [xT, wI, uxtw]             (or ldrh / ldr / ldrsb...: the entry size)
    adr   xB, anchor                     (a label in the code)
    add   xD, xB, wE, sxtb #2            (or xE, lsl #2)
    br    xD

so each target is anchor + extend(entry) << shift.  The entries carry no
relocations, so this reads them from the table's bytes.
"""
from __future__ import annotations

import struct

R_AARCH64_ADD_ABS_LO12_NC = 277
WINDOW = 24          # instructions to look back from the br


def _sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v & (1 << (bits - 1)) else v


def _words(p, cs) -> list[int]:
    cache = p.__dict__.setdefault("_arm64_words", {})
    w = cache.get(cs.sec.index)
    if w is None:
        data = p.elf.section_data(cs.sec)
        w = cache[cs.sec.index] = list(struct.unpack_from("<%dI" % (len(data) // 4), data, 0))
    return w


def switch_targets(p, i: int) -> list[int] | None:
    """Instruction indices a `br` at instruction i can reach through a jump table."""
    f = p.func(i)
    if f is None:
        return None
    cs = p.sec_of[i]
    words = _words(p, cs)
    k0 = p.insn.off[i] // 4
    reg = (words[k0] >> 5) & 31
    lo = max(cs.first, i - WINDOW)
    chain = list(range(i - 1, lo - 1, -1))

    def writer(r: int, start: int):
        """The nearest earlier instruction writing r: within the window (its
        position in `chain`), else anywhere earlier in the function (-2)."""
        for j in chain[start:]:
            if p.func(j) is not f:
                return None, -1
            w = words[p.insn.off[j] // 4]
            if (w & 31) == r and not _is_store_or_branch(w):
                return w, chain.index(j)
        j = _writer_before(p, words, chain[-1] if chain else i, r)
        if j < 0:
            return None, -1
        chain.append(j)                      # make it addressable like the others
        return words[p.insn.off[j] // 4], len(chain) - 1

    w_add, at = writer(reg, 0)
    if w_add is None:
        return None
    if (w_add & 0xFFE01C00) == 0xF8601800:                            # ldr xT, [xB, xI{, ext} #3]
        return _absolute_table(p, words, f, chain[at], (w_add >> 5) & 31)
    if (w_add & 0x7FE00000) == 0x0B200000 or (w_add & 0xFFE00000) == 0x8B200000:   # add (extended)
        ext, shift = (w_add >> 13) & 7, (w_add >> 10) & 7
    elif (w_add & 0xFF200000) == 0x8B000000 and ((w_add >> 22) & 3) == 0:          # add (lsl)
        ext, shift = 3, (w_add >> 10) & 63
    else:
        return None
    rn, rm = (w_add >> 5) & 31, (w_add >> 16) & 31
    # one of the operands comes from adr (the anchor), the other from the table load
    anchor = entry = None
    for base, other in ((rn, rm), (rm, rn)):
        w_adr, at_adr = writer(base, at + 1)
        if w_adr is not None and (w_adr & 0x9F000000) == 0x10000000:                  # adr
            j = chain[at_adr]
            imm = _sext(((w_adr >> 5) & 0x7FFFF) << 2 | (w_adr >> 29) & 3, 21)
            anchor = p.insn.off[j] + imm
            entry = other
            break
    if anchor is None:
        return None
    w_ld, at_ld = writer(entry, at + 1)
    if w_ld is None or (w_ld & 0x3B200C00) != 0x38200800:                             # ldr (register)
        return None
    size = 1 << (w_ld >> 30)
    opc = (w_ld >> 22) & 3
    signed_load = opc in (2, 3)
    tab_reg = (w_ld >> 5) & 31
    w_lo, at_lo = writer(tab_reg, at_ld + 1)
    if w_lo is None:
        return None
    j_lo = _through_spill(p, words, f, chain[at_lo], w_lo)
    if j_lo < 0:
        return None
    r = p.reloc_in(j_lo)
    if r is None or r.type != R_AARCH64_ADD_ABS_LO12_NC:
        return None
    rs = p.reloc_sym(r)
    tsec = p.elf.sections[rs.sec] if 0 < rs.sec < len(p.elf.sections) else None
    if tsec is None:
        return None
    table_off = rs.offset + r.addend
    data = p.elf.section_data(tsec)
    count = _bound(p, words, chain, f, at_ld)
    limit = count if count is not None else _room(p, tsec, table_off, size)
    out: list[int] = []
    seen = set()
    for n in range(limit):
        o = table_off + n * size
        if o + size > len(data):
            break
        raw = int.from_bytes(data[o:o + size], "little")
        if signed_load:
            raw = _sext(raw, 8 * size)
        v = _extend(raw, ext)
        d = p.find(cs.sec.index, anchor + (v << shift))
        if d < 0 or p.func(d) is None or p.func(d).pfunc is not f.pfunc:
            if count is not None:
                return None               # a bounded table must be all valid
            break
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out or None


def _writer_before(p, words, i: int, r: int) -> int:
    """The nearest instruction before i in the same function that writes r, in
    address order (straight-line code; the table base is set once)."""
    j = p.prev_same_sym(i)
    while j >= 0:
        w = words[p.insn.off[j] // 4]
        if (w & 31) == r and not _is_store_or_branch(w):
            return j
        j = p.prev_same_sym(j)
    return -1


def _through_spill(p, words, f, j: int, w: int) -> int:
    """The `add xT, xT, :lo12:table` that produced the value written at j, looking
    through one spill: `ldr xT, [sp, #n]` after `str xS, [sp, #n]`."""
    if (w & 0xFF800000) == 0x91000000:                          # add (immediate)
        return j
    if (w & 0xFFC003E0) == 0xF94003E0:                          # ldr xT, [sp, #n]
        store = 0xF90003E0 | (w & 0x3FFC00)                     # str x?, [sp, #n]
        for k in p.func_insns(f):
            if p.insn.off[k] >= p.insn.off[j]:
                break
            wk = words[p.insn.off[k] // 4]
            if (wk & 0xFFFFFFE0) == store:
                src = _writer_before(p, words, k, wk & 31)
                if src >= 0 and (words[p.insn.off[src] // 4] & 0xFF800000) == 0x91000000:
                    return src
    return -1


def _absolute_table(p, words, f, at: int, base_reg: int) -> list[int] | None:
    """Computed gotos: `ldr xT, [xB, xI, lsl|sxtw #3]; br xT` with xB set by
    `add xB, xB, :lo12:table` somewhere earlier in the function, and a table of
    absolute addresses (one ABS64 relocation each) all leading into the function.

    The base is found by the nearest earlier write in address order; where that
    is some other write (a restore on another path), by the only table reference
    the function ever loads into that register."""
    j = _writer_before(p, words, at, base_reg)
    table = _table_ref(p, words, j) if j >= 0 else None
    if table is None:
        refs = set()
        for k in p.func_insns(f):
            w = words[p.insn.off[k] // 4]
            if (w & 31) == base_reg and (w & 0xFF800000) == 0x91000000:
                t = _table_ref(p, words, k)
                if t is not None:
                    refs.add(t)
        if len(refs) != 1:
            return None
        table = refs.pop()
    tsec, expect = table
    out: list[int] = []
    for e in p.elf.relocs(p.elf.sections[tsec]).from_offset(expect):
        if e.offset != expect:
            break
        ts = p.reloc_sym(e)
        d = p.find(ts.sec, ts.offset + e.addend)
        if d < 0 or p.func(d) is None or p.func(d).pfunc is not f.pfunc:
            break
        if d not in out:
            out.append(d)
        expect += 8
    return out or None


def _table_ref(p, words, j: int):
    """(section, offset) of a read-only table that `add x, x, :lo12:sym` at j refers to."""
    if (words[p.insn.off[j] // 4] & 0xFF800000) != 0x91000000:
        return None
    r = p.reloc_in(j)
    if r is None or r.type != R_AARCH64_ADD_ABS_LO12_NC:
        return None
    rs = p.reloc_sym(r)
    if rs.sec not in p.rodata:
        return None
    return rs.sec, rs.offset + r.addend


def _extend(v: int, ext: int) -> int:
    """The add's extend applied to a loaded entry; a 64-bit operand (uxtx/sxtx/lsl)
    is the register's two's-complement value either way."""
    bits = (8, 16, 32, 64)[ext & 3]
    v &= (1 << bits) - 1
    return _sext(v, bits) if ext & 4 or bits == 64 else v


def _bound(p, words, chain, f, start) -> int | None:
    """The entry count from the range check guarding the table: a `cmp wI, #N`
    and a conditional branch, either falling through into the table's basic block
    (b.hi / b.hs to the default) or jumping to it (b.ls / b.lo)."""
    from orcgen.insn import Kind
    block = -1
    for pos in range(start, len(chain)):               # the table's basic block
        j = chain[pos]
        if p.func(j) is not f:
            break
        if p.kind[j] in (Kind.JUMP_UNCOND, Kind.JUMP_DYNAMIC, Kind.RETURN):
            break
        block = j
        n = _guard(p, words, j, fall_through=True)
        if n is not None:
            return n
    if block < 0:
        return None
    for j in p.func_insns(f):                          # branches into the block
        if p.jump_dest[j] == block and p.kind[j] == Kind.JUMP_COND:
            n = _guard(p, words, j, fall_through=False)
            if n is not None:
                return n
    return None


def _guard(p, words, j: int, fall_through: bool) -> int | None:
    """If instruction j is `b.cond` right after `cmp wI, #N` (or j is that cmp and a
    b.cond follows), the number of table entries it lets through."""
    cs = p.sec_of[j]
    for c, b in ((j, j + 1), (j, j + 2), (j - 1, j), (j - 2, j)):
        if not (cs.first <= c < cs.end and cs.first <= b < cs.end):
            continue
        wc, wb = words[p.insn.off[c] // 4], words[p.insn.off[b] // 4]
        if (wc & 0x7F80001F) != 0x7100001F or (wb & 0xFF000010) != 0x54000000:
            continue
        imm = ((wc >> 10) & 0xFFF) << (12 if (wc >> 22) & 1 else 0)
        cond = wb & 15
        if fall_through and b != j and b != j + 1 and b != j + 2:
            continue
        if (fall_through and cond == 8) or (not fall_through and cond == 9):
            return imm + 1                             # index <= N reaches the table
        if (fall_through and cond == 2) or (not fall_through and cond == 3):
            return imm                                 # index < N
    return None


def _room(p, tsec, table_off: int, size: int) -> int:
    """Entries until the next table the code refers to in the same section."""
    starts = p.__dict__.setdefault("_arm64_tables", {}).get(tsec.index)
    if starts is None:
        starts = set()
        for cs in p.code:
            for r in p.elf.relocs(cs.sec).relocs:
                if r.type == R_AARCH64_ADD_ABS_LO12_NC:
                    rs = p.reloc_sym(r)
                    if rs.sec == tsec.index:
                        starts.add(rs.offset + r.addend)
        starts = sorted(starts)
        p._arm64_tables[tsec.index] = starts
    nxt = [o for o in starts if o > table_off]
    end = nxt[0] if nxt else tsec.size
    return max(0, (end - table_off) // size)


def _is_store_or_branch(w: int) -> bool:
    if (w & 0x0A000000) == 0x08000000:                      # loads and stores
        if (w & 0x3A000000) == 0x28000000:                  # pair: loads write Rt
            return not (w >> 22) & 1
        if (w & 0x3B000000) in (0x39000000, 0x38000000):
            return ((w >> 22) & 3) == 0 and not (w >> 26) & 1
        return False
    return (w & 0x1C000000) == 0x14000000                   # branches, system
