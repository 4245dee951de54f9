# SPDX-License-Identifier: GPL-2.0-only
"""The call-site lists objtool fills while it resolves jumps and calls, and the
site tables made from them (.retpoline_sites, .return_sites, .call_sites,
.cfi_sites).

objtool (check.c) appends an instruction to a list in annotate_call_site() and
add_return_call(), first for every jump (add_jump_destinations(), all code in
section then address order), then for every call (add_call_destinations()), so
each list is "the jumps in code order, then the calls in code order".  orcgen's
CFG (orcgen/cfg.py) applies the same rules and leaves their outcome in the
Program: an instruction's decoded kind (`insn[i].kind`) against its kind after
resolution (`kind[i]`), its call destination, its relocation.  `site_lists()`
reads the lists back from that, rule by rule:

  jump turned JUMP_DYNAMIC(_COND)     a jump to a retpoline thunk   -> retpoline list
  jump turned RETURN                  a jump to the return thunk    -> return list
                                      (not the embedded-RET special case, and
                                      not a noinstr tail call objtool removed)
  jump with a call destination        a sibling call: annotated as a call
  call turned CALL_DYNAMIC            a call to a retpoline thunk   -> retpoline list
  call with a call destination        annotated: static-call trampoline -> static
                                      calls; retpoline thunk -> retpoline list;
                                      __fentry__ (--mcount) -> mcount list; any
                                      other CALL outside .init.text -> call list
  (calls and sibling calls in .altinstr_replacement are never annotated)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..elf import STT_FUNC, STT_SECTION
from ..insn import DYNAMIC_JUMPS, STATIC_JUMPS, Kind
from ..program import Program
from ..symbols import Sym
from . import Edits


@dataclass
class SiteLists:
    """objtool's per-file lists (instruction indices, in list order) and the
    code it rewrites while filling them: (index, "nop" | "ret")."""
    static_calls: list[int] = field(default_factory=list)
    retpolines: list[int] = field(default_factory=list)
    returns: list[int] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    mcount: list[int] = field(default_factory=list)
    removed: list[tuple[int, str]] = field(default_factory=list)


def _target(p: Program, i: int) -> Sym | None:
    """The symbol a jump or call reaches: its call destination, else its relocation's
    symbol (objtool's annotate_call_site(): insn_call_dest() ?: reloc->sym)."""
    s = p.call_dest[i]
    if s is not None:
        return s
    r = p.reloc_in(i)
    return p.reloc_sym(r) if r is not None else None


def _reaches_return_thunk(p: Program, i: int) -> bool:
    """A jump objtool made a RETURN: to the return thunk (listed), or into an
    embedded RET (retbleed_return_thunk, srso_safe_ret: not listed)."""
    r = p.reloc_in(i)
    if r is not None:
        rs = p.reloc_sym(r)
        if rs.type != STT_SECTION:
            return rs.return_thunk
        dsec, doff = rs.sec, p.be.jump_reloc_offset(r.addend)
    else:
        ins = p.insn[i]
        dsec, doff = p.sec_of[i].sec.index, ins.end + ins.immediate
    d = p.find(dsec, doff)
    if d < 0:
        return False
    s = p.sym[d]
    return s is not None and p.insn.off[d] == s.offset and s.return_thunk


def _annotate(p: Program, i: int, sibling: bool, out: SiteLists, cs) -> None:
    """objtool's annotate_call_site() for an instruction (of section `cs`)
    that has a destination."""
    if cs.name == ".altinstr_replacement":
        return
    sym = _target(p, i)
    if sym is None:
        return
    if sym.static_call_tramp:
        out.static_calls.append(i)
    elif sym.retpoline_thunk:
        out.retpolines.append(i)
    elif p.opts.hack_noinstr and cs.noinstr and sym.profiling_func:
        out.removed.append((i, "ret" if sibling else "nop"))
    elif p.opts.mcount and sym.fentry:
        if p.opts.mnop:
            out.removed.append((i, "nop"))
        out.mcount.append(i)
    elif p.kind[i] == Kind.CALL and not cs.init:
        out.calls.append(i)


def site_lists(p: Program) -> SiteLists:
    """The lists, in objtool's order: the jumps' annotations (as its
    add_jump_destinations() makes them), then the calls'."""
    out = SiteLists()
    kinds, call_dest = p.kind, p.call_dest.get      # .get: a miss without __missing__
    for cs, jumps in p.by_section(p.insn.with_kind(*STATIC_JUMPS)):   # decoded as jumps
        for i in jumps:
            k = kinds[i]
            if k in DYNAMIC_JUMPS:
                _annotate(p, i, False, out, cs)
            elif k == Kind.RETURN:
                if call_dest(i) is not None:             # a tail call objtool removed
                    _annotate(p, i, True, out, cs)
                elif _reaches_return_thunk(p, i):
                    out.returns.append(i)
            elif call_dest(i) is not None:
                _annotate(p, i, True, out, cs)
    for cs, calls in p.by_section(p.insn.with_kind(Kind.CALL)):       # decoded as calls
        for i in calls:
            k = kinds[i]
            if k == Kind.CALL_DYNAMIC or k in (Kind.CALL, Kind.NOP) and call_dest(i) is not None:
                _annotate(p, i, False, out, cs)
    return out


def add_site_section(ed: Edits, p: Program, name: str, insns: list[int], entsize: int = 4,
                     rtype: int | None = None, addralign: int = 1) -> bool:
    """objtool's create_{retpoline,return}_sites_sections(), create_direct_call_sections():
    one s32 per instruction, PC-relative to it (or, with `entsize`, `rtype` and
    `addralign`, another kind of address: __mcount_loc's 8-byte R_ABS64, 8-aligned).
    False if the object already has the section."""
    if ed.has_section(name):
        return False
    if not insns:
        return True
    sec_of, off = p.sec_of, p.insn.off
    relocs = ed.text_relocs(entsize, [(sec_of[i].sec.index, off[i]) for i in insns], rtype)
    ed.add_pair(name, entsize, bytes(entsize * len(insns)), relocs, addralign=addralign)
    return True


def add_cfi_sites(ed: Edits, p: Program) -> bool:
    """objtool's create_cfi_sections(): every STT_FUNC __cfi_ symbol in for_each_sym()
    order (sections in order, each in sec->symbol_list order: by address, not by
    symbol index); the section is made even when there is none."""
    if ed.has_section(".cfi_sites"):
        return False
    funcs = [s for secno in sorted(p.symtab.by_sec) if secno
             for s in p.symtab.section(secno).ordered
             if s.type == STT_FUNC and s.name.startswith("__cfi_")]
    relocs = ed.text_relocs(4, [(s.sec, s.offset) for s in funcs])
    ed.add_pair(".cfi_sites", 4, bytes(4 * len(funcs)), relocs)
    return True
