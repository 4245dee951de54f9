# SPDX-License-Identifier: GPL-2.0-only
"""The DWARF diff's records and the pure functions over them: what one comparison
found (Check), a run of disagreeing instructions with its evidence
(Disagreement), per-function and per-file tallies, and how locations read.

The walk that produces them is orcgen/diff.py; the renderers are orcgen/report/.
"""
from __future__ import annotations
from collections import Counter
from dataclasses import dataclass
from .backend import BP_INDIRECT, CFA, SP_INDIRECT, UNDEFINED
from .cfi import Cfi
from .dwarf import Fde, Loc
from .insn import Kind
from .program import Program

# Disagreement.origin of an SP excursion that no CFI row describes: inline asm
# (the compiler cannot see inside an asm statement), or a builtin the compiler
# expands like one (GCC's __builtin_ia32_readeflags_u64 is pushf; pop, no CFI).
ASM_ORIGIN = "asm"

# Classes; the ones in BREAKING make an unwinder that uses the table go wrong.
CFA_CLS, RA_CLS, FP_CLS, REG_CLS, COVER_CLS, UNDET = (
    "cfa", "return-address", "frame-pointer", "callee-saved", "coverage", "not-determined")
CLASSES = (CFA_CLS, RA_CLS, FP_CLS, REG_CLS, COVER_CLS)


@dataclass(frozen=True)
class Check:
    """One aspect at one instruction that did not simply agree."""
    aspect: str          # "cfa", "ra", "reg", "state"
    reg: int             # DWARF register for "ra"/"reg", else -1
    status: str          # "disagree" or "undetermined"
    kind: str            # subclass, or the reason it is not determined
    declared: str
    computed: str
    info: tuple = ()     # numbers the sentence needs (registers, offsets, instruction indices)


@dataclass(frozen=True)
class WindowLine:
    marker: str          # "->" first instruction of the finding, "!" the rest of it, "" context
    where: str
    offset: int
    insn: str
    declared: str
    computed: str


@dataclass(frozen=True)
class Disagreement:
    """A run of consecutive instructions with the same finding, with its evidence."""
    file: str
    function: str
    section: str
    start: int                   # section offsets [start, end)
    end: int
    first: str                   # func+0x.. of the first instruction
    cls: str                     # one of CLASSES, or UNDET
    kind: str                    # subclass (register, coverage) or the not-determined reason
    aspect: str                  # "cfa", "ra", "reg", "state" or "coverage"
    register: str                # register name(s), space-separated
    breaks_unwinding: bool
    instructions: int
    declared: str                # the declared value at the first instruction
    computed: str
    declared_by: str             # the CFA instruction behind the declared value
    computed_by: str             # the instruction behind the computed value (or why there is none)
    cause: str                   # that instruction as "`insn` at func+0x..", "" if none
    related: str                 # the other place the finding refers to (see report.diff_text)
    cfa_base: str = ""           # CFA findings: the declared base register,
    cfa_base_at: int = 0         # which the code leaves at CFA + this,
    cfa_delta: int = 0           # so the declared CFA is off by this
    window: tuple[WindowLine, ...] = ()
    # Who made the code the CFI fails to describe: "" the compiler's own code
    # generation; ASM_ORIGIN a stack excursion no CFI row describes at all
    # (see diff.py _asm_excursion), which is what an asm statement produces.
    origin: str = ""


@dataclass(frozen=True)
class Tally:
    """Counts for a function, a file or a corpus.  `instructions` = agreeing +
    not comparable + instructions with at least one disagreement (coverage
    gaps count as instructions; an overlap only adds to disagreeing);
    `compared` = instructions whose CFA both sides determine."""
    instructions: int = 0
    compared: int = 0
    agreeing: int = 0
    disagreeing: tuple[tuple[str, int], ...] = ()       # (class, instructions), sorted
    not_comparable: tuple[tuple[str, int], ...] = ()    # (reason, instructions), sorted
    cfa_compared: int = 0
    cfa_agreeing: int = 0
    ra_compared: int = 0
    ra_agreeing: int = 0

    @staticmethod
    def total(tallies) -> "Tally":
        c = Counter()
        for t in tallies:
            c.update(t.counts())
        return Tally.of(c)

    def counts(self) -> Counter:
        c = Counter({k: getattr(self, k) for k in _PLAIN})
        c.update({"d:" + k: v for k, v in self.disagreeing})
        c.update({"n:" + k: v for k, v in self.not_comparable})
        return c

    @staticmethod
    def of(c: Counter) -> "Tally":
        return Tally(*(c[k] for k in _PLAIN[:3]),
                     tuple(sorted((k[2:], v) for k, v in c.items() if k.startswith("d:") and v)),
                     tuple(sorted((k[2:], v) for k, v in c.items() if k.startswith("n:") and v)),
                     *(c[k] for k in _PLAIN[3:]))


_PLAIN = ("instructions", "compared", "agreeing", "cfa_compared", "cfa_agreeing", "ra_compared", "ra_agreeing")


@dataclass(frozen=True)
class FunctionReport:
    name: str
    section: str
    start: int
    tally: Tally


@dataclass(frozen=True)
class FileReport:
    file: str
    machine: str
    cfi: str | None
    problems: tuple[str, ...]
    fdes: int
    tally: Tally
    functions: tuple[FunctionReport, ...]
    disagreements: tuple[Disagreement, ...]
    undetermined: tuple[Disagreement, ...]
    # "kernel" or "userspace" (orcgen/flavour.py), and the evidence or override that said so
    flavour: str = ""
    flavour_reason: str = ""

    @property
    def breaking(self) -> bool:
        return any(d.breaks_unwinding for d in self.disagreements)


# -- the two sides in one vocabulary ----------------------------------------------

def known_regs(c: Cfi, abi, sp_ok: bool) -> dict[int, int]:
    """Registers whose value the interpreter knows as CFA + k: {reg: k}."""
    k: dict[int, int] = {}
    if c.cfa_base >= 0:
        k[c.cfa_base] = -c.cfa_offset
    if abi.sp not in k and sp_ok and not c.drap and c.cfa_base >= 0:
        k[abi.sp] = -c.stack_size
    vals = c.vals
    for r in range(len(vals) // 2):
        if vals[2 * r] == CFA and r not in k and r != abi.sp:
            k[r] = vals[2 * r + 1]
    return k


def computed_loc(c: Cfi, reg: int, known: dict[int, int]) -> Loc:
    base, off = c.regs[2 * reg], c.regs[2 * reg + 1]
    if base == UNDEFINED:
        return Loc("same")
    if base == CFA:
        return Loc("at", off)
    if base in known:
        return Loc("at", known[base] + off)
    return Loc("at_reg", off, base)


def loc_text(loc: Loc, rn) -> str:
    return {"same": "same value", "at": "saved at cfa%+d" % loc.off,
            "at_reg": "saved at %s%+d" % (rn(loc.reg), loc.off), "in": "in %s" % rn(loc.reg),
            "val": "value cfa%+d" % loc.off, "undefined": "undefined",
            "expr": "an expression"}[loc.kind]


def cfa_text(c: Cfi, abi) -> str:
    rn = abi.reg_name
    if c.cfa_base == UNDEFINED:
        return "undefined"
    if c.cfa_base == BP_INDIRECT:
        return "*(%s%+d)" % (rn(abi.fp), c.cfa_offset)
    if c.cfa_base == SP_INDIRECT:
        return "*(%s)%+d" % (rn(abi.sp), c.cfa_offset)
    return "%s%+d" % (rn(c.cfa_base), c.cfa_offset)


def state_text(c: Cfi | None, rn, abi) -> str:
    if c is None:
        return "(not reached)"
    parts = ["cfa=" + cfa_text(c, abi)]
    for r in range(len(c.regs) // 2):
        base, off = c.regs[2 * r], c.regs[2 * r + 1]
        if base == UNDEFINED:
            continue
        name = "ra" if r == abi.ra else rn(r)
        parts.append("%s=%s" % (name, "c%+d" % off if base == CFA else "%s%+d" % (rn(base), off)))
    return " ".join(parts)


# -- per-instruction comparison ---------------------------------------------------

def register_kind(decl: list[Loc], comp: list[Loc], t: int) -> tuple[str, int]:
    """Name a register disagreement at position t from the register's history
    in the same FDE (address order stands in for program order), with the
    position that shows it (-1 if none): where the code saves the register
    for "early", where the CFI catches up for "late"."""
    d, c = decl[t], comp[t]
    saved = ("at", "at_reg")
    if c.kind == "same" and d.kind in saved:
        if d in comp[:t]:
            return "stale", -1
        later = next((u for u in range(t + 1, len(comp)) if comp[u] == d), -1)
        return ("early", later) if later >= 0 else ("phantom", -1)
    if c.kind in saved and d.kind == "same":
        if c in decl[:t]:
            return "restored-early", -1
        later = next((u for u in range(t + 1, len(decl)) if decl[u] == c), -1)
        return ("late", later) if later >= 0 else ("missing", -1)
    return ("slot" if c.kind in saved and d.kind in saved else "other"), -1


def noreturn_call_before(p: Program, i: int, fde: Fde) -> int:
    """The call just before i (padding NOPs aside) if the CFI treats it as
    noreturn (a new row starts between it and i) while the interpreter fell
    through it with its state unchanged; else -1."""
    j = p.prev_same_sec(i)
    while j >= 0 and p.kind[j] == Kind.NOP:
        j = p.prev_same_sec(j)
    if j < 0 or p.kind[j] not in (Kind.CALL, Kind.CALL_DYNAMIC) or p.dead_end[j]:
        return -1
    lo, hi = p.insn.end(j), p.insn.off[i]
    if p.cfi[i] is None or p.cfi[i] != p.cfi[j] or not any(lo <= r.pc <= hi for r in fde.rows):
        return -1
    return j


def check_class(chk: Check, abi) -> str:
    if chk.status == "undetermined":
        return UNDET
    if chk.aspect == "coverage":
        return COVER_CLS
    return {"cfa": CFA_CLS, "ra": RA_CLS, "coverage": COVER_CLS}.get(
        chk.aspect, FP_CLS if chk.reg == abi.fp else REG_CLS)


def breaks(cls: str, kind: str) -> bool:
    """A stale or late register rule reads a slot that still holds the right
    value; everything wrong about the CFA, the return address or coverage, and
    a wrong caller frame pointer, sends an unwinder astray."""
    if cls in (RA_CLS, FP_CLS) and kind in ("stale", "late"):
        return False
    return cls in (CFA_CLS, RA_CLS, COVER_CLS, FP_CLS)


# -- one object ------------------------------------------------------------------
