# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen check`: every enabled check's findings, objtool-style by default.

The default set is every check registered as default (objtool's validations,
plus orcgen's own: `stack-writes`, `kcfi`); `--enable`/`--disable` change it
by name (`--list-checks` lists them, `all` names every one).  Exit 0 when
nothing is found (notes do not count), 1 with findings, 2 on an input error.
"""
from __future__ import annotations

import sys

from . import for_each_object, options_from

FORMATS = ("text", "json", "sarif")


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs="*", metavar="FILE")
    ap.add_argument("--objtool-args", metavar="ARGS",
                    help="objtool's argument string as the kernel build passed it (quoted)")
    add_check_arguments(ap)


def add_check_arguments(ap) -> None:
    ap.add_argument("--format", choices=FORMATS, default="text",
                    help="text (objtool's one line per finding), json (orcgen-findings/1) or sarif (2.1.0)")
    ap.add_argument("--evidence", action="store_true",
                    help="text: after each finding, the instructions and states that prove it")
    ap.add_argument("--enable", action="append", default=[], metavar="CHECK[,CHECK]",
                    help="run these checks too ('all': every registered check)")
    ap.add_argument("--disable", action="append", default=[], metavar="CHECK[,CHECK]",
                    help="do not run these checks")
    ap.add_argument("--list-checks", action="store_true", help="list the registered checks and exit")


def selected(args, ap, command: str = "check") -> tuple:
    from ..checks import CheckError, select
    split = lambda vals: [n for v in vals for n in v.split(",") if n]  # noqa: E731
    try:
        return select(command, split(args.enable), split(args.disable))
    except CheckError as e:
        ap.error(str(e))


def list_checks(out) -> int:
    from ..checks import CheckError, available
    try:
        classes = available()
    except CheckError as e:
        sys.stderr.write("orcgen: error: %s\n" % e)
        return 2
    names = {62: "x86-64", 183: "arm64"}
    for name, c in classes.items():
        flags = ["on" if c.default else "off"]
        if c.objtool:
            flags.append("objtool")
        if c.machines is not None:
            flags.append("/".join(names.get(m, str(m)) for m in sorted(c.machines)))
        out.write("%-14s [%s] %s\n" % (name, ", ".join(flags), c.description))
        for kind, text in c.kinds.items():
            out.write("    %-26s %s\n" % (kind, text))
    return 0


def run(args, extra, ap) -> int:
    if args.list_checks:
        return list_checks(sys.stdout)
    if not args.files:
        ap.error("the following arguments are required: FILE")
    opts = options_from(extra, ap, args.objtool_args)
    checks = selected(args, ap)
    files: list = []                        # (name, findings, error) for json and sarif
    errors: list = []

    def handle(elf) -> int:
        from ..pipeline import analyze_elf      # imported only when a file is analysed
        res = analyze_elf(elf, opts, checks=checks, evidence=args.evidence or args.format != "text",
                          table=False)     # findings only: no ORC rows kept
        if args.format == "text":
            from ..report.findings_text import render
            render(res.name, res.findings, sys.stdout, args.evidence)
        else:
            files.append((res.name, res.findings, None))
        return 1 if any(f.severity != "note" for f in res.findings) else 0

    from ..checks import plugin_digest
    names = " ".join(c.name for c in checks)
    cache_as = "check %r %s %s %s" % (opts, names, plugin_digest(checks), args.evidence) \
        if args.format == "text" else None
    status = for_each_object(args.files, handle, cache_as=cache_as, errors=errors)
    if args.format != "text":
        emit(files + [(n, [], e) for n, e in errors], args.format, "orcgen check")
    return status


def emit(files: list, fmt: str, command_line: str) -> None:
    """Write collected (name, findings, error) records as json or sarif."""
    if fmt == "json":
        from ..report.findings_json import render
        sys.stdout.write(render(files))
    else:
        from ..report.sarif import render
        sys.stdout.write(render(files, command_line))
