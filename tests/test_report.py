# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen report`: the bug report's sections and numbers on committed objects
(tests/fixtures/dwarf/cfi-x86.o, assembled with known disagreements;
tests/fixtures/report/push-sched-clang.o, Clang's real push/CFA defect, with
the producer recorded), and the compiler identification on fresh objects."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from orcgen.cli import main
from orcgen.elf import ElfFile
from orcgen.toolchain import identify

HERE = os.path.dirname(os.path.abspath(__file__))
CFI = os.path.join(HERE, "fixtures", "dwarf", "cfi-x86.o")
CFI_JSON = os.path.join(HERE, "fixtures", "dwarf", "cfi-x86.diff.json")
CLANG_O = os.path.join(HERE, "fixtures", "report", "push-sched-clang.o")
SECTIONS = ("## Summary", "## Compiler, target and flags", "## What is wrong",
            "## What an unwinder computes there", "## Disassembly with the declared CFI rows and the computed state",
            "## Reproducer")


def report(capsys, *argv) -> tuple[int, str, str]:
    status = main(["report", "--no-cache", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def sections(text: str) -> dict[str, str]:
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            cur = line
            out[cur] = ""
        elif cur:
            out[cur] += line + "\n"
    return out


def test_every_section_and_its_numbers(capsys):
    status, out, _ = report(capsys, CFI, "--at", "unannotated_push+0x1")
    assert status == 0
    assert out.startswith("# [unknown compiler, x86-64] wrong CFA in unannotated_push at unannotated_push+0x1 "
                          "(breaks unwinding)\n")
    s = sections(out)
    assert list(s) == list(SECTIONS)
    assert "unannotated_push+0x1 (2 instructions, .text+0x15..0x18)" in s["## Summary"]
    assert "declared CFA is rsp+8, but the code leaves rsp at CFA-16" in s["## Summary"]
    assert "- Target: x86-64" in s["## Compiler, target and flags"]
    assert "- Flags: unknown" in s["## Compiler, target and flags"]       # assembled: nothing recorded
    assert "- Finding: cfa, breaks unwinding" in s["## What is wrong"]
    assert "offsets 0x15..0x18" in s["## What is wrong"]
    u = s["## What an unwinder computes there"]
    assert "At PC unannotated_push+0x1 the table says CFA=rsp+8, but rsp is at CFA-16 there (the CFA is rsp+16)" in u
    assert "8 bytes too low" in u
    assert "reads the return address from [rsp] (its CFA-8), which is the real CFA-16 and holds the saved rbx" in u
    w = s["## Disassembly with the declared CFI rows and the computed state"]
    assert "-> unannotated_push+0x1  movl %edi, %ebx  cfa=rsp+8 ra=c-8  cfa=rsp+16 rbx=c-16 ra=c-8" in w
    assert "!  unannotated_push+0x3  popq %rbx" in w
    assert "orcgen diff %s" % CFI in s["## Reproducer"]
    # a push no CFI row describes at all is what inline asm does: said before anyone files it
    assert "**Probably not a compiler bug:**" in s["## Summary"]


def test_default_prefers_the_compilers_own_code(capsys):
    # unannotated_push (an undescribed push, as inline asm makes) comes first in the
    # file, no_fde (code without an FDE, mostly assembly) last: translated is chosen
    _, out, _ = report(capsys, CFI)
    assert out.startswith("# [unknown compiler, x86-64] wrong CFA in translated at translated+0x9 ")
    assert "Probably not a compiler bug" not in out


def test_at_selects_the_range_covering_the_offset(capsys):
    status, out, _ = report(capsys, CFI, "--at", "translated+0xa")
    assert status == 0
    u = sections(out)["## What an unwinder computes there"]
    assert "At PC translated+0x9 the table says CFA=rsp+16, but rsp is at CFA-32 there" in u
    assert "16 bytes too low" in u
    assert "[rsp+8] (its CFA-8), which is the real CFA-24 and is a local or spill slot of translated" in u


def test_from_json_index_and_function(capsys):
    _, by_json, _ = report(capsys, CFI, "--from-json", CFI_JSON, "--index", "4")
    _, by_at, _ = report(capsys, CFI, "--at", "translated+0x9")
    assert by_json == by_at
    status, out, _ = report(capsys, CFI, "--function", "no_fde")
    assert status == 0
    assert "code without an FDE in no_fde at no_fde+0x0" in out.splitlines()[0]
    assert "No FDE covers PC no_fde+0x0" in out
    # a non-breaking one is still reported when asked for
    _, out, _ = report(capsys, CFI, "--from-json", CFI_JSON, "--index", "3")
    assert "callee-saved stale r12 rbx, does not break unwinding" in out


def test_no_such_disagreement(capsys):
    status, out, err = report(capsys, CFI, "--at", "unannotated_push+0x4")
    assert status == 1 and out == ""
    assert "no such disagreement" in err
    status, _, err = report(capsys, CFI, "--from-json", CFI_JSON, "--index", "99")
    assert status == 1


def test_clang_fixture_names_compiler_flags_and_tracker(capsys, tmp_path):
    dest = tmp_path / "r.md"
    status, out, _ = report(capsys, CLANG_O, "-o", str(dest))
    assert status == 0 and out == ""
    text = dest.read_text()
    assert text.startswith("# [Debian clang version 19.1.7 (3~deb12u1), x86-64] wrong CFA in show at show+0x125")
    assert "https://github.com/llvm/llvm-project/issues (labels: debuginfo, backend:X86)" in text
    s = sections(text)
    c = s["## Compiler, target and flags"]
    assert "- Compiler: Debian clang version 19.1.7 (3~deb12u1)\n" in c
    assert "-O2 -fasynchronous-unwind-tables -g -grecord-command-line" in c.split("- Flags:")[1]
    u = s["## What an unwinder computes there"]
    assert "the table says CFA=rsp+104, but rsp is at CFA-112 there" in u
    assert "[rsp+96] (its CFA-8), which is the real CFA-16 and holds the saved rbp" in u
    assert "after `pushq %r15` at show+0x123" in s["## Summary"]


def test_cc_is_shown_as_flags_when_nothing_is_recorded(capsys):
    _, out, _ = report(capsys, CFI, "--cc", "gcc -O2")
    assert "- Flags: `gcc -O2 (as given with --cc)`" in out


@pytest.mark.parametrize("cc,dwarf", [("gcc", "-gdwarf-4"), ("gcc", "-gdwarf-5"), ("clang-19", "-gdwarf-5"),
                                      ("clang-19", "-gdwarf-4")])
def test_producer_is_read_from_debug_info(tmp_path, cc, dwarf):
    if shutil.which(cc) is None:
        pytest.skip("%s not installed" % cc)
    src = tmp_path / "t.c"
    src.write_text("int f(int x) { return x + 1; }\n")
    extra = ["-grecord-command-line"] if cc.startswith("clang") else []
    subprocess.run([cc, "-O2", dwarf, *extra, "-c", str(src), "-o", str(tmp_path / "t.o")], check=True)
    tc = identify(ElfFile.from_path(str(tmp_path / "t.o")))
    assert tc.producer is not None
    assert "-O2" in tc.flags and dwarf in tc.flags
    assert tc.family == ("clang" if cc.startswith("clang") else "gcc")
    # without -g: the compiler from .comment, flags unknown
    subprocess.run([cc, "-O2", "-c", str(src), "-o", str(tmp_path / "n.o")], check=True)
    tc = identify(ElfFile.from_path(str(tmp_path / "n.o")))
    assert tc.producer is None and tc.flags is None and tc.comment


GCC_DRAP = os.path.join(HERE, "fixtures", "report", "gcc-drap-r13.o")
GCC_FENTRY = os.path.join(HERE, "fixtures", "report", "gcc-fentry-nested.o")


def test_gcc_early_restore_of_the_drap_register(capsys):
    status, out, _ = report(capsys, GCC_DRAP, "--function", "inner.0")
    assert status == 0
    assert out.startswith("# [GNU C17 12.2.0, x86-64] wrong callee-saved register rule in inner.0 at inner.0+0x44\n")
    assert "GCC Bugzilla, https://gcc.gnu.org/bugzilla/" in out
    s = sections(out)
    assert "-mno-red-zone -mtune=generic -march=x86-64 -g -O2 -fasynchronous-unwind-tables" in \
        s["## Compiler, target and flags"].split("- Flags:")[1]
    assert "- Finding: callee-saved restored-early r13, does not break unwinding" in s["## What is wrong"]
    assert "DW_CFA_restore: r13 (r13) at inner.0+0x44" in s["## What is wrong"]
    assert "the caller's r13 is back in r13 (DW_CFA_restore or no rule), but the code has not restored it yet: " \
        "it is still saved at cfa-16" in s["## What an unwinder computes there"]
    w = s["## Disassembly with the declared CFI rows and the computed state"]
    assert "-> inner.0+0x44  popq %rbp" in w and "!  inner.0+0x49  popq %r13" in w


def test_gcc_fentry_push_without_cfi_is_flagged_as_asm_like(capsys):
    status, out, _ = report(capsys, GCC_FENTRY)
    assert status == 0
    assert "wrong CFA in inner.0 at inner.0+0x2 (breaks unwinding)" in out.splitlines()[0]
    s = sections(out)
    assert "**Probably not a compiler bug:**" in s["## Summary"]      # no CFI row at all: the asm-like shape
    assert "after `pushq %r10` at inner.0+0x0" in s["## Summary"]
    assert "reads the return address from [rsp] (its CFA-8), which is the real CFA-16 and holds what " \
        "`pushq %r10` at inner.0+0x0 pushed, not a return address" in s["## What an unwinder computes there"]
