# SPDX-License-Identifier: GPL-2.0-only
"""The check API: a check is a class registered under the entry-point group
`orcgen.checks`; it says what it needs and yields findings.

    [project.entry-points."orcgen.checks"]
    kcfi = "orcgen.checks.kcfi:KcfiCheck"

A check never decodes, walks or prints: the pipeline computes what the
enabled checks need (the union of their `needs`), then calls `run(ctx)` on
each, in registration-name order, and the report layer renders what they
yield.  That keeps data flowing one way (ELF -> decode -> CFG -> interpret ->
checks -> report) and lets a third-party package add a check without a patch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

from ..findings import WARNING, Evidence, Finding, Location

if TYPE_CHECKING:
    from ..elf import ElfFile
    from ..options import Options
    from ..program import Program

# What a check may ask for.  Each is computed once per object, for all checks.
ELF = "elf"              # the parsed ELF file: sections, symbols, relocations
DECODED = "decoded"      # Program: decoded instructions, symbols, CFG edges (no walk)
STATES = "states"        # Program after the interpreter: a stack state per instruction
DWARF = "dwarf"          # the compiler's CFI tables (.eh_frame/.debug_frame)
NEEDS = (ELF, DECODED, STATES, DWARF)


@dataclass
class Context:
    """What one object offers the checks; fields a check did not ask for may be None."""
    name: str                            # the file name as reported ("lib.a(x.o)" for members)
    elf: "ElfFile"
    opts: "Options"
    program: "Program | None" = None     # DECODED or STATES
    dwarf: Any = None                    # DWARF: orcgen.dwarf's CfiTable
    # Findings the interpreter's walk made, each with its instruction index (-1
    # for none): objtool's validations happen during the walk, since a warning
    # ends that path.  The checks that own those kinds claim them (checks/walk.py).
    walk_findings: list[tuple[Finding, int]] = field(default_factory=list)
    # Whether findings get evidence: it costs a CFG path search per finding, which
    # a kernel build's one line per warning (orcgen-objtool) never shows.
    evidence: bool = True

    def evidence_at(self, i: int, note: str = "") -> Evidence:
        """The evidence for a finding at instruction `i` (empty when not wanted)."""
        if not self.evidence or self.program is None or i < 0:
            return Evidence()
        from . import evidence
        return evidence.at(self.program, i, note)

    def finding(self, check: "Check", kind: str, message: str, i: int = -1, *,
                severity: str = "", evidence: Evidence | None = None,
                fatal: bool = False) -> Finding:
        """A finding of `check` at instruction index `i` of the program (or file-level)."""
        loc = Location(self.name)
        where = ""
        p = self.program
        if i >= 0 and p is not None:
            cs = p.sec_of[i]
            off = p.insn.off[i]
            f = p.sym[i]
            where = p.where(i)
            loc = Location(self.name, cs.name, off,
                           f.name if f is not None else "", off - f.offset if f is not None else -1)
        return Finding(kind, message, where, fatal, check.name, severity or check.severity,
                       loc, evidence or Evidence())


class Check:
    """Base class of every check.  Subclasses set the class attributes and
    implement `run`; `enabled` decides from the options whether it runs."""
    name: ClassVar[str] = ""                 # entry-point name; what --disable/--enable take
    description: ClassVar[str] = ""          # one line, shown in --list-checks and SARIF rules
    needs: ClassVar[frozenset] = frozenset({STATES})
    severity: ClassVar[str] = WARNING
    default: ClassVar[bool] = True           # on in `orcgen check` unless disabled
    objtool: ClassVar[bool] = False          # objtool performs it too: orcgen-objtool runs it
    machines: ClassVar[frozenset | None] = None   # ELF e_machine values it applies to; None: all
    kinds: ClassVar[dict[str, str]] = {}     # kind -> one-line description (SARIF rules)

    def enabled(self, opts: "Options") -> bool:
        """Whether the check runs with these (objtool-style) options."""
        return True

    def applies(self, machine: int) -> bool:
        return self.machines is None or machine in self.machines

    def claims(self, kind: str) -> bool:
        """Whether a finding of the interpreter's walk of this kind is this check's."""
        return kind in self.kinds

    def run(self, ctx: Context) -> Iterable[Finding]:
        raise NotImplementedError
