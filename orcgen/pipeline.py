# SPDX-License-Identifier: GPL-2.0-only
"""The pipeline for one object: ELF -> decode -> CFG -> interpret -> consumers.

`analyze()` is what every command runs; it returns facts (findings, the ORC
table) and never prints.  Inputs that are not analysable raise InputError;
objtool's "give up on this file" conditions become one fatal Finding and a
result with no ORC, as objtool writes none then.
"""
from __future__ import annotations

import marshal
from dataclasses import dataclass, field

from . import cfg
from .archive import is_archive, members
from .backend import backend_for
from .elf import ElfFile, read_input
from .errors import InputError
from .checks.api import DECODED, STATES, Context
from .checks.walk import WalkCheck
from .findings import Fatal, Finding
from .gcpause import paused
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


_DEFAULT = object()      # analyze_elf(cache=...) not given: orcgen.cache.default


def analyze_elf(elf: ElfFile, opts: Options, keep_program: bool = False, cache=_DEFAULT,
                checks: tuple | None = None, evidence: bool = False, table: bool = True) -> Result:
    """Analyse one object and run `checks` on it (default: the checks objtool
    itself performs, so that results compare with objtool's).  With a cache
    (orcgen.cache.Cache), an object already analysed with the same bytes,
    options, checks and orcgen code is answered from it, and decoding goes
    through the per-function decode cache.  `evidence`: findings carry the
    instructions and path that prove them (for --evidence, JSON and SARIF).
    `table` false: the result has no ORC rows (the states are still encoded,
    so a state ORC cannot express is still reported), for callers that only
    want the findings."""
    if cache is _DEFAULT:
        from . import cache as _c
        cache = _c.default
    if checks is None:
        from .checks import select
        checks = select("objtool")
    be = backend_for(elf.machine, elf.machine_name)
    rkey = None
    if cache is not None and not keep_program:
        from .cache import key
        from .checks import plugin_digest
        rkey = key("result", str(elf.machine), repr(opts), " ".join(c.name for c in checks),
                   plugin_digest(checks), str(evidence), str(table), elf.data)
        blob = cache.get(rkey)
        if blob is not None:
            return _restore(blob, elf.name, be)
    res = Result(elf.name)
    p: Program | None = None
    fatal: tuple[Finding, int] | None = None
    try:
        with paused():
            p = Program(elf, be, opts, cache)
            cfg.build(p)
            Interpreter(p).run()
            if opts.orc:
                res.orc = build_table(p, keep=table) or None
    except Fatal as e:
        res.orc = None
        fatal = (e.finding, e.insn)
    if keep_program:
        res.program = p            # after a fatal finding: what was computed before giving up (may be None)
    walk = list(zip(p.findings, p.finding_insn)) if p is not None else []
    if fatal is not None:
        walk.append(fatal)
    res.findings = run_checks(checks, Context(elf.name, elf, opts, p, None, walk, evidence), fatal is not None)
    if rkey is not None:
        cache.put(rkey, _save(res))
    return res


def run_checks(checks: tuple, ctx: Context, gave_up: bool) -> list[Finding]:
    """Every applicable check's findings, the walk's first and in the walk's order.

    Each finding of the walk goes to the enabled walk check that owns its kind
    (their kinds are disjoint; `stack` owns the rest).  A fatal finding (the
    analysis gave up, as objtool does) is reported even if its check is
    disabled: without it, the missing ORC is unexplained.  After giving up,
    checks that need the walk's states do not run."""
    machine = ctx.elf.machine
    active = [c for c in checks if c.applies(machine) and c.enabled(ctx.opts)]
    walkers = [c for c in active if isinstance(c, WalkCheck)]
    out: list[Finding] = []
    for f, i in ctx.walk_findings:
        owner = next((c for c in walkers if c.claims(f.kind)), None)
        if owner is not None:
            out.append(owner.adopt(ctx, f, i))
        elif f.fatal:
            out.append(f.with_(check="stack"))
    for c in active:
        if isinstance(c, WalkCheck) or gave_up and STATES in c.needs or \
                ctx.program is None and (STATES in c.needs or DECODED in c.needs):
            continue
        out.extend(c.run(ctx))
    return out


def _save(res: Result) -> bytes:
    return marshal.dumps(([f.to_tuple() for f in res.findings],
                          None if res.orc is None else
                          [(r.section, r.secno, r.offset, r.entry.pack()) for r in res.orc]))


def _restore(blob: bytes, name: str, be) -> Result:
    findings, rows = marshal.loads(blob)
    res = Result(name, [_renamed(Finding.from_tuple(f), name) for f in findings])
    if rows is not None:
        unpack = be.orc.OrcEntry.unpack
        res.orc = [OrcRow(sec, secno, off, unpack(packed)) for sec, secno, off, packed in rows]
    return res


def _renamed(f: Finding, name: str) -> Finding:
    """A cached finding for a file of the same bytes under another name."""
    if f.location.file == name:
        return f
    from dataclasses import replace
    return f.with_(location=replace(f.location, file=name))


def load(path: str) -> list[ElfFile]:
    """The ELF objects in a file: itself, or each member of an archive."""
    out = []
    for _name, elf in load_each(path):
        if isinstance(elf, InputError):
            raise elf
        out.append(elf)
    return out


def load_each(path: str) -> list[tuple[str, ElfFile | InputError]]:
    """(name, object) for the file itself, or for each ELF member of an archive,
    where a member that cannot be parsed comes as (name, the InputError saying
    why), so the members after it are still analysed.  Raises InputError when
    the file, or the archive's own structure, cannot be read."""
    data = read_input(path)
    if not is_archive(data):
        return [(path, ElfFile(data, path))]
    out: list[tuple[str, ElfFile | InputError]] = []
    for name, body in members(data):
        if body[:4] == b"\x7fELF":
            full = "%s(%s)" % (path, name)
            try:
                out.append((full, ElfFile(body, full)))
            except InputError as e:
                out.append((full, e))
    return out
