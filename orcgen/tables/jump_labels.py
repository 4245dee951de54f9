# SPDX-License-Identifier: GPL-2.0-only
"""Code objtool rewrites: jump-label JMPs made NOPs, and calls it removes.

--hacks=jump_label (check.c handle_jump_alt()): a `__jump_table` entry whose key
addend has bit 1 set marks a JMP the compiler emitted for a static branch
(arch_static_branch_jump(): the assembler chose a 2- or 5-byte jump); objtool
writes the NOP of the same size over it and turns the jump's relocation, if it
has one, into R_NONE.  orcgen's CFG makes the same decision (the jump's kind
becomes NOP), so the sites are the unconditional jumps it turned into NOPs.

--hacks=noinstr and --mnop (annotate_call_site()): a call objtool removes becomes
a NOP, a tail call RET; INT3 (padded); the relocation becomes R_NONE.  Which
ones is sites.py's `removed` list.

The bytes are the architecture's (orcgen.arch.<name>.patching).
"""
from __future__ import annotations

import importlib

from ..errors import InputError
from ..insn import Kind
from ..program import Program
from . import Edits

_PATCHING = {62: "orcgen.arch.x86_64.patching"}


def _patching(p: Program):
    name = _PATCHING.get(p.elf.machine)
    if name is None:
        raise InputError("rewriting code is not supported for %s" % p.elf.machine_name)
    return importlib.import_module(name)


def jump_label_nops(p: Program) -> list[int]:
    """The jump-label JMPs objtool turns into NOPs, in code order."""
    if not p.opts.hack_jump_label:
        return []
    return [i for i in p.insn.with_kind(Kind.JUMP_UNCOND) if p.kind[i] == Kind.NOP]


def rewrite(ed: Edits, p: Program, i: int, what: str) -> None:
    """Write a NOP ("nop") or RET ("ret") over instruction i; its relocation to R_NONE."""
    arch = _patching(p)
    ins = p.insn[i]
    secno = p.sec_of[i].sec.index
    r = p.reloc_in(i)
    if r is not None:
        ed.set_reloc_type(secno, r, ed.r_none)
    try:
        code = arch.nop_insn(ins.length) if what == "nop" else arch.ret_insn(ins.length)
    except ValueError as e:
        raise InputError("%s: %s" % (p.where(i), e)) from None
    ed.patch(secno, ins.offset, code)
