# SPDX-License-Identifier: GPL-2.0-only
"""orcgen's command line.

    orcgen check [objtool options] FILE...   objtool-style warnings; exit 0 clean, 1 findings, 2 error
    orcgen orc   [objtool options] FILE      the ORC orcgen computes, as `objtool --dump=orc` prints it
    orcgen dump  FILE                        the ORC already in FILE, same format

objtool's own options (--stackval, --uaccess, --hacks=..., --prefix=16, ...) are
accepted as the kernel build passes them.  Every input error is one line,
`orcgen: error: FILE: reason`; a traceback is a bug.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Iterable

from .errors import InputError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="orcgen", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    c = sub.add_parser("check", help="validate stack and frame-pointer discipline (objtool-style warnings)")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--objtool-args", metavar="ARGS", default=None,
                   help="objtool's whole argument string as the kernel build passed it")
    o = sub.add_parser("orc", help="print the ORC table orcgen computes")
    o.add_argument("files", nargs="+", metavar="FILE")
    d = sub.add_parser("dump", help="print the ORC table already in the file")
    d.add_argument("files", nargs="+", metavar="FILE")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = _parser()
    args, extra = ap.parse_known_args(argv)
    from .options import Options
    objtool_args = list(extra)
    if getattr(args, "objtool_args", None):
        objtool_args += args.objtool_args.split()
    try:
        opts, stray = Options.from_objtool_args(objtool_args)
    except ValueError as e:
        ap.error(str(e))
    if stray:
        ap.error("unrecognised arguments: %s" % " ".join(stray))
    # A check or an ORC listing always walks the code, as objtool --orc does.
    opts = opts.with_(orc=True)
    try:
        if args.cmd == "check":
            return _each(args.files, lambda r, out: _check(r, out), opts)
        if args.cmd == "orc":
            return _each(args.files, lambda r, out: _orc(r, out), opts)
        return _dump(args.files)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


def _each(files: Iterable[str], show: Callable, opts) -> int:
    from .pipeline import analyze_elf, load
    status = 0
    out = sys.stdout
    for path in files:
        try:
            for elf in load(path):
                try:
                    status = max(status, show(analyze_elf(elf, opts), out))
                except InputError as e:
                    status = _error(elf.name, e)
        except InputError as e:
            status = _error(path, e)
        except RecursionError:
            status = _error(path, InputError("control flow too deeply nested to analyse"))
    return status


def _check(res, out) -> int:
    for f in res.findings:
        out.write(f.line(res.name) + "\n")
    return 1 if res.findings else 0


def _orc(res, out) -> int:
    for f in res.findings:
        sys.stderr.write(f.line(res.name) + "\n")
    for row in res.orc or ():
        out.write(row.text() + "\n")
    return 1 if res.fatal else 0


def _dump(files: list[str]) -> int:
    from .backend import backend_for
    from .orc import read_table
    from .pipeline import load
    status = 0
    for path in files:
        try:
            for elf in load(path):
                be = backend_for(elf.machine, elf.machine_name)
                for line in read_table(elf, be.orc) or ():
                    sys.stdout.write(line + "\n")
        except InputError as e:
            status = _error(path, e)
    return status


def _error(name: str, e: Exception) -> int:
    sys.stdout.flush()
    sys.stderr.write("orcgen: error: %s: %s\n" % (name, e))
    return 2


if __name__ == "__main__":
    sys.exit(main())
