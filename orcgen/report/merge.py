# SPDX-License-Identifier: GPL-2.0-only
"""One JSON or SARIF document from the per-file documents of a `-j N` run.

Under -j each file is its own run in a pool process (orcgen/batch.py), and a
structured format cannot be concatenated as text: these merge the documents
in the order the files were given, so the result equals a one-process run.
"""
from __future__ import annotations

import json


def merge(outputs: list[str]) -> str:
    docs = [json.loads(o) for o in outputs if o.strip()]
    if not docs:
        return ""
    if "runs" in docs[0]:
        return json.dumps(_sarif(docs), indent=1) + "\n"
    out = dict(docs[0])
    out["files"] = [f for d in docs for f in d.get("files", [])]
    if "total" in out:                            # orcgen-diff/1: the corpus summary is a sum
        out["total"] = _sum([d["total"] for d in docs])
    return json.dumps(out, indent=1) + "\n"


def _sum(items: list):
    first = items[0]
    if isinstance(first, bool) or not isinstance(first, (int, float, dict)):
        return first
    if isinstance(first, dict):
        keys: list = []
        for d in items:
            keys += [k for k in d if k not in keys]
        merged = {k: _sum([d[k] for d in items if k in d]) for k in keys}
        return dict(sorted(merged.items())) if all(isinstance(v, int) for v in merged.values()) \
            and keys != list(first) else merged
    return sum(items)


def _sarif(docs: list[dict]) -> dict:
    log = json.loads(json.dumps(docs[0]))
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    index = {r["id"]: n for n, r in enumerate(rules)}
    inv = run["invocations"][0]
    for d in docs[1:]:
        other = d["runs"][0]
        theirs = other["tool"]["driver"]["rules"]
        for r in theirs:
            if r["id"] not in index:
                index[r["id"]] = len(rules)
                rules.append(r)
        for res in other["results"]:
            res["ruleIndex"] = index[res["ruleId"]]
            run["results"].append(res)
        run["artifacts"] += other.get("artifacts", [])
        oi = other["invocations"][0]
        inv["toolExecutionNotifications"] += oi.get("toolExecutionNotifications", [])
        inv["executionSuccessful"] = inv["executionSuccessful"] and oi["executionSuccessful"]
    return log
