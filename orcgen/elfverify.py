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

from .elf import _REL, _RELA, SHT_GROUP, SHT_NOBITS, SHT_REL, SHT_RELA, STB_LOCAL, ElfFile
from .errors import InputError


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
    for sec in after.sections:
        if sec.type in (SHT_RELA, SHT_REL) and sec.link == symtab:
            if sec.index < len(before.sections):
                _renumbered(before, after, sec, old_to_new)
            else:
                after.relocs_in_file_order(sec)         # raises if an index is out of range
        elif sec.type == SHT_GROUP and sec.link == symtab and sec.index < len(before.sections):
            if sec.info != old_to_new[before.sections[sec.index].info]:
                raise ElfWriteError("group %s signature was not renumbered" % sec.name)


def _renumbered(before: ElfFile, after: ElfFile, sec, old_to_new: list[int]) -> None:
    """Each relocation of an existing section is the old entry with its symbol renumbered."""
    st = _RELA if sec.type == SHT_RELA else _REL
    old, new = before.section_data(before.sections[sec.index]), after.section_data(sec)
    if len(old) != len(new) or len(new) % st.size:
        raise ElfWriteError("relocations in %s were not renumbered" % sec.name)
    n, nsyms = len(old_to_new), len(after.symbols)
    for a, b in zip(st.iter_unpack(old), st.iter_unpack(new)):
        sym, got = a[1] >> 32, b[1] >> 32
        if got >= nsyms:
            raise ElfWriteError("relocation in %s refers to symbol %d, but the symbol table has %d"
                                % (sec.name, got, nsyms))
        if sym >= n or old_to_new[sym] != got or (a[1] ^ b[1]) & 0xFFFFFFFF or a[0] != b[0] \
                or a[2:] != b[2:]:
            raise ElfWriteError("relocations in %s were not renumbered" % sec.name)
