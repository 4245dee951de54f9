# SPDX-License-Identifier: GPL-2.0-only
"""The DWARF CFI diff: declared rows against the interpreter's states.

At every instruction an FDE covers, the row in force before it is compared with
the interpreter's state before it, by value: the CFA (through what the
interpreter knows of the registers, so CFA=rbp+16 and CFA=rsp+N agree where
rbp = rsp+N-16), the return address, the caller's frame pointer and each
callee-saved register.  Each comparison agrees, disagrees (classified), or is
"not determined" with its reason: nothing is counted as agreeing unless both
sides were known.  Consecutive instructions with the same finding collapse
into a Disagreement carrying its evidence; orcgen/report/diff_* word it.
The declared side (orcgen.dwarf) and the computed side (the Program) meet only here.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

from . import dwarf_expr
from .backend import BP_INDIRECT, CFA, SP_INDIRECT, UNDEFINED
from .cfi import Cfi
from .dwarf import CFA_EXPR, CfiTable, Fde, Loc, Row, decl_cfa_text, row_text
from .insn import Dest, Kind, Src
from .program import Program
from .diff_model import (ASM_ORIGIN,   # noqa: F401  (re-exported: callers import them from here)
    CFA_CLS, RA_CLS, FP_CLS, REG_CLS, COVER_CLS, UNDET,
    CLASSES, Check, WindowLine, Disagreement, Tally, _PLAIN,
    FunctionReport, FileReport, known_regs, computed_loc, loc_text, cfa_text,
    state_text, register_kind, noreturn_call_before, check_class, breaks)


def diff_object(elf, opts, prefer: str = "auto", flavour: str | None = None) -> FileReport:
    """Run the pipeline on `elf` and compare its CFI; never raises on CFI content.

    Whether `elf` is kernel or userspace code is detected from the object
    (orcgen/flavour.py) unless `opts.userspace` or `flavour` ("kernel",
    "userspace": the --kernel/--userspace overrides) says so; userspace code
    is analysed with the C library's noreturn functions and PIC jump tables."""
    from .backend import backend_for
    from .dwarf import read_cfi
    from .findings import Fatal
    from .flavour import resolve
    from .pipeline import analyze_elf
    fl = resolve(elf, opts.userspace, flavour)
    if fl.userspace != opts.userspace:
        opts = opts.with_(userspace=fl.userspace)
    opts = opts.with_(precise=True)
    be = backend_for(elf.machine, elf.machine_name)
    table = read_cfi(elf, prefer, be.abi.reg_name)
    res = analyze_elf(elf, opts, keep_program=True)
    p, abandoned = res.program, ""
    if p is None:
        abandoned = "; ".join("%s%s" % (f.where + ": " if f.where else "", f.message)
                              for f in res.findings if f.fatal)
        try:
            p = Program(elf, be, opts)            # decoded only: every state is unknown
        except Fatal:
            p = None
    if table.source is None or p is None:
        probs = list(table.problems)
        if table.source is None:
            probs.append("no DWARF CFI (.eh_frame or .debug_frame): nothing to compare")
        if p is None:
            probs.append("the interpreter gave up on this file (%s): nothing is compared" % abandoned)
        return FileReport(elf.name, elf.machine_name, table.source, tuple(probs), len(table.fdes),
                          Tally(), (), (), (), fl.kind, fl.reason)
    return replace(_Diff(p, table, elf.name, abandoned).run(), flavour=fl.kind, flavour_reason=fl.reason)


class _Diff:
    """Compares one Program with one CfiTable and collects the findings."""

    def __init__(self, p: Program, table: CfiTable, name: str, abandoned: str) -> None:
        self.p, self.table, self.name, self.abandoned = p, table, name, abandoned
        self.abi = p.abi
        self.rn = self.abi.reg_name
        self.regs = [self.abi.fp] + sorted(r for r in self.abi.callee_saved if r not in (self.abi.fp, self.abi.ra))
        self.problems = list(table.problems)
        if abandoned:
            self.problems.append("the interpreter gave up on this file (%s): no state is known" % abandoned)
        # Where the interpreter's walk of a function stopped (objtool stops at the
        # first finding): by `where`, or named in a file-level message.
        self._stops: dict[str, str] = {}
        for f in p.findings:
            if f.where:
                self._stops.setdefault(f.where.split("+", 1)[0], "%s: %s" % (f.where, f.message))
            elif f.kind == "fallthrough":
                self._stops.setdefault(f.message.split("()", 1)[0], f.message)
            elif f.kind == "end-of-section":
                self._stops.setdefault("section " + f.message.split(":", 1)[0], f.message)
        self._sp_ok: dict[int, bool] = {}
        self.owner: dict[int, Fde] = {}
        self.tallies: dict[tuple, Counter] = {}
        self.found: list[Disagreement] = []
        self.undetermined: list[Disagreement] = []
        self._rev: dict[int, list[int]] | None = None

    def run(self) -> FileReport:
        for fde in self.table.fdes:
            self.do_fde(fde)
        self.gaps()
        funcs = tuple(FunctionReport(key[2], self.p.secname(key[0]), key[1], Tally.of(self.tallies[key]))
                      for key in sorted(self.tallies))
        total = Tally.total(f.tally for f in funcs)
        rank = {c: k for k, c in enumerate(CLASSES + (UNDET,))}
        order = lambda d: (d.section, d.start, rank[d.cls], d.register, d.kind)  # noqa: E731
        return FileReport(self.name, self.p.elf.machine_name, self.table.source, tuple(self.problems),
                          len(self.table.fdes), total, funcs,
                          tuple(sorted(self.found, key=order)), tuple(sorted(self.undetermined, key=order)))

    def tally(self, i: int) -> Counter:
        f = self.p.func(i)
        key = (f.sec, f.offset, f.name) if f is not None else (self.p.sec_of[i].sec.index, -1, "(no function)")
        return self.tallies.setdefault(key, Counter())

    # -- one instruction ------------------------------------------------------------

    def sp_ok(self, i: int) -> bool:
        """Is the interpreter's stack_size (CFA - SP) trustworthy in i's function?
        Not where SP is realigned, or moved by a register amount (alloca) or a
        load: the model does not follow those while the CFA is FP-based."""
        f = self.p.func(i)
        key = f.index if f is not None else -1
        ok = self._sp_ok.get(key)
        if ok is None:
            ok = f is not None
            sp, fp = self.abi.sp, self.abi.fp
            for j in (self.p.func_insns(f) if f is not None else ()):
                for op in self.p.ops[j]:
                    if op.dest == Dest.REG and op.dest_reg == sp and (
                            op.src in (Src.AND, Src.POP, Src.REG_INDIRECT, Src.UNKNOWN)
                            or (op.src == Src.ADD and op.src_reg not in (sp, fp))
                            or (op.src == Src.REG and op.src_reg != fp)):
                        ok = False
            self._sp_ok[key] = ok
        return ok

    def stop_message(self, i: int) -> str:
        f = self.p.func(i)
        if f is None:
            return ""
        return self._stops.get(f.pfunc.name) or self._stops.get(f.name) or \
            self._stops.get("section " + self.p.sec_of[i].name, "")

    def compare(self, i: int, row: Row | None, fde: Fde) -> list[Check]:
        """The checks that did not simply agree at instruction i (none: all agree)."""
        c = self.p.cfi[i]
        if c is None:
            f = self.p.func(i)
            why = "file-abandoned" if self.abandoned else "not-in-function" if f is None else \
                "padding" if self.p.kind[i] in (Kind.NOP, Kind.TRAP) else \
                "walk-stopped" if self.stop_message(i) else "unreached"
            return [Check("state", -1, "undetermined", "no-state:" + why,
                          row_text(row, self.rn, fde.ra_column), "(not reached)")]
        if row is None:
            return [Check("state", -1, "undetermined", "no-row", "(no row)", state_text(c, self.rn, self.abi))]
        known = known_regs(c, self.abi, self.sp_ok(i))
        out = [self._cfa(c, row, known), self._reg("ra", fde.ra_column, self.abi.ra, row, c, known)]
        if out[1] is None and row.ra_signed != c.ra_signed:        # arm64 pointer authentication
            sig = ("signed", "not signed")
            out[1] = Check("ra", fde.ra_column, "disagree", "signing", sig[not row.ra_signed],
                           sig[not c.ra_signed])
        out.extend(self._reg("reg", r, r, row, c, known) for r in self.regs)
        return [x for x in out if x is not None]

    def _cfa(self, c: Cfi, row: Row, known: dict[int, int]) -> Check | None:
        def check(status: str, kind: str, info: tuple = (), note: str = "") -> Check:
            return Check("cfa", -1, status, kind, decl_cfa_text(row, self.rn), cfa_text(c, self.abi) + note, info)
        if c.cfa_base == UNDEFINED:
            return check("undetermined", "computed-undefined")
        if row.cfa.reg == CFA_EXPR:
            v = dwarf_expr.evaluate(row.cfa.expr)
            if v is None:
                return check("undetermined", "expression")
            if v.deref:
                if (c.cfa_base == BP_INDIRECT and v.reg == self.abi.fp and v.offset == c.cfa_offset
                        and not v.addend) or (c.cfa_base == SP_INDIRECT and v.reg == self.abi.sp
                                              and not v.offset and v.addend == c.cfa_offset):
                    return None
                if c.cfa_base in (BP_INDIRECT, SP_INDIRECT):
                    return check("disagree", "indirect")
                return check("undetermined", "expression")
            reg, off = v.reg, v.offset
        else:
            reg, off = row.cfa.reg, row.cfa.offset
        if c.cfa_base == SP_INDIRECT and reg == self.abi.sp:
            return check("disagree", "stack-switch")      # SP now points into another stack
        if c.cfa_base < 0:
            return check("undetermined", "computed-indirect")
        if reg not in known:
            return check("undetermined", "unknown-base", (reg,))
        if known[reg] + off == 0:
            return None
        return check("disagree", "", (reg, known[reg], off),
                     "" if reg == c.cfa_base else " (%s at cfa%+d)" % (self.rn(reg), known[reg]))

    def _reg(self, aspect: str, dreg: int, creg: int, row: Row, c: Cfi, known: dict[int, int]) -> Check | None:
        d = row.loc(dreg, known)
        k = computed_loc(c, creg, known)
        if d == k:
            return None
        status, kind = "disagree", ""
        if d.kind == "expr":
            status, kind = "undetermined", "expression"
        elif "at_reg" in (d.kind, k.kind) and "same" not in (d.kind, k.kind):
            status, kind = "undetermined", "untranslatable-address"
        return Check(aspect, dreg, status, kind, loc_text(d, self.rn), loc_text(k, self.rn), (d, k))

    # -- FDEs ---------------------------------------------------------------------

    def do_fde(self, fde: Fde) -> None:
        p = self.p
        where = "%s FDE at 0x%x" % (fde.source, fde.offset)
        for msg in fde.problems:
            self.problems.append("%s: %s" % (where, msg))
        cs = p.code_by_secno.get(fde.secno)
        if cs is None:
            self.problems.append("%s: covers no code section (section %d, 0x%x-0x%x)"
                                 % (where, fde.secno, fde.start, fde.end))
            return
        i = cs.by_off.get(fde.start)
        if i is None:
            self.problems.append("%s: starts at %s, not at an instruction" % (where, p.offstr(fde.secno, fde.start)))
            i = next((k for k in range(cs.first, cs.end) if p.insn.off[k] >= fde.start), cs.end)
        idx = []
        while i < cs.end and p.insn.off[i] < fde.end:
            idx.append(i)
            i += 1
        if idx and p.insn[idx[-1]].end != fde.end:
            self.problems.append("%s: ends at %s, inside an instruction" % (where, p.offstr(fde.secno, fde.end)))
        f0 = p.func(idx[0]) if idx else None
        rows, k = fde.rows, 0
        entries: list[tuple[int, Row | None, bool, list[Check]]] = []
        for i in idx:
            off = p.insn.off[i]
            while k + 1 < len(rows) and rows[k + 1].pc <= off:
                k += 1
            row = rows[k] if rows and rows[k].pc <= off else None
            other = self.owner.get(i)
            if other is not None:
                entries.append((i, row, False, [Check("coverage", -1, "disagree", "overlap", "", "",
                                                      (other.source, other.offset, fde.offset))]))
                continue
            self.owner[i] = fde
            checks = self.compare(i, row, fde)
            fi = p.func(i)
            if f0 is not None and fi is not None and fi is not f0:
                checks.append(Check("coverage", -1, "disagree", "past-end", "", "", (f0.name,)))
            entries.append((i, row, p.cfi[i] is not None and row is not None, checks))
        self.name_kinds(fde, entries)
        self.noreturns(fde, entries)
        self.entry_state(fde, entries)
        self.count(entries)
        self.runs(fde, entries)

    def name_kinds(self, fde: Fde, entries: list) -> None:
        """Give register disagreements their kind from the register's history."""
        regs = {c.reg for _, _, _, cs in entries for c in cs
                if c.aspect in ("ra", "reg") and c.status == "disagree" and not c.kind}
        none = Loc("none")
        for r in sorted(regs):
            creg = self.abi.ra if r == fde.ra_column else r
            decl, comp = [], []
            for i, row, has, _ in entries:
                if not has:
                    decl.append(none)
                    comp.append(none)
                    continue
                c = self.p.cfi[i]
                known = known_regs(c, self.abi, self.sp_ok(i))
                decl.append(row.loc(r, known))
                comp.append(computed_loc(c, creg, known))
            for t, (i, row, has, cs) in enumerate(entries):
                for n, c in enumerate(cs):
                    if c.reg == r and c.aspect in ("ra", "reg") and c.status == "disagree" and not c.kind:
                        kind, ref = register_kind(decl, comp, t)
                        cs[n] = replace(c, kind=kind, info=c.info + (entries[ref][0] if ref >= 0 else -1,))

    def noreturns(self, fde: Fde, entries: list) -> None:
        """Disagreements right after a call the CFI treats as noreturn come from
        the interpreter's assumption that the call returns: not determined.  So
        are those its wrong state reaches by a jump (same state, a predecessor
        already marked)."""
        pos = {e[0]: t for t, e in enumerate(entries)}
        marked: dict[int, int] = {}                  # instruction -> the call

        def mark(t: int, j: int) -> None:
            while t < len(entries) and _disagrees(entries[t][3]):
                cs = entries[t][3]
                for n, c in enumerate(cs):
                    if c.status == "disagree" and c.aspect != "coverage":
                        cs[n] = replace(c, status="undetermined", kind="noreturn-call", info=(j,))
                marked[entries[t][0]] = j
                t += 1
        starts = [t for t in range(len(entries))
                  if _disagrees(entries[t][3]) and not (t and _disagrees(entries[t - 1][3]))]
        for t in starts:
            j = noreturn_call_before(self.p, entries[t][0], fde)
            if j >= 0:
                mark(t, j)
        changed = bool(marked)
        while changed:
            changed = False
            for t in starts:
                i = entries[t][0]
                if i in marked or not _disagrees(entries[t][3]):
                    continue
                src = next((q for q in self.preds(i) if q in marked and q in pos
                            and self.p.cfi[q] == self.p.cfi[i]), -1)
                if src >= 0:
                    mark(t, marked[src])
                    changed = True

    def entry_state(self, fde: Fde, entries: list) -> None:
        """An FDE whose first row, at its function's entry, is not the ABI's
        entry state declares a function entered some other way (glibc's PLT
        trampolines start with two more words on the stack; glibc's _start
        declares its return address undefined, DWARF's end-of-stack marker for
        code no call entered).  The interpreter assumes a call, so its states
        there say nothing: not determined."""
        if not entries:
            return
        i = entries[0][0]
        f = self.p.func(i)
        first = entries[0][3]
        if f is None or f.pfunc is not f or self.p.insn.off[i] != f.offset or \
                not any(c.status == "disagree" and (c.aspect == "cfa" or _ra_undefined(c)) for c in first):
            return
        for _, _, _, cs in entries:
            for n, c in enumerate(cs):
                if c.status == "disagree" and c.aspect != "coverage":
                    cs[n] = replace(c, status="undetermined", kind="entry-state", info=(i,))

    def count(self, entries: list) -> None:
        for i, row, has, checks in entries:
            t = self.tally(i)
            if checks and checks[0].kind == "overlap":
                t["d:" + COVER_CLS] += 1
                continue
            t["instructions"] += 1
            cfa = next((c for c in checks if c.aspect == "cfa"), None)
            ra = next((c for c in checks if c.aspect == "ra"), None)
            if has and (cfa is None or cfa.status == "disagree"):
                t["compared"] += 1
                t["cfa_compared"] += 1
                t["cfa_agreeing"] += cfa is None
            if has and (ra is None or ra.status == "disagree"):
                t["ra_compared"] += 1
                t["ra_agreeing"] += ra is None
            dis = {check_class(c, self.abi) for c in checks if c.status == "disagree"}
            t.update("d:" + cl for cl in dis)
            if not dis and checks:
                t["n:" + next(c.kind for c in checks if c.status == "undetermined")] += 1
            elif not checks:
                t["agreeing"] += 1

    def runs(self, fde: Fde | None, entries: list) -> None:
        """Collapse consecutive instructions with the same finding; callee-saved
        registers with the same kind of finding share one run (compilers save
        and describe them in batches)."""
        open_: dict[tuple, list] = {}
        prev_i = None
        for i, row, has, checks in entries + [(-1, None, False, [])]:
            keys: dict[tuple, list] = {}
            for c in checks:
                k = (c.aspect, -1 if c.aspect == "reg" and c.reg != self.abi.fp else c.reg, c.status, c.kind)
                if c.kind in ("noreturn-call", "entry-state"):     # one finding, whatever it touches
                    k = ("state", -1, c.status, c.kind)
                keys.setdefault(k, [c, set()])[1].add(c.reg)
            contiguous = prev_i is not None and i == prev_i + 1 and self.p.func(i) is self.p.func(prev_i)
            for key in list(open_):
                if key not in keys or not contiguous:
                    self.emit(fde, *open_.pop(key))
            for key, (c, regs) in keys.items():
                if key in open_:
                    open_[key][2] = i
                    open_[key][3] |= regs
                else:
                    open_[key] = [c, i, i, regs]
            prev_i = i

    def gaps(self) -> None:
        """Function code no FDE covers.  A gap of only nop/int3 is padding (the
        kernel's __pfx_ symbols, alignment), which nothing unwinds from; an
        alternative's replacement (arm64 keeps them at the end of .text, in
        `.subsection 1`) never runs where it lies: it is copied over the
        original, whose FDE covers it there."""
        p = self.p

        def uncovered(i: int) -> bool:
            g = p.alt_group[i]
            return i not in self.owner and p.func(i) is not None and (g is None or g.orig_group is None)
        for cs in p.code:
            if not cs.text:
                continue
            run: list[int] = []
            for i in range(cs.first, cs.end + 1):
                if i < cs.end and uncovered(i) and (not run or p.func(i) is p.func(run[-1])):
                    run.append(i)
                    continue
                if run and any(p.kind[j] not in (Kind.NOP, Kind.TRAP) for j in run):
                    for j in run:
                        self.tally(j).update(("instructions", "d:" + COVER_CLS))
                    self.runs(None, [(j, None, False, [Check("coverage", -1, "disagree", "no-fde", "(no FDE)", "")])
                                     for j in run])
                run = [i] if i < cs.end and uncovered(i) else []

    # -- evidence -----------------------------------------------------------------

    def emit(self, fde: Fde | None, chk: Check, a: int, b: int, regs: set[int]) -> None:
        p, rn = self.p, self.abi.reg_name
        cls = check_class(chk, self.abi)
        f = p.func(a)
        reg = " ".join(rn(r) for r in [chk.reg] + sorted(regs - {chk.reg})) if chk.reg >= 0 else ""
        row = fde.row_at(p.insn.off[a]) if fde is not None else None
        by_i = self.changed_by(a, chk)
        cause = self.insn_ref(by_i) if by_i >= 0 else ""
        extra: dict = {}
        if chk.aspect == "cfa" and chk.status == "disagree" and len(chk.info) == 3:
            r, known, off = chk.info
            extra = {"cfa_base": rn(r), "cfa_base_at": known, "cfa_delta": known + off}
        d = Disagreement(
            file=self.name, function=f.name if f is not None else "(no function)",
            section=p.sec_of[a].name, start=p.insn.off[a], end=p.insn.end(b), first=p.where(a),
            cls=cls, kind=chk.kind, aspect=chk.aspect, register="ra" if chk.aspect == "ra" else reg,
            breaks_unwinding=breaks(cls, chk.kind), instructions=b - a + 1, declared=chk.declared,
            computed=chk.computed, declared_by=self.declared_by(row, chk, fde),
            computed_by=cause or self.entry_ref(a), cause=cause, related=self.related(chk, a, fde),
            window=self.window(a, b), origin=ASM_ORIGIN if self._asm_excursion(fde, chk, a, b) else "",
            **extra)
        (self.undetermined if cls == UNDET else self.found).append(d)

    def _asm_excursion(self, fde: Fde | None, chk: Check, a: int, b: int) -> bool:
        """A CFA disagreement is an undescribed stack excursion when the code
        moves SP away and back within [a-1, b+1] while one and the same CFA
        rule covers all of it, and code and CFI agree at both ends.  A compiler
        describes each SP change of its own code generation (a late or early
        adjustment changes the rule next to the run); an asm statement's pushes
        and pops it cannot see, so none of them has a row."""
        p = self.p
        if chk.aspect != "cfa" or chk.status != "disagree" or fde is None:
            return False
        lo, hi = a - 1, b + 1
        if lo < 0 or hi >= len(p.insn) or p.func(lo) is not p.func(a) or p.func(hi) is not p.func(a):
            return False
        if p.sec_of[lo] is not p.sec_of[hi] or hi - lo > 64:
            return False
        rules = set()
        for j in range(lo, hi + 1):
            row = fde.row_at(p.insn.off[j])
            if row is None:
                return False
            rules.add(row.cfa)
        first, mid, last = p.cfi[lo], p.cfi[a], p.cfi[hi]
        if len(rules) != 1 or first is None or mid is None or last is None:
            return False
        sp = self.abi.sp
        return first.cfa_base == last.cfa_base == sp and first.cfa_offset == last.cfa_offset and \
            (mid.cfa_base, mid.cfa_offset) != (sp, first.cfa_offset)

    def related(self, chk: Check, a: int, fde: Fde | None) -> str:
        """The other place a finding refers to, for its sentence."""
        p, k = self.p, chk.kind
        if k == "no-state:walk-stopped":
            return self.stop_message(a)
        if k == "no-state:file-abandoned":
            return self.abandoned
        if k == "noreturn-call":
            j = chk.info[0]
            dest = p.call_dest[j]
            return "%s at %s" % (dest.name if dest is not None else "an indirect target", p.where(j))
        if k == "past-end":
            return "the %s FDE at 0x%x (for %s)" % (fde.source, fde.offset, chk.info[0])
        if k == "overlap":
            return "%s FDEs at 0x%x and 0x%x" % chk.info
        if k == "unknown-base":
            return self.abi.reg_name(chk.info[0])
        if chk.aspect in ("ra", "reg") and chk.info and isinstance(chk.info[-1], int) and chk.info[-1] >= 0:
            return p.where(chk.info[-1])
        return ""

    def declared_by(self, row: Row | None, chk: Check, fde: Fde | None) -> str:
        if row is None:
            return "no FDE" if fde is None else "no row"
        src = "%s FDE at 0x%x" % (fde.source, fde.offset)
        if chk.aspect == "coverage":
            return src
        o = row.cfa_origin if chk.aspect in ("cfa", "state") else row.origin(chk.reg)
        where = o.where(lambda pc: self.p.offstr(fde.secno, pc)) if o is not None else \
            "no rule: same value (CIE default)"
        return "%s (%s)" % (where, src)

    def preds(self, j: int) -> list[int]:
        p = self.p
        if self._rev is None:
            rev: dict[int, list[int]] = {}
            for k in range(len(p.insn)):
                if p.jump_dest[k] >= 0:
                    rev.setdefault(p.jump_dest[k], []).append(k)
                for a, _ in p.alts[k] or ():
                    rev.setdefault(a, []).append(k)
            self._rev = rev
        out = []
        q = p.prev_same_sec(j)
        if q >= 0 and p.kind[q] not in (Kind.JUMP_UNCOND, Kind.JUMP_DYNAMIC, Kind.RETURN) \
                and not p.dead_end[q] and p.func(q) is p.func(j):
            out.append(q)
        return out + self._rev.get(j, [])

    def changed_by(self, i: int, chk: Check) -> int:
        """The instruction whose effect set the computed value at i: the nearest
        predecessor (breadth first, backwards along the CFG) whose state differs
        in this aspect; -1 when every path back keeps it (the entry state)."""
        p = self.p
        if p.cfi[i] is None or chk.aspect in ("state", "coverage"):
            return -1
        if chk.aspect == "cfa":
            key = lambda c: (c.cfa_base, c.cfa_offset, c.stack_size)  # noqa: E731
        else:
            r = self.abi.ra if chk.aspect == "ra" else chk.reg
            key = lambda c: (c.regs[2 * r], c.regs[2 * r + 1])  # noqa: E731
        cur, todo, seen = key(p.cfi[i]), [i], {i}
        for j in todo:                       # grows while it is walked: a BFS
            for q in self.preds(j):
                if p.cfi[q] is None or q in seen:
                    continue
                if key(p.cfi[q]) != cur:
                    return q
                seen.add(q)
                todo.append(q)
        return -1

    def entry_ref(self, i: int) -> str:
        f = self.p.func(i)
        if self.p.cfi[i] is None:
            return self.abandoned or self.stop_message(i) or "not reached by the interpreter"
        return "the entry state of %s" % (f.name if f is not None else "this code")

    def disasm(self, i: int) -> str:
        return self.p.disasm(i)

    def insn_ref(self, i: int) -> str:
        return "`%s` at %s" % (self.disasm(i), self.p.where(i))

    def window(self, a: int, b: int) -> tuple[WindowLine, ...]:
        p = self.p
        cs = p.sec_of[a]
        lo, hi = max(cs.first, a - 3), min(cs.end - 1, b + 1)
        f = p.func(a)
        while f is not None and lo < a and p.func(lo) is not f:       # stay inside the function
            lo += 1
        while f is not None and hi > b and p.func(hi) is not f:
            hi -= 1
        idx = list(range(lo, hi + 1))
        if b - a > 7:
            idx = list(range(lo, a + 4)) + [-1] + list(range(b - 1, hi + 1))
        out = []
        for i in idx:
            if i < 0:
                out.append(WindowLine("", "...", -1, "(%d instructions)" % (b - a - 5), "", ""))
                continue
            fde = self.owner.get(i)
            row = fde.row_at(p.insn.off[i]) if fde is not None else None
            decl = row_text(row, self.abi.reg_name, fde.ra_column) if fde is not None else "(no FDE)"
            mark = "->" if i == a else "!" if a < i <= b else ""
            out.append(WindowLine(mark, p.where(i), p.insn.off[i], self.disasm(i), decl,
                                  state_text(p.cfi[i], self.abi.reg_name, self.abi)))
        return tuple(out)


def _ra_undefined(c: Check) -> bool:
    """A return-address check whose declared rule is DW_CFA_undefined."""
    return c.aspect == "ra" and bool(c.info) and isinstance(c.info[0], Loc) and c.info[0].kind == "undefined"


def _disagrees(checks: list[Check]) -> bool:
    return any(c.status == "disagree" and c.aspect != "coverage" for c in checks)
