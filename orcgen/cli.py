# SPDX-License-Identifier: GPL-2.0-only
"""orcgen's command line: one module per command under orcgen/commands/.

    orcgen check [objtool options] FILE...   objtool-style warnings; exit 0 clean, 1 findings, 2 error
    orcgen orc   [objtool options] FILE...   the ORC orcgen computes, as `objtool --dump=orc` prints it
    orcgen dump  FILE...                     the ORC already in FILE, same format

A command module defines `HELP` (one line), `add_arguments(parser)` and
`run(args, extra) -> int`, where `extra` holds the arguments argparse did not
recognise (objtool's own options, which commands pass to Options).  Modules are
imported only when their command runs, so `orcgen check` never pays for DWARF or
report code.  Every input error is one line, `orcgen: error: FILE: reason`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module under orcgen.commands; help texts are kept here so that
# building the parser imports nothing.
COMMANDS = {
    "check": "validate stack and frame-pointer discipline (objtool-style warnings)",
    "orc": "print the ORC table orcgen computes",
    "dump": "print the ORC table already in the file",
    "objtool": "run as the kernel's objtool: objtool's arguments, ORC written into FILE",
}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="orcgen", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        _parser().parse_args(argv)          # prints usage / help and exits
        return 2
    name = argv[0]
    mod = importlib.import_module("orcgen.commands." + name)
    ap = argparse.ArgumentParser(prog="orcgen " + name, description=COMMANDS[name])
    mod.add_arguments(ap)
    args, extra = ap.parse_known_args(argv[1:])
    try:
        return mod.run(args, extra, ap)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
