# SPDX-License-Identifier: GPL-2.0-only
"""Kernel or userspace, told from the object (orcgen/flavour.py), and what it changes in `orcgen diff`."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from orcgen.diff import diff_object
from orcgen.elf import ElfFile
from orcgen.flavour import KERNEL, USERSPACE, detect, resolve
from orcgen.options import Options
from tests.elfbuild import R_X86_64_32S, R_X86_64_PLT32, ElfBuilder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X86 = os.path.join(ROOT, "tests", "fixtures", "x86_64")
CORPUS = "/work/corpus/x86-gcc/src"
LIBDIR = "/usr/lib/x86_64-linux-gnu"
RET = b"\xc3"


def _elf(build) -> ElfFile:
    b = ElfBuilder()
    build(b)
    return ElfFile(b.build(), "t.o")


def _call(b: ElfBuilder, target: str, rtype: int = R_X86_64_PLT32) -> None:
    s = b.section(".text", b"\xe8\0\0\0\0" + RET)
    s.relocs.append((1, rtype, target, -4))
    b.func("f", ".text", 0, 6)
    b.extern(target)


def test_kernel_markers():
    assert detect(_elf(lambda b: _call(b, "__fentry__"))).kind == KERNEL
    assert detect(_elf(lambda b: _call(b, "__x86_indirect_thunk_rax"))).kind == KERNEL

    def ex_table(b):
        _call(b, "memcpy")
        b.section("__ex_table", b"\0" * 12, exec=False)
    assert detect(_elf(ex_table)).kind == KERNEL


def test_userspace_markers():
    assert detect(_elf(lambda b: _call(b, "memcpy"))).kind == USERSPACE       # code, no kernel marker
    assert detect(_elf(lambda b: _call(b, "memcpy", 42))).reason.startswith("GOT/TLS")
    assert detect(_elf(lambda b: _call(b, "memcpy", 10))).kind == USERSPACE   # R_X86_64_32 in code


def test_kernel_code_model_and_no_code():
    assert detect(_elf(lambda b: _call(b, "table", R_X86_64_32S))).kind == KERNEL

    def data_only(b):
        b.section(".rodata", b"\1\2\3\4", exec=False)
    assert detect(_elf(data_only)).kind == KERNEL


def test_overrides_win():
    e = _elf(lambda b: _call(b, "__fentry__"))
    assert resolve(e, True).kind == USERSPACE
    assert resolve(e, False, USERSPACE).kind == USERSPACE
    assert resolve(_elf(lambda b: _call(b, "memcpy")), False, KERNEL).kind == KERNEL


def test_userspace_fixtures_detected():
    files = sorted(glob.glob(os.path.join(X86, "*-O2-user.o")))
    assert files
    for f in files:
        assert detect(ElfFile.from_path(f)).kind == USERSPACE, f


@pytest.mark.skipif(not os.path.exists(os.path.join(LIBDIR, "crt1.o")), reason="libc6-dev not installed")
def test_glibc_start_files_are_userspace():
    for n in ("crt1.o", "Scrt1.o"):
        assert detect(ElfFile.from_path(os.path.join(LIBDIR, n))).kind == USERSPACE


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="kernel object corpus %s absent" % CORPUS)
def test_kernel_corpus_all_kernel():
    files = glob.glob(os.path.join(CORPUS, "**", "*.o.pre"), recursive=True)
    assert files
    wrong = [f for f in files if detect(ElfFile.from_path(f)).kind != KERNEL]
    assert not wrong, wrong[:5]


def test_detection_reaches_the_diff():
    """A userspace switch through a PIC table: compared without --userspace now."""
    e = ElfFile.from_path(os.path.join(X86, "switch-gcc-O2-user.o"))
    auto = diff_object(e, Options(), "auto")
    forced = diff_object(e, Options(), "auto", KERNEL)
    assert auto.flavour == USERSPACE and forced.flavour == KERNEL
    assert auto.tally.compared > forced.tally.compared
    assert auto.tally == diff_object(e, Options(userspace=True), "auto").tally


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orcgen.cli", "diff", "--no-cache", *args],
                          cwd=ROOT, capture_output=True, text=True)


def test_cli_kernel_override_and_contradiction():
    f = os.path.join(X86, "switch-gcc-O2-user.o")
    j_auto = _cli("--format", "json", f)
    j_kern = _cli("--format", "json", "--kernel", f)
    assert j_auto.returncode in (0, 1) and j_kern.returncode in (0, 1), j_kern.stderr
    assert j_auto.stdout != j_kern.stdout
    bad = _cli("--kernel", "--userspace", f)
    assert bad.returncode == 2 and "contradict" in bad.stderr
