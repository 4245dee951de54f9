# SPDX-License-Identifier: GPL-2.0-only
"""A small, strict reader for 64-bit little-endian ELF files.

orcgen reads every object of a kernel build, so this reader uses
`struct.iter_unpack` over the raw bytes (millions of entries per second) rather
than pyelftools' per-entry parsing; pyelftools is kept for DWARF, where its
parsing is worth its cost.  Every offset and size read from the file is checked
against the file before it is used, so a corrupt file ends in an InputError
naming what is wrong, never in an IndexError deep in an analysis.
"""
from __future__ import annotations

import bisect
import operator
import os
import stat
import struct
from dataclasses import dataclass
from typing import Iterator, NamedTuple

from .errors import InputError
from .gcpause import paused

EM_X86_64 = 62
EM_AARCH64 = 183
MACHINE_NAMES = {EM_X86_64: "x86-64", EM_AARCH64: "arm64", 3: "i386", 40: "arm",
                 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390", 243: "riscv"}

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_NOBITS, SHT_REL, SHT_DYNSYM, SHT_SYMTAB_SHNDX = 8, 9, 11, 18
SHT_GROUP = 17
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHF_COMPRESSED = 0x800

STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
_REL = struct.Struct("<QQ")

# Inputs that are not regular files (pipes, character devices) have no size to
# trust: they are read only if they start like an object or an archive, and then
# up to this much, so that `orcgen check /dev/zero` ends at once.
MAX_STREAM_INPUT = 1 << 30


def read_input(path: str) -> bytes:
    """The bytes of an input file, opened read-only; an InputError if it cannot be read."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise InputError("is a directory")
            if stat.S_ISREG(st.st_mode):
                return f.read()
            data = f.read(8)
            if data[:4] != b"\x7fELF" and data[:2] != b"!<":     # not an object or archive:
                return data                                       # no need to read on (/dev/zero)
            data += f.read(MAX_STREAM_INPUT + 1 - len(data))
    except OSError as e:
        raise InputError(e.strerror or str(e)) from None
    if len(data) > MAX_STREAM_INPUT:
        raise InputError("not a regular file, and longer than %d bytes" % MAX_STREAM_INPUT)
    return data


@dataclass(frozen=True, slots=True)
class Section:
    """One section header, with its name resolved."""
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int

    @property
    def is_exec(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)


class Symbol(NamedTuple):
    """One symbol-table entry.  `section` is None for undefined/absolute symbols;
    `offset` is relative to its section (st_value less the section address in
    linked files), which is how every analysis addresses code.  A named tuple
    (immutable, as the frozen dataclass it was): vmlinux.o has 200,000
    symbols, and a frozen dataclass sets each field through
    object.__setattr__, five times the cost."""
    index: int
    name: str
    value: int
    size: int
    type: int
    bind: int
    shndx: int
    section: int | None
    offset: int


class Reloc(NamedTuple):
    """One relocation entry.  `offset` is relative to the section it patches.

    A named tuple, not a frozen dataclass: vmlinux.o has millions of these,
    and a tuple is built by one C call (a frozen dataclass' __init__ sets
    each field through object.__setattr__, three times the cost)."""
    offset: int
    type: int
    sym: int
    addend: int


class RelocTable:
    """The relocations that patch one section, sorted by offset, with range lookup
    (objtool's find_reloc_by_dest_range: the lowest-offset reloc in a range).

    Read from one SHT_RELA section, the table keeps the entries as three
    columns cut out of the section's bytes and builds a `Reloc` only for the
    entries asked for: vmlinux.o's .text has millions of relocations, and
    building a tuple for each had been a tenth of orcgen's time there, where
    the analysis asks for about one in three."""
    __slots__ = ("offsets", "_info", "_addend", "_built")

    def __init__(self, relocs: list[Reloc]) -> None:
        relocs = sorted(relocs, key=_offset_of)
        self.offsets = [r.offset for r in relocs]
        self._info = self._addend = None
        self._built: list[Reloc] | None = relocs

    @classmethod
    def from_rela(cls, data: bytes, base: int) -> "RelocTable":
        """Elf64_Rela entries (offset, info, addend), offsets made section-relative by `base`."""
        t = cls.__new__(cls)
        n = len(data) // _RELA.size
        raw = memoryview(data)[:n * _RELA.size]
        offs = raw.cast("q")[0::3].tolist()
        info = raw.cast("Q")[1::3].tolist()
        addend = raw.cast("q")[2::3].tolist()
        if base:
            offs = [o - base for o in offs]
        if any(map(operator.gt, offs, offs[1:])):         # rarely: not in offset order
            order = sorted(range(n), key=offs.__getitem__)
            offs = [offs[k] for k in order]
            info = [info[k] for k in order]
            addend = [addend[k] for k in order]
        t.offsets, t._info, t._addend, t._built = offs, info, addend, None
        return t

    def max_sym(self) -> int:
        """The highest symbol index any entry names (-1 if none)."""
        if self._built is not None:
            return max(map(_sym_of, self._built), default=-1)
        return max(self._info, default=-1 << 32) >> 32

    def get(self, k: int) -> Reloc:
        """Entry k in offset order."""
        if self._built is not None:
            return self._built[k]
        i = self._info[k]
        return _new_tuple(Reloc, (self.offsets[k], i & 0xFFFFFFFF, i >> 32, self._addend[k]))

    def sym_index(self, k: int) -> int:
        """Entry k's symbol index, without building the entry."""
        if self._built is not None:
            return self._built[k].sym
        return self._info[k] >> 32

    @property
    def relocs(self) -> list[Reloc]:
        if self._built is None:
            self._built = [self.get(k) for k in range(len(self.offsets))]
            self._info = self._addend = None
        return self._built

    def in_range(self, start: int, length: int) -> Reloc | None:
        i = bisect.bisect_left(self.offsets, start)
        if i < len(self.offsets) and self.offsets[i] < start + length:
            return self.get(i)
        return None

    def at(self, offset: int) -> Reloc | None:
        return self.in_range(offset, 1)

    def from_offset(self, offset: int) -> Iterator[Reloc]:
        """The relocations at or after `offset`, in offset order."""
        i = bisect.bisect_left(self.offsets, offset)
        return (self.get(k) for k in range(i, len(self.offsets)))

    def __len__(self) -> int:
        return len(self.offsets)


class ElfFile:
    """A parsed ELF file: header, sections, symbols; relocations on demand."""

    def __init__(self, data: bytes, name: str = "<memory>") -> None:
        self.name = name
        self.data = data
        with paused():                 # 200,000 symbols in vmlinux.o
            self._parse_header()
            self._parse_sections()
        self._parse_symbols()
        self._relocs: dict[int, RelocTable] = {}
        self._rel_sections: dict[int, list[Section]] = {}
        for sec in self.sections:
            if sec.type in (SHT_RELA, SHT_REL) and 0 < sec.info < len(self.sections):
                self._rel_sections.setdefault(sec.info, []).append(sec)

    @classmethod
    def from_path(cls, path: str) -> "ElfFile":
        return cls(read_input(path), path)

    # -- header and sections -------------------------------------------------

    def _parse_header(self) -> None:
        d = self.data
        if len(d) < 16 or d[:4] != b"\x7fELF":
            raise InputError("not an ELF file")
        if d[4] != 2:
            raise InputError("unsupported ELF class %d (only 64-bit ELF is supported)" % d[4])
        if d[5] != 1:
            raise InputError("unsupported ELF data encoding %d (only little-endian is supported)" % d[5])
        if len(d) < _EHDR.size:
            raise InputError("truncated ELF header (%d bytes)" % len(d))
        (_, self.type, self.machine, _, self.entry, _, self.shoff, _, ehsize, _, _,
         shentsize, shnum, shstrndx) = _EHDR.unpack_from(d, 0)
        if self.shoff == 0:
            raise InputError("no section header table")
        if shentsize != _SHDR.size:
            raise InputError("bad section header entry size %d" % shentsize)
        if shnum == 0 and self.shoff + _SHDR.size <= len(d):
            shnum = _SHDR.unpack_from(d, self.shoff)[5]          # sh_size of section 0
        if shstrndx == SHN_XINDEX and self.shoff + _SHDR.size <= len(d):
            shstrndx = _SHDR.unpack_from(d, self.shoff)[7]       # sh_link of section 0
        if shnum > 1_000_000:
            raise InputError("absurd section count %d" % shnum)
        if self.shoff + shnum * _SHDR.size > len(d):
            raise InputError("section header table (%d entries at 0x%x) runs past the end of the file"
                             % (shnum, self.shoff))
        self._shnum, self._shstrndx = shnum, shstrndx

    @property
    def machine_name(self) -> str:
        return MACHINE_NAMES.get(self.machine, "e_machine %d" % self.machine)

    def _parse_sections(self) -> None:
        raw = [_SHDR.unpack_from(self.data, self.shoff + i * _SHDR.size) for i in range(self._shnum)]
        if not 0 <= self._shstrndx < len(raw):
            raise InputError("section name string table index %d out of range" % self._shstrndx)
        strtab_hdr = raw[self._shstrndx]
        strtab = self._bytes_at(strtab_hdr[4], strtab_hdr[5], "section name string table") \
            if strtab_hdr[1] != SHT_NOBITS else b""
        self.sections: list[Section] = []
        for i, (nm, typ, flags, addr, off, size, link, info, _align, entsize) in enumerate(raw):
            name = _cstr(strtab, nm, "section name") if i else ""
            if typ != SHT_NOBITS and typ != SHT_NULL and off + size > len(self.data):
                raise InputError("section %s (%d bytes at 0x%x) runs past the end of the file"
                                 % (name or "#%d" % i, size, off))
            self.sections.append(Section(i, name, typ, flags, addr, off, size, link, info, entsize))
        self._by_name: dict[str, Section] = {}
        for s in self.sections:
            self._by_name.setdefault(s.name, s)

    def section_by_name(self, name: str) -> Section | None:
        return self._by_name.get(name)

    def section_data(self, sec: Section) -> bytes:
        """The section's bytes; exactly `sec.size` of them, or an InputError."""
        if sec.type == SHT_NOBITS:
            if sec.size:
                # .bss-like: its size is not in the file, so nothing can be read from it
                # (a reader that needs its contents would otherwise index past them).
                raise InputError("section %s has no data in the file (SHT_NOBITS, %d bytes)"
                                 % (sec.name or "#%d" % sec.index, sec.size))
            return b""
        if sec.flags & SHF_COMPRESSED:
            raise InputError("section %s is compressed (SHF_COMPRESSED is not supported)" % sec.name)
        return self.data[sec.offset:sec.offset + sec.size]

    def _bytes_at(self, off: int, size: int, what: str) -> bytes:
        if off + size > len(self.data):
            raise InputError("%s runs past the end of the file" % what)
        return self.data[off:off + size]

    # -- symbols ---------------------------------------------------------------

    def _parse_symbols(self) -> None:
        self.symbols: list[Symbol] = []
        symtab = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        self.symtab = symtab
        if symtab is None and self.type != ET_REL:
            # A stripped library or program keeps only its exported symbols:
            # without them every instruction would be outside any function,
            # and reported one by one.  .symtab stays None (nothing is written).
            symtab = next((s for s in self.sections if s.type == SHT_DYNSYM), None)
        if symtab is None:
            return
        if symtab.entsize not in (0, _SYM.size):
            raise InputError("bad symbol table entry size %d" % symtab.entsize)
        if not 0 < symtab.link < len(self.sections):
            raise InputError("symbol table's string table index %d out of range" % symtab.link)
        strtab = self.section_data(self.sections[symtab.link])
        shndx_sec = next((s for s in self.sections if s.type == SHT_SYMTAB_SHNDX
                          and s.link == symtab.index), None)
        shndx_tab = self.section_data(shndx_sec) if shndx_sec else b""
        data = self.section_data(symtab)
        n = len(data) // _SYM.size
        nsec = len(self.sections)
        linked = self.type != ET_REL
        find = strtab.find
        for i, (nm, info, _other, shndx, value, size) in enumerate(
                _SYM.iter_unpack(data[:n * _SYM.size])):
            end = find(b"\0", nm)          # _cstr, in line for the good case
            name = strtab[nm:end].decode("utf-8", "replace") if end >= 0 and nm < len(strtab) \
                else _cstr(strtab, nm, "symbol name")
            styp, bind = info & 0xF, info >> 4
            if shndx == SHN_XINDEX and shndx_tab:
                if 4 * i + 4 > len(shndx_tab):
                    raise InputError("extended section index table too short for symbol %d" % i)
                shndx = struct.unpack_from("<I", shndx_tab, 4 * i)[0]
                secno = shndx
            elif SHN_UNDEF < shndx < SHN_LORESERVE:
                secno = shndx
            else:
                secno = None
            if secno is not None and secno >= nsec:
                raise InputError("symbol %s has section index %d, but there are %d sections"
                                 % (name or "#%d" % i, secno, nsec))
            if styp == STT_SECTION and secno is not None:
                name = self.sections[secno].name
            offset = value
            if linked and secno is not None:
                offset = value - self.sections[secno].addr
            self.symbols.append(Symbol(i, name, value, size, styp, bind, shndx, secno, offset))

    # -- relocations -----------------------------------------------------------

    def rela_sections_for(self, sec: Section) -> list[Section]:
        return self._rel_sections.get(sec.index, [])

    def relocs(self, sec: Section) -> RelocTable:
        """The relocations that patch `sec` (empty if none), sorted by offset."""
        tab = self._relocs.get(sec.index)
        if tab is None:
            rsecs = self.rela_sections_for(sec)
            if len(rsecs) == 1 and rsecs[0].type == SHT_RELA:
                tab = RelocTable.from_rela(self.section_data(rsecs[0]),
                                           sec.addr if self.type != ET_REL else 0)
                self._check_syms(rsecs[0], tab.max_sym())
            else:
                tab = RelocTable(self._read_relocs(sec))
            self._relocs[sec.index] = tab
        return tab

    def forget_relocs(self) -> None:
        """Drop the parsed relocations (read again on demand): on a large file
        they are hundreds of megabytes that writing the result does not need."""
        self._relocs.clear()

    def relocs_in_file_order(self, rsec: Section) -> list[Reloc]:
        return self._decode_rel_section(rsec, None)

    def _read_relocs(self, sec: Section) -> list[Reloc]:
        out: list[Reloc] = []
        for rsec in self.rela_sections_for(sec):
            out.extend(self._decode_rel_section(rsec, sec))
        return out

    def _decode_rel_section(self, rsec: Section, target: Section | None) -> list[Reloc]:
        data = self.section_data(rsec)
        base = target.addr if (target is not None and self.type != ET_REL) else 0
        mk = _new_tuple
        if rsec.type == SHT_RELA:
            n = len(data) // _RELA.size
            out = [mk(Reloc, (off - base, info & 0xFFFFFFFF, info >> 32, addend))
                   for off, info, addend in _RELA.iter_unpack(data[:n * _RELA.size])]
        else:
            n = len(data) // _REL.size
            tdata = self.section_data(target) if target is not None else b""
            out = []
            for off, info in _REL.iter_unpack(data[:n * _REL.size]):
                o = off - base
                addend = struct.unpack_from("<i", tdata, o)[0] if 0 <= o <= len(tdata) - 4 else 0
                out.append(Reloc(o, info & 0xFFFFFFFF, info >> 32, addend))
        if out:
            self._check_syms(rsec, max(map(_sym_of, out)))
        return out

    def _check_syms(self, rsec: Section, top: int) -> None:
        nsym = len(self.symbols)
        if nsym and top >= nsym:
            raise InputError("relocation in %s refers to symbol %d, but the symbol table has %d"
                             % (rsec.name, top, nsym))

    def imported(self) -> dict[int, str]:
        """GOT slot address -> the dynamic symbol bound into it (JUMP_SLOT and
        GLOB_DAT entries of the dynamic relocation sections): what a PLT stub
        that jumps through the slot calls.  {} for objects and static files."""
        if self.type == ET_REL:
            return {}
        types = _IMPORT_TYPES.get(self.machine, ())
        out: dict[int, str] = {}
        for rsec in self.sections:
            if rsec.type != SHT_RELA or not 0 < rsec.link < len(self.sections):
                continue
            dynsym = self.sections[rsec.link]
            if dynsym.type != SHT_DYNSYM or not 0 < dynsym.link < len(self.sections):
                continue
            syms = self.section_data(dynsym)
            names = self.section_data(self.sections[dynsym.link])
            nsym = len(syms) // _SYM.size
            data = self.section_data(rsec)
            for off, info, _addend in _RELA.iter_unpack(data[:len(data) // _RELA.size * _RELA.size]):
                k = info >> 32
                if info & 0xFFFFFFFF in types and 0 < k < nsym:
                    out[off] = _cstr(names, _SYM.unpack_from(syms, k * _SYM.size)[0], "dynamic symbol name")
        return out

    def symbol(self, index: int) -> Symbol:
        if not 0 <= index < len(self.symbols):
            raise InputError("relocation refers to missing symbol %d" % index)
        return self.symbols[index]


_new_tuple = tuple.__new__
_sym_of = operator.itemgetter(2)
_offset_of = operator.itemgetter(0)
# The dynamic relocations that bind a symbol to a GOT slot: GLOB_DAT, JUMP_SLOT.
_IMPORT_TYPES = {EM_X86_64: (6, 7), EM_AARCH64: (1025, 1026)}


def _cstr(table: bytes, off: int, what: str) -> str:
    if off >= len(table):
        if off == 0:
            return ""
        raise InputError("%s at string table offset %d is outside the table (%d bytes)"
                         % (what, off, len(table)))
    end = table.find(b"\0", off)
    if end < 0:
        raise InputError("%s at string table offset %d is not NUL-terminated" % (what, off))
    return table[off:end].decode("utf-8", "replace")
