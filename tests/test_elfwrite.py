# SPDX-License-Identifier: GPL-2.0-only
"""orcgen's ELF writer and `orcgen orc --write`.

Without objtool: the written ORC reads back (orcgen's reader, `orcgen dump`)
as exactly the rows `orcgen orc` computed; every symbol reference in the object
survives the renumbering that adding local section symbols forces; extended
section numbering and .symtab_shndx; refusals and atomicity.  With objtool
installed: the object equals what `objtool --orc` makes of it, section for
section, except for objtool's stale .llvm_addrsig.
"""
from __future__ import annotations

import glob
import os
import shutil
import struct
import subprocess

import pytest

from orcgen.cli import main as orcgen_main
from orcgen.commands.orc import orc_sections, write_orc
from orcgen import elfwrite
from orcgen.elf import (SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_RELA, SHT_SYMTAB_SHNDX, STB_GLOBAL,
                        STB_LOCAL, STT_FUNC, STT_SECTION, ElfFile)
from orcgen.elfwrite import (SHF_INFO_LINK, SHT_GROUP, SHT_LLVM_ADDRSIG, SYMTAB, ElfWriteError,
                             NewReloc, NewSection, NewSymbol, add_to_elf, uleb_list, write_atomic)
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

HERE = os.path.dirname(os.path.abspath(__file__))
X86 = os.path.join(HERE, "fixtures", "x86_64")
FIXTURES = sorted(glob.glob(os.path.join(X86, "*.o")))
OBJTOOL = os.environ.get("OBJTOOL", "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool")
needs_objtool = pytest.mark.skipif(
    not os.access(OBJTOOL, os.X_OK),
    reason="objtool 6.12 is not installed at %s (set OBJTOOL=...); the objtool-free tests "
           "in this file still cover the writer" % OBJTOOL)
ORC = Options(orc=True)
CLANG = os.path.join(X86, "cold-clang-O0-fp.o")      # no .text section symbol; has .llvm_addrsig
GCC = os.path.join(X86, "switch-gcc-O2-fp.o")


def copy(tmp_path, src: str, name: str | None = None) -> str:
    dst = os.path.join(str(tmp_path), name or os.path.basename(src))
    shutil.copyfile(src, dst)
    return dst


def symrefs(elf: ElfFile) -> dict:
    """Every symbol reference outside .symtab, with symbols described by value."""
    def sym(i: int) -> tuple:
        s = elf.symbol(i)
        return (s.name, s.type, s.bind, s.section, s.value, s.size)
    out = {}
    for sec in elf.sections:
        if sec.type in (SHT_RELA, SHT_REL) and not sec.name.startswith(".rela.orc_unwind"):
            out[sec.name] = [(r.offset, r.type, r.addend) + sym(r.sym)
                             for r in elf.relocs_in_file_order(sec)]
        elif sec.type == SHT_GROUP:
            out[sec.name] = sym(sec.info)
        elif sec.type == SHT_LLVM_ADDRSIG:
            out[sec.name] = [sym(i) for i in uleb_list(elf.section_data(sec))]
    return out


def raw_sections(data: bytes) -> list[tuple]:
    """Every section header (all fields but sh_offset) with the section's bytes."""
    shoff, shnum = struct.unpack_from("<Q", data, 0x28)[0], struct.unpack_from("<H", data, 0x3c)[0]
    out = []
    for i in range(shnum):
        h = struct.unpack_from("<IIQQQQIIQQ", data, shoff + 64 * i)
        body = data[h[4]:h[4] + h[5]] if h[1] != SHT_NOBITS else b""
        out.append(h[:4] + h[5:] + (body,))
    return out


# -- the ORC written reads back as computed -------------------------------------------

@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_written_orc_reads_back_as_computed(tmp_path, path, capsys):
    res = analyze_elf(ElfFile.from_path(path), ORC)
    rows = res.orc or []
    obj = copy(tmp_path, path)
    before = ElfFile.from_path(obj)
    out = write_orc(obj, ORC, warn=lambda line: None)
    assert out.status == ("fatal" if res.fatal else "written" if rows else "empty")
    assert out.rows == len(rows)
    after = ElfFile.from_path(obj)
    assert orcgen_main(["dump", obj]) == 0
    assert capsys.readouterr().out == "".join(r.text() + "\n" for r in rows)
    assert symrefs(after) == symrefs(before)
    if not rows:
        assert after.data == before.data
        return
    orc, ip, rela = (after.section_by_name(n) for n in
                     (".orc_unwind", ".orc_unwind_ip", ".rela.orc_unwind_ip"))
    n = len(before.sections)
    assert [orc.index, ip.index, rela.index] == [n, n + 1, n + 2]
    assert after.section_data(orc) == b"".join(r.entry.pack() for r in rows)
    assert after.section_data(ip) == bytes(4 * len(rows))
    assert (orc.type, orc.flags, orc.entsize, ip.type, ip.flags, ip.entsize) == \
        (SHT_PROGBITS, 2, 6, SHT_PROGBITS, 2, 4)
    assert (rela.type, rela.flags, rela.entsize, rela.link, rela.info) == \
        (SHT_RELA, SHF_INFO_LINK, 24, after.symtab.index, ip.index)
    relocs = after.relocs_in_file_order(rela)
    assert len(relocs) == len(rows)
    for k, (r, row) in enumerate(zip(relocs, rows)):
        s = after.symbol(r.sym)
        assert (r.offset, r.type, r.addend) == (4 * k, 2, row.offset)       # R_X86_64_PC32
        assert (s.type, s.bind, s.section) == (STT_SECTION, STB_LOCAL, row.secno)
    # everything that was there is still there, byte for byte where untouched
    for a, b in zip(before.sections, after.sections):
        assert (a.name, a.type, a.flags, a.entsize) == (b.name, b.type, b.flags, b.entsize)
        if a.type not in (SHT_NOBITS,) and a.name not in (".symtab", ".strtab", ".shstrtab") \
                and a.type not in (SHT_RELA, SHT_LLVM_ADDRSIG):
            assert after.data[b.offset:b.offset + b.size] == before.data[a.offset:a.offset + a.size]


def test_new_section_symbol_renumbers_globals_and_their_users(tmp_path):
    """cold-clang-O0-fp.o has no STT_SECTION symbol for .text, so one is made and the
    first global moves to the end (objtool's __elf_create_symbol)."""
    before = ElfFile.from_path(CLANG)
    assert not any(s.type == STT_SECTION and s.name == ".text" for s in before.symbols)
    first_global = before.symtab.info
    moved = before.symbols[first_global]
    assert moved.bind == STB_GLOBAL
    assert any(r.sym == first_global for r in before.relocs_in_file_order(
        before.section_by_name(".rela.text")))
    obj = copy(tmp_path, CLANG)
    assert write_orc(obj, ORC).status == "written"
    after = ElfFile.from_path(obj)
    assert len(after.symbols) == len(before.symbols) + 1
    assert after.symtab.info == first_global + 1
    new = after.symbols[first_global]
    assert (new.type, new.bind, new.name, new.section) == (STT_SECTION, STB_LOCAL, ".text", 2)
    assert after.symbols[-1].name == moved.name
    assert all((s.bind == STB_LOCAL) == (s.index < after.symtab.info) for s in after.symbols[1:])
    assert symrefs(after) == symrefs(before)
    # .llvm_addrsig names the moved symbol by its new index
    sig = after.section_by_name(".llvm_addrsig")
    assert len(after.symbols) - 1 in uleb_list(after.section_data(sig))


def test_orcgen_orc_write_command(tmp_path, capsys):
    obj = copy(tmp_path, GCC)
    assert orcgen_main(["orc", GCC]) == 0
    computed = capsys.readouterr().out
    assert orcgen_main(["orc", "--write", obj]) == 0
    assert capsys.readouterr() == ("", "")
    assert orcgen_main(["dump", obj]) == 0
    assert capsys.readouterr().out == computed


def test_dry_run_writes_nothing(tmp_path, capsys):
    obj = copy(tmp_path, CLANG)
    data = open(obj, "rb").read()
    assert orcgen_main(["orc", "--write", "--dry-run", obj]) == 0
    assert open(obj, "rb").read() == data
    assert os.listdir(str(tmp_path)) == [os.path.basename(obj)]


def test_file_with_orc_is_refused(tmp_path, capsys):
    obj = copy(tmp_path, GCC)
    assert orcgen_main(["orc", "--write", obj]) == 0
    data = open(obj, "rb").read()
    assert orcgen_main(["orc", "--write", obj]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "%s: warning: orcgen: file already has .orc_unwind section, skipping\n" % obj
    assert open(obj, "rb").read() == data


# -- atomicity: the input is unchanged on any failure -------------------------------------

def _unchanged_after_failure(tmp_path, obj: str, capsys) -> None:
    data, mode = open(obj, "rb").read(), os.stat(obj).st_mode
    assert orcgen_main(["orc", "--write", obj]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orcgen: error: %s: " % obj) and err.count("\n") == 1
    assert open(obj, "rb").read() == data and os.stat(obj).st_mode == mode
    assert sorted(os.listdir(os.path.dirname(obj))) == [os.path.basename(obj)]   # no temp file left


@pytest.mark.parametrize("where", ["fsync", "replace", "chmod"])
def test_injected_failure_leaves_input_unchanged(tmp_path, monkeypatch, capsys, where):
    obj = copy(tmp_path, CLANG)

    def boom(*a, **k):
        raise OSError(5, "injected %s failure" % where)
    monkeypatch.setattr(elfwrite.os, where, boom)
    _unchanged_after_failure(tmp_path, obj, capsys)


def test_writer_self_check_failure_leaves_input_unchanged(tmp_path, monkeypatch, capsys):
    obj = copy(tmp_path, CLANG)
    monkeypatch.setattr(elfwrite._Writer, "_remap_symbol_users", lambda self, m: None)
    _unchanged_after_failure(tmp_path, obj, capsys)       # the self-check notices stale indices


def test_read_only_directory_leaves_input_unchanged(tmp_path, capsys):
    """A directory nobody may create files in: chmod 555, or for root (whom mode bits
    do not stop) the immutable attribute."""
    d = tmp_path / "ro"
    d.mkdir()
    obj = copy(d, CLANG)
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(d)],
                                                         capture_output=True).returncode:
            pytest.skip("running as root, and chattr +i is not available on %s" % d)
        undo = ["chattr", "-i", str(d)]
    else:
        os.chmod(str(d), 0o555)
        undo = ["chmod", "755", str(d)]
    try:
        _unchanged_after_failure(d, obj, capsys)
    finally:
        subprocess.run(undo, check=True)


def test_write_atomic_keeps_mode_and_follows_symlinks(tmp_path):
    target = tmp_path / "real.o"
    target.write_bytes(b"old")
    os.chmod(str(target), 0o640)
    link = tmp_path / "link.o"
    link.symlink_to(target)
    write_atomic(str(link), b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert os.stat(str(target)).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(str(tmp_path))) == ["link.o", "real.o"]


def test_not_a_relocatable_object_is_refused(tmp_path):
    data = bytearray(open(GCC, "rb").read())
    data[16:18] = struct.pack("<H", 2)                    # ET_EXEC
    with pytest.raises(ElfWriteError, match="relocatable"):
        add_to_elf(bytes(data), [NewSection(".x", SHT_PROGBITS, 0, b"x")])
    with pytest.raises(ElfWriteError, match="not an ELF"):
        add_to_elf(b"nope" * 20)


# -- the writer beyond ORC: groups, .symtab_shndx, extended numbering ---------------------

def test_group_signature_follows_its_symbol():
    base = open(CLANG, "rb").read()
    elf = ElfFile(base)
    sig = elf.symtab.info                                  # the first global: it will move
    member = NewSection(".text.grp", SHT_PROGBITS, 0x2 | 0x4 | 0x200, b"\xc3", addralign=16)
    group = NewSection(".group", SHT_GROUP, 0, b"", entsize=4, addralign=4, link=SYMTAB, info=sig)
    group.data = struct.pack("<II", 0, len(elf.sections) + 1)
    step1 = ElfFile(add_to_elf(base, [group, member]))
    assert step1.section_by_name(".group").info == sig
    step2 = ElfFile(add_to_elf(step1.data, [], [NewSymbol("", STT_SECTION, STB_LOCAL, 2)]))
    g = step2.section_by_name(".group")
    assert g.info != sig and step2.symbols[g.info].name == elf.symbols[sig].name
    assert symrefs(step2) == symrefs(step1)


def test_symtab_shndx_and_extended_section_numbers(tmp_path):
    """Past 0xff00 sections: e_shnum moves to section 0, a symbol's section index to
    .symtab_shndx (which must then exist, as objtool says), and the table is kept
    parallel to .symtab through the renumbering."""
    base = open(CLANG, "rb").read()
    elf = ElfFile(base)
    nsyms = len(elf.symbols)
    shndx = NewSection(".symtab_shndx", SHT_SYMTAB_SHNDX, 0, bytes(4 * nsyms), entsize=4,
                       addralign=4, link=SYMTAB)
    fillers = [NewSection(".f%d" % i, SHT_NOBITS, 0) for i in range(0xff00 - len(elf.sections))]
    far = NewSection(".text.far", SHT_PROGBITS, 0x6, b"\xc3", addralign=16)
    without = add_to_elf(base, fillers + [far])
    with pytest.raises(ElfWriteError, match="no .symtab_shndx"):
        add_to_elf(without, [], [NewSymbol("", STT_SECTION, STB_LOCAL, 0xff00)])
    big = ElfFile(add_to_elf(base, [shndx] + fillers + [far]))
    far_index = big.section_by_name(".text.far").index
    assert far_index >= 0xff00 and struct.unpack_from("<H", big.data, 0x3c)[0] == 0
    syms = [NewSymbol("", STT_SECTION, STB_LOCAL, far_index),
            NewSymbol("far_func", STT_FUNC, STB_GLOBAL, far_index, size=1)]
    out = add_to_elf(big.data, [], syms)
    after = ElfFile(out)
    assert len(after.sections) == far_index + 1
    by_name = {s.name: s for s in after.symbols}
    far_func = by_name["far_func"]
    raw_shndx = struct.unpack_from("<H", out, after.symtab.offset + 24 * far_func.index + 6)[0]
    assert far_func.section == far_index and raw_shndx == 0xffff       # SHN_XINDEX
    sec_syms = [s for s in after.symbols if s.type == STT_SECTION and s.section == far_index]
    assert len(sec_syms) == 1 and sec_syms[0].bind == STB_LOCAL
    assert after.section_by_name(".symtab_shndx").size == 4 * len(after.symbols)
    assert symrefs(after) == symrefs(big)
    path = tmp_path / "big.o"
    path.write_bytes(out)
    if shutil.which("readelf"):
        p = subprocess.run(["readelf", "-s", "-W", str(path)], capture_output=True, text=True)
        assert p.returncode == 0 and p.stderr == ""
        assert any(ln.split()[-1:] == ["far_func"] and str(far_index) in ln.split()
                   for ln in p.stdout.splitlines())


def test_bad_requests_are_refused():
    base = open(GCC, "rb").read()
    with pytest.raises(ElfWriteError, match="does not exist"):
        add_to_elf(base, [NewSection(".rela.x", SHT_RELA, 0, link=SYMTAB, info=9999, relocs=[])])
    with pytest.raises(ElfWriteError, match="symbol 99999, which does not exist"):
        add_to_elf(base, [NewSection(".rela.x", SHT_RELA, 0, link=SYMTAB, info=1,
                                     relocs=[NewReloc(0, 2, 99999)])])
    stray = NewSymbol("", STT_SECTION, STB_LOCAL, 1)
    with pytest.raises(ElfWriteError, match="not being added"):
        add_to_elf(base, [NewSection(".rela.x", SHT_RELA, 0, link=SYMTAB, info=1,
                                     relocs=[NewReloc(0, 2, stray)])])


def test_orc_sections_reuse_existing_section_symbols():
    elf = ElfFile.from_path(GCC)
    rows = analyze_elf(elf, ORC).orc
    secs, syms = orc_sections(elf, rows)
    assert syms == []                          # gcc emitted a .text section symbol
    assert [s.name for s in secs] == [".orc_unwind", ".orc_unwind_ip", ".rela.orc_unwind_ip"]
    assert (secs[2].addralign, secs[0].addralign, secs[1].addralign) == (8, 1, 1)


# -- against objtool ------------------------------------------------------------------------

@needs_objtool
@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_same_object_as_objtool_orc(tmp_path, path):
    """Every section header (but sh_offset) and every section's bytes equal what
    `objtool --orc` makes; .llvm_addrsig differs only where objtool leaves it stale."""
    ours, theirs = copy(tmp_path, path, "ours.o"), copy(tmp_path, path, "theirs.o")
    p = subprocess.run([OBJTOOL, "--orc", theirs], capture_output=True, text=True,
                       env=dict(os.environ, SRCARCH="x86"))
    assert p.returncode == 0, p.stderr
    write_orc(ours, ORC, warn=lambda line: None)
    a, b = open(ours, "rb").read(), open(theirs, "rb").read()
    assert a[:0x28] == b[:0x28] and a[0x30:] [:0x10] == b[0x30:][:0x10]      # all but e_shoff
    sa, sb = raw_sections(a), raw_sections(b)
    assert len(sa) == len(sb)
    addrsig_ok = True
    for x, y in zip(sa, sb):
        if x[1] == SHT_LLVM_ADDRSIG:
            addrsig_ok = addrsig_ok and x[:-1] == y[:-1]
            continue
        assert x == y
    assert addrsig_ok
    dumps = [subprocess.run([OBJTOOL, "--dump=orc", f], capture_output=True, text=True,
                            env=dict(os.environ, SRCARCH="x86")).stdout for f in (ours, theirs)]
    assert dumps[0] == dumps[1]


def test_large_but_sane_alignments_are_kept(tmp_path):
    """A 16 KiB-aligned (THREAD_SIZE) section in a small object is written around,
    not refused; alignments no file can honour are refused (a fuzz find)."""
    data = bytearray(open(CLANG, "rb").read())
    assert len(data) < 1 << 14
    elf = ElfFile(bytes(data))
    text = elf.section_by_name(".text")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    struct.pack_into("<Q", data, shoff + 64 * text.index + 48, 1 << 14)      # sh_addralign
    obj = str(tmp_path / "aligned.o")
    with open(obj, "wb") as f:
        f.write(bytes(data))
    assert write_orc(obj, ORC).status == "written"
    out = open(obj, "rb").read()
    assert struct.unpack_from("<Q", out, struct.unpack_from("<Q", out, 0x28)[0] + 64 * text.index + 48)[0] \
        == 1 << 14
    with pytest.raises(ElfWriteError, match="alignment 0x10000000000"):
        add_to_elf(bytes(data), [NewSection(".x", SHT_PROGBITS, 0, b"x", addralign=1 << 40)])
