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
    k0 = p.insn[i].offset // 4
    reg = (words[k0] >> 5) & 31
    lo = max(cs.first, i - WINDOW)
    chain = list(range(i - 1, lo - 1, -1))

    def writer(r: int, start: int):
        for j in chain[start:]:
            if p.func(j) is not f:
                return None, -1
            w = words[p.insn[j].offset // 4]
            if (w & 31) == r and not _is_store_or_branch(w):
                return w, chain.index(j)
        return None, -1

    w_add, at = writer(reg, 0)
    if w_add is None:
        return None
    if (w_add & 0xFFE0FC00) == 0xF8607800:                                           # ldr xT, [xB, xI, lsl #3]
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
            anchor = p.insn[j].offset + imm
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
    if w_lo is None or (w_lo & 0xFF800000) != 0x91000000:                            # add x, x, #lo12
        return None
    r = p.reloc_in(chain[at_lo])
    if r is None or r.type != R_AARCH64_ADD_ABS_LO12_NC:
        return None
    rs = p.reloc_sym(r)
    tsec = p.elf.sections[rs.sec] if 0 < rs.sec < len(p.elf.sections) else None
    if tsec is None:
        return None
    table_off = rs.offset + r.addend
    data = p.elf.section_data(tsec)
    count = _bound(p, words, chain, f, at_ld)
    limit = count if count is not None else 4096
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


def _absolute_table(p, words, f, at: int, base_reg: int) -> list[int] | None:
    """Computed gotos: `ldr xT, [xB, xI, lsl #3]; br xT` with xB set once, anywhere
    earlier in the function, by `add xB, xB, :lo12:table`, and a table of absolute
    addresses (one ABS64 relocation each) that all lead into the same function."""
    j = p.prev_same_sym(at)
    while j >= 0:
        w = words[p.insn[j].offset // 4]
        if (w & 31) == base_reg and not _is_store_or_branch(w):
            break
        j = p.prev_same_sym(j)
    if j < 0 or (w & 0xFF800000) != 0x91000000:
        return None
    r = p.reloc_in(j)
    if r is None or r.type != R_AARCH64_ADD_ABS_LO12_NC:
        return None
    rs = p.reloc_sym(r)
    if rs.sec not in p.rodata:
        return None
    table = p.elf.sections[rs.sec]
    out: list[int] = []
    expect = rs.offset + r.addend
    for e in p.elf.relocs(table).from_offset(expect):
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


def _extend(v: int, ext: int) -> int:
    bits = (8, 16, 32, 64)[ext & 3]
    v &= (1 << bits) - 1
    return _sext(v, bits) if ext & 4 else v


def _bound(p, words, chain, f, start) -> int | None:
    """N + 1 from the `cmp wI, #N; b.hi` guard above the table load, if found."""
    for pos in range(start, len(chain)):
        j = chain[pos]
        if p.func(j) is not f:
            return None
        w = words[p.insn[j].offset // 4]
        if (w & 0x7F80001F) == 0x7100001F:                 # cmp (subs wzr/xzr, wN, #imm)
            imm = ((w >> 10) & 0xFFF) << (12 if (w >> 22) & 1 else 0)
            for nxt in (j + 1, j + 2):
                wb = words[p.insn[nxt].offset // 4] if nxt < p.sec_of[j].end else 0
                if (wb & 0xFF000010) == 0x54000000:
                    cond = wb & 15
                    if cond in (8, 9):                      # b.hi to default / b.ls to the table
                        return imm + 1
                    if cond in (2, 3):                      # b.hs to default / b.lo to the table
                        return imm
            return None
    return None


def _is_store_or_branch(w: int) -> bool:
    if (w & 0x0A000000) == 0x08000000:                      # loads and stores
        if (w & 0x3A000000) == 0x28000000:                  # pair: loads write Rt
            return not (w >> 22) & 1
        if (w & 0x3B000000) in (0x39000000, 0x38000000):
            return ((w >> 22) & 3) == 0 and not (w >> 26) & 1
        return False
    return (w & 0x1C000000) == 0x14000000                   # branches, system
