#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""How often the compilers' DWARF CFI agrees with orcgen's computed state.

    bench/dwarf_agreement.py [--jobs N] [--top N] [--cfi auto|eh_frame|debug_frame] DIR-or-FILE...

Directories are searched for *.o, *.o.pre and *.a (archives: every member), or
for the endings given with --suffix (e.g. --suffix .o.pre for a kernel tree,
where *.o has been through objtool already).
Objects are grouped by compiler (from the .comment section: "clang" or "GCC")
and architecture, and for each group the script prints: instructions compared,
CFA and RA agreement (% of compared instructions), instructions per
disagreement class and its rate, not-determined instructions per reason, and
the most frequent patterns (class, kind, register and the mnemonic of the
first wrong instruction), each with one example location.  Output is sorted,
so the same inputs give the same report.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from multiprocessing import Pool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from orcgen.diff import Tally  # noqa: E402


def find_inputs(paths: list[str], suffixes: tuple[str, ...]) -> list[str]:
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith(suffixes):
                        out.append(os.path.join(root, f))
        else:
            out.append(p)
    return sorted(set(out))


def compiler_of(elf) -> str:
    sec = elf.section_by_name(".comment")
    text = elf.section_data(sec) if sec is not None else b""
    if b"clang" in text:
        return "clang"
    if b"GCC" in text:
        return "gcc"
    return "unknown"


def _mnemonic(d) -> str:
    for w in d.window:
        if w.marker == "->":
            return w.insn.split()[0] if w.insn else "?"
    return "?"


def one(args: tuple[str, str, str]) -> list[tuple]:
    """(group, tally, patterns, error, FDEs) for every object in one file."""
    path, cfi, forced = args
    from orcgen.diff import diff_object
    from orcgen.errors import InputError
    from orcgen.options import Options
    from orcgen.pipeline import load
    out = []
    try:
        objs = load(path)
    except InputError as e:
        return [(("?", "?"), Tally(), [], "%s: %s" % (path, e), 0)]
    for elf in objs:
        try:
            rep = diff_object(elf, Options(), cfi)
        except InputError as e:
            out.append(((forced or compiler_of(elf), elf.machine_name), Tally(), [], "%s: %s" % (elf.name, e), 0))
            continue
        pats = []
        for d in rep.disagreements + rep.undetermined:
            regs = d.register.split()[0] if d.cls in ("callee-saved",) else d.register
            key = (d.cls, d.kind, regs if d.cls != "callee-saved" else "*", _mnemonic(d))
            pats.append((key, d.instructions, "%s: %s" % (elf.name, d.first)))
        out.append(((forced or compiler_of(elf), elf.machine_name), rep.tally, pats, None, rep.fdes))
    return out


def pct(a: int, b: int) -> str:
    return "%.3f%%" % (100.0 * a / b) if b else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--cfi", default="auto", choices=("auto", "eh_frame", "debug_frame"))
    ap.add_argument("--compiler", default="",
                    help="group every object under this compiler name (Debian's libc.a has no .comment)")
    ap.add_argument("--suffix", action="append",
                    help="file name endings to take from directories (default: .o .o.pre .a)")
    args = ap.parse_args()
    files = find_inputs(args.paths, tuple(args.suffix or (".o", ".o.pre", ".a")))
    groups: dict[tuple, list[Tally]] = defaultdict(list)
    nobj: Counter = Counter()
    nfde: Counter = Counter()
    patterns: dict[tuple, Counter] = defaultdict(Counter)
    example: dict[tuple, str] = {}
    errors = []
    with Pool(max(1, args.jobs)) as pool:
        for res in pool.imap(one, [(f, args.cfi, args.compiler) for f in files], chunksize=1):
            for group, tally, pats, err, fdes in res:
                if err:
                    errors.append(err)
                    continue
                groups[group].append(tally)
                nobj[group] += 1
                nfde[group] += fdes
                for key, n, where in pats:
                    patterns[group][key] += n
                    example.setdefault((group, key), where)
    for group in sorted(groups):
        t = Tally.total(groups[group])
        print("== %s %s: %d objects, %d FDEs" % (group[0], group[1], nobj[group], nfde[group]))
        print("instructions: %d, compared: %d, agreeing on everything: %d (%s)"
              % (t.instructions, t.compared, t.agreeing, pct(t.agreeing, t.compared)))
        print("CFA agreement: %s (%d/%d)   RA agreement: %s (%d/%d)" % (
            pct(t.cfa_agreeing, t.cfa_compared), t.cfa_agreeing, t.cfa_compared,
            pct(t.ra_agreeing, t.ra_compared), t.ra_agreeing, t.ra_compared))
        for cls, n in t.disagreeing:
            print("  disagreeing %-15s %8d instructions (%s of compared)" % (cls, n, pct(n, t.compared)))
        for why, n in t.not_comparable:
            print("  not determined %-28s %8d instructions (%s of all)" % (why, n, pct(n, t.instructions)))
        print("  top patterns (instructions, class/kind/register/first mnemonic, example):")
        top = sorted(patterns[group].items(), key=lambda kv: (-kv[1], kv[0]))[:args.top]
        for key, n in top:
            print("    %8d  %s  e.g. %s" % (n, "/".join(x for x in key if x), example[(group, key)]))
    for e in sorted(errors):
        print("error: " + e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
