# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen objtool` / `orcgen-objtool`: objtool 6.12's command line and behaviour.

The goldens in tests/fixtures/x86_64 are objtool's stderr and ORC dump after
`objtool --orc --stackval NAME.o`; the stand-in must print the same warnings
(with `orcgen` for `objtool`) and leave the same ORC, with objtool's exit
statuses, and refuse what objtool would do that it does not.  The other
tables it writes are tested in test_objtool_tables.py.
"""
from __future__ import annotations

import glob
import io
import os
import re
import shutil
import subprocess
import sys

import pytest

from orcgen.cli import main as orcgen_main
from orcgen.commands import objtool as ot
from orcgen.commands.objtool import UsageError, objtool, parse
from orcgen.elf import ElfFile

HERE = os.path.dirname(os.path.abspath(__file__))
X86 = os.path.join(HERE, "fixtures", "x86_64")
GOLDEN = sorted(p[:-len(".objtool.txt")] for p in glob.glob(os.path.join(X86, "*.objtool.txt")))
KBUILD = ("--hacks=jump_label --hacks=noinstr --hacks=skylake --orc --retpoline --rethunk "
          "--static-call --uaccess --prefix=16").split()
CLEAN = os.path.join(X86, "switch-gcc-O2-fp.o")
# orcgen names registers where objtool prints its CFI numbers (arch/x86/include/arch/cfi_regs.h)
OBJTOOL_REGS = {0: "rax", 1: "rcx", 2: "rdx", 3: "rbx", 4: "rsp", 5: "rbp", 6: "rsi", 7: "rdi",
                **{n: "r%d" % n for n in range(8, 16)}}
OBJTOOL = os.environ.get("OBJTOOL", "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool")


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test is a fresh objtool process, without OBJTOOL_ARGS."""
    monkeypatch.delenv("OBJTOOL_ARGS", raising=False)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = objtool(argv, out, err)
    return status, out.getvalue(), err.getvalue()


def dump(path: str) -> str:
    status, out, err = run(["--dump=orc", path])
    assert (status, err) == (0, "")
    return out


# -- the command line ---------------------------------------------------------------------

def test_kbuild_command_line():
    a = parse(KBUILD + ["--link", "--module", "kernel/fork.o"])
    assert a.files == ["kernel/fork.o"] and a.prefix == 16 and not a.dump
    assert a.hacks == ["jump_label", "noinstr", "skylake"]
    assert a.flags == {"orc", "retpoline", "rethunk", "static-call", "uaccess", "link", "module"}
    o = a.options()
    assert (o.orc, o.retpoline, o.rethunk, o.static_call, o.uaccess, o.link, o.module) == (True,) * 7
    assert (o.hack_jump_label, o.hack_noinstr, o.hack_skylake, o.prefix) == (True, True, True, 16)
    assert (o.stackval, o.ibt, o.mcount, o.sls) == (False,) * 4


@pytest.mark.parametrize("argv,flags,hacks,prefix", [
    (["check", "--orc", "x.o"], {"orc"}, [], 0),                  # objtool < 5.19's subcommand
    (["-os", "x.o"], {"orc", "stackval"}, [], 0),                  # bundled short options
    (["-ou", "x.o"], {"orc", "uaccess"}, [], 0),                   # (-h is help: test_options_parse)
    (["--hacks", "x.o"], set(), ["jump_label", "noinstr", "skylake"], 0),
    (["--hacks=skylake,jump_label", "x.o"], set(), ["jump_label", "skylake"], 0),
    (["--hacks=skylake", "--hacks", "x.o"], set(), ["skylake", "jump_label", "noinstr"], 0),
    (["--orc", "--prefix", "16", "x.o"], {"orc"}, [], 16),
    (["--orc", "x.o", "--stackval"], {"orc", "stackval"}, [], 0),   # options after the file
    (["--orc", "--", "-x.o"], {"orc"}, [], 0),
])
def test_parse_variants(argv, flags, hacks, prefix):
    a = parse(argv)
    assert (a.flags, a.hacks, a.prefix, len(a.files)) == (flags, hacks, prefix, 1)


def test_objtool_args_environment_comes_first(monkeypatch):
    monkeypatch.setenv("OBJTOOL_ARGS", "--stackval --uaccess")
    assert parse(["--orc", "x.o"]).flags == {"orc", "stackval", "uaccess"}


@pytest.mark.parametrize("argv,message", [
    (["--bogus", "x.o"], "unknown option `bogus'"),
    (["-q", "x.o"], "unknown switch `q'"),
    (["--orc=1", "x.o"], "option `orc' takes no value"),
    (["--hacks=nothing", "x.o"], "option `hacks' has an invalid value"),
    (["--dump=json", "x.o"], "option `dump' has an invalid value"),
    (["--orc", "--prefix"], "option `prefix' requires a value"),
])
def test_bad_options_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        parse(argv)
    status, out, err = run(argv)
    assert status == 129 and out == ""
    assert err.startswith("  Error: %s\n\n Usage: orcgen-objtool <actions> [<options>] file.o" % message)


@pytest.mark.parametrize("argv", [["--orc"], ["--orc", "a.o", "b.o"]])
def test_not_exactly_one_file_is_a_usage_error(argv):
    status, _, err = run(argv)
    assert status == 129 and err.startswith("\n Usage: ") and "--static-call" in err


@pytest.mark.parametrize("argv,message", [
    (["x.o"], "At least one action required"),
    (["--cfi", "x.o"], "At least one action required"),          # --cfi is no action to opts_valid()
    (["--dump=orc", "--orc", "x.o"], "--dump can't be combined with other actions"),
    (["--unret", "x.o"], "--unret requires --rethunk"),
])
def test_invalid_option_combinations_exit_1(argv, message):
    assert run(argv) == (1, "", "error: orcgen: %s\n" % message)


@pytest.mark.parametrize("opt", ["--noinstr", "--ibt", "--unret"])
def test_options_that_need_link(tmp_path, opt):
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    argv = ["--orc", "--rethunk", opt, obj]
    data = open(obj, "rb").read()
    assert run(argv) == (1, "", "error: orcgen: %s requires --link\n" % opt)
    assert open(obj, "rb").read() == data


def test_mnop_needs_mcount(tmp_path):
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    assert run(["--orc", "--mnop", obj]) == (1, "", "error: orcgen: --mnop requires --mcount\n")


def test_missing_file_exit_1():
    status, out, err = run(["--orc", "/nonexistent/x.o"])
    assert (status, out) == (1, "")
    assert err == "orcgen: Can't open '/nonexistent/x.o': No such file or directory\n"


# -- what it does ------------------------------------------------------------------------

@pytest.mark.parametrize("name", GOLDEN, ids=os.path.basename)
def test_orc_stackval_matches_objtool_goldens(tmp_path, monkeypatch, name):
    """objtool's stderr (objtool -> orcgen) and ORC for `--orc --stackval NAME.o`."""
    base = os.path.basename(name) + ".o"
    shutil.copyfile(name + ".o", str(tmp_path / base))
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["--orc", "--stackval", base])
    golden = open(name + ".objtool.txt").read().replace(": warning: objtool: ", ": warning: orcgen: ")
    golden = re.sub(r"cfa([12])=(-?\d+)([+-]\d+)",
                    lambda m: "cfa%s=%s%s" % (m[1], OBJTOOL_REGS[int(m[2])], m[3]), golden)
    if "objtool exit status" in golden:
        golden, _, code = golden.rpartition("objtool exit status ")
        assert status == int(code)
    else:
        assert status == 0
    assert (out, err) == ("", golden)
    assert dump(base) == open(name + ".orc.txt").read()


def test_kbuild_line_writes_orc_and_says_nothing_more(tmp_path):
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    status, out, err = run(KBUILD + [obj])
    assert (status, out) == (0, "")
    assert notes_in(err) == [] and "error" not in err
    assert all(ln.startswith(obj + ": warning: orcgen: ") for ln in err.splitlines())
    assert dump(obj) == subprocess_free_orc(CLEAN, KBUILD)


def notes_in(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("orcgen: note: ")]


def subprocess_free_orc(path: str, args: list[str]) -> str:
    """The ORC `orcgen orc` computes for `path` with objtool's `args`."""
    from orcgen.options import Options
    from orcgen.pipeline import analyze_elf
    opts, _ = Options.from_objtool_args(args)
    return "".join(r.text() + "\n" for r in analyze_elf(ElfFile.from_path(path), opts).orc or [])


@pytest.mark.parametrize("argv", [["--orc", "--mcount"], ["--orc", "--mcount", "--mnop"],
                                  ["--orc", "--ibt", "--link"], ["--rethunk", "--unret", "--link"],
                                  ["--noinstr", "--link"]])
def test_former_unimplemented_actions_are_performed(tmp_path, argv):
    """--mcount, --mnop, --ibt, --unret and --noinstr alone were refused ("not
    implemented") before orcgen did them; now nothing is refused."""
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    status, out, err = run(argv + [obj])
    assert status == 0 and "not implemented" not in err
    assert ot.not_performed(parse(argv + [obj])) == []


def test_everything_of_a_kernel_build_is_performed():
    a = parse(KBUILD + ["--cfi", "--module", "--link", "--sls", "--stackval", "x.o"])
    assert ot.not_performed(a) == []


def test_output_only_options_are_accepted(tmp_path):
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    assert run(["--orc", "--uaccess", "--stats", "--verbose", "--backtrace", "--sec-address", obj]) \
        == (0, "", "")


def test_warnings_do_not_change_the_exit_status(tmp_path):
    obj = str(tmp_path / "n.o")
    shutil.copyfile(os.path.join(X86, "noreturn-gcc-O2-fp.o"), obj)
    status, _, err = run(["--orc", obj])
    assert status == 0 and "falls through to next function" in err


def test_second_run_warns_and_exits_0_like_objtool(tmp_path):
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    assert run(["--orc", obj])[0] == 0
    data = open(obj, "rb").read()
    assert run(["--orc", obj]) == \
        (0, "", "%s: warning: orcgen: file already has .orc_unwind section, skipping\n" % obj)
    assert open(obj, "rb").read() == data


def test_dry_run_and_backup(tmp_path):
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    data = open(obj, "rb").read()
    assert run(["--orc", "--dry-run", obj]) == (0, "", "")
    assert open(obj, "rb").read() == data
    assert run(["--orc", "--backup", obj]) == (0, "", "")
    assert open(obj + ".orig", "rb").read() == data and open(obj, "rb").read() != data


def test_unwritable_object_exit_255(tmp_path, monkeypatch):
    from orcgen import elfwrite
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    data = open(obj, "rb").read()

    def fail(*a):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(elfwrite.os, "replace", fail)
    status, _, err = run(["--orc", obj])
    assert status == 255 and "can't write the object: No space left on device" in err
    assert open(obj, "rb").read() == data


def test_dump_of_object_without_orc_is_empty():
    assert run(["--dump", CLEAN]) == (0, "", "")


def test_through_orcgen_command_line(tmp_path, capsys):
    obj = str(tmp_path / "x.o")
    shutil.copyfile(CLEAN, obj)
    assert orcgen_main(["objtool", "--orc", "--prefix", "16", obj]) == 0
    assert orcgen_main(["objtool", "--dump=orc", obj]) == 0
    assert capsys.readouterr().out == subprocess_free_orc(CLEAN, ["--orc", "--prefix=16"])


def test_scripts_are_declared_and_run():
    """bin/orcgen-objtool is the name kbuild's OBJTOOL= uses; both scripts are
    installed as written (pyproject's script-files)."""
    text = open(os.path.join(HERE, "..", "pyproject.toml")).read()
    assert 'script-files = ["bin/orcgen", "bin/orcgen-objtool"]' in text
    bindir = os.path.join(HERE, "..", "bin")
    env = {k: v for k, v in os.environ.items() if k != "ORCGEN_WORKER"}
    status = subprocess.run([sys.executable, os.path.join(bindir, "orcgen-objtool"), "--orc"],
                            capture_output=True, env=env)
    assert status.returncode == 129
    status = subprocess.run([sys.executable, os.path.join(bindir, "orcgen"), "dump", "/nonexistent"],
                            capture_output=True, env=env, text=True)
    assert (status.returncode, status.stderr) == (2, "orcgen: error: /nonexistent: No such file or directory\n")


@pytest.mark.skipif(not os.access(OBJTOOL, os.X_OK), reason="objtool 6.12 is not installed at %s" % OBJTOOL)
@pytest.mark.parametrize("argv", [["--orc"], ["--bogus", "x.o"], ["x.o"], ["--dump=orc", "--orc", "x.o"],
                                  ["--noinstr", "--orc", "x.o"], ["--orc", "/nonexistent.o"]])
def test_exit_status_equals_objtools(tmp_path, argv):
    argv = [str(tmp_path / a) if a == "x.o" else a for a in argv]
    if str(tmp_path / "x.o") in argv:
        shutil.copyfile(CLEAN, str(tmp_path / "x.o"))
    theirs = subprocess.run([OBJTOOL] + argv, capture_output=True, text=True,
                            env=dict(os.environ, SRCARCH="x86"))
    assert run(argv)[0] == theirs.returncode


def test_validation_only_writes_nothing(tmp_path):
    obj = str(tmp_path / "nofp.o")
    shutil.copyfile(os.path.join(X86, "basic-gcc-O2-nofp.o"), obj)
    data = open(obj, "rb").read()
    status, _, err = run(["--stackval", obj])
    assert status == 0 and "call without frame pointer save/setup" in err
    assert open(obj, "rb").read() == data


def test_linked_object_forces_link(tmp_path):
    """Two STT_FILE symbols make a linked object (link_opts_valid()); objtool says so,
    forces --link, and goes on."""
    from orcgen.elf import SHN_ABS, STB_LOCAL, STT_FILE
    from orcgen.elfwrite import NewSymbol, add_to_elf
    obj = str(tmp_path / "linked.o")
    with open(obj, "wb") as f:
        f.write(add_to_elf(open(CLEAN, "rb").read(), [],
                           [NewSymbol("other.c", STT_FILE, STB_LOCAL, special=SHN_ABS)]))
    status, _, err = run(["--orc", "--noinstr", obj])
    assert status == 0
    assert err.splitlines()[0] == "error: orcgen: Linked object detected, forcing --link"
    assert dump(obj) == subprocess_free_orc(CLEAN, ["--orc", "--noinstr", "--link"])
