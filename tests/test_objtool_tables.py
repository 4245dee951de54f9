# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen objtool` writes the tables and rewrites objtool 6.12 makes.

Fixtures (tests/fixtures/tables, made by its build.sh): kernel-like objects
from gcc (and one from clang, whose .strtab holds section names too, so the
order objtool creates sections and symbols in shows) with retpolines, return thunks and function padding, plus objtool's
result for each as the reference (NAME.ARGS.objtool.o, .stderr).  The tests
compare orcgen's result with objtool's section by section (the comparison of
bench/objtool_tables_parity.py, which reads ELF on its own), and check the
facts the tables encode without objtool, so that a wrong reference would show.
"""
from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import struct

import pytest

from orcgen.commands.objtool import objtool
from orcgen.elf import STB_GLOBAL, STB_LOCAL, STT_FUNC, ElfFile

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures", "tables")
KBUILD = ("--hacks=jump_label --hacks=noinstr --hacks=skylake --orc --retpoline --rethunk "
          "--static-call --uaccess --prefix=16").split()
RUNS = {"kbuild": KBUILD, "module": KBUILD + ["--module"], "cfi": ["--orc", "--cfi", "--rethunk"]}
CASES = [("tables", "kbuild"), ("jumps", "kbuild"), ("nokey", "kbuild"), ("nokey", "module"),
         ("jumps", "cfi"), ("tables-clang", "kbuild"), ("fatal", "kbuild")]
OBJTOOL = os.environ.get("OBJTOOL", "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool")
R_NONE, R_PC32 = 0, 2


def _parity():
    spec = importlib.util.spec_from_file_location(
        "objtool_tables_parity", os.path.join(HERE, "..", "bench", "objtool_tables_parity.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


parity = _parity()


def orcgen_objtool(tmp_path, name: str, args: list[str]) -> tuple[int, str, str]:
    """Run on a copy of NAME.o called x.o (as the references were made); the
    status, stderr and the path of the result."""
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


def relocs(elf: ElfFile, name: str) -> list[tuple[int, int, str, int]]:
    sec = elf.section_by_name(name)
    out = []
    for r in elf.relocs_in_file_order(sec):
        s = elf.symbol(r.sym)
        out.append((r.offset, r.type, s.name or (elf.sections[s.section].name if s.section else ""), r.addend))
    return out


def func_offset(elf: ElfFile, name: str) -> int:
    return next(s.offset for s in elf.symbols if s.name == name)


@pytest.mark.parametrize("name,run", CASES, ids=["%s-%s" % c for c in CASES])
def test_same_object_and_warnings_as_objtool(tmp_path, name, run):
    rc, err, path = orcgen_objtool(tmp_path, name, RUNS[run])
    ref = os.path.join(FIX, "%s.%s.objtool" % (name, run))
    assert rc == 0
    assert err == open(ref + ".stderr").read().replace(": warning: objtool: ", ": warning: orcgen: ")
    assert parity.compare(open(path, "rb").read(), open(ref + ".o", "rb").read()) == []


def test_the_comparison_sees_differences():
    """The reference differs from the compiler's object in every table (so the test above can fail)."""
    kinds = {k for k, _ in parity.compare(open(os.path.join(FIX, "tables.o"), "rb").read(),
                                          open(os.path.join(FIX, "tables.kbuild.objtool.o"), "rb").read())}
    for k in ("missing .static_call_sites", "missing .rela.retpoline_sites", "missing .return_sites",
              "missing .call_sites", "missing .orc_unwind", "symtab-set"):
        assert k in kinds


def test_static_call_sites(tmp_path):
    _, _, path = orcgen_objtool(tmp_path, "tables", KBUILD)
    elf = ElfFile.from_path(path)
    sec = elf.section_by_name(".static_call_sites")
    assert (sec.size, sec.entsize, sec.flags) == (24, 8, 3)           # SHF_WRITE | SHF_ALLOC
    assert elf.section_data(sec) == bytes(24)
    got = relocs(elf, ".rela.static_call_sites")
    # call_tick: a call then a tail call; tail_pick: a tail call.  The sibling
    # calls come first: objtool lists jumps before calls.
    assert [(o, t, s, a & 1) for o, t, s, a in got[1::2]] == \
        [(4, R_PC32, "__SCK__tick", 1), (12, R_PC32, "__SCK__pick", 1), (20, R_PC32, "__SCK__tick", 0)]
    sites = [a for _o, _t, _s, a in got[0::2]]
    code = elf.section_data(elf.section_by_name(".text"))
    assert [code[a] for a in sites] == [0xE9, 0xE9, 0xE8]             # jmp, jmp, call
    assert sites[0] > sites[2] > func_offset(elf, "call_tick")


def test_site_sections_point_at_their_instructions(tmp_path):
    _, _, path = orcgen_objtool(tmp_path, "tables", KBUILD)
    elf = ElfFile.from_path(path)
    code, target = {}, {}
    for name in (".text", ".init.text"):
        sec = elf.section_by_name(name)
        code[name] = elf.section_data(sec)
        for r in elf.relocs(sec).relocs:
            target[name, r.offset - 1] = elf.symbol(r.sym).name
    for table, want in ((".retpoline_sites", "__x86_indirect_thunk_"), (".return_sites", "__x86_return_thunk")):
        sites = relocs(elf, ".rela" + table)
        assert sites and all(t == R_PC32 for _o, t, _s, _a in sites)
        assert all(target[s, a].startswith(want) for _o, _t, s, a in sites)
    assert {s for _o, _t, s, _a in relocs(elf, ".rela.return_sites")} == {".text", ".init.text"}
    calls = relocs(elf, ".rela.call_sites")
    assert all(code[s][a] == 0xE8 for _o, _t, s, a in calls)
    helper = func_offset(elf, "helper")            # a call within the section has no relocation
    assert {target.get((s, a)) or (helper == a + 5 + struct.unpack_from("<i", code[s], a + 1)[0]
                                   and "helper") for _o, _t, s, a in calls} == {"other", "helper"}
    assert {s for _o, _t, s, _a in calls} == {".text"}              # none from .init.text
    assert len(calls) == 3                   # helper: other, then a tail call; calls: helper, other


def test_prefix_symbols(tmp_path):
    _, _, path = orcgen_objtool(tmp_path, "tables", KBUILD)
    elf = ElfFile.from_path(path)
    funcs = {s.name: s for s in elf.symbols if s.type == STT_FUNC}
    pfx = {n: s for n, s in funcs.items() if n.startswith("__pfx_")}
    assert set(pfx) == {"__pfx_" + n for n in funcs if not n.startswith("__pfx_")}
    for n, s in pfx.items():
        f = funcs[n[len("__pfx_"):]]
        assert (s.value, s.size, s.bind, s.section) == (f.value - 16, 16, f.bind, f.section)
    assert pfx["__pfx_helper"].bind == STB_LOCAL and pfx["__pfx_calls"].bind == STB_GLOBAL
    first_global = next(s.index for s in elf.symbols[1:] if s.bind != STB_LOCAL)
    assert all(s.bind == STB_LOCAL for s in elf.symbols[1:first_global])


def test_jump_labels_and_noinstr_calls_rewritten(tmp_path):
    _, _, path = orcgen_objtool(tmp_path, "jumps", KBUILD)
    before, elf = ElfFile.from_path(os.path.join(FIX, "jumps.o")), ElfFile.from_path(path)
    text = elf.section_data(elf.section_by_name(".text"))
    assert before.section_data(before.section_by_name(".text"))[:12].hex() == "eb11" + "0f1f440000" + "e900000000"
    assert text[:12].hex() == "6690" + "0f1f440000" + "0f1f440000"      # short, NOP entry kept, long
    r = {x.offset: x for x in elf.relocs(elf.section_by_name(".text")).relocs}
    assert r[8].type == R_NONE and elf.symbol(r[8].sym).name == ".text.unlikely" and r[8].addend == -4
    noinstr = elf.section_data(elf.section_by_name(".noinstr.text"))
    assert noinstr.hex() == "0f1f440000" + "c3cc0f1f00"              # NOP; RET, INT3, NOP3
    assert {x.type for x in elf.relocs(elf.section_by_name(".noinstr.text")).relocs} == {R_NONE}
    # the call in .altinstr_replacement is no call site; the original is
    calls = relocs(elf, ".rela.call_sites")
    assert calls == [(0, R_PC32, ".text", func_offset(elf, "alt_func"))]


def test_cfi_sites(tmp_path):
    _, _, path = orcgen_objtool(tmp_path, "jumps", RUNS["cfi"])
    elf = ElfFile.from_path(path)
    assert relocs(elf, ".rela.cfi_sites") == [(0, R_PC32, ".text", func_offset(elf, "__cfi_alt_func"))]


def test_cfi_sites_in_address_order(tmp_path):
    """for_each_sym() walks each section's symbols by address: clang's kCFI object
    lists local functions first, so symbol-table order would differ."""
    path = str(tmp_path / "k.o")
    shutil.copyfile(os.path.join(HERE, "fixtures", "kcfi", "consistent-x86-11.o"), path)
    assert objtool(["--orc", "--cfi", path], io.StringIO(), io.StringIO()) == 0
    elf = ElfFile.from_path(path)
    cfi = [s.offset for s in elf.symbols if s.type == STT_FUNC and s.name.startswith("__cfi_")]
    assert cfi != sorted(cfi)
    assert [a for _o, _t, _s, a in relocs(elf, ".rela.cfi_sites")] == sorted(cfi)


def test_missing_static_call_key(tmp_path):
    rc, err, path = orcgen_objtool(tmp_path, "nokey", KBUILD)
    assert rc == 0 and "can't find static_call_key symbol: __SCK__lonely" in err
    elf = ElfFile.from_path(path)
    # objtool gave up after making the section: its key entry is left zero, nothing after it is made
    assert relocs(elf, ".rela.static_call_sites")[1] == (0, R_NONE, "", 0)
    assert elf.section_by_name(".orc_unwind") is None and elf.section_by_name(".call_sites") is None
    rc, err, path = orcgen_objtool(tmp_path, "nokey", KBUILD + ["--module"])
    assert (rc, err) == (0, "")
    elf = ElfFile.from_path(path)
    assert relocs(elf, ".rela.static_call_sites")[1][2] == "__SCT__lonely"     # the trampoline as key


def test_gave_up_keeps_the_rewrites_made_before(tmp_path):
    rc, err, path = orcgen_objtool(tmp_path, "fatal", KBUILD)
    assert rc == 0 and "can't find jump dest instruction" in err
    elf = ElfFile.from_path(path)
    assert elf.section_data(elf.section_by_name(".text"))[:2].hex() == "6690"
    assert elf.section_data(elf.section_by_name(".noinstr.text")).hex() == "c3cc0f1f00"
    assert not [s.name for s in elf.sections if s.name.endswith(("_sites", ".orc_unwind"))]
    assert not [s.name for s in elf.symbols if s.name.startswith("__pfx_")]


def test_second_run_skips_every_table(tmp_path):
    rc, _, path = orcgen_objtool(tmp_path, "tables", KBUILD)
    data = open(path, "rb").read()
    err = io.StringIO()
    assert objtool(KBUILD + [path], io.StringIO(), err) == 0
    for table in (".static_call_sites section", ".retpoline_sites", ".return_sites",
                  ".call_sites section", ".orc_unwind section"):
        assert "file already has %s, skipping" % table in err.getvalue()
    # objtool would add the __pfx_ symbols a second time; orcgen does too
    after = ElfFile.from_path(path)
    assert len(after.symbols) > len(ElfFile(data).symbols)


def test_outcome_is_cached(tmp_path, monkeypatch, capsys):
    """A run is kept in the cache under the object's bytes and options, and a later
    run on the same bytes is answered from it (what the cache says is what it does)."""
    from orcgen import cache
    from orcgen.cli import main as orcgen_main
    from orcgen.commands.objtool import parse, result_key
    from orcgen.tables import cached
    monkeypatch.setenv("ORCGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCGEN_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "_shared", None)
    src = os.path.join(FIX, "nokey.o")
    a, b = str(tmp_path / "a.o"), str(tmp_path / "b.o")
    shutil.copyfile(src, a)
    assert orcgen_main(["objtool"] + KBUILD + [a]) == 0
    assert parity.compare(open(a, "rb").read(), open(os.path.join(FIX, "nokey.kbuild.objtool.o"), "rb").read()) == []
    k = result_key(ElfFile.from_path(src), parse(KBUILD + [a]).options())
    findings, msgs, made = cached.load(cache.default.get(k))
    assert msgs == ["static_call: can't find static_call_key symbol: __SCK__lonely"] and made
    cache.default.put(k, cached.save(findings, ["from the cache"], None))
    capsys.readouterr()
    shutil.copyfile(src, b)
    assert orcgen_main(["objtool"] + KBUILD + [b]) == 0
    assert capsys.readouterr().err == "%s: warning: orcgen: from the cache\n" % b
    assert open(b, "rb").read() == open(src, "rb").read()


def test_dry_run_writes_nothing(tmp_path):
    path = str(tmp_path / "x.o")
    shutil.copyfile(os.path.join(FIX, "tables.o"), path)
    assert objtool(KBUILD + ["--dry-run", path], io.StringIO(), io.StringIO()) == 0
    assert open(path, "rb").read() == open(os.path.join(FIX, "tables.o"), "rb").read()


@pytest.mark.skipif(not os.access(OBJTOOL, os.X_OK), reason="objtool 6.12 is not installed at %s" % OBJTOOL)
@pytest.mark.parametrize("name,run", CASES, ids=["%s-%s" % c for c in CASES])
def test_references_are_objtools(tmp_path, name, run):
    """The committed references are what this objtool makes of the fixtures."""
    path = str(tmp_path / "x.o")
    shutil.copyfile(os.path.join(FIX, name + ".o"), path)
    p = subprocess.run([OBJTOOL] + RUNS[run] + ["x.o"], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, SRCARCH="x86"))
    ref = os.path.join(FIX, "%s.%s.objtool" % (name, run))
    assert p.stderr == open(ref + ".stderr").read()
    assert parity.compare(open(path, "rb").read(), open(ref + ".o", "rb").read()) == []


def test_struct_layout_is_objtools():
    """struct static_call_site is two s32: 8 bytes, the key at 4."""
    assert struct.calcsize("<ii") == 8


def test_patches_must_fit_their_section():
    from orcgen.elfwrite import ElfWriteError, Patch, add_to_elf
    data = open(os.path.join(FIX, "jumps.o"), "rb").read()
    elf = ElfFile(data)
    text = elf.section_by_name(".text")
    out = ElfFile(add_to_elf(data, patches=[Patch(text.index, 2, b"\x90\x90")]))
    assert out.section_data(out.section_by_name(".text"))[:4] == elf.section_data(text)[:2] + b"\x90\x90"
    for bad in (Patch(text.index, text.size - 1, b"\x90\x90"), Patch(text.index, -1, b"\x90"),
                Patch(len(elf.sections), 0, b"\x90"), Patch(elf.section_by_name(".bss").index, 0, b"\0")):
        with pytest.raises(ElfWriteError):
            add_to_elf(data, patches=[bad])


def test_names_in_creation_order():
    """Section and symbol names go into the string tables in the order given."""
    from orcgen.elf import SHF_ALLOC, SHT_PROGBITS
    from orcgen.elfwrite import ElfWriteError, NewSection, NewSymbol, add_to_elf
    data = open(os.path.join(FIX, "tables-clang.o"), "rb").read()      # one .strtab for both
    elf = ElfFile(data)
    assert elf.section_by_name(".shstrtab") is None
    sec = NewSection(".one", SHT_PROGBITS, SHF_ALLOC, b"x")
    sym = NewSymbol("two", STT_FUNC, STB_GLOBAL, 1)
    sec3 = NewSection(".three", SHT_PROGBITS, SHF_ALLOC, b"y")
    out = ElfFile(add_to_elf(data, [sec, sec3], [sym], created=[sec, sym, sec3]))
    strtab = out.section_data(out.section_by_name(".strtab"))
    assert strtab[len(strtab) - len(b".one\0two\0.three\0"):] == b".one\0two\0.three\0"
    out = ElfFile(add_to_elf(data, [sec, sec3], [sym]))                 # default: symbols first
    assert out.section_data(out.section_by_name(".strtab")).endswith(b"two\0.one\0.three\0")
    with pytest.raises(ElfWriteError):
        add_to_elf(data, [sec, sec3], [sym], created=[sec, sym])
