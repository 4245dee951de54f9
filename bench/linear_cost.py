# SPDX-License-Identifier: GPL-2.0-only
"""Does orcgen's cost grow linearly with its input, from one small object to vmlinux.o?

    python bench/linear_cost.py BUILD [--args "..."] [--plot FILE.png] [--steps N]

BUILD is a finished kernel build kept by bench/defconfig-build.sh with IBT off
(every object NAME.o beside the compiler's NAME.o.pre, and vmlinux.a).  The
inputs are two single objects (a small and a large one) and partial links
(`ld -r`) of the first K objects of vmlinux.a in link order, K doubling up to
all of them, so each input is the previous one plus more of the same kernel:
the same kind of code at every size.  orcgen (`orcgen-objtool`, no cache, no
worker) and objtool run on each with the same arguments (default: kbuild's
per-object arguments plus `--link --noinstr`, as for vmlinux.o), one after the
other on their own copies; wall time and peak RSS come from wait4().

It prints a row per input and the slope of log(time) against log(code size)
fitted over the inputs above 1 MB of code (1.0 is linear); with --plot it
draws both tools' times and orcgen's RSS against the code size (matplotlib).
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from big_file import DEFAULT_OBJTOOL, ROOT, measure  # noqa: E402

KBUILD_ARGS = ("--hacks=jump_label --hacks=noinstr --hacks=skylake --orc --retpoline --rethunk "
               "--static-call --uaccess --prefix=16 --link --noinstr")


def code_bytes(path: str) -> int:
    """The size of the executable sections (what is decoded and analysed)."""
    sys.path.insert(0, ROOT)
    from orcgen.elf import SHF_EXECINSTR, ElfFile
    elf = ElfFile.from_path(path)
    return sum(s.size for s in elf.sections if s.flags & SHF_EXECINSTR and s.type != 8)


def inputs(build: str, steps: int, tmp: str) -> list[tuple[str, str]]:
    """(label, path) from smallest to largest."""
    members = subprocess.run(["ar", "t", os.path.join(build, "vmlinux.a")], check=True,
                             capture_output=True, text=True).stdout.split()
    objs = []
    for m in members:
        pre = os.path.join(build, m + ".pre")
        objs.append(pre if os.path.exists(pre) else os.path.join(build, m))
    sized = sorted((code_bytes(o), o) for o in objs if o.endswith(".pre"))
    out = [("one object", sized[len(sized) // 10][1]), ("one object", sized[-1][1])]
    k = 4
    while k < len(objs) and len(out) < steps + 2:
        link = os.path.join(tmp, "first-%d.o" % k)
        subprocess.run(["ld", "-m", "elf_x86_64", "-r", "-o", link] + objs[:k], check=True,
                       stderr=subprocess.DEVNULL)
        out.append(("first %d objects" % k, link))
        k *= 4
    link = os.path.join(tmp, "all.o")
    subprocess.run(["ld", "-m", "elf_x86_64", "-r", "-o", link] + objs, check=True,
                   stderr=subprocess.DEVNULL)
    out.append(("all %d objects" % len(objs), link))
    return out


def run_pair(path: str, args: list[str], objtool: str, tmp: str) -> dict:
    env = dict(os.environ, SRCARCH="x86", ORCGEN_NO_CACHE="1", ORCGEN_WORKER="0")
    row = {}
    for tool in ("objtool", "orcgen"):
        copy = os.path.join(tmp, tool + ".o")
        shutil.copy(path, copy)
        cmd = ([objtool] if tool == "objtool" else
               [sys.executable, os.path.join(ROOT, "bin", "orcgen-objtool")]) + args + [copy]
        wall, rss, status, tail, _pss = measure(cmd, env)
        if tool == "orcgen" and status not in (0, row["objtool"][2]):
            raise SystemExit("orcgen failed on %s (exit %d): %s" % (path, status, tail))
        row[tool] = (wall, rss, status)
        os.unlink(copy)
    return row


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def plot(rows: list, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = sorted(rows, key=lambda r: r["code"])     # inputs come small object first, then links
    mb = [r["code"] / 1e6 for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.loglog(mb, [r["orcgen"][0] for r in rows], "o-", label="orcgen")
    ax1.loglog(mb, [r["objtool"][0] for r in rows], "s-", label="objtool 6.12")
    big = [(r["code"], r["orcgen"][0]) for r in rows if r["code"] >= 1e6]
    if len(big) >= 2:
        c = big[-1][1] / big[-1][0]
        ax1.loglog(mb, [c * r["code"] for r in rows], ":", color="grey", label="linear (through the largest)")
    ax1.set_xlabel("code (MB of executable sections)")
    ax1.set_ylabel("wall time (s)")
    ax1.set_title("time")
    ax1.legend()
    ax2.loglog(mb, [r["orcgen"][1] / 1e6 for r in rows], "o-", label="orcgen")
    ax2.loglog(mb, [r["objtool"][1] / 1e6 for r in rows], "s-", label="objtool 6.12")
    ax2.set_xlabel("code (MB of executable sections)")
    ax2.set_ylabel("peak RSS (MB)")
    ax2.set_title("memory")
    ax2.legend()
    fig.suptitle("orcgen-objtool and objtool on one kernel's objects, one to all (x86-64 defconfig)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--args", default=KBUILD_ARGS)
    ap.add_argument("--objtool", default=DEFAULT_OBJTOOL)
    ap.add_argument("--plot")
    ap.add_argument("--steps", type=int, default=5, help="partial links before the whole (x4 each)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="orcgen-linear-")
    try:
        rows = []
        print("%-22s %10s %10s %10s %7s %10s %10s" % ("input", "code MB", "objtool s", "orcgen s",
                                                    "ratio", "objtool MB", "orcgen MB"))
        for label, path in inputs(a.build, a.steps, tmp):
            r = run_pair(path, a.args.split(), a.objtool, tmp)
            r["code"] = code_bytes(path)
            rows.append(r)
            print("%-22s %10.2f %10.2f %10.2f %6.1fx %10.0f %10.0f" % (
                label, r["code"] / 1e6, r["objtool"][0], r["orcgen"][0],
                r["orcgen"][0] / max(r["objtool"][0], 1e-9), r["objtool"][1] / 1e6, r["orcgen"][1] / 1e6),
                flush=True)
        big = [(r["code"], r["orcgen"][0]) for r in rows if r["code"] >= 1e6]
        if len(big) >= 2:
            print("slope of log(orcgen time) on log(code size), inputs over 1 MB of code: %.2f "
                  "(1.00 is linear); objtool's: %.2f" % (
                      slope(big), slope([(r["code"], r["objtool"][0]) for r in rows if r["code"] >= 1e6])))
            print("slope of log(orcgen peak RSS): %.2f" % slope(
                [(r["code"], r["orcgen"][1]) for r in rows if r["code"] >= 1e6]))
        if a.plot:
            plot(rows, a.plot)
            print("plot: %s" % a.plot)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
