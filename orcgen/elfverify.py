# SPDX-License-Identifier: GPL-2.0-only
"""The writer's self-check: the rewritten object is re-read and compared with
the input, so that a bug in orcgen's ELF writer ends in an error, never in a
damaged object handed to the linker.

It checks what the writer promises and nothing it does not: the sections
that were not rewritten are byte for byte the old ones, every old symbol is
still there (name, type, binding, section, value) at its new index, locals
come before sh_info, and every old relocation is the same entry with its
symbol index renumbered.  The relocations are compared as raw entries
streaming past: vmlinux.o has millions, and parsing both files' relocations
into lists had been the writer's largest allocation and a tenth of its time.
"""
from __future__ import annotations

import sys
from array import array

from .elf import _REL, _RELA, SHT_GROUP, SHT_NOBITS, SHT_REL, SHT_RELA, STB_LOCAL, ElfFile
from .errors import InputError


def words(raw: bytes) -> array:
    """Little-endian 64-bit words (relocation entries' fields) as an array."""
    a = array("Q")
    a.frombytes(raw)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def word_bytes(a: array) -> bytes:
    if sys.byteorder != "little":
        a = array("Q", a)
        a.byteswap()
    return a.tobytes()


class Renumbering:
    """Old symbol index -> new, applied to relocations' r_info words at C speed
    where it is a shift (new local symbols move every global by the same count:
    the usual case), which a per-entry unpack and pack had been a second of
    writing vmlinux.o."""

    def __init__(self, old_to_new: list[int]) -> None:
        self.old_to_new = old_to_new
        n = len(old_to_new)
        g = next((i for i, v in enumerate(old_to_new) if v != i), n)
        d = old_to_new[g] - g if g < n else 0
        self.shift = (g, d) if old_to_new[g:] == list(range(g + d, n + d)) else None

    def infos(self, infos: array) -> array | None:
        """`infos` (r_info words) renumbered; None if one names a symbol that does not exist."""
        m = self.old_to_new
        if infos and max(infos) >> 32 >= len(m):
            return None
        if self.shift is not None:
            g, d = self.shift
            if not d:
                return infos
            lo, by = g << 32, d << 32
            return array("Q", [x + by if x >= lo else x for x in infos])
        return array("Q", [(m[x >> 32] << 32) | (x & 0xFFFFFFFF) for x in infos])


class ElfWriteError(InputError):
    """The object cannot be rewritten as asked; the message says why."""


def verify(data: bytes, sh: list, symtab: int | None, out: bytes, added: int, new_symbols: int,
           old_to_new: list[int]) -> None:
    """`data` the input, `sh` the writer's section headers (new_data set on the
    ones it rewrote), `out` the result; `added` sections and `new_symbols`
    symbols were added, `old_to_new` maps old symbol indices to new ones."""
    try:
        before = ElfFile(data)
        after = ElfFile(out)
    except InputError as e:
        raise ElfWriteError("the rewritten object does not parse: %s" % e) from None
    if len(after.sections) != len(before.sections) + added:
        raise ElfWriteError("the rewritten object has the wrong number of sections")
    for a, b in zip(before.sections[1:], after.sections[1:]):
        same = a.type == SHT_NOBITS or sh[a.index].new_data is not None or \
            data[a.offset:a.offset + a.size] == out[b.offset:b.offset + b.size]
        if (a.name, a.type, a.flags) != (b.name, b.type, b.flags) or not same:
            raise ElfWriteError("section %s changed unexpectedly" % a.name)
    if symtab is None:
        return
    if len(after.symbols) != len(before.symbols) + new_symbols:
        raise ElfWriteError("the rewritten symbol table has the wrong size")
    first_global = sh[symtab].info
    for s in after.symbols[1:]:
        if (s.bind == STB_LOCAL) != (s.index < first_global):
            raise ElfWriteError("symbol %d (%s) is on the wrong side of sh_info" % (s.index, s.name))
    for old in before.symbols:
        new = after.symbols[old_to_new[old.index]]
        if (old.name, old.type, old.bind, old.section, old.value) != \
                (new.name, new.type, new.bind, new.section, new.value):
            raise ElfWriteError("symbol %s did not survive renumbering" % old.name)
    ren = Renumbering(old_to_new)
    for sec in after.sections:
        if sec.type in (SHT_RELA, SHT_REL) and sec.link == symtab:
            if sec.index < len(before.sections):
                _renumbered(before, after, sec, ren)
            else:
                st = _RELA if sec.type == SHT_RELA else _REL
                data = after.section_data(sec)
                if len(data) % st.size:
                    raise ElfWriteError("%s: size is not a multiple of %d" % (sec.name, st.size))
                _in_range(after, sec, words(data)[1::st.size // 8])
        elif sec.type == SHT_GROUP and sec.link == symtab and sec.index < len(before.sections):
            if sec.info != old_to_new[before.sections[sec.index].info]:
                raise ElfWriteError("group %s signature was not renumbered" % sec.name)


def _renumbered(before: ElfFile, after: ElfFile, sec, ren: Renumbering) -> None:
    """Each relocation of an existing section is the old entry with its symbol renumbered."""
    st = _RELA if sec.type == SHT_RELA else _REL
    old, new = before.section_data(before.sections[sec.index]), after.section_data(sec)
    if len(old) != len(new) or len(new) % st.size:
        raise ElfWriteError("relocations in %s were not renumbered" % sec.name)
    w = st.size // 8
    a, b = words(old), words(new)
    _in_range(after, sec, b[1::w])
    if ren.infos(a[1::w]) != b[1::w] or a[0::w] != b[0::w] or (w == 3 and a[2::w] != b[2::w]):
        raise ElfWriteError("relocations in %s were not renumbered" % sec.name)


def _in_range(after: ElfFile, sec, infos: array) -> None:
    nsyms = len(after.symbols)
    if infos and max(infos) >> 32 >= nsyms:
        raise ElfWriteError("relocation in %s refers to symbol %d, but the symbol table has %d"
                            % (sec.name, max(infos) >> 32, nsyms))
