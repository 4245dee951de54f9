# SPDX-License-Identifier: GPL-2.0-only
"""The pipeline for one object: ELF -> decode -> CFG -> interpret -> consumers.

`analyze()` is what every command runs; it returns facts (findings, the ORC
table) and never prints.  Inputs that are not analysable raise InputError;
objtool's "give up on this file" conditions become one fatal Finding and a
result with no ORC, as objtool writes none then.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import cfg
from .archive import is_archive, members
from .backend import backend_for
from .elf import ElfFile, read_input
from .findings import Fatal, Finding
from .interp import Interpreter
from .options import Options
from .orc import OrcRow, build_table
from .program import Program


@dataclass
class Result:
    name: str
    findings: list[Finding] = field(default_factory=list)
    orc: list[OrcRow] | None = None      # None: no table (nothing to unwind, or analysis gave up)
    program: Program | None = None

    @property
    def fatal(self) -> bool:
        return any(f.fatal for f in self.findings)


def analyze_elf(elf: ElfFile, opts: Options, keep_program: bool = False) -> Result:
    res = Result(elf.name)
    be = backend_for(elf.machine, elf.machine_name)
    p: Program | None = None
    try:
        p = Program(elf, be, opts)
        cfg.build(p)
        Interpreter(p).run()
        if opts.orc:
            res.orc = build_table(p) or None
    except Fatal as e:
        res.findings.extend(p.findings if p is not None else [])
        res.findings.append(e.finding)
        res.orc = None
        return res
    res.findings.extend(p.findings)
    if keep_program:
        res.program = p
    return res


def load(path: str) -> list[ElfFile]:
    """The ELF objects in a file: itself, or each member of an archive."""
    data = read_input(path)
    if is_archive(data):
        out = []
        for name, body in members(data):
            if body[:4] == b"\x7fELF":
                out.append(ElfFile(body, "%s(%s)" % (path, name)))
        return out
    return [ElfFile(data, path)]
