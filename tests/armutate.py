# SPDX-License-Identifier: GPL-2.0-only
"""`ar` archives for the fuzz tests: building them, and mutating their member
headers (names and sizes) to the values that break readers."""
from __future__ import annotations

from elfmutate import Field, Layout, mutate_truncate


def ar_member_header(name: bytes, size: int | bytes) -> bytes:
    sz = size if isinstance(size, bytes) else str(size).encode()
    return (name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"644".ljust(8)
            + sz.ljust(10) + b"`\n")


def make_archive(members: list[tuple[str, bytes]], bsd: bool = False) -> bytes:
    """A GNU (or BSD-style) `ar` archive: symbol index, long-name table, members."""
    out = bytearray(b"!<arch>\n")
    out += ar_member_header(b"/", 4) + b"\0\0\0\0"
    longnames = bytearray()
    heads = []
    for name, body in members:
        nb = name.encode()
        if bsd:
            heads.append((b"#1/%d" % len(nb), nb + body))
        elif len(nb) < 16:
            heads.append((nb + b"/", body))
        else:
            heads.append((b"/%d" % len(longnames), body))
            longnames += nb + b"/\n"
    if longnames:
        out += ar_member_header(b"//", len(longnames)) + longnames + b"\n" * (len(longnames) & 1)
    for hname, body in heads:
        out += ar_member_header(hname, len(body)) + body + b"\n" * (len(body) & 1)
    return bytes(out)


def archive_fields(data: bytes) -> list[Field]:
    """The member headers' name and size fields of an archive built above (best effort)."""
    out, pos = [], 8
    while pos + 60 <= len(data) and data[pos + 58:pos + 60] == b"`\n":
        out.append(Field("ar_name", pos, 16))
        out.append(Field("ar_size", pos + 48, 10))
        try:
            size = int(data[pos + 48:pos + 58].decode("ascii").strip() or "0")
        except ValueError:
            break
        pos += 60 + size + (size & 1)
    return out


def mutate_archive(ch, data: bytes) -> tuple[bytes, str]:
    buf = bytearray(data)
    fields = archive_fields(data)
    how = ch.int(0, 3)
    if not fields or how == 0:
        lay = Layout(len(buf), boundaries=[8, 8 + 30, 8 + 60] + [f.off for f in fields])
        return bytes(buf), mutate_truncate(ch, buf, lay)
    f = ch.choice(fields)
    if f.kind == "ar_size":
        orig = buf[f.off:f.off + 10].decode("latin-1").strip()
        size = int(orig) if orig.isdigit() else 0
        v = ch.choice([b"", b"-1", b"0", b"abc", b"9999999999", b"1e3", b" 12 ",
                       str(size + 1).encode(), str(max(0, size - 1)).encode()])
    else:
        v = ch.choice([b"/", b"//", b"/SYM64/", b"/99999", b"/-1", b"#1/abc", b"#1/999999",
                       b"#1/", b"#1/-3", b"/0", b"x.o/", b"", b"\xff\xfe/"])
    buf[f.off:f.off + f.width] = v[:f.width].ljust(f.width)
    return bytes(buf), "archive %s@0x%x <- %r" % (f.kind, f.off, v)
