# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen COMMAND -j N FILE...`: many files in one process pool.

Each file runs as its own `orcgen COMMAND ... FILE` in a worker process with its
output captured, and the outputs are printed in the order the files were given,
so the result is byte-identical to running them one by one.  On a terminal a
progress line shows on stderr.
"""
from __future__ import annotations

import io
import os
import sys


def _one(job: tuple[list[str], str]) -> tuple[int, str, str]:
    base, path = job
    from .cli import main
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        status = main(base + [path])
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 2
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return status, out.getvalue(), err.getvalue()


def run(base: list[str], files: list[str], jobs: int, merge=None) -> int:
    """With `merge` (structured output: JSON, SARIF), the per-file outputs are
    collected and printed as the one document `merge(outputs)` makes of them."""
    from .commands import need_work
    need_work()
    from multiprocessing import get_context
    progress = sys.stderr.isatty()
    status = 0
    outs: list[str] = []
    with get_context("fork").Pool(jobs) as pool:
        for n, (st, out, err) in enumerate(pool.imap(_one, [(base, f) for f in files],
                                                      chunksize=1), 1):
            if progress:
                sys.stderr.write("\r\033[K")
            if merge is not None:
                outs.append(out)
            else:
                sys.stdout.write(out)
                sys.stdout.flush()
            sys.stderr.write(err)
            status = max(status, st)
            if progress:
                sys.stderr.write("[%d/%d] %s" % (n, len(files), os.path.basename(files[n - 1])))
                sys.stderr.flush()
    if progress:
        sys.stderr.write("\r\033[K")
    if merge is not None:
        sys.stdout.write(merge(outs))
    return status


def take_jobs(argv: list[str]) -> tuple[list[str], int]:
    """Remove `-j N`, `-jN`, `--jobs N`, `--jobs=N` from argv; return (argv, N)."""
    out, jobs, it = [], 1, iter(argv)
    for a in it:
        if a in ("-j", "--jobs"):
            jobs = int(next(it, "1"))
        elif a.startswith("--jobs="):
            jobs = int(a.split("=", 1)[1])
        elif a.startswith("-j") and a[2:].isdigit():
            jobs = int(a[2:])
        else:
            out.append(a)
    return out, max(1, jobs)
