# SPDX-License-Identifier: GPL-2.0-only
"""kbuild's .NAME.o.cmd -> a compile command that works from any directory."""
import glob
import os
import shutil
import subprocess

import pytest

from orcgen.kbuild_cmd import CmdError, compile_command

LINE = ("savedcmd_drivers/foo/bar.o := ccache gcc -Wp,-MMD,drivers/foo/.bar.o.d -nostdinc "
        "-I./arch/x86/include -I/src/include -I ./include/generated "
        "-include ./include/linux/kconfig.h -fplugin=./scripts/gcc-plugins/stackleak_plugin.so "
        "-fplugin-arg-stackleak_plugin-track-min-size=100 -Werror -Werror=return-type -O2 "
        "-DKBUILD_MODFILE='\"drivers/foo/bar\"' -c -o drivers/foo/bar.o drivers/foo/bar.c   ; "
        "./tools/objtool/objtool --hacks=jump_label --orc drivers/foo/bar.o\n\n"
        "source_drivers/foo/bar.o := drivers/foo/bar.c\n")


def test_the_command_is_made_to_run_from_anywhere(tmp_path):
    d = tmp_path / "obj" / "drivers" / "foo"
    d.mkdir(parents=True)
    (d / ".bar.o.cmd").write_text(LINE)
    words, source = compile_command(str(d / ".bar.o.cmd"))
    tree = str(tmp_path / "obj")
    assert source == tree + "/drivers/foo/bar.c"
    assert words == ["gcc", "-nostdinc", "-I" + tree + "/arch/x86/include", "-I/src/include",
                     "-I", tree + "/include/generated", "-include", tree + "/include/linux/kconfig.h",
                     "-fplugin=" + tree + "/scripts/gcc-plugins/stackleak_plugin.so",
                     "-fplugin-arg-stackleak_plugin-track-min-size=100", "-Werror=return-type", "-O2",
                     '-DKBUILD_MODFILE="drivers/foo/bar"']


def test_not_a_cmd_file(tmp_path):
    p = tmp_path / "x.cmd"
    p.write_text("deps_foo := bar.h\n")
    with pytest.raises(CmdError, match="no savedcmd_"):
        compile_command(str(p))
    with pytest.raises(CmdError):
        compile_command(str(tmp_path / "missing.cmd"))


KBUILD = os.environ.get("ORCGEN_KBUILD", "/work/kbuild/objtool-noibt")


@pytest.mark.skipif(not glob.glob(KBUILD + "/kernel/.*.o.cmd") or not shutil.which("gcc"),
                    reason="needs a kernel build tree (ORCGEN_KBUILD, from bench/defconfig-build.sh) and gcc")
def test_a_real_kernel_object_rebuilds_identically_elsewhere(tmp_path):
    cmd = sorted(glob.glob(KBUILD + "/kernel/.*.o.cmd"))[0]
    obj = os.path.join(os.path.dirname(cmd), os.path.basename(cmd)[1:-len(".cmd")])
    words, source = compile_command(cmd)
    subprocess.run(words + ["-c", source, "-o", "again.o"], cwd=tmp_path, check=True)
    text = []
    for o in (str(tmp_path / "again.o"), obj + ".pre" if os.path.exists(obj + ".pre") else obj):
        out = tmp_path / ("t%d" % len(text))
        subprocess.run(["objcopy", "-O", "binary", "-j", ".text", o, str(out)], check=True)
        text.append(out.read_bytes())
    assert text[0] == text[1] and text[0]


def test_report_names_a_missing_cmd_file_in_one_line(tmp_path, capsys):
    from conftest import FIXTURES

    from orcgen.cli import main
    obj = tmp_path / "thing.o"
    shutil.copy(os.path.join(FIXTURES, "x86_64", "switch-gcc-O2-fp.o"), obj)
    assert main(["report", str(obj), "--kbuild-cmd"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orcgen: error: %s: " % (tmp_path / ".thing.o.cmd")) and err.count("\n") == 1
