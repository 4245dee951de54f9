# SPDX-License-Identifier: GPL-2.0-only
"""Decoding one large code section in several processes (`-j N`).

vmlinux.o keeps 16 MB of code in one .text; decoding it is a third of
orcgen's time there, and the decode of one stretch of bytes does not depend
on any other.  The section is cut at function starts into one piece per
process; the pieces are decoded at once (the first one in this process,
the others in forked children, which share the bytes without copying them)
and joined in order.

The result is the one-sweep decode exactly, or it is not used: a piece
counts only if its decode ends exactly where the next piece begins, which
by induction from byte 0 means every piece starts on an instruction the
sweep would have found (the check the decode cache makes of its pieces).
Where one does not (data in .text, an instruction across a function start)
or a piece fails to decode, the section is decoded in one sweep, so that
the failure, if any, is reported exactly as without `-j`.
"""
from __future__ import annotations

import os
from typing import Callable

from .insn import Decoded, DecodeFailure

# Below this much code in one section, starting processes costs more than it saves.
MIN_BYTES = 2 << 20

# Processes per section of MIN_BYTES or more: set by the command line (-j N)
# or ORCGEN_JOBS; 0: one per two CPUs this process may run on (at most 8).
jobs = 0

_work: tuple | None = None        # (backend, bytes, in_func) of the section being decoded


def processes(size: int) -> int:
    """How many processes to decode a section of `size` bytes with."""
    if size < MIN_BYTES or _in_daemon():
        return 1
    n = jobs or _env_jobs()
    if n:
        return n
    # Each process keeps two CPUs busy: its loop, and capstone reading ahead
    # in a thread (x86-64).  On two CPUs one process is fastest (vmlinux.o:
    # 9.5 s against 10.2 s with two).
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus // 2, 8))


def _in_daemon() -> bool:
    """A `-j` batch's worker (a daemon process) may not start processes of its own."""
    import multiprocessing
    return multiprocessing.current_process().daemon


def _env_jobs() -> int:
    try:
        return max(0, int(os.environ.get("ORCGEN_JOBS", "0")))
    except ValueError:
        return 0


def cuts(size: int, starts: list[int], n: int) -> list[tuple[int, int]]:
    """`n` pieces of about equal size, each starting at a function start."""
    import bisect
    bounds = [0]
    for k in range(1, n):
        j = bisect.bisect_left(starts, size * k // n)
        if j < len(starts) and bounds[-1] < starts[j] < size:
            bounds.append(starts[j])
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if a < b]


def decode(be, data: bytes, starts: list[int], in_func: Callable[[int], bool],
           n: int) -> tuple[Decoded, DecodeFailure | None]:
    """Decode `data` in `n` processes, cut at `starts` (function offsets)."""
    pieces = cuts(len(data), starts, n)
    if len(pieces) < 2:
        return be.decode_section(data, in_func)
    global _work
    _work = (be, data, in_func)
    try:
        joined = _decode_pieces(pieces)
    finally:
        _work = None
    if joined is None:
        return be.decode_section(data, in_func)        # not separable: one sweep
    return joined, None


def _decode_pieces(pieces: list[tuple[int, int]]) -> Decoded | None:
    import multiprocessing
    try:
        ctx = multiprocessing.get_context("fork")
        pool = ctx.Pool(len(pieces) - 1)
    except (ValueError, OSError):
        return None                  # no fork here, or no processes left: one sweep
    with pool:
        later = pool.map_async(_piece, pieces[1:])
        results = [_piece(pieces[0])] + later.get()
    out = Decoded()
    for (a, _b), d in zip(pieces, results):
        if d is None:
            return None
        out.add(d, a)
    return out


def _piece(piece: tuple[int, int]) -> Decoded | None:
    """One piece's decode, or None if it does not end exactly at its end."""
    be, data, in_func = _work
    a, b = piece
    d, failure = be.decode_section(data[a:b], lambda off: in_func(off + a))
    if failure is not None or not d or d.end != b - a:
        return None
    return d
