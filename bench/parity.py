# SPDX-License-Identifier: GPL-2.0-only
"""ORC and warning parity with the kernel's objtool over a directory of kernel objects.

    python bench/parity.py CORPUS/src [--objtool PATH] [-j N] [--show N]

CORPUS is what ../shared/corpus/kernel-objs.sh builds: every object twice
(NAME.o.pre as the compiler left it, NAME.o after objtool) and the objtool
arguments of each in CORPUS/objtool-args.log.  For every NAME.o.pre this runs
`orcgen` with the same arguments and compares:

  ORC:      orcgen's table vs `objtool --dump=orc NAME.o`, line for line (for
            objects whose logged arguments have --orc: vmlinux.o's have not);
  warnings: orcgen's findings vs objtool's warnings, from running objtool with
            the logged arguments on a temporary copy of NAME.o.pre.

It prints the share of objects and entries that match, and the residue by cause.
"""
from __future__ import annotations

import argparse
import collections
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from orcgen.elf import ElfFile  # noqa: E402
from orcgen.options import Options  # noqa: E402
from orcgen.pipeline import analyze_elf  # noqa: E402

DEFAULT_OBJTOOL = "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool"


def objtool_args(src: str) -> dict[str, list[str]]:
    log = os.path.join(src, "..", "objtool-args.log")
    if not os.path.exists(log):
        log = os.path.join(src, "objtool-args.log")
    out: dict[str, list[str]] = {}
    for line in open(log):
        parts = line.split()
        if parts:
            out[parts[-1]] = parts[:-1]
    return out


def compare(job: tuple[str, str, list[str], str]) -> dict:
    src, rel, args, objtool = job
    pre, post = os.path.join(src, rel + ".pre"), os.path.join(src, rel)
    env = dict(os.environ, SRCARCH="x86")
    # A run without --orc (vmlinux.o's at link time) makes no ORC: what NAME.o holds
    # then is the per-object runs' tables, merged by the linker; only warnings compare.
    orc_run = "--orc" in args
    ref = subprocess.run([objtool, "--dump=orc", post], env=env, capture_output=True,
                         text=True).stdout.splitlines() if orc_run else []
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(rel))
        shutil.copy(pre, copy)
        run = subprocess.run([objtool, *args, copy], env=env, capture_output=True, text=True)
        ref_warn = [ln.split("warning: objtool: ", 1)[1] for ln in run.stderr.splitlines()
                    if "warning: objtool: " in ln]
    opts, _ = Options.from_objtool_args(args + ["x"])
    t0 = time.perf_counter()
    try:
        res = analyze_elf(ElfFile.from_path(pre), opts)
        mine = [r.text() for r in res.orc or ()] if orc_run else []
        warn = [(f.where + ": " if f.where else "") + f.message for f in res.findings]
        err = None
    except Exception as e:                  # a crash is a finding of this harness
        mine, warn, err = [], [], "%s: %s" % (type(e).__name__, e)
    dt = time.perf_counter() - t0
    bad = 0
    first = ""
    if mine != ref:
        d = [ln for ln in difflib.unified_diff(ref, mine, lineterm="", n=0)
             if ln[:1] in "+-" and ln[:3] not in ("---", "+++")]
        bad = max(sum(1 for ln in d if ln[0] == "-"), sum(1 for ln in d if ln[0] == "+"))
        first = " | ".join(d[:2])
    return {"rel": rel, "entries": len(ref), "bad": bad, "first": first, "error": err,
            "ref_warn": ref_warn, "warn": warn, "seconds": dt}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="the corpus src/ directory (with NAME.o.pre and NAME.o)")
    ap.add_argument("--objtool", default=DEFAULT_OBJTOOL)
    ap.add_argument("-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--show", type=int, default=20, help="residue lines to print")
    a = ap.parse_args()
    args = objtool_args(a.src)
    jobs = [(a.src, rel, argv, a.objtool) for rel, argv in sorted(args.items())
            if os.path.exists(os.path.join(a.src, rel + ".pre"))]
    t0 = time.time()
    with Pool(a.j) as pool:
        results = pool.map(compare, jobs, chunksize=4)
    n = len(results)
    same = sum(1 for r in results if not r["bad"] and not r["error"])
    entries = sum(r["entries"] for r in results)
    bad_entries = sum(r["bad"] for r in results)
    print("ORC: %d/%d objects identical (%.2f%%), %d/%d entries (%.3f%%)"
          % (same, n, 100.0 * same / max(n, 1), entries - bad_entries, entries,
             100.0 * (entries - bad_entries) / max(entries, 1)))
    causes = collections.Counter()
    shown = 0
    for r in results:
        if r["error"] or r["bad"]:
            cause = r["error"] or "ORC differs"
            causes[cause.split(":")[0]] += 1
            if shown < a.show:
                print("  %s: %s %s" % (r["rel"], cause, r["first"]))
                shown += 1
    if causes:
        print("  residue by cause:", dict(causes))
    quiet_ref = [r for r in results if not r["ref_warn"]]
    false_pos = [r for r in quiet_ref if r["warn"]]
    missed = [r for r in results if r["ref_warn"] and not r["warn"]]
    same_w = sum(1 for r in results if r["warn"] == r["ref_warn"])
    print("warnings: objtool clean on %d objects, orcgen found something on %d of them; "
          "objtool warned on %d, orcgen silent on %d; identical warning lists on %d/%d"
          % (len(quiet_ref), len(false_pos), n - len(quiet_ref), len(missed), same_w, n))
    for r in (false_pos + missed)[:a.show]:
        print("  %s: objtool %s / orcgen %s" % (r["rel"], r["ref_warn"][:2], r["warn"][:2]))
    secs = sorted(r["seconds"] for r in results)
    print("orcgen analysis time: total %.1f s, median %.3f s per object; wall %.1f s with -j%d"
          % (sum(secs), secs[len(secs) // 2] if secs else 0, time.time() - t0, a.j))
    return 0 if same == n and not false_pos else 1


if __name__ == "__main__":
    sys.exit(main())
