# SPDX-License-Identifier: GPL-2.0-only
"""The stack state at an instruction, and how one stack operation changes it.

The model and its rules are objtool's (tools/objtool/check.c,
update_cfi_state()), because orcgen's ORC must equal objtool's entry for entry:
CFA = base register + offset; for each register, where the caller's value is
saved; `vals`, registers known to hold a CFA-relative value (GCC's and Clang's
"mov %rsp, %reg ... mov %reg, %rsp" shuffles); GCC's DRAP realignment state;
and the bookkeeping that makes them work (stack_size, drap_offset).
Registers are DWARF numbers; the architecture's SP, FP and RA come from its Abi.

`CfiState` is the mutable state the interpreter carries along a path; `Cfi` is
its frozen, hashable snapshot stored per instruction (and compared at joins).
"""
from __future__ import annotations

from typing import NamedTuple

from .backend import BP_INDIRECT, CFA, SP_INDIRECT, UNDEFINED, Abi
from .insn import Dest, Src, StackOp

# Unwind hint / CFI types (include/linux/objtool_types.h).
HINT_UNDEFINED, HINT_END_OF_STACK, HINT_CALL, HINT_REGS, HINT_REGS_PARTIAL = 0, 1, 2, 3, 4
HINT_FUNC, HINT_SAVE, HINT_RESTORE = 5, 6, 7


class Cfi(NamedTuple):
    """A frozen stack state.  `regs` and `vals` are flat (base, offset) pairs per register."""
    cfa_base: int
    cfa_offset: int
    regs: tuple[int, ...]
    vals: tuple[int, ...]
    stack_size: int
    drap_reg: int
    drap_offset: int
    type: int
    bp_scratch: bool
    drap: bool
    signal: bool
    end: bool
    force_undefined: bool
    ra_signed: bool = False       # the return address is signed (arm64 pointer authentication)

    def reg(self, r: int) -> tuple[int, int]:
        return self.regs[2 * r], self.regs[2 * r + 1]


class CfiState:
    """The mutable state along one path of the interpreter."""
    __slots__ = ("cfa_base", "cfa_offset", "regs", "vals", "stack_size", "drap_reg",
                 "drap_offset", "type", "bp_scratch", "drap", "signal", "end",
                 "force_undefined", "ra_signed", "frozen")

    def __init__(self, nregs: int) -> None:
        # objtool's init_cfi_state(): everything undefined.
        self.cfa_base, self.cfa_offset = UNDEFINED, 0
        self.regs = [UNDEFINED, 0] * nregs
        self.vals = [UNDEFINED, 0] * nregs
        self.stack_size = 0
        self.drap_reg, self.drap_offset = UNDEFINED, -1
        self.type = HINT_UNDEFINED
        self.bp_scratch = self.drap = self.signal = self.end = self.force_undefined = False
        self.ra_signed = False
        self.frozen: Cfi | None = None

    @classmethod
    def from_cfi(cls, c: Cfi) -> "CfiState":
        s = cls.__new__(cls)
        (s.cfa_base, s.cfa_offset, regs, vals, s.stack_size, s.drap_reg, s.drap_offset,
         s.type, s.bp_scratch, s.drap, s.signal, s.end, s.force_undefined, s.ra_signed) = c
        s.regs, s.vals = list(regs), list(vals)
        s.frozen = c
        return s

    @classmethod
    def function_entry(cls, abi: Abi) -> "CfiState":
        """objtool's set_func_state(): the state at a callable function's first instruction."""
        s = cls(abi.num_regs)
        s.cfa_base, s.cfa_offset = abi.sp, abi.cfa_offset_at_entry
        s.regs = [UNDEFINED, 0] * abi.num_regs
        s.regs[2 * abi.ra], s.regs[2 * abi.ra + 1] = abi.ra_rule_at_entry
        s.stack_size = abi.cfa_offset_at_entry
        s.type = HINT_CALL
        return s

    def copy(self) -> "CfiState":
        s = CfiState.__new__(CfiState)
        s.cfa_base, s.cfa_offset = self.cfa_base, self.cfa_offset
        s.regs, s.vals = self.regs[:], self.vals[:]
        s.stack_size, s.drap_reg, s.drap_offset = self.stack_size, self.drap_reg, self.drap_offset
        s.type, s.bp_scratch, s.drap = self.type, self.bp_scratch, self.drap
        s.signal, s.end, s.force_undefined = self.signal, self.end, self.force_undefined
        s.ra_signed = self.ra_signed
        s.frozen = self.frozen
        return s

    def freeze(self) -> Cfi:
        f = self.frozen
        if f is None:
            f = self.frozen = Cfi(self.cfa_base, self.cfa_offset, tuple(self.regs), tuple(self.vals),
                                  self.stack_size, self.drap_reg, self.drap_offset, self.type,
                                  self.bp_scratch, self.drap, self.signal, self.end,
                                  self.force_undefined, self.ra_signed)
        return f


class KeptStates:
    """One instance of each distinct state the walk stores, the states'
    register tuples shared too: states differ mostly in their CFA offset,
    and two tuples of 34 ints per kept state had been 95 MB of libLLVM's
    peak (160 k states, a few thousand distinct tuples)."""
    __slots__ = ("_states", "_tuples")

    def __init__(self) -> None:
        self._states: dict[Cfi, Cfi] = {}
        self._tuples: dict[tuple, tuple] = {}

    def all(self) -> list[Cfi]:
        return list(self._states)

    def kept(self, c: Cfi) -> Cfi:
        """The kept instance equal to `c` (`c` itself, made over, if new)."""
        k = self._states.get(c)
        if k is None:
            t = self._tuples
            k = c._replace(regs=t.setdefault(c.regs, c.regs), vals=t.setdefault(c.vals, c.vals))
            self._states[k] = k
        return k


class OpContext(NamedTuple):
    """What update_cfi_state needs to know about the instruction besides its op."""
    in_func: bool          # the instruction belongs to an STT_FUNC symbol
    next_is_hint: bool     # the next instruction carries an unwind hint
    stackval: bool         # --stackval: track rbp used as a scratch register
    frame_records: bool    # the ABI's frame records are addressed by FP (arm64)
    precise: bool = False  # Options.precise: orcgen's refinements of objtool's model


class StackError(Exception):
    """A stack operation the model cannot follow; the message is objtool's text.
    `kind` names the finding: frame-record errors (arm64) belong to their own check."""

    def __init__(self, message: str, kind: str = "stack-op") -> None:
        super().__init__(message)
        self.kind = kind


def _save_reg(s: CfiState, abi: Abi, reg: int, base: int, offset: int) -> None:
    if reg in abi.callee_saved and s.regs[2 * reg] == UNDEFINED:
        s.regs[2 * reg], s.regs[2 * reg + 1] = base, offset


def _restore_reg(s: CfiState, init: Cfi, reg: int) -> None:
    s.regs[2 * reg], s.regs[2 * reg + 1] = init.regs[2 * reg], init.regs[2 * reg + 1]


def apply_op(s: CfiState, op: StackOp, abi: Abi, init: Cfi, ctx: OpContext) -> None:
    """Apply one stack operation to `s` in place; raise StackError where objtool warns."""
    if op.src == Src.UNKNOWN:
        # An SP/FP write the back-end cannot express: objtool has no operation for
        # it, so nothing changes (the stack-writes check reports it), except that
        # with Options.precise an SP-based CFA is unknown from here.
        if ctx.precise and op.dest_reg == abi.sp and s.cfa_base == abi.sp:
            s.cfa_base, s.cfa_offset = UNDEFINED, 0
            s.frozen = None
        return
    if s.force_undefined:
        return
    if s.cfa_base == UNDEFINED:
        if ctx.in_func:
            raise StackError("undefined stack state")
        return
    s.frozen = None
    SP, BP = abi.sp, abi.fp
    if s.type in (HINT_REGS, HINT_REGS_PARTIAL):
        # Entry code with a pt_regs frame: only SP-relative CFA moves.
        if s.cfa_base not in (SP, SP_INDIRECT):
            return
        if op.dest in (Dest.PUSH, Dest.PUSHF):
            s.cfa_offset += 8
        if op.src in (Src.POP, Src.POPF):
            s.cfa_offset -= 8
        if op.dest == Dest.REG and op.src == Src.ADD and op.dest_reg == SP and op.src_reg == SP:
            s.cfa_offset -= op.src_off
        return

    regs, vals = s.regs, s.vals
    d, src = op.dest, op.src
    if d == Dest.REG:
        dr, sr = op.dest_reg, op.src_reg
        if src == Src.REG and dr == BP and sr != SP and ctx.frame_records and ctx.stackval \
                and ctx.in_func and s.cfa_base != BP:
            # FP overwritten while it does not point at this function's frame record:
            # a frame-pointer unwind from here on goes astray.  Reported here, at the
            # write, not at a return a shorter path may have reached first.
            raise StackError("frame pointer %s used as a scratch register" % abi.reg_name(BP), "frame-record")
        if src == Src.REG:
            if sr == SP and dr == BP and ctx.frame_records and not s.drap:
                # mov fp, sp: the frame record must be at SP
                _fp_at_record(s, abi, 0, ctx)
            elif sr == SP and dr == BP and s.cfa_base == SP and \
                    regs[2 * BP] == CFA and regs[2 * BP + 1] == -s.cfa_offset:
                # mov %rsp, %rbp: the frame pointer becomes the CFA base
                s.cfa_base = dr
                s.bp_scratch = False
            elif sr == SP and dr == BP and s.drap:
                # drap: mov %rsp, %rbp
                regs[2 * BP], regs[2 * BP + 1] = BP, -s.stack_size
                s.bp_scratch = False
            elif sr == SP and s.cfa_base == SP:
                # mov %rsp, %reg: remember the register holds a CFA-relative value
                vals[2 * dr], vals[2 * dr + 1] = CFA, -s.stack_size
            elif sr == BP and dr == SP and s.cfa_base in (BP, s.drap_reg):
                # mov %rbp, %rsp: restore the stack pointer (Clang)
                s.stack_size = -regs[2 * BP + 1]
            elif dr == s.cfa_base:
                # mov %reg, %rsp
                if s.cfa_base == SP and vals[2 * sr] == CFA:
                    s.cfa_offset = -vals[2 * sr + 1]
                    s.stack_size = s.cfa_offset
                elif s.cfa_base == SP and vals[2 * sr] == SP_INDIRECT and \
                        vals[2 * sr + 1] == s.cfa_offset:
                    # stack swizzle: the previous SP is at the top of the new stack
                    s.cfa_base = SP_INDIRECT
                else:
                    s.cfa_base, s.cfa_offset = UNDEFINED, 0
            elif dr == SP and vals[2 * sr] == SP_INDIRECT and vals[2 * sr + 1] == s.cfa_offset:
                # stack swizzle with the CFA based elsewhere: pretend it was a push
                s.stack_size += 8
            elif vals[2 * sr] == CFA:
                # Clang's "musical chairs": a CFA-relative value moves between registers
                vals[2 * dr], vals[2 * dr + 1] = CFA, vals[2 * sr + 1]
        elif src == Src.ADD:
            if dr == SP and sr == SP:
                # add imm, %rsp
                s.stack_size -= op.src_off
                if s.cfa_base == SP:
                    s.cfa_offset -= op.src_off
            elif dr == BP and sr == SP and ctx.frame_records:
                # add fp, sp, #n: FP points at the frame record n bytes above SP
                _fp_at_record(s, abi, op.src_off, ctx)
            elif dr == SP and sr == BP:
                # lea disp(%rbp), %rsp / sub sp, fp, #n
                s.stack_size = -(op.src_off + regs[2 * BP + 1])
            elif sr == SP and s.cfa_base == SP:
                # drap: lea disp(%rsp), %drap (also any lea of a CFA-relative address)
                s.drap_reg = dr
                vals[2 * dr], vals[2 * dr + 1] = CFA, -s.stack_size + op.src_off
            elif s.drap and dr == SP and sr == s.drap_reg:
                # drap: lea disp(%drap), %rsp
                s.cfa_base = SP
                s.cfa_offset = s.stack_size = -op.src_off
                s.drap_reg, s.drap = UNDEFINED, False
            elif dr == s.cfa_base and not ctx.next_is_hint:
                raise StackError("unsupported stack register modification")
        elif src == Src.AND:
            if ctx.frame_records and dr == SP:
                # Realigning SP below an FP-based CFA (frame records, no DRAP) is safe.
                if s.cfa_base != BP:
                    raise StackError("unsupported stack pointer realignment")
                return
            if dr != SP or (s.drap_reg != UNDEFINED and s.cfa_base != SP) or \
                    (s.drap_reg == UNDEFINED and s.cfa_base != BP):
                raise StackError("unsupported stack pointer realignment")
            if s.drap_reg != UNDEFINED:
                # drap: and imm, %rsp
                s.cfa_base = s.drap_reg
                s.cfa_offset = s.stack_size = 0
                s.drap = True
            # (realignment with a frame pointer and no DRAP needs no change)
        elif src in (Src.POP, Src.POPF):
            if dr == SP and s.cfa_base == SP_INDIRECT:
                # pop %rsp: back from a stack swizzle
                s.cfa_base = SP
                return
            if not s.drap and dr == s.cfa_base:
                # pop %rbp
                s.cfa_base = SP
            if s.drap and s.cfa_base == BP_INDIRECT and dr == s.drap_reg and \
                    s.drap_offset == -s.stack_size:
                # drap: pop %drap
                s.cfa_base, s.cfa_offset = s.drap_reg, 0
                s.drap_offset = -1
            elif s.stack_size == -regs[2 * dr + 1]:
                # pop %reg
                _restore_reg(s, init, dr)
            s.stack_size -= 8
            if s.cfa_base == SP:
                s.cfa_offset -= 8
        elif src == Src.REG_INDIRECT and sr not in (SP, BP):
            # mov disp(%reg), %callee_saved: the back-end reports these loads, objtool has
            # no such operation (its rules below assume an %rsp/%rbp base), so they count
            # only with Options.precise, where %reg holds CFA + k (lea k'(%rsp), %reg).
            if ctx.precise and vals[2 * sr] == CFA and regs[2 * dr] == CFA and \
                    op.src_off + vals[2 * sr + 1] == regs[2 * dr + 1]:
                _restore_reg(s, init, dr)
            elif ctx.precise and sr == abi.shadow_stack and dr == abi.ra:
                _restore_reg(s, init, dr)       # the return address back from the shadow stack
        elif src == Src.REG_INDIRECT:
            # mov (%rbp), %rbp reloads rbp from its own slot; objtool's first rule
            # below moves the CFA to SP and so never sees the restore
            reload = ctx.precise and sr == s.cfa_base and regs[2 * dr] == CFA and \
                op.src_off == regs[2 * dr + 1] + s.cfa_offset
            if reload and not s.drap and dr == s.cfa_base and dr == BP:
                s.cfa_base, s.cfa_offset = SP, s.stack_size
                _restore_reg(s, init, dr)
                return
            if not s.drap and dr == s.cfa_base and dr == BP:
                # mov disp(%rsp), %rbp
                s.cfa_base, s.cfa_offset = SP, s.stack_size
            if s.drap and sr == BP and op.src_off == s.drap_offset:
                # drap: mov disp(%rbp), %drap
                s.cfa_base, s.cfa_offset = s.drap_reg, 0
                s.drap_offset = -1
            if s.drap and sr == BP and op.src_off == regs[2 * dr + 1]:
                # drap: mov disp(%rbp), %reg
                _restore_reg(s, init, dr)
            elif sr == s.cfa_base and op.src_off == regs[2 * dr + 1] + s.cfa_offset:
                # mov disp(%rbp), %reg / mov disp(%rsp), %reg
                _restore_reg(s, init, dr)
            elif sr == SP and op.src_off == regs[2 * dr + 1] + s.stack_size:
                # mov disp(%rsp), %reg
                _restore_reg(s, init, dr)
        else:
            raise StackError("unknown stack-related instruction")
    elif d in (Dest.PUSH, Dest.PUSHF):
        s.stack_size += 8
        if s.cfa_base == SP:
            s.cfa_offset += 8
        if src != Src.REG:
            return
        sr = op.src_reg
        if s.drap:
            if sr == s.cfa_base and sr == s.drap_reg:
                # drap: push %drap
                s.cfa_base, s.cfa_offset = BP_INDIRECT, -s.stack_size
                s.drap_offset = -s.stack_size
            elif sr == BP and s.cfa_base == s.drap_reg:
                # drap: push %rbp
                s.stack_size = 0
            else:
                # drap: push %reg
                _save_reg(s, abi, sr, BP, -s.stack_size)
        else:
            # push %reg
            _save_reg(s, abi, sr, CFA, -s.stack_size)
        if ctx.stackval and ctx.in_func and sr == BP and s.cfa_base != BP:
            # rbp pushed while it is not the frame pointer: asm using it as scratch
            s.bp_scratch = True
    elif d == Dest.REG_INDIRECT:
        sr, dr = op.src_reg, op.dest_reg
        if s.drap:
            if sr == s.cfa_base and sr == s.drap_reg:
                # drap: mov %drap, disp(%rbp)
                s.cfa_base, s.cfa_offset = BP_INDIRECT, op.dest_off
                s.drap_offset = op.dest_off
            else:
                # drap: mov reg, disp(%rbp)
                _save_reg(s, abi, sr, BP, op.dest_off)
        elif dr == s.cfa_base:
            # mov reg, disp(%rbp) / mov reg, disp(%rsp)
            _save_reg(s, abi, sr, CFA, op.dest_off - s.cfa_offset)
        elif dr == SP:
            # mov reg, disp(%rsp)
            _save_reg(s, abi, sr, CFA, op.dest_off - s.stack_size)
        elif sr == SP and op.dest_off == 0:
            # mov %rsp, (%reg): set up a stack swizzle
            vals[2 * dr], vals[2 * dr + 1] = SP_INDIRECT, s.cfa_offset
    elif d == Dest.RA_SIGN:
        s.ra_signed = bool(op.src_off)
    elif d == Dest.MEM:
        if src not in (Src.POP, Src.POPF):
            raise StackError("unknown stack-related memory operation")
        # pop to memory
        s.stack_size -= 8
        if s.cfa_base == SP:
            s.cfa_offset -= 8
    else:
        raise StackError("unknown stack-related instruction")


def _fp_at_record(s: CfiState, abi: Abi, n: int, ctx: OpContext) -> None:
    """FP := SP + n where the ABI keeps {fp, ra} frame records (AAPCS64).

    With the record at SP + n (FP saved there, RA just above it) FP becomes the
    CFA base.  Anything else is a broken frame record: a finding with --stackval,
    otherwise the CFA stays SP-based, which is still right for unwinding.
    """
    SP, BP, RA = abi.sp, abi.fp, abi.ra
    if s.cfa_base != SP:
        return
    slot = n - s.cfa_offset            # the record's address relative to the CFA
    fp_ok = s.regs[2 * BP] == CFA and s.regs[2 * BP + 1] == slot
    ra_ok = s.regs[2 * RA] == CFA and s.regs[2 * RA + 1] == slot + 8
    if fp_ok and ra_ok:
        s.cfa_base, s.cfa_offset = BP, -slot
        s.bp_scratch = False
    elif ctx.stackval and ctx.in_func:
        fp = "%s saved at cfa%+d" % (abi.reg_name(BP), s.regs[2 * BP + 1]) if s.regs[2 * BP] == CFA \
            else "%s not saved" % abi.reg_name(BP)
        ra = "%s saved at cfa%+d" % (abi.reg_name(RA), s.regs[2 * RA + 1]) if s.regs[2 * RA] == CFA \
            else "%s not saved" % abi.reg_name(RA)
        raise StackError("frame pointer set to sp%+d (cfa%+d), but no frame record is there "
                         "(%s, %s)" % (n, slot, fp, ra), "frame-record")


def has_modified_stack_frame(s: CfiState, init: Cfi) -> bool:
    """objtool's has_modified_stack_frame(): anything different from function entry."""
    return (s.cfa_base != init.cfa_base or s.drap or s.cfa_offset != init.cfa_offset
            or s.stack_size != init.cfa_offset or tuple(s.regs) != init.regs)


def has_valid_stack_frame(s: CfiState, abi: Abi) -> bool:
    """A frame pointer frame is set up: CFA = FP + n, with FP and RA saved where expected."""
    BP, RA = abi.fp, abi.ra
    r = s.regs
    if s.cfa_base == BP and r[2 * BP] == CFA and r[2 * BP + 1] == -s.cfa_offset and \
            r[2 * RA] == CFA and r[2 * RA + 1] == -s.cfa_offset + 8:
        return True
    return s.drap and r[2 * BP] == BP


def mismatch(a: Cfi, b: Cfi, abi: Abi) -> str | None:
    """Why two states that meet at one instruction differ (objtool's
    insn_cfi_match), or None when they agree.  `a` is the state already recorded."""
    def where(base: int, off: int) -> str:
        if base == UNDEFINED:
            return "undefined"
        return "%s%+d" % (abi.reg_name(base), off)
    if (a.cfa_base, a.cfa_offset) != (b.cfa_base, b.cfa_offset):
        return "stack state mismatch: cfa1=%s cfa2=%s" % (where(a.cfa_base, a.cfa_offset),
                                                          where(b.cfa_base, b.cfa_offset))
    if a.regs != b.regs:
        regs = range(len(a.regs) // 2) if abi.joins_compare_all_saved else (abi.fp, abi.ra)
        for r in regs:
            if a.reg(r) != b.reg(r):
                return "stack state mismatch: %s saved at %s on one path, at %s on another" % (
                    abi.reg_name(r), where(*a.reg(r)), where(*b.reg(r)))
    if a.type != b.type:
        return "stack state mismatch: type1=%d type2=%d" % (a.type, b.type)
    if a.ra_signed != b.ra_signed:
        return "stack state mismatch: return address %s on one path, %s on another" % (
            "signed" if a.ra_signed else "not signed", "signed" if b.ra_signed else "not signed")
    if a.drap != b.drap or (a.drap and (a.drap_reg != b.drap_reg or a.drap_offset != b.drap_offset)):
        return "stack state mismatch: drap1=%d(%d,%d) drap2=%d(%d,%d)" % (
            a.drap, a.drap_reg, a.drap_offset, b.drap, b.drap_reg, b.drap_offset)
    return None
