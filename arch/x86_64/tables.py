# SPDX-License-Identifier: GPL-2.0-only
"""The x86-64 decoder's opcode tables: which opcodes objtool's switch looks
at, and the fast loop's per-opcode rows made from them and from writes.py.

The fast loop (decode.py) answers an instruction in line only where these
rows say the general path would give a plain Insn; the rows are computed
here, once per process, from the same sets and the same `hits` the general
path consults, so the two paths cannot disagree.
"""
from __future__ import annotations

from .writes import LEGACY_PREFIXES, ONE_BYTE, TWO_BYTE, VEX_FIRST, write_row

# Opcodes whose meaning needs a closer look; every other opcode is Kind.OTHER
# with no stack effect, decided by one set lookup.
INTERESTING = frozenset(
    [0x01, 0x29, 0x0F, 0x68, 0x6A, 0x88, 0x89, 0x8B, 0x8D, 0x8F, 0x90, 0x9C, 0x9D,
     0xC2, 0xC3, 0xC9, 0xCA, 0xCB, 0xCC, 0xCF, 0xE0, 0xE1, 0xE2, 0xE3, 0xE8, 0xE9,
     0xEB, 0xFC, 0xFD, 0xFF]
    + list(range(0x50, 0x60)) + list(range(0x70, 0x80)) + list(range(0x80, 0x84)))

# Opcodes objtool looks at only in their 64-bit form (REX.W): without it they are
# plain instructions, whatever their operands.
W_ONLY = frozenset([0x01, 0x29, 0x88, 0x89, 0x8B, 0x8D, 0x80, 0x81, 0x82, 0x83])

# Second bytes of 0F-escaped opcodes that _decode_0f gives facts for; the rest are plain.
OF_SPECIAL = frozenset([0x01, 0x05, 0x07, 0x0B, 0x0D, 0x1E, 0x1F, 0x34, 0x35, 0xA0, 0xA1,
                         0xA8, 0xA9, 0xB9] + list(range(0x80, 0x90)))

REX = frozenset(range(0x40, 0x50))


# The fast loop's table values: bit 1 "objtool may give it facts", bit 0 "it
# may write %rsp/%rbp"; 0 is a plain instruction whatever its other bytes say.
_OBJTOOL, _WRITES = 2, 1


def _objtool_row(op: int, rex: int) -> int:
    """What objtool's switch makes of one-byte opcode `op` under `rex` (0:
    none): _OBJTOOL where it may give facts; prefixes and escapes, whose
    instruction is yet to come, are both bits."""
    if op in REX or op in LEGACY_PREFIXES or op in VEX_FIRST or op == 0x0F:
        return _OBJTOOL | _WRITES
    if op in W_ONLY:
        return _OBJTOOL if rex & 8 else 0
    return _OBJTOOL if op in INTERESTING else 0


_TABLES: dict = {}
_BASE = [bytes([base, base | _WRITES]) + bytes(254) for base in range(4)]   # write flag | base


def fast_tables() -> tuple[frozenset, frozenset, list, list, list, list]:
    """The fast loop's tables, indexed by opcode, then the byte after it:
    nonzero where the general path may give more than a plain Insn.  Built
    from the general path's own descriptions (`_objtool_row`, `write_row`),
    once per process: (first bytes that need a look, first bytes whose answer
    depends on the next byte, one-byte map and 0F map without REX, the two
    maps under each REX byte, indexed by it)."""
    if not _TABLES:
        def normal(w):          # the fast loop sees no prefix: mandatory-prefix forms drop out
            if w is not None and w.mand is not None:
                return w._replace(mand=None) if 0 in w.mand else None
            return w
        descs = ([normal(ONE_BYTE.get(op)) for op in range(256)],
                 [normal(TWO_BYTE.get(op)) for op in range(256)])
        ids: dict = {}
        keys = [[(ids.setdefault(w, len(ids)), op if w is not None and w.where >= 5 else -1)
                 for op, w in enumerate(m)] for m in descs]
        computed: dict = {}

        def write_rows(rex: int) -> list[list[bytes]]:
            """Per map, per opcode: the write flags under this REX (R, B, and
            whether there is one are all that matter)."""
            out = []
            for m, ks in zip(descs, keys):
                rows = []
                for op, (w, k) in enumerate(zip(m, ks)):
                    key = (k, rex != 0, rex & 5)
                    if key not in computed:
                        computed[key] = write_row(w, op, rex)
                    rows.append(computed[key])
                out.append(rows)
            return out
        interned: dict[bytes, bytes] = {}     # equal rows shared: a small, cache-friendly table
        by_writes = {v: write_rows(v) for v in (0, 0x40, 0x41, 0x44, 0x45)}

        def build(rex: int) -> tuple[list[bytes], list[bytes]]:
            w1, w2 = by_writes[rex & 0x45 if rex else 0]
            one = [w1[op].translate(_BASE[_objtool_row(op, rex)]) for op in range(256)]
            two = [b"\3" * 256 if op in (0x38, 0x3A) else
                   w2[op].translate(_BASE[_OBJTOOL if op in OF_SPECIAL else 0]) for op in range(256)]
            return [interned.setdefault(r, r) for r in one], [interned.setdefault(r, r) for r in two]
        by_variant = {v: build(v) for v in [0] + [0x40 | r for r in (0, 1, 4, 5, 8, 9, 12, 13)]}
        rows0 = by_variant[0][0]
        special = frozenset(op for op in range(256) if any(rows0[op]))
        rowed = frozenset(op for op in special if not all(rows0[op]))
        _TABLES["t"] = (special, rowed, rows0, by_variant[0][1],
                        [by_variant[0x40 | (r & 0xD)][0] if r >= 0x40 else [] for r in range(0x50)],
                        [by_variant[0x40 | (r & 0xD)][1] if r >= 0x40 else [] for r in range(0x50)])
    return _TABLES["t"]
