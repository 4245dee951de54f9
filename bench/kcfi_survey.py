# SPDX-License-Identifier: GPL-2.0-only
"""KCFI layout consistency over a whole build (orcgen's `kcfi` check, build-wide).

    python bench/kcfi_survey.py DIR|FILE... [--json] [--list N]

One object cannot know the build's -fpatchable-function-entry=M,N when it
was itself compiled with other flags (a Rust object, a directory whose
Makefile filters the flags out): every function in it agrees with every
other, and all of them disagree with every caller elsewhere.  survey() reads
every object once (orcgen.checks.kcfi.facts: ELF only, no decoding), takes
the build's layout as the majority over all functions' hashes, and then:

- judges each object against the build's layout (the check's findings, with
  `expected` set), summarising an object whose own majority differs from the
  build's as one kcfi-object-mismatch finding plus its own outliers;
- reports kcfi-missing-tag for a function without a hash that is defined in
  one object and whose address another object takes.

Under a kernel build directory, for x86-64 `NAME.o.pre` (the compiler's output,
before objtool) is read instead of `NAME.o` when both exist.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from orcgen.checks import kcfi  # noqa: E402
from orcgen.elf import ElfFile  # noqa: E402
from orcgen.errors import InputError  # noqa: E402
from orcgen.findings import Finding, Location  # noqa: E402


def objects(paths: list[str]) -> list[str]:
    """The object files under `paths` (NAME.o.pre in place of NAME.o), sorted."""
    out = []
    for p in paths:
        if os.path.isfile(p):
            out.append(p)
            continue
        for root, dirs, files in os.walk(p):
            dirs.sort()
            names = set(files)
            for f in sorted(files):
                if f.endswith(".o.pre") or (f.endswith(".o") and f + ".pre" not in names):
                    out.append(os.path.join(root, f))
    return out


def survey(paths: list[str]) -> dict:
    """Read every object under `paths`; return the figures and the findings.

    Keys: objects, kcfi_objects, functions (checked: with a hash or a
    patchable record), tagged, calls, layout (the build's D and M,N per
    machine), layouts (Counter of per-object layouts), findings (Finding
    list), errors ((path, message) list)."""
    all_facts: list[kcfi.Facts] = []
    errors = []
    files = objects(paths)
    for path in files:
        try:
            fx = kcfi.facts(ElfFile.from_path(path), path, force=True)
        except InputError as e:
            errors.append((path, str(e)))
            continue
        if fx is not None:
            all_facts.append(fx)
    kc = [fx for fx in all_facts if fx.kcfi]
    # the build's layout, per machine: the majority of all hashes' distances
    build: dict[int, tuple[int, str]] = {}
    for m in sorted({fx.machine for fx in kc}):
        ds: Counter = Counter()
        mns: dict[int, Counter] = {}
        for fx in kc:
            if fx.machine != m:
                continue
            for f in fx.funcs:
                if f.tag >= 0 and not f.problem:
                    ds[f.distance] += 1
                    mns.setdefault(f.distance, Counter())[f.mn] += 1
        if ds:
            d = max(ds.items(), key=lambda kv: (kv[1], kv[0]))[0]
            build[m] = (d, mns[d].most_common(1)[0][0])
    findings: list[Finding] = []
    layouts: Counter = Counter()
    for fx in kc:
        own = fx.layout()
        layouts["%s D=%d (%s)" % ({62: "x86-64", 183: "arm64"}.get(fx.machine, fx.machine),
                                  own[0], own[1])] += 1
        b = build.get(fx.machine)
        if b is not None and own[0] != b[0]:
            n = sum(1 for f in fx.funcs if f.tag >= 0 and f.distance == own[0])
            nc = sum(1 for c in fx.calls if c.distance == own[0])
            findings.append(Finding(
                "kcfi-object-mismatch",
                "object built with patchable entry %s: %d type hashes at entry-0x%x and %d call "
                "checks reading target-0x%x, but the build's hashes are at entry-0x%x (patchable "
                "entry %s)" % (own[1], n, own[0], nc, own[0], b[0], b[1]),
                "", False, kcfi.KcfiCheck.name, "warning", Location(fx.name)))
            findings.extend(kcfi.judge(fx, None, own))
        else:
            findings.extend(kcfi.judge(fx, None, b))
    # cross-object: address taken here, defined without a hash there
    if kc:
        untagged = {}
        for fx in all_facts:
            for f in fx.funcs:
                if f.tag < 0 and not f.local and not f.untyped and f.secno >= 0:
                    untagged.setdefault(f.name, (fx, f))
        refs: dict[str, list[tuple[str, str]]] = {}
        for fx in kc:
            for sym, where in fx.taken_undefined:
                if sym in untagged:
                    refs.setdefault(sym, []).append((fx.name, where))
        for sym, sites in refs.items():
            dfx, f = untagged[sym]
            more = " (and %d more places)" % (len(sites) - 1) if len(sites) > 1 else ""
            findings.append(Finding(
                    "kcfi-missing-tag",
                    "%s has no KCFI type hash, but %s takes its address at %s%s: an indirect call "
                    "to it traps" % (f.name, sites[0][0], sites[0][1], more),
                    "%s+0x0" % f.name, False, kcfi.KcfiCheck.name, "warning",
                    Location(dfx.name, f.section, f.entry, f.name, 0)))
    return {
        "objects": len(files),
        "kcfi_objects": len(kc),
        "functions": sum(1 for fx in kc for f in fx.funcs if f.tag >= 0 or f.record),
        "tagged": sum(1 for fx in kc for f in fx.funcs if f.tag >= 0),
        "calls": sum(len(fx.calls) for fx in kc),
        "layout": {m: {"distance": d, "mn": mn} for m, (d, mn) in build.items()},
        "layouts": layouts,
        "findings": findings,
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--list", type=int, default=20, metavar="N", help="findings listed (default 20)")
    args = ap.parse_args(argv)
    r = survey(args.paths)
    kinds = Counter(f.kind for f in r["findings"])
    if args.json:
        json.dump({k: v for k, v in r.items() if k not in ("findings", "layouts")} |
                  {"layouts": dict(r["layouts"]), "kinds": dict(kinds),
                   "findings": [f.line(f.location.file) for f in r["findings"]]},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print("objects %d, with KCFI %d, functions checked %d (with a type hash %d), call checks %d"
          % (r["objects"], r["kcfi_objects"], r["functions"], r["tagged"], r["calls"]))
    for m, lay in r["layout"].items():
        print("build layout (%s): hashes at entry-0x%x, patchable entry %s"
              % ({62: "x86-64", 183: "arm64"}.get(m, m), lay["distance"], lay["mn"]))
    for k, n in r["layouts"].most_common():
        print("  objects %-28s %d" % (k, n))
    print("findings %d" % len(r["findings"]) + "".join(", %s %d" % kv for kv in sorted(kinds.items())))
    for f in r["findings"][:args.list]:
        print("  " + f.line(f.location.file))
    for p, e in r["errors"][:args.list]:
        print("  error: %s: %s" % (p, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
