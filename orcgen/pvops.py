# SPDX-License-Identifier: GPL-2.0-only
"""pv_ops with --noinstr: which paravirt calls noinstr code may make.

noinstr code may call through pv_ops[] (`call *pv_ops+X(%rip)`) only when
every function that can be in that slot is noinstr itself.  objtool 6.12
(check.c init_pv_ops(), add_pv_ops(), pv_call_dest(); objtool.c
objtool_pv_add(); arch/x86/decode.c) learns the slots' functions from the
static initialisers of pv_ops and the Xen tables, and from .init.text's
stores of a function's address into a slot (the back-end's `pv_store()`
says which instructions are such stores).  A call through a slot with a
function outside the noinstr sections warns `pv_ops[N]: FUNC` for each,
every time the slot is not known clean.  Without a pv_ops symbol in the
file there is nothing to learn, and a store into pv_ops is "paravirt
confusion" -- but a store makes pv_ops an undefined symbol, which counts as
one (with no slots: objtool then writes out of bounds and crashes; orcgen
ignores stores beyond the slots).
"""
from __future__ import annotations

from .elf import STT_SECTION
from .findings import Fatal
from .program import Program

TABLES = ("pv_ops", "xen_cpu_ops", "xen_irq_ops", "xen_mmu_ops")
_PATCHED = ("_paravirt_nop", "_paravirt_ident_64")        # paravirt_patch() makes them native


class PvOps:
    """file->pv_ops: each slot's functions (list_add order: newest first) and clean mark."""

    def __init__(self, nr: int) -> None:
        self.targets: list[list] = [[] for _ in range(nr)]
        self.clean = [False] * nr
        self.added: set[int] = set()            # symbols already on a list (func->pv_target)


def _sym_by_name(p: Program, name: str):
    return next((s for s in p.syms if s.name == name), None)


def _sym_at(p: Program, secno: int, off: int):
    """find_symbol_by_offset(): a symbol (not a section's) starting at `off`."""
    return next((s for s in p.symtab.section(secno).ordered
                 if s.offset == off and s.type != STT_SECTION), None)


def add(p: Program, idx: int, func) -> None:
    """objtool_pv_add()."""
    pv = getattr(p, "pv_ops", None)
    if pv is None:
        p.warn("pvops", "paravirt confusion")
        return
    if func.name in _PATCHED or func.index in pv.added:
        return
    pv.added.add(func.index)
    if 0 <= idx < len(pv.targets):
        pv.targets[idx].insert(0, func)
        pv.clean[idx] = False


def init_pv_ops(p: Program) -> None:
    """init_pv_ops() (before decoding) and the .init.text stores (while decoding)."""
    p.pv_ops = None
    if not p.opts.noinstr:
        return
    sym = _sym_by_name(p, "pv_ops")
    if sym is not None:
        p.pv_ops = PvOps(sym.len // 8)
        for name in TABLES:
            t = _sym_by_name(p, name)
            if t is None or not 0 < t.sec < len(p.elf.sections):
                continue
            table = p.elf.relocs(p.elf.sections[t.sec])
            off, end = t.offset, t.offset + t.len
            while True:
                r = table.in_range(off, end - off)
                if r is None:
                    break
                func = p.reloc_sym(r)
                if func.type == STT_SECTION:
                    func = _sym_at(p, func.sec, r.addend)
                if func is not None:
                    add(p, (r.offset - t.offset) // 8, func)
                off = r.offset + 1
                if off > end:
                    break
    stores = getattr(p.be, "pv_store", None)
    if stores is None:
        return
    for cs in p.code:
        if not cs.name.startswith(".init.text"):
            continue
        code = p.elf.section_data(cs.sec)
        rel = p.elf.relocs(cs.sec)
        offs, sizes = p.insn.off, p.insn.size
        for i in p.section_insns(cs):
            off = offs[i]
            where = stores(code, off, sizes[i])
            if where is None:
                continue
            slot, value = rel.at(off + where[0]), rel.at(off + where[1])
            if slot is None or p.reloc_sym(slot).name != "pv_ops":
                continue
            func = p.reloc_sym(value) if value is not None else None
            if func is not None and func.type == STT_SECTION:
                func = _sym_at(p, func.sec, value.addend)
            if func is None:
                raise Fatal("pvops", "no func for pv_ops[]")
            add(p, (slot.addend + where[2]) // 8, func)


def pv_call_dest(p: Program, i: int) -> bool:
    """pv_call_dest(): may noinstr code call through this instruction's pv_ops slot?"""
    pv = getattr(p, "pv_ops", None)
    if pv is None:
        return False
    r = p.reloc_in(i)
    if r is None or p.reloc_sym(r).name != "pv_ops":
        return False
    idx = p.be.jump_reloc_offset(r.addend) // 8
    if not 0 <= idx < len(pv.clean):
        return False
    if pv.clean[idx]:
        return True
    pv.clean[idx] = True
    for f in pv.targets[idx]:
        cs = p.code_by_secno.get(f.sec)
        if cs is None or not cs.noinstr:
            p.warn("noinstr", "pv_ops[%d]: %s" % (idx, f.name))
            pv.clean[idx] = False
    return pv.clean[idx]
