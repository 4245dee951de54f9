# SPDX-License-Identifier: GPL-2.0-only
"""The command line's own surface: --help of each command lists the options that
main() and Options take (not only argparse's), --version, `--objtool-args "..."`
as one string, and a `FILE:` line before each table when several are printed."""
import os
import shutil
import subprocess

import pytest
from conftest import FIXTURES

from orcgen import __version__
from orcgen.cli import main

X86 = os.path.join(FIXTURES, "x86_64")
A = os.path.join(X86, "switch-gcc-O2-nofp.o")
B = os.path.join(X86, "basic-gcc-O2-nofp.o")
SHARED = ["-j N", "--no-cache"]
ANALYSIS = ["--userspace", "--noreturn NAME", "--keep-going", "--objtool-args",
            "--stackval", "--orc", "--uaccess", "--prefix N", "--hacks", "--link"]


def run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("cmd", ["check", "orc", "diff"])
def test_analysis_commands_list_shared_and_objtool_options(cmd, capsys):
    status, out, _ = run([cmd, "--help"], capsys)
    assert status == 0
    missing = [o for o in SHARED + ANALYSIS if o not in out]
    assert not missing, missing


def test_dump_lists_only_what_it_takes(capsys):
    status, out, _ = run(["dump", "--help"], capsys)
    assert status == 0 and all(o in out for o in SHARED)
    assert "--stackval" not in out and "--userspace" not in out


def test_help_options_are_not_parsed_without_help(capsys):
    # --stackval stays an objtool option for Options, not an argparse flag
    status, out, _ = run(["check", "--stackval", B], capsys)
    assert status == 1 and "call without frame pointer save/setup" in out


def test_version(capsys):
    assert run(["--version"], capsys)[:2] == (0, "orcgen %s\n" % __version__)
    assert run(["-V"], capsys)[:2] == (0, "orcgen %s\n" % __version__)


@pytest.mark.parametrize("cmd", ["check", "orc"])
def test_objtool_args_as_one_string(cmd, capsys):
    ref = run([cmd, "--stackval", "--orc", B], capsys)
    assert ref[0] in (0, 1) and ref[1]
    for form in (["--objtool-args", "--stackval --orc"], ["--objtool-args", "--stackval"],
                 ["--objtool-args=--stackval --orc"]):
        got = run([cmd, *form, B], capsys)
        assert got[:2] == ref[:2], form


def test_prefix_with_its_value_as_the_next_word(capsys):
    assert run(["orc", "--prefix", "16", A], capsys) == run(["orc", "--prefix=16", A], capsys)


@pytest.mark.parametrize("cmd", ["orc", "dump"])
def test_several_files_get_a_header_each(cmd, tmp_path, capsys):
    a, b = str(tmp_path / "a.o"), str(tmp_path / "b.o")
    if cmd == "dump":          # objects with ORC in them: the fixtures after orcgen wrote it
        for src, dst in ((A, a), (B, b)):
            shutil.copyfile(src, dst)
            assert run(["orc", "--write", dst], capsys)[0] == 0
    else:
        shutil.copyfile(A, a)
        shutil.copyfile(B, b)
    one_a, one_b = run([cmd, a], capsys)[1], run([cmd, b], capsys)[1]
    assert one_a and one_b and not one_a.startswith(a)          # one file: the table alone
    both = run([cmd, a, b], capsys)
    assert both[:2] == (0, "%s:\n%s%s:\n%s" % (a, one_a, b, one_b))
    assert run([cmd, "-j", "2", a, b], capsys)[:2] == both[:2]   # the same under -j
    assert run([cmd, "-H", a], capsys)[1] == "%s:\n%s" % (a, one_a)
    if shutil.which("ar"):                                       # archive members: one each
        lib = str(tmp_path / "lib.a")
        subprocess.run(["ar", "rcs", lib, a, b], check=True)
        assert run([cmd, lib], capsys)[1] == "%s(a.o):\n%s%s(b.o):\n%s" % (lib, one_a, lib, one_b)
