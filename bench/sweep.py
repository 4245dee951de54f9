#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Run orcgen over every ELF file under some directories and count abnormal exits.

    python bench/sweep.py [--timeout 300] [--jobs 2] DIR... [--log sweep.jsonl]

Every ELF file (and, with --archives, every `ar` archive) under the
directories is run through `orcgen check`, `orcgen dump` and, when the command
line has it, `orcgen diff`, each command one task, in-process in worker
processes (multiprocessing) through `orcgen.cli.main`, the CLI's entry point.
Hard links are analysed once.  A task is abnormal when it raises (a traceback),
prints traceback text, exits outside {0, 1, 2}, breaks the one-error-line rule
(tests/fuzzgen.py's oracle), or kills its worker (a signal).  Tasks over the
time limit are killed, with the Python stack at that moment recorded, and
counted apart: a huge library over the limit is a performance problem, not
necessarily a hang.  `--retry-timeout` runs those again alone with a longer
limit to tell the two apart.  Tasks that exhaust the per-worker memory limit
(MemoryError) are counted apart too.

The exit status is 0 when no task was abnormal.
"""
from __future__ import annotations

import argparse
import collections
import faulthandler
import json
import multiprocessing as mp
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import wait

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

import elfmutate  # noqa: E402
import fuzzgen  # noqa: E402

ELF_MAGIC, AR_MAGIC = b"\x7fELF", b"!<arch>\n"


def find_inputs(dirs: list[str], archives: bool) -> tuple[list[tuple[str, int]], int]:
    """([(path, size)] one per inode, in size order; the number of paths seen)."""
    seen: dict[tuple[int, int], str] = {}
    sizes: dict[str, int] = {}
    paths = 0
    for top in dirs:
        walk = os.walk(top) if os.path.isdir(top) else [(os.path.dirname(top), [], [os.path.basename(top)])]
        for root, subdirs, files in walk:
            subdirs.sort()
            for name in sorted(files):
                p = os.path.join(root, name)
                try:
                    st = os.lstat(p)
                    if not os.path.isfile(p) or os.path.islink(p):
                        continue
                    with open(p, "rb") as f:
                        magic = f.read(8)
                except OSError:
                    continue
                if magic[:4] != ELF_MAGIC and not (archives and magic == AR_MAGIC):
                    continue
                paths += 1
                k = (st.st_dev, st.st_ino)
                if k not in seen:
                    seen[k] = p
                    sizes[p] = st.st_size
    return sorted(sizes.items(), key=lambda kv: (kv[1], kv[0])), paths


# -- the worker ---------------------------------------------------------------------

def worker(conn, mem_limit: int, stack_dir: str) -> None:
    if mem_limit:
        lim = mem_limit * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    stack_file = open(os.path.join(stack_dir, "stack-%d.txt" % os.getpid()), "w")
    faulthandler.register(signal.SIGUSR1, file=stack_file, all_threads=False)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        path, cmd = task
        t0 = time.monotonic()
        cpu0 = time.process_time()
        try:
            rc, out, err = fuzzgen.run_cli([cmd, path])
            with open(path, "rb") as f:
                is_archive = f.read(8) == AR_MAGIC
            fuzzgen.judge(cmd, path, is_archive, rc, out, err, allow_oom=True)
            errs = [ln for ln in err.splitlines() if ln.startswith("orcgen: error: ")]
            res = {"kind": "ok", "rc": rc, "error": errs[0][len("orcgen: error: "):] if errs else "",
                   "lines": out.count("\n")}
            if any(ln.endswith(": out of memory") for ln in errs):
                res["kind"] = "memory"          # orcgen's own report of the --mem-limit
        except fuzzgen.OracleError as e:
            res = {"kind": "oracle", "detail": str(e)[:4000]}
        except MemoryError:
            res = {"kind": "memory", "detail": traceback.format_exc()[-2000:]}
        except BaseException:                       # noqa: B036 - what the sweep counts
            res = {"kind": "traceback", "detail": traceback.format_exc()}
        res["secs"] = round(time.monotonic() - t0, 3)
        res["cpu"] = round(time.process_time() - cpu0, 3)
        res["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        conn.send(res)


class Slot:
    def __init__(self, ctx, mem_limit: int, stack_dir: str) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child, mem_limit, stack_dir), daemon=True)
        self.proc.start()
        child.close()
        self.stack_path = os.path.join(stack_dir, "stack-%d.txt" % self.proc.pid)
        self.task = None
        self.deadline = 0.0
        self.started = 0.0
        self.cpu0 = 0.0

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()

    def stack_now(self) -> str:
        """The worker's Python stack, as faulthandler writes it on SIGUSR1."""
        try:
            before = os.path.getsize(self.stack_path)
            os.kill(self.proc.pid, signal.SIGUSR1)
            for _ in range(20):
                time.sleep(0.1)
                if os.path.getsize(self.stack_path) > before:
                    break
            with open(self.stack_path) as f:
                f.seek(before)
                return f.read().strip()
        except OSError:
            return ""


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def run_tasks(tasks: list[tuple[str, str]], jobs: int, timeout: float, mem_limit: int,
              on_result, progress: bool, clock: str = "cpu") -> None:
    """Run (path, cmd) tasks in `jobs` workers; on_result(task, result) for each.

    clock "cpu": a task is over the limit when its worker has used `timeout`
    seconds of CPU on it (or four times that in wall time), so that other work on
    the machine does not push tasks over; clock "wall": wall time."""
    ctx = mp.get_context("fork")
    stack_dir = tempfile.mkdtemp(prefix="orcgen-sweep-stacks-")
    slots = [Slot(ctx, mem_limit, stack_dir) for _ in range(max(1, jobs))]
    todo = collections.deque(tasks)
    done, t0, last = 0, time.monotonic(), time.monotonic()
    try:
        while todo or any(s.task for s in slots):
            for s in slots:
                if s.task is None and todo:
                    s.task = todo.popleft()
                    s.conn.send(s.task)
                    s.started = time.monotonic()
                    s.cpu0 = cpu_seconds(s.proc.pid)
                    s.deadline = s.started + (timeout if clock == "wall" else 4 * timeout)
            busy = [s for s in slots if s.task]
            ready = wait([s.conn for s in busy],
                         timeout=min(1.0, max(0.0, min(s.deadline for s in busy) - time.monotonic())))
            for k, s in enumerate(slots):
                if s.task is None:
                    continue
                res = None
                if s.conn in ready:
                    try:
                        res = s.conn.recv()
                    except (EOFError, OSError):
                        s.proc.join(5)
                        code = s.proc.exitcode
                        res = {"kind": "died", "detail": "worker %s" % (
                            "killed by signal %d" % -code if code is not None and code < 0
                            else "exited with status %r" % code),
                            "secs": round(time.monotonic() - s.started, 3)}
                elif time.monotonic() >= s.deadline or (
                        clock == "cpu" and cpu_seconds(s.proc.pid) - s.cpu0 >= timeout):
                    res = {"kind": "timeout", "secs": round(time.monotonic() - s.started, 3),
                           "cpu": round(cpu_seconds(s.proc.pid) - s.cpu0, 3), "detail": s.stack_now()}
                if res is None:
                    continue
                task, s.task = s.task, None
                on_result(task, res)
                done += 1
                if res["kind"] in ("died", "timeout"):
                    s.stop()
                    slots[k] = Slot(ctx, mem_limit, stack_dir)
            if progress and time.monotonic() - last > 60:
                last = time.monotonic()
                print("... %d/%d tasks, %.0f s" % (done, len(tasks), last - t0), flush=True)
    finally:
        for s in slots:
            try:
                s.conn.send(None)
            except OSError:
                pass
        for s in slots:
            s.proc.join(5)
            s.stop()
        shutil.rmtree(stack_dir, ignore_errors=True)


def text_size(path: str) -> int:
    """Bytes of executable sections (what the analysis walks), best effort."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        lay = elfmutate.Layout.parse(data)
        return sum(s[5] for s in lay.sections if s[2] & elfmutate.SHF_EXECINSTR and s[1] != elfmutate.SHT_NOBITS)
    except Exception:
        return -1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", metavar="DIR", help="directories (or files) to sweep")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per file and command (default 300)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="what --timeout measures: the worker's CPU time (default; wall time is "
                         "capped at 4x) or wall time")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--mem-limit", type=int, default=6144,
                    help="address-space limit per worker in MiB (0: none; default 6144)")
    ap.add_argument("--commands", default=None,
                    help="comma-separated commands (default: check,dump and diff when it exists)")
    ap.add_argument("--archives", action="store_true", help="also run on `ar` archives")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (smallest first)")
    ap.add_argument("--retry-timeout", type=float, default=0.0,
                    help="run tasks that hit --timeout again, one at a time, with this limit")
    ap.add_argument("--no-cache", action="store_true",
                    help="without orcgen's on-disk cache (default: a fresh cache for this run)")
    ap.add_argument("--log", help="write one JSON line per task here")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)

    cmds = args.commands.split(",") if args.commands else \
        [c for c in ("check", "dump", "diff") if c in fuzzgen.commands()]
    cache_tmp = None
    if args.no_cache:
        os.environ["ORCGEN_NO_CACHE"] = "1"
    elif "ORCGEN_CACHE_DIR" not in os.environ:
        cache_tmp = tempfile.mkdtemp(prefix="orcgen-sweep-cache-")
        os.environ["ORCGEN_CACHE_DIR"] = cache_tmp

    t0 = time.monotonic()
    inputs, npaths = find_inputs(args.dirs, args.archives)
    if args.limit:
        print("(--limit: the %d smallest of %d files)" % (min(args.limit, len(inputs)), len(inputs)))
        inputs = inputs[:args.limit]
    total_bytes = sum(s for _, s in inputs)
    print("%d ELF%s files under %s (%d paths; hard links analysed once), %.0f MiB; commands: %s"
          % (len(inputs), " and archive" if args.archives else "", " ".join(args.dirs), npaths,
             total_bytes / 2 ** 20, " ".join(cmds)), flush=True)
    tasks = [(p, c) for p, _ in inputs for c in cmds]
    size_of = dict(inputs)
    log = open(args.log, "w") if args.log else None
    kinds: collections.Counter = collections.Counter()
    status: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    errors: collections.Counter = collections.Counter()
    abnormal: list[tuple] = []
    timeouts: list[tuple] = []
    memory: list[tuple] = []
    slow: list[tuple] = []
    cpu = collections.Counter()

    def on_result(task, res) -> None:
        path, cmd = task
        kinds[res["kind"]] += 1
        cpu[cmd] += res.get("cpu", res.get("secs", 0))
        if log:
            log.write(json.dumps(dict(res, path=path, cmd=cmd, size=size_of[path])) + "\n")
            log.flush()
        if res["kind"] == "ok":
            status[cmd][res["rc"]] += 1
            if res["error"]:
                errors[res["error"].split(": ", 1)[-1][:70]] += 1
            slow.append((res["secs"], path, cmd))
        elif res["kind"] == "timeout":
            timeouts.append((path, cmd, res))
        elif res["kind"] == "memory":
            memory.append((path, cmd, res))
        else:
            abnormal.append((path, cmd, res))
        if res["kind"] != "ok" and not args.quiet:
            print("%s: orcgen %s %s (%.0f s)" % (res["kind"], cmd, path, res["secs"]), flush=True)

    try:
        run_tasks(tasks, args.jobs, args.timeout, args.mem_limit, on_result, not args.quiet, args.clock)
        retried = []
        if args.retry_timeout and timeouts:
            print("retrying %d task(s) over %.0f s alone, with %.0f s each"
                  % (len(timeouts), args.timeout, args.retry_timeout), flush=True)
            again: dict = {}
            run_tasks([(p, c) for p, c, _ in timeouts], 1, args.retry_timeout, args.mem_limit,
                      lambda task, res: again.__setitem__(task, res), not args.quiet, args.clock)
            for p, c, first in timeouts:
                retried.append((p, c, first, again.get((p, c))))
    finally:
        if log:
            log.close()
        if cache_tmp:
            shutil.rmtree(cache_tmp, ignore_errors=True)

    elapsed = time.monotonic() - t0
    print()
    print("files: %d (%d paths, %.0f MiB), tasks: %d, jobs: %d, wall time: %.0f s (%.1f h)"
          % (len(inputs), npaths, total_bytes / 2 ** 20, len(tasks), args.jobs, elapsed, elapsed / 3600))
    print("abnormal exits: %d   (tracebacks: %d, oracle violations: %d, worker deaths: %d)"
          % (len(abnormal), kinds["traceback"], kinds["oracle"], kinds["died"]))
    print("over the %.0f s (%s time) limit: %d   over the %d MiB memory limit: %d"
          % (args.timeout, args.clock, len(timeouts), args.mem_limit, len(memory)))
    for cmd in cmds:
        print("orcgen %-6s exit status %s; CPU %.0f s" % (cmd, ", ".join(
            "%d: %d" % kv for kv in sorted(status[cmd].items())), cpu[cmd]))
    if errors:
        print("input errors (exit 2), by reason:")
        for reason, n in errors.most_common(15):
            print("  %6d  %s" % (n, reason))
    slow.sort(reverse=True)
    if slow:
        print("slowest completed tasks:")
        for secs, p, c in slow[:10]:
            print("  %7.1f s  %-6s %s (%.1f MiB, code %.1f MiB)"
                  % (secs, c, p, size_of[p] / 2 ** 20, text_size(p) / 2 ** 20))
    for p, c, res in abnormal:
        print("\nABNORMAL %s: orcgen %s %s\n%s" % (res["kind"], c, p, res.get("detail", "")))
    for p, c, res in memory:
        print("\nMEMORY LIMIT: orcgen %s %s (%.1f MiB, code %.1f MiB)"
              % (c, p, size_of[p] / 2 ** 20, text_size(p) / 2 ** 20))
    if timeouts:
        print("\nover the time limit (file size, code size, where it was when stopped):")
        done_later = {(p, c): r for p, c, _f, r in retried} if args.retry_timeout else {}
        for p, c, res in timeouts:
            stack = [ln.strip() for ln in res.get("detail", "").splitlines()
                     if ln.strip().startswith("File")]
            verdict = ""
            if args.retry_timeout:
                later = done_later.get((p, c))
                if later is None or later["kind"] == "timeout":
                    verdict = "did not finish in %.0f s either (possible hang)" % args.retry_timeout
                else:
                    verdict = "alone: %s in %.0f s (slow, not hung)" % (later["kind"], later["secs"])
            print("  %-6s %s (%.1f MiB, code %.1f MiB) %s"
                  % (c, p, size_of[p] / 2 ** 20, text_size(p) / 2 ** 20, verdict))
            for ln in stack[:3]:
                print("           at " + ln.replace(ROOT + "/", ""))
    return 1 if abnormal else 0


if __name__ == "__main__":
    sys.exit(main())
