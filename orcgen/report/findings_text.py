# SPDX-License-Identifier: GPL-2.0-only
"""Findings for people and for scripts that parse objtool's output.

Each finding is objtool's one line (`FILE: warning: orcgen: func+0xOFF: msg`),
so a kernel build log reads the same whichever tool ran.  With evidence on,
each line is followed by the instructions that prove it (the state computed
before each) and the branches that lead there, indented so that a grep for
the one-line form still finds exactly one line per finding.
"""
from __future__ import annotations

from typing import Iterable, TextIO

from ..findings import Finding


def render(name: str, findings: Iterable[Finding], out: TextIO, evidence: bool = False) -> None:
    for f in findings:
        out.write(f.line(name) + "\n")
        if evidence and f.evidence:
            for line in evidence_lines(f):
                out.write(line + "\n")


def evidence_lines(f: Finding) -> list[str]:
    ev = f.evidence
    out = []
    if ev.path:
        out.append("    path: " + " -> ".join(ev.path + (f.where,)))
    if ev.steps:
        wi = max(len(s.where) for s in ev.steps)
        wt = min(40, max(len(s.text) for s in ev.steps))
        decl = any(s.declared for s in ev.steps)
        for s in ev.steps:
            mark = "->" if s.note else "  "
            cols = [mark, s.where.ljust(wi), s.text.ljust(wt)]
            if decl:
                cols.append(("declared: " + s.declared).ljust(40))
            cols.append(("state: " + s.state) if s.state else "")
            if s.note:
                cols.append("(%s)" % s.note)
            out.append(("    " + "  ".join(cols)).rstrip())
    return out
