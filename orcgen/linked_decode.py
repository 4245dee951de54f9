# SPDX-License-Identifier: GPL-2.0-only
"""Decoding a linked file's code sections (shared libraries, programs).

An object's code is decoded in one sweep per section, and bytes that do not
decode are fatal, as for objtool.  A link leaves things an object never has:
data in .text (OpenSSL's AES tables), padding that is no instruction
(libLLVM's zeros), and functions whose symbols were stripped.  Where the one
sweep stops or runs across a function's first byte, Program hands the
section to `decode_by_function`, which decodes it function by function, taking
each function from the sweep (resumed at the next function start after each
stop) where that covers it exactly.
"""
from __future__ import annotations

import bisect
import re

from .elf import STT_FUNC
from .findings import Finding
from .insn import Decoded, Kind

_RESYNC_PIECE = 4 << 20     # bytes per piece of _resynced's decode


def in_func(funcs, base: int):
    """The decoder's one question from outside the bytes (x86 iret): is the
    byte at `off` of a sweep that began at `base` inside a function?"""
    return lambda off: getattr(funcs.containing(off + base), "type", None) == STT_FUNC


def crosses_a_start(decoded: Decoded, funcs, size: int) -> bool:
    """Did one sweep run across a function's first byte (linked files' padding)?"""
    offs = decoded.off
    for f in funcs.ordered:
        if f.type == STT_FUNC and 0 <= f.offset < size:
            k = bisect.bisect_left(offs, f.offset)
            if k == len(offs) or offs[k] != f.offset:
                return True
    return False


# Decoded kinds after which zero bytes are padding, not code (a call: to a
# function that does not return, such as __stack_chk_fail@plt)
_ENDS_CODE = frozenset(int(k) for k in (Kind.RETURN, Kind.JUMP_UNCOND, Kind.JUMP_DYNAMIC,
                                        Kind.BUG, Kind.TRAP, Kind.CALL))
# zeros after the last byte of ret, int3, ud2, call/jmp rel32, jmp rel8: the
# candidates, which the decode then confirms
_ZEROS_AFTER_AN_END = re.compile(b"(?:\xc3|\xcc|\x0f\x0b|[\xe8\xe9]....|\xeb.)(\x00+)", re.DOTALL)


def _zero_padding(offs, kinds, lo: int, hi: int, data: bytes, start: int, end: int,
                  base: int, addr: int) -> tuple[int, int] | None:
    """In code no symbol covers (a stripped library's local functions), the
    first run of zero bytes in data[start:end] that starts right after an
    instruction ending a path and ends on a 16-byte boundary (where compilers
    put functions) or at `end`: (the index of the first instruction decoded
    from the zeros, the offset of the first byte after them).  Decoded on,
    the zeros (`00 00`, `add %al,(%rax)`) swallow the next function's first
    bytes: libLLVM's `00 53 48 83 ec 30` for `push %rbx; sub $0x30,%rsp`.
    `offs[lo:hi]` and `kinds[lo:hi]` are the decode of the range, its offsets
    counted from byte `base`; `addr`: the section's address (the boundary is
    the address's)."""
    for m in _ZEROS_AFTER_AN_END.finditer(data, start, end):
        zero, after = m.start(1), m.end(1)
        if after != end and (addr + after) % 16:
            continue
        k = bisect.bisect_left(offs, zero - base, lo, hi)
        if k == lo or k == hi or offs[k] != zero - base or kinds[k - 1] not in _ENDS_CODE:
            continue
        return k, after
    return None


def decode_by_function(p, sec, funcs, data: bytes, sweep: Decoded) -> Decoded:
    """A linked file whose one sweep failed or ran across a function start:
    decode each function (symbol start to the next) on its own.  Linked
    code may keep data in .text (OpenSSL's AES tables) or pad between
    functions with bytes that are no instruction (libLLVM's zeros after
    a nopl); an object's bytes stay fatal, as for objtool.  Bytes that do
    not decode inside a function's extent are one finding, and the
    function is not analysed past them; padding after a function that is
    not whole instructions is not code, and is left out silently.

    A stretch that the one sweep (`sweep`) covers with instructions from
    its first byte to its last is taken from the sweep: decoding it again
    from its start would find the same instructions.  On libLLVM (59 MB
    of code) that is all but a few hundred stretches, and had been half
    of the time and a second copy of the decode."""
    starts = sorted({f.offset for f in funcs.ordered if f.type == STT_FUNC and 0 < f.offset < len(data)})
    sweep = _resynced(p, sweep, starts, funcs, data)
    soff, ssize = sweep.off, sweep.size

    def covered(x: int, y: int) -> tuple[int, int] | None:
        """The sweep's instructions tiling [x, y) exactly, as an index range."""
        k0 = bisect.bisect_left(soff, x)
        if k0 == len(soff) or soff[k0] != x:
            return None
        k1 = bisect.bisect_left(soff, y, k0)
        if k1 == k0 or soff[k1 - 1] + ssize[k1 - 1] != y:
            return None
        return k0, k1

    bounds = [0] + starts + [len(data)]
    ends: dict[int, int] = {}
    for f in funcs.ordered:
        if f.type == STT_FUNC:
            ends[f.offset] = max(ends.get(f.offset, 0), f.offset + f.len)
    out = Decoded()
    for a, b in zip(bounds, bounds[1:]):
        e = ends.get(a, 0)
        end = min(e, b) if e > a else a           # the function's extent, if one starts here
        same = covered(a, end) if end > a else None
        if same is not None:
            out.add_range(sweep, *same)
            failure = None
        elif end > a:
            piece, failure = p.be.decode_section(data[a:end], in_func(funcs, a))
            out.add(piece, a)
        else:
            failure = None                        # no function here: all unnamed code
        if failure is not None:
            pos = a + failure.offset
            p.undecoded.setdefault(sec.index, []).append((pos, b))
            p.findings.append(Finding(
                "decode", "can't decode instruction; not analysed up to %s"
                % (p.offstr(sec.index, b) if b < len(data) else "the end of the section"),
                p.offstr(sec.index, pos)))
            p.finding_insn.append(-1)
        elif end < b:
            # What follows a function up to the next symbol: padding, or a local
            # function whose symbol was stripped.  Zero bytes right after a
            # function are padding (`00 00` would be `add %al,(%rax)`), and
            # decoded they swallow the first bytes of such a function
            # (libLLVM: `00 53 48` `83 ec 30` for `push %rbx; sub $0x30,%rsp`).
            at = b - len(data[end:b].lstrip(b"\0"))
            if at > end:
                p.undecoded.setdefault(sec.index, []).append((end, at))
            while at < b:
                # then code only if all of it decodes, up to zeros that pad
                # one stripped function from the next
                same = covered(at, b)
                if same is not None:
                    at = _unnamed_code(p, sec, out, sweep, 0, *same, True, data, at, b)
                else:
                    pad, failure = p.be.decode_section(data[at:b], in_func(funcs, at))
                    at = _unnamed_code(p, sec, out, pad, at, 0, len(pad),
                                       failure is None, data, at, b)
    return out


def _unnamed_code(p, sec, out: Decoded, d: Decoded, base: int, lo: int, hi: int,
                  whole: bool, data: bytes, at: int, b: int) -> int:
    """Add instructions lo..hi-1 of `d` (decoded from byte `base`; they run
    from `at` to `b`; `whole`: without a failure) to `out` up to each run of
    zero padding (_zero_padding), and on from its end as long as the decode
    has an instruction there (x86 decoding falls back into step within a few
    instructions), so that a long stretch of stripped functions is decoded
    once.  Returns where decoding must start again (`b`: done)."""
    offs = d.off
    k = bisect.bisect_left(offs, at - base, lo, hi)
    while True:
        cut = _zero_padding(offs, d.kind, k, hi, data, at, b, base, sec.addr)
        if cut is None:
            if whole:
                out.add_range(d, k, hi, base)
            else:
                p.undecoded.setdefault(sec.index, []).append((at, b))
            return b
        kc, nxt = cut
        out.add_range(d, k, kc, base)
        p.undecoded.setdefault(sec.index, []).append((base + offs[kc], nxt))
        j = bisect.bisect_left(offs, nxt - base, kc, hi)
        if nxt >= b or j == hi or offs[j] != nxt - base:
            return nxt
        k, at = j, nxt


def _resynced(p, sweep: Decoded, starts: list[int], funcs, data: bytes) -> Decoded:
    """`sweep` (from byte 0) continued past each place it stopped, from
    the next function start on: libLLVM's one sweep stops at 2 MB of 59.
    Only a store of decodes that begin at function starts (the caller
    checks each function against it), so it is made in pieces of a few
    megabytes cut at function starts, each decoded (and copied) once:
    hundreds of stops, each decoding the rest of the section again, had
    copied gigabytes.  `sweep` itself is continued (a copy of it had been a
    fifth of libLLVM's peak)."""
    k = bisect.bisect_right(starts, sweep.end)    # the first start after the stop
    while k < len(starts):
        at = starts[k]
        j = bisect.bisect_left(starts, at + _RESYNC_PIECE, k + 1)
        cut = starts[j] if j < len(starts) else len(data)
        piece, failure = p.be.decode_section(data[at:cut], in_func(funcs, at))
        sweep.add(piece, at)
        k = bisect.bisect_right(starts, at + failure.offset, k) if failure is not None else j
    return sweep
