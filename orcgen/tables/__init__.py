# SPDX-License-Identifier: GPL-2.0-only
"""What objtool's check() writes into an object, besides the analysis itself.

Each table has its own module (sites, static_calls, jump_labels, prefix, orc);
they all record their changes in one `Edits`, in the order objtool makes
them, because the order is visible in the result: a new local symbol takes
the slot of the first global (elfwrite), section indices follow creation
order, and a text section gets its section symbol from whichever table first
needs one.  `Edits.apply()` hands everything to orcgen.elfwrite at once.

The objtool functions mirrored are named in each module (tools/objtool in
Linux 6.12: check.c, elf.c).
"""
from __future__ import annotations

from typing import Union

from ..elf import SHF_ALLOC, SHT_PROGBITS, SHT_RELA, STB_LOCAL, STT_SECTION, ElfFile, Reloc
from ..elfwrite import (SHF_INFO_LINK, SYMTAB, NewReloc, NewSection, NewSymbol, Patch,
                        add_to_elf)
from ..errors import InputError

R_X86_64_NONE = 0
R_X86_64_PC32 = 2
R_X86_64_64 = 1
# e_machine -> (R_NONE, objtool's elf_text_rela_type(), elf_data_rela_type(), R_ABS64)
RELOC_TYPES = {62: (R_X86_64_NONE, R_X86_64_PC32, R_X86_64_PC32, R_X86_64_64)}

SymRef = Union[int, NewSymbol]


class Edits:
    """The changes objtool would make to one object, collected in its order."""

    def __init__(self, elf: ElfFile) -> None:
        self.elf = elf
        self._types = RELOC_TYPES.get(elf.machine)
        self.sections: list[NewSection] = []
        self.symbols: list[NewSymbol] = []
        self.patches: list[Patch] = []
        self.created: list[Union[NewSection, NewSymbol]] = []     # both, in creation order
        # objtool's sec->sym: the last STT_SECTION symbol of each section, in table order.
        self._sec_sym: dict[int, SymRef] = {}
        for s in elf.symbols:
            if s.type == STT_SECTION and s.section is not None:
                self._sec_sym[s.section] = s.index

    def _type(self, k: int) -> int:
        if self._types is None:      # only once something is to be written: validation works anywhere
            raise InputError("writing objtool's tables is not supported for %s" % self.elf.machine_name)
        return self._types[k]

    r_none = property(lambda self: self._type(0), doc="R_NONE")
    r_text = property(lambda self: self._type(1), doc="objtool's elf_text_rela_type()")
    r_data = property(lambda self: self._type(2), doc="objtool's elf_data_rela_type()")
    r_abs64 = property(lambda self: self._type(3), doc="R_ABS64 (__mcount_loc)")

    @property
    def changed(self) -> bool:
        """objtool's elf->changed: is there anything to write?"""
        return bool(self.sections or self.symbols or self.patches)

    def has_section(self, name: str) -> bool:
        return self.elf.section_by_name(name) is not None or any(s.name == name for s in self.sections)

    def add_symbol(self, sym: NewSymbol) -> NewSymbol:
        """objtool's __elf_create_symbol(): the writer places it (locals before globals)."""
        self.symbols.append(sym)
        self.created.append(sym)
        return sym

    def add_section(self, sec: NewSection) -> NewSection:
        """objtool's elf_create_section()."""
        self.sections.append(sec)
        self.created.append(sec)
        return sec

    def section_symbol(self, secno: int) -> SymRef:
        """The section's symbol, made on first use (objtool's elf_create_section_symbol())."""
        sym = self._sec_sym.get(secno)
        if sym is None:
            sym = self._sec_sym[secno] = self.add_symbol(NewSymbol("", STT_SECTION, STB_LOCAL, secno))
        return sym

    def text_reloc(self, where: int, secno: int, offset: int, rtype: int | None = None) -> NewReloc:
        """objtool's elf_init_reloc_text_sym(): a reference to code (PC-relative
        unless `rtype` says otherwise, as __mcount_loc's R_ABS64), against the
        code section's symbol with the offset as addend."""
        return self.text_relocs(0, [(secno, offset)], rtype)[0]._replace(offset=where)

    def text_relocs(self, stride: int, targets, rtype: int | None = None) -> list[NewReloc]:
        """text_reloc(stride * k, secno, offset, rtype) for the k-th (secno, offset)
        of `targets`: each section checked and its symbol looked up once."""
        out: list[NewReloc] = []
        syms: dict[int, SymRef] = {}
        for k, (secno, offset) in enumerate(targets):
            sym = syms.get(secno)
            if sym is None:
                if not self.elf.sections[secno].is_exec:
                    raise InputError("%s is not a code section" % self.elf.sections[secno].name)
                if rtype is None:
                    rtype = self.r_text
                sym = syms[secno] = self.section_symbol(secno)
            out.append(NewReloc(stride * k, rtype, sym, offset))
        return out

    def add_pair(self, name: str, entsize: int, data: bytes, relocs: list[NewReloc],
                 flags: int = SHF_ALLOC, addralign: int = 1) -> NewSection:
        """objtool's elf_create_section_pair(): SHT_PROGBITS NAME (byte-aligned unless
        the caller sets sh_addralign, as for __mcount_loc) and its .rela section
        (SHF_INFO_LINK, 8-aligned), added in that order."""
        sec = NewSection(name, SHT_PROGBITS, flags, data, entsize=entsize, addralign=addralign)
        rela = NewSection(".rela" + name, SHT_RELA, SHF_INFO_LINK, entsize=24, addralign=8,
                          link=SYMTAB, info=sec, relocs=relocs)
        self.add_section(sec)
        self.add_section(rela)
        return sec

    def patch(self, secno: int, offset: int, data: bytes) -> None:
        """objtool's elf_write_insn()."""
        self.patches.append(Patch(secno, offset, bytes(data)))

    def set_reloc_type(self, code_secno: int, reloc: Reloc, rtype: int) -> None:
        """objtool's set_reloc_type() on a relocation of a code section, in place:
        the entry keeps its symbol and addend (r_info's low half is the type)."""
        elf = self.elf
        for rsec in elf.rela_sections_for(elf.sections[code_secno]):
            for k, r in enumerate(elf.relocs_in_file_order(rsec)):
                if r == reloc:
                    size = rsec.entsize or (24 if rsec.type == SHT_RELA else 16)
                    self.patch(rsec.index, k * size + 8, rtype.to_bytes(4, "little"))
                    return
        raise InputError("relocation at %#x not found" % reloc.offset)

    def apply(self) -> bytes:
        """The object with every change made."""
        return add_to_elf(self.elf.data, self.sections, self.symbols, self.patches, self.created)


__all__ = ["Edits", "R_X86_64_NONE", "R_X86_64_PC32"]
