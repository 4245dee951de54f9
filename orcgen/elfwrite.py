# SPDX-License-Identifier: GPL-2.0-only
"""A small ELF writer: add sections and symbols to a relocatable object.

objtool edits objects through libelf; orcgen cannot use LIEF for this (it
rewrites more than it is asked to and does not keep relocatable objects
intact), so it has its own writer with one narrow job: take an object's bytes,
a list of sections to append and a list of symbols to add, and return a new,
valid object in which everything else is as it was.

What that takes, and why:

* Original section contents stay at their offsets.  New sections, and existing
  sections that grow (.symtab, the string tables, .symtab_shndx), are appended
  after the last byte of section data; the section header table is written
  again at the end.  Existing section indices never change, so nothing that
  names a section by index (st_shndx, sh_link, sh_info, SHT_GROUP members)
  needs fixing.
* Symbols are added the way objtool's __elf_create_symbol() adds them, so an
  object gets the same symbol table from either tool: a global is appended; a
  local takes the slot of the first global (symtab sh_info), which moves to the
  end, and sh_info grows by one -- ELF wants every local before every global.
* A moved symbol has a new index, so everything that holds symbol indices is
  rewritten: every SHT_RELA/SHT_REL section on the table, SHT_GROUP signatures
  (sh_info), .symtab_shndx (which runs parallel to .symtab) and clang's
  .llvm_addrsig (a ULEB128 list of symbol indices).  objtool only fixes the
  relocations; keeping the other three right costs little and keeps lld's
  address-significance tables and COMDAT groups correct.
* In-place edits (`Patch`: objtool's elf_write_insn() over code, or a
  relocation's type turned to R_NONE) keep every size: they are applied to a
  copy of the input before anything else, so the rest of the writer, and its
  checks, see the patched object as the original.
* The result is parsed again (orcgen.elf.ElfFile) and checked before it is
  returned, so a bug here ends in an ElfWriteError, not a broken object.

`write_atomic` replaces a file the only safe way: write a temporary file in the
same directory, fsync it, os.replace() it over the original.  On any failure
the original is untouched and the temporary file is removed.
"""
from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence, Union

from .elf import (_REL, _RELA, ET_REL, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT_GROUP, SHT_NOBITS,
                  SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, STB_LOCAL)
from .elfverify import ElfWriteError, Renumbering, verify, word_bytes, words

SHT_LLVM_ADDRSIG = 0x6FFF4C03
SHF_INFO_LINK = 0x40

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_U32 = struct.Struct("<I")

SYMTAB = "symtab"
"""NewSection.link value meaning "the object's symbol table" (for relocation sections)."""


@dataclass(frozen=True, eq=False)
class NewSymbol:
    """A symbol to add.  `shndx` is the index of the section it is defined in
    (0: undefined), or a NewSection; a non-zero `special` (SHN_ABS, SHN_COMMON)
    is written as st_shndx instead.  Indices of 0xff00 and up are real section
    indices here and go through .symtab_shndx.  Compared by identity, so two new
    symbols with equal fields stay two symbols."""
    name: str
    type: int
    bind: int
    shndx: Union[int, "NewSection"] = 0
    value: int = 0
    size: int = 0
    other: int = 0
    special: int = 0


@dataclass(frozen=True)
class Patch:
    """Bytes written over section `section`'s contents at `offset` (same size)."""
    section: int
    offset: int
    data: bytes


class NewReloc(NamedTuple):
    """One entry of a new relocation section.  `sym` is an index into the
    *input's* symbol table (translated if that symbol moves) or a NewSymbol.
    A tuple, not a dataclass: vmlinux.o's tables make a million of them."""
    offset: int
    type: int
    sym: Union[int, NewSymbol]
    addend: int = 0


@dataclass(eq=False)
class NewSection:
    """A section to append.  `link`/`info` are section indices, other
    NewSections, or SYMTAB -- except an SHT_GROUP's `info`, which names its
    signature symbol (an input symbol index or a NewSymbol).  A relocation
    section gives `relocs` and no `data`: its entries can only be encoded once
    the final symbol indices are known."""
    name: str
    type: int
    flags: int
    data: bytes = b""
    entsize: int = 0
    addralign: int = 1
    link: Union[int, "NewSection", str] = 0
    info: Union[int, "NewSection", str] = 0
    relocs: list[NewReloc] | None = None
    nobits_size: int = 0            # sh_size of an SHT_NOBITS section


@dataclass
class _Shdr:
    name: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    align: int
    entsize: int
    new_data: bytes | None = field(default=None)    # replacement contents, if changed


def add_to_elf(data: bytes, sections: Sequence[NewSection] = (),
               symbols: Sequence[NewSymbol] = (), patches: Sequence[Patch] = (),
               created: Sequence[Union[NewSection, NewSymbol]] = ()) -> bytes:
    """The object `data` with `patches` applied, `sections` appended and `symbols` added.
    `created` is the order in which their names go into the string tables (default:
    symbols, then sections); it shows where one table holds both (clang's .strtab).

    Raises ElfWriteError (an InputError) if the input is not a 64-bit
    little-endian relocatable object this writer can extend, or if a request
    refers to something that does not exist.
    """
    if patches:
        data = _patched(data, patches)
    return _Writer(data).build(list(sections), list(symbols), list(created))


def _patched(data: bytes, patches: Sequence[Patch]) -> bytes:
    """`data` with each patch written into its section, which must hold it."""
    w = _Writer(data)              # parses and checks the headers
    out = bytearray(data)
    for pt in patches:
        if not 0 < pt.section < len(w.sh) or w.sh[pt.section].type == SHT_NOBITS:
            raise ElfWriteError("patch of section #%d, which has no contents" % pt.section)
        s = w.sh[pt.section]
        if pt.offset < 0 or pt.offset + len(pt.data) > s.size:
            raise ElfWriteError("patch at %#x+%d runs past section #%d" % (pt.offset, len(pt.data),
                                                                         pt.section))
        out[s.offset + pt.offset:s.offset + pt.offset + len(pt.data)] = pt.data
    return bytes(out)


class _Writer:
    """One rewrite of one object: the parsed headers, what changes, the new bytes.

    Headers are parsed here rather than through orcgen.elf.ElfFile because the
    writer needs every raw field (sh_addralign, st_info, ...) and must check
    only what it relies on; ElfFile is used afterwards, to verify the result.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        if data[:4] != b"\x7fELF" or len(data) < _EHDR.size:
            raise ElfWriteError("not an ELF file")
        if data[4] != 2 or data[5] != 1:
            raise ElfWriteError("only 64-bit little-endian ELF objects can be rewritten")
        self.ehdr = list(_EHDR.unpack_from(data, 0))
        (_, e_type, _, _, _, e_phoff, shoff, _, _, _, phnum, shentsize, shnum, shstrndx) = self.ehdr
        if e_type != ET_REL or phnum or e_phoff:
            raise ElfWriteError("only relocatable objects (ET_REL, no program headers) can be rewritten")
        if shoff == 0 or shentsize != _SHDR.size:
            raise ElfWriteError("no usable section header table")
        if shoff + _SHDR.size > len(data):
            raise ElfWriteError("section header table runs past the end of the file")
        sec0 = _SHDR.unpack_from(data, shoff)
        if shnum == 0:
            shnum = sec0[5]
        if shstrndx == SHN_XINDEX:
            shstrndx = sec0[6]
        if shoff + shnum * _SHDR.size > len(data):
            raise ElfWriteError("section header table runs past the end of the file")
        self.shoff, self.shstrndx = shoff, shstrndx
        self.sh = [_Shdr(*_SHDR.unpack_from(data, shoff + i * _SHDR.size)) for i in range(shnum)]
        if not 0 < shstrndx < shnum:
            raise ElfWriteError("section name string table index %d out of range" % shstrndx)
        for i, s in enumerate(self.sh):
            if s.type != SHT_NOBITS and i and s.offset + s.size > len(data):
                raise ElfWriteError("section #%d runs past the end of the file" % i)
            if i and s.size and s.type != SHT_NOBITS and _bad_align(s.align, len(data)):
                # gABI: 0, 1 or a power of two.  A section that moves is padded to it,
                # and libelf (objtool) pads every section to it: 2^63 cannot be honoured.
                raise ElfWriteError("section #%d has alignment %#x (not a power of two, or beyond "
                                    "the file)" % (i, s.align))
        tabs = [i for i, s in enumerate(self.sh) if s.type == SHT_SYMTAB]
        if len(tabs) > 1:
            raise ElfWriteError("more than one SHT_SYMTAB section")
        self.symtab = tabs[0] if tabs else None
        self.shndx = None
        if self.symtab is not None:
            self.shndx = next((i for i, s in enumerate(self.sh)
                               if s.type == SHT_SYMTAB_SHNDX and s.link == self.symtab), None)
        self.strings: dict[int, bytearray] = {}       # string table index -> appended bytes

    # -- helpers -----------------------------------------------------------------

    def contents(self, i: int) -> bytes:
        """Section `i`'s bytes as they will be written (changed or original)."""
        s = self.sh[i]
        if s.new_data is not None:
            return s.new_data
        if s.type == SHT_NOBITS:
            return b""
        return self.data[s.offset:s.offset + s.size]

    def add_string(self, tab: int, text: str) -> int:
        """Append `text` to string table `tab` (as objtool's elf_add_string: no
        sharing with existing strings) and return its offset."""
        if self.sh[tab].type == SHT_NOBITS:
            raise ElfWriteError("string table #%d has no contents" % tab)
        extra = self.strings.setdefault(tab, bytearray())
        off = self.sh[tab].size + len(extra)
        extra += text.encode() + b"\0"
        return off

    # -- the work ----------------------------------------------------------------

    def build(self, sections: list[NewSection], symbols: list[NewSymbol],
              created: list[Union[NewSection, NewSymbol]]) -> bytes:
        """Symbols first (they decide every index), then the new sections, then layout."""
        base = len(self.sh)
        sec_index = {id(s): base + k for k, s in enumerate(sections)}

        def sec_ref(ref: Union[int, NewSection, str], what: str) -> int:
            if isinstance(ref, NewSection):
                if id(ref) not in sec_index:
                    raise ElfWriteError("%s refers to a section that is not being added" % what)
                return sec_index[id(ref)]
            if ref == SYMTAB:
                if self.symtab is None:
                    raise ElfWriteError("no .symtab")       # objtool's message
                return self.symtab
            if not isinstance(ref, int) or not 0 <= ref < base + len(sections):
                raise ElfWriteError("%s refers to section %r, which does not exist" % (what, ref))
            return ref

        needs_symtab = symbols or any(s.relocs or s.type == SHT_GROUP for s in sections)
        if needs_symtab and self.symtab is None:
            raise ElfWriteError("no .symtab")
        if symbols and any(s.type == SHT_SYMTAB_SHNDX for s in sections):
            raise ElfWriteError("add .symtab_shndx and symbols in separate steps")
        self.names: dict[int, int] = {}           # id(new section or symbol) -> its name's offset
        strtab = self.sh[self.symtab].link if symbols else 0      # (symbols: there is a .symtab)
        if symbols and not (0 < strtab < len(self.sh) and self.sh[strtab].type == SHT_STRTAB):
            raise ElfWriteError(".symtab's string table index %d is not a string table" % strtab)
        for o in created or (symbols + sections):    # type: ignore[operator]
            if id(o) not in self.names:
                tab = self.shstrndx if isinstance(o, NewSection) else strtab
                self.names[id(o)] = self.add_string(tab, o.name) if o.name else 0
        old_to_new, new_index = self._add_symbols(symbols, sec_ref)
        self._remap_symbol_users(old_to_new)

        def sym_ref(ref: Union[int, NewSymbol], what: str) -> int:
            if isinstance(ref, NewSymbol):
                if id(ref) not in new_index:
                    raise ElfWriteError("%s refers to a symbol that is not being added" % what)
                return new_index[id(ref)]
            if not isinstance(ref, int) or not 0 <= ref < len(old_to_new):
                raise ElfWriteError("%s refers to symbol %r, which does not exist" % (what, ref))
            return old_to_new[ref]

        headers: list[_Shdr] = []
        for s in sections:
            name = self.names.get(id(s))
            if name is None:
                raise ElfWriteError("section %s is not in the creation order given" % s.name)
            link = sec_ref(s.link, s.name + " sh_link")
            if s.type == SHT_GROUP:
                info = sym_ref(s.info, s.name + " signature")      # type: ignore[arg-type]
            else:
                info = sec_ref(s.info, s.name + " sh_info")
            if s.relocs is not None:
                if s.type not in (SHT_RELA, SHT_REL):
                    raise ElfWriteError("%s has relocations but is not SHT_RELA/SHT_REL" % s.name)
                body = self._encode_relocs(s, sym_ref)
            else:
                body = s.data
            size = s.nobits_size if s.type == SHT_NOBITS else len(body)
            headers.append(_Shdr(name, s.type, s.flags, 0, 0, size, link, info,
                                 max(s.addralign, 1), s.entsize, body))
        for tab, extra in self.strings.items():
            self.sh[tab].new_data = self.contents(tab) + bytes(extra)
        out = self._layout(headers)
        verify(self.data, self.sh, self.symtab, out, len(sections), len(symbols), old_to_new)
        return out

    def _read_symbols(self) -> list[list[int]]:
        """The raw .symtab entries, [st_name, st_info, st_other, st_shndx, st_value, st_size]."""
        st = self.sh[self.symtab]
        if st.entsize not in (0, _SYM.size) or st.size % _SYM.size:
            raise ElfWriteError("bad .symtab entry size")
        if not 0 < st.link < len(self.sh) or self.sh[st.link].type != SHT_STRTAB:
            raise ElfWriteError(".symtab's string table index %d is not a string table" % st.link)
        raw = self.contents(self.symtab)
        return [list(e) for e in _SYM.iter_unpack(raw)]

    def _add_symbols(self, symbols: list[NewSymbol], sec_ref) -> tuple[list[int], dict[int, int]]:
        """objtool's __elf_create_symbol(), once per new symbol, in order."""
        if self.symtab is None:
            return [], {}
        st = self.sh[self.symtab]
        syms = self._read_symbols()
        n = len(syms)
        if n == 0:
            raise ElfWriteError(".symtab is empty (not even the null symbol)")
        first_global = st.info
        if not 0 < first_global <= n:
            raise ElfWriteError(".symtab sh_info %d is out of range (%d symbols)" % (first_global, n))
        for i, e in enumerate(syms):
            if i and (e[1] >> 4 == STB_LOCAL) != (i < first_global):
                raise ElfWriteError(".symtab is not ordered locals first (symbol %d, sh_info %d)"
                                    % (i, first_global))
        xtab = None
        if self.shndx is not None:
            raw = self.contents(self.shndx)
            if len(raw) != 4 * n:
                raise ElfWriteError(".symtab_shndx has %d entries for %d symbols" % (len(raw) // 4, n))
            xtab = [v for (v,) in _U32.iter_unpack(raw)]
        if not symbols:
            return list(range(n)), {}
        names = self.names
        # order[k] is what lands at index k: an input index or a new symbol.
        order: list[Union[int, NewSymbol]] = list(range(n))
        for s in symbols:
            if s.bind == STB_LOCAL:
                if first_global < len(order):
                    order.append(order[first_global])
                    order[first_global] = s
                else:
                    order.append(s)
                first_global += 1
            else:
                order.append(s)
        old_to_new = [0] * n
        new_index: dict[int, int] = {}
        entries, xentries = [], []
        for k, o in enumerate(order):
            if isinstance(o, int):
                old_to_new[o] = k
                entries.append(syms[o])
                xentries.append(xtab[o] if xtab is not None else 0)
                continue
            new_index[id(o)] = k
            x = 0
            if o.special:
                if not SHN_LORESERVE <= o.special < SHN_XINDEX:
                    raise ElfWriteError("symbol %s: %#x is not a special section index"
                                        % (o.name, o.special))
                st_shndx = o.special                   # SHN_ABS, SHN_COMMON, ...
            else:
                st_shndx = sec_ref(o.shndx, "symbol %s" % (o.name or "(section)")) \
                    if o.shndx != SHN_UNDEF else SHN_UNDEF
                if st_shndx >= SHN_LORESERVE:
                    if xtab is None:
                        raise ElfWriteError("no .symtab_shndx")      # objtool's message
                    st_shndx, x = SHN_XINDEX, st_shndx
            if id(o) not in names:
                raise ElfWriteError("symbol %s is not in the creation order given" % o.name)
            entries.append([names[id(o)], (o.bind << 4) | (o.type & 0xF), o.other, st_shndx,
                            o.value, o.size])
            xentries.append(x)
        st.info = first_global
        st.new_data = b"".join(_SYM.pack(*e) for e in entries)
        st.size = len(st.new_data)
        if self.shndx is not None:
            xs = self.sh[self.shndx]
            xs.new_data = b"".join(_U32.pack(v) for v in xentries)
            xs.size = len(xs.new_data)
        return old_to_new, new_index

    def _remap_symbol_users(self, old_to_new: list[int]) -> None:
        """Rewrite every symbol index held outside .symtab after a renumbering."""
        if all(i == k for i, k in enumerate(old_to_new)):
            return
        n = len(old_to_new)
        ren = Renumbering(old_to_new)
        for i, s in enumerate(self.sh):
            if s.link != self.symtab or i == self.symtab:
                continue
            if s.type in (SHT_RELA, SHT_REL):
                self._remap_relocs(i, ren)
            elif s.type == SHT_GROUP:
                if not 0 <= s.info < n:
                    raise ElfWriteError("group section #%d signature symbol %d out of range" % (i, s.info))
                s.info = old_to_new[s.info]
            elif s.type == SHT_LLVM_ADDRSIG:
                idx = uleb_list(self.contents(i))
                if any(v >= n for v in idx):
                    raise ElfWriteError(".llvm_addrsig refers to a symbol that does not exist")
                s.new_data = b"".join(_uleb(old_to_new[v]) for v in idx)
                s.size = len(s.new_data)

    def _remap_relocs(self, i: int, ren: Renumbering) -> None:
        """Rewrite relocation section `i` in place (same size) if any of its symbols moved."""
        s = self.sh[i]
        st = _RELA if s.type == SHT_RELA else _REL
        raw = self.contents(i)
        if len(raw) % st.size:
            raise ElfWriteError("relocation section #%d size is not a multiple of %d" % (i, st.size))
        w = st.size // 8
        entries = words(raw)
        infos = entries[1::w]
        new = ren.infos(infos)
        if new is None:
            n = len(ren.old_to_new)
            raise ElfWriteError("relocation in section #%d refers to symbol %d, but .symtab has %d"
                                % (i, next(x >> 32 for x in infos if x >> 32 >= n), n))
        if new is not infos and new != infos:
            entries[1::w] = new
            s.new_data = word_bytes(entries)

    def _encode_relocs(self, s: NewSection, sym_ref) -> bytes:
        """A new relocation section's entries, with final symbol indices."""
        st = _RELA if s.type == SHT_RELA else _REL
        out = []
        index: dict = {}        # symbol reference -> final index: a table names a few symbols
        pack, rela = st.pack, st is _RELA
        for r in s.relocs or ():
            ref = r.sym if type(r.sym) is int else id(r.sym)
            k = index.get(ref)
            if k is None:
                k = index[ref] = sym_ref(r.sym, s.name + ": relocation") << 32
            info = k | (r.type & 0xFFFFFFFF)
            out.append(pack(r.offset, info, r.addend) if rela else pack(r.offset, info))
        return b"".join(out)

    def _layout(self, new_headers: list[_Shdr]) -> bytes:
        """Original bytes, changed sections in place or appended, then new
        sections and the section header table."""
        data = self.data
        end_of_data = _EHDR.size
        for i, s in enumerate(self.sh):
            if i and s.type != SHT_NOBITS:
                end_of_data = max(end_of_data, s.offset + s.size)
        table_end = self.shoff + len(self.sh) * _SHDR.size
        keep = self.shoff if self.shoff >= end_of_data and table_end == len(data) else len(data)
        out = bytearray(data[:keep])

        def append(body: bytes, align: int, what: str = "") -> int:
            if _bad_align(align, len(data)):          # a NewSection's, checked here
                raise ElfWriteError("section %s has alignment %#x (not a power of two, or beyond "
                                    "the file)" % (what, align))
            out.extend(bytes(-len(out) % max(align, 1)))
            off = len(out)
            out.extend(body)
            return off

        for i, s in enumerate(self.sh):
            if s.new_data is None:
                continue
            old_size = _SHDR.unpack_from(data, self.shoff + i * _SHDR.size)[5]
            if len(s.new_data) == old_size:
                out[s.offset:s.offset + old_size] = s.new_data
            else:
                s.offset = append(s.new_data, s.align, "#%d" % i)
                s.size = len(s.new_data)
        for k, h in enumerate(new_headers):
            where = "#%d" % (len(self.sh) + k)
            h.offset = append(b"" if h.type == SHT_NOBITS else h.new_data or b"", h.align, where)
        headers = self.sh + new_headers
        total = len(headers)
        sec0 = headers[0]
        e_shnum, e_shstrndx = total, self.shstrndx
        if total >= SHN_LORESERVE:
            e_shnum, sec0.size = 0, total
        if self.shstrndx >= SHN_LORESERVE:
            e_shstrndx, sec0.link = SHN_XINDEX, self.shstrndx
        shoff = append(b"", 8)
        for h in headers:
            out.extend(_SHDR.pack(h.name, h.type, h.flags, h.addr, h.offset, h.size, h.link,
                                  h.info, h.align, h.entsize))
        eh = list(self.ehdr)
        eh[6], eh[12], eh[13] = shoff, e_shnum, e_shstrndx
        out[:_EHDR.size] = _EHDR.pack(*eh)
        return bytes(out)


def _bad_align(align: int, file_size: int) -> bool:
    """Not 0, 1 or a power of two, or larger than both the file and 1 MiB: a
    damaged header (a page- or THREAD_SIZE-aligned .data in a small object is not)."""
    return bool(align & (align - 1)) or align > max(file_size, 1 << 20)


def _uleb(v: int) -> bytes:
    """ULEB128, the encoding of .llvm_addrsig's symbol indices."""
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def uleb_list(raw: bytes) -> list[int]:
    """The symbol indices in an .llvm_addrsig section."""
    out, v, shift = [], 0, 0
    for b in raw:
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            out.append(v)
            v, shift = 0, 0
    if shift:
        raise ElfWriteError(".llvm_addrsig ends inside a number")
    return out


def write_atomic(path: str, data: bytes) -> None:
    """Replace the file at `path` with `data`, all or nothing.

    The new contents go to a temporary file in the same directory (so the
    rename cannot cross file systems), are fsync'd, get the original's mode
    (and owner, where permitted), and are renamed over the original; a symlink
    is followed so the file it names is replaced, not the link.  The result is
    a new inode, so other hard links keep the old contents.  On any error the
    temporary file is removed and the original is as it was.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target) or "."
    st = os.stat(target)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".orcgen-tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, st.st_mode & 0o7777)
        if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            try:                            # keep the owner where we may (root, or our group)
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                   # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
