# SPDX-License-Identifier: GPL-2.0-only
"""Wall time and memory of each phase of one orcgen run, without a profiler.

    python bench/phases.py objtool --noinstr --unret --link COPY.o    (objtool's arguments)
    python bench/phases.py check --no-cache FILE                       (any orcgen command)

It wraps the pipeline's phases (symbols, decode, symbol assignment, the CFG
passes, the walk, the checks, the table plan) and prints, as each ends, its
wall time, the process' RSS then and the peak so far.  A profiler slows
Python's own code about twice as much as capstone's, so its shares mislead;
these are the real times.  `objtool` rewrites COPY: give it a copy.
"""
from __future__ import annotations

import functools
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from orcgen import cfg, interp, pipeline, program  # noqa: E402
from orcgen.tables import check as table_check  # noqa: E402

PHASES = [(program, "SymbolTable"), (program.Program, "_decode_all"), (program, "OffsetIndex"),
          (program.Program, "_assign_symbols"), (pipeline, "Program"),
          (cfg, "add_special_section_alts"), (cfg, "add_jump_destinations"),
          (cfg, "add_call_destinations"), (cfg, "add_jump_table_alts"), (cfg, "build"),
          (interp.Interpreter, "run"), (pipeline, "run_checks"), (table_check, "plan")]
QUIET = {"OffsetIndex"}          # one per code section: printed only when it takes a while


def _rss_mb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def _wrap(owner, name: str) -> None:
    f = getattr(owner, name)

    @functools.wraps(f)
    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            dt = time.perf_counter() - t
            if name not in QUIET or dt > 0.05:
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
                print("%-26s %7.2f s   rss %6d MB   peak %6d MB" % (name, dt, _rss_mb(), peak),
                      file=sys.stderr, flush=True)
    setattr(owner, name, timed)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    for owner, name in PHASES:
        _wrap(owner, name)
    t0 = time.perf_counter()
    from orcgen.cli import main as orcgen
    try:
        status = orcgen(sys.argv[1:])
    except SystemExit as e:
        status = e.code
    print("%-26s %7.2f s" % ("total (after imports)", time.perf_counter() - t0), file=sys.stderr)
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
