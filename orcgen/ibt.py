# SPDX-License-Identifier: GPL-2.0-only
"""--ibt: which ENDBR landing pads are needed, and which can be sealed.

With indirect branch tracking every function the compiler thinks may be
called indirectly starts with ENDBR.  objtool 6.12 (check.c) lists the ENDBR
at the start of every STT_FUNC while it assigns instructions to symbols
(decode_instructions()), then takes off that list every ENDBR something
takes the address of: a relocation in code that is not itself a branch
(validate_ibt_insn()) or one in data (validate_ibt_data_reloc()).  What is
left can be sealed (turned into a NOP at boot): .ibt_endbr_seal lists them,
written by tables/ibt.py.  A relocation to code without ENDBR is a warning:
an indirect branch there would fault.

The facts live here, in the core, because they are facts about the program
(instruction kinds, relocations, symbols); the relocation types that mean
"PC-relative to a branch target" are keyed by e_machine as in orcgen/tables.
"""
from __future__ import annotations

from .elf import SHF_EXECINSTR, STB_GLOBAL, STT_FUNC, STT_SECTION
from .findings import Fatal, Finding
from .insn import Kind
from .program import Program

# e_machine -> relocation types whose target is reached as a branch's (objtool:
# R_X86_64_PC32 and R_X86_64_PLT32, where the addend is off by the 4-byte field).
_PC_BRANCH = {62: frozenset((2, 4))}

_BRANCHES = frozenset((Kind.CALL, Kind.CALL_DYNAMIC, Kind.JUMP_COND, Kind.JUMP_UNCOND,
                       Kind.JUMP_DYNAMIC, Kind.JUMP_DYNAMIC_COND, Kind.RETURN, Kind.NOP))

# Sections whose references to code are not for branching there (validate_ibt()).
_NOT_BRANCH_TARGETS = frozenset((".altinstructions", ".ibt_endbr_seal", ".orc_unwind_ip",
                                 ".parainstructions", ".retpoline_sites", ".smp_locks",
                                 ".static_call_sites", "_error_injection_whitelist",
                                 "_kprobe_blacklist", "__bug_table", "__ex_table",
                                 "__jump_table", "__mcount_loc", ".kcfi_traps"))


def read_noendbr_hints(p: Program) -> None:
    """ANNOTATE_NOENDBR (.discard.noendbr): code whose address is taken but that
    is never an indirect branch target.  objtool reads them before the unwind
    hints, which need them; kept as `p.noendbr` (instruction indices)."""
    p.noendbr = set()
    for r in p.rela_of(".discard.noendbr"):
        s = p.reloc_sym(r)
        i = p.find(s.sec, s.offset + r.addend)
        if i < 0:
            raise Fatal("annotation", "bad .discard.noendbr entry")
        p.noendbr.add(i)


def noendbr(p: Program, i: int) -> bool:
    return i in getattr(p, "noendbr", ())


def check_iret_regs_hint(p: Program, i: int) -> None:
    """read_unwind_hints(): an UNWIND_HINT_IRET_REGS (REGS_PARTIAL) at a global
    symbol is an entry point, so with --ibt it must be an ENDBR."""
    if not p.opts.ibt or p.insn.kinds[i] == Kind.ENDBR or noendbr(p, i):
        return
    secno, off = p.sec_of[i].sec.index, p.insn.off[i]
    sym = next((s for s in p.symtab.section(secno).ordered
                if s.offset == off and s.type != STT_SECTION), None)   # find_symbol_by_offset()
    if sym is not None and sym.bind == STB_GLOBAL:
        p.warn_insn(i, "ibt", "UNWIND_HINT_IRET_REGS without ENDBR")


def endbr_list(p: Program) -> list[int]:
    """file->endbr_list: the ENDBR at the start of each STT_FUNC, in the order
    decode_instructions() meets them (sections in order, each section's symbols
    in sec_for_each_sym() order; aliases and embedded-instruction symbols skipped)."""
    out: list[int] = []
    listed: set[int] = set()
    for cs in p.code:
        size = cs.sec.size
        for f in p.symtab.section(cs.sec.index).ordered:
            if (f.type != STT_FUNC or not f.len or f.offset == size or f.embedded_insn
                    or f.alias is not f):
                continue
            i = cs.by_off.get(f.offset)
            if i is None:
                continue
            if p.insn.kinds[i] == Kind.ENDBR and i not in listed:
                listed.add(i)
                out.append(i)
    return out


def _noendbr_range(p: Program, secno: int, off: int) -> bool:
    """The first byte after a symbol whose first instruction is (NO)ENDBR: a code
    range's end, as `_etext`-style references take it."""
    sym = p.symtab.section(secno).containing(off - 1)
    if sym is None:
        return False
    first = p.find(sym.sec, sym.offset)
    if first < 0 or (p.insn.kinds[first] != Kind.ENDBR and not noendbr(p, first)):
        return False
    return off == sym.offset + sym.len


def _code_reloc(p: Program, i: int, used: set[int], pc_branch: frozenset) -> int:
    """validate_ibt_insn(): every relocation inside a non-branch instruction."""
    if p.kind[i] in _BRANCHES:
        return 0
    r = p.reloc_in(i)
    if r is None:
        return 0
    end = p.insn.end(i)
    table = p.elf.relocs(p.sec_of[i].sec)
    warnings = 0
    while r is not None:
        nxt = r.offset + 1
        s = p.reloc_sym(r)
        if not s.static_call_tramp:
            off = s.offset + (p.be.jump_reloc_offset(r.addend) if r.type in pc_branch else r.addend)
            d = p.find(s.sec, off)
            if d >= 0:
                df, f = p.func(d), p.func(i)
                if p.insn.kinds[d] == Kind.ENDBR:
                    used.add(d)
                elif df is not None and f is not None and df.pfunc is f.pfunc:
                    pass                     # _THIS_IP_, IRET-to-self
                elif noendbr(p, d) or _noendbr_range(p, s.sec, off):
                    pass
                else:
                    p.warn_insn(i, "ibt", "relocation to !ENDBR: %s" % p.offstr(s.sec, off))
                    warnings += 1
        r = table.in_range(nxt, end - nxt) if nxt < end else None
    return warnings


def _skip_data_section(name: str) -> bool:
    return ((name.startswith(".discard") and name != ".discard.ibt_endbr_noseal")
            or name.startswith(".debug") or name in _NOT_BRANCH_TARGETS
            or "__patchable_function_entries" in name)


def validate_ibt(p: Program) -> int:
    """validate_ibt(): warnings for address-taken code without ENDBR; leaves the
    ENDBRs that can be sealed in `p.endbr_seal` (instruction indices, objtool's order)."""
    pc_branch = _PC_BRANCH.get(p.elf.machine, frozenset())
    listed = endbr_list(p)
    used: set[int] = set()
    warnings = 0
    for cs in p.code:
        for i in p.insns_with_relocs(cs):       # the others have nothing to check
            warnings += _code_reloc(p, i, used, pc_branch)
    elf = p.elf
    for sec in elf.sections:
        if sec.flags & SHF_EXECINSTR or _skip_data_section(sec.name):
            continue
        for rsec in elf.rela_sections_for(sec)[:1]:          # objtool's sec->rsec
            for r in elf.relocs_in_file_order(rsec):
                s = p.reloc_sym(r)
                d = p.find(s.sec, s.offset + r.addend)
                if d < 0:
                    continue
                if p.insn.kinds[d] == Kind.ENDBR:
                    used.add(d)
                    continue
                if noendbr(p, d):
                    continue
                p.findings.append(Finding("ibt", "data relocation to !ENDBR: %s"
                                          % p.offstr(s.sec, s.offset + r.addend),
                                          p.offstr(sec.index, r.offset)))
                p.finding_insn.append(-1)
                warnings += 1
    p.endbr_seal = [i for i in listed if i not in used]
    return warnings


__all__ = ["read_noendbr_hints", "check_iret_regs_hint", "endbr_list", "validate_ibt"]
