# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen compare A B`: the DWARF diff of two builds of the same sources, side by side.

Each object's FileReport (orcgen/diff.py) is reduced to an ObjectResult (what
the aggregate needs, plus each disagreement's evidence text), which is small
enough to come back from a worker process.  Objects of A and B are matched by
relative path; only matched pairs enter the figures, so that both sides count
the same sources.  Everything here is pure data: reading inputs and the process
pool are orcgen/commands/compare.py, the renderers orcgen/report/compare_*.py.

The rates (also in DEFINITIONS, which every renderer prints):
  per function     functions with an FDE that have at least one disagreement
                   that breaks unwinding / functions with an FDE;
  per instruction  compared instructions (both sides know the CFA) with at least
                   one disagreement that breaks unwinding / instructions compared;
                   code no FDE covers (never compared) is counted on its own.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .diff_model import CLASSES, COVER_CLS, REG_CLS, Disagreement, FileReport, Tally

ASM = "asm"          # diff_model.ASM_ORIGIN

DEFINITIONS = (
    ("per-function rate", "functions that have at least one disagreement of the class (or, for the headline, "
     "of any class) with this verdict, over the functions that have an FDE"),
    ("per-instruction rate", "instructions with at least one such disagreement, over the instructions "
     "compared (those where both the CFI and orcgen know the CFA); code no FDE covers is never compared, "
     "and has its own row (coverage, uncovered: its instructions and the functions with no FDE at all)"),
    ("breaks unwinding", "a wrong CFA, a wrong return address, a wrong caller frame pointer (except a stale "
     "or late rule, which reads a slot that still holds the right value) or code no FDE covers: an unwinder "
     "using the table goes wrong; the rest (callee-saved rules, stale/late ones) only mislead a debugger"),
    ("headline", "per function: the share of functions with an FDE that have at least one disagreement that "
     "breaks unwinding; per instruction: compared instructions with a disagreement that breaks unwinding / "
     "compared instructions (code no FDE covers is left out of both, and counted on its own)"),
    ("asm statements", "a disagreement whose origin is 'asm' is a stack excursion no CFI row describes, "
     "which is what an asm statement (or a builtin expanded like one) produces: the compiler cannot see it; "
     "the headline is also given without functions whose only breaking disagreements are such"),
)

# Per-function share of breaking instructions, for the distribution: upper bounds (inclusive).
BINS = ((0.0, "0"), (0.05, "(0, 5%]"), (0.25, "(5, 25%]"), (0.5, "(25, 50%]"), (1.0, "(50, 100%]"))
NO_FUNCTION = "(no function)"


@dataclass(frozen=True)
class Evidence:
    """One disagreement, with the `orcgen diff` text block that shows it."""
    cls: str
    kind: str
    breaks: bool
    function: str
    section: str
    first: str
    instructions: int
    text: str
    origin: str = ""         # Disagreement.origin: "" the compiler's code, "asm" an asm statement's


@dataclass(frozen=True)
class FunctionStat:
    name: str
    section: str
    start: int
    has_fde: bool            # not all of its code is "no FDE" coverage
    instructions: int
    compared: int
    breaking: int            # instructions with a disagreement that breaks unwinding
    uncovered: int           # instructions no FDE covers (among `breaking`, never compared)
    breaking_compiler: bool  # one of those is of the compiler's own making (origin not "asm")
    findings: tuple[tuple[str, bool, int], ...]   # (class, breaks, index into the object's evidence), first of each


@dataclass(frozen=True)
class ObjectResult:
    key: str                 # relative path the pair is matched by
    name: str                # as shown (the file, or ARCHIVE(MEMBER))
    machine: str = ""
    cfi: str | None = None
    fdes: int = 0
    tally: Tally = Tally()
    functions: tuple[FunctionStat, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    breaking: int = 0        # instructions (union over classes) that break unwinding
    estimated: int = 0       # of those, counted from byte ranges (see _union)
    problems: tuple[str, ...] = ()
    error: str = ""          # could not be read or analysed: the reason


@dataclass(frozen=True)
class FuncRef:
    """A function behind a class: where it is and which evidence block shows it."""
    file: str
    function: str
    first: str
    kind: str
    instructions: int
    has_fde: bool
    origin: str
    evidence: int            # index into SideStats.evidence, -1 if not kept


@dataclass(frozen=True)
class ClassStat:
    cls: str
    breaks: bool
    instructions: int
    runs: int
    functions: int           # functions with an FDE among them
    refs: tuple[FuncRef, ...]


@dataclass(frozen=True)
class SideStats:
    label: str
    path: str
    objects: int
    functions: int           # with an FDE
    functions_without_fde: int
    instructions: int
    compared: int
    breaking_functions: int
    breaking_functions_compiler: int    # of those, with one the compiler made (not an asm statement's)
    breaking_instructions: int          # compared ones (the headline's numerator)
    uncovered_instructions: int         # function code no FDE covers (coverage "no-fde"), never compared
    estimated_instructions: int
    classes: tuple[ClassStat, ...]           # CLASSES order, breaking first within each
    distribution: tuple[int, ...]           # functions with an FDE per BINS entry
    evidence: tuple[tuple[str, Evidence], ...]   # (file, evidence) in file order
    tally: Tally

    def cls(self, name: str, breaks: bool) -> ClassStat:
        return next(c for c in self.classes if c.cls == name and c.breaks == breaks)

    @property
    def rate_per_function(self) -> float:
        return rate(self.breaking_functions, self.functions)

    @property
    def rate_per_instruction(self) -> float:
        return rate(self.breaking_instructions, self.compared)


@dataclass(frozen=True)
class Comparison:
    a: SideStats
    b: SideStats
    matched: tuple[str, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    errors: tuple[tuple[str, str, str], ...]      # (side label, object, reason)
    # functions (object key, name) with a breaking disagreement: on both sides, only in A, only in B
    breaking_both: tuple[tuple[str, str], ...] = ()
    breaking_only_a: tuple[tuple[str, str], ...] = ()
    breaking_only_b: tuple[tuple[str, str], ...] = ()


def rate(n: int, d: int) -> float:
    return n / d if d else 0.0


# -- one object -------------------------------------------------------------------

def summarise(rep: FileReport, key: str, text_of) -> ObjectResult:
    """Reduce a FileReport; `text_of(d)` words a disagreement's evidence
    (report.diff_text.block, passed in so that the core imports no report code)."""
    evidence = tuple(Evidence(d.cls, d.kind, d.breaks_unwinding, d.function, d.section, d.first,
                              d.instructions, text_of(d), getattr(d, "origin", ""))
                     for d in rep.disagreements)
    by_func: dict[tuple[str, str], list[int]] = {}
    for n, d in enumerate(rep.disagreements):
        by_func.setdefault((d.section, d.function), []).append(n)
    funcs, total_breaking, total_est = [], 0, 0
    seen = set()
    for f in rep.functions:
        if f.name == NO_FUNCTION:
            continue
        fk = (f.section, f.name)
        idx = by_func.get(fk, []) if fk not in seen else []
        seen.add(fk)
        ds = [rep.disagreements[n] for n in idx]
        no_fde = sum(d.instructions for d in ds if d.kind == "no-fde")
        brk, est = _union([d for d in ds if d.breaks_unwinding])
        total_breaking += brk
        total_est += est
        firsts: dict[tuple[str, bool], int] = {}
        for n, d in zip(idx, ds):
            firsts.setdefault((d.cls, d.breaks_unwinding), n)
        funcs.append(FunctionStat(f.name, f.section, f.start, f.tally.instructions > no_fde,
                                  f.tally.instructions, f.tally.compared, brk, no_fde,
                                  any(d.breaks_unwinding and getattr(d, "origin", "") != ASM for d in ds),
                                  tuple((c, b, n) for (c, b), n in firsts.items())))
    # disagreements outside function symbols still count as instructions
    rest = [d for d in rep.disagreements if d.breaks_unwinding and d.function == NO_FUNCTION]
    brk, est = _union(rest)
    return ObjectResult(key, rep.file, rep.machine, rep.cfi, rep.fdes, rep.tally, tuple(funcs), evidence,
                        total_breaking + brk, total_est + est, rep.problems)


def _union(ds: list[Disagreement]) -> tuple[int, int]:
    """Instructions covered by at least one of the runs `ds` (one function's):
    (count, how many of them are estimated).  Runs are ranges of consecutive
    instructions; where two overlap, the instructions both cover are counted
    from the offsets the evidence windows list (every instruction of a run of
    up to 8), else estimated from the byte range at the runs' mean length."""
    out = est = 0
    by_sec: dict[str, list[Disagreement]] = {}
    for d in ds:
        by_sec.setdefault(d.section, []).append(d)
    for runs in by_sec.values():
        runs.sort(key=lambda d: (d.start, d.end))
        cluster: list[Disagreement] = []
        end = -1
        for d in runs + [None]:
            if d is not None and cluster and d.start < end:
                cluster.append(d)
                end = max(end, d.end)
                continue
            if cluster:
                n, e = _cluster(cluster)
                out += n
                est += e
            if d is not None:
                cluster, end = [d], d.end
    return out, est


def _cluster(runs: list[Disagreement]) -> tuple[int, int]:
    if len(runs) == 1:
        return runs[0].instructions, 0
    offsets: set[int] = set()
    for d in runs:
        own = {w.offset for w in d.window if w.offset >= 0 and d.start <= w.offset < d.end}
        if len(own) != d.instructions:
            break
        offsets |= own
    else:
        return len(offsets), 0
    nbytes = max(d.end for d in runs) - min(d.start for d in runs)
    mean = sum(d.end - d.start for d in runs) / max(1, sum(d.instructions for d in runs))
    n = max(max(d.instructions for d in runs), min(sum(d.instructions for d in runs), round(nbytes / mean)))
    return n, n


# -- one side ---------------------------------------------------------------------

def aggregate(label: str, path: str, results: list[ObjectResult]) -> SideStats:
    """The figures for one side over its (matched, analysed) objects."""
    tally = Tally.total(r.tally for r in results)
    d_insns = dict(tally.disagreeing)
    runs: Counter = Counter()
    run_insns: Counter = Counter()
    refs: dict[tuple[str, bool], list[FuncRef]] = {}
    funcs_with: Counter = Counter()
    evidence: list[tuple[str, Evidence]] = []
    dist = [0] * len(BINS)
    nfunc = nofde = brk_funcs = brk_cc = 0
    for r in results:
        base = len(evidence)
        evidence.extend((r.name, e) for e in r.evidence)
        for e in r.evidence:
            runs[e.cls, e.breaks] += 1
            run_insns[e.cls, e.breaks] += e.instructions
        for f in r.functions:
            if not f.has_fde:
                nofde += 1
            else:
                nfunc += 1
                brk_funcs += f.breaking > 0
                brk_cc += f.breaking_compiler
                hit = f.breaking - f.uncovered
                share = 1.0 if hit and not f.compared else rate(min(hit, f.compared), f.compared)
                dist[next(k for k, (hi, _) in enumerate(BINS) if share <= hi)] += 1
            for c, b, n in f.findings:
                e = r.evidence[n]
                refs.setdefault((c, b), []).append(
                    FuncRef(r.name, f.name, e.first, e.kind, e.instructions, f.has_fde, e.origin, base + n))
                funcs_with[c, b] += f.has_fde
    uncovered = sum(e.instructions for r in results for e in r.evidence if e.kind == "no-fde")
    classes = []
    for c in CLASSES:
        # coverage: code no FDE covers is never compared; SideStats.uncovered_instructions has it
        total = d_insns.get(c, 0) - (uncovered if c == COVER_CLS else 0)
        # A class's runs never overlap (one check per instruction), except callee-saved
        # registers, whose runs never break: there the tally's union is the benign count.
        broken = 0 if c == REG_CLS else min(total, run_insns[c, True] - (uncovered if c == COVER_CLS else 0))
        for b in (True, False):
            n = broken if b else total - broken
            classes.append(ClassStat(c, b, n, runs[c, b], funcs_with[c, b], tuple(refs.get((c, b), ()))))
    return SideStats(label, path, len(results), nfunc, nofde, tally.instructions, tally.compared,
                     brk_funcs, brk_cc, sum(r.breaking for r in results) - uncovered, uncovered,
                     sum(r.estimated for r in results), tuple(classes), tuple(dist), tuple(evidence), tally)


def compare(label_a: str, path_a: str, res_a: dict[str, ObjectResult],
            label_b: str, path_b: str, res_b: dict[str, ObjectResult],
            unreadable: tuple[tuple[str, str, str], ...] = ()) -> Comparison:
    """Match by key; a pair enters the figures only when both sides were analysed.
    `unreadable`: (label, name, reason) for inputs that gave no objects at all."""
    keys_a, keys_b = set(res_a), set(res_b)
    errors = list(unreadable)
    for label, res in ((label_a, res_a), (label_b, res_b)):
        errors += [(label, res[k].name, res[k].error) for k in sorted(res) if res[k].error]
    matched = tuple(k for k in sorted(keys_a & keys_b) if not res_a[k].error and not res_b[k].error)
    brk_a, brk_b = (_breaking(res, matched) for res in (res_a, res_b))
    return Comparison(aggregate(label_a, path_a, [res_a[k] for k in matched]),
                      aggregate(label_b, path_b, [res_b[k] for k in matched]),
                      matched, tuple(sorted(keys_a - keys_b)), tuple(sorted(keys_b - keys_a)), tuple(errors),
                      tuple(sorted(brk_a & brk_b)), tuple(sorted(brk_a - brk_b)), tuple(sorted(brk_b - brk_a)))


def _breaking(res: dict[str, ObjectResult], keys) -> set[tuple[str, str]]:
    """(object key, function) of the functions with an FDE and a breaking disagreement:
    the same source function is named alike in both builds, so the sets pair them."""
    return {(k, f.name) for k in keys for f in res[k].functions if f.has_fde and f.breaking}
