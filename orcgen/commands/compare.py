# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen compare A B`: `orcgen diff` over two builds of the same sources, side by side.

A and B are each a directory (searched recursively for objects whose name ends
in --suffix, default `.o`, or whose relative path matches --glob), an `ar`
archive, or a tar archive (plain, gzip, bzip2 or xz) of objects.  Objects are
matched by relative path (for a directory: below it; for a tar: below the one
top directory all members share; for an archive: the member name); only
matched pairs enter the figures, and unmatched objects are listed.

Exit 0, or 2 when some object could not be read (its line in the report; the
rest are compared).  `-j N` analyses N objects at a time.
"""
from __future__ import annotations

import fnmatch
import os
import sys
import tarfile
from dataclasses import dataclass


def add_arguments(ap) -> None:
    ap.add_argument("a", metavar="A", help="first build: directory, .a archive or tar/tgz of objects")
    ap.add_argument("b", metavar="B", help="second build, the same sources built another way")
    ap.add_argument("--format", choices=("text", "json", "html"), default="text",
                    help="text (a table), json (orcgen-compare/1) or html (a self-contained page)")
    ap.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE (default: stdout)")
    ap.add_argument("--save-json", metavar="FILE", help="also write the JSON report to FILE")
    ap.add_argument("--save-html", metavar="FILE", help="also write the HTML page to FILE")
    ap.add_argument("--suffix", default=".o",
                    help="object names end in this (default .o; the kernel corpora's compiler "
                         "output is .o.pre); it is dropped from the name objects are matched by")
    ap.add_argument("--suffix-b", metavar="SUFFIX", help="B's suffix when it differs from A's")
    ap.add_argument("--glob", metavar="PATTERN", action="append",
                    help="instead of --suffix: relative paths (or names) matching this shell pattern "
                         "(e.g. 'lib/*.o'; repeatable)")
    ap.add_argument("--label-a", metavar="NAME", help="what A is called in the report (default: its name)")
    ap.add_argument("--label-b", metavar="NAME", help="what B is called in the report")
    ap.add_argument("--functions", action="store_true", help="text: list the functions behind each class")
    ap.add_argument("--cfi", choices=("auto", "eh_frame", "debug_frame"), default="auto",
                    help="which CFI section to read (auto: .eh_frame, else .debug_frame)")
    ap.add_argument("--kernel", action="store_true", help="analyse as kernel code (default: detected per object)")
    ap.add_argument("--objtool-args", metavar="ARGS", help="objtool's argument string (quoted)")


@dataclass(frozen=True)
class Item:
    """One object to analyse: `path` on disk, or `data` read from an archive."""
    key: str
    name: str
    path: str = ""
    data: bytes = b""


def _strip(rel: str, suffix: str, globs: list[str] | None) -> str | None:
    rel = rel.replace(os.sep, "/")
    if globs:
        base = os.path.basename(rel)
        return rel if any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(base, g) for g in globs) else None
    return rel[:-len(suffix)] if rel.endswith(suffix) and len(rel) > len(suffix) else None


def gather(root: str, suffix: str, glob: list[str] | None) -> tuple[list[Item], list[tuple[str, str]]]:
    """The objects of one side, and (name, reason) for what cannot be read."""
    from ..archive import is_archive, members
    from ..errors import InputError
    if os.path.isdir(root):
        items = []
        for d, subdirs, files in os.walk(root):
            subdirs.sort()
            for f in sorted(files):
                full = os.path.join(d, f)
                key = _strip(os.path.relpath(full, root), suffix, glob)
                if key is not None and os.path.isfile(full):
                    items.append(Item(key, full, path=full))
        return items, []
    try:
        with open(root, "rb") as fh:
            head = fh.read(8)
    except OSError as e:
        return [], [(root, e.strerror or str(e))]
    if is_archive(head):
        try:
            with open(root, "rb") as fh:
                data = fh.read()
            seen: dict[str, int] = {}
            items = []
            for name, body in members(data):
                n = seen[name] = seen.get(name, 0) + 1
                key = name if n == 1 else "%s#%d" % (name, n)        # ar allows the same name twice
                items.append(Item(key, "%s(%s)" % (root, name), data=body))
            return items, []
        except InputError as e:
            return [], [(root, str(e))]
    try:
        with tarfile.open(root) as tf:
            mems = [m for m in tf.getmembers() if m.isfile()]
            tops = {m.name.split("/", 1)[0] for m in mems}
            cut = len(tops.pop()) + 1 if len(tops) == 1 and all("/" in m.name for m in mems) else 0
            items = []
            for m in mems:
                key = _strip(m.name[cut:], suffix, glob)
                if key is not None:
                    items.append(Item(key, "%s(%s)" % (root, m.name), data=tf.extractfile(m).read()))
            return items, []
    except (tarfile.TarError, OSError, EOFError) as e:
        return [], [(root, "neither a directory, an ar archive nor a tar archive (%s)" % e)]


_JOB: dict = {}      # the run's settings, set before the pool forks


def _analyse(item: Item):
    from ..compare import ObjectResult, summarise
    from ..diff import diff_object
    from ..elf import ElfFile, read_input
    from ..errors import InputError
    from ..report.diff_text import block
    try:
        data = item.data or read_input(item.path)
        elf = ElfFile(data, item.name)
        rep = diff_object(elf, _JOB["opts"], _JOB["cfi"], _JOB["flavour"])
        return summarise(rep, item.key, lambda d: "\n".join(block(d)))
    except InputError as e:
        return ObjectResult(item.key, item.name, error=str(e) or type(e).__name__)
    except RecursionError:
        return ObjectResult(item.key, item.name, error="control flow too deeply nested")
    except MemoryError:
        return ObjectResult(item.key, item.name, error="out of memory")


def analyse_all(items: list[Item], jobs: int) -> list:
    if jobs <= 1 or len(items) <= 1:
        return [_analyse(it) for it in items]
    from multiprocessing import get_context
    progress = sys.stderr.isatty()
    out = []
    with get_context("fork").Pool(jobs) as pool:
        for n, r in enumerate(pool.imap(_analyse, items, chunksize=1), 1):
            out.append(r)
            if progress:
                sys.stderr.write("\r\033[K[%d/%d] %s" % (n, len(items), r.name[-60:]))
                sys.stderr.flush()
    if progress:
        sys.stderr.write("\r\033[K")
    return out


def jobs_of(args) -> int:
    """`-j N`: orcgen's main() takes it off the command line before the command
    sees it (its batch mode runs one command per file, which cannot aggregate);
    read it from where main() left it, else from the process's own arguments."""
    n = getattr(args, "jobs", None)
    if n:
        return int(n)
    from ..batch import take_jobs
    argv = sys.argv[1:]
    if "compare" not in argv:
        return 1
    try:
        return take_jobs(argv)[1]
    except ValueError:
        return 1


def run(args, extra, ap) -> int:
    from . import need_work, one_line, options_from
    from ..compare import ObjectResult, compare
    opts = options_from(extra, ap, args.objtool_args)
    if args.kernel and opts.userspace:
        ap.error("--kernel and --userspace contradict each other")
    need_work()
    outputs = [(fmt, dest) for fmt, dest in ((args.format, args.output or "-"), ("json", args.save_json),
                                             ("html", args.save_html)) if dest]
    for fmt, _ in outputs:          # imported before the minutes of analysis, not after
        renderer(fmt)
    _JOB.update(opts=opts, cfi=args.cfi, flavour="kernel" if args.kernel else None)
    label = lambda p: os.path.basename(os.path.normpath(p)) or p  # noqa: E731
    la, lb = args.label_a or label(args.a), args.label_b or label(args.b)
    if la == lb:
        la, lb = la + " (A)", lb + " (B)"
    (ia, bad_a), (ib, bad_b) = (gather(r, x, args.glob) for r, x in
                                ((args.a, args.suffix), (args.b, args.suffix_b or args.suffix)))
    unreadable = tuple((la, n, r) for n, r in bad_a) + tuple((lb, n, r) for n, r in bad_b)
    ka, kb = {i.key for i in ia}, {i.key for i in ib}
    both = ka & kb
    todo = [i for i in ia if i.key in both] + [i for i in ib if i.key in both]
    done = iter(analyse_all(todo, jobs_of(args)))
    res_a = {i.key: next(done) for i in ia if i.key in both}
    res_b = {i.key: next(done) for i in ib if i.key in both}
    for items, res in ((ia, res_a), (ib, res_b)):
        for i in items:
            res.setdefault(i.key, ObjectResult(i.key, i.name))          # unmatched: listed, not analysed
    cmp = compare(la, args.a, res_a, lb, args.b, res_b, unreadable)
    status = 0
    for side, name, reason in cmp.errors:
        sys.stderr.write("orcgen: error: %s: %s\n" % (one_line(name), one_line(reason)))
        status = 2
    for fmt, dest in outputs:
        _write(dest, renderer(fmt)(cmp, args.functions))
    return status


def renderer(fmt: str):
    """The renderer of a format, `(comparison, functions) -> str`."""
    if fmt == "json":
        from ..report.compare_json import render as r
        return lambda c, functions=False: r(c)
    if fmt == "html":
        from ..report.compare_html import render as h
        return lambda c, functions=False: h(c)
    from ..report.compare_text import render as t
    return t


def _write(dest: str, page: str) -> None:
    if dest == "-":
        sys.stdout.write(page)
        return
    with open(dest, "w", encoding="utf-8") as fh:
        fh.write(page)
