# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen diff` for people: one evidence block per disagreement.

A block is what a compiler developer needs to act without rerunning anything:
where (file, function, address range), what (class, kind, one sentence),
why each side says what it says (the CFA instruction behind the declared row,
the instruction behind the computed state), and the instructions around it
with both rows side by side, `->` on the first wrong one.
"""
from __future__ import annotations

from typing import TextIO

from ..diff import ASM_ORIGIN, CFA_CLS, COVER_CLS, FP_CLS, RA_CLS, UNDET, Disagreement, FileReport, Tally

_BENIGN_STALE = ("benign: the slot keeps the caller's value until something is pushed over it (an "
                 "unwinder is misled only where an interrupt or signal can write below the stack "
                 "pointer, e.g. kernel code, which has no red zone)")


def sentence(d: Disagreement) -> str:
    """One sentence that says what is wrong and what it does to an unwinder or
    a debugger, e.g. "declared CFA is rsp+48, but the code leaves rsp at CFA-40
    after `add $0x8,%rsp` at func+0x42: ..."."""
    by = " after " + d.cause if d.cause else ""
    k, regs = d.kind, d.register.split()
    r = "the return address" if d.aspect == "ra" else regs[0] if regs else ""
    also = " (likewise %s)" % ", ".join(regs[1:]) if len(regs) > 1 else ""
    if d.cls == CFA_CLS:
        if k == "stack-switch":
            return "declared CFA is %s, but the code has switched stacks%s (the old stack pointer is saved " \
                "at the top of the new stack: CFA = %s): an unwinder using this row reads the wrong stack" % (
                    d.declared, by, d.computed)
        if k == "indirect" or not d.cfa_base:
            return "declared CFA is %s, but the code's CFA is %s%s" % (d.declared, d.computed, by)
        return ("declared CFA is %s, but the code leaves %s at CFA%+d%s: an unwinder using this row "
                "computes a CFA %d bytes too %s" % (d.declared, d.cfa_base, d.cfa_base_at, by,
                                                    abs(d.cfa_delta), "high" if d.cfa_delta > 0 else "low"))
    if d.cls == COVER_CLS:
        if k == "no-fde":
            return "no FDE covers %d instructions of %s: an unwinder cannot unwind from them" % (
                d.instructions, d.function)
        if k == "past-end":
            return "%s also covers %d instructions of %s" % (d.related, d.instructions, d.function)
        return "%d instructions are covered by two %s: which one an unwinder uses is undefined" % (
            d.instructions, d.related)
    if d.cls == RA_CLS and k == "signing":
        return "the CFI says the return address is %s, but the code has it %s%s: an unwinder %s" % (
            d.declared, d.computed, by, "authenticates an unsigned address and faults" if d.declared == "signed"
            else "uses a signed address as is and returns to a wrong place")
    if d.cls == RA_CLS and k not in ("stale", "late"):
        return "declared return address is %s, but the code has it %s%s: an unwinder returns to the " \
            "wrong place" % (d.declared, d.computed, by)
    if d.cls == UNDET:
        return _undetermined(d) + also
    fp = ("; it also misleads an unwinder wherever a caller's CFA is %s-based" % r) if d.cls == FP_CLS else ""
    text = {
        "stale": "%s is restored%s, but the CFI still says it is %s: %s" % (r, by, d.declared, _BENIGN_STALE),
        "early": "the CFI says %s is %s from here, but the code saves it there only at %s: until then the "
                 "slot holds garbage, which misleads a debugger%s" % (r, d.declared, d.related, fp),
        "phantom": "the CFI says %s is %s, but the code never saves it there: misleads a debugger%s"
                   % (r, d.declared, fp),
        "restored-early": "the CFI says %s is back in its register, but the code has it %s until it restores "
                          "it: %s still holds %s's own value, which misleads a debugger%s"
                          % (r, d.computed, r, d.function, fp),
        "late": "the code has %s %s%s, but the CFI says so only from %s: benign while %s still holds the "
                "caller's value" % (r, d.computed, by, d.related, r),
        "missing": "the code has %s %s%s, but the CFI never says so: a debugger shows %s's own %s in its "
                   "callers%s" % (r, d.computed, by, d.function, r, fp),
        "slot": "the CFI says %s is %s, but the code has it %s%s: misleads a debugger%s"
                % (r, d.declared, d.computed, by, fp),
    }.get(k, "the CFI says %s is %s, but the code has it %s%s" % (r, d.declared, d.computed, by))
    return text + also


def _undetermined(d: Disagreement) -> str:
    k = d.kind
    what = {"cfa": "CFA", "ra": "return address rule"}.get(d.aspect, "rule for " + d.register.split()[0]
                                                            if d.register else "state")
    fixed = {
        "no-state:walk-stopped": "the interpreter stopped walking %s at %s; nothing after that is compared "
                                 "(objtool's semantics stop a function at its first warning)" % (d.function, d.related),
        "no-state:file-abandoned": "the interpreter gave up on the whole file (%s), as objtool does" % d.related,
        "no-state:unreached": "the interpreter never reached these instructions",
        "no-state:padding": "padding (nop/int3) the interpreter never reaches",
        "no-state:not-in-function": "outside any function symbol, which the interpreter does not walk",
        "noreturn-call": "the CFI treats the call to %s as noreturn (a new row starts right after it), but the "
                         "interpreter assumed it returns and carried its state on" % d.related,
        "expression": "the declared %s is a DWARF expression the diff does not reduce (%s)" % (what, d.declared),
        "unknown-base": "the declared CFA (%s) is based on %s, whose value the interpreter does not relate to "
                        "the CFA (computed CFA %s)" % (d.declared, d.related, d.computed),
        "computed-undefined": "the interpreter's CFA is undefined here",
        "entry-state": "the CFI declares %s is entered with a frame other than a call's (CFA %s at its first "
                       "instruction); the interpreter assumes a call, so nothing in it is compared"
                       % (d.function, d.declared if d.aspect == "cfa" else "not the entry one"),
    }
    return "not determined: " + fixed.get(k, "%s: declared %s, computed %s" % (k, d.declared, d.computed))


def tally_line(t: Tally) -> str:
    parts = ["%d instructions" % t.instructions, "%d compared" % t.compared, "%d agree" % t.agreeing]
    if t.cfa_compared:
        parts.append("CFA %.2f%%" % (100.0 * t.cfa_agreeing / t.cfa_compared))
    if t.ra_compared:
        parts.append("RA %.2f%%" % (100.0 * t.ra_agreeing / t.ra_compared))
    if t.disagreeing:
        parts.append("disagreeing: " + ", ".join("%s %d" % kv for kv in t.disagreeing))
    if t.not_comparable:
        parts.append("not determined: " + ", ".join("%s %d" % kv for kv in t.not_comparable))
    return "; ".join(parts)


def verdict(d: Disagreement) -> str:
    """"breaks unwinding" or not, and whose code it is where that is not the compiler's."""
    flag = "breaks unwinding" if d.breaks_unwinding else "does not break unwinding"
    if d.origin == ASM_ORIGIN:
        flag += "; inline asm: no CFI row describes these stack changes, as a compiler cannot for " \
                "an asm statement (if the source has no asm here, the compiler emitted them without CFI)"
    return flag


def block(d: Disagreement, window: bool = True) -> list[str]:
    what = d.cls + (" " + d.kind if d.kind else "") + (" " + d.register if d.register else "")
    flag = verdict(d)
    out = ["%s: %s: %s [%s+0x%x..0x%x, %d insn%s] %s (%s)" % (
        d.file, d.function, d.first, d.section, d.start, d.end, d.instructions,
        "" if d.instructions == 1 else "s", what, flag),
        "    " + sentence(d)]
    if not window:
        return out
    out.append("    declared: %s  <- %s" % (d.declared or "-", d.declared_by))
    out.append("    computed: %s  <- %s" % (d.computed or "-", d.computed_by))
    if d.window:
        wi = max(len(w.where) for w in d.window)
        wt = min(40, max(len(w.insn) for w in d.window))
        wd = min(60, max(len(w.declared) for w in d.window))
        out.append("    %2s %-*s  %-*s  %-*s  %s" % ("", wi, "where", wt, "instruction", wd, "declared (CFI)",
                                                   "computed (interpreter)"))
        for w in d.window:
            out.append(("    %2s %-*s  %-*s  %-*s  %s" % (w.marker, wi, w.where, wt, w.insn, wd, w.declared,
                                                         w.computed)).rstrip())
    return out


def render(rep: FileReport, out: TextIO, only_breaking: bool = False, verbose: bool = False) -> None:
    src = rep.cfi or "no CFI"
    out.write("%s: %s, %d FDEs: %s\n" % (rep.file, src, rep.fdes, tally_line(rep.tally)))
    for p in rep.problems:
        out.write("%s: note: %s\n" % (rep.file, p))
    for d in rep.disagreements:
        if only_breaking and not d.breaks_unwinding:
            continue
        out.write("\n".join(block(d)) + "\n")
    if only_breaking:
        return
    for d in rep.undetermined:
        if d.kind == "no-state:padding" and not verbose:
            continue
        out.write("\n".join(block(d, window=verbose)) + "\n")
    if verbose:
        for f in rep.functions:
            out.write("%s: %s (%s+0x%x): %s\n" % (rep.file, f.name, f.section, max(f.start, 0),
                                                tally_line(f.tally)))
