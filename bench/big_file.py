# SPDX-License-Identifier: GPL-2.0-only
"""orcgen and objtool on one large file, in the same run: wall time and peak RSS.

    python bench/big_file.py FILE [--args "objtool args"] [--objtool PATH] [--orcgen-only] [--runs N]
                             [--bin DIR]

FILE is an input as objtool got it (a defconfig build's vmlinux.o.pre, kept by
bench/defconfig-build.sh's wrapper; ARGS from its objtool-args.log) or any
large object or library (then `orcgen check`, and objtool `--dry-run`).  Each
tool runs on its own copy (objtool rewrites its input); both are measured
with wait4()'s rusage (ru_maxrss of the child, wall time around it), and the
ratios printed.  orcgen runs without its cache, as a first build would.
With --runs N the two tools take turns N times and the medians are compared:
on a shared 2-CPU machine one run of either can be a second off.  --bin DIR
runs DIR/orcgen-objtool and DIR/orcgen (an installed orcgen, e.g. a venv's
bin/) instead of this tree's scripts, which, with PYTHONDONTWRITEBYTECODE
set, compile every module from source on each run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_OBJTOOL = "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(cmd: list[str], env: dict) -> tuple[float, int, int, str, int]:
    """(wall seconds, peak RSS bytes, exit status, last stderr lines, peak
    PSS bytes of the process and its children together) of one child.
    wait4()'s peak RSS is the largest of the processes' (orcgen forks to walk
    vmlinux.o's functions in two, and each process counts the pages they
    share); the PSS sum, sampled every 20 ms, counts each page once."""
    import threading
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_pss(p.pid))
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    err = p.stderr.read()
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    t.join()
    tail = "\n".join(err.decode(errors="replace").splitlines()[-3:])
    return wall, ru.ru_maxrss * 1024, os.waitstatus_to_exitcode(status), tail, peak[0]


def _tree_pss(pid: int) -> int:
    """PSS of `pid` and its descendants, in bytes (0 once gone)."""
    total, todo = 0, [pid]
    while todo:
        q = todo.pop()
        try:
            with open("/proc/%d/smaps_rollup" % q) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            for tid in os.listdir("/proc/%d/task" % q):
                with open("/proc/%d/task/%s/children" % (q, tid)) as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--args", default="", help="objtool's arguments for this file (kernel inputs)")
    ap.add_argument("--objtool", default=DEFAULT_OBJTOOL)
    ap.add_argument("--orcgen-only", action="store_true")
    ap.add_argument("--runs", type=int, default=1, help="take turns N times; compare medians")
    ap.add_argument("--bin", help="directory of an installed orcgen's commands (default: this tree's bin/)")
    a = ap.parse_args()
    env = dict(os.environ, SRCARCH="x86", ORCGEN_NO_CACHE="1")
    env.pop("ORCGEN_WORKER", None)
    size = os.path.getsize(a.file)
    tmp = tempfile.mkdtemp(prefix="orcgen-big-")
    try:
        args = a.args.split()
        runs: dict[str, list[tuple]] = {}
        tools = [] if a.orcgen_only else ["objtool"]
        for _ in range(max(1, a.runs)):
            for tool in tools + ["orcgen"]:
                copy = os.path.join(tmp, tool + "-" + os.path.basename(a.file).replace(".pre", ""))
                shutil.copy(a.file, copy)
                if tool == "objtool":
                    cmd = [a.objtool] + (args or ["--orc", "--dry-run"]) + [copy]
                elif args:
                    cmd = _command(a.bin, "orcgen-objtool") + args + [copy]
                else:
                    cmd = _command(a.bin, "orcgen") + ["check", copy]
                wall, rss, st, tail, pss = measure(cmd, env)
                runs.setdefault(tool, []).append((wall, rss, st, pss))
                print("%-8s wall %8.2f s  peak RSS %8.1f MB (%.1fx the file)  peak PSS, all processes %8.1f MB"
                      "  exit %d%s" % (
                          tool, wall, rss / 2**20, rss / size, pss / 2**20, st,
                          ("\n    " + tail.replace("\n", "\n    ")) if tail else ""), flush=True)
                os.unlink(copy)
        if len(runs) == 2:
            w0, r0 = _median(runs["objtool"])
            w1, r1 = _median(runs["orcgen"])
            p0, p1 = (max(r[3] for r in runs[t]) for t in ("objtool", "orcgen"))
            print("orcgen / objtool: wall %.2fx, peak RSS %.2fx, peak PSS of all processes %.2fx  (%s, %.1f MB%s)" % (
                w1 / w0, r1 / r0, p1 / max(p0, 1), a.file, size / 2**20,
                ", medians of %d runs: objtool %.2f s, orcgen %.2f s" % (a.runs, w0, w1) if a.runs > 1 else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _command(bindir: str | None, name: str) -> list[str]:
    if bindir:
        return [os.path.join(bindir, name)]
    return [sys.executable, os.path.join(ROOT, "bin", name)]


def _median(rows: list[tuple]) -> tuple[float, int]:
    """Median wall time and the largest peak RSS of one tool's runs."""
    import statistics
    return statistics.median(r[0] for r in rows), max(r[1] for r in rows)


if __name__ == "__main__":
    sys.exit(main())
