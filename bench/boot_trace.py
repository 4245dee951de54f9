# SPDX-License-Identifier: GPL-2.0-only
"""Boot a bzImage under QEMU with a busybox initramfs, take stack traces, and
judge them: does the ORC unwinder print every frame reliably?

    python bench/boot_trace.py BZIMAGE [BZIMAGE2] [--log DIR] [--timeout S]

The initramfs (busybox-static) mounts /proc, triggers sysrq `l` (backtrace of
all active CPUs) and `t` (every task's stack) and a WARN through the kernel's
own `echo ... > /proc/sysrq-trigger`, then powers off.  Each "Call Trace:"
block of the console log is parsed; a frame printed with a leading `?` is one
the unwinder could not vouch for (it found the address on the stack, not by
unwinding).  With two kernels (objtool-built and orcgen-built) it prints both
summaries and the frames unreliable in the second kernel but not in the
first: the acceptance is that there are none.  `t` also prints stale return
addresses it finds on sleeping tasks' stacks, which differ from boot to boot;
`--boots N` boots each kernel N times, prints the noise floor (one kernel
against itself) and counts only frames unreliable in every boot of the second
kernel beyond the most any boot of the first showed.

Not part of CI (two boots and a kernel build).  TCG by default (a defconfig
boots and powers off in about ten seconds), `--kvm` to try KVM first.  Needs
qemu-system-x86 and busybox-static (Debian).
"""
from __future__ import annotations

import argparse
import collections
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
echo 1 > /proc/sys/kernel/sysrq
echo "orcgen-boot: sysrq l" > /dev/kmsg
echo l > /proc/sysrq-trigger
sleep 1
echo "orcgen-boot: sysrq t" > /dev/kmsg
echo t > /proc/sysrq-trigger
sleep 1
echo "orcgen-boot: done" > /dev/kmsg
poweroff -f
"""

FRAME = re.compile(r"^\[\s*[\d.]+\]\s+(\?\s+)?([A-Za-z0-9_.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+")
TRACE_START = re.compile(r"Call Trace:")


def initramfs(workdir: str) -> str:
    """A newc cpio of busybox and /init, gzipped."""
    root = os.path.join(workdir, "root")
    for d in ("bin", "proc", "sys", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    bb = shutil.which("busybox") or "/bin/busybox"
    shutil.copy(bb, os.path.join(root, "bin", "busybox"))
    for tool in ("sh", "mount", "echo", "sleep", "poweroff", "cat"):
        os.symlink("busybox", os.path.join(root, "bin", tool))
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=names.encode(),
                          capture_output=True, check=True).stdout
    out = os.path.join(workdir, "initramfs.cpio.gz")
    with gzip.open(out, "wb") as f:
        f.write(cpio)
    return out


def boot(bzimage: str, initrd: str, timeout: int, kvm: bool = False) -> str:
    """The console log of one boot, emulated by TCG (`-cpu max`), or under KVM
    with `kvm` (nested KVM, as on this project's machines, can hang the guest
    before its first line: TCG is the default, and boots a defconfig in seconds)."""
    base = ["qemu-system-x86_64", "-kernel", bzimage, "-initrd", initrd, "-m", "1024", "-smp", "2",
            "-nographic", "-no-reboot", "-append", "console=ttyS0 panic=-1 loglevel=7 nokaslr"]
    tries = [["-enable-kvm", "-cpu", "host"]] if kvm else []
    tries.append(["-cpu", "max"])
    log = ""
    for extra in tries:
        try:
            r = subprocess.run(base[:1] + extra + base[1:], capture_output=True, timeout=timeout)
            out, err = r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            out, err = e.stdout or b"", e.stderr or b""
        log = (out + err).decode(errors="replace")
        if "orcgen-boot: done" in log:
            return log
    return log


def traces(log: str) -> list[list[tuple[str, bool]]]:
    """Every Call Trace block as [(function, reliable)]."""
    out, cur = [], None
    for line in log.splitlines():
        if TRACE_START.search(line):
            cur = []
            out.append(cur)
            continue
        if cur is None:
            continue
        m = FRAME.match(line.strip("\r"))
        if m:
            cur.append((m.group(2), not m.group(1)))
        elif "<TASK>" in line or "<IRQ>" in line or "</IRQ>" in line or "<NMI>" in line or "</NMI>" in line:
            continue
        else:
            cur = None
    return out


def summary(name: str, log: str) -> collections.Counter:
    ts = traces(log)
    frames = [f for t in ts for f in t]
    unreliable = collections.Counter(fn for fn, ok in frames if not ok)
    done = "orcgen-boot: done" in log
    print("%s: %s; %d call traces, %d frames, %d unreliable ('?') frames in %d functions"
          % (name, "booted, traces taken" if done else "DID NOT FINISH", len(ts), len(frames),
             sum(unreliable.values()), len(unreliable)))
    for fn, n in unreliable.most_common(10):
        print("    ? %-40s %d" % (fn, n))
    return unreliable


def beyond(ref: collections.Counter, new: collections.Counter) -> dict:
    """Functions with more unreliable frames in `new` than in `ref`."""
    return {fn: n for fn, n in new.items() if n > ref.get(fn, 0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bzimage", nargs="+", help="one kernel, or two: reference first (objtool-built)")
    ap.add_argument("--log", help="keep each console log in this directory")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--kvm", action="store_true", help="try KVM first (-cpu host)")
    ap.add_argument("--boots", type=int, default=1,
                    help="boot each kernel N times: which tasks sleep where, and so which stale "
                         "addresses `t` finds on their stacks, differs from boot to boot")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="orcgen-boot-")
    try:
        rd = initramfs(work)
        # per kernel: [(unreliable counter, finished)] per boot.  The kernels take
        # turns, so that both see the same machine (load changes which tasks are
        # caught where, and so the stale addresses on their stacks).
        seen: list[list] = [[] for _ in a.bzimage]
        for b in range(a.boots):
            for n, img in enumerate(a.bzimage):
                log = boot(img, rd, a.timeout, a.kvm)
                if a.log:
                    os.makedirs(a.log, exist_ok=True)
                    with open(os.path.join(a.log, "boot-%d-%d.log" % (n, b)), "w") as f:
                        f.write(log)
                seen[n].append((summary("%s (boot %d)" % (img, b + 1), log), "orcgen-boot: done" in log))
        ok = all(done for runs in seen for _c, done in runs)
        if len(seen) == 2:
            ref, new = seen
            if a.boots > 1:
                noise = beyond(ref[0][0], ref[1][0])
                print("noise floor: the first kernel's boot 2 beyond its boot 1: %d%s"
                      % (sum(noise.values()), "" if not noise else " " + ", ".join(sorted(noise))))
            # a wrong ORC entry fails the unwinder every time its function is on a
            # stack: so it is in every boot of the second kernel.  Frames that are
            # unreliable in only some boots are the stacks' stale contents.
            most = collections.Counter()
            for c, _done in ref:
                most |= c
            least = new[0][0].copy()
            for c, _done in new[1:]:
                least &= c
            extra = beyond(most, least)
            what = "in every boot of the second kernel, beyond any boot of the first" if a.boots > 1 \
                else "in the second kernel beyond the first's"
            print("unreliable frames %s: %d%s" % (what, sum(extra.values()),
                                                   "" if not extra else " " + ", ".join(sorted(extra))))
            return 0 if ok and not extra else 1
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
