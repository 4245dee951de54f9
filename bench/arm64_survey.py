# SPDX-License-Identifier: GPL-2.0-only
"""arm64 frame-pointer validation over a directory of kernel objects.

    python bench/arm64_survey.py CORPUS/src [--dirs kernel/,lib/] [--list N]

For every object it runs the arm64 analysis with --stackval and prints:
  - instructions, and stack effects orcgen could not model: writes to SP or FP
    that the back-end turned into "unknown" (each one listed with its disassembly);
  - findings by kind, with one example of each (file, location, disassembly).
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
from multiprocessing import Pool

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from orcgen.elf import ElfFile  # noqa: E402
from orcgen.options import Options  # noqa: E402
from orcgen.pipeline import analyze_elf  # noqa: E402

UNKNOWN = 32


def _kind(message: str) -> str:
    m = message.split(" (")[0]
    if "falls through to next function" in m:
        return "falls through to next function"
    if "is missing a __noreturn annotation" in m:
        return "missing __noreturn annotation"
    if m.startswith("frame pointer set to"):
        return "frame pointer set without a frame record"
    if m.startswith("stack state mismatch"):
        return m.split(":")[0] + ": " + m.split(":")[1].split("=")[0].strip()
    return m


def survey(path: str) -> dict:
    elf = ElfFile.from_path(path)
    res = analyze_elf(elf, Options(orc=True, stackval=True), keep_program=True, cache=None)
    p = res.program
    out = {"path": path, "insns": 0, "unknown": [], "findings": []}
    for f in res.findings:
        out["findings"].append((_kind(f.message), f.where, f.message))
    if p is None:
        return out
    out["insns"] = len(p.insn)
    for i, ops in enumerate(p.ops):
        for op in ops:
            if op.src_reg == UNKNOWN and p.visited[i]:
                cs = p.sec_of[i]
                code = elf.section_data(cs.sec)[p.insn[i].offset:p.insn[i].end]
                text = p.be.disassemble(code, p.insn[i].offset)[0][2]
                fn = p.func(i)
                safe = p.cfi[i] is not None and p.cfi[i].cfa_base == p.abi.fp
                out["unknown"].append(("sp" if op.dest_reg == 31 else "fp", p.where(i), text,
                                       fn.name if fn else "", safe))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("--dirs", default="kernel/,lib/")
    ap.add_argument("--list", type=int, default=40)
    ap.add_argument("-j", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    objs = []
    for d in a.dirs.split(","):
        for root, _, names in os.walk(os.path.join(a.src, d)):
            objs += [os.path.join(root, n) for n in names
                     if n.endswith(".o") and not n.endswith(".mod.o") and not n.startswith("built-in")]
    objs.sort()
    with Pool(a.j) as pool:
        results = pool.map(survey, objs, chunksize=4)
    insns = sum(r["insns"] for r in results)
    unknown = [(os.path.relpath(r["path"], a.src),) + u for r in results for u in r["unknown"]]
    print("%d objects, %d instructions" % (len(results), insns))
    safe = sum(1 for u in unknown if u[5])
    print("writes to SP or FP that leave them unknown: %d (SP: %d, FP: %d)" % (
        len(unknown), sum(1 for u in unknown if u[1] == "sp"), sum(1 for u in unknown if u[1] == "fp")))
    print("  (modelled as such: with an FP-based CFA an unknown SP is harmless; an FP written while "
          "it is not the frame's FP is the 'scratch register' finding)")
    for u in unknown[:a.list]:
        print("  %s: %s: %s  [%s := unknown, CFA on %s]" % (u[0], u[2], u[3], u[1],
                                                          "fp" if u[5] else "sp"))
    kinds = collections.Counter()
    example = {}
    for r in results:
        for kind, where, msg in r["findings"]:
            kinds[kind] += 1
            example.setdefault(kind, (os.path.relpath(r["path"], a.src), where, msg))
    print("findings with --stackval: %d in %d objects" % (
        sum(kinds.values()), sum(1 for r in results if r["findings"])))
    for kind, n in kinds.most_common():
        f, where, msg = example[kind]
        print("  %5d  %s\n         e.g. %s: %s: %s" % (n, kind, f, where, msg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
