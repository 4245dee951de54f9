# SPDX-License-Identifier: GPL-2.0-only
"""orcgen against objtool, timed on the same objects in one run.

    python bench/bench.py CORPUS/src [--sample N] [--runs R] [--objtool PATH]

For each object NAME.o.pre (as the compiler left it) it measures the
whole-process wall time of

    objtool  `objtool <the object's logged args> --dry-run COPY`      (reference)
    cold     `orcgen orc <args> NAME.o.pre` with an empty cache
    warm     the same again, cache filled (the object's result is cached)
    make     `orcgen orc ...` as a kernel build runs it: under make (MAKELEVEL set,
             no orcgen variable), which hands it to the warm worker; an object
             never seen (make-cold: ORCGEN_NO_CACHE=1) and one seen before (make-warm)

and prints per-object and median ratios to objtool, and orcgen's decoder speed
against capstone's disasm_lite on the same bytes.  Medians over R runs per cell.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

DEFAULT_OBJTOOL = "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool"


def wall(cmd: list[str], env: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def orcgen_cmd(exe: str | None) -> list[str]:
    """The command timed: --orcgen, else this tree's bin/orcgen under this Python
    (not whatever `orcgen` is on PATH: a pyenv shim there adds 100+ ms a start)."""
    if exe:
        return [exe]
    return [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bin", "orcgen")]


def decoder_speed(objs: list[str]) -> tuple[float, float, int]:
    """(orcgen decoder insn/s, capstone disasm_lite insn/s, instructions) over the code sections."""
    import capstone
    from orcgen.backend import backend_for
    from orcgen.elf import ElfFile
    be = backend_for(62)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    secs = []
    for o in objs:
        e = ElfFile.from_path(o)
        secs += [e.section_data(s) for s in e.sections if s.is_exec and s.type != 8]
    lite = lambda: sum(sum(1 for _ in md.disasm_lite(code, 0)) for code in secs)  # noqa: E731
    ours = lambda: sum(len(be.decode_section(code, lambda off: True)[0]) for code in secs)  # noqa: E731
    lite(), ours()                           # warm: imports, capstone's tables
    t_lite = t_ours = float("inf")
    for _ in range(5):                       # interleaved, best of 5: the machine's noise cancels
        t0 = time.perf_counter()
        n_lite = lite()
        t1 = time.perf_counter()
        n_ours = ours()
        t2 = time.perf_counter()
        t_lite, t_ours = min(t_lite, t1 - t0), min(t_ours, t2 - t1)
    return n_ours / t_ours, n_lite / t_lite, n_ours


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("--sample", type=int, default=0, help="a random sample of N objects (0: all)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--objtool", default=DEFAULT_OBJTOOL)
    ap.add_argument("--dirs", default="kernel/,lib/", help="object directories to include")
    ap.add_argument("--orcgen", help="the orcgen command to time (default: the one on PATH); "
                    "e.g. a clean virtualenv's bin/orcgen, whose start-up has no editable-install hooks")
    a = ap.parse_args()
    log = os.path.join(a.src, "..", "objtool-args.log")
    jobs = []
    for line in open(log):
        parts = line.split()
        rel = parts[-1]
        if any(rel.startswith(d) for d in a.dirs.split(",")) and \
                os.path.exists(os.path.join(a.src, rel + ".pre")):
            jobs.append((rel, parts[:-1]))
    jobs = sorted(set((r, tuple(x)) for r, x in jobs))
    if a.sample:
        random.Random(1).shuffle(jobs)
        jobs = sorted(jobs[:a.sample])
    tmp = tempfile.mkdtemp(prefix="orcgen-bench-")
    base_env = dict(os.environ, SRCARCH="x86")
    for k in ("ORCGEN_WORKER", "ORCGEN_NO_CACHE", "ORCGEN_CACHE_DIR", "MAKELEVEL", "MAKEFLAGS"):
        base_env.pop(k, None)
    og = orcgen_cmd(a.orcgen)
    rows = []
    wdir = os.path.join(tmp, "worker-cache")
    wenv = dict(base_env, ORCGEN_CACHE_DIR=wdir, MAKELEVEL="1", ORCGEN_WORKER_IDLE="120")
    subprocess.run(og + ["orc", "/dev/null"], env=wenv, capture_output=True)   # start the server
    for n, (rel, args) in enumerate(jobs):
        pre = os.path.join(a.src, rel + ".pre")
        copy = os.path.join(tmp, "x.o")
        shutil.copy(pre, copy)
        t_obj = wall([a.objtool, *args, "--dry-run", copy], base_env, a.runs)
        orc_args = [x for x in args if x != "--orc"]
        cells = {}
        for label, env_extra, prime in (("cold", {}, False), ("warm", {}, True)):
            times = []
            for r in range(a.runs):
                cdir = os.path.join(tmp, "cache-%s-%d-%d" % (label, n, r))
                env = dict(base_env, ORCGEN_CACHE_DIR=cdir, **env_extra)
                if prime:
                    subprocess.run(og + ["orc", *orc_args, pre], env=env, capture_output=True)
                t0 = time.perf_counter()
                subprocess.run(og + ["orc", *orc_args, pre], env=env, capture_output=True)
                times.append(time.perf_counter() - t0)
                shutil.rmtree(cdir, ignore_errors=True)
            cells[label] = statistics.median(times)
        # under make (the worker, by default): cold (object never seen by this cache) then warm
        wcold = []
        for r in range(a.runs):
            env = dict(wenv, ORCGEN_NO_CACHE="1")
            t0 = time.perf_counter()
            subprocess.run(og + ["orc", *orc_args, pre], env=env, capture_output=True)
            wcold.append(time.perf_counter() - t0)
        cells["make-cold"] = statistics.median(wcold)
        subprocess.run(og + ["orc", *orc_args, pre], env=wenv, capture_output=True)
        cells["make-warm"] = wall(og + ["orc", *orc_args, pre], wenv, a.runs)
        rows.append((rel, t_obj, cells))
        print("%-44s objtool %6.1f ms  " % (rel, 1000 * t_obj) + "  ".join(
            "%s %5.1fx" % (k, v / t_obj) for k, v in cells.items()), flush=True)
    print()
    print("median over %d objects (whole-process wall time, ratio to objtool --orc --dry-run):"
          % len(rows))
    print("  objtool: %.1f ms" % (1000 * statistics.median(r[1] for r in rows)))
    # The floor no Python command goes below: the interpreter with and without
    # site's start-up (.pth files of the installation: an editable install's
    # finder, distutils' shim, whatever else site-packages holds).
    bare = wall([sys.executable, "-S", "-c", "pass"], base_env, 15)
    site = wall([sys.executable, "-c", "pass"], base_env, 15)
    print("  python -S -c pass: %.1f ms, python -c pass: %.1f ms (the start-up floor of any Python "
          "command here)" % (1000 * bare, 1000 * site))
    for k in rows[0][2]:
        print("  orcgen %-15s %6.1f ms   ratio %5.2fx" % (
            k, 1000 * statistics.median(r[2][k] for r in rows),
            statistics.median(r[2][k] / r[1] for r in rows)))
    ours, lite, ninsn = decoder_speed([os.path.join(a.src, r + ".pre") for r, _, _ in rows])
    print("decoder: %.2f M insn/s vs capstone disasm_lite %.2f M insn/s (%.0f%%) over %d instructions"
          % (ours / 1e6, lite / 1e6, 100 * ours / lite, ninsn))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
