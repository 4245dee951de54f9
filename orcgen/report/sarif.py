# SPDX-License-Identifier: GPL-2.0-only
"""Findings as SARIF 2.1.0, for CI systems and editors.

One run per invocation.  A rule is `check/kind`, described from the check's
registration (orcgen/checks), so a viewer can show what each rule means
without knowing orcgen.  Locations are binary: the object file as the
artifact, the section and offset as an address, and the function as a
logical location; evidence becomes a code flow, one thread-flow location
per instruction, with the computed state as its message, so that a viewer
steps through the instructions that prove the finding.  An input error is a
tool execution notification, and makes the invocation unsuccessful.
"""
from __future__ import annotations

import json
from dataclasses import replace

from ..findings import ERROR, NOTE, Finding, Location

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {ERROR: "error", NOTE: "note"}


def _rules(findings: list[Finding]) -> tuple[list[dict], dict[str, int]]:
    from ..checks import available
    try:
        classes = available()
    except Exception:                     # a broken plugin must not lose the findings
        classes = {}
    rules, index = [], {}
    for f in findings:
        if f.rule in index:
            continue
        cls = classes.get(f.check)
        text = cls.kinds.get(f.kind, "") if cls is not None else ""
        full = cls.description if cls is not None else ""
        rule = {"id": f.rule, "name": f.kind,
                "shortDescription": {"text": text or f.kind},
                "defaultConfiguration": {"level": _LEVEL.get(cls.severity if cls else f.severity, "warning")}}
        if full:
            rule["fullDescription"] = {"text": full}
        index[f.rule] = len(rules)
        rules.append(rule)
    return rules, index


def _location(loc: Location, where: str, message: str = "") -> dict:
    phys: dict = {"artifactLocation": {"uri": _uri(loc.file)}}
    if loc.section and loc.offset >= 0:
        phys["address"] = {"name": loc.section, "relativeAddress": loc.offset, "kind": "section"}
    out: dict = {"physicalLocation": phys}
    if loc.function:
        out["logicalLocations"] = [{"name": loc.function, "kind": "function",
                                    "fullyQualifiedName": where or loc.function}]
    if message:
        out["message"] = {"text": message}
    return out


def _uri(path: str) -> str:
    from urllib.parse import quote
    return quote(path.replace("\\", "/"), safe="/()+:@")


def _result(f: Finding, index: dict[str, int]) -> dict:
    r = {"ruleId": f.rule, "ruleIndex": index[f.rule], "level": _LEVEL.get(f.severity, "warning"),
         "message": {"text": f.message}, "locations": [_location(f.location, f.where)]}
    if f.fatal:
        r["properties"] = {"fatal": True}
    ev = f.evidence
    if ev.steps:
        tfl = []
        for s in ev.steps:
            text = "%s  [%s]" % (s.text, s.state) if s.state else s.text
            if s.declared:
                text += "  declared: " + s.declared
            if s.note:
                text += "  (%s)" % s.note
            loc = f.location
            at = replace(loc, offset=s.offset, func_offset=loc.func_offset + s.offset - loc.offset
                         if loc.func_offset >= 0 else -1)
            tfl.append({"location": _location(at, s.where, text),
                        "importance": "essential" if s.note else "important"})
        flow: dict = {"threadFlows": [{"locations": tfl}]}
        if ev.path:
            flow["message"] = {"text": "reached through " + " -> ".join(ev.path)}
        r["codeFlows"] = [flow]
    return r


def render(files: list[tuple[str, list[Finding], str | None]], command_line: str = "orcgen") -> str:
    """`files`: (name, findings, input error or None), in the order given."""
    from .. import __version__
    everything = [f for _n, fs, _e in files for f in fs]
    rules, index = _rules(everything)
    notes = [{"level": "error", "message": {"text": "%s: %s" % (name, err)},
              "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(name)}}}]}
             for name, _fs, err in files if err]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "orcgen", "version": __version__, "semanticVersion": __version__,
                                "rules": rules}},
            "invocations": [{"executionSuccessful": not notes, "commandLine": command_line,
                             "toolExecutionNotifications": notes}],
            "artifacts": [{"location": {"uri": _uri(name)}} for name, _fs, _e in files],
            "results": [_result(f, index) for f in everything],
        }],
    }
    return json.dumps(log, indent=1) + "\n"
