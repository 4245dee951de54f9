# SPDX-License-Identifier: GPL-2.0-only
"""x86-64 instruction facts from raw bytes.

capstone's `disasm_lite` (about 1.5 M instructions/s) gives each instruction's
length; the facts come from the opcode, ModRM and SIB bytes themselves, opcode by
opcode as objtool's arch/x86/decode.c reads them, so that the stack operations
orcgen interprets are exactly the ones objtool interprets.  Asking capstone for
operand detail would cost ten times more and describe the same bytes.

Registers come out in DWARF numbering (rax 0, rdx 1, rcx 2, rbx 3, rsi 4,
rdi 5, rbp 6, rsp 7, r8-r15 8-15), not the encoding's order.
"""
from __future__ import annotations

import struct
from typing import Callable

from orcgen.insn import Decoded, DecodeFailure, Dest, Insn, Kind, Src, StackOp

from .tables import INTERESTING as _INTERESTING
from .tables import W_ONLY as _W_ONLY
from .tables import fast_tables
from .fallback import fallback_length
from .lengths import Lengths
from .writes import LEGACY_PREFIXES, ONE_BYTE, VEX_FIRST, sp_bp_writes

# Hardware register number (ModRM/SIB/opcode encoding, with REX) -> DWARF number.
HW2DW = (0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15)
HW_SP, HW_BP = 4, 5
SP, BP = 7, 6

_REX_BYTES = bytes(range(0x40, 0x50))
_MAY_WRITE = frozenset(ONE_BYTE) | VEX_FIRST | {0x0F}        # opcodes sp_bp_writes can say yes to
_UNKNOWN_WRITE = {r: StackOp(Src.UNKNOWN, Dest.REG, dest_reg=r) for r in (SP, BP)}
_MEMO_MAX = 1 << 16           # instruction encodings the general path's answers are kept for


_UNKNOWN_OPS = {(SP,): (_UNKNOWN_WRITE[SP],), (BP,): (_UNKNOWN_WRITE[BP],),
                (SP, BP): (_UNKNOWN_WRITE[SP], _UNKNOWN_WRITE[BP])}


def _with_writes(ins: Insn, writes: tuple[int, ...]) -> Insn:
    """`ins` plus a Src.UNKNOWN op for each %rsp/%rbp write objtool's ops leave out."""
    if not ins.ops:
        return ins._replace(ops=_UNKNOWN_OPS[writes])
    modelled = [o.dest_reg for o in ins.ops if o.dest == Dest.REG and not (
        o.src == Src.REG_INDIRECT and o.src_reg not in (SP, BP))]    # not objtool's: see _CS_HW
    extra = tuple(_UNKNOWN_WRITE[r] for r in writes if r not in modelled)
    return ins._replace(ops=ins.ops + extra) if extra else ins

_PUSH_CONST = StackOp(Src.CONST, Dest.PUSH)
_POP_MEM = StackOp(Src.POP, Dest.MEM)
_PUSHF = StackOp(Src.CONST, Dest.PUSHF)
_POPF = StackOp(Src.POPF, Dest.MEM)
_LEAVE = (StackOp(Src.REG, Dest.REG, src_reg=BP, dest_reg=SP),
          StackOp(Src.POP, Dest.REG, dest_reg=BP))
_IRET_IN_FUNC = (StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=40, dest_reg=SP),)
_PUSH_REG = tuple((StackOp(Src.REG, Dest.PUSH, src_reg=HW2DW[r]),) for r in range(16))
# mov %src, %dst (89 /r, register form, REX.W), by hardware register numbers
_MOV_RR = tuple(tuple((StackOp(Src.REG, Dest.REG, src_reg=HW2DW[s], dest_reg=HW2DW[d]),)
                      for d in range(16)) for s in range(16))
_SIMPLE = {0xC3: Kind.RETURN, 0xC2: Kind.RETURN, 0xCC: Kind.TRAP, 0x90: Kind.NOP}
_SIMPLE_INT = {b: int(k) for b, k in _SIMPLE.items()}
_POP_REG = tuple((StackOp(Src.POP, Dest.REG, dest_reg=HW2DW[r]),) for r in range(16))


def _is_nopw(code: bytes, off: int, size: int) -> bool:
    """66 [2e|66 ...] 0f 1f /0: the multi-byte NOPs compilers pad with."""
    p = off
    end = off + size
    while p < end and code[p] in (0x66, 0x2E):
        p += 1
    return p + 1 < end and code[p] == 0x0F and code[p + 1] == 0x1F


def _s8(b: int) -> int:
    return b - 256 if b & 0x80 else b


_S8 = tuple(_s8(b) for b in range(256))
_REL32 = struct.Struct("<i").unpack_from


def _sint(code: bytes, start: int, end: int) -> int:
    return int.from_bytes(code[start:end], "little", signed=True) if end > start else 0


class X86Decoder:
    """Decodes whole code sections into `Insn` facts."""

    def __init__(self) -> None:
        import capstone  # deferred: a warm cache run never pays for the import
        self._cs = capstone
        self._lengths = Lengths(capstone)
        self._att = None                     # disassemble()'s handle
        self._memo: dict[bytes, tuple] = {}

    def disassemble(self, code: bytes, offset: int) -> list[tuple[int, int, str]]:
        """(offset, length, text) for people (and switch.py's pattern matching):
        AT&T syntax, as objdump and objtool print it."""
        md = self._att
        if md is None:
            md = self._att = self._cs.Cs(self._cs.CS_ARCH_X86, self._cs.CS_MODE_64)
            md.syntax = self._cs.CS_OPT_SYNTAX_ATT
        return [(a, n, ("%s %s" % (m, o)).strip()) for a, n, m, o in md.disasm_lite(code, offset)]

    def decode_section(self, code: bytes, in_func: Callable[[int], bool]
                       ) -> tuple[Decoded, DecodeFailure | None]:
        out = Decoded()
        pos = 0
        end = len(code)
        padded = code + b"\0\0"         # the tables may look one byte past a short instruction
        while True:
            pos = self._decode_run(padded, pos, end, in_func, out)
            if pos >= len(code):
                return out, None
            # capstone stops at instructions newer than it (lkgs, serialize, ...);
            # most are 0F-escaped with a ModRM operand, whose length is easy to read.
            n = fallback_length(code, pos)
            if not n:
                return out, DecodeFailure(pos, "can't decode instruction")
            out.put(self._classify(code, pos, n, in_func))
            pos += n

    def _decode_run(self, code: bytes, start: int, end: int, in_func: Callable[[int], bool],
                    out: Decoded) -> int:
        """Decode from `start` until capstone stops (or `end`, where the code
        stops: `code` goes on with two zero bytes); return where it stopped.

        The loop answers the encodings that make up most kernel code (moves and
        ALU forms that cannot touch the stack, call, jcc, jmp, push/pop, ret) in
        line, with the facts the general path (`_classify`) would give; anything
        else goes through the general path, which follows objtool case by case.
        The loop handles no prefix or one REX prefix only, and its answers come
        from `fast_tables()`, which are made from the general path's own
        descriptions; tests/test_decode_paths_x86.py compares the two.

        It writes `out`'s columns directly: an ordinary instruction costs one
        append to the kind column (its length is capstone's, its offset the sum
        of the lengths before it)."""
        special, rowed, act0, act0f, rex_one, rex_two = fast_tables()
        other, call, jcc, jmp = int(Kind.OTHER), int(Kind.CALL), int(Kind.JUMP_COND), int(Kind.JUMP_UNCOND)
        push_call = (_PUSH_CONST,)
        mov_rr = _MOV_RR
        push_reg, pop_reg = _PUSH_REG, _POP_REG
        simple = _SIMPLE_INT
        nop = int(Kind.NOP)
        alu = (0x01, 0x29, 0x81, 0x83)
        s8, rel32 = _S8, _REL32
        bug = int(Kind.BUG)
        general = self._general_memo
        kind = out.kind.append
        imms, opss = out.imm, out.ops
        off = start
        for sizes in self._lengths.stretches(code, start, end):
            out.size.extend(sizes)
            out.reserve(len(sizes))
            for n, size in enumerate(sizes, len(out.kind)):
                b = code[off]
                if b not in special:
                    kind(other)
                elif b == 0x90:                  # a quarter of kernel code: function padding
                    kind(nop)
                elif 0x48 <= b <= 0x4F and size >= 3 and code[off + 1] in (0x89, 0x8B):
                    op, modrm = code[off + 1], code[off + 2]
                    if op == 0x89 and modrm >= 0xC0:                # mov reg, reg
                        opss[n] = mov_rr[((modrm >> 3) & 7) + 8 * ((b >> 2) & 1)][(modrm & 7) + 8 * (b & 1)]
                        kind(other)
                    elif rex_one[b][op][modrm] == 2 and (
                            modrm >= 0xC0 or ((modrm & 7) not in (4, 5) and
                                              not (op == 0x89 and ((modrm >> 3) & 7) == 4 and not b & 4) and
                                              not (op == 0x8B and ((modrm >> 3) & 7) + 2 * (b & 4) in _CS_HW))):
                        # no %rsp/%rbp write; 8b register form, or memory not based on sp/bp
                        kind(other)
                    else:
                        general(code, off, size, in_func, out, n)
                elif 0x40 <= b <= 0x4F and size >= 2:                # one REX prefix
                    op = code[off + 1]
                    a = rex_one[b][op][code[off + 2]]     # (a ModRM or, uniform row, anything)
                    if not a:
                        kind(other)
                    elif 0x50 <= op <= 0x57:
                        opss[n] = push_reg[(op & 7) + 8 * (b & 1)]
                        kind(other)
                    elif 0x58 <= op <= 0x5F:
                        opss[n] = pop_reg[(op & 7) + 8 * (b & 1)]
                        kind(other)
                    elif op == 0x0F and size >= 4:
                        if rex_two[b][code[off + 2]][code[off + 3]]:
                            general(code, off, size, in_func, out, n)
                        else:
                            kind(other)
                    elif a == 2 and op in alu and (code[off + 2] < 0xC0 or code[off + 2] & 7 != 4 or b & 1):
                        kind(other)                            # add/sub/and not on %rsp
                    else:
                        general(code, off, size, in_func, out, n)
                elif b in rowed:                 # ALU and move forms: plain unless they write sp/bp
                    if not act0[b][code[off + 1]]:
                        kind(other)
                    else:
                        general(code, off, size, in_func, out, n)
                elif b == 0xE8 and size == 5:
                    imms[n] = rel32(code, off + 1)[0]
                    opss[n] = push_call
                    kind(call)
                elif 0x70 <= b <= 0x7F:
                    imms[n] = s8[code[off + size - 1]]
                    kind(jcc)
                elif b == 0x0F and size == 6 and 0x80 <= code[off + 1] <= 0x8F:
                    imms[n] = rel32(code, off + 2)[0]
                    kind(jcc)
                elif b == 0xEB:
                    imms[n] = s8[code[off + 1]]
                    kind(jmp)
                elif b == 0xE9 and size == 5:
                    imms[n] = rel32(code, off + 1)[0]
                    kind(jmp)
                elif 0x50 <= b <= 0x57:
                    opss[n] = push_reg[b & 7]
                    kind(other)
                elif 0x58 <= b <= 0x5F:
                    opss[n] = pop_reg[b & 7]
                    kind(other)
                elif b in simple:
                    kind(simple[b])
                elif b == 0x0F and size >= 3 and code[off + 1] in (0x1F, 0x0D):
                    kind(nop)                                   # nopl / nopw
                elif b == 0x66 and size >= 4 and _is_nopw(code, off, size):
                    kind(nop)
                elif b == 0x0F and size >= 3 and not act0f[code[off + 1]][code[off + 2]]:
                    kind(other)
                elif b == 0x0F and size == 2 and code[off + 1] == 0x0B:
                    kind(bug)                                   # ud2
                else:
                    general(code, off, size, in_func, out, n)
                off += size
        return off

    def _general_memo(self, code: bytes, off: int, size: int, in_func: Callable[[int], bool],
                      out: Decoded, n: int) -> None:
        """`_classify` for instruction `n` of `out`, remembered by the
        instruction's bytes: kernel code repeats its stack accesses
        (mov 0x8(%rsp),%rax ...) thousands of times.  The facts depend on the
        bytes alone, except iret's (0xcf), never kept."""
        key = code[off:off + size]
        r = self._memo.get(key)
        if r is None:
            r = self._classify(code, off, size, in_func)[2:]
            if 0xCF not in key:
                if len(self._memo) >= _MEMO_MAX:
                    self._memo.clear()
                self._memo[key] = r
        kind, imm, ops = r
        out.kind.append(kind)
        if imm:
            out.imm[n] = imm
        if ops:
            out.ops[n] = ops

    def _classify(self, code: bytes, off: int, size: int, in_func: Callable[[int], bool]) -> Insn:
        """The general path: facts for any instruction, prefixes and all.

        A REX prefix counts only right before the opcode (as the CPU and
        capstone read `41 48 5a`: pop %rdx); `prefixes` are the legacy ones."""
        end = off + size
        p = off
        rex = 0
        while p < end:
            c = code[p]
            if 0x40 <= c <= 0x4F:
                rex = c
            elif c in LEGACY_PREFIXES:
                rex = 0
            else:
                break
            p += 1
        if p >= end:
            return Insn(off, size, Kind.OTHER)
        if p == off or (p == off + 1 and rex):
            prefixes = b""
        else:
            prefixes = code[off:p].translate(None, _REX_BYTES)
        return self._general_at(code, off, size, p, rex, prefixes, in_func)

    def _general_at(self, code: bytes, off: int, size: int, p: int, rex: int, prefixes: bytes,
                    in_func: Callable[[int], bool]) -> Insn:
        """The general path once the prefixes are read: the opcode at p, `rex`
        the REX byte right before it (0: none), `prefixes` the legacy ones."""
        end = off + size
        op = code[p]
        writes = sp_bp_writes(code, p, end, rex, prefixes) if op in _MAY_WRITE else ()
        if op in VEX_FIRST or op not in _INTERESTING or (op in _W_ONLY and not rex & 8):
            # objtool ignores VEX/EVEX altogether
            return Insn(off, size, Kind.OTHER, 0, _UNKNOWN_OPS[writes]) if writes else \
                Insn(off, size, Kind.OTHER)
        ins = self._decode(code, off, size, p - off, rex, prefixes, in_func)
        return _with_writes(ins, writes) if writes else ins

    # The cases below follow arch/x86/decode.c's switch on the first opcode byte.
    def _decode(self, code: bytes, off: int, size: int, skip: int, rex: int, prefixes: bytes,
                in_func: Callable[[int], bool]) -> Insn:
        p = off + skip
        op1 = code[p]
        if op1 in _W_ONLY:
            # 64-bit ALU/mov/lea forms: they matter only with REX.W
            return _decode_w(code, off, size, p, op1, rex) if rex & 8 else Insn(off, size, Kind.OTHER)
        end = off + size
        prefix = prefixes[0] if prefixes else 0
        rex_r = (rex >> 2) & 1
        rex_b = rex & 1

        if 0x50 <= op1 <= 0x57:
            return Insn(off, size, Kind.OTHER, ops=_PUSH_REG[(op1 & 7) + 8 * rex_b])
        if 0x58 <= op1 <= 0x5F:
            return Insn(off, size, Kind.OTHER, ops=_POP_REG[(op1 & 7) + 8 * rex_b])
        if 0x70 <= op1 <= 0x7F or 0xE0 <= op1 <= 0xE3:
            return Insn(off, size, Kind.JUMP_COND, immediate=_s8(code[end - 1]))
        if op1 == 0xEB:
            return Insn(off, size, Kind.JUMP_UNCOND, immediate=_s8(code[end - 1]))
        if op1 == 0xE9:
            return Insn(off, size, Kind.JUMP_UNCOND, immediate=_sint(code, p + 1, end))
        if op1 == 0xE8:
            # For the stack, a CALL is a push of the return address.
            return Insn(off, size, Kind.CALL, immediate=_sint(code, p + 1, end), ops=(_PUSH_CONST,))
        if op1 in (0xC2, 0xC3):
            return Insn(off, size, Kind.RETURN)
        if op1 == 0xCC:
            return Insn(off, size, Kind.TRAP)
        if op1 == 0x90:
            return Insn(off, size, Kind.NOP)
        if op1 == 0xC9:
            return Insn(off, size, Kind.OTHER, ops=_LEAVE)
        if op1 in (0x68, 0x6A):
            return Insn(off, size, Kind.OTHER, ops=(_PUSH_CONST,))
        if op1 == 0x9C:
            return Insn(off, size, Kind.OTHER, ops=(_PUSHF,))
        if op1 == 0x9D:
            return Insn(off, size, Kind.OTHER, ops=(_POPF,))
        if op1 == 0x8F:
            return Insn(off, size, Kind.OTHER, ops=(_POP_MEM,))
        if op1 == 0xFC:
            return Insn(off, size, Kind.CLD)
        if op1 == 0xFD:
            return Insn(off, size, Kind.STD)
        if op1 == 0xCF:
            # iret: sync_core()'s IRET-to-self inside a function pops 5 words;
            # elsewhere (entry code) it leaves the frame.
            if in_func(off):
                return Insn(off, size, Kind.OTHER, ops=_IRET_IN_FUNC)
            return Insn(off, size, Kind.CONTEXT_SWITCH)
        if op1 in (0xCA, 0xCB):
            return Insn(off, size, Kind.CONTEXT_SWITCH)
        if op1 == 0x0F:
            return self._decode_0f(code, off, size, p, end, prefix, prefixes)
        if op1 == 0xFF:
            reg = ((code[p + 1] >> 3) & 7) + 8 * rex_r
            if reg in (2, 3):
                return Insn(off, size, Kind.CALL_DYNAMIC)
            if reg == 4:
                return Insn(off, size, Kind.JUMP_DYNAMIC)
            if reg == 5:
                return Insn(off, size, Kind.CONTEXT_SWITCH)
            if reg == 6:
                return Insn(off, size, Kind.OTHER, ops=(_PUSH_CONST,))
            return Insn(off, size, Kind.OTHER)
        return Insn(off, size, Kind.OTHER)

    @staticmethod
    def _decode_0f(code: bytes, off: int, size: int, p: int, end: int, prefix: int,
                   prefixes: bytes) -> Insn:
        if p + 1 >= end:
            return Insn(off, size, Kind.OTHER)
        op2 = code[p + 1]
        modrm = code[p + 2] if p + 2 < end else -1
        if op2 == 0x01:
            last = prefixes[-1] if prefixes else 0
            if last in (0xF2, 0xF3):
                return Insn(off, size, Kind.CONTEXT_SWITCH if modrm == 0xCA else Kind.OTHER)
            if modrm == 0xCA:
                return Insn(off, size, Kind.CLAC)
            if modrm == 0xCB:
                return Insn(off, size, Kind.STAC)
            return Insn(off, size, Kind.OTHER)
        if 0x80 <= op2 <= 0x8F:
            return Insn(off, size, Kind.JUMP_COND, immediate=_sint(code, p + 2, end))
        if op2 in (0x05, 0x07, 0x34, 0x35):
            return Insn(off, size, Kind.CONTEXT_SWITCH)       # syscall/sysret/sysenter/sysexit
        if op2 in (0x0B, 0xB9):
            return Insn(off, size, Kind.BUG)                  # ud2, ud1
        if op2 in (0x0D, 0x1F):
            return Insn(off, size, Kind.NOP)                  # nopl/nopw (and prefetch)
        if op2 == 0x1E:
            if prefix == 0xF3 and modrm in (0xFA, 0xFB):
                return Insn(off, size, Kind.ENDBR)
            return Insn(off, size, Kind.OTHER)
        if op2 in (0xA0, 0xA8):
            return Insn(off, size, Kind.OTHER, ops=(_PUSH_CONST,))  # push %fs/%gs
        if op2 in (0xA1, 0xA9):
            return Insn(off, size, Kind.OTHER, ops=(_POP_MEM,))     # pop %fs/%gs
        return Insn(off, size, Kind.OTHER)


def _modrm_at(code: bytes, q: int, rex: int) -> tuple[int, int, int, int, int, int, int]:
    """ModRM at q, then SIB and displacement: (modrm, mod, reg, rm, sib_index, sib_base, disp)."""
    modrm = code[q]
    mod = modrm >> 6
    reg = ((modrm >> 3) & 7) + 8 * ((rex >> 2) & 1)
    rm = (modrm & 7) + 8 * (rex & 1)
    q += 1
    sib_index = sib_base = -1
    if mod != 3 and (modrm & 7) == 4:
        sib = code[q]
        sib_index = ((sib >> 3) & 7) + 8 * ((rex >> 1) & 1)
        sib_base = (sib & 7) + 8 * (rex & 1)
        q += 1
        no_base = (sib & 7) == 5 and mod == 0
    else:
        no_base = False
    if mod == 1:
        disp = _s8(code[q])
    elif mod == 2 or (mod == 0 and (modrm & 7) == 5) or no_base:
        disp = _sint(code, q, q + 4)
    else:
        disp = 0
    return modrm, mod, reg, rm, sib_index, sib_base, disp


# Callee-saved registers in hardware numbering (rbx, rbp, r12-r15): loads into
# them through any base register are reported (see the 8b case of _decode_w).
_CS_HW = frozenset({3, 5, 12, 13, 14, 15})


def _decode_w(code: bytes, off: int, size: int, p: int, op1: int, rex: int) -> Insn:
    """The REX.W forms of the opcodes in _W_ONLY (arch/x86/decode.c's 64-bit cases):
    moves, adds and leas that can change or save the stack and frame pointers."""
    end = off + size
    modrm, mod, reg, rm, sib_index, sib_base, disp = _modrm_at(code, p + 1, rex)
    is_rip = (modrm & 7) == 5 and mod == 0
    have_sib = (modrm & 7) == 4 and mod != 3

    # the base register of a memory operand without an index (-1: indexed)
    base = (sib_base if sib_index == HW_SP else -1) if have_sib else rm
    # ... as objtool's rm_is_mem() sees it: not RIP-relative, not a bare disp32
    if mod == 3 or is_rip or (have_sib and base == HW_BP and mod == 0):
        mem_base = -1
    else:
        mem_base = base

    if op1 in (0x01, 0x29):
        if mod == 3 and rm == HW_SP:
            # add/sub reg, %rsp
            return Insn(off, size, Kind.OTHER,
                        ops=(StackOp(Src.ADD, Dest.REG, src_reg=HW2DW[reg], dest_reg=SP),))
        return Insn(off, size, Kind.OTHER)
    if 0x80 <= op1 <= 0x83:
        if not (mod == 3 and rm == HW_SP):
            return Insn(off, size, Kind.OTHER)
        imm = _sint(code, end - 4, end) if op1 == 0x81 else _s8(code[end - 1])
        sub = modrm >> 3 & 7
        if sub == 5:
            imm = -imm
        if sub in (0, 5):
            return Insn(off, size, Kind.OTHER,
                        ops=(StackOp(Src.ADD, Dest.REG, src_reg=SP, src_off=imm, dest_reg=SP),))
        if sub == 4:
            return Insn(off, size, Kind.OTHER,
                        ops=(StackOp(Src.AND, Dest.REG, src_reg=SP, src_off=imm, dest_reg=SP),))
        return Insn(off, size, Kind.OTHER)
    if op1 == 0x89:
        if mod == 3:
            # mov reg, reg
            return Insn(off, size, Kind.OTHER,
                        ops=(StackOp(Src.REG, Dest.REG, src_reg=HW2DW[reg], dest_reg=HW2DW[rm]),))
        if is_rip or base < 0:
            return Insn(off, size, Kind.OTHER)
        if reg == HW_SP:
            # mov %rsp, disp(%reg)
            return Insn(off, size, Kind.OTHER,
                        ops=(StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=SP,
                                     dest_reg=HW2DW[base], dest_off=disp),))
        op1 = 0x88   # objtool falls through to the 0x88 case
    if op1 == 0x88:
        for r in (HW_BP, HW_SP):
            if mem_base == r:
                # mov reg, disp(%rbp) / disp(%rsp)
                return Insn(off, size, Kind.OTHER,
                            ops=(StackOp(Src.REG, Dest.REG_INDIRECT, src_reg=HW2DW[reg],
                                         dest_reg=HW2DW[r], dest_off=disp),))
        return Insn(off, size, Kind.OTHER)
    if op1 == 0x8B:
        for r in (HW_BP, HW_SP):
            if mem_base == r:
                # mov disp(%rbp) / disp(%rsp), reg
                return Insn(off, size, Kind.OTHER,
                            ops=(StackOp(Src.REG_INDIRECT, Dest.REG, src_reg=HW2DW[r],
                                         src_off=disp, dest_reg=HW2DW[reg]),))
        if mem_base >= 0 and reg in _CS_HW:
            # mov disp(%reg), %callee_saved: not objtool's (it models %rsp/%rbp bases only);
            # the core applies it only with Options.precise (a restore through a
            # register pointing into the frame, as OpenSSL's perlasm epilogues do)
            return Insn(off, size, Kind.OTHER,
                        ops=(StackOp(Src.REG_INDIRECT, Dest.REG, src_reg=HW2DW[mem_base],
                                     src_off=disp, dest_reg=HW2DW[reg]),))
        return Insn(off, size, Kind.OTHER)
    if op1 == 0x8D:
        if mod == 3 or is_rip or base < 0:
            return Insn(off, size, Kind.OTHER)
        # lea disp(%src), %dst  (objtool calls a zero displacement a plain move)
        src = Src.ADD if disp else Src.REG
        return Insn(off, size, Kind.OTHER,
                    ops=(StackOp(src, Dest.REG, src_reg=HW2DW[base], src_off=disp,
                                 dest_reg=HW2DW[reg]),))
    return Insn(off, size, Kind.OTHER)
