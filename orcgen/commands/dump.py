# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen dump`: the ORC table already in an object, as `objtool --dump=orc` prints it."""
from __future__ import annotations

import sys

from . import for_each_object


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs="+", metavar="FILE")


def run(args, extra, ap) -> int:
    from ..backend import backend_for
    from ..orc import read_table
    if extra:
        ap.error("unrecognised arguments: %s" % " ".join(extra))

    def handle(elf) -> int:
        be = backend_for(elf.machine, elf.machine_name)
        for line in read_table(elf, be.orc) or ():
            sys.stdout.write(line + "\n")
        return 0
    return for_each_object(args.files, handle)
