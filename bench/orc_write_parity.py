#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Does `orcgen orc --write` leave objects as objtool does, for ORC?

    python bench/orc_write_parity.py DIR [--jobs N] [--objtool PATH] [--limit N]

DIR is a kernel-object corpus made by kernel-objs.sh (OUTDIR, or its src/):
every NAME.o.pre is the object as the compiler left it, NAME.o the same object
after the kernel's objtool, and objtool-args.log holds objtool's arguments for
each object.  For every NAME.o.pre this copies it to a temporary directory, runs
orcgen's writer on the copy in-process (write_orc, with that object's objtool
arguments), and checks:

  (a) dump    `objtool --dump=orc` prints the same for the copy as for NAME.o
  (b) bytes   the copy's .orc_unwind equals NAME.o's, byte for byte
  (c) readelf `readelf -a` on the copy writes nothing to stderr (no error or warning)
  (d) ld      `ld -r` links the copy
  (e) symrefs every relocation the object had still patches the same place with
              the same type, addend and symbol (name, type, section, value), and
              COMDAT signatures and .llvm_addrsig still name the same symbols

"write" counts objects the writer handled: ORC written, or none to write because
objtool wrote none either.

It prints per-check counts and the failures grouped by cause; exit status 0
when every object passed every check.  Nothing under DIR is written.
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from orcgen.commands.orc import write_orc  # noqa: E402
from orcgen.elf import SHT_REL, SHT_RELA, ElfFile  # noqa: E402
from orcgen.elfwrite import SHT_GROUP, SHT_LLVM_ADDRSIG, uleb_list  # noqa: E402
from orcgen.errors import InputError  # noqa: E402
from orcgen.options import Options  # noqa: E402

OBJTOOL = "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool"
CHECKS = ("write", "dump", "bytes", "readelf", "ld", "symrefs")


def corpus_paths(d: str) -> tuple[str, str]:
    """(src directory, objtool-args.log) for a corpus given as OUTDIR or
    OUTDIR/src (kernel-objs.sh), or as a defconfig-build.sh object tree (its
    own log beside its objects)."""
    d = os.path.abspath(d)
    for src, log in ((os.path.join(d, "src"), os.path.join(d, "objtool-args.log")),
                     (d, os.path.join(d, "objtool-args.log")),
                     (d, os.path.join(os.path.dirname(d), "objtool-args.log"))):
        if os.path.isdir(src) and os.path.exists(log):
            return src, log
    sys.exit("%s: no objtool-args.log next to it or its parent" % d)


def read_args(log: str) -> dict[str, list[str]]:
    """object path relative to src/ -> objtool's arguments (the last run wins)."""
    out: dict[str, list[str]] = {}
    with open(log) as f:
        for line in f:
            words = shlex.split(line)
            if words:
                out[os.path.normpath(words[-1])] = words[:-1]
    return out


def _dump(objtool: str, path: str) -> tuple[int, str]:
    p = subprocess.run([objtool, "--dump=orc", path], capture_output=True, text=True,
                       env=dict(os.environ, SRCARCH="x86"))
    return p.returncode, p.stdout + p.stderr


def _symrefs(elf: ElfFile) -> dict[str, list]:
    """Everything that names a symbol by index -- relocations, COMDAT group
    signatures, .llvm_addrsig -- with the symbol described by value, not index."""
    def sym(i: int) -> tuple:
        s = elf.symbol(i)
        return (s.name, s.type, s.bind, s.section, s.value)
    out = {}
    for sec in elf.sections:
        key = sec.name + "#%d" % sec.index
        if sec.type in (SHT_RELA, SHT_REL) and sec.name != ".rela.orc_unwind_ip":
            out[key] = [(r.offset, r.type, r.addend) + sym(r.sym)
                        for r in elf.relocs_in_file_order(sec)]
        elif sec.type == SHT_GROUP:
            out[key] = [sym(sec.info)]
        elif sec.type == SHT_LLVM_ADDRSIG:
            out[key] = [sym(i) for i in uleb_list(elf.section_data(sec))]
    return out


def check_one(job: tuple[str, str, list[str], str, str]) -> tuple[str, dict[str, str], float]:
    """Run the writer on a copy of one object; {check: failure cause} for the failed ones."""
    rel, src, args, objtool, tmproot = job
    pre, ref = os.path.join(src, rel + ".pre"), os.path.join(src, rel)
    fails: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=tmproot) as tmp:
        copy = os.path.join(tmp, os.path.basename(rel))
        shutil.copyfile(pre, copy)
        opts, _ = Options.from_objtool_args(args)
        t0 = time.perf_counter()
        try:
            out = write_orc(copy, opts, warn=lambda line: None)
            status = out.status
        except (InputError, OSError) as e:
            status = "error"
            fails["write"] = "%s: %s" % (type(e).__name__, e)
        elapsed = time.perf_counter() - t0
        if status in ("fatal", "exists"):
            fails["write"] = "writer gave up: %s" % status
        rc_a, dump_a = _dump(objtool, copy)
        rc_b, dump_b = _dump(objtool, ref)
        if rc_a or rc_b or dump_a != dump_b:
            fails["dump"] = "objtool --dump=orc differs (%d vs %d lines)" % (
                dump_a.count("\n"), dump_b.count("\n")) if not (rc_a or rc_b) else \
                "objtool --dump=orc failed: %s" % (dump_a if rc_a else dump_b).strip()[:200]
        try:
            mine, theirs = ElfFile.from_path(copy), ElfFile.from_path(ref)
            a, b = mine.section_by_name(".orc_unwind"), theirs.section_by_name(".orc_unwind")
            if (a is None) != (b is None):
                fails["bytes"] = ".orc_unwind present in %s only" % ("orcgen's" if a else "objtool's")
            elif a is not None and mine.section_data(a) != theirs.section_data(b):
                fails["bytes"] = ".orc_unwind bytes differ"
            before = _symrefs(ElfFile.from_path(pre))
            after = _symrefs(mine)
            if before != after:
                bad = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
                fails["symrefs"] = "symbol references changed in %s" % ", ".join(bad[:3])
        except InputError as e:
            fails["bytes"] = "unreadable: %s" % e
        p = subprocess.run(["readelf", "-a", "-W", copy], capture_output=True, text=True)
        if p.returncode or p.stderr.strip():
            fails["readelf"] = "readelf: " + (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[0][:200]
        p = subprocess.run(["ld", "-r", "-o", os.path.join(tmp, "ld-r.o"), copy],
                           capture_output=True, text=True)
        if p.returncode:
            fails["ld"] = "ld -r: " + (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[0][:200]
    return rel, fails, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--jobs", "-j", type=int, default=1)
    ap.add_argument("--objtool", default=os.environ.get("OBJTOOL", OBJTOOL))
    ap.add_argument("--limit", type=int, default=0, help="check only the first N objects")
    a = ap.parse_args()
    src, log = corpus_paths(a.dir)
    args = read_args(log)
    objs = []
    for root, _dirs, files in os.walk(src):
        for f in files:
            if f.endswith(".o.pre") and os.path.exists(os.path.join(root, f[:-4])):
                objs.append(os.path.relpath(os.path.join(root, f[:-4]), src))
    objs.sort()
    if a.limit:
        objs = objs[:a.limit]
    missing = [o for o in objs if o not in args]
    if missing:
        print("%d objects have no line in %s; they run with --orc only" % (len(missing), log))
    tmproot = tempfile.mkdtemp(prefix="orc-write-parity.")
    jobs = [(o, src, args.get(o, ["--orc"]), a.objtool, tmproot) for o in objs]
    t0 = time.perf_counter()
    try:
        if a.jobs > 1:
            with mp.Pool(a.jobs) as pool:
                results = pool.map(check_one, jobs, chunksize=4)
        else:
            results = [check_one(j) for j in jobs]
    finally:
        shutil.rmtree(tmproot, ignore_errors=True)
    wall = time.perf_counter() - t0
    n = len(results)
    print("%d objects under %s (%.1f s wall; orcgen write %.2f s total, %.0f ms mean)"
          % (n, src, wall, sum(r[2] for r in results), 1000 * sum(r[2] for r in results) / max(n, 1)))
    for c in CHECKS:
        ok = sum(1 for r in results if c not in r[1])
        print("  %-8s %4d/%d  (%.1f%%)" % (c, ok, n, 100.0 * ok / max(n, 1)))
    all_ok = sum(1 for r in results if not r[1])
    print("  %-8s %4d/%d  (%.1f%%)" % ("all", all_ok, n, 100.0 * all_ok / max(n, 1)))
    causes: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for rel, fails, _ in results:
        for c, why in fails.items():
            causes[(c, why)].append(rel)
    if causes:
        print("failures by cause:")
        for (c, why), rels in sorted(causes.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print("  [%s] %s: %d: %s" % (c, why, len(rels), " ".join(rels[:8]) + (" ..." if len(rels) > 8 else "")))
    return 0 if all_ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
