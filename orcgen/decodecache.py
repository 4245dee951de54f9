# SPDX-License-Identifier: GPL-2.0-only
"""Decoded instruction facts, cached per function.

A section is cut at its function starts and each piece is decoded, or found in
the cache, on its own: identical functions in different objects (static inline
helpers, unchanged code in a rebuild) decode once.  The key is the piece's
bytes, the architecture and orcgen's version, plus, where the bytes could
contain an x86 IRET, which of them lie inside a function (the one fact the
decoder takes from outside the bytes).  Relocations are not part of the key: the
decoder never reads them.

A piece is only used if its own decode ends exactly at its end; otherwise the
whole section is decoded in one sweep, as objtool does, and nothing is cached.
"""
from __future__ import annotations

import marshal
from typing import Callable

from . import pardecode
from .cache import Cache, key
from .elf import STT_FUNC
from .insn import Decoded, DecodeFailure, Dest, Src, StackOp

_MIN_PIECE = 16      # smaller pieces cost more to look up than to decode


def decode_section(be, data: bytes, funcs, in_func: Callable[[int], bool],
                   cache: Cache | None) -> tuple[Decoded, DecodeFailure | None]:
    n = pardecode.processes(len(data))
    if n == 1 and (cache is None or len(data) < _MIN_PIECE):
        return be.decode_section(data, in_func)
    starts = sorted({s.offset for s in funcs.ordered if s.type == STT_FUNC and 0 < s.offset < len(data)})
    if n > 1:
        # a section this large (vmlinux.o's .text) is decoded in parallel rather
        # than through the cache, whose pieces pay off for small objects' reuse
        return pardecode.decode(be, data, starts, in_func, n)
    bounds = [0] + starts + [len(data)]
    pieces = [(a, b) for a, b in zip(bounds, bounds[1:]) if a < b]
    keys = [_piece_key(be, data, a, b, in_func) for a, b in pieces]
    found = cache.get_many(list(set(keys)))
    out = Decoded()
    new: list[tuple[bytes, bytes]] = []
    for (a, b), k in zip(pieces, keys):
        blob = found.get(k)
        if blob is not None:
            out.add(_load(blob), a)
            continue
        piece, failure = be.decode_section(data[a:b], lambda off, a=a: in_func(off + a))
        if failure is not None or not piece or piece.end != b - a:
            return be.decode_section(data, in_func)          # not separable: one sweep
        blob = _dump(piece)
        found[k] = blob
        new.append((k, blob))
        out.add(piece, a)
    cache.put_many(new)
    return out, None


def _piece_key(be, data: bytes, a: int, b: int, in_func) -> bytes:
    piece = data[a:b]
    context = ""
    if b"\xcf" in piece:            # x86 iret means different things in and out of functions
        context = "".join("1" if in_func(a + o) else "0" for o in range(b - a) if piece[o] == 0xCF)
    return key("decode", be.name, piece, context)


def _dump(d: Decoded) -> bytes:
    return marshal.dumps((d.size.tobytes(), bytes(d.kind), d.imm.tobytes(),
                          {n: tuple((int(o.src), int(o.dest), o.src_reg, o.src_off, o.dest_reg,
                                     o.dest_off) for o in ops) for n, ops in enumerate(d.ops) if ops}))


_OPS: dict[tuple, StackOp] = {}


def _load(blob: bytes) -> Decoded:
    size, kind, imm, ops = marshal.loads(blob)
    d = Decoded()
    d.size.frombytes(size)
    d.kind.extend(kind)
    d.imm.frombytes(imm)
    d.ops = [()] * len(d.kind)
    cache = _OPS
    for n, raw in ops.items():
        built = []
        for o in raw:
            op = cache.get(o)
            if op is None:
                op = cache[o] = StackOp(Src(o[0]), Dest(o[1]), o[2], o[3], o[4], o[5])
            built.append(op)
        d.ops[n] = tuple(built)
    return d
