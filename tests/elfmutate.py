# SPDX-License-Identifier: GPL-2.0-only
"""Structure-aware mutations of real ELF objects (`ar` archives: tests/armutate.py).

Most mutations pick a real field (ELF header, section header, symbol,
relocation) and set it to a boundary value: 0, -1, huge, off by one, the
file size, another entry's value or index.  The rest flip bits, truncate, append, clobber code bytes with interesting opcodes or
unterminate string tables.  `kernelize` gives an x86-64 object synthesized ORC
and kernel special sections whose entries point at real instruction
boundaries, so that mutations reach the code that reads them.

Randomness comes through a chooser (RandomChooser for bench/fuzz.py,
DrawChooser for hypothesis), so both make inputs with the same code.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Sequence

# -- choosers -------------------------------------------------------------------


class RandomChooser:
    """Choices from a random.Random (bench/fuzz.py)."""

    def __init__(self, rng) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq: Sequence):
        return seq[self.rng.randrange(len(seq))]

    def bytes(self, n: int) -> bytes:
        return bytes(self.rng.getrandbits(8) for _ in range(n))


class DrawChooser:
    """Choices from a hypothesis `draw` (tests/test_fuzz.py); shrinks toward lo / the first item."""

    def __init__(self, draw) -> None:
        from hypothesis import strategies as st
        self.draw, self.st = draw, st

    def int(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))

    def choice(self, seq: Sequence):
        return seq[self.int(0, len(seq) - 1)]

    def bytes(self, n: int) -> bytes:
        return self.draw(self.st.binary(min_size=n, max_size=n))


def weighted(ch, table: Sequence[tuple[int, object]]):
    """One item of [(weight, item)], chosen by weight."""
    total = sum(w for w, _ in table)
    k = ch.int(0, total - 1)
    for w, item in table:
        if k < w:
            return item
        k -= w
    return table[-1][1]


# -- ELF layout -----------------------------------------------------------------

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
RELA = struct.Struct("<QQq")

# (name, offset, width, signed) of the ELF64 header fields
EHDR_FIELDS = [("ei_class", 4, 1, False), ("ei_data", 5, 1, False), ("ei_version", 6, 1, False),
               ("e_type", 16, 2, False), ("e_machine", 18, 2, False), ("e_version", 20, 4, False),
               ("e_entry", 24, 8, False), ("e_phoff", 32, 8, False), ("e_shoff", 40, 8, False),
               ("e_flags", 48, 4, False), ("e_ehsize", 52, 2, False), ("e_phentsize", 54, 2, False),
               ("e_phnum", 56, 2, False), ("e_shentsize", 58, 2, False), ("e_shnum", 60, 2, False),
               ("e_shstrndx", 62, 2, False)]
SHDR_FIELDS = [("sh_name", 0, 4), ("sh_type", 4, 4), ("sh_flags", 8, 8), ("sh_addr", 16, 8),
               ("sh_offset", 24, 8), ("sh_size", 32, 8), ("sh_link", 40, 4), ("sh_info", 44, 4),
               ("sh_addralign", 48, 8), ("sh_entsize", 56, 8)]
SYM_FIELDS = [("st_name", 0, 4), ("st_info", 4, 1), ("st_other", 5, 1), ("st_shndx", 6, 2),
              ("st_value", 8, 8), ("st_size", 16, 8)]
RELA_FIELDS = [("r_offset", 0, 8, False), ("r_type", 8, 4, False), ("r_sym", 12, 4, False),
               ("r_addend", 16, 8, True)]

SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL, SHT_DYNSYM = 2, 3, 4, 8, 9, 11
SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK, SHF_COMPRESSED = 0x2, 0x4, 0x40, 0x800


@dataclass
class Field:
    kind: str          # "e_shoff", "sh_size", "st_value", "r_sym", "ar_size", ...
    off: int
    width: int
    signed: bool = False
    ctx: int = -1      # section index for section-header fields, else -1

    def get(self, data: bytes) -> int:
        return int.from_bytes(data[self.off:self.off + self.width], "little", signed=self.signed)


@dataclass
class Layout:
    """Where the fields and regions of a (possibly already damaged) ELF file are.
    Parsing is best effort: whatever cannot be located is simply left out."""
    size: int
    fields: list[Field] = field(default_factory=list)
    sections: list[tuple] = field(default_factory=list)     # raw SHDR tuples
    code: list[tuple[int, int]] = field(default_factory=list)        # (offset, size) in file
    strtabs: list[tuple[int, int]] = field(default_factory=list)
    data_regions: list[tuple[int, int]] = field(default_factory=list)
    nsym: int = 0
    boundaries: list[int] = field(default_factory=list)      # structure edges, for truncation

    @classmethod
    def parse(cls, data: bytes) -> "Layout":
        lay = cls(len(data))
        n = len(data)
        if n < EHDR.size or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            return lay
        for name, off, w, s in EHDR_FIELDS:
            lay.fields.append(Field(name, off, w, s))
        hdr = EHDR.unpack_from(data, 0)
        shoff, shentsize, shnum = hdr[6], hdr[11], hdr[12]
        lay.boundaries += [16, EHDR.size]
        if shentsize != SHDR.size or shoff >= n:
            return lay
        shnum = min(shnum, (n - shoff) // SHDR.size, 4096)
        lay.boundaries += [shoff, shoff + SHDR.size // 2, shoff + shnum * SHDR.size - 1]
        for i in range(shnum):
            base = shoff + i * SHDR.size
            sh = SHDR.unpack_from(data, base)
            lay.sections.append(sh)
            for name, off, w in SHDR_FIELDS:
                lay.fields.append(Field(name, base + off, w, False, i))
        for i, sh in enumerate(lay.sections):
            typ, flags, off, size, entsize = sh[1], sh[2], sh[4], sh[5], sh[9]
            if typ == SHT_NOBITS or off >= n or size == 0:
                continue
            size = min(size, n - off)
            lay.boundaries += [off, off + size // 2, off + size - 1]
            if typ in (SHT_SYMTAB, SHT_DYNSYM):
                cnt = min(size // SYM.size, 20000)
                lay.nsym = max(lay.nsym, cnt)
                for k in range(cnt):
                    for name, fo, w in SYM_FIELDS:
                        lay.fields.append(Field(name, off + k * SYM.size + fo, w, False, i))
            elif typ == SHT_RELA:
                for k in range(min(size // RELA.size, 20000)):
                    for name, fo, w, s in RELA_FIELDS:
                        lay.fields.append(Field(name, off + k * RELA.size + fo, w, s, i))
            elif typ == SHT_REL:
                for k in range(min(size // 16, 20000)):
                    for name, fo, w, s in RELA_FIELDS[:3]:
                        lay.fields.append(Field(name, off + k * 16 + fo, w, s, i))
            elif typ == SHT_STRTAB:
                lay.strtabs.append((off, size))
            elif flags & SHF_EXECINSTR:
                lay.code.append((off, size))
            else:
                lay.data_regions.append((off, size))
        return lay

    def of_kind(self, kind: str) -> list[Field]:
        return [f for f in self.fields if f.kind == kind]


def _put(data: bytearray, off: int, width: int, value: int) -> None:
    value &= (1 << (8 * width)) - 1
    data[off:off + width] = value.to_bytes(width, "little")


# -- boundary values ------------------------------------------------------------

def _generic_values(f: Field, orig: int, lay: Layout) -> list[int]:
    bits = 8 * f.width
    mask = (1 << bits) - 1
    vals = [0, 1, mask, mask - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1,
            orig + 1, orig - 1, orig * 2, orig ^ 0x80, lay.size, lay.size - 1, lay.size + 1]
    if f.width == 8:
        vals += [1 << 60, 1 << 32, 0xFFFFFFFF, 1 << 63, -lay.size]
    if f.width >= 4:
        vals += [0xFFFF, 0x10000]
    return vals


def _kind_values(f: Field, orig: int, lay: Layout, data: bytes) -> list[int]:
    nsec = len(lay.sections)
    k = f.kind
    sec = lay.sections[f.ctx] if 0 <= f.ctx < nsec else None
    if k == "ei_class" or k == "ei_data":
        return [0, 1, 2, 3, 0xFF]
    if k == "e_type":
        return [0, 1, 2, 3, 4, 0xFE00, 0xFFFF]
    if k == "e_machine":
        return [62, 183, 3, 40, 243, 0, 0xFFFF]
    if k == "e_shnum":
        return [0, 1, nsec - 1, nsec + 1, 0xFF00, 0xFFFF]
    if k == "e_shstrndx":
        return [0, nsec - 1, nsec, nsec + 1, 0xFF00, 0xFFFF]
    if k == "e_shentsize":
        return [0, 40, 63, 65, 128, 0xFFFF]
    if k == "e_shoff":
        return [0, 1, EHDR.size, lay.size - SHDR.size, lay.size - SHDR.size + 1, orig + SHDR.size,
                orig - SHDR.size, orig + 1, 1 << 63]
    if k == "sh_type":
        return [0, 1, 2, 3, 4, 8, 9, 11, 14, 17, 18, 0x6FFFFFF6, 0x6FFFFFFF, 0xFFFFFFFF]
    if k == "sh_flags":
        return [orig ^ SHF_EXECINSTR, orig | SHF_COMPRESSED, orig ^ SHF_ALLOC, 0, (1 << 64) - 1,
                SHF_ALLOC | SHF_EXECINSTR]
    if k in ("sh_link", "sh_info"):
        return [0, nsec - 1, nsec, nsec + 1, f.ctx, 0xFFFF, 0xFF00, 0xFFFFFFFF]
    if k in ("sh_offset", "sh_size") and sec is not None:
        other = [s[4] for s in lay.sections] + [s[5] for s in lay.sections]
        return other + [lay.size - sec[4], lay.size - sec[4] + 1, lay.size - sec[5],
                        sec[5] + 1, sec[5] - 1, sec[5] // 2, 1 << 60, (1 << 64) - sec[4]]
    if k == "sh_entsize":
        return [0, 1, 16, 23, 24, 25, 12, 1 << 40]
    if k == "sh_name":
        return [0, 1] + [s[0] for s in lay.sections]
    if k == "st_info":
        return [(b << 4) | t for b in (0, 1, 2, 10) for t in (0, 1, 2, 3, 4, 6, 10)]
    if k == "st_shndx":
        code = [i for i, s in enumerate(lay.sections) if s[2] & SHF_EXECINSTR]
        return [0, nsec - 1, nsec, nsec + 1, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF] + code
    if k == "st_value" or k == "st_size":
        other = [x.get(data) for x in lay.of_kind(k)][:64]
        sizes = [s[5] for s in lay.sections if s[2] & SHF_EXECINSTR]
        return other + sizes + [s - 1 for s in sizes] + [0, orig + 1, orig - 1, 1 << 63]
    if k == "r_sym":
        return [0, lay.nsym - 1, lay.nsym, lay.nsym + 1, 0xFFFFFFFF, orig + 1, orig - 1]
    if k == "r_type":
        return [0, 1, 2, 4, 9, 10, 11, 24, 42, 0xFFFFFFFF]
    if k == "r_offset":
        tgt = lay.sections[sec[7]] if sec is not None and 0 <= sec[7] < nsec else None
        size = tgt[5] if tgt is not None else 0
        return [0, size, size - 1, size - 4, size + 1, orig + 1, orig - 1, 1 << 63]
    if k == "r_addend":
        return [-4, -5, 0, 4, orig + 1, orig - 1, -(1 << 63), (1 << 63) - 1, 0x7FFFFFF0, -(1 << 31)]
    if k == "ar_size":
        return [0, 1, orig + 1, orig - 1, 10 ** 10 - 1, -1]
    return []


# -- mutations ------------------------------------------------------------------

INTERESTING_CODE = [
    b"\xe8\x00\x00\x00\x00", b"\xe8\xff\xff\xff\x7f", b"\xe9\x00\x00\x00\x80", b"\xeb\xfe",
    b"\xeb\x7f", b"\x74\x80", b"\x0f\x84\x00\x00\x00\x00", b"\xc3", b"\xcc", b"\xcf", b"\x0f\x0b",
    b"\xff\xe0", b"\xff\xd0", b"\xff\x25\x00\x00\x00\x00", b"\x9c", b"\x9d", b"\x55", b"\x5d",
    b"\xc9", b"\x48\x89\xe5", b"\x48\x89\xec", b"\x48\x83\xec\x08", b"\x48\x83\xc4\x80",
    b"\x48\x81\xec\xff\xff\xff\x7f", b"\x48\x83\xe4\xf0", b"\x48\x8d\x64\x24\x08",
    b"\x4c\x8d\x54\x24\x10", b"\x41\xff\x72\xf8", b"\x49\x8d\x62\xf8", b"\x0f\x01\xca",
    b"\x0f\x01\xcb", b"\xfc", b"\xfd", b"\x0f\x05", b"\x48\xcf", b"\xf3\x0f\x1e\xfa",
    b"\x0f\x1f\x44\x00\x00", b"\x66\x90", b"\x0f", b"\x0f\x38", b"\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0",
    b"\x62", b"\xc4", b"\xd6", b"\x48\x8b\x64\x24\x08", b"\x48\x89\x65\xf8", b"\x8f\x00",
    b"\x0f\xa0", b"\x0f\xa1", b"\xca\x00\x00", b"\x0f\xb9\x00",
    # arm64 (little endian words): ret, bl 0, b -1, stp x29,x30,[sp,#-16]!, brk, paciasp
    b"\xc0\x03\x5f\xd6", b"\x00\x00\x00\x94", b"\xff\xff\xff\x17", b"\xfd\x7b\xbf\xa9",
    b"\x00\x00\x20\xd4", b"\x3f\x23\x03\xd5", b"\xff\x43\x00\xd1", b"\x00\x00\x1f\xd6",
]


def _region(ch, regions: list[tuple[int, int]]) -> tuple[int, int] | None:
    regions = [r for r in regions if r[1] > 0]
    return ch.choice(regions) if regions else None


def mutate_field(ch, data: bytearray, lay: Layout, kinds: Sequence[str] | None = None) -> str:
    cands = [f for f in lay.fields if f.off + f.width <= len(data)]
    if kinds is not None:
        cands = [f for f in cands if f.kind in kinds] or cands
    if not cands:
        return mutate_bitflip(ch, data, lay)
    f = ch.choice(cands)
    orig = f.get(data)
    how = ch.int(0, 9)
    if how < 6:
        vals = _kind_values(f, orig, lay, bytes(data))
        if not vals:
            vals = _generic_values(f, orig, lay)
    elif how < 8:
        vals = _generic_values(f, orig, lay)
    elif how < 9:
        vals = [x.get(data) for x in lay.of_kind(f.kind)] or [0]      # another entry's value
    else:
        vals = [ch.int(0, (1 << (8 * f.width)) - 1)]
    v = ch.choice(vals)
    _put(data, f.off, f.width, v)
    return "set %s@0x%x[%d] %#x -> %#x" % (f.kind, f.off, f.ctx, orig, v & ((1 << (8 * f.width)) - 1))


def mutate_bitflip(ch, data: bytearray, lay: Layout) -> str:
    if not data:
        return "bitflip on empty"
    # Half the flips land inside a located structure, where they matter most.
    if lay.fields and ch.int(0, 1):
        f = ch.choice(lay.fields)
        off = min(f.off + ch.int(0, f.width - 1), len(data) - 1)
    else:
        off = ch.int(0, len(data) - 1)
    bit = ch.int(0, 7)
    data[off] ^= 1 << bit
    return "flip bit %d at 0x%x" % (bit, off)


def mutate_truncate(ch, data: bytearray, lay: Layout) -> str:
    cuts = [b for b in lay.boundaries if 0 <= b < len(data)]
    if cuts and ch.int(0, 2):
        n = ch.choice(cuts)
    else:
        n = ch.int(0, len(data))
    del data[n:]
    return "truncate to %d" % n


def mutate_append(ch, data: bytearray, lay: Layout) -> str:
    n = ch.choice([1, 7, 64, 4096])
    data.extend(b"\0" * n if ch.int(0, 1) else ch.bytes(min(n, 64)) * (n // min(n, 64)))
    return "append %d bytes" % n


def _overwrite(ch, data: bytearray, lay: Layout, what: str, regions: list[tuple[int, int]],
               make_blob: Callable[[], bytes]) -> str:
    """Overwrite bytes at a random place in one of `regions` (kept inside it)."""
    r = _region(ch, regions)
    if r is None:
        return mutate_bitflip(ch, data, lay)
    off = r[0] + ch.int(0, r[1] - 1)
    blob = make_blob()[:r[0] + r[1] - off]
    data[off:off + len(blob)] = blob
    return "%s 0x%x <- %s" % (what, off, blob.hex())


def mutate_code(ch, data: bytearray, lay: Layout) -> str:
    return _overwrite(ch, data, lay, "code", lay.code, lambda: ch.choice(INTERESTING_CODE)
                      if ch.int(0, 2) else ch.bytes(ch.int(1, 16)))


def mutate_strtab(ch, data: bytearray, lay: Layout) -> str:
    r = _region(ch, lay.strtabs)
    if r is None:
        return mutate_bitflip(ch, data, lay)
    off, size = r
    how = ch.int(0, 2)
    if how == 0:                           # the table no longer ends in NUL
        data[off + size - 1] = 0x41
        return "strtab@0x%x: last byte not NUL" % off
    if how == 1:                           # strings run together / contain odd bytes
        k = off + ch.int(0, size - 1)
        data[k] = ch.choice([0x41, 0x0A, 0xFF, 0x80, 0x00])
        return "strtab byte 0x%x <- %#x" % (k, data[k])
    data[off:off + size] = bytes(b if b else 0x41 for b in data[off:off + size])
    return "strtab@0x%x: no NULs at all" % off


def mutate_data(ch, data: bytearray, lay: Layout) -> str:
    return _overwrite(ch, data, lay, "data", lay.data_regions, lambda: ch.bytes(ch.int(1, 8))
                      if ch.int(0, 1) else b"\xff" * ch.int(1, 8))


def mutate_copy_shdr(ch, data: bytearray, lay: Layout) -> str:
    """One section header replaced by another (duplicate symtabs, aliased data)."""
    shs = lay.of_kind("sh_name")
    if len(shs) < 2:
        return mutate_bitflip(ch, data, lay)
    a, b = ch.choice(shs), ch.choice(shs)
    data[a.off:a.off + SHDR.size] = data[b.off:b.off + SHDR.size]
    return "section header %d := %d" % (a.ctx, b.ctx)


def mutate_symbol_overlap(ch, data: bytearray, lay: Layout) -> str:
    """Symbol A moved onto symbol B: same section, at B's start, end or middle, with
    B's size, none, or more (overlapping, zero-sized and aliased functions)."""
    vals = lay.of_kind("st_value")
    if len(vals) < 2:
        return mutate_bitflip(ch, data, lay)
    a, b = ch.choice(vals), ch.choice(vals)
    abase, bbase = a.off - 8, b.off - 8
    bval, bsize = b.get(data), Field("", bbase + 16, 8).get(data)
    data[abase + 6:abase + 8] = data[bbase + 6:bbase + 8]               # st_shndx
    if ch.int(0, 1):
        data[abase + 4] = (data[abase + 4] & 0xF0) | 2                   # STT_FUNC
    val = bval + ch.choice([0, 0, bsize, bsize // 2, bsize - 1, 1])
    size = ch.choice([0, bsize, bsize - 1, 1, 2 * bsize + 1, Field("", abase + 16, 8).get(data)])
    _put(data, abase + 8, 8, val)
    _put(data, abase + 16, 8, size)
    return "symbol@0x%x onto symbol@0x%x: value %#x size %#x" % (abase, bbase, val, size)


ELF_MUTATIONS: list[tuple[int, Callable]] = [
    (4, mutate_symbol_overlap),
    (10, lambda ch, d, l: mutate_field(ch, d, l)),
    (6, lambda ch, d, l: mutate_field(ch, d, l, [n for n, *_ in EHDR_FIELDS])),
    (8, lambda ch, d, l: mutate_field(ch, d, l, [n for n, *_ in SHDR_FIELDS])),
    (6, lambda ch, d, l: mutate_field(ch, d, l, [n for n, *_ in SYM_FIELDS])),
    (6, lambda ch, d, l: mutate_field(ch, d, l, [n for n, *_ in RELA_FIELDS])),
    (5, mutate_bitflip),
    (4, mutate_truncate),
    (1, mutate_append),
    (8, mutate_code),
    (2, mutate_strtab),
    (2, mutate_data),
    (1, mutate_copy_shdr),
]


def mutate_elf(ch, data: bytes, count: int) -> tuple[bytes, list[str]]:
    buf = bytearray(data)
    log = []
    for _ in range(count):
        lay = Layout.parse(bytes(buf))
        log.append(weighted(ch, ELF_MUTATIONS)(ch, buf, lay))
    return bytes(buf), log


# -- building derived seeds ----------------------------------------------------

class ElfEditor:
    """Adds sections to (or replaces the contents of) a well-formed ELF64 object.
    New data, the new section name table and the new header table go at the end."""

    def __init__(self, data: bytes) -> None:
        self.blob = bytearray(data)
        h = EHDR.unpack_from(data, 0)
        self.shoff, self.shnum, self.shstrndx = h[6], h[12], h[13]
        self.shdrs = [list(SHDR.unpack_from(data, self.shoff + i * SHDR.size))
                      for i in range(self.shnum)]
        s = self.shdrs[self.shstrndx]
        self.names = bytearray(data[s[4]:s[4] + s[5]])

    def name_of(self, i: int) -> str:
        off = self.shdrs[i][0]
        return self.names[off:self.names.index(b"\0", off)].decode()

    def index_of(self, name: str) -> int:
        return next((i for i in range(len(self.shdrs)) if self.name_of(i) == name), -1)

    def data_of(self, i: int) -> bytes:
        s = self.shdrs[i]
        return bytes(self.blob[s[4]:s[4] + s[5]])

    def _append(self, payload: bytes, align: int = 8) -> int:
        self.blob.extend(b"\0" * (-len(self.blob) % align))
        off = len(self.blob)
        self.blob.extend(payload)
        return off

    def set_data(self, i: int, payload: bytes) -> None:
        self.shdrs[i][4] = self._append(payload)
        self.shdrs[i][5] = len(payload)

    def add(self, name: str, typ: int, flags: int, payload: bytes, link: int = 0, info: int = 0,
            entsize: int = 0, align: int = 8) -> int:
        name_off = len(self.names)
        self.names.extend(name.encode() + b"\0")
        off = self._append(payload, align)
        self.shdrs.append([name_off, typ, flags, 0, off, len(payload), link, info, align, entsize])
        return len(self.shdrs) - 1

    def build(self) -> bytes:
        self.set_data(self.shstrndx, bytes(self.names))
        shoff = self._append(b"".join(SHDR.pack(*s) for s in self.shdrs))
        out = self.blob
        struct.pack_into("<Q", out, 40, shoff)
        struct.pack_into("<H", out, 60, len(self.shdrs))
        return bytes(out)


R_X86_64_64, R_X86_64_PC32 = 1, 2


def _insn_boundaries(code: bytes) -> list[tuple[int, int, int]]:
    """(offset, length, first opcode byte) of the x86-64 instructions in `code`."""
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    return [(a, n, code[a]) for a, n, _m, _o in md.disasm_lite(code, 0)]


def kernelize(ch, data: bytes) -> tuple[bytes, list[str]]:
    """An x86-64 fixture plus some of the kernel's sections (ORC, alternatives,
    jump labels, exception table, unwind hints, .discard.* annotations), with
    entries relocated against .text at real instruction boundaries, so that the
    readers of those sections get inputs that are valid until mutated."""
    ed = ElfEditor(data)
    text = ed.index_of(".text")
    symtab = next((i for i, s in enumerate(ed.shdrs) if s[1] == SHT_SYMTAB), -1)
    if text < 0 or symtab < 0:
        return data, ["kernelize: no .text/.symtab"]
    syms = list(SYM.iter_unpack(ed.data_of(symtab)))
    tsym = next((k for k, s in enumerate(syms) if s[1] & 0xF == 3 and s[3] == text), -1)
    insns = _insn_boundaries(ed.data_of(text))
    if tsym < 0 or not insns:
        return data, ["kernelize: no .text section symbol"]
    log = []

    def pick(pred=lambda b: True):
        cands = [x for x in insns if pred(x[2])] or insns
        return ch.choice(cands)

    def add_with_rela(name, payload, relas, flags=0):
        idx = ed.add(name, 1, flags, payload)
        rp = b"".join(RELA.pack(o, (sym << 32) | typ, a) for o, sym, typ, a in relas)
        ed.add(".rela" + name, SHT_RELA, SHF_INFO_LINK, rp, link=symtab, info=idx, entsize=24)
        return idx

    n = ch.int(1, 6)
    wanted = [ch.choice(["orc", "orc-linked", "alt", "jump", "ex", "hints", "discard"])
              for _ in range(ch.int(1, 3))]
    for what in dict.fromkeys(wanted):
        log.append("kernelize %s x%d" % (what, n))
        if what in ("orc", "orc-linked"):
            sites = sorted({pick()[0] for _ in range(n)})
            orc = b"".join(struct.pack("<hhBB", 8 + 8 * (k % 3), -16 if k % 2 else 0,
                                       5 | ((4 if k % 2 else 0) << 4), 2) for k in range(len(sites)))
            if what == "orc":
                ed.add(".orc_unwind", 1, SHF_ALLOC, orc)
                add_with_rela(".orc_unwind_ip", b"\0" * (4 * len(sites)),
                              [(4 * k, tsym, R_X86_64_PC32, s) for k, s in enumerate(sites)],
                              SHF_ALLOC)
            else:               # linked-file form: IPs are self-relative, no relocations
                ed.add(".orc_unwind", 1, SHF_ALLOC, orc)
                ed.add(".orc_unwind_ip", 1, SHF_ALLOC,
                       b"".join(struct.pack("<i", s - 4 * k) for k, s in enumerate(sites)))
        elif what == "alt":
            rep = b"".join(ch.choice([b"\x90", b"\x0f\x1f\x00", b"\xe8\x00\x00\x00\x00", b"\x55\x5d",
                                      b"\xeb\x00", b"\x0f\x01\xcb"]) for _ in range(n))
            ridx = ed.add(".altinstr_replacement", 1, SHF_ALLOC | SHF_EXECINSTR, rep, align=1)
            rsym = len(syms)
            syms.append((0, 3, 0, ridx, 0, 0))            # its section symbol
            entries, relas = b"", []
            for k in range(n):
                off, length, _ = pick()
                entries += struct.pack("<iiIBB", 0, 0, ch.choice([0, 9 * 32 + 20, 4 * 32 + 23, 77]),
                                       length, ch.choice([0, 1, length, 5]))
                relas += [(14 * k, tsym, R_X86_64_PC32, off), (14 * k + 4, rsym, R_X86_64_PC32, k)]
            add_with_rela(".altinstructions", entries, relas, SHF_ALLOC)
        elif what == "jump":
            entries, relas = b"", []
            for k in range(n):
                off, _, _ = pick(lambda b: b in (0xE9, 0xEB, 0x0F, 0x90))
                dst, _, _ = pick()
                entries += b"\0" * 16
                relas += [(16 * k, tsym, R_X86_64_PC32, off), (16 * k + 4, tsym, R_X86_64_PC32, dst),
                          (16 * k + 8, tsym, R_X86_64_64, ch.choice([0, 1, 2, 3]))]
            add_with_rela("__jump_table", entries, relas, SHF_ALLOC)
        elif what == "ex":
            entries, relas = b"", []
            for k in range(n):
                a, b = pick()[0], pick()[0]
                entries += b"\0" * 12
                relas += [(12 * k, tsym, R_X86_64_PC32, a), (12 * k + 4, tsym, R_X86_64_PC32, b)]
            add_with_rela("__ex_table", entries, relas, SHF_ALLOC)
        elif what == "hints":
            entries, relas = b"", []
            for k in range(n):
                entries += struct.pack("<IhBBBxxx", 0, ch.choice([0, 8, 16, 160, -8]),
                                       ch.choice([0, 4, 5, 6, 7, 9, 15]), ch.choice([0, 1, 2, 3, 4, 5, 6, 7, 9]),
                                       ch.int(0, 1))
                relas.append((12 * k, tsym, R_X86_64_PC32, pick()[0]))
            add_with_rela(".discard.unwind_hints", entries, relas)
        else:
            name = ch.choice([".discard.reachable", ".discard.intra_function_calls",
                              ".discard.ignore_alts", ".discard.retpoline_safe",
                              ".discard.instr_end", ".discard.instr_begin",
                              ".discard.func_stack_frame_non_standard"])
            log[-1] += " " + name
            add_with_rela(name, b"\0" * (4 * n),
                          [(4 * k, tsym, R_X86_64_PC32,
                            pick(lambda b: b in (0xE8, 0xFF, 0xC3, 0x0F))[0]) for k in range(n)])
    ed.set_data(symtab, b"".join(SYM.pack(*s) for s in syms))
    return ed.build(), log
