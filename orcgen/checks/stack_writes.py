# SPDX-License-Identifier: GPL-2.0-only
"""Writes to the stack or frame pointer that the unwind model does not follow.

The back-ends recognise every instruction that writes SP or FP; where the
write cannot be expressed as a stack operation (`sub %eax,%esp`, `enter`,
`addvl sp, sp, #-2`, x29 loaded by `ldxr`), they emit Src.UNKNOWN.  objtool's
decoder ignores those instructions, so the state machine does too (ORC stays
identical to objtool's), and the write would go unnoticed.  This check
reports each one: after it, every unwind table for the code that follows
describes a stack the code no longer has.

A frame-pointer write matters where the frame pointer is a frame pointer:
when it is the CFA base at that point, or on arm64, where the frame-record
chain (x29) is what the kernel's unwinder and perf follow everywhere.  In
x86-64 code that uses %rbp as a general register, writing it is fine.
"""
from __future__ import annotations

from typing import Iterable

from ..backend import BP_INDIRECT
from ..findings import Finding
from ..insn import Src
from .api import DECODED, STATES, Check, Context


class StackWritesCheck(Check):
    name = "stack-writes"
    description = "writes to the stack or frame pointer that neither orcgen's model nor objtool's follows"
    needs = frozenset({DECODED, STATES})
    kinds = {
        "unmodelled-sp-write": "the stack pointer changed in a way the unwind model cannot follow",
        "unmodelled-fp-write": "the frame pointer changed in a way the unwind model cannot follow "
                               "while it is in use as one",
    }

    def run(self, ctx: Context) -> Iterable[Finding]:
        p = ctx.program
        abi = p.abi
        sp, fp = abi.sp, abi.fp
        unknown = Src.UNKNOWN
        for i, ops in enumerate(p.insn.ops_list()):
            for op in ops:
                if op.src != unknown:
                    continue
                if op.dest_reg == sp:
                    kind, what = "unmodelled-sp-write", "stack pointer"
                elif op.dest_reg == fp and self._fp_in_use(p, i):
                    kind, what = "unmodelled-fp-write", "frame pointer"
                else:
                    continue
                text = p.disasm(i)
                msg = "%s %s changed by `%s`, which the unwind tables cannot follow" % (
                    what, abi.reg_name(op.dest_reg), text)
                yield ctx.finding(self, kind, msg, i, evidence=ctx.evidence_at(i, "unmodelled write"))
                break

    @staticmethod
    def _fp_in_use(p, i: int) -> bool:
        if p.abi.frame_records:
            return True
        c = p.cfi[i]
        return c is not None and c.cfa_base in (p.abi.fp, BP_INDIRECT)
