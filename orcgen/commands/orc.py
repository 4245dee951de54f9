# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen orc`: the ORC table orcgen computes, in `objtool --dump=orc` format.

Findings go to stderr (the table is the product on stdout).  Exit 1 when the
analysis gave up on a file (objtool writes no ORC then), 2 on input errors.

`--write` puts the table into the object instead, as objtool's orc_create()
does: `.orc_unwind` (the entries), `.orc_unwind_ip` (zeros) and
`.rela.orc_unwind_ip` (one R_X86_64_PC32 per entry against the code section's
STT_SECTION symbol, addend = the instruction's offset), with objtool's section
flags, alignment and entry sizes, and a section symbol created where the object
has none (objtool's elf_create_section_symbol).  The same code serves
`orcgen objtool`, which is why the writing lives in `write_orc()` and the exit
status policy in the callers.  `--dry-run` does everything but the write.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from . import for_each_object, options_from

_R_X86_64_PC32 = 2
# e_machine -> the relocation objtool's elf_text_rela_type() uses for .orc_unwind_ip
_TEXT_RELA_TYPE = {62: _R_X86_64_PC32}


def add_arguments(ap) -> None:
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--write", action="store_true",
                    help="add .orc_unwind, .orc_unwind_ip and .rela.orc_unwind_ip to FILE "
                         "(as objtool --orc does) instead of printing the table")
    ap.add_argument("--dry-run", action="store_true",
                    help="with --write: compute and validate the new object, write nothing")
    ap.add_argument("-H", "--with-filename", action="store_true",
                    help="print `FILE:` before each object's table (the default with "
                         "more than one FILE, and for archive members)")


# Given to each file's own run under -j (orcgen/batch.py), which sees one FILE.
BATCH_ARGS = ["--with-filename"]


def header(elf, files: list[str], always: bool) -> None:
    """`NAME:` before an object's table when more than one table is printed: several
    FILEs, -H, or a member of an archive (named `lib.a(member.o)`).  One plain
    object prints its table alone, exactly as `objtool --dump=orc` does."""
    if always or len(files) > 1 or elf.name not in files:
        sys.stdout.write(elf.name + ":\n")


@dataclass
class WriteOutcome:
    """What write_orc() did.  `status` is one of:
    "written", "validated" (dry run), "empty" (no ORC rows: nothing to write,
    as objtool), "fatal" (the analysis gave up: objtool writes nothing),
    "exists" (the object already has .orc_unwind: refused, as objtool)."""
    status: str
    rows: int = 0
    findings: int = 0


def orc_sections(elf, rows) -> tuple[list, list]:
    """The three ORC sections and the section symbols they need, for elfwrite."""
    from ..elf import SHF_ALLOC, SHT_PROGBITS, SHT_RELA, STB_LOCAL, STT_SECTION
    from ..elfwrite import SHF_INFO_LINK, SYMTAB, NewReloc, NewSection, NewSymbol
    from ..errors import InputError
    rtype = _TEXT_RELA_TYPE.get(elf.machine)
    if rtype is None:
        raise InputError("writing ORC is not supported for %s" % elf.machine_name)
    # objtool's sec->sym: the last STT_SECTION symbol of the section, in table order.
    sec_sym: dict[int, object] = {}
    for s in elf.symbols:
        if s.type == STT_SECTION and s.section is not None:
            sec_sym[s.section] = s.index
    new_syms: list = []
    relocs: list = []
    entries = bytearray()
    for k, row in enumerate(rows):
        entries += row.entry.pack()
        sym = sec_sym.get(row.secno)
        if sym is None:            # objtool: elf_create_section_symbol(), on first use
            sym = sec_sym[row.secno] = NewSymbol("", STT_SECTION, STB_LOCAL, row.secno)
            new_syms.append(sym)
        relocs.append(NewReloc(4 * k, rtype, sym, row.offset))
    entsize = len(rows[0].entry.pack()) if rows else 0
    orc = NewSection(".orc_unwind", SHT_PROGBITS, SHF_ALLOC, bytes(entries), entsize=entsize)
    ip = NewSection(".orc_unwind_ip", SHT_PROGBITS, SHF_ALLOC, bytes(4 * len(rows)), entsize=4)
    rela = NewSection(".rela.orc_unwind_ip", SHT_RELA, SHF_INFO_LINK, entsize=24, addralign=8,
                      link=SYMTAB, info=ip, relocs=relocs)
    return [orc, ip, rela], new_syms


def write_orc(path: str, opts, dry_run: bool = False,
              warn: Callable[[str], None] = lambda line: sys.stderr.write(line + "\n"),
              elf=None) -> WriteOutcome:
    """Analyse the object at `path` and add its ORC sections to it, atomically.

    Findings are passed to `warn` as objtool-style lines.  Raises InputError if
    the file cannot be read, analysed or rewritten, OSError if it cannot be
    replaced; the file is unchanged then.  `elf` is the file already parsed,
    if the caller has it (`orcgen objtool` reads it first to check options).
    """
    from ..elfwrite import add_to_elf, write_atomic
    from ..errors import InputError
    from ..pipeline import analyze_elf, load
    if elf is None:
        objs = load(path)
        if len(objs) != 1 or objs[0].name != path:
            raise InputError("cannot write into an archive; run on its member objects")
        elf = objs[0]
    res = analyze_elf(elf, opts.with_(orc=True))
    for f in res.findings:
        warn(f.line(res.name))
    if res.fatal:
        return WriteOutcome("fatal", 0, len(res.findings))
    rows = res.orc or []
    if not rows:
        return WriteOutcome("empty", 0, len(res.findings))
    if elf.section_by_name(".orc_unwind") is not None:
        warn("%s: warning: orcgen: file already has .orc_unwind section, skipping" % path)
        return WriteOutcome("exists", len(rows), len(res.findings) + 1)
    sections, symbols = orc_sections(elf, rows)
    new = add_to_elf(elf.data, sections, symbols)
    if dry_run:
        return WriteOutcome("validated", len(rows), len(res.findings))
    write_atomic(path, new)
    return WriteOutcome("written", len(rows), len(res.findings))


def run(args, extra, ap) -> int:
    def analyze_elf(elf, opts):                 # imported only when a file is analysed
        from ..pipeline import analyze_elf
        return analyze_elf(elf, opts)
    opts = options_from(extra, ap)
    if args.dry_run and not args.write:
        ap.error("--dry-run only makes sense with --write")
    if args.write:
        return _run_write(args.files, opts, args.dry_run)

    def handle(elf) -> int:
        res = analyze_elf(elf, opts)
        for f in res.findings:
            sys.stderr.write(f.line(res.name) + "\n")
        header(elf, args.files, args.with_filename)
        for row in res.orc or ():
            sys.stdout.write(row.text() + "\n")
        return 1 if res.fatal else 0
    named = args.with_filename or len(args.files) > 1
    return for_each_object(args.files, handle, cache_as="orc %r named=%s" % (opts, named))


def _run_write(files: list[str], opts, dry_run: bool) -> int:
    """--write: 0 written (or nothing to write), 1 analysis gave up or already
    has ORC, 2 unreadable or unwritable file (left unchanged)."""
    from ..errors import InputError
    from . import error, need_work
    need_work()
    status = 0
    for path in files:
        try:
            out = write_orc(path, opts, dry_run)
        except InputError as e:
            status = max(status, error(path, e))
            continue
        except OSError as e:
            status = max(status, error(path, InputError(e.strerror or str(e))))
            continue
        except RecursionError:
            status = max(status, error(path, InputError("control flow too deeply nested")))
            continue
        if out.status in ("fatal", "exists"):
            status = max(status, 1)
    return status
