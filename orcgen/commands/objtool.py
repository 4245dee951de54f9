# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen objtool` / `orcgen-objtool`: a stand-in for the kernel's objtool 6.12.

It takes objtool's command line exactly as kbuild passes it
(`make objtool=$(which orcgen-objtool)`), so a kernel build gets orcgen's ORC:

    orcgen-objtool [check] --hacks=jump_label --orc --retpoline ... [--link] FILE.o
    orcgen-objtool --dump[=orc] FILE.o

What it does is what objtool 6.12 does for the options of an x86-64 kernel
build (orcgen/tables/): the analysis (stack validation, --ibt, --unret,
--noinstr, --sls and the other checks orcgen has, warnings on stderr in
objtool's format with `orcgen` in place of `objtool`), then the tables and
rewrites objtool makes -- .static_call_sites, .retpoline_sites,
.return_sites, .call_sites, .cfi_sites, __mcount_loc, .ibt_endbr_seal,
jump-label JMPs and removed or --mnop'ed calls turned into NOPs, __pfx_
symbols, the ORC sections -- written into FILE.o at once.  An action orcgen
did not do as objtool would is refused (`orcgen: error: not implemented:
...`, status 1, the file untouched: not_performed()), so that nobody mistakes
the result for objtool's; objtool 6.12 has none left.  The output-only
options (--verbose, --backtrace, --sec-address, --stats) are accepted and
have no effect.

Parsing, validation messages and exit statuses follow objtool 6.12
(builtin-check.c and libsubcmd): 129 on a usage error, 1 when the options are
invalid or the file cannot be opened, 255 when it cannot be written, and 0
otherwise -- also when there are warnings or the analysis gave up on the file,
since objtool "doesn't fail the kernel build on fatal warnings".  Accepting a
leading `check` (objtool before 5.19) is the one extension.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

# The parsing is shared with `orcgen check`/`orcgen orc` (Options.from_objtool_args).
from ..objtool_args import ACTIONS as _ACTIONS
from ..objtool_args import OPTIONS as _OPTIONS
from ..objtool_args import ObjtoolArgs, UsageError  # noqa: F401  (this module's API)
from ..objtool_args import parse as _parse

HELP = "run as the kernel's objtool (make objtool=$(which orcgen-objtool))"


def parse(argv: list[str]) -> ObjtoolArgs:
    """objtool 6.12's cmd_parse_options() over `argv`, OBJTOOL_ARGS first, as objtool."""
    return _parse(argv, os.environ.get("OBJTOOL_ARGS"))


def usage_text() -> str:
    lines = [" Usage: orcgen-objtool <actions> [<options>] file.o", "", "Actions:",
             "    -h, --hacks[=<jump_label,noinstr,skylake>]",
             "                          patch toolchain bugs/limitations"]

    def row(short: str, lng: str, what: str) -> str:
        head = ("    -%s, --%s" % (short, lng)) if short else "        --%s" % lng
        return head.ljust(26) + what if len(head) < 26 else head + "\n" + " " * 26 + what
    lines += [row(*a) for a in _ACTIONS[:10]]           # libsubcmd: short ones, then by name
    lines += [row("", "dump[=<orc>]", "dump metadata"), row("", "prefix <n>", "generate prefix symbols")]
    lines += [row(*a) for a in _ACTIONS[10:]]
    lines += ["", "Options:"] + [row(*o) for o in _OPTIONS] + [""]
    return "\n".join(lines) + "\n"


def not_performed(a: ObjtoolArgs) -> list[str]:
    """The requested actions that objtool 6.12 would perform and orcgen does not."""
    return []


def _error(err: TextIO, msg: str) -> None:
    err.write("error: orcgen: %s\n" % msg)


def _actions_valid(a: ObjtoolArgs, err: TextIO) -> bool:
    """builtin-check.c opts_valid() and mnop_opts_valid()."""
    actions = ("ibt", "mcount", "noinstr", "orc", "retpoline", "rethunk", "sls", "stackval",
               "static-call", "uaccess")
    if a.hacks or any(a.has(x) for x in actions):
        if a.dump:
            _error(err, "--dump can't be combined with other actions")
            return False
    elif a.has("unret") and not a.has("rethunk"):
        _error(err, "--unret requires --rethunk")
        return False
    elif not a.dump:
        _error(err, "At least one action required")
        return False
    return True


def _link_valid(a: ObjtoolArgs, elf, err: TextIO) -> bool:
    """builtin-check.c link_opts_valid(): more than one STT_FILE means a linked object."""
    if a.has("link"):
        return True
    if sum(1 for s in elf.symbols if s.type == 4) > 1:       # STT_FILE
        _error(err, "Linked object detected, forcing --link")
        a.flags.add("link")
        return True
    for opt in ("noinstr", "ibt", "unret"):
        if a.has(opt):
            _error(err, "--%s requires --link" % opt)
            return False
    return True


def objtool(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run as objtool would with `argv` (without the program name); the exit status."""
    from . import need_work
    need_work()
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        a = parse(argv)
        if len(a.files) != 1:
            raise UsageError("")
    except UsageError as e:
        if str(e):
            err.write("  Error: %s\n" % e)
        err.write("\n" + usage_text())
        return 129
    path = a.files[0]
    if not _actions_valid(a, err):
        return 1
    if a.dump:
        return _dump(path, out, err)
    return _check(a, path, err)


def _dump(path: str, out: TextIO, err: TextIO) -> int:
    from ..backend import backend_for
    from ..elf import ElfFile
    from ..errors import InputError
    from ..orc import read_table
    try:
        elf = ElfFile.from_path(path)
        lines = read_table(elf, backend_for(elf.machine, elf.machine_name).orc) or []
    except InputError as e:
        err.write("%s: warning: orcgen: %s\n" % (path, e))
        return 255                             # orc_dump() returns -1
    out.write("".join(line + "\n" for line in lines))
    return 0


def _check(a: ObjtoolArgs, path: str, err: TextIO) -> int:
    from ..elf import ElfFile, read_input
    from ..errors import InputError
    try:
        data = read_input(path)          # read-only, and bounded for pipes and devices
    except InputError as e:
        err.write("orcgen: Can't open '%s': %s\n" % (path, e))
        return 1
    try:
        elf = ElfFile(data, path)
    except InputError as e:
        err.write("%s: warning: orcgen: %s\n" % (path, e))
        return 1
    if a.has("backup"):
        try:
            shutil.copyfile(path, path + ".orig")
        except OSError as e:
            err.write("failed to create backup file: %s\n" % (e.strerror or e))
            err.write("%s: warning: orcgen: can't create backup file\n" % path)
            return 1
    if a.has("mnop") and not a.has("mcount"):
        _error(err, "--mnop requires --mcount")
        return 1
    if not _link_valid(a, elf, err):
        return 1
    missing = not_performed(a)
    if missing:
        err.write("orcgen: error: not implemented: %s\n" % ", ".join(missing))
        return 1
    opts = a.options()

    def warn(line: str) -> None:
        err.write(line + "\n")
    try:
        _write(path, elf, opts, a.has("dry-run"), warn)
    except InputError as e:
        err.write("%s: warning: orcgen: %s\n" % (path, e))
        return 1
    except OSError as e:
        err.write("%s: warning: orcgen: can't write the object: %s\n" % (path, e.strerror or e))
        return 255                             # elf_write() returns -1
    except RecursionError:
        err.write("%s: warning: orcgen: control flow too deeply nested\n" % path)
        return 1
    return 0


def result_key(elf, opts) -> bytes:
    """The cache key of a run: the object's bytes, the options, the checks and orcgen's code."""
    from .. import cache as _cache
    from ..checks import plugin_digest, select
    checks = select("objtool")
    return _cache.key("objtool-tables", str(elf.machine), repr(opts),
                      " ".join(c.name for c in checks), plugin_digest(checks), elf.data)


def _write(path: str, elf, opts, dry_run: bool, warn) -> bool:
    """Analyse `elf` (read from `path`), report, and write what objtool would
    into `path`; whether anything changed.  Raises InputError, OSError.
    The outcome is kept in the on-disk cache (orcgen/tables/cached.py)."""
    from .. import cache as _cache
    from ..elfwrite import NewSection, add_to_elf, write_atomic
    from ..tables import cached
    store, k, blob = _cache.default, b"", None
    if store is not None:
        k = result_key(elf, opts)
        blob = store.get(k)
    if blob is None:
        from ..pipeline import analyze_elf
        from ..tables.check import plan
        res = analyze_elf(elf, opts, keep_program=True)
        msgs: list[str] = []
        edits = plan(res, opts, msgs.append)
        if edits is not None and not edits.changed:
            edits = None
        findings = res.findings
        if store is not None:
            store.put(k, cached.save(findings, msgs, edits))
        # Without a cache the edits go to the writer as they are: the round trip
        # through marshal had been 2 s of an IBT vmlinux.o's 27.
        made = None if edits is None else (edits.created, edits.patches)
        del res, edits                 # the analysis (most of the memory) is not needed to write
        elf.forget_relocs()
    else:
        findings, msgs, made = cached.load(blob)
    for f in findings:
        warn(f.line(elf.name))
    for m in msgs:
        warn("%s: warning: orcgen: %s" % (elf.name, m))
    if made is None:
        return False
    created, patches = made
    data = add_to_elf(elf.data, [o for o in created if isinstance(o, NewSection)],
                      [o for o in created if not isinstance(o, NewSection)], patches, created)
    if not dry_run:
        write_atomic(path, data)
    return True


def main(argv: list[str] | None = None) -> int:
    """The `orcgen-objtool` console script."""
    try:
        return objtool(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


# -- `orcgen objtool ...` through orcgen's own command line -------------------------

def add_arguments(ap) -> None:
    import argparse
    ap.add_argument("args", nargs=argparse.REMAINDER, metavar="OBJTOOL-ARGS",
                    help="objtool's arguments, as kbuild passes them")


def run(args, extra, ap) -> int:
    # argparse leaves the options before the first file in `extra` and takes
    # everything from the first file on into `args`, so this is argv's order.
    return objtool(list(extra) + list(args.args))


if __name__ == "__main__":
    sys.exit(main())
