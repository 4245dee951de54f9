#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The long fuzz run: many mutated objects through every orcgen command.

    python bench/fuzz.py --count 10000 --timeout 10 [--jobs 2] [--out DIR]
    python bench/fuzz.py --atheris -- -timeout=10 -runs=10000 -len_control=0 CORPUS_DIR
        (coverage-guided: libFuzzer's bytes drive the generator's choices)

Input number N is made by tests/fuzzgen.py from random.Random("SEED:N"), so any
input can be made again with `--start N --count 1`.  Each input runs in-process
in a worker (multiprocessing, no exec per input) through `orcgen.cli.main`, with
the oracle of the suite's fuzz test.  The parent gives every input a time limit:
a worker that has not answered in time is killed and replaced, and the input is
counted as over the limit.  A worker that dies (a signal, an exit) is counted
too.  Workers run under an address-space limit (--mem-limit), so runaway
allocation shows up as a MemoryError traceback instead of taking the machine.

Every traceback, oracle violation, time-out and death is saved under --out as
KIND-N.bin (the input) and KIND-N.txt (what happened, how it was made, how to
run it again).  The exit status is 0 only when there were none.
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import random
import resource
import shutil
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

GOOD = os.path.join(fuzzgen.FIXTURES, "x86_64", "switch-gcc-O2-fp.o")


def make_case(seed: str, n: int, seeds: list[str]) -> fuzzgen.Case:
    return fuzzgen.generate(elfmutate.RandomChooser(random.Random("%s:%d" % (seed, n))), seeds)


def _crash_key(tb: str) -> str:
    """exception type + innermost orcgen frame, to group tracebacks by cause."""
    lines = [ln.strip() for ln in tb.strip().splitlines()]
    exc = lines[-1] if lines else "?"
    frames = [ln for ln in lines if ln.startswith('File "')]
    where = frames[-1] if frames else "?"
    return "%s at %s" % (exc.split(":")[0], where.replace(ROOT + "/", ""))


def worker(conn, seed: str, seeds: list[str], mem_limit: int) -> None:
    if mem_limit:
        lim = mem_limit * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    tmp = tempfile.mkdtemp(prefix="orcgen-fuzz-")
    good_runs = fuzzgen.good_runs_for(GOOD)
    cmds = fuzzgen.commands()
    try:
        while True:
            try:
                n = conn.recv()
            except EOFError:
                return
            if n is None:
                return
            try:
                case = make_case(seed, n, seeds)
            except Exception:
                conn.send((n, 0.0, 0, "generator", traceback.format_exc()))
                continue
            path = os.path.join(tmp, "input-%d%s" % (n, ".a" if case.is_archive else ".o"))
            with open(path, "wb") as f:
                f.write(case.data)
            t0 = time.monotonic()
            try:
                status = fuzzgen.exercise(path, case.is_archive, GOOD, good_runs, cmds)
                status.update(fuzzgen.exercise_writers(path, case.is_archive))
                res = ("ok", status)
            except fuzzgen.OracleError as e:
                res = ("oracle", str(e).replace(path, "INPUT"))
            except BaseException:                     # noqa: B036 - a crash is what we count
                res = ("traceback", traceback.format_exc().replace(path, "INPUT"))
            finally:
                for name in os.listdir(tmp):          # the input, and anything a write left
                    os.unlink(os.path.join(tmp, name))
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            conn.send((n, time.monotonic() - t0, rss) + res)
    finally:
        try:
            os.rmdir(tmp)
        except OSError:
            pass


def save(out: str, kind: str, n: int, case: fuzzgen.Case, text: str, seed: str) -> str:
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, "%s-%d" % (kind, n))
    with open(base + ".bin", "wb") as f:
        f.write(case.data)
    with open(base + ".txt", "w") as f:
        f.write("input %d (seed %r): %s\n\n%s\n\nrun again:\n  python bench/fuzz.py --seed %s "
                "--start %d --count 1\n  orcgen check %s.bin\n"
                % (n, seed, case.describe(), text, seed, n, base))
    return base


class FdpChooser:
    """Choices from an atheris FuzzedDataProvider, so libFuzzer's byte mutations
    steer the same structure-aware generator."""

    def __init__(self, fdp) -> None:
        self.fdp = fdp

    def int(self, lo: int, hi: int) -> int:
        return self.fdp.ConsumeIntInRange(lo, hi)

    def choice(self, seq):
        return seq[self.fdp.ConsumeIntInRange(0, len(seq) - 1)]

    def bytes(self, n: int) -> bytes:
        return self.fdp.ConsumeBytes(n).ljust(n, b"\0")


def atheris_main(seeds: list[str], libfuzzer_args: list[str]) -> int:
    """Coverage-guided: libFuzzer (atheris) drives the generator; orcgen is
    instrumented.  Pass libFuzzer's own options after `--`, e.g.
    `-- -timeout=10 -runs=10000 -len_control=0 -artifact_prefix=bench/fuzz-out/ CORPUS_DIR`
    (-len_control=0: give the generator enough bytes for all its choices from the start)."""
    import importlib
    import pkgutil

    import atheris
    import orcgen
    for mod in pkgutil.walk_packages(orcgen.__path__, "orcgen."):
        try:
            importlib.import_module(mod.name)
        except ImportError:
            pass
    atheris.instrument_all()
    tmp = tempfile.mkdtemp(prefix="orcgen-atheris-")
    good_runs = fuzzgen.good_runs_for(GOOD)

    def one_input(data: bytes) -> None:
        case = fuzzgen.generate(FdpChooser(atheris.FuzzedDataProvider(data)), seeds)
        path = os.path.join(tmp, "input.a" if case.is_archive else "input.o")
        with open(path, "wb") as f:
            f.write(case.data)
        try:
            fuzzgen.exercise(path, case.is_archive, GOOD, good_runs)
            fuzzgen.exercise_writers(path, case.is_archive)
        except BaseException:
            sys.stderr.write("input: %s\n" % case.describe())
            raise
        finally:
            os.unlink(path)

    atheris.Setup([sys.argv[0]] + libfuzzer_args, one_input)
    atheris.Fuzz()
    return 0


class Slot:
    def __init__(self, ctx, seed, seeds, mem_limit) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child, seed, seeds, mem_limit), daemon=True)
        self.proc.start()
        child.close()
        self.n: int | None = None
        self.deadline = 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="number of inputs (default 1000)")
    ap.add_argument("--start", type=int, default=0, help="number of the first input")
    ap.add_argument("--seed", default="orcgen", help="base seed (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input (default 10)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--mem-limit", type=int, default=3072,
                    help="address-space limit per worker in MiB (0: none; default 3072)")
    ap.add_argument("--arch", action="append", choices=["x86_64", "arm64"],
                    help="fixture directories to take seeds from (default: all)")
    ap.add_argument("--extra-seed", action="append", default=[], metavar="FILE",
                    help="another ELF file to mutate (e.g. a small linked executable); repeatable")
    ap.add_argument("--only-extra", action="store_true", help="mutate only the --extra-seed files")
    ap.add_argument("--out", default=os.path.join(HERE, "fuzz-out"),
                    help="where failing inputs are saved (default bench/fuzz-out)")
    ap.add_argument("--no-cache", action="store_true",
                    help="run without orcgen's on-disk cache (default: a fresh cache for this run)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--atheris", action="store_true",
                    help="coverage-guided instead (needs `pip install atheris`): libFuzzer options "
                         "after --, e.g. -- -timeout=10 -runs=10000 -len_control=0 CORPUS_DIR")
    argv = sys.argv[1:] if argv is None else list(argv)
    libfuzzer_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    args = ap.parse_args(argv)
    # The inputs go through the cache as a user's would, but not into the user's cache.
    cache_tmp = None
    if args.no_cache:
        os.environ["ORCGEN_NO_CACHE"] = "1"
    elif "ORCGEN_CACHE_DIR" not in os.environ:
        cache_tmp = tempfile.mkdtemp(prefix="orcgen-fuzz-cache-")
        os.environ["ORCGEN_CACHE_DIR"] = cache_tmp

    seeds = [] if args.only_extra else fuzzgen.fixture_paths(args.arch or ("x86_64", "arm64"))
    seeds += [os.path.abspath(p) for p in args.extra_seed]
    if not seeds:
        ap.error("no fixtures found under %s" % fuzzgen.FIXTURES)
    if args.atheris:
        return atheris_main(seeds, libfuzzer_args)
    ctx = mp.get_context("fork")
    slots = [Slot(ctx, args.seed, seeds, args.mem_limit) for _ in range(max(1, args.jobs))]
    todo = collections.deque(range(args.start, args.start + args.count))
    outcomes: collections.Counter = collections.Counter()
    statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    crash_kinds: collections.Counter = collections.Counter()
    saved: list[str] = []
    slowest = (0.0, -1)
    peak_rss = 0
    done = 0
    t0 = time.monotonic()
    last_report = t0

    def record_failure(kind: str, n: int, text: str) -> None:
        if kind == "generator":                 # a bug in tests/fuzzgen.py, not in orcgen
            print("generator error on input %d:\n%s" % (n, text), flush=True)
            return
        case = make_case(args.seed, n, seeds)
        saved.append(save(args.out, kind, n, case, text, args.seed))
        if not args.quiet:
            print("%s: input %d (%s)" % (kind, n, case.describe()[:200]), flush=True)

    def respawn(k: int) -> None:
        old = slots[k]
        if old.proc.is_alive():
            old.proc.kill()
        old.proc.join()
        old.conn.close()
        slots[k] = Slot(ctx, args.seed, seeds, args.mem_limit)

    try:
        while todo or any(s.n is not None for s in slots):
            for s in slots:
                if s.n is None and todo:
                    s.n = todo.popleft()
                    s.conn.send(s.n)
                    s.deadline = time.monotonic() + args.timeout
            busy = [s for s in slots if s.n is not None]
            now = time.monotonic()
            ready = wait([s.conn for s in busy], timeout=max(0.0, min(s.deadline for s in busy) - now))
            for k, s in enumerate(slots):
                if s.n is None:
                    continue
                if s.conn in ready:
                    try:
                        n, secs, rss, kind, payload = s.conn.recv()
                    except (EOFError, OSError):
                        code = s.proc.exitcode
                        s.proc.join(1)
                        code = s.proc.exitcode
                        outcomes["died"] += 1
                        record_failure("died", s.n, "worker died, exit code %r" % code)
                        s.n = None
                        done += 1
                        respawn(k)
                        continue
                    peak_rss = max(peak_rss, rss)
                    if secs > slowest[0]:
                        slowest = (secs, n)
                    outcomes[kind] += 1
                    if kind == "ok":
                        for cmd, rc in payload.items():
                            statuses[cmd][rc] += 1
                    elif kind == "traceback":
                        crash_kinds[_crash_key(payload)] += 1
                        record_failure(kind, n, payload)
                    else:
                        crash_kinds["oracle: " + payload.split("\n")[0][:150]] += 1
                        record_failure(kind, n, payload)
                    s.n = None
                    done += 1
                elif time.monotonic() >= s.deadline:
                    outcomes["timeout"] += 1
                    record_failure("timeout", s.n, "no answer within %.1f s" % args.timeout)
                    s.n = None
                    done += 1
                    respawn(k)
            if not args.quiet and time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                print("... %d/%d inputs, %.0f s, %s" % (done, args.count, last_report - t0,
                                                        dict(outcomes)), flush=True)
    finally:
        for s in slots:
            try:
                s.conn.send(None)
            except OSError:
                pass
        for s in slots:
            s.proc.join(5)
            if s.proc.is_alive():
                s.proc.kill()
                s.proc.join()

    if cache_tmp:
        shutil.rmtree(cache_tmp, ignore_errors=True)
    elapsed = time.monotonic() - t0
    bad = sum(outcomes[k] for k in ("traceback", "oracle", "timeout", "died", "generator"))
    print("inputs: %d (seed %r, numbers %d..%d), %d worker(s), %.1f s"
          % (done, args.seed, args.start, args.start + args.count - 1, len(slots), elapsed))
    print("ok: %d   tracebacks: %d   oracle violations: %d   over %.0f s: %d   worker deaths: %d"
          % (outcomes["ok"], outcomes["traceback"], outcomes["oracle"], args.timeout,
             outcomes["timeout"], outcomes["died"]))
    if outcomes["generator"]:
        print("generator errors (bugs in tests/fuzzgen.py): %d" % outcomes["generator"])
    for cmd in sorted(statuses):
        print("exit status of orcgen %s: %s" % (cmd, ", ".join(
            "%d: %d" % (rc, c) for rc, c in sorted(statuses[cmd].items()))))
    print("slowest input: %.2f s (input %d); peak worker RSS: %d MiB" % (slowest[0], slowest[1], peak_rss))
    for key, c in crash_kinds.most_common():
        print("  %5d  %s" % (c, key))
    if saved:
        print("saved %d failing input(s) under %s" % (len(saved), args.out))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
