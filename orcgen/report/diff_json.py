# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen diff --format json`: the same facts as the text, for scripts.

Schema "orcgen-diff/1": {"schema", "files": [file...], "total": summary}.
A file has "file", "machine", "cfi" (".eh_frame", ".debug_frame" or null),
"fdes", "problems", "summary", "functions" (name, section, start, summary),
"disagreements" and "not_determined" (runs, each with its evidence).  A summary
has instructions, compared, agreeing, disagreeing {class: n}, not_comparable
{reason: n}, and cfa/ra {compared, agreeing}.  Keys are emitted in a fixed order
and lists in address order, so the same input gives byte-identical output.
"""
from __future__ import annotations

import json
from dataclasses import asdict

from ..diff import Disagreement, FileReport, Tally
from .diff_text import sentence

SCHEMA = "orcgen-diff/1"


def summary(t: Tally) -> dict:
    return {
        "instructions": t.instructions, "compared": t.compared, "agreeing": t.agreeing,
        "disagreeing": dict(t.disagreeing),
        "not_comparable": dict(t.not_comparable),
        "cfa": {"compared": t.cfa_compared, "agreeing": t.cfa_agreeing},
        "ra": {"compared": t.ra_compared, "agreeing": t.ra_agreeing},
    }


def disagreement(d: Disagreement) -> dict:
    out = asdict(d)
    out.pop("file")
    out["class"] = out.pop("cls")
    out["window"] = [asdict(w) for w in d.window]
    out["sentence"] = sentence(d)
    return out


def file_report(rep: FileReport) -> dict:
    return {
        "file": rep.file, "machine": rep.machine, "cfi": rep.cfi, "fdes": rep.fdes,
        "problems": list(rep.problems), "breaks_unwinding": rep.breaking,
        "summary": summary(rep.tally),
        "functions": [{"name": f.name, "section": f.section, "start": f.start, "summary": summary(f.tally)}
                      for f in rep.functions],
        "disagreements": [disagreement(d) for d in rep.disagreements],
        "not_determined": [disagreement(d) for d in rep.undetermined],
    }


def render(reports: list[FileReport]) -> str:
    total = Tally.total(r.tally for r in reports)
    doc = {"schema": SCHEMA, "files": [file_report(r) for r in reports], "total": summary(total)}
    return json.dumps(doc, indent=1) + "\n"
