# SPDX-License-Identifier: GPL-2.0-only
"""KCFI type hashes that are not where indirect callers look for them.

With clang's `-fsanitize=kcfi`, an indirect call first compares the hash
stored at a fixed distance D before the target's entry with the hash of the
call's type, and traps on a difference.  The hash sits right before the
function's prefix NOPs of `-fpatchable-function-entry=M,N`, so D is 4 plus N
NOPs: the kernel's x86 CALL_PADDING (11,11) puts it at entry-15, arm64's
ftrace (2,0) at entry-4.  clang computes D at each call from the *calling*
function's own N; nothing checks that the callee was compiled with the same
N.  So a function whose N differs from the build's (a per-function
`patchable_function_entry(M,N)` attribute such as the kernel's `notrace`
where ftrace uses patchable entries, a C or Rust object built with other
flags) has its hash where no caller reads it: every indirect call to it traps.
arm64 does not offer ftrace CALL_OPS (4,2) with CFI_CLANG for this reason.

This check reads only the ELF file: the `__cfi_` preambles (x86-64) or hash
words (arm64), the `__patchable_function_entries` records (each points at a
function's first patchable NOP), the call checks (`.kcfi_traps` on x86-64,
`brk #0x8xxx` on arm64) and the relocations that take a function's address.
It reports, per object:

- kcfi-tag-misplaced: a function's hash is at a distance other than the one
  the build's layout (the majority of the object's patchable records) gives;
- kcfi-caller-mismatch: a function's call checks read at a distance other
  than the build's (the caller has its own M,N);
- kcfi-entry-mismatch: a hash that is not followed, across NOPs only, by the
  entry it belongs to, or not right before the function's patchable NOPs;
- kcfi-missing-tag: a function whose address is taken in an object that
  uses KCFI, without a hash (an assembly function not declared typed).

One object cannot tell which of its layouts is the build's when the object
itself was compiled with other flags; `survey()` in bench/kcfi_survey.py runs
the same analysis over a whole build, with the build's majority as
`expected`, and adds the cross-object cases.  The encodings are the
back-ends' (arch/*/kcfi.py); this module knows only distances.
"""
from __future__ import annotations

import bisect
import importlib
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from ..elf import SHF_ALLOC, STB_LOCAL, STT_FUNC, STT_SECTION, ElfFile
from ..findings import Evidence, Finding, Location, Step
from .api import ELF, Check, Context

_ARCH = {62: "orcgen.arch.x86_64.kcfi", 183: "orcgen.arch.arm64.kcfi"}
PFE = "__patchable_function_entries"
TAG_SIZE = 4
MAX_UNITS = 64               # no prefix or padding is longer (x86's 64-byte alignment: 59)
# Sections whose references to a function are bookkeeping, not a pointer
# that may be called indirectly.
_META = frozenset((PFE, ".kcfi_traps", "__mcount_loc", ".altinstructions", "__jump_table",
                   ".static_call_sites", "__ex_table", ".orc_unwind_ip", ".orc_unwind",
                   ".eh_frame", ".retpoline_sites", ".return_sites", ".call_sites",
                   ".ibt_endbr_seal", ".cfi_sites", "__bug_table", "_kprobe_blacklist",
                   "_error_injection_whitelist", ".smp_locks", ".llvm_addrsig", "__kcrctab", "__kcrctab_gpl"))
_META_PREFIXES = (".discard", ".debug", ".note", "___ksymtab", "__ksymtab", ".export_symbol",
                  ".rela", ".rel.", ".comment", ".llvm")


def arch_for(machine: int):
    """The back-end's KCFI encodings for ELF e_machine `machine`, or None."""
    mod = _ARCH.get(machine)
    return importlib.import_module(mod) if mod else None


@dataclass(frozen=True)
class Func:
    """One function's entry layout."""
    name: str
    secno: int
    section: str
    entry: int
    before: int          # patchable NOPs before the entry (N)
    after: int           # patchable NOPs after the entry (M - N)
    record: bool         # __patchable_function_entries lists it
    tag: int = -1        # section offset of the hash, -1: none
    hash: int = -1       # its value (-1: relocated, e.g. __kcfi_typeid_NAME)
    problem: str = ""    # why the hash is not this function's preamble
    taken: str = ""      # where its address is taken ("" if nowhere seen)
    local: bool = False
    untyped: bool = False  # in a section of functions never called indirectly

    @property
    def distance(self) -> int:
        """D: callers read the hash at entry - D."""
        return self.entry - self.tag

    @property
    def mn(self) -> str:
        return "%d,%d" % (self.before + self.after, self.before)


@dataclass(frozen=True)
class Call:
    """One indirect call's KCFI check."""
    secno: int
    section: str
    offset: int
    distance: int
    func: str            # the calling function ("" outside any)
    func_offset: int


@dataclass(frozen=True)
class Facts:
    """What the check reads from one object."""
    name: str
    machine: int
    unit: int
    funcs: tuple[Func, ...]
    calls: tuple[Call, ...]
    taken_undefined: tuple[tuple[str, str], ...]     # (symbol, where) of address-taken externals

    @property
    def kcfi(self) -> bool:
        return any(f.tag >= 0 for f in self.funcs) or bool(self.calls)

    def layout(self) -> tuple[int, str]:
        """(D, "M,N") of this object's own build: the majority of its
        patchable records, else of its hashes (assembly has no records)."""
        rec = Counter((f.before, f.after) for f in self.funcs if f.record)
        if rec:
            (n, after), _c = max(rec.items(), key=lambda kv: (kv[1], kv[0]))
            return TAG_SIZE + n * self.unit, "%d,%d" % (n + after, n)
        ds = Counter(f.distance for f in self.funcs if f.tag >= 0 and not f.problem)
        if ds:
            d, _c = max(ds.items(), key=lambda kv: (kv[1], kv[0]))
            return d, _mn_of(d, self.unit)
        cs = Counter(c.distance for c in self.calls)
        if cs:
            d, _c = max(cs.items(), key=lambda kv: (kv[1], kv[0]))
            return d, _mn_of(d, self.unit)
        return TAG_SIZE, "0,0"


def _mn_of(d: int, unit: int) -> str:
    n = (d - TAG_SIZE) // unit
    return "%d,%d" % (n, n) if n else "0,0"


def facts(elf: ElfFile, name: str | None = None, force: bool = False) -> Facts | None:
    """The layouts of one object's functions, or None when it has no KCFI
    (`force`: still list its functions, for the cross-object checks)."""
    arch = arch_for(elf.machine)
    if arch is None:
        return None
    secs = elf.sections
    has_pfe = any(s.name == PFE for s in secs)
    if not force and not has_pfe:
        if arch.TRAPS_SECTION:
            if elf.section_by_name(arch.TRAPS_SECTION) is None and \
                    not any(s.name.startswith(arch.TAG_PREFIX) for s in elf.symbols):
                return None
        elif not any(s.name[:2] == "$d" and s.section is not None and secs[s.section].is_exec
                     for s in elf.symbols):
            return None
    unit = arch.UNIT
    data: dict[int, bytes] = {}

    def code(secno: int) -> bytes:
        b = data.get(secno)
        if b is None:
            sec = secs[secno]
            b = data[secno] = elf.section_data(sec) if sec.is_exec and sec.type != 8 else b""
        return b

    # functions of each code section, by entry
    per_sec: dict[int, list] = {}
    sec_syms: dict[int, list] = {}
    for s in elf.symbols:
        if s.section is not None:
            sec_syms.setdefault(s.section, []).append(s)
        if s.type == STT_FUNC and s.section is not None and secs[s.section].is_exec \
                and not (arch.TAG_PREFIX and s.name.startswith(arch.TAG_PREFIX)):
            per_sec.setdefault(s.section, []).append(s)
    entries: dict[int, list[int]] = {}
    for secno, lst in per_sec.items():
        lst.sort(key=lambda s: (s.offset, -s.size))
        entries[secno] = [s.offset for s in lst]

    def func_at(secno: int, off: int):
        """The function starting at or containing `off`."""
        lst = per_sec.get(secno)
        if not lst:
            return None
        i = bisect.bisect_right(entries[secno], off) - 1
        if i >= 0 and (lst[i].offset == off or off < lst[i].offset + lst[i].size):
            return lst[i]
        return None

    def nops_between(secno: int, a: int, b: int) -> bool:
        c = code(secno)
        return all(arch.is_prefix_nop(c, o) for o in range(a, b, unit))

    # __patchable_function_entries: each record is the first NOP of one function
    rec: dict[tuple[int, int], int] = {}         # (secno, entry) -> record offset
    for sec in secs:
        if sec.name != PFE:
            continue
        for r in elf.relocs(sec).relocs:
            if r.sym >= len(elf.symbols):
                continue
            s = elf.symbols[r.sym]
            if s.section is None or s.section not in per_sec:
                continue
            p = s.offset + r.addend
            lst, ent = per_sec[s.section], entries[s.section]
            i = bisect.bisect_left(ent, p)
            if i < len(ent) and ent[i] - p <= MAX_UNITS * unit and nops_between(s.section, p, ent[i]):
                rec[(s.section, ent[i])] = p
            else:
                f = func_at(s.section, p)
                if f is not None:
                    rec.setdefault((s.section, f.offset), p)

    # hashes: x86-64 names them (__cfi_NAME), arm64 marks them ($d, $x)
    tags: dict[tuple[int, int], tuple[int, int, str]] = {}    # (secno, entry) -> (tag, hash, problem)
    loose: list[tuple[str, str, int, str]] = []                # hashes of no function
    for secno in list(per_sec):
        c = code(secno)
        if not c:
            continue
        found: list[tuple[int, int, str | None, str]] = []       # (tag, hash, owner, symbol)
        if arch.TAG_PREFIX:
            for s in sec_syms.get(secno, ()):
                if s.name.startswith(arch.TAG_PREFIX):
                    t = arch.parse_tag(c, s.offset, min(len(c), s.offset + MAX_UNITS))
                    if t is None:
                        loose.append((s.name, secs[secno].name, s.offset,
                                      "%s holds no type hash" % s.name))
                        continue
                    found.append((t[0], t[1], s.name[len(arch.TAG_PREFIX):], s.name))
        else:
            for off in arch.tag_words(sec_syms.get(secno, ())):
                t = arch.parse_tag(c, off, off + 4)
                if t is not None:
                    found.append((t[0], t[1], None, ""))
        relocs = elf.relocs(secs[secno])
        by_name: dict[str, list] = {}
        for f in per_sec[secno]:
            by_name.setdefault(f.name, []).append(f)
        for tag, value, owner, sym in found:
            end = tag + TAG_SIZE
            run = end
            while run < len(c) and run - end < MAX_UNITS * unit and arch.is_prefix_nop(c, run):
                run += unit
            if relocs.in_range(tag, TAG_SIZE) is not None:
                value = -1
            if owner is None:
                ent = entries[secno]
                i = bisect.bisect_left(ent, end)
                if i < len(ent) and ent[i] <= run:
                    tags.setdefault((secno, ent[i]), (tag, value, ""))
                continue
            named = by_name.get(owner, ())
            f = next((s for s in named if s.offset >= end), None) or next(iter(named), None)
            if f is None:
                loose.append((sym, secs[secno].name, tag, "%s has no function %s after it" % (sym, owner)))
                continue
            problem = ""
            if f.offset < end:
                problem = "%s's hash ends at %s+0x%x, past its entry" % (owner, owner, end - f.offset)
            elif f.offset > run:
                problem = "between the hash at %s-0x%x and %s's entry are %d bytes that are not NOPs" % (
                    owner, f.offset - tag, owner, f.offset - run)
            tags[(secno, f.offset)] = (tag, value, problem)

    # call checks, by calling function
    calls = []
    for secno, off, d, _h in arch.call_checks(elf, code):
        f = func_at(secno, off)
        calls.append(Call(secno, secs[secno].name, off, d, f.name if f else "",
                          off - f.offset if f else -1))

    taken, taken_undefined = _address_taken(elf, arch, code, func_at)
    funcs = []
    for secno, lst in per_sec.items():
        c = code(secno)
        seen = set()
        for s in lst:
            if s.offset in seen:          # aliases share one layout
                continue
            seen.add(s.offset)
            key = (secno, s.offset)
            p = rec.get(key)
            before = (s.offset - p) // unit if p is not None and p <= s.offset else 0
            after = 0
            if p is not None:
                o = max(s.offset, p)
                o += arch.landing_pad(c, o) if o == s.offset else 0
                while after < MAX_UNITS and o < len(c):
                    n = arch.nop_len(c, o)
                    if not n:
                        break
                    o += n
                    after += n // unit
            tag, value, problem = tags.get(key, (-1, -1, ""))
            if tag >= 0 and not problem and p is not None and p < s.offset and p != tag + TAG_SIZE:
                problem = "%s's hash ends at %s-0x%x, but its patchable NOPs start at %s-0x%x" % (
                    s.name, s.name, s.offset - tag - TAG_SIZE, s.name, s.offset - p)
            funcs.append(Func(s.name, secno, secs[secno].name, s.offset, before, after,
                              p is not None, tag, value, problem, taken.get(key, ""),
                              s.bind == STB_LOCAL, secs[secno].name in arch.UNTYPED_SECTIONS))
    for sym, section, off, problem in loose:
        funcs.append(Func(sym, -1, section, off, 0, 0, False, off, -1, problem))
    out = Facts(name or elf.name, elf.machine, unit, tuple(funcs), tuple(calls), tuple(taken_undefined))
    if not force and not out.kcfi:
        return None
    return out


def _meta(name: str) -> bool:
    return name in _META or name.startswith(_META_PREFIXES)


def _address_taken(elf: ElfFile, arch, code, func_at):
    """(secno, entry) -> where, of functions whose address a relocation takes,
    and (name, where) of undefined symbols whose address is taken."""
    secs = elf.sections
    taken: dict[tuple[int, int], str] = {}
    undefined: list[tuple[str, str]] = []
    for sec in secs:
        if not sec.flags & SHF_ALLOC or _meta(sec.name) or not elf.rela_sections_for(sec):
            continue
        c = code(sec.index) if sec.is_exec else b""
        for r in elf.relocs(sec).relocs:
            if sec.is_exec and not arch.takes_address(c, r.type, r.offset):
                continue
            if r.sym >= len(elf.symbols):
                continue
            s = elf.symbols[r.sym]
            where = "%s+0x%x" % (sec.name, r.offset)
            if sec.is_exec:
                f = func_at(sec.index, r.offset)
                if f is not None:
                    where = "%s+0x%x" % (f.name, r.offset - f.offset)
            if s.section is None:
                if s.name and s.shndx == 0:
                    undefined.append((s.name, where))
                continue
            if s.type == STT_FUNC:
                off = s.offset
            elif s.type == STT_SECTION:
                off = s.offset + r.addend + (4 if sec.is_exec and r.addend < 0 and r.addend >= -8 else 0)
            else:
                continue
            f = func_at(s.section, off)
            if f is not None and f.offset == off and secs[s.section].name not in arch.UNTYPED_SECTIONS:
                taken.setdefault((s.section, off), where)
    return taken, undefined


def judge(fx: Facts, check: "Check | None" = None, expected: tuple[int, str] | None = None
          ) -> list[Finding]:
    """The findings for one object's facts; `expected`: the build's (D, "M,N")
    when known from elsewhere (a survey of the whole build)."""
    name = check.name if check is not None else KcfiCheck.name
    sev = check.severity if check is not None else KcfiCheck.severity
    d0, mn0 = expected or fx.layout()
    out = []

    def finding(kind: str, msg: str, section: str, off: int, func: str, foff: int,
                steps: tuple = ()) -> Finding:
        if func:
            where = "%s%s0x%x" % (func, "-" if foff < 0 else "+", abs(foff))
        else:
            where = "%s+0x%x" % (section, off)
        return Finding(kind, msg, where, False, name, sev, Location(fx.name, section, off, func, foff),
                       Evidence(tuple(steps)))

    for f in fx.funcs:
        if f.tag >= 0 and f.problem:
            out.append(finding("kcfi-entry-mismatch", f.problem, f.section, f.tag,
                               f.name if f.secno >= 0 else "", f.tag - f.entry if f.secno >= 0 else -1))
        elif f.tag >= 0 and f.distance != d0:
            msg = ("KCFI type hash of %s is at %s-0x%x (patchable entry %s), but callers read "
                   "%s-0x%x (the build's patchable entry %s)" % (
                       f.name, f.name, f.distance, f.mn, f.name, d0, mn0))
            steps = (Step("%s-0x%x" % (f.name, f.distance), f.tag, _hash_text(f), note="the hash"),
                     Step("%s-0x%x" % (f.name, d0), f.entry - d0, "", note="where callers read"),
                     Step("%s+0x0" % f.name, f.entry, "", note="entry"))
            out.append(finding("kcfi-tag-misplaced", msg, f.section, f.entry, f.name, 0, steps))
        elif f.tag < 0 and f.taken and f.secno >= 0 and fx.kcfi:
            msg = ("%s has no KCFI type hash, but its address is taken at %s: an indirect "
                   "call to it traps" % (f.name, f.taken))
            out.append(finding("kcfi-missing-tag", msg, f.section, f.entry, f.name, 0))
    by_func: dict[tuple[str, str], list[Call]] = {}
    for c in fx.calls:
        if c.distance != d0:
            by_func.setdefault((c.section, c.func), []).append(c)
    for (_sec, func), cs in by_func.items():
        c = cs[0]
        more = " (and %d more calls)" % (len(cs) - 1) if len(cs) > 1 else ""
        msg = ("indirect call's KCFI check reads target-0x%x%s, but the build's type hashes are "
               "at entry-0x%x (patchable entry %s)" % (c.distance, more, d0, mn0))
        out.append(finding("kcfi-caller-mismatch", msg, c.section, c.offset, func,
                           c.func_offset if func else -1,
                           tuple(Step("%s+0x%x" % (func or x.section, x.func_offset if func else x.offset),
                                      x.offset, "", note="reads target-0x%x" % x.distance) for x in cs)))
    return out


def _hash_text(f: Func) -> str:
    return "type hash 0x%08x" % f.hash if f.hash >= 0 else "type hash (relocated)"


class KcfiCheck(Check):
    name = "kcfi"
    description = "KCFI type hashes not where indirect callers read them (patchable-entry layouts)"
    needs = frozenset({ELF})
    machines = frozenset(_ARCH)
    kinds = {
        "kcfi-tag-misplaced": "a function's KCFI type hash is not at the distance from its entry "
                              "where the build's callers read it",
        "kcfi-caller-mismatch": "an indirect call's KCFI check reads the hash at another distance "
                                "than the build's functions keep it",
        "kcfi-entry-mismatch": "a KCFI type hash not followed, across patchable NOPs only, by its "
                               "function's entry",
        "kcfi-missing-tag": "a function whose address is taken, in an object that uses KCFI, "
                            "has no type hash",
    }

    def __init__(self, expected: tuple[int, str] | None = None) -> None:
        self.expected = expected      # the build's (D, "M,N"), when known (bench/kcfi_survey.py)

    def run(self, ctx: Context) -> Iterable[Finding]:
        fx = facts(ctx.elf, ctx.name)
        if fx is None:
            return []
        return judge(fx, self, self.expected)
