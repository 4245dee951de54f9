# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen diff`: known outcomes, evidence, JSON schema and goldens, determinism,
exit statuses.

tests/fixtures/dwarf/cfi-x86.s has one function per outcome; the compiled
fixtures under tests/fixtures/x86_64 pin what GCC and Clang emit.  The goldens
(cfi-x86.diff.txt/.json) are regenerated with

    python -m orcgen.cli diff tests/fixtures/dwarf/cfi-x86.o > tests/fixtures/dwarf/cfi-x86.diff.txt
    python -m orcgen.cli diff --format json tests/fixtures/dwarf/cfi-x86.o > tests/fixtures/dwarf/cfi-x86.diff.json

from the repository root, after checking by eye that a change is intended.
"""
from __future__ import annotations

import glob
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from orcgen.cli import main
from orcgen.diff import CFA_CLS, COVER_CLS, REG_CLS, UNDET, FileReport, diff_object
from orcgen.elf import ElfFile
from orcgen.options import Options
from orcgen.report import diff_json, diff_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DWARF = os.path.join("tests", "fixtures", "dwarf")
X86 = os.path.join(ROOT, "tests", "fixtures", "x86_64")


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)          # file names in outputs are as given: keep them relative


def report(path: str) -> FileReport:
    return diff_object(ElfFile.from_path(path), Options())


def by_function(rep: FileReport) -> dict:
    out: dict = {}
    for d in rep.disagreements + rep.undetermined:
        out.setdefault(d.function, []).append(d)
    return out


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["diff", "--no-cache", *args])
    return status, out.getvalue(), err.getvalue()


# -- known outcomes --------------------------------------------------------------

CFI = os.path.join(DWARF, "cfi-x86.o")


def test_functions_with_correct_cfi_agree_everywhere():
    rep = report(CFI)
    found = by_function(rep)
    for f in ("good", "remember", "hot", "hot.cold"):
        assert f not in found, found.get(f)
    names = {f.name: f.tally for f in rep.functions}
    assert names["remember"].agreeing == names["remember"].instructions == 8
    assert names["hot.cold"].agreeing == 3            # an FDE that starts mid-frame


def test_undescribed_push_is_a_cfa_disagreement_with_evidence():
    (d,) = [d for d in by_function(report(CFI))["unannotated_push"] if d.cls == CFA_CLS]
    assert (d.first, d.instructions, d.breaks_unwinding) == ("unannotated_push+0x1", 2, True)
    assert (d.declared, d.computed) == ("rsp+8", "rsp+16")
    assert d.declared_by.startswith("CIE initial instructions: DW_CFA_def_cfa: r7 (rsp) ofs 8")
    assert d.cause == "`pushq %rbx` at unannotated_push+0x0"
    assert diff_text.sentence(d) == (
        "declared CFA is rsp+8, but the code leaves rsp at CFA-16 after `pushq %rbx` at "
        "unannotated_push+0x0: an unwinder using this row computes a CFA 8 bytes too low")
    marks = [w.marker for w in d.window]
    assert marks.count("->") == 1 and marks.count("!") == 1
    first = next(w for w in d.window if w.marker == "->")
    assert (first.where, first.declared, first.computed) == (
        "unannotated_push+0x1", "cfa=rsp+8 ra=c-8", "cfa=rsp+16 rbx=c-16 ra=c-8")


def test_cfa_compared_by_value_through_the_frame_pointer():
    """translated: CFA=rsp+16 declared, rbp+16 computed: equal until `sub` moves rsp."""
    rep = report(CFI)
    (d,) = by_function(rep)["translated"]
    assert d.cls == CFA_CLS and d.first == "translated+0x9" and d.instructions == 2
    assert (d.cfa_base, d.cfa_base_at, d.cfa_delta) == ("rsp", -32, -16)
    assert d.computed == "rbp+16 (rsp at cfa-32)"
    assert "after `subq $0x10, %rsp` at translated+0x5" in diff_text.sentence(d)


def test_late_and_stale_callee_saved_rules_are_benign():
    found = {(d.kind, d.register) for d in by_function(report(CFI))["late_stale"]}
    assert found == {("late", "rbx r12"), ("stale", "r12 rbx")}
    for d in by_function(report(CFI))["late_stale"]:
        assert d.cls == REG_CLS and not d.breaks_unwinding


def test_expression_is_not_determined():
    (d,) = by_function(report(CFI))["expr_cfa"]
    assert (d.cls, d.kind, d.instructions) == (UNDET, "expression", 2)
    assert "DW_OP_bra" in d.declared


def test_noreturn_call_recognised_from_the_cfi():
    ds = by_function(report(CFI))["calls_die"]
    nr = [d for d in ds if d.kind == "noreturn-call"]
    assert len(nr) == 1 and nr[0].related == "die at calls_die+0xa" and nr[0].cls == UNDET
    assert not any(d.cls == CFA_CLS for d in ds)
    assert any(d.kind == "no-state:walk-stopped" for d in ds)     # objtool stops at the mismatch


def test_nonstandard_entry_state_is_not_determined():
    (d,) = by_function(report(CFI))["tramp"]
    assert (d.cls, d.kind, d.first, d.declared) == (UNDET, "entry-state", "tramp+0x0", "rsp+24")
    assert not d.breaks_unwinding


def test_code_without_fde_is_a_coverage_gap():
    (d,) = by_function(report(CFI))["no_fde"]
    assert (d.cls, d.kind, d.instructions, d.breaks_unwinding) == (COVER_CLS, "no-fde", 3, True)


def test_debug_frame_overlap_past_end_and_restore_state_evidence():
    rep = report(os.path.join(DWARF, "debug-frame-x86.o"))
    kinds = {(d.function, d.cls, d.kind) for d in rep.disagreements}
    assert ("f3", COVER_CLS, "overlap") in kinds and ("f3", COVER_CLS, "past-end") in kinds
    (cfa,) = [d for d in rep.disagreements if d.cls == CFA_CLS]
    assert cfa.first == "f1+0x2"
    assert cfa.declared_by == ("DW_CFA_restore_state at f1+0x2 (back to DW_CFA_def_cfa_sf: r7 (rsp) ofs 16 "
                               "at f1+0x1) (.debug_frame FDE at 0x30)")
    assert any("cannot parse" in p for p in rep.problems)


def test_arm64_signed_return_address_agrees():
    rep = report(os.path.join(DWARF, "pac-arm64.o"))
    assert rep.tally.agreeing == rep.tally.instructions == 11


def test_arm64_signing_disagreement(tmp_path):
    """Turn the last DW_CFA_AARCH64_negate_ra_state into a nop: the CFI then says
    the return address is still signed at the `ret` after `autiasp`."""
    data = bytearray(open(os.path.join(DWARF, "pac-arm64.o"), "rb").read())
    elf = ElfFile(bytes(data))
    sec = elf.section_by_name(".eh_frame")
    body = data[sec.offset:sec.offset + sec.size]
    k = body.rindex(b"\x41\x2d") + 1                  # advance_loc 1 (x4); negate_ra_state
    data[sec.offset + k] = 0
    rep = diff_object(ElfFile(bytes(data), "pac-mutant.o"), Options())
    (d,) = rep.disagreements
    assert (d.cls, d.kind, d.first, d.declared, d.computed) == (
        "return-address", "signing", "pac+0x28", "signed", "not signed")
    assert d.breaks_unwinding


# -- compiled fixtures -----------------------------------------------------------

def test_clang_cfa_and_ra_agree_on_every_fixture():
    for path in sorted(glob.glob(os.path.join(X86, "*-clang-*.o"))):
        rep = report(path)
        t = rep.tally
        assert t.cfa_agreeing == t.cfa_compared and t.ra_agreeing == t.ra_compared, path
        assert not any(d.breaks_unwinding for d in rep.disagreements), path


def test_gcc_inline_asm_pushes_are_cfa_disagreements():
    rep = report(os.path.join(X86, "inlineasm-gcc-O2-nofp.o"))
    cfa = [d for d in rep.disagreements if d.cls == CFA_CLS]
    assert [(d.first, d.instructions) for d in cfa] == [
        ("asm_pushpop_leaf+0x1", 1), ("asm_pushpop_nonleaf+0xa", 3), ("asm_flags+0x2", 1),
        ("asm_flags+0x9", 1), ("asm_pushpop_loop+0x19", 3)]
    assert all("push" in d.cause for d in cfa)


def test_gcc_cold_parts_agree_on_cfa():
    rep = report(os.path.join(X86, "cold-gcc-O2-fp.o"))
    assert rep.tally.cfa_agreeing == rep.tally.cfa_compared > 150
    assert {d.kind for d in rep.disagreements} == {"late", "stale"}


def test_tally_invariants_on_all_x86_fixtures():
    for path in sorted(glob.glob(os.path.join(X86, "*.o")))[::7]:
        rep = report(path)
        for t in [rep.tally] + [f.tally for f in rep.functions]:
            assert t.compared == t.cfa_compared and t.cfa_agreeing <= t.cfa_compared
            assert t.agreeing <= t.compared <= t.instructions
            nc = sum(n for _, n in t.not_comparable)
            assert t.agreeing + nc <= t.instructions


def test_file_without_cfi_is_said_so():
    rep = report(os.path.join(X86, "basic-clang-O2-nofp.o"))
    assert rep.cfi is None and any("no DWARF CFI" in p for p in rep.problems)


# -- command line, formats, determinism ----------------------------------------------

def test_exit_statuses(tmp_path):
    assert run_cli(os.path.join(DWARF, "ffs-gcc.o"))[0] == 0          # only benign findings
    assert run_cli(CFI)[0] == 1
    bad = tmp_path / "notelf.o"
    bad.write_bytes(b"hello")
    status, out, err = run_cli(str(bad))
    assert status == 2 and err == "orcgen: error: %s: not an ELF file\n" % bad


def test_only_breaking():
    status, out, _ = run_cli("--only-breaking", CFI)
    assert status == 1 and "callee-saved late" not in out and "coverage no-fde" in out


def test_text_golden():
    _, out, _ = run_cli(CFI)
    with open(os.path.join(DWARF, "cfi-x86.diff.txt")) as f:
        assert out == f.read()


def test_json_golden_and_schema():
    _, out, _ = run_cli("--format", "json", CFI)
    with open(os.path.join(DWARF, "cfi-x86.diff.json")) as f:
        assert out == f.read()
    doc = json.loads(out)
    assert doc["schema"] == diff_json.SCHEMA and list(doc) == ["schema", "files", "total"]
    (f,) = doc["files"]
    assert list(f) == ["file", "machine", "cfi", "fdes", "problems", "breaks_unwinding", "summary",
                       "functions", "disagreements", "not_determined"]
    assert set(f["summary"]) == {"instructions", "compared", "agreeing", "disagreeing", "not_comparable",
                                 "cfa", "ra"}
    for d in f["disagreements"] + f["not_determined"]:
        assert {"class", "kind", "first", "start", "end", "sentence", "declared_by", "computed_by",
                "window", "breaks_unwinding"} <= set(d)
        assert d["start"] < d["end"] and d["window"]
    assert f["breaks_unwinding"] is True
    assert doc["total"] == f["summary"]


def test_same_input_same_output():
    a = run_cli("--format", "json", CFI, os.path.join(X86, "cold-gcc-O2-fp.o"))[1]
    b = run_cli("--format", "json", CFI, os.path.join(X86, "cold-gcc-O2-fp.o"))[1]
    c = subprocess.run([sys.executable, "-m", "orcgen.cli", "diff", "--no-cache", "--format", "json", CFI,
                        os.path.join(X86, "cold-gcc-O2-fp.o")], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONHASHSEED": "123"}).stdout
    assert a == b == c


@pytest.mark.parametrize("obj", ["eflags-gcc.o", "eflags-clang.o"])
def test_undescribed_stack_excursion_is_asm(obj):
    """pushf; pop with no CFI (inline asm, or GCC's and Clang's readeflags builtin)
    is told apart from the compiler's own late or early CFA adjustments."""
    from orcgen.diff import ASM_ORIGIN
    rep = diff_object(_elf(os.path.join("tests", "fixtures", "asm", obj)), Options())
    cfa = [d for d in rep.disagreements if d.cls == "cfa"]
    assert {d.function for d in cfa} == {"f1", "f2", "f3"}
    assert all(d.origin == ASM_ORIGIN and d.breaks_unwinding for d in cfa)


def test_compiler_cfa_disagreement_is_not_asm():
    rep = diff_object(_elf(CFI), Options())
    by_func = {d.function: d for d in rep.disagreements if d.cls == "cfa"}
    assert by_func["unannotated_push"].origin == "asm"
    assert by_func["translated"].origin == ""


def _elf(path):
    with open(path, "rb") as f:
        return ElfFile(f.read(), path)


def test_alternative_replacement_outside_functions_is_not_uncovered():
    """arm64 ALTERNATIVE() replacements sit in `.subsection 1` (the end of .text,
    no FDE); they run only when copied over the original, which is covered."""
    rep = diff_object(_elf(os.path.join("tests", "fixtures", "asm", "alt-subsection-arm64.o")), Options())
    assert not rep.disagreements, [(d.first, d.cls, d.kind) for d in rep.disagreements]
    assert rep.tally.instructions == rep.tally.agreeing == 6


def test_shadow_call_stack_reload_restores_the_return_address():
    """arm64 -fsanitize=shadow-call-stack: `ldr x30, [x18, #-8]!` is the caller's
    return address again, as the CFI's DW_CFA_restore x30 says."""
    rep = diff_object(_elf(os.path.join("tests", "fixtures", "asm", "scs-arm64.o")), Options())
    assert not rep.breaking, [(d.first, d.cls, d.kind) for d in rep.disagreements]
    assert rep.tally.ra_agreeing == rep.tally.ra_compared
