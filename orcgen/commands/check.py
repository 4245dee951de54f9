# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen check`: objtool-style stack validation warnings, one line each."""
from __future__ import annotations

import sys

from . import for_each_object, options_from


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--objtool-args", metavar="ARGS",
                    help="objtool's argument string as the kernel build passed it (quoted)")


def run(args, extra, ap) -> int:
    def analyze_elf(elf, opts):                 # imported only when a file is analysed
        from ..pipeline import analyze_elf
        return analyze_elf(elf, opts)
    opts = options_from(extra, ap, args.objtool_args)

    def handle(elf) -> int:
        res = analyze_elf(elf, opts)
        for f in res.findings:
            sys.stdout.write(f.line(res.name) + "\n")
        return 1 if res.findings else 0
    return for_each_object(args.files, handle, cache_as="check %r" % (opts,))
