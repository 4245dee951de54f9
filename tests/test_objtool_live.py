# SPDX-License-Identifier: GPL-2.0-only
"""orcgen against the real objtool on code compiled now, when both tools exist.

The committed goldens pin known cases; this catches drift on fresh compiler output.
"""
import os
import shutil
import subprocess

import pytest
from conftest import OBJTOOL, needs_gcc, needs_objtool

from orcgen.elf import ElfFile
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

SOURCE = r"""
extern int ext(int);
extern void panic(const char *, ...) __attribute__((noreturn));
struct ops { int (*fn)(int); };
static int helper(int x) { return ext(x) * 3 + ext(x + 1); }
int many(int a, int b, int c, int d, int e, int f, int g) {
    int v[8]; for (int i = 0; i < 8; i++) v[i] = ext(a + i);
    return v[(b ^ c) & 7] + helper(d + e + f + g);
}
int sw(int x) {
    switch (x) { case 0: return ext(1); case 1: return ext(2) + 1; case 2: return ext(3) * 2;
    case 3: return ext(4) - 1; case 4: return ext(5) << 2; case 5: return helper(6);
    case 6: return 7; default: panic("bad %d", x); }
}
int indirect(struct ops *o, int x) { return o->fn(x) + 1; }
int tail(int x) { if (x > 3) return ext(x); return helper(x); }
void *stack(int n) { char buf[n]; buf[0] = 1; ext(buf[n / 2]); return 0; }
"""
FLAGS = ["-mcmodel=kernel", "-fno-PIE", "-mno-red-zone", "-ffreestanding", "-fno-stack-protector",
         "-fno-asynchronous-unwind-tables"]


@needs_gcc
@needs_objtool
@pytest.mark.parametrize("opt", ["-O2", "-Os", "-O0"])
@pytest.mark.parametrize("fp", ["-fno-omit-frame-pointer", "-fomit-frame-pointer"])
def test_fresh_gcc_code(tmp_path, opt, fp):
    src = tmp_path / "t.c"
    src.write_text(SOURCE)
    obj = tmp_path / "t.o"
    subprocess.run(["gcc", "-c", opt, fp, *FLAGS, str(src), "-o", str(obj)], check=True)
    ref = tmp_path / "ref.o"
    shutil.copy(obj, ref)
    env = dict(os.environ, SRCARCH="x86")
    subprocess.run([OBJTOOL, "--orc", str(ref)], env=env, check=True, capture_output=True)
    want = subprocess.run([OBJTOOL, "--dump=orc", str(ref)], env=env, check=True,
                          capture_output=True, text=True).stdout.splitlines()
    res = analyze_elf(ElfFile.from_path(str(obj)), Options(orc=True))
    assert [r.text() for r in res.orc or ()] == want
