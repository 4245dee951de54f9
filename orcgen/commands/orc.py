# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen orc`: the ORC table orcgen computes, in `objtool --dump=orc` format.

Findings go to stderr (the table is the product on stdout).  Exit 1 when the
analysis gave up on a file (objtool writes no ORC then), 2 on input errors.
"""
from __future__ import annotations

import sys

from . import for_each_object, options_from


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs="+", metavar="FILE")


def run(args, extra, ap) -> int:
    from ..pipeline import analyze_elf
    opts = options_from(extra, ap)

    def handle(elf) -> int:
        res = analyze_elf(elf, opts)
        for f in res.findings:
            sys.stderr.write(f.line(res.name) + "\n")
        for row in res.orc or ():
            sys.stdout.write(row.text() + "\n")
        return 1 if res.fatal else 0
    return for_each_object(args.files, handle)
