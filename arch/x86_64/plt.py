# SPDX-License-Identifier: GPL-2.0-only
"""Which GOT slot each PLT stub of a linked x86-64 file jumps through.

A stub is `jmp *slot(%rip)` (ff 25 rel32), optionally with a BND prefix
(f2) and, in .plt.sec and IBT builds' .plt.got, after an endbr64; calls
land on the stub's first byte.  The slot's dynamic relocation names the
function the call reaches (ElfFile.imported), which is how a call to
`__cxa_throw@plt` is known not to return.
"""
from __future__ import annotations

import struct

PLT_SECTIONS = (".plt", ".plt.sec", ".plt.got")
_ENDBR64 = bytes.fromhex("f30f1efa")
_REL32 = struct.Struct("<i").unpack_from


def plt_stubs(sections) -> dict[int, int]:
    """{stub address: GOT slot address} for `sections`, (name, address, bytes) each."""
    out: dict[int, int] = {}
    for name, addr, data in sections:
        if name not in PLT_SECTIONS:
            continue
        k = data.find(b"\xff\x25")
        while 0 <= k <= len(data) - 6:
            start = k - 1 if k and data[k - 1] == 0xF2 else k
            slot = addr + k + 6 + _REL32(data, k + 2)[0]
            out[addr + start] = slot
            if data[start - 4:start] == _ENDBR64 and start >= 4:
                out[addr + start - 4] = slot
            k = data.find(b"\xff\x25", k + 6)
    return out
