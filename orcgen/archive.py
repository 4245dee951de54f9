# SPDX-License-Identifier: GPL-2.0-only
"""Members of `ar` archives (static libraries, kernel built-in.a files).

An archive is checked member by member, each as its own object, named
`ARCHIVE(MEMBER)` in every message, the way binutils names them.
"""
from __future__ import annotations

from typing import Iterator

from .errors import InputError

MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"


def is_archive(data: bytes) -> bool:
    return data[:8] in (MAGIC, THIN_MAGIC)


def members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (member name, member bytes) for every regular member, in order.

    The symbol index (`/`, `/SYM64/`) and the GNU long-name table (`//`) are
    read or skipped, not yielded.  Thin archives hold no member data and are refused.
    """
    if data[:8] == THIN_MAGIC:
        raise InputError("thin archive: its members are separate files, check those instead")
    pos, longnames = 8, b""
    while pos < len(data):
        if pos + 60 > len(data):
            raise InputError("truncated archive member header at offset %d" % pos)
        hdr = data[pos:pos + 60]
        if hdr[58:60] != b"`\n":
            raise InputError("bad archive member header at offset %d" % pos)
        name = hdr[0:16].decode("latin-1").rstrip()
        size_text = hdr[48:58].decode("latin-1").strip() or "0"
        if not size_text.isdigit() or not size_text.isascii():
            raise InputError("bad archive member size at offset %d" % pos)
        size = int(size_text)
        start = pos + 60
        if start + size > len(data):
            raise InputError("archive member %r runs past the end of the file" % name)
        body = data[start:start + size]
        pos = start + size + (size & 1)
        if name in ("/", "/SYM64/", "__.SYMDEF", "__.SYMDEF SORTED"):
            continue
        if name == "//":
            longnames = body
            continue
        if name.startswith("#1/"):                      # BSD: name stored before the data
            n = name[3:]
            if not (n.isdigit() and n.isascii()) or int(n) > len(body):
                raise InputError("bad archive member name length %r at offset %d" % (n, pos))
            n = int(n)
            name, body = body[:n].rstrip(b"\0").decode("utf-8", "replace"), body[n:]
        elif name.startswith("/") and name[1:].isdigit():
            off = int(name[1:])
            if off >= len(longnames):
                raise InputError("archive long member name offset %d out of range" % off)
            end = longnames.find(b"/\n", off)
            name = longnames[off:end if end >= 0 else len(longnames)].decode("utf-8", "replace")
        elif name.endswith("/"):
            name = name[:-1]
        yield name, body
