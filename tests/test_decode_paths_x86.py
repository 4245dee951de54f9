# SPDX-License-Identifier: GPL-2.0-only
"""The x86-64 decoder's fast loop and its general path give the same facts.

The fast loop answers the common encodings in line, from tables made out of
the general path's descriptions; anything it is unsure of goes to the general
path.  Each instruction below goes through both, run directly: the fast loop
on the instruction's bytes alone, the general path (`_classify`) on the same
bytes, and the two Insn records must be equal.  The random instructions are
shaped like real ones (prefixes, REX, escapes, ModRM) so that most of them
decode, seeded so that a failure repeats.
"""
import random

import pytest

from orcgen.arch.x86_64 import BACKEND
from orcgen.insn import Decoded, Dest, Src, StackOp

LEGACY = (0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65)

# Encodings with two REX prefixes, where the fast loop used to read the first
# REX as the one in force and the second as the opcode.
KNOWN = [
    "4f4b7ca6",          # jl, behind two REX prefixes
    "41485a",            # pop %rdx (41 is ignored: only the REX before the opcode counts)
    "4841 5c", "4048 89e5", "4948 8b2424", "484c 8d6c2408", "4149 83ec08",
    "4048 0f8500000000", "4148 e800000000", "4d4c 89e5", "4448 01c4",
    "4841 ff d4", "4841 50", "4948 c9", "48 48 8d 64 24 08",
    "66 48 89 e5", "48 66 89 e5", "f3 48 0f 1e fa", "48 f3 0f 1e fa",
    "65 48 8b 04 25 00 00 00 00", "48 2e 8b 24 24",
]


def _decoder():
    return BACKEND.decoder


def both(code: bytes, in_func=lambda off: True):
    """(fast loop's Insn, general path's Insn) for the first instruction of
    `code`, or None where capstone does not decode it."""
    d = _decoder()
    sizes = d._lengths.sizes(code, 0)
    if not sizes:
        return None
    n = sizes[0]
    one = code[:n]
    out = Decoded()
    d._decode_run(one + b"\0\0", 0, len(one), in_func, out)
    assert len(out) == 1
    return out[0], d._classify(one, 0, n, in_func)


def _random_insn(rnd: random.Random) -> bytes:
    if rnd.random() < 0.2:
        return bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 15)))
    b = []
    for _ in range(rnd.choice((0, 0, 0, 1, 1, 2))):
        b.append(rnd.choice(LEGACY))
    for _ in range(rnd.choice((0, 0, 1, 1, 1, 2))):
        b.append(rnd.randrange(0x40, 0x50))
    r = rnd.random()
    if r < 0.25:
        b.append(0x0F)
        if rnd.random() < 0.1:
            b.append(rnd.choice((0x38, 0x3A)))
    elif r < 0.32:
        b.append(rnd.choice((0xC4, 0xC5, 0x62)))
    b.append(rnd.randrange(256))
    # ModRM biased to %rsp/%rbp in either field, then SIB/displacement/immediate bytes
    modrm = rnd.randrange(256)
    if rnd.random() < 0.5:
        modrm = (modrm & 0xC7) | (rnd.choice((4, 5)) << 3)
    if rnd.random() < 0.5:
        modrm = (modrm & 0xF8) | rnd.choice((4, 5))
    b.append(modrm)
    while len(b) < 15 and rnd.random() < 0.7:
        b.append(rnd.randrange(256))
    return bytes(b[:15])


@pytest.mark.parametrize("hexbytes", KNOWN)
def test_known_cases_agree(hexbytes):
    pair = both(bytes.fromhex(hexbytes.replace(" ", "")))
    assert pair is not None
    assert pair[0] == pair[1]


def test_two_rex_prefixes_keep_the_instruction():
    """The branch and the pop survive the first REX prefix."""
    fast, _ = both(bytes.fromhex("4f4b7ca6"))
    assert fast.kind.name == "JUMP_COND" and fast.immediate == -90
    fast, _ = both(bytes.fromhex("41485a"))
    assert fast.ops == (StackOp(Src.POP, Dest.REG, dest_reg=1),)      # %rdx


def test_random_instructions_agree():
    rnd = random.Random(20260)
    decoded = 0
    mismatches = []
    for i in range(20000):
        code = _random_insn(rnd)
        pair = both(code, (lambda off: True) if i % 2 else (lambda off: False))
        if pair is None:
            continue
        decoded += 1
        if pair[0] != pair[1]:
            mismatches.append((code.hex(), pair))
    assert decoded > 10000                  # the generator makes mostly real instructions
    assert mismatches[:5] == []


def test_every_opcode_after_one_rex_agrees():
    """Exhaustive over REX byte x opcode x a few ModRM bytes (the fast loop's
    one-REX branch), and over no-REX opcode x ModRM."""
    mismatches = []
    tail = bytes(8)
    for op in range(256):
        for modrm in (0x04, 0x24, 0x44, 0x64, 0x65, 0xC4, 0xC5, 0xE4, 0xEC, 0xE5, 0x2C, 0x6C):
            for pre in [b""] + [bytes([r]) for r in range(0x40, 0x50)]:
                for esc in (b"", b"\x0f"):
                    pair = both(pre + esc + bytes([op, modrm]) + tail)
                    if pair is not None and pair[0] != pair[1]:
                        mismatches.append(((pre + esc + bytes([op, modrm])).hex(), pair))
    assert mismatches[:5] == []
