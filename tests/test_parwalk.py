# SPDX-License-Identifier: GPL-2.0-only
"""One file's functions walked in several processes (orcgen/parwalk.py) give
the one-process walk exactly: on every committed fixture object, split into
as many pieces as it has functions, the states, visited marks, alternatives'
states, findings and their order are those of `-j 1`; and pieces that share
code, or whose process fails, are walked again here rather than merged."""
import os

import pytest
from elfbuild import ElfBuilder
from walk_outcome import FIXTURES, OBJECTS, OPTIONS, outcome, read

from orcgen import parwalk


class _Sym:
    def __init__(self, n):
        self.len = n


def test_pieces_keep_order_and_balance():
    tasks = [(None, _Sym(n)) for n in (10, 10, 10, 10, 50, 10)]
    cut = parwalk.pieces(tasks, 2)
    assert [t for piece in cut for t in piece] == tasks
    assert len(cut) == 2 and sum(f.len for _c, f in cut[0]) >= 40
    assert parwalk.pieces(tasks[:1], 4) == [tasks[:1]]
    assert parwalk.pieces([], 3) == []


def test_small_programs_stay_in_one_process(monkeypatch):
    monkeypatch.setattr(parwalk, "jobs", 4)
    assert parwalk.processes(parwalk.MIN_INSNS - 1) == 1
    assert parwalk.processes(parwalk.MIN_INSNS) == 4
    assert parwalk.processes(parwalk.MIN_INSNS, linked=True) == 4
    monkeypatch.setattr(parwalk, "jobs", 0)
    monkeypatch.setenv("ORCGEN_JOBS", "0")
    assert parwalk.processes(parwalk.MIN_INSNS, linked=True) == 1     # a library: -j N only


def _outcome(data: bytes, opts, jobs: int, monkeypatch, **patch) -> tuple:
    monkeypatch.setattr(parwalk, "MIN_INSNS", 0 if jobs > 1 else 1 << 60)
    monkeypatch.setattr(parwalk, "jobs", jobs)
    for k, v in patch.items():
        monkeypatch.setattr(parwalk, k, v)
    try:
        return outcome(data, opts)
    finally:
        monkeypatch.undo()


def _merges(log: list):
    """parwalk._merge, noting each answer in `log`."""
    real = parwalk._merge

    def merge(it, got, before):
        ok = real(it, got, before)
        log.append(ok)
        return ok
    return merge


@pytest.mark.parametrize("opts", sorted(OPTIONS))
def test_pieces_merge_to_the_one_process_walk(opts, monkeypatch):
    log: list = []
    for path in OBJECTS:
        data = read(path)
        one = _outcome(data, OPTIONS[opts], 1, monkeypatch)
        many = _outcome(data, OPTIONS[opts], 64, monkeypatch, _merge=_merges(log))
        assert many == one, os.path.relpath(path, FIXTURES)
    if OPTIONS[opts].orc:
        assert len(log) > 200 and all(log)   # the pieces were walked apart and joined
    else:
        assert not log                       # the noinstr sections' walks stay in one process


def _shared_tail() -> bytes:
    """f and g jump to the same code, which no symbol covers: both walks reach it."""
    b = ElfBuilder()
    code = bytes.fromhex("55" "e9 06000000"      # f: push %rbp; jmp L
                         "55" "e9 00000000"      # g: push %rbp; jmp L
                         "5d c3")                # L: pop %rbp; ret
    b.section(".text", code)
    b.func("f", ".text", 0, 6)
    b.func("g", ".text", 6, 6)
    return b.build()


VMLINUX = OPTIONS["objtool-vmlinux"]


def _four_apart() -> bytes:
    """f, g, h and k, each push; pop; ret, with an int3 between them."""
    b = ElfBuilder()
    b.section(".text", bytes.fromhex("555dc3 cc 555dc3 cc 555dc3 cc 555dc3"))
    for k, name in enumerate("fghk"):
        b.func(name, ".text", 4 * k, 3)
    return b.build()


def test_pieces_that_share_code_are_walked_again(monkeypatch):
    data = _shared_tail()
    log: list = []
    one = _outcome(data, VMLINUX, 1, monkeypatch)
    assert _outcome(data, VMLINUX, 2, monkeypatch, _merge=_merges(log)) == one
    assert log == [False]
    assert one[1] == bytes([1] * 6)      # every instruction reached, the shared ones once


def test_a_failed_piece_is_walked_here(monkeypatch):
    data = _shared_tail()

    def broken(*a):
        raise MemoryError
    assert _outcome(data, VMLINUX, 2, monkeypatch, _walked=broken) == _outcome(data, VMLINUX, 1, monkeypatch)


def test_a_piece_that_fails_midway_is_undone(monkeypatch):
    """The child dies after sending part of its states: those are taken back
    (the hints' states stay) and the piece is walked here."""
    real = parwalk._chunk
    calls = []

    def dies_second(*a):
        calls.append(1)
        if len(calls) > 1:
            raise MemoryError
        return real(*a)
    data = _four_apart()
    log: list = []
    one = _outcome(data, VMLINUX, 1, monkeypatch)
    many = _outcome(data, VMLINUX, 2, monkeypatch, _chunk=dies_second, _SPANS_PER_CHUNK=1, _merge=_merges(log))
    assert many == one and log == [False]
    assert one[1] == bytes([1, 1, 1, 0] * 3 + [1, 1, 1])


def test_no_process_to_fork_walks_here(monkeypatch):
    """fork() fails (a process limit): the walk is the one-process walk, and
    the children already started are stopped."""
    data = _four_apart()
    import os as _os
    real, forks = _os.fork, []

    def second_fails():
        if forks:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        forks.append(1)
        return real()
    monkeypatch.setattr(_os, "fork", second_fails)
    many = _outcome(data, VMLINUX, 3, monkeypatch)
    assert forks == [1]
    assert many == _outcome(data, VMLINUX, 1, monkeypatch)
