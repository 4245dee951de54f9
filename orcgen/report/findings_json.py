# SPDX-License-Identifier: GPL-2.0-only
"""Findings as JSON, schema "orcgen-findings/1".

{"schema", "files": [{"file", "error" (an input error, or null), "findings":
[{"rule" ("check/kind"), "check", "kind", "severity", "fatal", "message",
"where", "location": {file, section, offset, function, func_offset},
"evidence": {"steps": [{where, offset, text, state, note, declared}],
"path": [...]}}]}]}.  Keys in a fixed order, findings in report order, so the
same input gives byte-identical output.
"""
from __future__ import annotations

import json
from dataclasses import asdict

from ..findings import Finding

SCHEMA = "orcgen-findings/1"


def finding(f: Finding) -> dict:
    return {"rule": f.rule, "check": f.check, "kind": f.kind, "severity": f.severity, "fatal": f.fatal,
            "message": f.message, "where": f.where, "location": asdict(f.location),
            "evidence": {"steps": [asdict(s) for s in f.evidence.steps], "path": list(f.evidence.path)}}


def render(files: list[tuple[str, list[Finding], str | None]]) -> str:
    """`files`: (name, findings, input error or None) in the order given."""
    return json.dumps({"schema": SCHEMA, "files": [
        {"file": name, "error": err, "findings": [finding(f) for f in fs]} for name, fs, err in files]},
        indent=1) + "\n"
