# SPDX-License-Identifier: GPL-2.0-only
"""The control-flow graph: where every jump, call and alternative leads.

Edges live in Program's per-instruction lists (`jump_dest`, `call_dest`,
`alts`): the interpreter walks them directly, as objtool's validate_branch()
does, because building a graph object per function would cost more than the
walk itself.  `function_graph()` exports one function as a networkx DiGraph of
basic blocks for analyses that want graph algorithms (paths, dominators).

The order of the steps, and each rule, are objtool's (check.c
decode_sections()): sibling-call detection needs symbols, noreturn inference
needs sibling calls, jump tables need noreturn calls, and so on.
"""
from __future__ import annotations

import re
import struct

from . import hints, ibt, pvops
from .jumptables import add_jump_table_alts
from .elf import ET_REL, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_SECTION
from .findings import Fatal
from .noreturns import is_rust_noreturn, is_userspace_noreturn
from .insn import Kind
from .program import AltGroup, Program
from .symbols import Sym


def build(p: Program) -> None:
    """Resolve every edge of the program, in objtool's order."""
    o = p.opts
    pvops.init_pv_ops(p)
    hints.add_ignores(p)
    if o.uaccess:
        hints.add_uaccess_safe(p)
    hints.add_ignore_alternatives(p)
    ibt.read_noendbr_hints(p)
    if o.stackval or o.orc or o.uaccess or o.noinstr or o.hack_jump_label:
        add_special_section_alts(p)
    add_jump_destinations(p)
    hints.read_intra_function_calls(p)
    add_call_destinations(p)
    hints.add_dead_ends(p)
    hints.read_bug_table(p)
    add_jump_table_alts(p)
    hints.read_unwind_hints(p)
    hints.read_retpoline_hints(p)
    hints.read_instr_hints(p)
    hints.read_validate_unret_hints(p)


# -- special sections: alternatives, jump labels, exception fixups -------------

class SpecialAlt:
    __slots__ = ("group", "jump_or_nop", "skip_orig", "skip_alt", "orig_sec", "orig_off",
                 "new_sec", "new_off", "orig_len", "new_len", "key_addend")

    def __init__(self) -> None:
        self.group = self.jump_or_nop = self.skip_orig = self.skip_alt = False
        self.orig_sec = self.orig_off = self.new_sec = self.new_off = 0
        self.orig_len = self.new_len = self.key_addend = 0


def _special_alts(p: Program) -> list[SpecialAlt]:
    out: list[SpecialAlt] = []
    group: list[SpecialAlt] = []          # consecutive entries patching the same place
    for lay in p.be.special_sections:
        sec = p.section_named(lay.section)
        if sec is None:
            continue
        if sec.size % lay.size:
            raise Fatal("special", "%s size not a multiple of %d" % (lay.section, lay.size))
        data = p.elf.section_data(sec)
        relocs = p.elf.relocs(sec)

        def target(off: int, what: str) -> tuple[int, int]:
            r = relocs.at(off)
            if r is None:
                raise Fatal("special", "can't find %s reloc" % what, p.offstr(sec.index, off))
            s = p.reloc_sym(r)
            return s.sec, s.offset + r.addend

        for idx in range(sec.size // lay.size):
            base = idx * lay.size
            a = SpecialAlt()
            a.group, a.jump_or_nop = lay.group, lay.jump_or_nop
            if a.group:
                a.orig_len, a.new_len = data[base + lay.orig_len], data[base + lay.new_len]
            a.orig_sec, a.orig_off = target(base + lay.orig, "orig")
            if lay.feature >= 0:
                feature = struct.unpack_from("<H", data, base + lay.feature)[0]
                # Nested ALTERNATIVE()s patch one place: all get the longest orig_len.
                if group and group[0].orig_sec == a.orig_sec and group[0].orig_off == a.orig_off:
                    group.append(a)
                    n = max(g.orig_len for g in group)
                    for g in group:
                        g.orig_len = n
                else:
                    group = [a]
                a.skip_orig, a.skip_alt = p.be.alternative_flags(feature, p.opts.uaccess)
            if not a.group or a.new_len:
                a.new_sec, a.new_off = target(base + lay.new, "new")
                if a.new_off >= 0x7FFFFFF0:          # _ASM_EXTABLE_EX encoding
                    a.new_off -= 0x7FFFFFF0
            if lay.key >= 0:
                r = relocs.at(base + lay.key)
                if r is None:
                    raise Fatal("special", "can't find key reloc", p.offstr(sec.index, base + lay.key))
                a.key_addend = r.addend
            out.append(a)
    return out


def add_special_section_alts(p: Program) -> None:
    for a in _special_alts(p):
        orig = p.find(a.orig_sec, a.orig_off)
        if orig < 0:
            raise Fatal("special", "special: can't find orig instruction", p.offstr(a.orig_sec, a.orig_off))
        new = -1
        if not a.group or a.new_len:
            new = p.find(a.new_sec, a.new_off)
            if new < 0:
                raise Fatal("special", "special: can't find new instruction", p.offstr(a.new_sec, a.new_off))
        if a.group:
            if not a.orig_len:
                p.warn_insn(orig, "empty-alternative", "empty alternative entry")
                continue
            new = _handle_group_alt(p, a, orig, new)
        elif a.jump_or_nop:
            new = _handle_jump_alt(p, a, orig, new)
        if p.alts[orig] is None:
            p.alts[orig] = []
        p.alts[orig].insert(0, (new, a.skip_orig))
        if a.skip_alt:
            p.ignore_alts[orig] = 1


def _handle_group_alt(p: Program, a: SpecialAlt, orig: int, new: int) -> int:
    og = p.alt_group[orig]
    if og is None:
        last = orig
        i = orig
        while i >= 0 and p.insn.off[i] < a.orig_off + a.orig_len:
            last = i
            i = p.next_same_sec(i)
        og = AltGroup(None, orig, last, cfi=[None] * a.orig_len)
        for j in range(orig, last + 1):
            p.alt_group[j] = og
    else:
        glen = p.insn.end(og.last) - p.insn.off[og.first]
        if glen != a.orig_len:
            raise p.fatal_insn(orig, "alternative",
                               "weirdly overlapping alternative! %d != %d" % (glen, a.orig_len))
    ng = AltGroup(og, -1, -1, cfi=og.cfi)
    nop = -1
    if a.new_len < a.orig_len:
        # Pad the replacement to the original's size so their states line up byte by byte.
        # An empty replacement has no section of its own: the padding stands in the original's.
        cs = p.code_by_secno.get(a.new_sec) if a.new_len else p.sec_of[orig]
        nop = p.add_fake_nop(cs or p.sec_of[orig], a.new_off + a.new_len,
                             a.orig_len - a.new_len, p.sym[orig])
        p.alt_group[nop] = ng
        p.ignore[nop] = p.ignore_alts[orig]
    if not a.new_len:
        ng.first, ng.last, ng.nop = nop, -1, nop
        return nop
    last_new = -1
    i = new
    end = a.new_off + a.new_len
    while i >= 0 and p.insn.off[i] < end:
        last_new = i
        p.ignore[i] = p.ignore_alts[orig]
        p.sym[i] = p.sym[orig]
        p.alt_group[i] = ng
        if p.kind[i] in (Kind.JUMP_COND, Kind.JUMP_UNCOND) and p.insn.imm(i):
            if p.insn.end(i) + p.insn.imm(i) == end:
                # A jump to the end of the replacement continues after the original.
                d = p.next_same_sec(og.last)
                if d < 0:
                    raise p.fatal_insn(i, "alternative", "can't find alternative jump destination")
                p.jump_dest[i] = d
        i = p.next_same_sec(i)
    if last_new < 0:
        raise Fatal("alternative", "can't find last new alternative instruction",
                    p.offstr(a.new_sec, a.new_off))
    ng.first, ng.last, ng.nop = new, last_new, nop
    return new


def _handle_jump_alt(p: Program, a: SpecialAlt, orig: int, new: int) -> int:
    if p.kind[orig] not in (Kind.JUMP_UNCOND, Kind.NOP):
        raise p.fatal_insn(orig, "jump-label", "unsupported instruction at jump label")
    if p.opts.hack_jump_label and a.key_addend & 2:
        p.kind[orig] = Kind.NOP           # objtool rewrites the jump to a NOP
    if p.kind[orig] == Kind.NOP:
        return new
    return p.next_same_sec(orig)


# -- jumps and calls -----------------------------------------------------------

def _is_first_func_insn(p: Program, i: int, s: Sym) -> bool:
    if p.insn.off[i] == s.offset:
        return True
    if p.opts.ibt:
        prev = p.prev_same_sym(i)
        if prev >= 0 and p.kind[prev] == Kind.ENDBR and p.insn.off[i] == s.offset + p.insn.size[prev]:
            return True
    return False


def _jump_is_sibling_call(p: Program, frm: int, to: int) -> bool:
    fs, ts = p.sym[frm], p.sym[to]
    if fs is None or ts is None:
        return False
    if not _is_first_func_insn(p, to, ts):
        return False
    if ts.type == STT_NOTYPE:
        return False
    return fs.pfunc is not ts.pfunc


def _retpoline_call(p: Program, i: int) -> None:
    """A call or jump through a retpoline thunk is an indirect one in disguise."""
    k = p.kind[i]
    conv = {Kind.CALL: Kind.CALL_DYNAMIC, Kind.JUMP_UNCOND: Kind.JUMP_DYNAMIC,
            Kind.JUMP_COND: Kind.JUMP_DYNAMIC_COND}.get(k)
    if conv is None:
        return
    p.kind[i] = conv
    p.retpoline_safe[i] = 1
    p.ops[i] = ()
    _annotate_call_site(p, i, False)


def _return_call(p: Program, i: int) -> None:
    """A jump to the return thunk is a return in disguise."""
    p.kind[i] = Kind.RETURN
    p.retpoline_safe[i] = 1


def _to_thunk(p: Program, i: int, target: Sym) -> bool:
    """A jump to a retpoline thunk is an indirect jump, to the return thunk a
    return: convert instruction i and say so."""
    if target.retpoline_thunk:
        _retpoline_call(p, i)
        return True
    if target.return_thunk:
        _return_call(p, i)
        return True
    return False


def _code_target(p: Program, i: int) -> tuple[int, int]:
    """(section, offset) a direct branch without a relocation reaches."""
    cs = p.sec_of[i]
    off = p.insn.end(i) + p.insn.imm(i)
    if p.elf.type != ET_REL and not 0 <= off < cs.sec.size:
        # Linked files: a branch may cross into another section.
        addr = cs.sec.addr + off
        for other in p.code:
            if other.sec.addr <= addr < other.sec.addr + other.sec.size:
                return other.sec.index, addr - other.sec.addr
    return cs.sec.index, off


def add_jump_destinations(p: Program) -> None:
    """objtool's add_jump_destinations(), with its most common case first.

    Most jumps (vmlinux.o: about nine in ten of half a million) have no
    relocation and land inside their own function, not on its first byte:
    for those every rule below comes to "the destination is the instruction
    there", so they are answered from the columns alone.  Next come the
    jumps to the return thunk (a kernel built with return thunks has one for
    every return): a relocation to it makes the jump a return.  The rest
    take objtool's path."""
    kind, jumps = p.kind, (Kind.JUMP_COND, Kind.JUMP_UNCOND)
    off, size, imm = p.insn.off, p.insn.size, p.insn.imm_column
    sym, jump_dest, syms = p.sym, p.jump_dest, p.syms
    for cs, mine in p.by_section(p.with_kind(*jumps)):
        relocs, tab = p.first_relocs(cs), p.elf.relocs(cs.sec)
        at = cs.by_off.get
        for i in mine:
            if jump_dest[i] >= 0 or kind[i] not in jumps:
                continue
            k = relocs.get(i)
            if k is None:
                s = sym[i]
                if s is not None and s.type == STT_FUNC:
                    d = at(off[i] + size[i] + imm[i], -1)
                    if d >= 0 and sym[d] is s and off[d] != s.offset:
                        jump_dest[i] = d
                        continue
            else:
                n = tab.sym_index(k)
                rs = syms[n] if 0 <= n < len(syms) else None
                if rs is not None and rs.type != STT_SECTION and _to_thunk(p, i, rs):
                    continue                              # as objtool's path below would
            _add_jump_destination(p, cs, i)


def _add_jump_destination(p: Program, cs, i: int) -> None:
    """One jump, by objtool's rules."""
    func = p.func(i)
    r = p.reloc_in(i)
    if r is None:
        dsec, doff = _code_target(p, i)
    else:
        rs = p.reloc_sym(r)
        if rs.type == STT_SECTION:
            dsec, doff = rs.sec, p.be.jump_reloc_offset(r.addend)
        elif _to_thunk(p, i, rs):
            return
        elif func is not None:
            _add_call_dest(p, i, rs, True)        # sibling call through a symbol
            return
        elif rs.sec:
            dsec, doff = rs.sec, rs.value + p.be.jump_reloc_offset(r.addend)
        else:
            return                              # asm jumping to another file
    d = p.find(dsec, doff)
    if d < 0:
        s = p.symtab.section(dsec).at(doff)
        if s is not None and s.embedded_insn:
            _return_call(p, i)
            return
        if p.ignore_unreachables and func is not None and dsec == cs.sec.index \
                and doff == func.offset + func.len:
            return
        if p.elf.type != ET_REL:
            return                              # linked file: jump out of decoded code
        raise p.fatal_insn(i, "jump-dest", "can't find jump dest instruction at %s+0x%x"
                           % (p.secname(dsec), doff))
    ds = p.sym[d]
    if ds is not None and p.insn.off[d] == ds.offset and _to_thunk(p, i, ds):
        return
    dfunc = p.func(d)
    if func is not None and dfunc is not None and func is not dfunc:
        if ".cold" not in func.name and ".cold" in dfunc.name:
            func.cfunc = dfunc
            dfunc.pfunc = func
    if _jump_is_sibling_call(p, i, d):
        _add_call_dest(p, i, dfunc, True)
        return
    p.jump_dest[i] = d


def add_call_destinations(p: Program) -> None:
    p.noreturn_memo = {}
    try:
        _add_call_destinations(p)
    finally:
        p.noreturn_memo = None


def _add_call_destinations(p: Program) -> None:
    """objtool's add_call_destinations().  Most calls (vmlinux.o: nearly all
    of a quarter of a million) have a relocation to a named symbol that is
    no retpoline thunk; those go straight to their destination."""
    linked = p.elf.type != ET_REL
    syms = p.syms
    for cs, calls in p.by_section(p.with_kind(Kind.CALL)):
        rows, tab = p.first_relocs(cs), p.elf.relocs(cs.sec)
        for i in calls:
            k = rows.get(i)
            if k is not None:
                n = tab.sym_index(k)
                rs = syms[n] if 0 <= n < len(syms) else None
                if rs is not None and rs.type != STT_SECTION and not rs.retpoline_thunk:
                    _add_call_dest(p, i, rs, False)    # as objtool's path below would
                    continue
            _add_call_destination(p, i, linked)


def _add_call_destination(p: Program, i: int, linked: bool) -> None:
    """One call, by objtool's rules."""
    r = p.reloc_in(i)
    if r is None:
        dsec, doff = _code_target(p, i)
        idx = p.symtab.section(dsec)
        dest = idx.at(doff, func_only=True) or idx.at(doff)
        if dest is None and linked:
            p.ops[i] = ()                         # a call into unnamed code (PLT)
            if plt_noreturn(p, p.plt_callee(dsec, doff)):
                p.dead_end[i] = 1                 # call __cxa_throw@plt
            return
        _add_call_dest(p, i, dest, False)
        if p.ignore[i]:
            return
        if dest is None:
            raise p.fatal_insn(i, "intra-function-call", "unannotated intra-function call")
        if p.func(i) is not None and dest.type != STT_FUNC and not linked:
            raise p.fatal_insn(i, "call-non-function", "unsupported call to non-function")
    else:
        rs = p.reloc_sym(r)
        if rs.type == STT_SECTION:
            doff = p.be.jump_reloc_offset(r.addend)
            idx = p.symtab.section(rs.sec)
            dest = idx.at(doff, func_only=True) or idx.at(doff)
            if dest is None:
                raise p.fatal_insn(i, "call-dest", "can't find call dest symbol at %s+0x%x"
                                   % (p.secname(rs.sec), doff))
            _add_call_dest(p, i, dest, False)
        elif rs.retpoline_thunk:
            _retpoline_call(p, i)
        else:
            _add_call_dest(p, i, rs, False)


def _add_call_dest(p: Program, i: int, dest: Sym | None, sibling: bool) -> None:
    p.call_dest[i] = dest
    if dest is None:
        return
    p.ops[i] = ()       # a call's push is undone by the callee's return
    _annotate_call_site(p, i, sibling)


_DYNAMIC = (Kind.JUMP_DYNAMIC, Kind.CALL_DYNAMIC)


def _annotate_call_site(p: Program, i: int, sibling: bool) -> None:
    sym = p.call_dest.get(i) if p.kind[i] not in _DYNAMIC else None
    if sym is None:
        r = p.reloc_in(i)
        if r is None:
            return
        sym = p.reloc_sym(r)
    cs = p.sec_of[i]
    if cs.sec.name == ".altinstr_replacement":
        return
    if sym.static_call_tramp or sym.retpoline_thunk:
        return
    opts = p.opts
    if opts.hack_noinstr and cs.noinstr and sym.profiling_func:
        p.kind[i] = Kind.RETURN if sibling else Kind.NOP
        if sibling:
            p.retpoline_safe[i] = 1
        return
    if opts.mcount and sym.fentry:
        if sibling:
            p.warn_insn(i, "mcount", "tail call to __fentry__ !?!?")
        if opts.mnop:
            p.kind[i] = Kind.NOP
        return
    if not sibling and dead_end_function(p, sym):
        p.dead_end[i] = 1


# -- noreturn functions --------------------------------------------------------

def is_jump_table_jump(p: Program, i: int) -> bool:
    if p.jump_table[i] is not None:
        return True
    g = p.alt_group[i]
    return g is not None and g.orig_group is not None and p.jump_table[g.orig_group.first] is not None


def is_sibling_call(p: Program, i: int) -> bool:
    k = p.kind[i]
    if p.func(i) is not None and k == Kind.JUMP_DYNAMIC:
        return not is_jump_table_jump(p, i)
    return k in (Kind.JUMP_COND, Kind.JUMP_UNCOND) and p.call_dest[i] is not None


def dead_end_function(p: Program, f: Sym | None, depth: int = 0) -> bool:
    """Does calling `f` never return?  Known names for global functions;
    for local ones, no return and no sibling call anywhere in the body.

    While add_call_destinations() runs, nothing this reads changes (returns,
    jumps and their destinations are settled before it), so its answers for
    the call sites it marks are kept in `p.noreturn_memo`: vmlinux.o has a
    quarter of a million call sites, and objtool walks the callee's body for
    each.  Only answers from the top (depth 0) are kept: deeper ones are cut
    off at depth 5."""
    if f is None:
        return False
    memo = p.noreturn_memo if depth == 0 else None
    if memo is not None:
        known = memo.get(f)
        if known is None:
            known = memo[f] = _dead_end_function(p, f, 0)
        return known
    return _dead_end_function(p, f, depth)


def plt_noreturn(p: Program, name: str | None) -> bool:
    """Does the function a PLT stub calls never return?  A PLT means dynamic
    linking, so userspace: the C library's and runtimes' names, Rust's panics
    and --noreturn's (not the kernel's list); and a function this file defines
    itself (libstdc++'s std::__throw_length_error, called through its own PLT
    so that it can be interposed) is judged by its body, as a direct call is."""
    if name is None:
        return False
    if is_userspace_noreturn(name) or name in p.opts.noreturns or is_rust_noreturn(name):
        return True
    own = p.symtab.by_name.get(name)
    return own is not None and own.type == STT_FUNC and own.sec is not None and dead_end_function(p, own)


_RETURN = bytes((Kind.RETURN,))
# the kinds is_sibling_call() can say yes to
_MAYBE_SIBLING = re.compile(b"[%s]" % b"".join(re.escape(bytes((k,))) for k in
                                               (Kind.JUMP_DYNAMIC, Kind.JUMP_COND, Kind.JUMP_UNCOND)))


def _dead_end_function(p: Program, f: Sym, depth: int) -> bool:
    if f.bind in (STB_GLOBAL, STB_WEAK) and (f.name in p.be.noreturns or is_rust_noreturn(f.name)):
        return True
    if f.name in p.opts.noreturns or (p.opts.userspace and is_userspace_noreturn(f.name)):
        return True
    if f.bind == STB_WEAK or not f.len:
        return False
    start = p.find(f.sec, f.offset)
    if start < 0 or p.func(start) is None:
        return False
    ranges = p.func_ranges(f)
    kind = p.kind                         # a bytearray: searched in C, not instruction by instruction
    if any(kind.find(_RETURN, a, b) >= 0 for a, b in ranges):
        return False
    for a, b in ranges:
        for m in _MAYBE_SIBLING.finditer(kind, a, b):
            i = m.start()
            if is_sibling_call(p, i):
                d = p.jump_dest[i]
                if d < 0 or depth == 5:
                    return False
                return dead_end_function(p, p.func(d), depth + 1)
    return True


def function_graph(p: Program, f: Sym):
    """One function as a networkx DiGraph of instruction indices, with edge kinds
    ("next", "jump", "alt"); for analyses that want graph algorithms."""
    import networkx as nx
    g = nx.DiGraph()
    for i in p.func_insns(f):
        g.add_node(i, offset=p.insn.off[i])
        k = p.kind[i]
        if p.jump_dest[i] >= 0:
            g.add_edge(i, p.jump_dest[i], kind="jump")
        for a, _ in p.alts[i] or ():
            g.add_edge(i, a, kind="alt")
        if k not in (Kind.JUMP_UNCOND, Kind.JUMP_DYNAMIC, Kind.RETURN) and not p.dead_end[i]:
            n = p.next_same_sec(i)
            if n >= 0 and p.func(n) is f:
                g.add_edge(i, n, kind="next")
    return g
