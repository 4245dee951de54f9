# SPDX-License-Identifier: GPL-2.0-only
"""A stripped shared library keeps only .dynsym: its exported functions must
still be functions, or every instruction is reported on its own."""
import shutil
import subprocess

import pytest

from orcgen.elf import ElfFile

SRC = """
int g(int x);
__attribute__((noinline)) int exported_one(int x) { return g(x) + 1; }
__attribute__((noinline)) int exported_two(int x) { return exported_one(x) * 3; }
"""


@pytest.mark.skipif(not shutil.which("gcc") or not shutil.which("strip"),
                    reason="needs gcc and strip to build a shared library")
def test_stripped_library_functions_come_from_dynsym(tmp_path):
    c = tmp_path / "lib.c"
    c.write_text(SRC)
    so = tmp_path / "lib.so"
    subprocess.run(["gcc", "-O2", "-fPIC", "-shared", "-o", str(so), str(c)], check=True)
    subprocess.run(["strip", str(so)], check=True)
    elf = ElfFile(so.read_bytes())
    assert elf.symtab is None                      # nothing to write into
    funcs = {s.name for s in elf.symbols if s.type == 2 and s.size}
    assert {"exported_one", "exported_two"} <= funcs
    text = elf.section_by_name(".text")
    one = next(s for s in elf.symbols if s.name == "exported_one")
    assert one.section == text.index and one.offset == one.value - text.addr
