# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen diff`: the compiler's DWARF CFI against the stack state orcgen computes.

Exit 0 when nothing that breaks unwinding disagrees (benign findings and
"not determined" ranges are printed but do not fail), 1 otherwise, 2 on an
input error (`orcgen: error: FILE: reason`).  objtool options given on the
command line (or --objtool-args) change the analysis as they change `check`'s.
"""
from __future__ import annotations

import sys

from . import for_each_object, options_from


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                    help="text (evidence blocks), json (orcgen-diff/1) or sarif (2.1.0: one result "
                         "per disagreement, a warning where it breaks unwinding, else a note)")
    ap.add_argument("--cfi", choices=("auto", "eh_frame", "debug_frame"), default="auto",
                    help="which CFI section to read (auto: .eh_frame, else .debug_frame)")
    ap.add_argument("--only-breaking", action="store_true",
                    help="text: print only disagreements that break unwinding")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="text: evidence for not-determined ranges too, and per-function summaries")
    ap.add_argument("--kernel", action="store_true",
                    help="analyse as kernel code (the opposite of --userspace; by default "
                         "each object's kind is detected from the object)")
    ap.add_argument("--objtool-args", metavar="ARGS",
                    help="objtool's argument string as the kernel build passed it (quoted)")


def run(args, extra, ap) -> int:
    from ..diff import diff_object
    from ..report import diff_json, diff_text
    opts = options_from(extra, ap, args.objtool_args)
    if args.kernel and opts.userspace:
        ap.error("--kernel and --userspace contradict each other")
    reports = []

    def handle(elf) -> int:
        rep = diff_object(elf, opts, args.cfi, "kernel" if args.kernel else None)
        if args.format != "text":
            reports.append(rep)
        else:
            diff_text.render(rep, sys.stdout, args.only_breaking, args.verbose)
        return 1 if rep.breaking else 0
    errors: list = []
    status = for_each_object(args.files, handle, errors=errors)
    if args.format == "json":
        sys.stdout.write(diff_json.render(reports))
    elif args.format == "sarif":
        from ..checks.dwarf_cfi import findings_of
        from .check import emit
        emit([(r.file, findings_of(r), None) for r in reports] + [(n, [], e) for n, e in errors],
             "sarif", "orcgen diff")
    return status
