# SPDX-License-Identifier: GPL-2.0-only
"""Findings: what a check says about the code, with where, how bad, and why.

One model for every command and every check, so that one report layer
(orcgen/report/) renders all of them as objtool-style text, JSON or SARIF.

A finding's `message` uses objtool's wording where objtool has one, so that
people and scripts that know objtool's warnings know orcgen's.  `fatal` marks
the findings after which objtool gives up on the whole file (it then writes no
ORC); orcgen does the same, so its output stays comparable.

Evidence is what makes a finding actionable: the instructions around it with
the computed state before each, and the path (branch sources) that led there.
It is optional so that the hot path (`orcgen check` on every object of a
build) pays for it only where there is something to report.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

ERROR, WARNING, NOTE = "error", "warning", "note"
SEVERITIES = (ERROR, WARNING, NOTE)


@dataclass(frozen=True)
class Location:
    """Where a finding is: file, section and offset in it, function and offset in it."""
    file: str = ""
    section: str = ""
    offset: int = -1             # section offset, -1 for file-level findings
    function: str = ""
    func_offset: int = -1

    @property
    def where(self) -> str:
        """objtool's `func+0xOFF` (or `section+0xOFF` outside any function)."""
        if self.function and self.func_offset >= 0:
            return "%s+0x%x" % (self.function, self.func_offset)
        if self.section and self.offset >= 0:
            return "%s+0x%x" % (self.section, self.offset)
        return ""


@dataclass(frozen=True)
class Step:
    """One instruction of the evidence: where, its text, the state before it."""
    where: str                   # func+0xOFF
    offset: int                  # section offset
    text: str                    # disassembly, e.g. "push %rbp"
    state: str = ""              # computed stack state before the instruction
    note: str = ""               # why this instruction is part of the evidence
    declared: str = ""           # the declared side (DWARF row, ORC entry), if any


@dataclass(frozen=True)
class Evidence:
    steps: tuple[Step, ...] = ()         # the instructions that prove it, in address order
    path: tuple[str, ...] = ()           # func+0xOFF of the branches taken to get here

    def __bool__(self) -> bool:
        return bool(self.steps or self.path)


@dataclass(frozen=True)
class Finding:
    kind: str                    # stable short identifier, e.g. "return-modified-frame"
    message: str                 # objtool's text where it has one
    where: str = ""              # "func+0xOFF", or "" for file-level findings
    fatal: bool = False
    check: str = ""              # the registered check that reported it (orcgen.checks name)
    severity: str = WARNING
    location: Location = field(default_factory=Location)
    evidence: Evidence = field(default_factory=Evidence)

    def line(self, filename: str) -> str:
        """objtool's one-line form: `FILE: warning: orcgen: func+0xOFF: message`."""
        if self.where:
            return "%s: %s: orcgen: %s: %s" % (filename, self.severity, self.where, self.message)
        return "%s: %s: orcgen: %s" % (filename, self.severity, self.message)

    def with_(self, **kw) -> "Finding":
        return replace(self, **kw)

    def to_tuple(self) -> tuple:
        """Plain tuples (for marshal: the result cache)."""
        l, e = self.location, self.evidence
        return (self.kind, self.message, self.where, self.fatal, self.check, self.severity,
                (l.file, l.section, l.offset, l.function, l.func_offset),
                (tuple((s.where, s.offset, s.text, s.state, s.note, s.declared) for s in e.steps), e.path))

    @staticmethod
    def from_tuple(t: tuple) -> "Finding":
        kind, message, where, fatal, check, severity, loc, (steps, path) = t
        return Finding(kind, message, where, fatal, check, severity, Location(*loc),
                       Evidence(tuple(Step(*s) for s in steps), tuple(path)))

    @property
    def rule(self) -> str:
        """`check/kind`: the rule id of SARIF and JSON output."""
        return "%s/%s" % (self.check, self.kind) if self.check else self.kind


class Fatal(Exception):
    """Raised where objtool stops analysing the file (its `return -1` paths)."""

    def __init__(self, kind: str, message: str, where: str = "", insn: int = -1) -> None:
        super().__init__(message)
        self.finding = Finding(kind, message, where, fatal=True)
        self.insn = insn                 # the instruction it is at, -1 for none
