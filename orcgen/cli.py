# SPDX-License-Identifier: GPL-2.0-only
"""orcgen's command line: one module per command under orcgen/commands/.

    orcgen check [objtool options] FILE...   objtool-style warnings; exit 0 clean, 1 findings, 2 error
    orcgen orc   [objtool options] FILE...   the ORC orcgen computes, as `objtool --dump=orc` prints it
    orcgen dump  FILE...                     the ORC already in FILE, same format

`-j N` (any command taking files) runs them in a pool of N processes, with
output in the order given.  A command module defines `HELP` (one line), `add_arguments(parser)` and
`run(args, extra) -> int`, where `extra` holds the arguments argparse did not
recognise (objtool's own options, which commands pass to Options).  Modules are
imported only when their command runs, so `orcgen check` never pays for DWARF or
report code.  Every input error is one line, `orcgen: error: FILE: reason`.

Analyses go through an on-disk cache (orcgen/cache.py) unless `--no-cache` is
given anywhere on the command line or ORCGEN_NO_CACHE=1.  With ORCGEN_WORKER=1
the command hands itself to a warm server (orcgen/worker.py).
"""
from __future__ import annotations

import os
import sys

# command name -> module under orcgen.commands; help texts are kept here so that
# building the parser imports nothing.
COMMANDS = {
    "check": "validate stack and frame-pointer discipline (objtool-style warnings)",
    "orc": "print the ORC table orcgen computes",
    "dump": "print the ORC table already in the file",
    "objtool": "run as the kernel's objtool: objtool's arguments, ORC written into FILE",
    "diff": "compare the DWARF CFI (.eh_frame/.debug_frame) with the computed stack state",
}


def _parser():
    import argparse
    ap = argparse.ArgumentParser(prog="orcgen", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("ORCGEN_WORKER") == "1":
        from .client import main as client_main  # thin client: no analysis imports here
        return client_main(argv)
    import argparse
    import importlib
    if not argv or argv[0] not in COMMANDS:
        _parser().parse_args(argv)          # prints usage / help and exits
        return 2
    name = argv[0]
    from .batch import take_jobs
    try:
        argv, jobs = take_jobs(argv)
    except ValueError:
        _parser().error("-j takes a whole number")
    no_cache = "--no-cache" in argv or os.environ.get("ORCGEN_NO_CACHE") == "1"
    argv = [a for a in argv if a != "--no-cache"]
    from . import cache
    cache.default = None if no_cache else cache.shared()     # this call's, not an earlier one's
    mod = importlib.import_module("orcgen.commands." + name)
    ap = argparse.ArgumentParser(prog="orcgen " + name, description=COMMANDS[name])
    mod.add_arguments(ap)
    args, extra = ap.parse_known_args(argv[1:])
    files = getattr(args, "files", None)
    if jobs > 1 and files and len(files) > 1:
        from . import batch
        rest = list(argv)
        for f in files:                          # the same command, one file at a time
            rest.remove(f)
        return batch.run(rest, files, jobs)
    try:
        return mod.run(args, extra, ap)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
