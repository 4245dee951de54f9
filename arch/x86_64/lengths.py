# SPDX-License-Identifier: GPL-2.0-only
"""Instruction lengths from capstone, read ahead in a thread.

capstone is the one part of the decode that is not Python: about half of
the time on vmlinux.o's 16 MB of .text.  ctypes lets go of the interpreter
lock while cs_disasm runs, so a thread can find the lengths of the next
stretch of code while the decoder's loop classifies this one, and the two
halves of the work run on two CPUs.  That needs the code cut into stretches
whose decode is exactly the one sweep's, which x86 allows: an instruction is
at most 15 bytes, so its decode depends on nothing past its first 15 bytes.
A stretch keeps the instructions whose every byte capstone could read is
inside it, and the next stretch starts where the last one kept ends.  It
also bounds memory: cs_disasm builds a 248-byte struct per instruction, and
a whole .text in one call had cost 700 MB at once.
"""
from __future__ import annotations

import struct
import threading
from queue import Queue
from typing import Iterator

# struct cs_insn (capstone 5): id u32, address u64 (at 8), size u16 (at 16), ...; 248 bytes
_INSN_STRUCT = struct.Struct("<16xH230x")
_SIZE_FIELD = 16 // 2          # the size field, in u16 units
MAX_INSN = 15                  # the longest x86 instruction
STRETCH = 256 << 10            # bytes per cs_disasm call
_AHEAD = 4                     # stretches decoded ahead of the loop


def can_read_structs(capstone) -> bool:
    try:
        import ctypes
        return (ctypes.sizeof(capstone._cs_insn) == _INSN_STRUCT.size
                and capstone._cs_insn.size.offset == 16 and hasattr(capstone._cs, "cs_free"))
    except Exception:
        return False


class Lengths:
    """Instruction lengths of x86-64 code, as capstone's one sweep finds them."""

    def __init__(self, capstone) -> None:
        self._cs = capstone
        self._structs = can_read_structs(capstone)
        self._md = self._handle()          # this thread's

    def _handle(self):
        # one handle per sweep: a capstone handle is not to be shared by threads
        return self._cs.Cs(self._cs.CS_ARCH_X86, self._cs.CS_MODE_64)

    def sizes(self, buf: bytes, start: int, md=None) -> list[int]:
        """Lengths from byte 0 of `buf` (at address `start`) until capstone stops."""
        md = md or self._md
        if not self._structs:
            try:
                return [size for _a, size, _m, _o in md.disasm_lite(buf, start)]
            except self._cs.CsError as e:
                if e.errno == self._cs.CS_ERR_MEM:
                    raise MemoryError("capstone: out of memory") from None
                raise
        # capstone's disasm_lite builds a mnemonic and an operand string per
        # instruction, which orcgen throws away; reading the length field out of
        # cs_disasm's struct array skips that work.
        import ctypes
        cs = self._cs
        insns = ctypes.POINTER(cs._cs_insn)()
        n = cs._cs.cs_disasm(md.csh, buf, len(buf), start, 0, ctypes.byref(insns))
        if n <= 0:
            if cs._cs.cs_errno(md.csh) == cs.CS_ERR_MEM:   # not "undecodable": no memory
                raise MemoryError("capstone: out of memory")
            return []
        try:
            # the u16 size field of each 248-byte struct, read in place: no copy of
            # the array (a quarter of the time), no tuple per instruction
            words = n * _INSN_STRUCT.size // 2
            array = (ctypes.c_uint16 * words).from_address(ctypes.addressof(insns.contents))
            return memoryview(array).cast("B").cast("H")[_SIZE_FIELD::_INSN_STRUCT.size // 2].tolist()
        finally:
            cs._cs.cs_free(insns, n)

    def stretches(self, code: bytes, start: int, end: int | None = None) -> Iterator[list[int]]:
        """The lengths from `start` until capstone stops (or `end`), a
        stretch at a time; their concatenation is `sizes(code[start:end])`."""
        end = len(code) if end is None else end
        if end - start <= 2 * STRETCH or not self._structs:
            yield self.sizes(code[start:end], start)      # a thread would not pay for itself
            return
        q: Queue = Queue(_AHEAD)
        stop = threading.Event()
        t = threading.Thread(target=self._produce, args=(code, start, end, q, stop),
                             name="orcgen-lengths", daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    return
                yield item
        finally:
            stop.set()
            while t.is_alive():          # unblock a producer waiting on a full queue
                while not q.empty():
                    q.get_nowait()
                t.join(0.01)

    def _produce(self, code: bytes, pos: int, end: int, q: Queue, stop: threading.Event) -> None:
        md = self._handle()
        try:
            while pos < end and not stop.is_set():
                cut = min(pos + STRETCH, end)
                sizes = self.sizes(code[pos:cut], pos, md)
                total = sum(sizes)
                limit = cut - pos - MAX_INSN
                if cut < end and total > limit:
                    # the last instructions may have been cut short (or be
                    # followed by bytes capstone could not read whole): the
                    # next stretch decodes them again from their first byte
                    while total > limit:
                        total -= sizes.pop()
                    pos += total
                    q.put(sizes)
                    continue
                q.put(sizes)
                if pos + total < cut:
                    break                   # capstone stopped on bytes it read whole
                pos = cut
            q.put(None)
        except BaseException as e:          # given to the loop, which raises it
            q.put(e)
