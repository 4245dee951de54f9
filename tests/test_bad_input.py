# SPDX-License-Identifier: GPL-2.0-only
"""Issue 7: bad input never crashes orcgen or damages a file.

Hand-made damage, one kind per case, each with the one-line error (exit 2) or
the finding it must give; files that orcgen only reads stay untouched and are
never opened for writing; a failed `orc --write` leaves the file as it was; the
same input gives byte-identical output, run after run and under another
PYTHONHASHSEED.  The random counterpart is tests/test_fuzz.py.
"""
from __future__ import annotations

import builtins
import io
import os
import shutil
import stat
import struct
import subprocess
import sys

import pytest

import elfmutate
import fuzzgen
from armutate import make_archive
from elfmutate import ElfEditor, Layout
from fuzzgen import run_cli


@pytest.fixture(autouse=True)
def _bounded_memory():
    """Runaway allocation fails the test instead of exhausting the machine."""
    with fuzzgen.bounded_memory():
        yield


def _read(path: str, n: int = -1) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


X86 = os.path.join(fuzzgen.FIXTURES, "x86_64")
ARM64 = os.path.join(fuzzgen.FIXTURES, "arm64")
SWITCH = os.path.join(X86, "switch-gcc-O2-fp.o")      # has .rodata jump tables and a .cold part
COLD = os.path.join(X86, "cold-gcc-O2-fp.o")
BASE = _read(SWITCH)
READ_ONLY = fuzzgen.commands()                         # check, orc, dump (and diff when present)


# -- editing helpers -----------------------------------------------------------

def _sections(data: bytes) -> dict[str, int]:
    ed = ElfEditor(data)
    return {ed.name_of(i): i for i in range(len(ed.shdrs))}


def set_shdr(data: bytes, section: str, fld: str, value: int) -> bytes:
    """`data` with field `fld` (sh_name, sh_type, ...) of section `section` set to value."""
    idx = _sections(data)[section]
    off, width = {n: (o, w) for n, o, w in elfmutate.SHDR_FIELDS}[fld]
    shoff = struct.unpack_from("<Q", data, 40)[0]
    b = bytearray(data)
    b[shoff + idx * 64 + off:shoff + idx * 64 + off + width] = \
        (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(b)


def set_ehdr(data: bytes, fld: str, value: int) -> bytes:
    off, width = {n: (o, w) for n, o, w, _ in elfmutate.EHDR_FIELDS}[fld]
    b = bytearray(data)
    b[off:off + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(b)


def symbols(data: bytes) -> dict[str, int]:
    """symbol name -> file offset of its symbol-table entry."""
    ed = ElfEditor(data)
    st = next(i for i, s in enumerate(ed.shdrs) if s[1] == elfmutate.SHT_SYMTAB)
    strtab = ed.data_of(ed.shdrs[st][6])
    out = {}
    for k, (nm, *_rest) in enumerate(elfmutate.SYM.iter_unpack(ed.data_of(st))):
        out[strtab[nm:strtab.index(b"\0", nm)].decode()] = ed.shdrs[st][4] + 24 * k
    return out


def set_sym(data: bytes, name: str, shndx: int | None = None, value: int | None = None,
            size: int | None = None, info: int | None = None) -> bytes:
    b = bytearray(data)
    o = symbols(data)[name]
    if info is not None:
        b[o + 4] = info
    if shndx is not None:
        struct.pack_into("<H", b, o + 6, shndx)
    if value is not None:
        struct.pack_into("<Q", b, o + 8, value)
    if size is not None:
        struct.pack_into("<Q", b, o + 16, size)
    return bytes(b)


def first_rela(data: bytes, section: str) -> int:
    ed = ElfEditor(data)
    return ed.shdrs[_sections(data)[section]][4]


def with_nobits(name: str, size: int, rela: bool = False) -> bytes:
    ed = ElfEditor(BASE)
    i = ed.add(name, elfmutate.SHT_NOBITS, elfmutate.SHF_ALLOC, b"")
    ed.shdrs[i][5] = size
    if name == ".orc_unwind":
        ed.add(".orc_unwind_ip", 1, elfmutate.SHF_ALLOC, b"\0" * 8)
    if rela:
        symtab = _sections(BASE)[".symtab"]
        ed.add(".rela" + name, elfmutate.SHT_RELA, elfmutate.SHF_INFO_LINK,
               struct.pack("<QQq", 0, (2 << 32) | 2, 0), link=symtab, info=i, entsize=24)
    return ed.build()


def _write(tmp_path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("orcgen: error: ")]


# -- one kind of damage per case: (name, bytes, commands, expected) -------------
# expected: ("error", text in the reason) -> exit 2, exactly one error line
#           ("finding", text)             -> exit 1, a warning containing text
#           ("ok", None)                  -> exit 0 or 1, no error line

SYMTAB_OFF = ElfEditor(BASE).shdrs[_sections(BASE)[".symtab"]][4]
NSEC = len(ElfEditor(BASE).shdrs)

CASES = [
    ("empty", b"", READ_ONLY, ("error", "not an ELF file")),
    ("text", b"#!/bin/sh\necho hi\n", READ_ONLY, ("error", "not an ELF file")),
    ("truncated-ident", BASE[:10], READ_ONLY, ("error", "not an ELF file")),
    ("truncated-header", BASE[:40], READ_ONLY, ("error", "truncated ELF header")),
    ("truncated-mid-sections", BASE[:len(BASE) - 100], READ_ONLY, ("error", "runs past the end")),
    ("truncated-half", BASE[:len(BASE) // 2], READ_ONLY, ("error", "runs past the end")),
    ("elf32", set_ehdr(BASE, "ei_class", 1), READ_ONLY, ("error", "unsupported ELF class 1")),
    ("big-endian", set_ehdr(BASE, "ei_data", 2), READ_ONLY, ("error", "data encoding 2")),
    ("no-section-table", set_ehdr(BASE, "e_shoff", 0), READ_ONLY, ("error", "no section header table")),
    ("shoff-past-end", set_ehdr(BASE, "e_shoff", len(BASE) + 1), READ_ONLY, ("error", "runs past the end")),
    ("shoff-huge", set_ehdr(BASE, "e_shoff", -1), READ_ONLY, ("error", "runs past the end")),
    ("shnum-huge", set_ehdr(BASE, "e_shnum", 0xFFFF), READ_ONLY, ("error", "runs past the end")),
    ("shentsize", set_ehdr(BASE, "e_shentsize", 40), READ_ONLY, ("error", "bad section header entry size 40")),
    ("shstrndx", set_ehdr(BASE, "e_shstrndx", NSEC), READ_ONLY, ("error", "index %d out of range" % NSEC)),
    ("shstrtab-offset", set_shdr(BASE, ".shstrtab", "sh_offset", 1 << 62), READ_ONLY,
     ("error", "section name string table runs past the end")),
    ("section-size-2^60", set_shdr(BASE, ".text", "sh_size", 1 << 60), READ_ONLY,
     ("error", "section .text (1152921504606846976 bytes at 0x40) runs past the end")),
    ("section-offset-huge", set_shdr(BASE, ".rodata", "sh_offset", (1 << 64) - 8), READ_ONLY,
     ("error", "section .rodata")),
    ("section-name-outside", set_shdr(BASE, ".text", "sh_name", 1 << 20), READ_ONLY,
     ("error", "section name at string table offset 1048576 is outside the table")),
    ("shstrtab-unterminated", set_shdr(BASE, ".shstrtab", "sh_size",
                                       max(s[0] for s in ElfEditor(BASE).shdrs) + 2), READ_ONLY,
     ("error", "is not NUL-terminated")),
    ("strtab-unterminated", set_shdr(BASE, ".strtab", "sh_size", 5), READ_ONLY,
     ("error", "symbol name at string table offset")),
    ("symtab-entsize", set_shdr(BASE, ".symtab", "sh_entsize", 23), READ_ONLY,
     ("error", "bad symbol table entry size 23")),
    ("symtab-link", set_shdr(BASE, ".symtab", "sh_link", 0xFFFF), READ_ONLY,
     ("error", "string table index 65535 out of range")),
    ("symbol-section-index", set_sym(BASE, "sw_calls", shndx=NSEC + 5), READ_ONLY,
     ("error", "symbol sw_calls has section index %d, but there are %d sections" % (NSEC + 5, NSEC))),
    ("reloc-missing-symbol", (lambda o: BASE[:o + 12] + b"\xff\xff\xff\xff" + BASE[o + 16:])(
        first_rela(BASE, ".rela.text")), ["check", "orc"],
     ("error", "refers to symbol 4294967295, but the symbol table has 17")),
    ("arch-i386", set_ehdr(BASE, "e_machine", 3), READ_ONLY, ("error", "unsupported architecture i386")),
    ("arch-unknown", set_ehdr(BASE, "e_machine", 0xFFFF), READ_ONLY,
     ("error", "unsupported architecture e_machine 65535")),
    ("compressed-code", set_shdr(BASE, ".text", "sh_flags", 0x806), ["check", "orc"],
     ("error", "section .text is compressed")),
    ("compressed-relocs", set_shdr(BASE, ".rela.text", "sh_flags", 0x840), ["check", "orc"],
     ("error", "section .rela.text is compressed")),
    ("nobits-orc", with_nobits(".orc_unwind", 6 << 56), ["dump"],
     ("error", "section .orc_unwind has no data in the file (SHT_NOBITS")),
    ("nobits-altinstructions", with_nobits(".altinstructions", 14 << 40), ["check", "orc"],
     ("error", "section .altinstructions has no data in the file")),
    ("nobits-jump-table", with_nobits("__jump_table", 1 << 60, rela=True), ["check", "orc"],
     ("error", "section __jump_table has no data in the file")),
    ("nobits-unwind-hints", with_nobits(".discard.unwind_hints", 12 << 40, rela=True), ["check", "orc"],
     ("error", "section .discard.unwind_hints has no data in the file")),
    ("orc-without-relocs-short-ip", (lambda ed: (ed.add(".orc_unwind", 1, 2, b"\0" * 12),
                                                  ed.add(".orc_unwind_ip", 1, 2, b"\0" * 4),
                                                  ed.build())[2])(ElfEditor(BASE)),
     ["dump"], ("error", ".orc_unwind_ip is shorter than .orc_unwind")),
    ("orc-bad-size", (lambda ed: (ed.add(".orc_unwind", 1, 2, b"\0" * 7), ed.add(".orc_unwind_ip", 1, 2, b""),
                                  ed.build())[2])(ElfEditor(BASE)),
     ["dump"], ("error", "bad .orc_unwind section size")),
    # valid files with odd code: a finding, never an error or a crash
    ("undecodable", (lambda o: BASE[:o] + b"\x06" * 16 + BASE[o + 16:])(
        ElfEditor(BASE).shdrs[1][4]), ["check", "orc"], ("finding", "can't decode instruction at .text:0x0")),
    ("zero-sized-function", set_sym(BASE, "sw_sparse", size=0), ["check", "orc"],
     ("finding", "sw_sparse() is missing an ELF size annotation")),
    ("cold-part-inside-parent", set_sym(BASE, "sw_calls.cold", shndx=1, value=0x150, size=0),
     ["check", "orc"], ("finding", "cold part sw_calls.cold() does not start with an instruction")),
    ("overlapping-functions", set_sym(BASE, "sw_in_loop", value=0x150, size=0x200), READ_ONLY, ("ok", None)),
    ("function-past-section", set_sym(BASE, "sw_sparse", value=0x520, size=1 << 62), READ_ONLY, ("ok", None)),
    ("jump-table-off-section", set_shdr(BASE, ".rodata", "sh_size", 8), READ_ONLY, ("ok", None)),
    # arm64 tables carry no relocations: their entries are read from .rodata's bytes
    ("arm64-jump-table-off-section", set_shdr(_read(os.path.join(ARM64, "switch-gcc-O2-fp.o")),
                                              ".rodata", "sh_size", 5), READ_ONLY, ("ok", None)),
    ("reloc-offset-huge", (lambda o: BASE[:o] + b"\xf0" * 8 + BASE[o + 8:])(first_rela(BASE, ".rela.rodata")),
     READ_ONLY, ("ok", None)),
    ("symtab-missing", set_shdr(BASE, ".symtab", "sh_type", 1), ["check", "orc"],
     ("error", "relocation refers to missing symbol 4")),
    ("relocs-missing", set_shdr(BASE, ".rela.text", "sh_type", 1), READ_ONLY, ("ok", None)),
    ("linked-exec", set_ehdr(BASE, "e_type", 2), READ_ONLY, ("ok", None)),
    ("linked-dyn", set_ehdr(BASE, "e_type", 3), READ_ONLY, ("ok", None)),
]


@pytest.mark.parametrize("name,data,cmds,expected", CASES, ids=[c[0] for c in CASES])
def test_damaged_object(tmp_path, name, data, cmds, expected):
    path = _write(tmp_path, name + ".o", data)
    for cmd in cmds:
        rc, out, err = run_cli([cmd, path])
        fuzzgen.judge(cmd, path, False, rc, out, err)
        what, text = expected
        errors = _error_lines(err)
        if what == "error":
            assert rc == 2, (cmd, out, err)
            assert len(errors) == 1 and errors[0].startswith("orcgen: error: %s: " % path)
            assert text in errors[0], (cmd, errors)
        elif what == "finding":          # `orc` exits 1 only when the analysis gave up
            assert rc in ((1,) if cmd == "check" else (0, 1)) and not errors, (cmd, out, err)
            assert text in out + err, (cmd, out, err)
        else:
            assert rc in (0, 1) and not errors, (cmd, out, err)


# -- the command line around the objects ------------------------------------------

def test_other_files_in_the_run_are_still_processed(tmp_path):
    bad1 = _write(tmp_path, "bad1.o", BASE[:100])
    bad2 = _write(tmp_path, "bad2.o", set_ehdr(BASE, "e_machine", 3))
    missing = str(tmp_path / "missing.o")
    warns = os.path.join(X86, "noreturn-gcc-O2-fp.o")
    for cmd in READ_ONLY:
        alone = run_cli([cmd, warns])
        rc, out, err = run_cli([cmd, bad1, warns, missing, bad2, SWITCH])
        assert rc == 2
        assert [ln.split(": ")[2] for ln in _error_lines(err)] == [bad1, missing, bad2]
        assert alone[1] in out and (alone[2] in err)
        assert out.endswith(run_cli([cmd, SWITCH])[1])


def test_error_line_is_one_line_whatever_the_names(tmp_path):
    # A symbol name with a newline, in a symbol whose section index is bad.
    data = bytearray(set_sym(BASE, "sw_calls", shndx=NSEC + 1))
    strtab = ElfEditor(BASE).shdrs[_sections(BASE)[".strtab"]][4]
    k = bytes(data).index(b"sw_calls\0", strtab)
    data[k + 2] = 0x0A
    path = _write(tmp_path, "nl\tname.o", bytes(data))
    rc, out, err = run_cli(["check", path])
    assert rc == 2
    assert err == "orcgen: error: %s: symbol sw\\ncalls has section index %d, but there are %d sections\n" \
        % (path.replace("\t", "\\t"), NSEC + 1, NSEC)


def test_directories_devices_and_missing_files(tmp_path):
    for path, reason in ((str(tmp_path), "Is a directory"), ("/dev/null", "not an ELF file"),
                         ("/dev/zero", "not an ELF file"),
                         (str(tmp_path / "nope.o"), "No such file or directory")):
        rc, out, err = run_cli(["check", path])
        assert (rc, out, err) == (2, "", "orcgen: error: %s: %s\n" % (path, reason))


def test_objtool_command_reads_devices_bounded():
    from orcgen.cli import COMMANDS
    if "objtool" not in COMMANDS:
        pytest.skip("no orcgen objtool")
    assert run_cli(["objtool", "--orc", "/dev/zero"]) == (1, "", "/dev/zero: warning: orcgen: not an ELF file\n")


def test_out_of_memory_is_one_error_line_and_the_run_goes_on(tmp_path, monkeypatch):
    import orcgen.cfg

    def exhausted(p):
        raise MemoryError()
    monkeypatch.setattr(orcgen.cfg, "build", exhausted)
    big = _write(tmp_path, "big.o", BASE + b"\0" * 7)          # bytes no cache has seen
    rc, out, err = run_cli(["check", big, "/dev/null"])
    assert (rc, out) == (2, "")
    assert _error_lines(err) == ["orcgen: error: %s: out of memory" % big,
                                 "orcgen: error: /dev/null: not an ELF file"]
    with pytest.raises(fuzzgen.OracleError, match="out of memory on a"):
        fuzzgen.judge("check", big, False, rc, out, err.split("\n")[0] + "\n")
    monkeypatch.undo()                 # memory again: the file's real output, not a kept error
    assert run_cli(["check", big]) == run_cli(["check", SWITCH])[:1] + \
        tuple(x.replace(SWITCH, big) for x in run_cli(["check", SWITCH])[1:])


def test_capstone_out_of_memory_is_not_undecodable_code(monkeypatch):
    """capstone reports a failed allocation as zero instructions decoded; that
    must not become "can't decode instruction" (a wrong finding)."""
    import capstone

    from orcgen.arch.x86_64.decode import X86Decoder
    dec = X86Decoder()
    monkeypatch.setattr(capstone._cs, "cs_disasm", lambda *a: 0)
    monkeypatch.setattr(capstone._cs, "cs_errno", lambda handle: capstone.CS_ERR_MEM)
    with pytest.raises(MemoryError):
        dec.decode_section(b"\x55\x48\x89\xe5\x5d\xc3", lambda off: True)


def test_input_through_a_pipe(tmp_path):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                 # the writer: the object, then EOF
        os.close(r)
        with os.fdopen(w, "wb") as f:
            f.write(BASE)
        os._exit(0)
    os.close(w)
    try:
        got = run_cli(["orc", "/dev/fd/%d" % r])
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    want = run_cli(["orc", SWITCH])
    assert got[0] == want[0] and got[1] == want[1]


ARCHIVE_CASES = [
    ("thin", b"!<thin>\n", "thin archive"),
    ("truncated-header", make_archive([("a.o", BASE)])[:30], "truncated archive member header"),
    ("bad-terminator", (lambda a: a[:8 + 58] + b"xx" + a[8 + 60:])(make_archive([("a.o", BASE)])),
     "bad archive member header at offset 8"),
    ("size-negative", (lambda a: a[:8 + 48] + b"-1".ljust(10) + a[8 + 58:])(make_archive([("a.o", BASE)])),
     "bad archive member size at offset 8"),
    ("size-not-a-number", (lambda a: a[:8 + 48] + b"1e3".ljust(10) + a[8 + 58:])(make_archive([("a.o", BASE)])),
     "bad archive member size at offset 8"),
    ("size-past-end", (lambda a: a[:8 + 48] + b"999999999".ljust(10) + a[8 + 58:])(make_archive([("a.o", BASE)])),
     "runs past the end of the file"),
    ("long-name-outside", make_archive([("a-very-long-member-name.o", BASE)]).replace(b"/0".ljust(16), b"/9999".ljust(16), 1),
     "archive long member name offset 9999 out of range"),
    ("bsd-name-not-a-number", make_archive([("a.o", BASE)], bsd=True).replace(b"#1/3".ljust(16), b"#1/x".ljust(16), 1),
     "bad archive member name length 'x'"),
    ("bsd-name-too-long", make_archive([("a.o", BASE)], bsd=True).replace(b"#1/3".ljust(16), b"#1/99999".ljust(16), 1),
     "bad archive member name length '99999'"),
]


@pytest.mark.parametrize("name,data,reason", ARCHIVE_CASES, ids=[c[0] for c in ARCHIVE_CASES])
def test_damaged_archive(tmp_path, name, data, reason):
    path = _write(tmp_path, name + ".a", data)
    for cmd in READ_ONLY:
        rc, out, err = run_cli([cmd, path])
        fuzzgen.judge(cmd, path, True, rc, out, err)
        assert rc == 2 and _error_lines(err) == [ln for ln in err.splitlines() if ln.startswith("orcgen")]
        assert len(_error_lines(err)) == 1 and reason in err, err


def test_archive_bad_member_does_not_stop_the_others(tmp_path):
    good = os.path.join(X86, "noreturn-gcc-O2-fp.o")
    arch = make_archive([("bad.o", BASE[:200]), ("notes.txt", b"not an object\n"),
                         ("good.o", _read(good)), ("i386.o", set_ehdr(BASE, "e_machine", 3))])
    path = _write(tmp_path, "lib.a", arch)
    rc, out, err = run_cli(["check", path])
    assert rc == 2
    assert [ln.split(": ")[2] for ln in _error_lines(err)] == ["%s(bad.o)" % path, "%s(i386.o)" % path]
    alone = run_cli(["check", good])[1]
    assert out == alone.replace(good, "%s(good.o)" % path)


def test_linked_executable(tmp_path):
    true = shutil.which("true")
    if true is None or _read(os.path.realpath(true), 4) != b"\x7fELF":
        pytest.skip("no ELF `true` executable")
    for cmd in READ_ONLY:
        rc, out, err = run_cli([cmd, os.path.realpath(true)])
        fuzzgen.judge(cmd, os.path.realpath(true), False, rc, out, err)
        assert rc in (0, 1), err


# -- read-only commands never write; a failed write changes nothing ---------------

class OpenSpy:
    """Records how every path is opened (builtins.open, io.open, os.open)."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple[str, object]] = []
        real_open, real_os_open = builtins.open, os.open

        def spy_open(file, mode="r", *a, **kw):
            if isinstance(file, (str, bytes, os.PathLike)):
                self.calls.append((os.path.realpath(os.fsdecode(file)), mode))
            return real_open(file, mode, *a, **kw)

        def spy_os_open(path, flags, *a, **kw):
            self.calls.append((os.path.realpath(os.fsdecode(path)), flags))
            return real_os_open(path, flags, *a, **kw)

        monkeypatch.setattr(builtins, "open", spy_open)
        monkeypatch.setattr(io, "open", spy_open)
        monkeypatch.setattr(os, "open", spy_os_open)

    def modes_for(self, path: str) -> list[object]:
        real = os.path.realpath(path)
        return [m for p, m in self.calls if p == real]


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _is_read_only(mode) -> bool:
    if isinstance(mode, int):
        return not mode & WRITE_FLAGS
    return not set(mode) & set("wax+")


@pytest.mark.parametrize("fixture", [SWITCH, os.path.join(ARM64, "switch-gcc-O2-fp.o")])
def test_read_only_commands_leave_the_file_alone(tmp_path, monkeypatch, fixture):
    d = tmp_path / "objs"
    d.mkdir()
    path = str(d / os.path.basename(fixture))
    shutil.copyfile(fixture, path)
    os.chmod(path, 0o444)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = os.stat(path)
    data = _read(path)
    spy = OpenSpy(monkeypatch)
    for argv in [[c, path] for c in READ_ONLY] + [["orc", "--stackval", path], ["check", "--uaccess", path]]:
        rc, out, err = run_cli(argv)
        assert rc in (0, 1), (argv, err)
    monkeypatch.undo()
    modes = spy.modes_for(path)
    assert modes, "the spy saw no open of the input"
    assert all(_is_read_only(m) for m in modes), modes
    after = os.stat(path)
    assert _read(path) == data
    assert (after.st_mtime_ns, after.st_size, after.st_ino, stat.S_IMODE(after.st_mode)) == \
        (before.st_mtime_ns, before.st_size, before.st_ino, 0o444)
    assert os.listdir(d) == [os.path.basename(path)]          # no temporary files left beside it


needs_write = pytest.mark.skipif(not fuzzgen.can_write(), reason="orcgen orc has no --write")


@needs_write
@pytest.mark.parametrize("name,data", [("truncated", BASE[:len(BASE) - 50]),
                                       ("i386", set_ehdr(BASE, "e_machine", 3)),
                                       ("archive", make_archive([("a.o", BASE)])),
                                       ("has-orc", (lambda ed: (ed.add(".orc_unwind", 1, 2, b"\0" * 6),
                                                                ed.add(".orc_unwind_ip", 1, 2, b"\0" * 4),
                                                                ed.build())[2])(ElfEditor(BASE))),
                                       ("undecodable", CASES[[c[0] for c in CASES].index("undecodable")][1]),
                                       ("symtab-aligned-2^40", set_shdr(BASE, ".symtab", "sh_addralign", 1 << 40)),
                                       ("symtab-aligned-3", set_shdr(BASE, ".symtab", "sh_addralign", 3))])
def test_write_that_does_not_happen_changes_nothing(tmp_path, name, data):
    path = _write(tmp_path, name + ".o", data)
    rc, out, err = run_cli(["orc", "--write", path])
    assert rc in (1, 2), err
    assert _read(path) == data
    assert os.listdir(tmp_path) == [name + ".o"]


@needs_write
@pytest.mark.parametrize("fail", ["os.replace", "os.fsync", "os.chmod"])
def test_failed_write_leaves_the_file_as_it_was(tmp_path, monkeypatch, fail):
    path = _write(tmp_path, "x.o", BASE)
    mod, fn = fail.split(".")

    def boom(*a, **kw):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, fn, boom)
    rc, out, err = run_cli(["orc", "--write", path])
    monkeypatch.undo()
    assert rc == 2 and _error_lines(err) == ["orcgen: error: %s: No space left on device" % path], err
    assert _read(path) == BASE
    assert os.listdir(tmp_path) == ["x.o"]                      # the temporary file is gone
    rc, out, err = run_cli(["orc", "--write", path])             # and a later write works
    assert rc == 0 and _read(path) != BASE
    assert run_cli(["dump", path])[1] == run_cli(["orc", SWITCH])[1]


# -- the same input, the same output ---------------------------------------------

DETERMINISM_INPUTS = [SWITCH, COLD, os.path.join(X86, "noreturn-clang-O2-nofp.o"),
                      os.path.join(X86, "dynstack-gcc-O2-nofp.o"),
                      os.path.join(ARM64, "switch-clang-O2-fp-pac.o"),
                      os.path.join(ARM64, "cgoto-gcc-O2-fp.o")]


def _outputs(argv_tail: list[str]) -> dict[str, tuple[int, str, str]]:
    return {cmd: run_cli([cmd] + argv_tail) for cmd in READ_ONLY}


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """The in-process runs use a cache of their own: what other tests (which may
    patch the analysis) left in the session's cache cannot leak into these."""
    from orcgen import cache
    own = cache.Cache(str(tmp_path / "own-cache" / "cache.sqlite"))
    monkeypatch.setattr(cache, "_shared", own)
    monkeypatch.setattr(cache, "default", own)
    yield own
    own.close()


def test_output_is_identical_run_after_run(private_cache):
    first = _outputs(DETERMINISM_INPUTS)
    assert first["check"][1] and first["orc"][1]          # something to compare
    assert _outputs(DETERMINISM_INPUTS) == first          # the second run may come from the cache
    for path in DETERMINISM_INPUTS:                        # per file, regardless of its neighbours
        assert _outputs([path]) == _outputs([path])


@pytest.mark.parametrize("hashseed,cache", [("0", "fresh"), ("4242", "off")])
def test_output_is_identical_under_another_hash_seed(tmp_path, private_cache, hashseed, cache):
    want = _outputs(DETERMINISM_INPUTS)
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    if cache == "off":
        env["ORCGEN_NO_CACHE"] = "1"
    else:
        env["ORCGEN_CACHE_DIR"] = str(tmp_path / "cache")
    for cmd in READ_ONLY:
        p = subprocess.run([sys.executable, "-c", "import sys; from orcgen.cli import main; "
                            "sys.exit(main(sys.argv[1:]))", cmd] + DETERMINISM_INPUTS,
                           capture_output=True, text=True, env=env, timeout=300)
        assert (p.returncode, p.stdout, p.stderr) == want[cmd], cmd


def test_layout_parser_finds_the_fields():
    """The fuzz generator's view of a fixture: the fields it mutates are the real ones."""
    lay = Layout.parse(BASE)
    kinds = {f.kind for f in lay.fields}
    assert {"e_shoff", "sh_size", "st_value", "r_sym", "r_addend"} <= kinds
    assert len(lay.sections) == NSEC and lay.nsym == 17
    sym = next(f for f in lay.of_kind("st_value") if f.off == symbols(BASE)["sw_calls"] + 8)
    assert sym.get(BASE) == 0x150
