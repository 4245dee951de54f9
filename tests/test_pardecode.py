# SPDX-License-Identifier: GPL-2.0-only
"""`-j N` inside one file: the parallel decode is the one-sweep decode exactly."""
import glob
import os

import pytest
from conftest import FIXTURES

from orcgen import pardecode
from orcgen.arch.x86_64 import BACKEND
from orcgen.cli import main
from orcgen.elf import STT_FUNC, ElfFile
from orcgen.symbols import SymbolTable

X86 = os.path.join(FIXTURES, "x86_64")


def columns(d):
    return (list(d.off), list(d.size), bytes(d.kind),
            list(d.imm), list(d.ops))


def text_of(path):
    elf = ElfFile(open(path, "rb").read(), path)
    st = SymbolTable(elf)
    st.classify(BACKEND)
    sec = elf.section_by_name(".text")
    funcs = st.section(sec.index)
    starts = sorted({s.offset for s in funcs.ordered if s.type == STT_FUNC and 0 < s.offset < sec.size})
    return elf.section_data(sec), starts


@pytest.mark.parametrize("n", [2, 3, 4])
def test_pieces_join_to_the_sweep(n):
    checked = 0
    for path in sorted(glob.glob(os.path.join(X86, "*-O2-*.o")))[:40]:
        data, starts = text_of(path)
        if len(pardecode.cuts(len(data), starts, n)) < n:
            continue                  # too few functions to cut this often
        one, f1 = BACKEND.decode_section(data, lambda off: True)
        par, f2 = pardecode.decode(BACKEND, data, starts, lambda off: True, n)
        assert (columns(par), f2) == (columns(one), f1), path
        checked += 1
    assert checked >= 5


def test_a_cut_inside_an_instruction_falls_back_to_one_sweep():
    # movabs $imm64, %rax (10 bytes) with a "function" claimed to start at byte 2
    data = bytes.fromhex("48b8" "1122334455667788" "c3") + bytes.fromhex("55" "4889e5" "5d" "c3")
    one, _ = BACKEND.decode_section(data, lambda off: True)
    par, failure = pardecode.decode(BACKEND, data, [2, 11], lambda off: True, 2)
    assert failure is None and columns(par) == columns(one)
    assert list(par.off) == [0, 10, 11, 12, 15, 16]


def test_undecodable_bytes_are_reported_as_by_the_sweep():
    data = bytes.fromhex("55" "c3") + bytes.fromhex("55" "06")      # 06: not in 64-bit mode
    par, failure = pardecode.decode(BACKEND, data, [2], lambda off: True, 2)
    assert failure is not None and failure.offset == 3 and len(par) == 3


@pytest.mark.parametrize("command, name", [(["orc"], "switch-gcc-O2-fp.o"),
                                           (["check", "--stackval"], "noreturn-gcc-O2-nofp.o")])
def test_j_n_prints_what_j_1_prints(command, name, monkeypatch, capsys):
    path = os.path.join(X86, name)
    runs = {}
    real = pardecode._decode_pieces
    for j in ("1", "3"):
        monkeypatch.setattr(pardecode, "MIN_BYTES", 0 if j != "1" else 1 << 40)
        calls = []
        monkeypatch.setattr(pardecode, "_decode_pieces", lambda pieces: calls.append(pieces) or real(pieces))
        status = main(command + ["--no-cache", "-j", j, path])
        runs[j] = (status, capsys.readouterr())
        assert bool(calls) == (j != "1")          # -j 3 did go through the processes
    assert runs["1"] == runs["3"] and runs["1"][1].out, runs["3"][1].err
