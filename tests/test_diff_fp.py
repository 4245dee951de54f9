# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen diff` false positives found on real userspace objects, pinned by
hand-written fixtures (tests/fixtures/src/diff_fp/*.S -> tests/fixtures/diff_fp/*.o,
recipe in tests/fixtures/build.sh): each once reported "breaks unwinding"."""
from __future__ import annotations

import os

import pytest

from orcgen.diff import diff_object
from orcgen.elf import ElfFile
from orcgen.options import Options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FP = os.path.join(ROOT, "tests", "fixtures", "diff_fp")
LIBDIR = "/usr/lib/x86_64-linux-gnu"


def _diff(path: str, **kw):
    return diff_object(ElfFile.from_path(path), Options(**kw), "auto")


def test_tail_call_through_pointer_is_not_a_switch():
    """openssl's bss_conn.o conn_state: `jmp *%rax` after an epilogue, in a
    function with a PIC switch.  Walking back from it through the switch's
    conditional range check reached the table load, so the tail call got the
    switch's case targets with the post-epilogue state (CFA=rsp+8)."""
    rep = _diff(os.path.join(FP, "tailcall_fnptr.o"))
    assert not rep.breaking, [(d.first, d.cls) for d in rep.disagreements if d.breaks_unwinding]
    assert rep.tally.compared == rep.tally.instructions        # every case body reached, from the switch
    assert rep.tally.cfa_agreeing == rep.tally.cfa_compared


def test_undefined_return_address_is_the_end_of_stack_marker():
    """glibc's _start declares DW_CFA_undefined rip: no call entered it, and
    an unwinder stops there; nothing about its frame is a disagreement."""
    rep = _diff(os.path.join(FP, "start.o"))
    assert not rep.breaking
    assert not rep.disagreements
    assert {d.kind for d in rep.undetermined} == {"entry-state"}


@pytest.mark.skipif(not os.path.exists(os.path.join(LIBDIR, "crt1.o")), reason="libc6-dev not installed")
def test_glibc_start_files_do_not_break_unwinding():
    for n in ("crt1.o", "Scrt1.o"):
        assert not _diff(os.path.join(LIBDIR, n)).breaking, n
