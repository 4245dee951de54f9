# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen compare --format json`: schema "orcgen-compare/1".

    {"schema": "orcgen-compare/1",
     "definitions": {name: text},
     "objects": {"matched": n, "only_a": [key], "only_b": [key],
                 "errors": [{"side", "object", "reason"}]},
     "a": side, "b": side,
     "pairs": {"breaking_both": n, "breaking_only_a": [{"object", "function"}], "breaking_only_b": [...]}}

"pairs" pairs functions by object key and name: those that break unwinding in
both builds, or in one only.

A side: label, path, objects, functions (with an FDE), functions_without_fde,
instructions, compared, "headline" {"per_function": {"breaking", "functions",
"rate", "compiler", "compiler_rate"}, "per_instruction": {"breaking", "compared",
"rate", "estimated", "uncovered"}} ("compiler": functions with a breaking
disagreement not from an asm statement; "uncovered": code no FDE covers, left out
of the per-instruction figure),
"classes" {class: {"breaks": stat, "benign": stat}} in the diff's class order,
where a stat is {"instructions", "rate_per_instruction", "functions",
"rate_per_function", "runs", "list": [{"file", "function", "first", "kind",
"instructions", "has_fde", "origin"}]}, "distribution" {"bins": [label], "functions":
[n]} (functions with an FDE by their share of breaking instructions), and
"summary" (orcgen-diff/1's summary of the side's matched objects).
Keys are in a fixed order, so the same input gives byte-identical output.
"""
from __future__ import annotations

import json

from ..compare import BINS, CLASSES, DEFINITIONS, ClassStat, Comparison, SideStats, rate
from .diff_json import summary

SCHEMA = "orcgen-compare/1"


def _stat(s: SideStats, st: ClassStat) -> dict:
    return {"instructions": st.instructions, "rate_per_instruction": rate(st.instructions, s.compared),
            "functions": st.functions, "rate_per_function": rate(st.functions, s.functions), "runs": st.runs,
            "list": [{"file": r.file, "function": r.function, "first": r.first, "kind": r.kind,
                      "instructions": r.instructions, "has_fde": r.has_fde, "origin": r.origin}
                     for r in st.refs]}


def side(s: SideStats) -> dict:
    return {
        "label": s.label, "path": s.path, "objects": s.objects, "functions": s.functions,
        "functions_without_fde": s.functions_without_fde, "instructions": s.instructions, "compared": s.compared,
        "headline": {
            "per_function": {"breaking": s.breaking_functions, "functions": s.functions,
                             "rate": s.rate_per_function, "compiler": s.breaking_functions_compiler,
                             "compiler_rate": rate(s.breaking_functions_compiler, s.functions)},
            "per_instruction": {"breaking": s.breaking_instructions, "compared": s.compared,
                                "rate": s.rate_per_instruction, "estimated": s.estimated_instructions,
                                "uncovered": s.uncovered_instructions}},
        "classes": {c: {"breaks": _stat(s, s.cls(c, True)), "benign": _stat(s, s.cls(c, False))} for c in CLASSES},
        "distribution": {"bins": [label for _, label in BINS], "functions": list(s.distribution)},
        "summary": summary(s.tally),
    }


def document(c: Comparison) -> dict:
    return {
        "schema": SCHEMA,
        "definitions": dict(DEFINITIONS),
        "objects": {"matched": len(c.matched), "only_a": list(c.only_a), "only_b": list(c.only_b),
                    "errors": [{"side": s, "object": o, "reason": r} for s, o, r in c.errors]},
        "a": side(c.a), "b": side(c.b),
        "pairs": {"breaking_both": len(c.breaking_both),
                  "breaking_only_a": [{"object": k, "function": f} for k, f in c.breaking_only_a],
                  "breaking_only_b": [{"object": k, "function": f} for k, f in c.breaking_only_b]},
    }


def render(c: Comparison) -> str:
    return json.dumps(document(c), indent=1) + "\n"
