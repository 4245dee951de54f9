# SPDX-License-Identifier: GPL-2.0-only
"""x86-64 encodings of clang's KCFI (-fsanitize=kcfi) and patchable entries.

Facts read from clang-19's output (tests/fixtures/kcfi/ holds the objects):

- each function that may be called indirectly has a `__cfi_NAME` symbol:
  `movl $hash, %eax` (b8 imm32), preceded by 0x90 NOPs up to 16 bytes when
  the function has no prefix NOPs, followed by the N prefix NOPs of
  `-fpatchable-function-entry=M,N` otherwise (the kernel's CALL_PADDING:
  11,11, so `__cfi_f` is the movl and 11 NOPs, 16 bytes in all);
- an indirect call checks `movl $-hash, %r10d; addl -D(%reg), %r10d; je 1f;
  ud2; 1:` with D = 4 + the *calling* function's prefix NOP count, and
  `.kcfi_traps` holds a PC32 relocation to each ud2;
- a patchable NOP is one byte (M and N count bytes); clang emits 0x90s before
  the entry and the long NOP forms after it, after an `endbr64` if any.

Only encodings live here; what a mismatch means is orcgen/checks/kcfi.py's.
"""
from __future__ import annotations

import struct

UNIT = 1                     # bytes per patchable NOP
TRAPS_SECTION = ".kcfi_traps"
TAG_PREFIX = "__cfi_"        # the symbol of a function's type-hash preamble
# Code sections whose functions are never called indirectly, so have no hash
# although the kernel stores their address: static-call trampolines
# (`__SCT__*`, the key of static_call_update(), patched, called directly).
UNTYPED_SECTIONS = frozenset((".static_call.text",))

R_X86_64_64, R_X86_64_PC32, R_X86_64_GOT32, R_X86_64_PLT32 = 1, 2, 3, 4
R_X86_64_GOTPCREL, R_X86_64_32, R_X86_64_32S = 9, 10, 11
R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX = 41, 42
_ABSOLUTE = frozenset((R_X86_64_64, R_X86_64_32, R_X86_64_32S))
_PC_DATA = frozenset((R_X86_64_PC32, R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX))

_ENDBR64 = b"\xf3\x0f\x1e\xfa"


def nop_len(code: bytes, off: int) -> int:
    """Length of the NOP instruction at `off` (0x90, `66 90`, the `0f 1f /0`
    forms with 66/2e prefixes), 0 if there is none."""
    n = len(code)
    i = off
    while i < n and code[i] == 0x66 and i - off < 8:
        i += 1
    if i < n and code[i] == 0x90:
        return i + 1 - off
    if i < n and code[i] == 0x2e:
        i += 1
    if i + 2 >= n or code[i] != 0x0F or code[i + 1] != 0x1F:
        return 0
    modrm = code[i + 2]
    if (modrm >> 3) & 7:
        return 0
    mod, rm = modrm >> 6, modrm & 7
    size = 3 + (rm == 4 and mod != 3) + {0: 0, 1: 1, 2: 4, 3: 0}[mod] + (4 if mod == 0 and rm == 5 else 0)
    end = i + size
    return end - off if end <= n else 0


def is_prefix_nop(code: bytes, off: int) -> bool:
    """Whether `off` holds a one-byte NOP (the prefix NOPs are 0x90s)."""
    return 0 <= off < len(code) and code[off] == 0x90


def landing_pad(code: bytes, off: int) -> int:
    """Size of the indirect-branch landing pad (endbr64) at `off`, 0 if none."""
    return 4 if code[off:off + 4] == _ENDBR64 else 0


def parse_tag(code: bytes, start: int, limit: int) -> tuple[int, int] | None:
    """(offset of the imm32, its value) of the `movl $hash, %eax` in the
    `__cfi_` preamble at `start`, after its NOP padding; None if the bytes are
    anything else."""
    i = start
    while i < limit and code[i] == 0x90:
        i += 1
    if i + 5 <= len(code) and code[i] == 0xB8:
        return i + 1, struct.unpack_from("<I", code, i + 1)[0]
    return None


def trap_sites(elf) -> list[tuple[int, int]]:
    """(section index, offset) of each KCFI trap (ud2) that `.kcfi_traps` lists."""
    sec = elf.section_by_name(TRAPS_SECTION)
    if sec is None:
        return []
    out = []
    for r in elf.relocs(sec).relocs:
        if r.type != R_X86_64_PC32 or r.sym >= len(elf.symbols):
            continue
        s = elf.symbols[r.sym]
        if s.section is None:
            continue
        out.append((s.section, s.offset + r.addend))
    return out


def check_at_trap(code: bytes, trap: int) -> tuple[int, int, int] | None:
    """(offset of the check's first instruction, D, expected hash) of the call
    check ending in the ud2 at `trap`, where the caller reads the hash at
    `target - D`; None if the bytes are not clang's sequence."""
    if code[trap:trap + 2] != b"\x0f\x0b" or code[trap - 2:trap] != b"\x74\x02":
        return None
    end = trap - 2
    # addl disp(%base), %r10d: REX(R, maybe B) 03 modrm [sib] disp8/disp32
    for length, disp_size in ((4, 1), (5, 1), (7, 4), (8, 4)):
        a = end - length
        if a < 6:
            continue
        rex, op, modrm = code[a], code[a + 1], code[a + 2]
        if rex & 0xFC != 0x44 or op != 0x03 or (modrm >> 3) & 7 != 2:
            continue
        mod, rm = modrm >> 6, modrm & 7
        if mod != (1 if disp_size == 1 else 2) or (rm == 4) != (length in (5, 8)):
            continue
        disp = struct.unpack_from("<b" if disp_size == 1 else "<i", code, end - disp_size)[0]
        m = a - 6
        if code[m:m + 2] != b"\x41\xba":             # movl $-hash, %r10d
            continue
        neg = struct.unpack_from("<I", code, m + 2)[0]
        return m, -disp, (-neg) & 0xFFFFFFFF
    return None


def call_checks(elf, exec_data) -> list[tuple[int, int, int, int]]:
    """(section, offset of the check, D, hash) of every indirect-call check;
    `exec_data(secno)` gives a section's bytes."""
    out = []
    for secno, trap in trap_sites(elf):
        code = exec_data(secno)
        c = check_at_trap(code, trap) if code else None
        if c is not None:
            out.append((secno, c[0], c[1], c[2]))
    return out


def takes_address(code: bytes, rtype: int, off: int) -> bool:
    """Whether a relocation of `rtype` at `off` in code takes its target's
    address (`lea f(%rip)`, `mov $f`, `movabs $f`), rather than calling or
    jumping to it (PLT32 from call/jmp, PC32 after e8/e9/0f 8x)."""
    if rtype in _ABSOLUTE:
        return True
    if rtype in _PC_DATA:
        # rip-relative operand: modrm (mod=00, rm=101) right before the disp32
        ops = (0x8D,) if rtype == R_X86_64_PC32 else (0x8D, 0x8B)    # lea; mov from the GOT
        return off >= 2 and code[off - 1] & 0xC7 == 0x05 and code[off - 2] in ops
    return False
