# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen objtool` with what an IBT kernel build passes: --ibt, --unret,
--noinstr (also alone), --sls, --link, --module, and --mcount/--mnop.

Fixtures (tests/fixtures/ibt, made by its build.sh): gcc objects compiled as an
IBT kernel build compiles them (-fcf-protection=branch, return thunks,
padding) and an asm file with every IBT and unret case (relocations to code
with and without ENDBR, ANNOTATE_NOENDBR, a code range's end, an IRET_REGS
hint, VALIDATE_UNRET_BEGIN/END paths, .discard.ibt_endbr_noseal) and one with
pv_ops[] slots called from noinstr code, with objtool
6.12's result for each run as the reference.  The object comparison is
bench/objtool_tables_parity.py's (its own ELF reader); the warnings must be
objtool's, line for line.  Facts the tables encode are checked without
objtool too, so that a wrong reference would show.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess

import pytest

from orcgen.commands.objtool import objtool
from orcgen.elf import ElfFile

from test_objtool_tables import OBJTOOL, parity, relocs

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures", "ibt")
TABLES = ("--hacks=jump_label --hacks=noinstr --hacks=skylake --ibt --orc --retpoline --rethunk "
          "--static-call --uaccess --prefix=16").split()
RUNS = {"vmlinux": TABLES + ["--noinstr", "--unret", "--link"],
        "module": TABLES + ["--link", "--module"],
        "sls": TABLES + ["--sls", "--noinstr", "--unret", "--link"],
        "noinstr": ["--noinstr", "--unret", "--link"],
        "mcount": ["--mcount", "--mnop", "--orc", "--ibt", "--link"]}
CASES = [(n, r) for n in ("ibt", "ibtc") for r in ("vmlinux", "module", "sls", "noinstr")] + \
    [("ibtc-pg", "mcount"), ("pvops", "vmlinux"), ("pvops", "noinstr"),
                      ("unretfatal", "vmlinux"), ("unretfatal", "noinstr")]
R_PC32, R_64 = 2, 1
ENDBR64 = b"\xf3\x0f\x1e\xfa"


def run(tmp_path, name: str, args: list[str]) -> tuple[int, str, str]:
    """orcgen objtool on a copy of NAME.o called x.o (as the references were made)."""
    path = str(tmp_path / "x.o")
    shutil.copyfile(os.path.join(FIX, name + ".o"), path)
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        rc = objtool(args + ["x.o"], io.StringIO(), err)
    finally:
        os.chdir(cwd)
    return rc, err.getvalue(), path


@pytest.mark.parametrize("name,run_", CASES, ids=["%s-%s" % c for c in CASES])
def test_same_object_and_warnings_as_objtool(tmp_path, name, run_):
    rc, err, path = run(tmp_path, name, RUNS[run_])
    ref = os.path.join(FIX, "%s.%s.objtool" % (name, run_))
    assert rc == 0
    assert err == open(ref + ".stderr").read().replace(": warning: objtool: ", ": warning: orcgen: ")
    assert parity.compare(open(path, "rb").read(), open(ref + ".o", "rb").read()) == []


def test_the_references_differ_from_the_input():
    kinds = {k for k, _ in parity.compare(open(os.path.join(FIX, "ibt.o"), "rb").read(),
                                          open(os.path.join(FIX, "ibt.vmlinux.objtool.o"), "rb").read())}
    assert {"missing .ibt_endbr_seal", "missing .rela.ibt_endbr_seal", "missing .orc_unwind"} <= kinds


def _sealed(path: str) -> list[str]:
    """The functions whose ENDBR .ibt_endbr_seal lists (objtool's order)."""
    elf = ElfFile.from_path(path)
    out = []
    for _o, t, sec, a in relocs(elf, ".rela.ibt_endbr_seal"):
        assert t == R_PC32
        s = elf.section_by_name(sec)
        assert elf.section_data(s)[a:a + 4] == ENDBR64
        out.append(next(f.name for f in elf.symbols if f.section == s.index and f.offset == a
                        and f.type == 2))
    return out


def test_seal_lists_the_endbr_nothing_takes_the_address_of(tmp_path):
    rc, err, path = run(tmp_path, "ibt", RUNS["vmlinux"])
    # Kept: with_endbr (lea and .data), takes_addresses (itself), sealed_noseal
    # (.discard.ibt_endbr_noseal); no ENDBR at no_endbr/annotated/filler/asm_entry.
    # Called directly only: sealed, .text first, then .init.text.
    assert _sealed(path) == ["sealed", "also_takes", "untrain", "tail_past_endbr", "no_int3",
                             "init_helper", "init_bare_ret"]


def test_ibt_warnings(tmp_path):
    _rc, err, _path = run(tmp_path, "ibt", RUNS["vmlinux"])
    lines = err.splitlines()
    assert "x.o: warning: orcgen: takes_addresses+0xb: relocation to !ENDBR: no_endbr+0x0" in lines
    assert "x.o: warning: orcgen: .data+0x8: data relocation to !ENDBR: no_endbr+0x0" in lines
    assert "x.o: warning: orcgen: asm_entry+0x0: UNWIND_HINT_IRET_REGS without ENDBR" in lines
    assert not any("annotated" in ln or "with_endbr" in ln for ln in lines)   # NOENDBR, ENDBR
    assert not any("no_endbr+0x1" in ln for ln in lines)      # .data's no_endbr+1: not code start


def test_unret_warnings(tmp_path):
    _rc, err, _path = run(tmp_path, "ibt", RUNS["noinstr"])
    assert err.splitlines() == ["x.o: warning: orcgen: entry_bad+0x1: RET before UNTRAIN",
                                "x.o: warning: orcgen: init_helper+0x4: early indirect call"]


def test_unret_into_a_missing_function_gives_up(tmp_path):
    """objtool's `return -1` path: after it no table is written (no ORC, no seal)."""
    _rc, err, path = run(tmp_path, "unretfatal", RUNS["vmlinux"])
    assert err.splitlines() == ["x.o: warning: orcgen: Unresolved function after linking!?: somewhere_else",
                                "x.o: warning: orcgen: entry_ext+0x0: Failed UNRET validation"]
    names = {s.name for s in ElfFile.from_path(path).sections}
    assert not names & {".orc_unwind", ".ibt_endbr_seal", ".return_sites"}


def test_noinstr_alone_walks_noinstr_sections_only_and_writes_nothing(tmp_path):
    rc, err, path = run(tmp_path, "ibtc", RUNS["noinstr"])
    assert err == "x.o: warning: orcgen: entry_work+0x8: call to instrumented() leaves .noinstr.text section\n"
    assert open(path, "rb").read() == open(os.path.join(FIX, "ibtc.o"), "rb").read()


def test_module_init_and_cleanup_are_not_indirect_call_targets(tmp_path):
    _rc, err, path = run(tmp_path, "ibtc", RUNS["module"])
    assert err.splitlines() == ["x.o: warning: orcgen: init_module(): not an indirect call target",
                                "x.o: warning: orcgen: cleanup_module(): not an indirect call target"]
    assert "used_ptr" not in _sealed(path) and "init_module" in _sealed(path)


def test_pv_ops_slots(tmp_path):
    """Slot 0 holds a noinstr function only (clean); slot 1 an instrumented one,
    warned at each call; slot 2 gets one from an .init.text store; the call
    names no slot ({dynamic}, as objtool's)."""
    _rc, err, _path = run(tmp_path, "pvops", RUNS["noinstr"])
    assert err.splitlines() == [
        "x.o: warning: orcgen: pv_ops[1]: instr_b",
        "x.o: warning: orcgen: noinstr_fn2+0x4: call to {dynamic}() leaves .noinstr.text section",
        "x.o: warning: orcgen: pv_ops[2]: instr_c",
        "x.o: warning: orcgen: noinstr_fn3+0x4: call to {dynamic}() leaves .noinstr.text section",
        "x.o: warning: orcgen: pv_ops[1]: instr_b",
        "x.o: warning: orcgen: noinstr_fn4+0x4: call to {dynamic}() leaves .noinstr.text section",
        "x.o: warning: orcgen: entry_hinted+0x4: call to instr_b() leaves .noinstr.text section"]


def test_hint_pass_over_all_sections_is_no_noinstr_walk(tmp_path):
    """With --orc, code reached from an unwind hint is walked in the pass over
    every section, without noinstr state (objtool's init_insn_state(.., NULL))."""
    _rc, err, _path = run(tmp_path, "pvops", RUNS["vmlinux"])
    assert "entry_hinted" not in err and "pv_ops[1]: instr_b" in err


def test_mcount_loc_and_mnop(tmp_path):
    _rc, _err, path = run(tmp_path, "ibtc-pg", RUNS["mcount"])
    elf = ElfFile.from_path(path)
    sec = elf.section_by_name("__mcount_loc")
    sites = relocs(elf, ".rela__mcount_loc")
    assert (sec.entsize, sec.size) == (8, 8 * len(sites)) and len(sites) >= 6
    assert parity.Obj(open(path, "rb").read()).sh[sec.index][8] == 8         # sh_addralign
    before = ElfFile.from_path(os.path.join(FIX, "ibtc-pg.o"))
    for _o, t, s, a in sites:
        assert t == R_64
        code = elf.section_data(elf.section_by_name(s))
        old = before.section_data(before.section_by_name(s))
        assert old[a] == 0xE8 and code[a:a + 5] == b"\x0f\x1f\x44\x00\x00"      # call -> nopl


@pytest.mark.skipif(not os.access(OBJTOOL, os.X_OK), reason="objtool 6.12 not installed")
@pytest.mark.parametrize("args", [RUNS["vmlinux"], RUNS["sls"] + ["--module"]])
def test_live_against_objtool(tmp_path, args):
    """The same on the spot with the installed objtool (bench's live mode)."""
    bench = os.path.join(HERE, "..", "bench", "objtool_tables_parity.py")
    r = subprocess.run(["python3", bench, "--objtool", OBJTOOL, "--args", " ".join(args),
                        os.path.join(FIX, "ibt.o"), os.path.join(FIX, "ibtc.o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2/2 objects identical" in r.stdout
