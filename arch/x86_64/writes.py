# SPDX-License-Identifier: GPL-2.0-only
"""Which x86-64 instructions write %rsp or %rbp through an explicit operand.

objtool's decoder models a handful of stack-pointer and frame-pointer writes
(64-bit add/sub/and/mov/lea/pop, leave); every other instruction that writes
those registers (`sub %eax,%esp`, `xchg %rax,%rsp`, `mov (%rax),%rsp`, cmov,
xadd, the BMI forms under VEX, ...) passes it by silently.  The decoder marks
each such write with a Src.UNKNOWN stack operation so that the `stack-writes`
check can report it; the state machine ignores it, as objtool does.

One description per opcode (which operand it writes, whether the operand is
a byte register, which ModRM.reg extensions of a group write) serves both
the general decoder (`sp_bp_writes`) and the fast loop's per-opcode rows
(`write_row`): the two cannot disagree about a write.

Implicit stack-pointer changes (push, pop, call, ret, enter's push, iret) are
not writes here: objtool models them, or they leave the function.
"""
from __future__ import annotations

from typing import NamedTuple

SP, BP = 7, 6
_HW2DW_SPBP = {4: SP, 5: BP}
LEGACY_PREFIXES = frozenset((0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65))
VEX_FIRST = frozenset((0xC4, 0xC5, 0x62))

# which operand an instruction writes
RM = 1          # ModRM.rm, register form (mod 3) only
REG = 2         # ModRM.reg
BOTH = 3        # both (xchg, xadd)
RM_ANY = 4      # ModRM.rm whatever mod says (mov from a control or debug register)
OPREG = 5       # the register in the opcode's low three bits (+ REX.B)
ENTER = 6       # enter: %rsp and %rbp
VVVV = 8        # VEX.vvvv (BMI1 group 17, mulx): may be or-ed with REG


class Write(NamedTuple):
    """How one opcode writes a general register.  `group`: the ModRM.reg
    values (opcode extensions) for which it writes, None for all; `mand`: the
    mandatory prefixes (0, 0x66, 0xF3, 0xF2; VEX pp as the same bytes) it
    writes under, None for any."""
    where: int
    byte: bool = False
    group: frozenset | None = None
    mand: frozenset | None = None


_NONE_66 = frozenset((0, 0x66))
_F3F2 = frozenset((0xF3, 0xF2))


def _g(*regs: int) -> frozenset:
    return frozenset(regs)


# The one-byte opcode map.
ONE_BYTE: dict[int, Write] = {}
for _base in (0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30):       # add or adc sbb and sub xor
    ONE_BYTE[_base] = Write(RM, True)
    ONE_BYTE[_base + 1] = Write(RM)
    ONE_BYTE[_base + 2] = Write(REG, True)
    ONE_BYTE[_base + 3] = Write(REG)
ONE_BYTE.update({
    0x80: Write(RM, True, _g(0, 1, 2, 3, 4, 5, 6)),      # add ... xor imm (not cmp)
    0x81: Write(RM, group=_g(0, 1, 2, 3, 4, 5, 6)),
    0x83: Write(RM, group=_g(0, 1, 2, 3, 4, 5, 6)),
    0x63: Write(REG),                        # movsxd
    0x69: Write(REG), 0x6B: Write(REG),      # imul r, r/m, imm
    0x86: Write(BOTH, True), 0x87: Write(BOTH),          # xchg
    0x88: Write(RM, True), 0x89: Write(RM),              # mov r/m, r
    0x8A: Write(REG, True), 0x8B: Write(REG),            # mov r, r/m
    0x8C: Write(RM),                         # mov %sreg, r/m
    0x8D: Write(REG),                        # lea
    0x8F: Write(RM, group=_g(0)),            # pop r/m (8f c4: pop %rsp)
    0xC0: Write(RM, True), 0xC1: Write(RM),  # shifts and rotates by imm8
    0xC6: Write(RM, True, _g(0)), 0xC7: Write(RM, group=_g(0)),   # mov imm, r/m
    0xC8: Write(ENTER),
    0xD0: Write(RM, True), 0xD1: Write(RM), 0xD2: Write(RM, True), 0xD3: Write(RM),
    0xF6: Write(RM, True, _g(2, 3)), 0xF7: Write(RM, group=_g(2, 3)),   # not, neg
    0xFE: Write(RM, True, _g(0, 1)), 0xFF: Write(RM, group=_g(0, 1)),   # inc, dec
})
for _op in range(0x91, 0x98):                # xchg %eax, reg
    ONE_BYTE[_op] = Write(OPREG)
for _op in range(0xB0, 0xB8):                # mov imm8, reg8
    ONE_BYTE[_op] = Write(OPREG, True)
for _op in range(0xB8, 0xC0):                # mov imm, reg
    ONE_BYTE[_op] = Write(OPREG)

# The 0F map.
TWO_BYTE: dict[int, Write] = {
    0x00: Write(RM, group=_g(0, 1)),         # sldt, str
    0x01: Write(RM, group=_g(4)),            # smsw
    0x02: Write(REG), 0x03: Write(REG),      # lar, lsl
    0x1E: Write(RM, group=_g(1), mand=frozenset((0xF3,))),   # rdsspd/q
    0x20: Write(RM_ANY), 0x21: Write(RM_ANY),   # mov %crN / %drN, reg
    0x2C: Write(REG, mand=_F3F2), 0x2D: Write(REG, mand=_F3F2),   # cvt(t)ss2si, cvt(t)sd2si
    0x50: Write(REG, mand=_NONE_66),         # movmskps/pd
    0x78: Write(RM, mand=frozenset((0,))),   # vmread
    0x7E: Write(RM, mand=_NONE_66),          # movd/movq to a general register
    0xA4: Write(RM), 0xA5: Write(RM), 0xAC: Write(RM), 0xAD: Write(RM),   # shld, shrd
    0xAB: Write(RM), 0xB3: Write(RM), 0xBB: Write(RM),                    # bts, btr, btc
    0xBA: Write(RM, group=_g(5, 6, 7)),
    0xAE: Write(RM, group=_g(0, 1), mand=frozenset((0xF3,))),   # rdfsbase, rdgsbase
    0xAF: Write(REG),                        # imul
    0xB0: Write(RM, True), 0xB1: Write(RM),  # cmpxchg
    0xB2: Write(REG), 0xB4: Write(REG), 0xB5: Write(REG),       # lss, lfs, lgs
    0xB6: Write(REG), 0xB7: Write(REG), 0xBE: Write(REG), 0xBF: Write(REG),   # movzx, movsx
    0xB8: Write(REG, mand=frozenset((0xF3,))),       # popcnt
    0xBC: Write(REG), 0xBD: Write(REG),      # bsf/tzcnt, bsr/lzcnt
    0xC0: Write(BOTH, True), 0xC1: Write(BOTH),      # xadd
    0xC5: Write(REG, mand=_NONE_66),         # pextrw
    0xC7: Write(RM, group=_g(6, 7)),         # rdrand, rdseed, rdpid
    0xD7: Write(REG, mand=_NONE_66),         # pmovmskb
}
for _op in range(0x40, 0x50):                # cmovcc (writes even when the condition fails)
    TWO_BYTE[_op] = Write(REG)
for _op in range(0x90, 0xA0):                # setcc
    TWO_BYTE[_op] = Write(RM, True)
for _op in range(0xC8, 0xD0):                # bswap
    TWO_BYTE[_op] = Write(OPREG)

# The 0F 38 and 0F 3A maps.
MAP_0F38: dict[int, Write] = {
    0xF0: Write(REG),                        # movbe load, crc32 r, r/m8
    0xF1: Write(REG, mand=frozenset((0xF2,))),       # crc32 (not the movbe store)
    0xF6: Write(REG, mand=frozenset((0x66, 0xF3))),  # adcx, adox
}
MAP_0F3A: dict[int, Write] = {op: Write(RM, mand=frozenset((0x66,))) for op in (0x14, 0x15, 0x16, 0x17)}

# VEX and EVEX: (map, opcode) -> Write; mand uses the prefix bytes pp stands for.
_PP = (0, 0x66, 0xF3, 0xF2)
VEX_OPS: dict[tuple[int, int], Write] = {
    (1, 0x50): Write(REG, mand=_NONE_66), (1, 0x7E): Write(RM, mand=frozenset((0x66,))),
    (1, 0xC5): Write(REG, mand=frozenset((0x66,))), (1, 0xD7): Write(REG, mand=frozenset((0x66,))),
    (1, 0x2C): Write(REG, mand=_F3F2), (1, 0x2D): Write(REG, mand=_F3F2),
    (1, 0x93): Write(REG, mand=frozenset((0, 0x66, 0xF2))),     # kmov to a general register
    (2, 0xF2): Write(REG, mand=frozenset((0,))),                # andn
    (2, 0xF3): Write(VVVV, group=_g(1, 2, 3), mand=frozenset((0,))),   # blsr, blsmsk, blsi
    (2, 0xF5): Write(REG, mand=frozenset((0, 0xF3, 0xF2))),     # bzhi, pext, pdep
    (2, 0xF6): Write(REG | VVVV, mand=frozenset((0xF2,))),      # mulx
    (2, 0xF7): Write(REG),                                      # bextr, shlx, sarx, shrx
    (3, 0xF0): Write(REG, mand=frozenset((0xF2,))),             # rorx
}
for _op in (0x14, 0x15, 0x16, 0x17):
    VEX_OPS[(3, _op)] = Write(RM, mand=frozenset((0x66,)))      # pextr*, extractps
EVEX_OPS: dict[tuple[int, int], Write] = {
    (1, 0x7E): Write(RM, mand=frozenset((0x66,))), (1, 0xC5): Write(REG, mand=frozenset((0x66,))),
    (1, 0x2C): Write(REG, mand=_F3F2), (1, 0x2D): Write(REG, mand=_F3F2),
    (1, 0x78): Write(REG, mand=_F3F2), (1, 0x79): Write(REG, mand=_F3F2),
    (5, 0x2C): Write(REG, mand=frozenset((0xF3,))), (5, 0x2D): Write(REG, mand=frozenset((0xF3,))),
    (5, 0x78): Write(REG, mand=frozenset((0xF3,))), (5, 0x79): Write(REG, mand=frozenset((0xF3,))),
}
for _op in (0x14, 0x15, 0x16, 0x17):
    EVEX_OPS[(3, _op)] = Write(RM, mand=frozenset((0x66,)))


_ONE = {4: (SP,), 5: (BP,)}          # hardware register number -> (DWARF number,)


def hits(w: Write, op: int, modrm: int, rex: int) -> tuple[int, ...]:
    """The DWARF numbers of %rsp/%rbp that `w` writes, for this opcode byte,
    ModRM byte and REX prefix (rex 0: none), %rsp first.  The only place that
    decides, for the general path and the fast loop's tables alike."""
    where, byte, group, _mand = w
    if byte and not rex:
        return ()                  # reg8 4 and 5 are %ah and %ch without REX
    if where == OPREG:
        return _ONE.get((op & 7) | ((rex & 1) << 3), ())
    if where == ENTER:
        return (SP, BP)
    if group is not None and (modrm >> 3) & 7 not in group:
        return ()
    if where == REG:
        return _ONE.get(((modrm >> 3) & 7) | ((rex << 1) & 8), ())
    if where == RM:
        return _ONE.get((modrm & 7) | ((rex & 1) << 3), ()) if modrm >= 0xC0 else ()
    if where == RM_ANY:
        return _ONE.get((modrm & 7) | ((rex & 1) << 3), ())
    # BOTH: xchg, xadd
    out = _ONE.get(((modrm >> 3) & 7) | ((rex << 1) & 8), ())
    if modrm >= 0xC0:
        out = out + _ONE.get((modrm & 7) | ((rex & 1) << 3), ())
    return tuple(sorted(set(out), reverse=True))


def mandatory_prefix(prefixes: bytes) -> int:
    """The prefix that selects an 0F-map instruction: the last F2/F3, else 66."""
    for b in reversed(prefixes):
        if b in (0xF2, 0xF3):
            return b
    return 0x66 if 0x66 in prefixes else 0


def sp_bp_writes(code: bytes, p: int, end: int, rex: int, prefixes: bytes) -> tuple[int, ...]:
    """%rsp/%rbp (DWARF numbers) written by the instruction whose opcode (or
    VEX/EVEX prefix) is at p; `rex` is the REX byte in force (0: none),
    `prefixes` the legacy prefixes."""
    op = code[p]
    if op != 0x0F:
        w = ONE_BYTE.get(op)
        if w is None:
            return _vex_writes(code, p, end) if op in VEX_FIRST else ()
        if w[0] < OPREG:
            return hits(w, op, code[p + 1], rex) if p + 1 < end else ()
        q = p + 1
    else:
        if p + 1 >= end:
            return ()
        op = code[p + 1]
        if op == 0x38 or op == 0x3A:
            if p + 2 >= end:
                return ()
            w = (MAP_0F38 if op == 0x38 else MAP_0F3A).get(code[p + 2])
            op, q = code[p + 2], p + 3
        else:
            w = TWO_BYTE.get(op)
            q = p + 2
    if w is None:
        return ()
    if w.mand is not None and mandatory_prefix(prefixes) not in w.mand:
        return ()
    if w.where in (OPREG, ENTER):
        return hits(w, op, 0, rex)
    if q >= end:
        return ()
    return hits(w, op, code[q], rex)


def _vex_writes(code: bytes, p: int, end: int) -> tuple[int, ...]:
    first = code[p]
    if first == 0xC5:
        if p + 3 >= end:
            return ()
        b1 = code[p + 1]
        mmap, rbar, bbar, vvvv, pp, q, table = 1, b1 >> 7, 1, (~b1 >> 3) & 15, b1 & 3, p + 2, VEX_OPS
        rhi = 0
    elif first == 0xC4:
        if p + 4 >= end:
            return ()
        b1, b2 = code[p + 1], code[p + 2]
        mmap, rbar, bbar, vvvv, pp, q, table = b1 & 0x1F, b1 >> 7, (b1 >> 5) & 1, (~b2 >> 3) & 15, \
            b2 & 3, p + 3, VEX_OPS
        rhi = 0
    else:
        if p + 5 >= end:
            return ()
        b1, b2 = code[p + 1], code[p + 2]
        mmap, rbar, bbar, vvvv, pp, q, table = b1 & 7, b1 >> 7, (b1 >> 5) & 1, (~b2 >> 3) & 15, \
            b2 & 3, p + 4, EVEX_OPS
        rhi = 0 if (b1 >> 4) & 1 else 1             # EVEX.R' (inverted): registers 16-31
    w = table.get((mmap, code[q]))
    if w is None or (w.mand is not None and _PP[pp] not in w.mand):
        return ()
    modrm = code[q + 1]
    if w.group is not None and (modrm >> 3) & 7 not in w.group:
        return ()
    out: list[int] = []
    if w.where & REG and not rhi:
        r = ((modrm >> 3) & 7) + 8 * (1 - rbar)
        if r in _HW2DW_SPBP:
            out.append(_HW2DW_SPBP[r])
    if w.where == RM and modrm >= 0xC0:
        r = (modrm & 7) + 8 * (1 - bbar)
        if r in _HW2DW_SPBP:
            out.append(_HW2DW_SPBP[r])
    if w.where & VVVV and vvvv in _HW2DW_SPBP:
        out.append(_HW2DW_SPBP[vvvv])
    return tuple(sorted(set(out), reverse=True))


def write_row(w: Write | None, op: int, rex: int) -> bytes:
    """For the fast loop: 256 flags, by the byte after the opcode (its ModRM),
    of whether the opcode with this REX (and no other prefix) writes %rsp or
    %rbp; the same `hits` as the general path decides each one."""
    if w is None or (w.mand is not None and 0 not in w.mand):
        return bytes(256)
    if w.where in (OPREG, ENTER):
        return (b"\1" if hits(w, op, 0, rex) else b"\0") * 256
    # `hits` reads mod only as "register (3) or memory": mod 0 stands for 1 and 2
    mem = bytes(1 if hits(w, op, m, rex) else 0 for m in range(0x40))
    return mem * 3 + bytes(1 if hits(w, op, m, rex) else 0 for m in range(0xC0, 0x100))
