# SPDX-License-Identifier: GPL-2.0-only
"""The compiler's DWARF CFI against the computed stack state, as a check.

`orcgen diff` is the full tool (tallies, not-determined ranges, evidence
windows); this check turns its disagreements into findings, so that `check`
can report them beside objtool's validations and every command renders them
the same way (text, JSON, SARIF).  Off by default in `check`: objtool does not
read DWARF, and most kernel objects carry none.
"""
from __future__ import annotations

from typing import Iterable

from ..findings import NOTE, WARNING, Evidence, Finding, Location, Step
from .api import ELF, Check, Context


class DwarfCfiCheck(Check):
    name = "dwarf-cfi"
    description = "the compiler's DWARF CFI (.eh_frame/.debug_frame) agrees with the code"
    needs = frozenset({ELF})
    default = False
    kinds = {
        "cfa": "the declared CFA is not where the code has it",
        "return-address": "the declared return address is not where the code has it",
        "frame-pointer": "the declared frame-pointer save slot disagrees with the code",
        "callee-saved": "a declared callee-saved register slot disagrees with the code",
        "coverage": "instructions without CFI, or covered twice",
    }

    def run(self, ctx: Context) -> Iterable[Finding]:
        from ..diff import diff_object
        return findings_of(diff_object(ctx.elf, ctx.opts), self.name)


def findings_of(rep, check: str = DwarfCfiCheck.name) -> list[Finding]:
    """One finding per disagreement of a diff FileReport (orcgen.diff_model):
    a warning where it breaks unwinding, a note where it does not."""
    from ..report.diff_text import sentence, verdict
    out = []
    for d in rep.disagreements:
        steps = tuple(Step(w.where, w.offset, w.insn, w.computed,
                           {"->": "first disagreeing instruction", "!": "disagrees"}.get(w.marker, ""),
                           w.declared) for w in d.window if w.offset >= 0)
        func_off = _func_offset(d.first)
        loc = Location(rep.file, d.section, d.start, d.function, func_off)
        what = d.cls + (" " + d.kind if d.kind else "") + (" " + d.register if d.register else "")
        msg = "%s (%s): %s" % (what, verdict(d), sentence(d))
        out.append(Finding(d.cls, msg, d.first, False, check, WARNING if d.breaks_unwinding else NOTE,
                           loc, Evidence(steps)))
    return out


def _func_offset(where: str) -> int:
    _, _, off = where.rpartition("+0x")
    try:
        return int(off, 16)
    except ValueError:
        return -1
