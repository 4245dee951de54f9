# SPDX-License-Identifier: GPL-2.0-only
"""x86-64 switch jump tables in linked files, whose entries the linker resolved.

Position-independent code (every shared library) switches through a table
of 32-bit offsets from the table's own start:

    cmp    $N, %eI ; ja default           (the table has N + 1 entries)
    lea    TABLE(%rip), %rB
    movslq (%rB, %rI, 4), %rT
    add    %rB, %rT
    [notrack] jmp *%rT

In an object each entry carries a relocation, which is how objtool (and
jumptables.py) finds a table; a linked file has none, and without its
targets the `jmp` looks like a tail call through a register, reported as
"sibling call ... with modified stack frame" (1,095 times in libLLVM).  So
for linked files this reads the entries from the bytes: each target is
TABLE + entry.  Objects are left to objtool's method.
"""
from __future__ import annotations

import re

from orcgen.elf import ET_REL, SHT_NOBITS

WINDOW = 32                  # instructions looked at before the jmp
MAX_ENTRIES = 4096           # without a bound from a cmp
_REG = re.compile(r"%(\w+)")
_FAMILY = {}
for _n, _names in enumerate((
        ("rax", "eax", "ax", "al"), ("rcx", "ecx", "cx", "cl"), ("rdx", "edx", "dx", "dl"),
        ("rbx", "ebx", "bx", "bl"), ("rsp", "esp", "sp", "spl"), ("rbp", "ebp", "bp", "bpl"),
        ("rsi", "esi", "si", "sil"), ("rdi", "edi", "di", "dil"))):
    for _r in _names:
        _FAMILY[_r] = _names[0]
for _k in range(8, 16):
    for _suffix in ("", "d", "w", "b"):
        _FAMILY["r%d%s" % (_k, _suffix)] = "r%d" % _k


def _family(reg: str) -> str:
    return _FAMILY.get(reg, reg)


def _dest(op: str) -> str | None:
    """The register an AT&T instruction writes (its last operand), if one."""
    regs = op.rsplit(",", 1)[-1].strip()
    return _family(regs[1:]) if regs.startswith("%") else None


def _mnemonic_and_operands(text: str) -> tuple[str, str]:
    """`notrack jmpq *%rax` -> ("jmpq", "*%rax"): the prefix does not matter here."""
    if text.startswith("notrack "):
        text = text[len("notrack "):]
    m, _, ops = text.partition(" ")
    return m, ops


def switch_targets(p, i: int) -> list[int] | None:
    """Instruction indices the indirect jump at instruction i reaches through
    a PC-relative table, in a linked file; None where it is no such jump."""
    if p.elf.type == ET_REL:
        return None
    f = p.func(i)
    if f is None:
        return None
    cs = p.sec_of[i]
    first = i
    while first > cs.first and i - first < WINDOW and p.func(first - 1) is f:
        first -= 1
    data = p.section_bytes(cs.sec)
    start, end = p.insn.off[first], p.insn.off[i] + p.insn.size[i]
    insns = p.be.disassemble(data[start:end], start)       # (offset, length, "mnemonic ops")
    if not insns or insns[-1][0] != p.insn.off[i]:
        return None
    text = [(off, n) + _mnemonic_and_operands(t) for off, n, t in insns]
    m, ops = text[-1][2], text[-1][3]
    if not m.startswith("jmp") or not ops.startswith("*%"):
        return None
    target = _family(ops[2:])
    k = len(text) - 1

    def writer(reg: str, below: int):
        """The last instruction before `below` writing `reg`: its position."""
        for j in range(below - 1, -1, -1):
            if _dest(text[j][3]) == reg and not text[j][2].startswith(("cmp", "test", "j")):
                return j
        return -1

    j_add = writer(target, k)
    if j_add < 0 or not text[j_add][2].startswith("add"):
        return None
    srcs = _REG.findall(text[j_add][3])
    if len(srcs) != 2:
        return None
    base = _family(srcs[0])
    j_load = writer(target, j_add)
    load = re.fullmatch(r"\(%(\w+), %(\w+), 4\), %(\w+)", text[j_load][3]) if j_load >= 0 else None
    if load is None or not text[j_load][2].startswith("movsl") or _family(load.group(1)) != base:
        return None
    index = _family(load.group(2))
    j_lea = writer(base, j_load)
    lea = re.fullmatch(r"(-?0x[0-9a-f]+|\d+)\(%rip\), %\w+", text[j_lea][3]) if j_lea >= 0 else None
    if lea is None or not text[j_lea][2].startswith("lea"):
        return None
    # the table's address, as the file's sections place it
    table = cs.sec.addr + text[j_lea][0] + text[j_lea][1] + int(lea.group(1), 0)
    count = _bound(text, j_load, index)
    tsec = next((s for s in p.elf.sections if s.addr <= table < s.addr + s.size
                 and s.type != SHT_NOBITS and s.addr), None)
    if tsec is None:
        return None
    tdata = p.section_bytes(tsec)
    toff = table - tsec.addr
    out: list[int] = []
    for n in range(count if count is not None else MAX_ENTRIES):
        o = toff + 4 * n
        if o + 4 > len(tdata):
            break
        dest = table + int.from_bytes(tdata[o:o + 4], "little", signed=True) - cs.sec.addr
        d = p.find(cs.sec.index, dest)
        fd = p.func(d) if d >= 0 else None
        if fd is None or fd.pfunc is not f.pfunc:
            if count is not None:
                return None           # a bounded table with a wild entry: not understood
            break
        out.append(d)
    return out or None


def _bound(text, below: int, index: str) -> int | None:
    """N + 1 from the `cmp $N, %eI` (and its `ja`) that guards the index, if
    the window holds one: the register itself, or one copied into it."""
    regs = {index}
    for j in range(below - 1, -1, -1):
        m, ops = text[j][2], text[j][3]
        if m.startswith("mov") and _dest(ops) in regs:
            srcs = _REG.findall(ops)
            if len(srcs) == 2 and not ops.startswith("("):
                regs.add(_family(srcs[0]))
            continue
        if m.startswith("cmp"):
            c = re.fullmatch(r"\$(0x[0-9a-f]+|\d+), %(\w+)", ops)
            if c and _family(c.group(2)) in regs and any(t[2] == "ja" for t in text[j + 1:below]):
                return int(c.group(1), 0) + 1
    return None
