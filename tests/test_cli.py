# SPDX-License-Identifier: GPL-2.0-only
"""The command line: exit statuses, one-line errors, archives, objtool options."""
import os
import struct

import pytest
from conftest import FIXTURES

from orcgen.cli import main

X86 = os.path.join(FIXTURES, "x86_64")
CLEAN = os.path.join(X86, "switch-gcc-O2-fp.o")
WARNS = os.path.join(X86, "noreturn-gcc-O2-fp.o")


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_check_clean_object_exits_0(capsys):
    assert run(["check", CLEAN], capsys) == (0, "", "")


def test_check_findings_exit_1_in_objtool_format(capsys):
    status, out, err = run(["check", WARNS], capsys)
    assert status == 1 and err == ""
    lines = out.splitlines()
    assert lines and all(ln.startswith(WARNS + ": warning: orcgen: ") for ln in lines)
    assert any("falls through to next function" in ln for ln in lines)


def test_stackval_option_is_objtools(capsys):
    nofp = os.path.join(X86, "basic-gcc-O2-nofp.o")
    assert run(["check", nofp], capsys)[0] == 0
    status, out, _ = run(["check", "--stackval", nofp], capsys)
    assert status == 1 and "call without frame pointer save/setup" in out
    status2, out2, _ = run(["check", "--objtool-args", "--orc --stackval", nofp], capsys)
    assert (status2, out2) == (status, out)


def test_orc_prints_objtool_dump_format(capsys):
    status, out, err = run(["orc", CLEAN], capsys)
    want = open(CLEAN[:-2] + ".orc.txt").read()
    assert (status, out, err) == (0, want, "")


@pytest.mark.parametrize("content,reason", [
    (b"hello world\n", "not an ELF file"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 20, "truncated ELF header"),
    (b"\x7fELF\x01\x01\x01" + b"\0" * 60, "unsupported ELF class 1"),
])
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, content, reason):
    bad = tmp_path / "bad.o"
    bad.write_bytes(content)
    status, out, err = run(["check", str(bad)], capsys)
    assert status == 2 and out == ""
    assert err.splitlines() == ["orcgen: error: %s: %s" % (bad, err.split(": ", 3)[3].strip())]
    assert reason in err


def test_missing_file_and_other_files_still_processed(tmp_path, capsys):
    missing = str(tmp_path / "nope.o")
    status, out, err = run(["check", missing, WARNS], capsys)
    assert status == 2
    assert err == "orcgen: error: %s: No such file or directory\n" % missing
    assert "falls through" in out


def test_unknown_architecture(tmp_path, capsys):
    data = bytearray(open(CLEAN, "rb").read())
    struct.pack_into("<H", data, 18, 243)            # e_machine = RISC-V
    f = tmp_path / "riscv.o"
    f.write_bytes(bytes(data))
    status, _, err = run(["check", str(f)], capsys)
    assert status == 2 and "unsupported architecture riscv" in err


def _ar(members):
    out = bytearray(b"!<arch>\n")
    for name, body in members:
        out += ("%-16s%-12s%-6s%-6s%-8s%-10d`\n" % (name + "/", 0, 0, 0, 644, len(body))).encode()
        out += body + (b"\n" if len(body) & 1 else b"")
    return bytes(out)


def test_archive_members_are_checked_each(tmp_path, capsys):
    lib = tmp_path / "lib.a"
    lib.write_bytes(_ar([("clean.o", open(CLEAN, "rb").read()), ("warns.o", open(WARNS, "rb").read()),
                         ("notes.txt", b"not an object")]))
    status, out, err = run(["check", str(lib)], capsys)
    assert status == 1 and err == ""
    assert all(ln.startswith("%s(warns.o): warning: orcgen: " % lib) for ln in out.splitlines())


def test_dump_reads_existing_orc(capsys):
    assert run(["dump", CLEAN], capsys) == (0, "", "")   # compiler output has no ORC yet


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", "--no-such-option", CLEAN])
    assert e.value.code == 2


def test_parallel_batch_output_is_identical(capsys):
    import glob
    files = sorted(glob.glob(os.path.join(X86, "*-O2-nofp.o")))
    seq = run(["check", "--stackval", *files], capsys)
    par = run(["check", "--stackval", "-j", "2", *files], capsys)
    assert par == seq and seq[0] == 1 and seq[1].count("\n") > 50


def test_objtool_option_spellings():
    from orcgen.options import Options
    o, f = Options.from_objtool_args(["--hacks", "--orc", "x.o"])       # (-h is objtool's help)
    assert (o.hack_jump_label, o.hack_noinstr, o.hack_skylake, o.orc, f) == (True, True, True, True, ["x.o"])
    o, _ = Options.from_objtool_args(["--hacks=jump_label,foo"])            # objtool: strstr
    assert (o.hack_jump_label, o.hack_noinstr) == (True, False)
    with pytest.raises(ValueError):
        Options.from_objtool_args(["--hack-jump-label"])                     # a field name, not an option


def test_noreturn_takes_its_name_spaced_or_with_equals(capsys):
    """ext_unknown_noreturn() is not in objtool's list: nr_unknown_extern() falls through."""
    _, plain, _ = run(["check", "--no-cache", WARNS], capsys)
    _, eq, _ = run(["check", "--no-cache", "--noreturn=ext_unknown_noreturn", WARNS], capsys)
    _, spaced, _ = run(["check", "--no-cache", "--noreturn", "ext_unknown_noreturn", WARNS], capsys)
    assert "nr_unknown_extern() falls through" in plain
    assert spaced == eq and "nr_unknown_extern() falls through" not in eq
