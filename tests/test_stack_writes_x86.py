# SPDX-License-Identifier: GPL-2.0-only
"""The stack-writes check on x86-64: every write to %rsp, and every write to
%rbp while the CFA is %rbp-based, that objtool's decoder passes by silently
is reported at its instruction; the writes objtool models are not.

Each case is hand-assembled (bytes checked with objdump/capstone when written)
inside a small function in an ELF object made in memory (tests/elfbuild.py).
"""
import os
import subprocess

import pytest
from conftest import OBJTOOL, needs_objtool
from elfbuild import ElfBuilder

from orcgen.checks import select
from orcgen.elf import ElfFile
from orcgen.insn import Dest, Src, StackOp
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

RSP, RBP = 7, 6

# %rsp writes: the instruction goes at f+0x1, between push %rbx and pop %rbx; ret.
SP_WRITES = [
    ("29c4", "sub %eax,%esp"),
    ("2be0", "sub %eax,%esp (2b form)"),
    ("83ec10", "sub $0x10,%esp"),
    ("4887c4", "xchg %rax,%rsp"),
    ("4894", "xchg %rax,%rsp (short form)"),
    ("488b20", "mov (%rax),%rsp"),
    ("488be0", "mov %rax,%rsp (8b form)"),
    ("89c4", "mov %eax,%esp"),
    ("bc00100000", "mov $0x1000,%esp"),
    ("c8100000", "enter $0x10,$0x0"),
    ("488d24c4", "lea (%rsp,%rax,8),%rsp"),
    ("8d642408", "lea 0x8(%rsp),%esp"),
    ("480f44e0", "cmove %rax,%rsp"),
    ("480fc1c4", "xadd %rax,%rsp"),
    ("4811c4", "adc %rax,%rsp"),
    ("4809c4", "or %rax,%rsp"),
    ("4883cc08", "or $0x8,%rsp"),
    ("4819c4", "sbb %rax,%rsp"),
    ("4821c4", "and %rax,%rsp"),
    ("48f7dc", "neg %rsp"),
    ("48f7d4", "not %rsp"),
    ("48c1e404", "shl $0x4,%rsp"),
    ("48d1ec", "shr %rsp"),
    ("480fafe0", "imul %rax,%rsp"),
    ("48ffc4", "inc %rsp"),
    ("8fc4", "pop %rsp (8f /0 register form)"),
    ("4088c4", "mov %al,%spl"),
    ("66b80000", None),                      # mov $0,%ax: no write (control)
    ("c4e2f8f2e0", "andn %rax,%rax,%rsp"),
    ("c4e2f9f7e3", "shlx %rax,%rbx,%rsp"),
    ("c4e3fbf0e008", "rorx $0x8,%rax,%rsp"),
    ("c4e2d8f3c8", "blsr %rax,%rsp"),
    ("62f1fd087ec4", "vmovq %xmm0,%rsp (EVEX)"),
]

# %rbp writes: the instruction goes at f+0x4, inside push %rbp; mov %rsp,%rbp ... leave; ret.
FP_WRITES = [
    ("31ed", "xor %ebp,%ebp"),
    ("488b28", "mov (%rax),%rbp"),
    ("488be8", "mov %rax,%rbp (8b form)"),
    ("89c5", "mov %eax,%ebp"),
    ("4887c5", "xchg %rax,%rbp"),
    ("4895", "xchg %rax,%rbp (short form)"),
    ("488d2cc4", "lea (%rsp,%rax,8),%rbp"),
    ("480f44e8", "cmove %rax,%rbp"),
    ("480fc1c5", "xadd %rax,%rbp"),
    ("4883cd08", "or $0x8,%rbp"),
    ("4883c508", "add $0x8,%rbp"),
    ("4829c5", "sub %rax,%rbp"),
    ("8fc5", "pop %rbp (8f /0 register form)"),
    ("c4e2f8f2e8", "andn %rax,%rax,%rbp"),
]

# Writes objtool models itself: its stack operation, no finding.
MODELLED = [
    ("4883ec08", "sub $0x8,%rsp"),
    ("488d642408", "lea 0x8(%rsp),%rsp"),
    ("488b6c2408", "mov 0x8(%rsp),%rbp"),
    ("4889e5", "mov %rsp,%rbp"),
]


def analyse(code: bytes, opts=None):
    b = ElfBuilder()
    b.section(".text", code)
    b.func("f", ".text", 0, len(code))
    return analyze_elf(ElfFile(b.build(), "t.o"), opts or Options(), keep_program=True,
                       cache=None, checks=select("check"))


def stack_writes(res):
    return [(f.kind, f.where) for f in res.findings if f.check == "stack-writes"]


def sp_func(insn_hex: str) -> bytes:
    return bytes.fromhex("53" + insn_hex + "5bc3")


def fp_func(insn_hex: str) -> bytes:
    return bytes.fromhex("554889e5" + insn_hex + "c9c3")


@pytest.mark.parametrize("hexbytes,what", SP_WRITES, ids=[c[0] for c in SP_WRITES])
def test_sp_write_is_reported(hexbytes, what):
    res = analyse(sp_func(hexbytes))
    if what is None:
        assert stack_writes(res) == []
    else:
        assert stack_writes(res) == [("unmodelled-sp-write", "f+0x1")], what


@pytest.mark.parametrize("hexbytes,what", FP_WRITES, ids=[c[0] for c in FP_WRITES])
def test_fp_write_is_reported_while_cfa_is_rbp_based(hexbytes, what):
    res = analyse(fp_func(hexbytes))
    assert stack_writes(res) == [("unmodelled-fp-write", "f+0x4")], what


@pytest.mark.parametrize("hexbytes,what", FP_WRITES, ids=[c[0] for c in FP_WRITES])
def test_fp_write_without_frame_pointer_is_fine(hexbytes, what):
    """%rbp as a general register (no frame pointer in use): nothing to say."""
    res = analyse(sp_func(hexbytes))
    assert stack_writes(res) == [], what


@pytest.mark.parametrize("hexbytes,what", MODELLED, ids=[c[0] for c in MODELLED])
def test_modelled_writes_are_not_reported(hexbytes, what):
    res = analyse(fp_func(hexbytes))
    assert stack_writes(res) == [], what
    assert all(op.src != Src.UNKNOWN for ins in res.program.insn for op in ins.ops)


def test_pop_to_memory_form_keeps_objtool_op():
    """8f c4 is `pop %rsp`; objtool models every 8f as a pop to memory, and
    orcgen keeps exactly that op (the interpreter applies it), plus the write."""
    res = analyse(sp_func("8fc4"))
    ins = next(i for i in res.program.insn if i.offset == 1)
    assert ins.ops == (StackOp(Src.POP, Dest.MEM), StackOp(Src.UNKNOWN, Dest.REG, dest_reg=RSP))


def test_enter_writes_both():
    res = analyse(sp_func("c8100000"))
    ins = next(i for i in res.program.insn if i.offset == 1)
    assert ins.ops == (StackOp(Src.UNKNOWN, Dest.REG, dest_reg=RSP),
                       StackOp(Src.UNKNOWN, Dest.REG, dest_reg=RBP))


def test_orc_ignores_unmodelled_writes():
    """The state machine skips Src.UNKNOWN: the ORC is the one for the same
    function with the write replaced by nops (where objtool models nothing of
    the instruction; 8f keeps objtool's pop)."""
    for hexbytes, _ in SP_WRITES + FP_WRITES:
        if hexbytes.startswith("8f"):
            continue
        n = len(bytes.fromhex(hexbytes))
        for make in (sp_func, fp_func):
            a = analyse(make(hexbytes), Options(orc=True))
            b = analyse(make("90" * n), Options(orc=True))
            assert [r.text() for r in a.orc] == [r.text() for r in b.orc], hexbytes


@needs_objtool
@pytest.mark.parametrize("hexbytes", ["29c4", "488be0", "c8100000", "4887c4", "31ed", "8fc4"])
def test_orc_equals_objtools(tmp_path, hexbytes):
    """objtool is silent on these writes (or, for 8f, models a pop to memory):
    orcgen's ORC for the function is objtool's, line for line."""
    for make in (sp_func, fp_func):
        b = ElfBuilder()
        code = make(hexbytes)
        b.section(".text", code)
        b.func("f", ".text", 0, len(code))
        obj = tmp_path / "t.o"
        obj.write_bytes(b.build())
        env = dict(os.environ, SRCARCH="x86")
        subprocess.run([OBJTOOL, "--orc", str(obj)], env=env, check=True, capture_output=True)
        want = subprocess.run([OBJTOOL, "--dump=orc", str(obj)], env=env, check=True,
                              capture_output=True, text=True).stdout.splitlines()
        b2 = ElfBuilder()
        b2.section(".text", code)
        b2.func("f", ".text", 0, len(code))
        res = analyze_elf(ElfFile(b2.build(), "t.o"), Options(orc=True), cache=None)
        assert [r.text() for r in res.orc or ()] == want, (hexbytes, make.__name__)
