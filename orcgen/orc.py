# SPDX-License-Identifier: GPL-2.0-only
"""ORC tables: built from the interpreter's states, or read from an object.

The table is objtool's (orc_gen.c orc_create()): per code section, in address
order, an entry wherever the encoded state changes from the previous one (the
first comparison is against an all-zero entry, so leading unreachable code gets
none), alternatives contributing their flattened per-byte states, and an
all-zero terminator at the end of each section that got any entry.  The entry
encoding and its text belong to the architecture (`backend.orc`).
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from itertools import chain, compress
from operator import is_not
from typing import Any

from .elf import STT_SECTION, ElfFile
from .errors import InputError
from .findings import Fatal
from .program import Program


@dataclass(frozen=True, slots=True)
class OrcRow:
    """One ORC entry and the code address it starts at."""
    section: str
    secno: int
    offset: int
    entry: Any          # the architecture's entry type (pack(), text())

    def text(self) -> str:
        return "%s+%x:%s" % (self.section, self.offset, self.entry.text())


_NONE = object()        # build_table's "no state seen yet"
_RUN = 1 << 16          # instructions looked at a slice at a time (libLLVM's .text is 13 M)


def build_table(p: Program, keep: bool = True) -> list[OrcRow]:
    """The ORC table; with `keep` false, only every state's encoding (a state
    ORC cannot express is objtool's fatal error, which `orcgen check` must
    report too) and no rows: libLLVM's table is 60 MB that check never reads."""
    fmt = p.be.orc
    null = fmt.NULL
    rows: list[OrcRow] = []
    # id(state) -> entry: states are interned (a few hundred distinct ones per
    # object), live in p.cfi throughout, and hashing one is two 34-int tuples
    memo: dict = {}
    group_at, cfi, off = p.alt_group.get, p.cfi, p.insn.off
    in_alts = sorted(p.alt_group)
    for cs in p.code:
        if not cs.text:
            continue
        name, secno = cs.name, cs.sec.index
        prev = null
        empty = True
        last = _NONE
        i = cs.first
        while i < cs.end:
            g = group_at(i)
            if g is None:
                # up to the next alternative: only where the state object
                # changes (states are interned and come in runs; compress()
                # finds those at C speed, 5 M instructions on vmlinux.o)
                k = bisect_left(in_alts, i)
                j = min(in_alts[k] if k < len(in_alts) else cs.end, cs.end, i + _RUN)
                run = cfi[i:j]
                for at in compress(range(i, j), map(is_not, run, chain((last,), run))):
                    c = cfi[at]
                    e = memo.get(id(c))
                    if e is None:
                        e = memo[id(c)] = _encode(p, fmt, c, at)
                    if e is not prev and e != prev:
                        if keep:
                            rows.append(OrcRow(name, secno, off[at], e))
                        prev, empty = e, False
                last = run[-1]
                i = j
                continue
            # Alternatives: one state per byte offset, shared by all replacements.
            length = p.insn.end(g.last) - p.insn.off[g.first]
            base = p.insn.off[i]
            for k in range(length):
                c = g.cfi[k] if k < len(g.cfi) else None
                if c is None:
                    continue
                e = _encode(p, fmt, c, i)
                if e != prev:
                    if keep:
                        rows.append(OrcRow(name, secno, base + k, e))
                    prev, empty = e, False
            i = g.last + 1
            last = _NONE
        if not empty and keep:
            rows.append(OrcRow(name, secno, cs.sec.size, null))
    return rows


def _encode(p: Program, fmt, c, i: int):
    try:
        return fmt.entry_from_cfi(c)
    except fmt.OrcEncodeError as e:
        raise p.fatal_insn(i, "orc", str(e)) from None


def read_table(elf: ElfFile, fmt) -> list[str] | None:
    """The ORC already in an object, as objtool --dump=orc prints it; None if it has none."""
    sym_sec, orc_sec = elf.symtab, elf.section_by_name(".orc_unwind")
    ip_sec = elf.section_by_name(".orc_unwind_ip")
    if sym_sec is None or elf.section_by_name(".strtab") is None or orc_sec is None or ip_sec is None:
        return None
    size = fmt.OrcEntry.SIZE
    if orc_sec.size % size:
        raise InputError("bad .orc_unwind section size")
    data = elf.section_data(orc_sec)
    rsec = elf.section_by_name(".rela.orc_unwind_ip")
    relocs = elf.relocs_in_file_order(rsec) if rsec is not None else None
    ips = elf.section_data(ip_sec)
    out = []
    for n in range(orc_sec.size // size):
        entry = fmt.OrcEntry.unpack(data, n * size)
        if relocs is not None:
            if n >= len(relocs):
                raise InputError(".rela.orc_unwind_ip has fewer entries than .orc_unwind")
            r = relocs[n]
            s = elf.symbol(r.sym)
            name = elf.sections[s.section].name if s.type == STT_SECTION and s.section is not None \
                else s.name
            where = "%s+%x" % (name, r.addend & 0xFFFFFFFFFFFFFFFF)
        else:
            if 4 * n + 4 > len(ips):
                raise InputError(".orc_unwind_ip is shorter than .orc_unwind")
            rel = int.from_bytes(ips[4 * n:4 * n + 4], "little", signed=True)
            where = "%x" % ((ip_sec.addr + 4 * n + rel) & 0xFFFFFFFFFFFFFFFF)
        out.append("%s:%s" % (where, entry.text()))
    return out


__all__ = ["OrcRow", "build_table", "read_table", "Fatal"]
