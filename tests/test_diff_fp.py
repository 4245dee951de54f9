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


def test_restores_through_a_register_pointing_into_the_frame():
    """rsaz-x86_64.o: `lea 0x30(%rsp),%rax; mov -0x10(%rax),%rbp` restores rbp;
    the diff follows it (Options.precise), objtool's model does not."""
    rep = _diff(os.path.join(FP, "frame_loads.o"))
    assert not rep.disagreements, [(d.first, d.cls, d.kind) for d in rep.disagreements]
    assert rep.tally.compared == rep.tally.agreeing == rep.tally.instructions


def test_frame_loads_leave_orc_as_objtool_has_it():
    """The same load changes nothing in objtool's model: ORC keeps rbp saved."""
    from orcgen.pipeline import analyze_elf
    path = os.path.join(FP, "frame_loads.o")
    plain = analyze_elf(ElfFile.from_path(path), Options(orc=True), cache=None).orc
    loads = analyze_elf(ElfFile.from_path(path), Options(orc=True, precise=True), cache=None).orc
    assert plain != loads          # the option is what makes the difference
    assert [r.entry for r in plain][-1] != [r.entry for r in loads][-1] or len(plain) != len(loads)


@pytest.mark.skipif(not os.path.exists(os.path.join(LIBDIR, "libcrypto.a")), reason="libssl-dev not installed")
def test_openssl_rsaz_and_bss_conn_do_not_break_unwinding(tmp_path):
    import subprocess
    names = subprocess.run(["ar", "t", os.path.join(LIBDIR, "libcrypto.a")], capture_output=True,
                           text=True, check=True).stdout.split()
    want = [n for n in names if n.endswith(("rsaz-x86_64.o", "bss_conn.o"))]
    assert len(want) == 2, want
    subprocess.run(["ar", "x", os.path.join(LIBDIR, "libcrypto.a")] + want, cwd=tmp_path, check=True)
    for n in want:
        rep = _diff(str(tmp_path / n))
        assert not rep.breaking, (n, [(d.first, d.cls, d.kind) for d in rep.disagreements if d.breaks_unwinding])


@pytest.mark.parametrize("name", ["eh_return", "eh_return_fp"])
def test_eh_return_epilogue_is_not_a_disagreement(name):
    """__builtin_eh_return: SP moved by a register amount before the return
    (unknown to the model, so not determined) and `movq (%rbp),%rbp`, which
    reloads rbp from its own slot (a restore)."""
    rep = _diff(os.path.join(FP, name + ".o"))
    assert not rep.disagreements, [(d.first, d.cls, d.kind) for d in rep.disagreements]
    assert rep.undetermined and rep.tally.cfa_agreeing == rep.tally.cfa_compared
