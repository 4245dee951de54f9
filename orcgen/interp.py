# SPDX-License-Identifier: GPL-2.0-only
"""The abstract interpreter: the stack state at every reachable instruction.

It walks each function from its entry, depth first, carrying a CfiState and
applying each instruction's stack operations, exactly in the order objtool's
validate_branch() does (alternatives first, then a jump's target, then the
fall-through), because the state recorded at an instruction is the one of the
first path that reaches it.  Where a second path arrives with a different state
the function gets a "stack state mismatch" finding and, as in objtool, its walk
stops there.  objtool recurses; this walk keeps its own stack, so the deepest
switch statement cannot exhaust Python's.
"""
from __future__ import annotations

from .backend import UNDEFINED
from .elf import ET_REL, STT_FUNC
from .cfg import is_sibling_call
from .cfi import CfiState, KeptStates, OpContext, StackError, apply_op, has_modified_stack_frame, \
    has_valid_stack_frame, mismatch
from .ibt import validate_ibt
from .insn import Dest, Kind, Src
from . import parwalk
from .program import Program
from .straight import plain_mask
from .pvops import pv_call_dest
from .symbols import Sym
from .unreachable import validate_reachable
from .unret import validate_unrets


class Walk:
    """The state along one path: the stack state plus objtool's flag tracking."""
    __slots__ = ("cfi", "uaccess", "uaccess_stack", "df", "noinstr", "instr")

    def __init__(self, cfi: CfiState, noinstr: bool = False) -> None:
        self.cfi = cfi
        self.uaccess = False
        self.uaccess_stack = 0
        self.df = False
        self.noinstr = noinstr
        self.instr = 0

    def copy(self) -> "Walk":
        w = Walk.__new__(Walk)
        w.cfi = self.cfi.copy()
        w.uaccess, w.uaccess_stack, w.df = self.uaccess, self.uaccess_stack, self.df
        w.noinstr, w.instr = self.noinstr, self.instr
        return w


# Continuation kinds on the walk's own stack.
_WALK, _AFTER_ALTS, _AFTER_JUMP = 0, 1, 2
_END = object()


class Interpreter:
    def __init__(self, p: Program) -> None:
        self.p = p
        self.abi = p.abi
        self.init = p.func_cfi
        self.linked = p.elf.type != ET_REL
        self.opts = p.opts
        self.states = KeptStates()
        self.plain = b""
        self.save_reads: list[int] | None = None     # parwalk: the CFI saves a restore looked up
        # the OpContexts, by (in a function, the next instruction has a hint)
        self.contexts = [[OpContext(f, h, p.opts.stackval, p.abi.frame_records, p.opts.precise)
                          for h in (False, True)] for f in (False, True)]

    # -- objtool's check() -------------------------------------------------------

    def run(self) -> None:
        p, o = self.p, self.opts
        if not p.insn:
            return
        walks_all = o.stackval or o.orc or o.uaccess
        self.plain = plain_mask(p, None if walks_all else self.noinstr_code())
        warnings = 0
        if o.retpoline:
            warnings += self.validate_retpoline()
        if walks_all:
            warnings += self.validate_functions()
            warnings += self.validate_unwind_hints()
            if not warnings:
                validate_reachable(p)
        elif o.noinstr:
            self.validate_noinstr_sections()
        if o.unret:
            validate_unrets(p, self.next_to_validate)
        if o.ibt:
            validate_ibt(p)
        if o.sls:
            self.validate_sls()
        if o.prefix:
            self.add_prefix_cfi()
        self.plain = b""                 # the walks are done (libLLVM: 14 MB)

    def new_walk(self, cs, func_entry: bool) -> Walk:
        cfi = CfiState.from_cfi(self.init if func_entry else self.p.init_cfi)
        return Walk(cfi, noinstr=self.opts.link and self.opts.noinstr and cs.noinstr)

    def validate_functions(self, code=None) -> int:
        p = self.p
        tasks = [(cs, f) for cs in (p.code if code is None else code)
                 for f in p.symtab.section(cs.sec.index).ordered if f.type == STT_FUNC]
        n = parwalk.processes(len(p.kind), self.linked) if code is None else 1
        if n > 1:
            warnings = parwalk.walk(self, tasks, n)
            if warnings is not None:
                return warnings
        return self.walk_tasks(tasks)

    def walk_tasks(self, tasks: list) -> int:
        """Walk each (code section, function) of `tasks`, in order; the warnings."""
        warnings = 0
        for cs, f in tasks:
            warnings += self.validate_symbol(cs, f, self.new_walk(cs, True))
        return warnings

    def validate_symbol(self, cs, f: Sym, w: Walk) -> int:
        p = self.p
        if not f.len:
            p.warn("missing-size", "%s() is missing an ELF size annotation" % f.name)
            return 1
        if f.pfunc is not f or f.alias is not f:
            return 0
        i = p.find(cs.sec.index, f.offset)
        if i < 0 or p.ignore[i] or p.visited[i]:
            return 0
        if self.opts.uaccess:
            w.uaccess = f.uaccess_safe
        return self.validate_branch(p.func(i), i, w)

    def validate_noinstr_sections(self) -> int:
        """--noinstr without --orc/--stackval/--uaccess: only the noinstr sections
        are walked (objtool's validate_noinstr_sections()), each one's functions
        and then its unwind hints; no ORC comes of it."""
        warnings = 0
        for cs in self.noinstr_code():
            warnings += self.validate_functions([cs])
            warnings += self.validate_unwind_hints([cs])
        return warnings

    def noinstr_code(self) -> list:
        """The noinstr sections that exist, in objtool's order."""
        p, out = self.p, []
        for name in (".noinstr.text", ".entry.text", ".cpuidle.text"):
            sec = p.section_named(name)
            cs = p.code_by_secno.get(sec.index) if sec is not None else None
            if cs is not None:
                out.append(cs)
        return out

    def validate_unwind_hints(self, code=None) -> int:
        p = self.p
        if not p.has_hints:
            return 0
        warnings = 0
        for cs in p.code if code is None else code:
            # objtool's init_insn_state(file, &state, NULL) for the pass over all
            # sections: a hint's walk there is no noinstr walk, even in .noinstr.text.
            w = self.new_walk(cs, False) if code is not None else Walk(CfiState.from_cfi(p.init_cfi))
            for i in p.section_insns(cs):
                if p.hint[i] and not p.visited[i] and not p.ignore[i]:
                    warnings += self.validate_branch(p.func(i), i, w.copy())
        return warnings

    # -- the walk ----------------------------------------------------------------

    def next_to_validate(self, i: int) -> int:
        """The instruction after i, with alternatives patched in place."""
        p = self.p
        g = p.alt_group.get(i)
        if g is not None:
            if g.nop >= 0:
                if i == g.last:
                    return g.nop
                if i == g.nop:
                    return p.next_same_sec(g.orig_group.last)
            if i == g.last and g.orig_group is not None:
                return p.next_same_sec(g.orig_group.last)
        return p.next_same_sec(i)

    def validate_branch(self, func: Sym | None, start: int, w: Walk) -> int:
        """Walk everything reachable from `start`; 1 if a finding stopped the walk."""
        stack = [(_WALK, start, w, -1, False)]
        failed = 0
        while stack:
            phase, i, w, prev, extra = stack.pop()
            if self._walk(func, i, w, prev, phase, extra, stack):
                if not self.opts.keep_going:
                    return 1                 # objtool: the first finding ends the walk
                failed = 1                   # --keep-going: only this path ends
        return failed

    def _walk(self, func, i, w, prev, phase, skip_orig, stack) -> int:
        """Walk one straight-line stretch; branches push continuations on `stack`."""
        p, abi = self.p, self.abi
        kind, visited, cfi_of, hint = p.kind, p.visited, p.cfi, p.hint
        alt_group, sym, sec_of, alts_of = p.alt_group, p.sym, p.sec_of, p.alts.get
        plain, states = self.plain, self.states
        send = sec_of[i].end
        kept = None         # the interned state last stored
        while True:
            # next_to_validate() and func(), in line: this loop runs once per
            # instruction walked, millions of times on vmlinux.o
            in_alt = alt_group.get(i) is not None
            if not in_alt:
                nxt = i + 1 if i + 1 < send else -1
            else:
                nxt = self.next_to_validate(i)
            if phase == _WALK:
                f = sym[i]
                if f is not None and f.type != STT_FUNC:
                    f = None
                if func is not None and f is not None and func is not f.pfunc:
                    if func.name.startswith(("__cfi_", "__pfx_")) or p.ignore_unreachables:
                        return 0
                    p.warn("fallthrough", "%s() falls through to next function %s()"
                           % (func.name, f.name))
                    return 1
                if func is not None and p.ignore[i]:
                    p.warn_insn(i, "internal", "BUG: why am I validating an ignored function?")
                    return 1
                bit = 1 << w.uaccess
                if visited[i] & 3:
                    if not hint[i]:
                        why = mismatch(cfi_of[i], w.cfi.freeze(), abi)
                        if why:
                            p.warn_insn(i, "state-mismatch", why)
                            return 1
                    if visited[i] & bit:
                        return 0
                if w.noinstr:
                    w.instr += p.instr[i]
                if hint[i]:
                    if p.restore[i]:
                        s = self._find_save(func, i)
                        if s < 0:
                            p.warn_insn(i, "hint", "no corresponding CFI save for CFI restore")
                            return 1
                        if not visited[s]:
                            if prev < 0:
                                return 0
                            p.warn_insn(i, "hint", "objtool isn't smart enough to handle this "
                                        "CFI save/restore combo")
                            return 1
                        cfi_of[i] = cfi_of[s]
                    w.cfi = CfiState.from_cfi(cfi_of[i])
                else:
                    c = w.cfi.freeze()
                    if c is not kept:
                        # a new state since the last instruction: hashing it (two
                        # tuples of 34 ints) at every instruction had been a sixth
                        # of the walk; freeze() now gives the kept one until it changes
                        kept = w.cfi.frozen = states.kept(c)
                    cfi_of[i] = kept
                visited[i] |= bit
                if in_alt and self._propagate_alt_cfi(i):
                    return 1
                alts = alts_of(i)
                if alts and not p.ignore_alts[i]:
                    stack.append((_AFTER_ALTS, i, w, prev, any(s for _, s in alts)))
                    for a, _ in reversed(alts):
                        stack.append((_WALK, a, w.copy(), -1, False))
                    return 0
                phase = _AFTER_ALTS
                skip_orig = False
            if phase == _AFTER_ALTS:
                if skip_orig:
                    return 0
                if p.ops[i] and self._handle_ops(i, nxt, w):
                    return 1
                k = kind[i]
                if k == Kind.RETURN:
                    return self._validate_return(func, i, w)
                if k in (Kind.CALL, Kind.CALL_DYNAMIC):
                    if self._validate_call(i, w):
                        return 1
                    if self.opts.stackval and func is not None and not self._is_special_call(i) \
                            and not has_valid_stack_frame(w.cfi, abi):
                        p.warn_insn(i, "no-frame-pointer", "call without frame pointer save/setup")
                        return 1
                    if p.dead_end[i]:
                        return 0
                elif k in (Kind.JUMP_COND, Kind.JUMP_UNCOND):
                    if is_sibling_call(p, i):
                        if self._validate_sibling_call(i, w):
                            return 1
                    elif p.jump_dest[i] >= 0:
                        if not self._tail_call_to_unnamed(func, p.jump_dest[i], w):
                            stack.append((_AFTER_JUMP, i, w, prev, False))
                            stack.append((_WALK, p.jump_dest[i], w.copy(), -1, False))
                            return 0
                    if k == Kind.JUMP_UNCOND:
                        return 0
                elif k in (Kind.JUMP_DYNAMIC, Kind.JUMP_DYNAMIC_COND):
                    if is_sibling_call(p, i) and self._validate_sibling_call(i, w):
                        return 1
                    if k == Kind.JUMP_DYNAMIC:
                        return 0
                elif k == Kind.CONTEXT_SWITCH:
                    if func is None:
                        return 0
                    if nxt < 0 or not hint[nxt]:
                        p.warn_insn(i, "context-switch", "unsupported instruction in callable function")
                        return 1
                elif k >= Kind.STAC and k <= Kind.CLD and self._flags(func, i, k, w):
                    return 1
            elif phase == _AFTER_JUMP:
                if kind[i] == Kind.JUMP_UNCOND:
                    return 0
            if p.dead_end[i]:
                return 0
            if nxt < 0:
                if w.cfi.cfa_base == UNDEFINED or p.ignore_unreachables:
                    return 0
                p.warn("end-of-section", "%s: unexpected end of section" % p.sec_of[i].name)
                return 1
            if in_alt:
                send = sec_of[nxt].end
            prev, i, phase = i, nxt, _WALK
            m = plain[i]
            if m and i == prev + 1 and not visited[i]:
                # a stretch at which the walk only records the state and applies
                # stack operations (straight.py)
                cfi, bit, ctxs = w.cfi, 1 << w.uaccess, self.contexts[p.func(i) is not None]
                while True:
                    c = cfi.frozen or cfi.freeze()
                    if c is not kept:
                        kept = cfi.frozen = states.kept(c)
                    cfi_of[i] = kept
                    visited[i] = bit
                    if m == 2:
                        ctx = ctxs[hint[i + 1] != 0]
                        for op in p.ops[i]:
                            try:
                                apply_op(cfi, op, abi, self.init, ctx)
                            except StackError as e:
                                p.warn_insn(i, e.kind, str(e))
                                return 1
                    i += 1
                    m = plain[i]
                    if not m or visited[i]:
                        break
                prev = i - 1

    def _find_save(self, func: Sym | None, i: int) -> int:
        p = self.p
        if func is None:
            return -1
        j = p.prev_same_sec(i)
        while j >= 0 and p.insn.off[j] >= func.offset:
            if p.save[j]:
                if self.save_reads is not None:
                    self.save_reads.append(j)
                return j
            j = p.prev_same_sec(j)
        return -1

    def _propagate_alt_cfi(self, i: int) -> int:
        p = self.p
        g = p.alt_group.get(i)
        c = p.cfi[i]
        if c is None:
            p.warn("internal", "CFI missing")
            return 1
        off = p.insn.off[i] - p.insn.off[g.first]
        if off >= len(g.cfi):
            g.cfi.extend([None] * (off + 1 - len(g.cfi)))
        if g.cfi[off] is None:
            g.cfi[off] = c
        elif g.cfi[off] != c:
            orig = (g.orig_group or g).first
            p.warn_insn(orig, "alt-conflict", "stack layout conflict in alternatives: %s" % p.where(i))
            return 1
        return 0

    def _handle_ops(self, i: int, nxt: int, w: Walk) -> int:
        p = self.p
        ctx = self.contexts[p.func(i) is not None][nxt >= 0 and p.hint[nxt] != 0]
        track_flags = self.opts.uaccess and p.alt_group.get(i) is not None
        for op in p.ops[i]:
            try:
                apply_op(w.cfi, op, self.abi, self.init, ctx)
            except StackError as e:
                p.warn_insn(i, e.kind, str(e))
                return 1
            if not track_flags:
                continue
            if op.dest == Dest.PUSHF:
                if not w.uaccess_stack:
                    w.uaccess_stack = 1
                elif w.uaccess_stack >> 31:
                    p.warn_insn(i, "uaccess", "PUSHF stack exhausted")
                    return 1
                w.uaccess_stack = ((w.uaccess_stack << 1) | int(w.uaccess)) & 0xFFFFFFFF
            if op.src == Src.POPF and w.uaccess_stack:
                w.uaccess = bool(w.uaccess_stack & 1)
                w.uaccess_stack >>= 1
                if w.uaccess_stack == 1:
                    w.uaccess_stack = 0
        return 0

    # -- per-instruction rules ----------------------------------------------------

    def _call_dest_name(self, i: int) -> str:
        d = self.p.insn_call_dest(i)
        if d is not None:
            return d.name
        # objtool 6.12's call_dest_name() would name a pv_ops slot, but looks the
        # relocation up with insn_reloc(NULL, insn), which is always NULL.
        return "{dynamic}"

    def _is_special_call(self, i: int) -> bool:
        d = self.p.insn_call_dest(i)
        return self.p.kind[i] == Kind.CALL and d is not None and (d.fentry or d.embedded_insn)

    def _noinstr_call_dest(self, f: Sym | None, i: int) -> bool:
        if f is None:
            return pv_call_dest(self.p, i)           # indirect: only a clean pv_ops slot
        cs = self.p.code_by_secno.get(f.sec)
        return bool((cs is not None and cs.noinstr) or f.static_call_tramp
                    or f.name.startswith("__ubsan_handle_"))

    def _validate_call(self, i: int, w: Walk) -> int:
        p = self.p
        d = self.p.insn_call_dest(i)
        if w.noinstr and w.instr <= 0 and not self._noinstr_call_dest(d, i):
            p.warn_insn(i, "noinstr", "call to %s() leaves .noinstr.text section" % self._call_dest_name(i))
            return 1
        if w.uaccess and not (d is not None and d.uaccess_safe):
            p.warn_insn(i, "uaccess", "call to %s() with UACCESS enabled" % self._call_dest_name(i))
            return 1
        if w.df:
            p.warn_insn(i, "df", "call to %s() with DF set" % self._call_dest_name(i))
            return 1
        return 0

    def _tail_call_to_unnamed(self, func: Sym | None, d: int, w: Walk) -> bool:
        """A linked file's jump from a function into code that no symbol
        covers, with the function's frame already gone: a tail call to a
        function whose symbol was stripped (libLLVM and libstdc++ export a
        fraction of theirs), which ends the path.  With a frame still in
        place it is the function's own code (a .cold part whose symbol was
        stripped), and is followed.  Objects keep every symbol, so this
        never applies to them."""
        p = self.p
        return self.linked and func is not None and p.sym[d] is None \
            and not has_modified_stack_frame(w.cfi, self.init)

    def _validate_sibling_call(self, i: int, w: Walk) -> int:
        if self.p.func(i) is not None and has_modified_stack_frame(w.cfi, self.init):
            self.p.warn_insn(i, "sibling-modified-frame",
                             "sibling call from callable instruction with modified stack frame")
            return 1
        return self._validate_call(i, w)

    def _validate_return(self, func: Sym | None, i: int, w: Walk) -> int:
        p = self.p
        safe = func is not None and func.uaccess_safe
        checks = (
            (w.noinstr and w.instr > 0, "noinstr", "return with instrumentation enabled"),
            (w.uaccess and not safe, "uaccess", "return with UACCESS enabled"),
            (not w.uaccess and safe, "uaccess", "return with UACCESS disabled from a UACCESS-safe function"),
            (w.df, "df", "return with DF set"),
            (func is not None and has_modified_stack_frame(w.cfi, self.init),
             "return-modified-frame", "return with modified stack frame"),
            (w.cfi.bp_scratch, "bp-scratch", "BP used as a scratch register"
             if not self.abi.frame_records else
             "frame pointer %s used as a scratch register" % self.abi.reg_name(self.abi.fp)),
        )
        for bad, kind, msg in checks:
            if bad:
                p.warn_insn(i, kind, msg)
                return 1
        return 0

    def _flags(self, func: Sym | None, i: int, k: int, w: Walk) -> int:
        """STAC/CLAC (user access) and STD/CLD (direction flag) discipline."""
        p = self.p
        if k == Kind.STAC:
            if not self.opts.uaccess:
                return 0
            if w.uaccess:
                p.warn_insn(i, "uaccess", "recursive UACCESS enable")
                return 1
            w.uaccess = True
        elif k == Kind.CLAC:
            if not self.opts.uaccess:
                return 0
            if not w.uaccess and func is not None:
                p.warn_insn(i, "uaccess", "redundant UACCESS disable")
                return 1
            if func is not None and func.uaccess_safe and not w.uaccess_stack:
                p.warn_insn(i, "uaccess", "UACCESS-safe disables UACCESS")
                return 1
            w.uaccess = False
        elif k == Kind.STD:
            if w.df:
                p.warn_insn(i, "df", "recursive STD")
                return 1
            w.df = True
        elif k == Kind.CLD:
            if not w.df and func is not None:
                p.warn_insn(i, "df", "redundant CLD")
                return 1
            w.df = False
        return 0

    # -- whole-file passes ----------------------------------------------------------

    def validate_retpoline(self) -> int:
        p = self.p
        warnings = 0
        for cs, found in p.by_section(p.with_kind(Kind.JUMP_DYNAMIC, Kind.CALL_DYNAMIC, Kind.RETURN)):
            if cs.init:
                continue
            for i in found:
                k = p.kind[i]
                if p.retpoline_safe[i]:
                    continue
                if k == Kind.RETURN:
                    if not self.opts.rethunk:
                        continue
                    p.warn_insn(i, "rethunk", "'naked' return found in MITIGATION_RETHUNK build")
                else:
                    p.warn_insn(i, "retpoline", "indirect %s found in MITIGATION_RETPOLINE build"
                                % ("jump" if k == Kind.JUMP_DYNAMIC else "call"))
                warnings += 1
        return warnings

    def validate_sls(self) -> None:
        p = self.p
        for _cs, found in p.by_section(p.with_kind(Kind.RETURN, Kind.JUMP_DYNAMIC)):
            for i in found:
                if p.retpoline_safe[i]:
                    continue
                n = p.next_same_sec(i)
                if n < 0 or p.kind[n] != Kind.TRAP:
                    p.warn_insn(i, "sls", "missing int3 after %s"
                                % ("ret" if p.kind[i] == Kind.RETURN else "indirect jump"))

    def add_prefix_cfi(self) -> None:
        """--prefix=N: the N bytes of NOP padding before a function unwind like its entry.

        objtool's add_prefix_symbols(): functions in sec_for_each_sym order (`ordered`,
        objtool's symbol list, where a zero-size function comes after later ones), and
        a function takes the state its first instruction has by then, which an
        earlier function's padding may have given it."""
        p = self.p
        n = self.opts.prefix
        for cs in p.code:
            for f in p.symtab.section(cs.sec.index).ordered:
                if f.type != 2:
                    continue
                i = p.find(cs.sec.index, f.offset)
                if i < 0:
                    continue
                found = p.padding_before(i, n)
                if found < 0 or p.cfi[i] is None:
                    continue
                for k in range(found, i):
                    p.cfi[k] = p.cfi[i]
