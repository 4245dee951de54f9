# SPDX-License-Identifier: GPL-2.0-only
"""Bytes -> facts for the x86-64 decoder: kind, immediate and stack operations,
as objtool's arch/x86/decode.c reads the same bytes."""
import pytest

from orcgen.arch.x86_64 import BACKEND
from orcgen.insn import Dest, Kind, Src, StackOp

RSP, RBP, RAX, RBX, R10, R12, R13 = 7, 6, 0, 3, 10, 12, 13

CASES = [
    # bytes, kind, immediate, ops
    ("55", Kind.OTHER, 0, [StackOp(Src.REG, Dest.PUSH, src_reg=RBP)]),
    ("4154", Kind.OTHER, 0, [StackOp(Src.REG, Dest.PUSH, src_reg=R12)]),
    ("5d", Kind.OTHER, 0, [StackOp(Src.POP, Dest.REG, dest_reg=RBP)]),
    ("415d", Kind.OTHER, 0, [StackOp(Src.POP, Dest.REG, dest_reg=R13)]),
    ("4889e5", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=RSP, dest_reg=RBP)]),
    ("4889ec", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=RBP, dest_reg=RSP)]),
    ("488bec", Kind.OTHER, 0,                      # 8b /r register form: objtool ignores it
     [StackOp(Src.UNKNOWN, Dest.REG, dest_reg=RBP)]),   # (the stack-writes check does not)
    ("4883ec18", Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=RSP, src_off=-0x18, dest_reg=RSP)]),
    ("4883c418", Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=RSP, src_off=0x18, dest_reg=RSP)]),
    ("4881ec00010000", Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=RSP, src_off=-0x100, dest_reg=RSP)]),
    ("4883e4f0", Kind.OTHER, 0, [StackOp(Src.AND, Dest.REG, src_reg=RSP, src_off=-16, dest_reg=RSP)]),
    ("4883fc10", Kind.OTHER, 0, []),               # cmp $0x10,%rsp
    ("83ec10", Kind.OTHER, 0,                      # sub $0x10,%esp: not 64-bit, objtool ignores it
     [StackOp(Src.UNKNOWN, Dest.REG, dest_reg=RSP)]),
    ("4c8d542408", Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=RSP, src_off=8, dest_reg=R10)]),
    ("498d62f8", Kind.OTHER, 0, [StackOp(Src.ADD, Dest.REG, src_reg=R10, src_off=-8, dest_reg=RSP)]),
    ("488d6500", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=RBP, dest_reg=RSP)]),
    ("488d0424", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=RSP, dest_reg=RAX)]),
    ("488d04c8", Kind.OTHER, 0, []),               # lea (%rax,%rcx,8): non-trivial SIB
    ("488d0500000000", Kind.OTHER, 0, []),         # lea 0(%rip)
    ("48895df8", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=RBX, dest_reg=RBP, dest_off=-8)]),
    ("48891c24", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=RBX, dest_reg=RSP, dest_off=0)]),
    ("488b5df8", Kind.OTHER, 0, [StackOp(Src.REG_INDIRECT, Dest.REG, src_reg=RBP, src_off=-8, dest_reg=RBX)]),
    ("488b1c24", Kind.OTHER, 0, [StackOp(Src.REG_INDIRECT, Dest.REG, src_reg=RSP, src_off=0, dest_reg=RBX)]),
    ("488920", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=RSP, dest_reg=RAX, dest_off=0)]),
    ("c9", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=RBP, dest_reg=RSP),
                           StackOp(Src.POP, Dest.REG, dest_reg=RBP)]),
    ("9c", Kind.OTHER, 0, [StackOp(Src.CONST, Dest.PUSHF)]),
    ("9d", Kind.OTHER, 0, [StackOp(Src.POPF, Dest.MEM)]),
    ("6a00", Kind.OTHER, 0, [StackOp(Src.CONST, Dest.PUSH)]),
    ("41ff72f8", Kind.OTHER, 0, [StackOp(Src.CONST, Dest.PUSH)]),     # pushq -0x8(%r10)
    ("8f00", Kind.OTHER, 0, [StackOp(Src.POP, Dest.MEM)]),
    ("e800000000", Kind.CALL, 0, [StackOp(Src.CONST, Dest.PUSH)]),
    ("e810000000", Kind.CALL, 0x10, [StackOp(Src.CONST, Dest.PUSH)]),
    ("ffd0", Kind.CALL_DYNAMIC, 0, []),
    ("41ffd3", Kind.CALL_DYNAMIC, 0, []),
    ("ffe0", Kind.JUMP_DYNAMIC, 0, []),
    ("ff24c500000000", Kind.JUMP_DYNAMIC, 0, []),
    ("eb05", Kind.JUMP_UNCOND, 5, []),
    ("ebfe", Kind.JUMP_UNCOND, -2, []),
    ("e9fbffffff", Kind.JUMP_UNCOND, -5, []),
    ("7403", Kind.JUMP_COND, 3, []),
    ("0f8410000000", Kind.JUMP_COND, 0x10, []),
    ("e3fe", Kind.JUMP_COND, -2, []),
    ("c3", Kind.RETURN, 0, []),
    ("c20800", Kind.RETURN, 0, []),
    ("cc", Kind.TRAP, 0, []),
    ("0f0b", Kind.BUG, 0, []),
    ("90", Kind.NOP, 0, []),
    ("f390", Kind.NOP, 0, []),                     # pause: objtool's 0x90 case
    ("0f1f4000", Kind.NOP, 0, []),
    ("660f1f440000", Kind.NOP, 0, []),
    ("f30f1efa", Kind.ENDBR, 0, []),
    ("0f01ca", Kind.CLAC, 0, []),
    ("0f01cb", Kind.STAC, 0, []),
    ("fc", Kind.CLD, 0, []),
    ("fd", Kind.STD, 0, []),
    ("0f05", Kind.CONTEXT_SWITCH, 0, []),
    ("0f07", Kind.CONTEXT_SWITCH, 0, []),
    ("cb", Kind.CONTEXT_SWITCH, 0, []),
    ("c5f877", Kind.OTHER, 0, []),                 # vzeroupper (VEX)
    ("4889c3", Kind.OTHER, 0, [StackOp(Src.REG, Dest.REG, src_reg=RAX, dest_reg=RBX)]),
    ("89c3", Kind.OTHER, 0, []),                   # 32-bit mov
    ("0fa0", Kind.OTHER, 0, [StackOp(Src.CONST, Dest.PUSH)]),
    ("0fa1", Kind.OTHER, 0, [StackOp(Src.POP, Dest.MEM)]),
]


@pytest.mark.parametrize("hexbytes,kind,imm,ops", CASES, ids=[c[0] for c in CASES])
def test_decode(hexbytes, kind, imm, ops):
    code = bytes.fromhex(hexbytes)
    insns, failure = BACKEND.decode_section(code, lambda off: True)
    assert failure is None
    assert len(insns) == 1 and insns[0].length == len(code)
    assert (insns[0].kind, insns[0].immediate, list(insns[0].ops)) == (kind, imm, ops)


def test_iret_depends_on_function():
    """sync_core()'s IRET-to-self pops five words; elsewhere iret leaves the frame."""
    inside, _ = BACKEND.decode_section(bytes.fromhex("48cf"), lambda off: True)
    outside, _ = BACKEND.decode_section(bytes.fromhex("48cf"), lambda off: False)
    assert inside[0].ops == (StackOp(Src.ADD, Dest.REG, src_reg=RSP, src_off=40, dest_reg=RSP),)
    assert outside[0].kind == Kind.CONTEXT_SWITCH


def test_instructions_capstone_does_not_know():
    """lkgs (f2 0f 00 /6) and serialize (0f 01 e8) are newer than capstone 5;
    decoding carries on after them with the right lengths."""
    code = bytes.fromhex("f20f00f7" "0f01e8" "c4e27849c0" "55" "c3")      # lkgs, serialize, tilerelease
    insns, failure = BACKEND.decode_section(code, lambda off: True)
    assert failure is None
    assert [(i.offset, i.length) for i in insns] == [(0, 4), (4, 3), (7, 5), (12, 1), (13, 1)]
    assert insns[3].ops == (StackOp(Src.REG, Dest.PUSH, src_reg=RBP),)


def test_undecodable_bytes_are_reported_with_their_offset():
    insns, failure = BACKEND.decode_section(bytes.fromhex("55" "06"), lambda off: True)
    assert [i.offset for i in insns] == [0]
    assert failure is not None and failure.offset == 1
