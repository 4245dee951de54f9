# SPDX-License-Identifier: GPL-2.0-only
"""DWARF location expressions as they appear in CFI: text, and the few shapes
the comparison can use.

CFI expressions are rare and mostly formulaic: GCC's stack realignment (DRAP)
describes the CFA as `DW_OP_breg6 -8; DW_OP_deref` (CFA = *(rbp - 8)) and the
registers it saves as `DW_OP_breg6 -16` (saved at rbp - 16); kernels and
libcs describe signal frames with a `breg; deref` chain.  Rather than a full
DWARF stack machine, this module evaluates expressions symbolically over the
two forms the interpreter's model can express, `reg + k` and `*(reg + k) + k2`,
and gives up (None) on anything else: an expression it cannot reduce becomes
"not comparable" in the diff, never a guess and never a crash.
"""
from __future__ import annotations

from dataclasses import dataclass

# Opcodes with no operand, by name (DWARF 5, section 7.7.1).
_SIMPLE = {
    0x06: "deref", 0x12: "dup", 0x13: "drop", 0x14: "over", 0x16: "swap", 0x17: "rot",
    0x19: "abs", 0x1A: "and", 0x1B: "div", 0x1C: "minus", 0x1D: "mod", 0x1E: "mul",
    0x1F: "neg", 0x20: "not", 0x21: "or", 0x22: "plus", 0x24: "shl", 0x25: "shr",
    0x26: "shra", 0x27: "xor", 0x29: "eq", 0x2A: "ge", 0x2B: "gt", 0x2C: "le", 0x2D: "lt",
    0x2E: "ne", 0x96: "nop", 0x9C: "call_frame_cfa", 0x9F: "stack_value",
}
# Opcodes with fixed-size operands: (name, size, signed).
_FIXED = {
    0x08: ("const1u", 1, False), 0x09: ("const1s", 1, True), 0x0A: ("const2u", 2, False),
    0x0B: ("const2s", 2, True), 0x0C: ("const4u", 4, False), 0x0D: ("const4s", 4, True),
    0x0E: ("const8u", 8, False), 0x0F: ("const8s", 8, True), 0x94: ("deref_size", 1, False),
    0x2F: ("skip", 2, True), 0x28: ("bra", 2, True), 0x03: ("addr", 8, False),
}


@dataclass(frozen=True)
class Op:
    """One decoded operation: opcode, name and operands."""
    code: int
    name: str
    args: tuple[int, ...] = ()

    def text(self, reg_name=None) -> str:
        rn = reg_name or (lambda r: "r%d" % r)
        if self.name in ("breg", "bregx"):
            return "DW_OP_breg%d (%s): %d" % (self.args[0], rn(self.args[0]), self.args[1])
        if self.name in ("reg", "regx"):
            return "DW_OP_reg%d (%s)" % (self.args[0], rn(self.args[0]))
        if self.name == "lit":
            return "DW_OP_lit%d" % self.args[0]
        if self.args:
            return "DW_OP_%s: %s" % (self.name, " ".join(str(a) for a in self.args))
        return "DW_OP_%s" % self.name


@dataclass(frozen=True)
class Value:
    """What an expression computes, in a form the comparison can use:
    `reg + offset`, or with `deref`, `*(reg + offset) + addend`.
    `reg` is a DWARF register number; -2 means the CFA (DW_OP_call_frame_cfa)."""
    reg: int
    offset: int
    deref: bool = False
    addend: int = 0


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated LEB128")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated LEB128")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos


def decode(data: bytes) -> tuple[list[Op], str]:
    """The operations of an expression, and "" or why decoding stopped early."""
    ops: list[Op] = []
    pos = 0
    try:
        while pos < len(data):
            c = data[pos]
            pos += 1
            if 0x30 <= c <= 0x4F:
                ops.append(Op(c, "lit", (c - 0x30,)))
            elif 0x50 <= c <= 0x6F:
                ops.append(Op(c, "reg", (c - 0x50,)))
            elif 0x70 <= c <= 0x8F:
                off, pos = _sleb(data, pos)
                ops.append(Op(c, "breg", (c - 0x70, off)))
            elif c == 0x90:
                r, pos = _uleb(data, pos)
                ops.append(Op(c, "regx", (r,)))
            elif c == 0x92:
                r, pos = _uleb(data, pos)
                off, pos = _sleb(data, pos)
                ops.append(Op(c, "bregx", (r, off)))
            elif c in (0x10, 0x23):
                v, pos = _uleb(data, pos)
                ops.append(Op(c, "constu" if c == 0x10 else "plus_uconst", (v,)))
            elif c == 0x11:
                v, pos = _sleb(data, pos)
                ops.append(Op(c, "consts", (v,)))
            elif c in _FIXED:
                name, size, signed = _FIXED[c]
                if pos + size > len(data):
                    raise ValueError("truncated operand")
                v = int.from_bytes(data[pos:pos + size], "little", signed=signed)
                pos += size
                ops.append(Op(c, name, (v,)))
            elif c in _SIMPLE:
                ops.append(Op(c, _SIMPLE[c]))
            else:
                return ops, "unknown opcode 0x%02x" % c
    except ValueError as e:
        return ops, str(e)
    return ops, ""


def text(data: bytes, reg_name=None) -> str:
    """readelf-style text: `DW_OP_breg6 (rbp): -8; DW_OP_deref`."""
    ops, err = decode(data)
    parts = [o.text(reg_name) for o in ops]
    if err:
        parts.append("<%s>" % err)
    return "; ".join(parts) if parts else "<empty>"


def evaluate(data: bytes, initial: Value | None = None) -> Value | None:
    """Reduce an expression to a Value, or None when it is not one of the
    forms above.  `initial` is pushed first (DW_CFA_expression pushes the CFA).
    Control flow, arithmetic between two registers and deref of a deref are
    beyond the model on purpose."""
    ops, err = decode(data)
    if err:
        return None
    # Stack items: ("c", n) constants, or ("v", Value).
    stack: list[tuple] = [("v", initial)] if initial is not None else []
    for o in ops:
        n = o.name
        if n == "lit":
            stack.append(("c", o.args[0]))
        elif n in ("constu", "consts") or n.startswith("const"):
            stack.append(("c", o.args[0]))
        elif n in ("breg", "bregx"):
            stack.append(("v", Value(o.args[0], o.args[1])))
        elif n == "call_frame_cfa":
            stack.append(("v", Value(-2, 0)))
        elif n == "plus_uconst":
            if not stack:
                return None
            stack[-1] = _add(stack[-1], o.args[0])
            if stack[-1] is None:
                return None
        elif n in ("plus", "minus"):
            if len(stack) < 2:
                return None
            b, a = stack.pop(), stack.pop()
            if b[0] == "c":
                r = _add(a, b[1] if n == "plus" else -b[1])
            elif a[0] == "c" and n == "plus":
                r = _add(b, a[1])
            else:
                return None
            if r is None:
                return None
            stack.append(r)
        elif n == "deref":
            if not stack or stack[-1][0] != "v" or stack[-1][1].deref:
                return None
            v = stack[-1][1]
            stack[-1] = ("v", Value(v.reg, v.offset, True, 0))
        elif n == "nop":
            continue
        else:
            return None
    if not stack or stack[-1][0] != "v" or stack[-1][1] is None:
        return None
    return stack[-1][1]            # DWARF: the result is the top of the stack


def _add(item: tuple, k: int) -> tuple | None:
    if item[0] == "c":
        return ("c", item[1] + k)
    v: Value = item[1]
    if v.deref:
        return ("v", Value(v.reg, v.offset, True, v.addend + k))
    return ("v", Value(v.reg, v.offset + k))
