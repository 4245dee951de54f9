# SPDX-License-Identifier: GPL-2.0-only
"""Which compiler made an object, and with which flags: for bug reports.

Two sources, both optional: `.comment` (one NUL-terminated string per tool that
touched the object, e.g. "GCC: (Debian 12.2.0-14) 12.2.0") and, with -g, the
first compile unit's DW_AT_producer, which carries the command-line switches
(GCC records them by default, -grecord-gcc-switches; Clang only with
-grecord-command-line).

The producer is read here rather than through pyelftools' get_dwarf_info():
that relocates every debug section in pure Python (22 s on a large -g object),
while one attribute needs at most three relocated 4-byte fields (the abbrev
offset, the string offset, and for DWARF 5 strx forms the str_offsets entry).
Anything unexpected (an unknown form, a compressed section in an unknown format)
gives None: the report then says the flags are unknown.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .elf import ElfFile, Section

SHF_COMPRESSED = 0x800
DW_AT_producer, DW_AT_str_offsets_base = 0x25, 0x72


@dataclass(frozen=True)
class Toolchain:
    comment: tuple[str, ...]      # the .comment strings, in file order
    producer: str | None          # DW_AT_producer of the first compile unit
    machine: str                  # ELF machine, as orcgen names it ("x86-64", "arm64")

    @property
    def compiler(self) -> str:
        """The compiler's name and version, from the producer or .comment."""
        if self.producer:
            return _strip_flags(self.producer)
        for c in self.comment:
            if c.startswith(("GCC:", "clang", "Debian clang", "Ubuntu clang")) or "clang version" in c:
                return c
        return self.comment[0] if self.comment else "unknown (no .comment, no DW_AT_producer)"

    @property
    def family(self) -> str:
        """"gcc", "clang" or "" (unknown): which tracker the report is for."""
        text = " ".join((self.producer or "",) + self.comment)
        if "clang" in text:
            return "clang"
        if "GCC" in text or "GNU C" in text:
            return "gcc"
        return ""

    @property
    def flags(self) -> str | None:
        """The switches recorded in the producer (None: not recorded)."""
        if not self.producer:
            return None
        rest = self.producer[len(_strip_flags(self.producer)):].strip()
        return rest or None


def _strip_flags(producer: str) -> str:
    """The producer without its recorded switches: GCC writes
    "GNU C11 12.2.0 -mtune=generic -O2 ...", flags after the version."""
    words = producer.split(" ")
    for k, w in enumerate(words):
        if w.startswith(("-", "/")) and k > 0:          # a switch, or Clang's driver path
            return " ".join(words[:k])
    return producer


def identify(elf: ElfFile) -> Toolchain:
    comment: tuple[str, ...] = ()
    sec = elf.section_by_name(".comment")
    if sec is not None:
        data = _data(elf, sec) or b""
        comment = tuple(dict.fromkeys(s.decode("utf-8", "replace").strip()
                                      for s in data.split(b"\0") if s.strip()))
    try:
        producer = _producer(elf)
    except (struct.error, IndexError, ValueError, zlib.error):
        producer = None
    return Toolchain(comment, producer, elf.machine_name)


# -- the first compile unit's DW_AT_producer ----------------------------------------

def _data(elf: ElfFile, sec: Section) -> bytes | None:
    data = elf.section_data(sec)
    if not sec.flags & SHF_COMPRESSED:
        return data
    ch_type = struct.unpack_from("<I", data, 0)[0]
    if ch_type != 1:                     # ELFCOMPRESS_ZLIB; zstd needs a module we do not require
        return None
    return zlib.decompress(data[24:])


def _reloc32(elf: ElfFile, sec: Section, data: bytes, off: int) -> int:
    """The 4-byte field at `off` of `sec` as the linker would leave it."""
    r = elf.relocs(sec).at(off) if elf.rela_sections_for(sec) else None
    if r is None or r.offset != off:
        return struct.unpack_from("<I", data, off)[0]
    return elf.symbol(r.sym).value + r.addend


def _uleb(d: bytes, k: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        b = d[k]
        k += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, k


_FIXED = {0x01: 8, 0x0b: 1, 0x05: 2, 0x06: 4, 0x07: 8, 0x0c: 1, 0x11: 1, 0x12: 2, 0x13: 4,
          0x14: 8, 0x10: 4, 0x17: 4, 0x19: 0, 0x1e: 16, 0x20: 8, 0x25: 1, 0x26: 2, 0x27: 3,
          0x28: 4, 0x29: 1, 0x2a: 2, 0x2b: 3, 0x2c: 4, 0x1a: -1, 0x1b: -1, 0x0f: -1, 0x15: -1,
          0x22: -1, 0x23: -1, 0x0d: -2, 0x0e: 4, 0x1f: 4, 0x08: -3, 0x21: 0,
          0x09: -4, 0x18: -4, 0x0a: -5, 0x03: -6, 0x04: -7}
_STRX = {0x1a: 0, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4}


def _producer(elf: ElfFile) -> str | None:
    info_sec = elf.section_by_name(".debug_info")
    abbrev_sec = elf.section_by_name(".debug_abbrev")
    if info_sec is None or abbrev_sec is None:
        return None
    info, abbrev = _data(elf, info_sec), _data(elf, abbrev_sec)
    if not info or not abbrev or info[:4] == b"\xff\xff\xff\xff":      # no 64-bit DWARF
        return None
    version = struct.unpack_from("<H", info, 4)[0]
    if version >= 5:
        unit_type, addr_size = info[6], info[7]
        ab_off = _reloc32(elf, info_sec, info, 8)
        k = 12 + (8 if unit_type in (4, 5) else 0)        # skeleton/split: dwo_id
    else:
        ab_off = _reloc32(elf, info_sec, info, 6)
        addr_size, k = info[10], 11
    code, k = _uleb(info, k)
    # find the abbreviation
    a = ab_off
    while True:
        c, a = _uleb(abbrev, a)
        if c == 0:
            return None
        _tag, a = _uleb(abbrev, a)
        a += 1                                           # has_children
        specs = []
        while True:
            name, a = _uleb(abbrev, a)
            form, a = _uleb(abbrev, a)
            if name == 0 and form == 0:
                break
            if form == 0x21:                             # implicit_const
                _, a = _sleb_skip(abbrev, a)
            specs.append((name, form))
        if c == code:
            break
    strx = base = None
    for name, form in specs:
        if name == DW_AT_producer:
            if form == 0x08:
                end = info.index(b"\0", k)
                return info[k:end].decode("utf-8", "replace")
            if form in (0x0e, 0x1f):
                sname = ".debug_str" if form == 0x0e else ".debug_line_str"
                return _cstr(elf, sname, _reloc32(elf, info_sec, info, k))
            if form in _STRX:
                strx = _read_strx(info, k, form)
            else:
                return None
        if name == DW_AT_str_offsets_base and form == 0x17:
            base = _reloc32(elf, info_sec, info, k)
        k = _skip(info, k, form, addr_size)
        if k < 0:
            break
    if strx is None:
        return None
    so_sec = elf.section_by_name(".debug_str_offsets")
    if so_sec is None:
        return None
    so = _data(elf, so_sec) or b""
    return _cstr(elf, ".debug_str", _reloc32(elf, so_sec, so, (8 if base is None else base) + 4 * strx))


def _sleb_skip(d: bytes, k: int) -> tuple[int, int]:
    while d[k] & 0x80:
        k += 1
    return 0, k + 1


def _read_strx(d: bytes, k: int, form: int) -> int:
    n = _STRX[form]
    if n == 0:
        return _uleb(d, k)[0]
    return int.from_bytes(d[k:k + n], "little")


def _skip(d: bytes, k: int, form: int, addr_size: int) -> int:
    """The offset after one attribute value; -1 for a form not handled."""
    n = _FIXED.get(form)
    if n is None:
        return -1
    if form == 0x01:
        return k + addr_size
    if n >= 0:
        return k + n
    if n in (-1, -4):                                    # uleb value, or a block's uleb length
        v, k2 = _uleb(d, k)
        return k2 + (v if n == -4 else 0)
    if n == -2:                                          # sdata
        return _sleb_skip(d, k)[1]
    if n == -3:                                          # string
        return d.index(b"\0", k) + 1
    w = {-5: 1, -6: 2, -7: 4}[n]                         # block1, block2, block4
    return k + w + int.from_bytes(d[k:k + w], "little")


def _cstr(elf: ElfFile, name: str, off: int) -> str | None:
    sec = elf.section_by_name(name)
    if sec is None:
        return None
    data = _data(elf, sec) or b""
    end = data.find(b"\0", off)
    return data[off:end if end >= 0 else len(data)].decode("utf-8", "replace")
