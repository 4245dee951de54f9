# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen dump`: the ORC table already in an object, as `objtool --dump=orc` prints it."""
from __future__ import annotations

import sys

from . import for_each_object


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("-H", "--with-filename", action="store_true",
                    help="print `FILE:` before each object's table (the default with "
                         "more than one FILE, and for archive members)")


BATCH_ARGS = ["--with-filename"]       # each file's own run under -j sees one FILE


def run(args, extra, ap) -> int:
    from ..backend import backend_for
    from ..orc import read_table
    from .orc import header
    if extra:
        ap.error("unrecognised arguments: %s" % " ".join(extra))

    def handle(elf) -> int:
        be = backend_for(elf.machine, elf.machine_name)
        lines = read_table(elf, be.orc) or ()
        header(elf, args.files, args.with_filename)
        for line in lines:
            sys.stdout.write(line + "\n")
        return 0
    return for_each_object(args.files, handle)
