# SPDX-License-Identifier: GPL-2.0-only
"""capstone read ahead in stretches (arch/x86_64/lengths.py): the stretches
join to the one sweep's lengths, wherever the cuts fall."""
import glob
import os

import capstone
import pytest
from conftest import FIXTURES

from orcgen.arch.x86_64 import lengths
from orcgen.arch.x86_64.decode import X86Decoder
from orcgen.elf import ElfFile

X86 = os.path.join(FIXTURES, "x86_64")


def code_of_fixtures() -> bytes:
    """All the x86-64 fixtures' .text, one after another: real compiler output
    with every instruction length."""
    out = b""
    for path in sorted(glob.glob(os.path.join(X86, "*.o"))):
        elf = ElfFile(open(path, "rb").read(), path)
        sec = elf.section_by_name(".text")
        if sec is not None and sec.size:
            out += elf.section_data(sec)
    return out


@pytest.fixture
def small_stretches(monkeypatch):
    # small enough that a fixture's code is many stretches, and every cut
    # falls somewhere else in an instruction
    monkeypatch.setattr(lengths, "STRETCH", 97)


def joined(code: bytes, start: int = 0) -> list[int]:
    ln = lengths.Lengths(capstone)
    return [n for part in ln.stretches(code, start) for n in part]


def test_stretches_join_to_the_sweep(small_stretches):
    code = code_of_fixtures()
    assert len(code) > 20 * lengths.STRETCH
    sweep = lengths.Lengths(capstone).sizes(code, 0)
    assert sum(sweep) > len(code) // 2           # the sweep goes far: a real comparison
    for start in (0, 1, 5, 96):
        want = lengths.Lengths(capstone).sizes(code[start:], start)
        assert joined(code, start) == want, start


@pytest.mark.parametrize("at", [0, 50, 82, 83, 90, 96, 97, 98, 200])
def test_a_stop_anywhere_is_where_the_sweep_stops(small_stretches, at):
    """Bytes capstone cannot decode (06: push %es, invalid in 64-bit mode)
    end the lengths exactly where the sweep ends, whether or not they sit
    within 15 bytes of a cut."""
    nops = b"\x0f\x1f\x44\x00\x00" * 200               # 5-byte nopl: cuts fall inside them
    code = nops[:at - at % 5] + b"\x06" + nops
    want = lengths.Lengths(capstone).sizes(code, 0)
    assert sum(want) == at - at % 5
    assert joined(code) == want


def test_decoder_uses_them(small_stretches):
    """The decoder's result does not depend on where the stretches are cut."""
    code = code_of_fixtures()
    a, fa = X86Decoder().decode_section(code, lambda off: True)
    lengths.STRETCH = 1 << 30                      # one call to capstone
    b, fb = X86Decoder().decode_section(code, lambda off: True)
    assert fa == fb
    assert (list(a.size), bytes(a.kind), a.imm, a.ops) == (list(b.size), bytes(b.kind), b.imm, b.ops)
