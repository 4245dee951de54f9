# SPDX-License-Identifier: GPL-2.0-only
"""Build small relocatable ELF objects in memory, for tests on hand-written code.

Hand-assembled bytes pin the interpreter's behaviour down instruction by
instruction, with no compiler in the loop; the result goes through the same
ELF reader as any real object.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 1, 2, 3, 4
SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK = 2, 4, 0x40
STT_NOTYPE, STT_FUNC, STT_SECTION = 0, 2, 3
STB_LOCAL, STB_GLOBAL = 0, 1
R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_32S = 1, 2, 4, 11


@dataclass
class Sec:
    name: str
    data: bytes
    exec: bool = True
    relocs: list = field(default_factory=list)     # (offset, type, symbol name, addend)


@dataclass
class Func:
    name: str
    section: str
    offset: int
    size: int
    glob: bool = True
    type: int = STT_FUNC


class ElfBuilder:
    def __init__(self, machine: int = 62) -> None:
        self.machine = machine
        self.sections: list[Sec] = []
        self.funcs: list[Func] = []
        self.undefined: list[str] = []

    def section(self, name: str, data: bytes, exec: bool = True) -> Sec:
        s = Sec(name, data, exec)
        self.sections.append(s)
        return s

    def func(self, name: str, section: str, offset: int, size: int, glob: bool = True,
             type: int = STT_FUNC) -> None:
        self.funcs.append(Func(name, section, offset, size, glob, type))

    def extern(self, name: str) -> None:
        self.undefined.append(name)

    def build(self) -> bytes:
        shstr = bytearray(b"\0")
        strtab = bytearray(b"\0")

        def name_in(tab: bytearray, n: str) -> int:
            off = len(tab)
            tab += n.encode() + b"\0"
            return off

        # section indices: 0 null, then user sections, then their .rela, then symtab, strtab, shstrtab
        secidx = {s.name: 1 + k for k, s in enumerate(self.sections)}
        # symbols: null, section symbols, local funcs, then globals and undefined
        syms = [(0, 0, 0, 0, 0, 0)]
        symidx: dict[str, int] = {}
        for s in self.sections:
            symidx[s.name] = len(syms)
            syms.append((0, (STB_LOCAL << 4) | STT_SECTION, 0, secidx[s.name], 0, 0))
        for f in [f for f in self.funcs if not f.glob]:
            symidx[f.name] = len(syms)
            syms.append((name_in(strtab, f.name), (STB_LOCAL << 4) | f.type, 0,
                         secidx[f.section], f.offset, f.size))
        first_global = len(syms)
        for f in [f for f in self.funcs if f.glob]:
            symidx[f.name] = len(syms)
            syms.append((name_in(strtab, f.name), (STB_GLOBAL << 4) | f.type, 0,
                         secidx[f.section], f.offset, f.size))
        for n in self.undefined:
            symidx[n] = len(syms)
            syms.append((name_in(strtab, n), (STB_GLOBAL << 4) | STT_NOTYPE, 0, 0, 0, 0))
        symtab = b"".join(struct.pack("<IBBHQQ", *s) for s in syms)

        headers = [(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
        blobs: list[bytes] = []
        out = bytearray(64)

        def add(name: str, typ: int, flags: int, data: bytes, link=0, info=0, align=1, entsize=0):
            while len(out) % max(align, 1):
                out.append(0)
            off = len(out)
            out.extend(data)
            headers.append((name_in(shstr, name), typ, flags, 0, off, len(data), link, info, align, entsize))

        for s in self.sections:
            add(s.name, SHT_PROGBITS, SHF_ALLOC | (SHF_EXECINSTR if s.exec else 0), s.data, align=16)
        n_user = len(self.sections)
        symtab_index = 1 + n_user + sum(1 for s in self.sections if s.relocs)
        for s in self.sections:
            if s.relocs:
                rel = b"".join(struct.pack("<QQq", off, (symidx[sym] << 32) | typ, addend)
                               for off, typ, sym, addend in s.relocs)
                add(".rela" + s.name, SHT_RELA, SHF_INFO_LINK, rel, link=symtab_index,
                    info=secidx[s.name], align=8, entsize=24)
        add(".symtab", SHT_SYMTAB, 0, symtab, link=symtab_index + 1, info=first_global, align=8,
            entsize=24)
        add(".strtab", SHT_STRTAB, 0, bytes(strtab))
        shstrndx = len(headers)
        name_off = name_in(shstr, ".shstrtab")
        headers.append((name_off, SHT_STRTAB, 0, 0, 0, 0, 0, 0, 1, 0))
        sh_off_data = len(out)
        out.extend(shstr)
        h = list(headers[-1])
        h[4], h[5] = sh_off_data, len(shstr)
        headers[-1] = tuple(h)
        while len(out) % 8:
            out.append(0)
        shoff = len(out)
        for hd in headers:
            out.extend(struct.pack("<IIQQQQIIQQ", *hd))
        ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
        out[0:64] = struct.pack("<16sHHIQQQIHHHHHH", ident, 1, self.machine, 1, 0, 0, shoff, 0,
                                64, 0, 0, 64, len(headers), shstrndx)
        return bytes(out)
