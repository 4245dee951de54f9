# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen compare` as a table: per class and verdict, A and B side by side.

    class           verdict   A insns  /insn  funcs  /func   B insns ...

followed by the headline rates (orcgen/compare.py DEFINITIONS say what they
mean), the objects that did not match, and with --functions the functions
behind each class as `file: func+0xoff (kind, N insns)`.
"""
from __future__ import annotations

from ..compare import CLASSES, DEFINITIONS, Comparison, SideStats, rate


def pct(x: float) -> str:
    return "%.2f%%" % (100.0 * x)


def _cells(s: SideStats, insns: int, funcs: int) -> list[str]:
    return [str(insns), pct(rate(insns, s.compared)), str(funcs), pct(rate(funcs, s.functions))]


def table(c: Comparison) -> list[list[str]]:
    rows = [["class", "verdict"] + ["%s %s" % (c.a.label, h) if k == 0 else h
                                    for k, h in enumerate(("insns", "/insn", "funcs", "/func"))]
            + ["%s %s" % (c.b.label, h) if k == 0 else h for k, h in enumerate(("insns", "/insn", "funcs", "/func"))]]
    for cls in CLASSES:
        for b in (True, False):
            sa, sb = c.a.cls(cls, b), c.b.cls(cls, b)
            rows.append([cls, "breaks" if b else "benign"] + _cells(c.a, sa.instructions, sa.functions)
                        + _cells(c.b, sb.instructions, sb.functions))
    rows.append(["coverage", "uncovered"] + [x for s in (c.a, c.b) for x in (
        str(s.uncovered_instructions), "-", str(s.functions_without_fde), "-")])
    rows.append(["any", "breaks"] + _cells(c.a, c.a.breaking_instructions, c.a.breaking_functions)
                + _cells(c.b, c.b.breaking_instructions, c.b.breaking_functions))
    return rows


def _format(rows: list[list[str]]) -> list[str]:
    w = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [r[k].ljust(w[k]) if k < 2 else r[k].rjust(w[k]) for k in range(len(r))]
        out.append(("  ".join(cells[:2]) + "   " + "  ".join(cells[2:6]) + "   " + "  ".join(cells[6:])).rstrip())
    return out


def headline(s: SideStats) -> str:
    est = " (%d of them estimated from byte ranges)" % s.estimated_instructions if s.estimated_instructions else ""
    asm = s.breaking_functions - s.breaking_functions_compiler
    asm = " (%d of them only from asm statements: %s without)" % (
        asm, pct(rate(s.breaking_functions_compiler, s.functions))) if asm else ""
    return ("%s: %d/%d functions with an FDE (%s) have a disagreement that breaks unwinding%s; "
            "%d/%d compared instructions (%s)%s; %d instructions no FDE covers" % (
                s.label, s.breaking_functions, s.functions, pct(s.rate_per_function), asm,
                s.breaking_instructions, s.compared, pct(s.rate_per_instruction), est,
                s.uncovered_instructions))


def render(c: Comparison, functions: bool = False) -> str:
    out = ["orcgen compare: A = %s (%s), B = %s (%s)" % (c.a.path, c.a.label, c.b.path, c.b.label),
           "objects: %d matched, %d only in A, %d only in B, %d unreadable" % (
               len(c.matched), len(c.only_a), len(c.only_b), len(c.errors))]
    for s in (c.a, c.b):
        out.append("%s: %d objects, %d functions with an FDE (%d without), %d instructions, %d compared" % (
            s.label, s.objects, s.functions, s.functions_without_fde, s.instructions, s.compared))
    out.append("")
    out += _format(table(c))
    out.append("")
    out.append("headline (per function: share of functions with an FDE with at least one disagreement "
               "that breaks unwinding; per instruction: compared instructions that break unwinding / compared):")
    out += ["  " + headline(s) for s in (c.a, c.b)]
    out.append("  functions (paired by object and name) that break unwinding in both: %d, only in %s: %d, "
               "only in %s: %d" % (len(c.breaking_both), c.a.label, len(c.breaking_only_a), c.b.label,
                                   len(c.breaking_only_b)))
    out.append("")
    out += ["%s: %s" % kv for kv in DEFINITIONS]
    for what, keys in (("only in A", c.only_a), ("only in B", c.only_b)):
        if keys:
            out.append("")
            out.append("%s (%d):" % (what, len(keys)))
            out += ["  " + k for k in keys]
    if c.errors:
        out.append("")
        out.append("unreadable (%d):" % len(c.errors))
        out += ["  %s: %s: %s" % e for e in c.errors]
    if functions:
        for label, pairs in ((c.a.label, c.breaking_only_a), (c.b.label, c.breaking_only_b)):
            if pairs:
                out.append("")
                out.append("breaking unwinding only in %s (%d functions):" % (label, len(pairs)))
                out += ["  %s: %s" % p for p in pairs]
        for s in (c.a, c.b):
            for st in s.classes:
                if not st.refs:
                    continue
                out.append("")
                out.append("%s: %s, %s (%d functions):" % (s.label, st.cls, "breaks unwinding" if st.breaks
                                                           else "does not break unwinding", len(st.refs)))
                out += ["  %s: %s (%s%s%s, %d insns)" % (r.file, r.first, r.kind or st.cls,
                                                         ", " + r.origin if r.origin else "",
                                                         "" if r.has_fde else ", no FDE", r.instructions)
                        for r in st.refs]
    return "\n".join(out) + "\n"
