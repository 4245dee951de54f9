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
    "compare": "orcgen diff over two builds of the same sources (A B: directories, .a or tar), side by side",
    "report": "one disagreement of `diff` as a bug report for the compiler, with a reduced reproducer",
}


# commands that take objtool's options (through commands.options_from)
_ANALYSES = ("check", "orc", "diff", "compare", "report")


def _version() -> str:
    from . import __version__
    return "orcgen " + __version__


def _parser():
    import argparse
    ap = argparse.ArgumentParser(prog="orcgen", description=__doc__.split("\n\n")[0])
    ap.add_argument("-V", "--version", action="version", version=_version())
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return ap


_command_parsers: dict = {}        # command -> its ArgumentParser (parsing does not change it)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("ORCGEN_WORKER") == "1":
        from .client import main as client_main  # thin client: no analysis imports here
        return client_main(argv)
    import argparse
    import importlib
    if argv[:1] in (["--version"], ["-V"]):
        sys.stdout.write(_version() + "\n")
        return 0
    if not argv or argv[0] not in COMMANDS:
        _parser().parse_args(argv)          # prints usage / help and exits
        return 2
    name = argv[0]
    if name in _ANALYSES:
        argv = argv[:1] + objtool_words(argv[1:])
    from .batch import take_jobs
    jobs_given = _gives_jobs(argv)
    try:
        argv, jobs = take_jobs(argv)
    except ValueError:
        _parser().error("-j takes a whole number")
    no_cache = "--no-cache" in argv or os.environ.get("ORCGEN_NO_CACHE") == "1"
    argv = [a for a in argv if a != "--no-cache"]
    from . import cache
    cache.default = None if no_cache else cache.shared()     # this call's, not an earlier one's
    mod = importlib.import_module("orcgen.commands." + name)
    helping = "-h" in argv or "--help" in argv
    # kept: the warm worker parses a command line per object of a build, and
    # building the parser was a quarter of its answer (help adds to it: not kept)
    ap = None if helping else _command_parsers.get(name)
    if ap is None:
        ap = argparse.ArgumentParser(prog="orcgen " + name, description=COMMANDS[name])
        mod.add_arguments(ap)
        if helping:
            _describe_shared(ap, name)
        else:
            _command_parsers[name] = ap
    args, extra = ap.parse_known_args(argv[1:])
    files = getattr(args, "files", None)
    from . import pardecode, parwalk
    if files and len(files) > 1:
        pardecode.jobs = parwalk.jobs = 1        # files in parallel (below), or one at a time
    else:                                        # one file: -j N is the processes inside it
        pardecode.jobs = parwalk.jobs = jobs if jobs_given else 0
    if jobs > 1 and files and len(files) > 1:
        from . import batch
        rest = list(argv)
        for f in files:                          # the same command, one file at a time
            rest.remove(f)
        rest += getattr(mod, "BATCH_ARGS", [])   # what the command does for several files
        merge = None
        if getattr(args, "format", "text") in ("json", "sarif"):
            from .report.merge import merge
        return batch.run(rest, files, jobs, merge)
    if not hasattr(args, "jobs"):
        args.jobs = jobs                         # for commands that parallelise themselves (compare)
    try:
        return mod.run(args, extra, ap)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


def _gives_jobs(argv: list[str]) -> bool:
    return any(a in ("-j", "--jobs") or a.startswith("--jobs=") or (a.startswith("-j") and a[2:].isdigit())
               for a in argv)


def objtool_words(argv: list[str]) -> list[str]:
    """objtool's options as argparse can pass them through: `--objtool-args "A B"`
    (or `--objtool-args=...`) becomes the words A B, and `--prefix N` becomes
    `--prefix=N` (`--noreturn NAME` likewise), so that N is not taken for a file."""
    out: list[str] = []
    k = 0
    while k < len(argv):
        a = argv[k]
        k += 1
        if a == "--":
            out += argv[k - 1:]
            break
        if a == "--objtool-args" and k < len(argv):
            out += argv[k].split()
            k += 1
        elif a.startswith("--objtool-args="):
            out += a.split("=", 1)[1].split()
        elif a in ("--prefix", "--noreturn") and k < len(argv):
            out.append(a + "=" + argv[k])
            k += 1
        else:
            out.append(a)
    return out


def _describe_shared(ap, name: str) -> None:
    """For --help only: the options main() and Options take before argparse sees
    the command line (so they are never parsed here, and cost nothing otherwise)."""
    g = ap.add_argument_group("options of every command taking files")
    g.add_argument("-j", "--jobs", metavar="N", help="run N files at a time (output in the order given)")
    g.add_argument("--no-cache", action="store_true",
                   help="do not use the on-disk cache (ORCGEN_CACHE_DIR; ORCGEN_NO_CACHE=1)")
    if name not in _ANALYSES:
        return
    g = ap.add_argument_group("analysis options (orcgen's own)")
    g.add_argument("--userspace", action="store_true",
                   help="userspace code: C-library noreturn functions, PIC jump tables")
    g.add_argument("--noreturn", metavar="NAME,...", help="more functions that never return")
    g.add_argument("--keep-going", action="store_true",
                   help="a finding ends only its own path, not the function's walk")
    from .objtool_args import ACTIONS, OPTIONS
    g = ap.add_argument_group(
        "objtool 6.12 options (as the kernel build passes them, or one string with "
        "--objtool-args \"...\"; parsed as objtool parses them)")
    seen = {a.dest for a in ap._actions}
    g.add_argument("--hacks", metavar="[=jump_label,noinstr,skylake]", help="patch toolchain bugs/limitations")
    g.add_argument("--prefix", metavar="N", help="functions have N bytes of padding before them")
    for short, lng, what in ACTIONS + OPTIONS:
        if lng.replace("-", "_") in seen:           # diff's own --cfi, -v
            continue
        flags = (["-" + short] if short and short != "v" else []) + ["--" + lng]
        g.add_argument(*flags, action="store_true", help=what)


if __name__ == "__main__":
    sys.exit(main())
