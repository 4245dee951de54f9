# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen report FILE.o`: one disagreement of `orcgen diff` as a ready-to-file
bug report in Markdown (orcgen/report/bugreport.py).

Which disagreement: `--at func+0xOFF` (the one covering that instruction),
`--function F` (its first that breaks unwinding, else its first), `--from-json
DIFF.json --index N` (entry N of that file's "disagreements" in a saved `orcgen
diff --format json`), or by default the object's first that breaks unwinding
in the compiler's own code (inline asm only when nothing else breaks).
With `--source F.c --cc "gcc -O2 ..."` the source is reduced (orcgen/reduce.py)
to a reproducer that keeps the disagreement; for a kernel object,
`--kbuild-cmd` takes both from kbuild's .NAME.o.cmd (orcgen/kbuild_cmd.py).

Exit 0 with a report, 1 when the object has no such disagreement, 2 on an
input or reduction error.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys

from . import error, for_each_object, options_from


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs=1, metavar="FILE")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--function", metavar="F", help="report F's first disagreement that breaks unwinding")
    g.add_argument("--at", metavar="FUNC+0xOFF", help="report the disagreement covering this instruction")
    g.add_argument("--from-json", metavar="DIFF.json", help="a saved `orcgen diff --format json` of FILE")
    ap.add_argument("--index", type=int, default=0, metavar="N",
                    help="with --from-json: the N-th disagreement of FILE there (from 0)")
    ap.add_argument("--source", metavar="F.c", help="the C source FILE was compiled from: reduce it")
    ap.add_argument("--cc", metavar="\"CC FLAGS\"", help="the exact compile command (without -c/-o)")
    ap.add_argument("--kbuild-cmd", nargs="?", const="", metavar=".NAME.o.cmd",
                    help="a kernel object: take --cc and --source from kbuild's .cmd file (by "
                         "default the one beside FILE), made to run from anywhere")
    ap.add_argument("--reduce-timeout", type=float, default=600, metavar="S",
                    help="stop reducing after S seconds and keep the best candidate (default 600)")
    ap.add_argument("--reducer", choices=("auto", "cvise", "creduce"), default="auto")
    ap.add_argument("--reduce-jobs", type=int, default=1, metavar="N", help="the reducer's parallel tests")
    ap.add_argument("-o", "--output", metavar="FILE.md", help="write the report here instead of stdout")
    ap.add_argument("--cfi", choices=("auto", "eh_frame", "debug_frame"), default="auto")
    ap.add_argument("--kernel", action="store_true", help="analyse as kernel code (see orcgen diff)")
    ap.add_argument("--objtool-args", metavar="ARGS", help="objtool's argument string (quoted)")


def kbuild_cmd_beside(obj: str) -> str:
    """kbuild's record of how `obj` was built: DIR/.NAME.o.cmd (for NAME.o.pre too)."""
    d, name = os.path.split(obj)
    if name.endswith(".o.pre"):
        name = name[:-len(".pre")]
    return os.path.join(d, "." + name + ".cmd")


def select(rep, args, doc: dict | None = None):
    """The disagreement the options name, or None."""
    ds = rep.disagreements
    if args.at:
        m = re.fullmatch(r"(.+)\+(0x[0-9a-fA-F]+|\d+)", args.at)
        func, off = (m.group(1), int(m.group(2), 0)) if m else (args.at, 0)
        for d in ds:
            if d.function == func:
                start = int(d.first.rsplit("+", 1)[1], 16)
                if start <= off < start + (d.end - d.start):
                    return d
        return None
    if args.function:
        ds = [d for d in ds if d.function == args.function]
    elif doc is not None:
        files = doc.get("files", [])
        f = next((x for x in files if x.get("file") == rep.file), files[0] if len(files) == 1 else None)
        if f is None or not 0 <= args.index < len(f["disagreements"]):
            return None
        j = f["disagreements"][args.index]
        return next((d for d in ds if d.function == j["function"] and d.start == j["start"]
                     and d.cls == j["class"] and d.kind == j["kind"] and d.register == j["register"]), None)
    # The compiler's own code first: an SP excursion no row describes is inline
    # asm, and code without any FDE is most often assembly (kernel trampolines).
    from ..diff_model import ASM_ORIGIN, COVER_CLS
    breaking = sorted((d for d in ds if d.breaks_unwinding),
                      key=lambda d: (d.origin == ASM_ORIGIN, d.cls == COVER_CLS))   # stable: address order
    return breaking[0] if breaking else ds[0] if ds else None


def run(args, extra, ap) -> int:
    from ..diff import diff_object
    from ..report import bugreport
    from ..toolchain import identify
    if args.kbuild_cmd is not None:
        from ..kbuild_cmd import CmdError, compile_command
        path = args.kbuild_cmd or kbuild_cmd_beside(args.files[0])
        if args.cc is not None:
            ap.error("--kbuild-cmd gives the compile command: drop --cc")
        try:
            words, source = compile_command(path)
        except CmdError as e:
            return error(path, e)
        args.cc = shlex.join(words)
        args.source = args.source or source
    if (args.source is None) != (args.cc is None) and args.source is not None:
        ap.error("--source needs --cc (the exact command that compiled it)")
    opts = options_from(extra, ap, args.objtool_args)
    doc = None
    if args.from_json:
        try:
            with open(args.from_json) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            return error(args.from_json, e)
    out: list[str] = []

    def handle(elf) -> int:
        rep = diff_object(elf, opts, args.cfi, "kernel" if args.kernel else None)
        d = select(rep, args, doc)
        if d is None:
            sys.stderr.write("orcgen: %s: no such disagreement (%d in the file; `orcgen diff %s` lists them)\n"
                             % (elf.name, len(rep.disagreements), elf.name))
            return 1
        reduction = None
        if args.source:
            from ..reduce import ReduceError, Target, reduce
            t = Target(d.cls, d.kind, d.breaks_unwinding, d.function, rep.flavour, args.cfi,
                       tuple(extra) + tuple((args.objtool_args or "").split()))
            try:
                reduction = reduce(args.source, args.cc, t, args.reduce_timeout, args.reducer, args.reduce_jobs)
            except (ReduceError, OSError) as e:
                return error(args.source, e)
        cmd = "orcgen diff%s %s" % (" --kernel" if rep.flavour == "kernel" else "", shlex.quote(elf.name))
        out.append(bugreport.render(rep, d, identify(elf), args.cc, reduction, cmd))
        return 0
    status = for_each_object(args.files, handle)
    if out:
        text = "\n".join(out)
        if args.output:
            with open(args.output, "w") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
    return status
