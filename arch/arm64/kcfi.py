# SPDX-License-Identifier: GPL-2.0-only
"""arm64 encodings of clang's KCFI (-fsanitize=kcfi) and patchable entries.

Facts read from clang-19's output (tests/fixtures/kcfi/ holds the objects):

- the type hash is a `.word` (a `$d` mapping symbol, then `$x` 4 bytes on)
  right before the function's N prefix NOPs of `-fpatchable-function-entry=M,N`,
  or right before the entry when N is 0; there is no symbol naming it;
- an indirect call checks `ldur w16, [xN, #-D]; mov(k) w17...; cmp w16, w17;
  b.eq 1f; brk #0x8xxx; 1:` with D = 4 + 4 * the calling function's prefix
  NOP count; the brk immediate (0x8000 + registers) is the trap, there is no
  `.kcfi_traps` section;
- a patchable NOP is one 4-byte `nop`; `bti c` (and `bti jc`) is the landing
  pad, before the NOPs after the entry.

Only encodings live here; what a mismatch means is orcgen/checks/kcfi.py's.
"""
from __future__ import annotations

import struct

UNIT = 4                     # bytes per patchable NOP
TRAPS_SECTION = ""
TAG_PREFIX = ""
UNTYPED_SECTIONS: frozenset = frozenset()

NOP = 0xD503201F
_BTI = frozenset((0xD503241F, 0xD503245F, 0xD503249F, 0xD50324DF))   # bti, bti c/j/jc
R_AARCH64_ABS64, R_AARCH64_ABS32 = 257, 258
R_AARCH64_ADR_PREL_LO21, R_AARCH64_ADR_PREL_PG_HI21, R_AARCH64_ADR_PREL_PG_HI21_NC = 274, 275, 276
R_AARCH64_ADD_ABS_LO12_NC = 277
R_AARCH64_ADR_GOT_PAGE, R_AARCH64_LD64_GOT_LO12_NC = 311, 312
_ADDRESS = frozenset((R_AARCH64_ABS64, R_AARCH64_ADR_PREL_LO21, R_AARCH64_ADR_PREL_PG_HI21,
                      R_AARCH64_ADR_PREL_PG_HI21_NC, R_AARCH64_ADR_GOT_PAGE))
_WORD = struct.Struct("<I")


def _word(code: bytes, off: int) -> int:
    return _WORD.unpack_from(code, off)[0] if 0 <= off <= len(code) - 4 else -1


def nop_len(code: bytes, off: int) -> int:
    return 4 if _word(code, off) == NOP else 0


def is_prefix_nop(code: bytes, off: int) -> bool:
    return off & 3 == 0 and _word(code, off) == NOP


def landing_pad(code: bytes, off: int) -> int:
    return 4 if _word(code, off) in _BTI else 0


def tag_words(symbols: list) -> list[int]:
    """Offsets of the candidate hash words of one section: a `$d` mapping symbol
    followed by `$x` 4 bytes later (`symbols`: that section's, any order)."""
    maps = sorted((s.offset, s.name[1]) for s in symbols
                  if s.name[:2] in ("$d", "$x") and (len(s.name) == 2 or s.name[2] == "."))
    out = []
    for (off, k), (noff, nk) in zip(maps, maps[1:]):
        if k == "d" and nk == "x" and noff == off + 4:
            out.append(off)
    return out


def parse_tag(code: bytes, start: int, limit: int) -> tuple[int, int] | None:
    """(offset, value) of the hash word at `start`."""
    w = _word(code, start)
    return None if w < 0 else (start, w)


def _is_trap(w: int) -> bool:
    # brk #imm16 with imm16 in 0x8000..0x8fff (the kernel's CFI_BRK_IMM_BASE)
    return w & 0xFFE0001F == 0xD4200000 and (w >> 5) & 0xF000 == 0x8000


def check_before(code: bytes, trap: int) -> tuple[int, int] | None:
    """(offset of the `ldur w16`, D) of the call check whose brk is at `trap`."""
    for back in range(1, 9):
        a = trap - 4 * back
        w = _word(code, a)
        if w < 0:
            return None
        if w & 0xFFE00C1F == 0xB8400010:           # ldur w16, [xN, #simm9]
            imm = (w >> 12) & 0x1FF
            if imm & 0x100:
                imm -= 0x200
            return a, -imm
    return None


def call_checks(elf, exec_data) -> list[tuple[int, int, int, int]]:
    """(section, offset of the check, D, hash) of every indirect-call check
    (hash -1: it is built by movk pairs, not read here)."""
    out = []
    for sec in elf.sections:
        if not sec.is_exec or sec.size < 8:
            continue
        code = exec_data(sec.index)
        if not code:
            continue
        n = len(code) // 4
        for i, (w,) in enumerate(struct.iter_unpack("<I", code[:n * 4])):
            if w & 0xFFE0001F == 0xD4200000 and _is_trap(w):
                c = check_before(code, 4 * i)
                if c is not None:
                    out.append((sec.index, c[0], c[1], -1))
    return out


def takes_address(code: bytes, rtype: int, off: int) -> bool:
    """Whether a relocation of `rtype` in code takes its target's address
    (adrp/adr/literal), rather than branching to it (CALL26, JUMP26)."""
    return rtype in _ADDRESS
