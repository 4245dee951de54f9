# SPDX-License-Identifier: GPL-2.0-only
"""The declared side: DWARF CFI rows from `.eh_frame` and `.debug_frame`.

pyelftools parses the entries (CIE/FDE headers, augmentations, the CFA
instruction lists), but its row decoder is not used: in 0.33 it raises on
DW_CFA_GNU_args_size, ignores DW_CFA_AARCH64_negate_ra_state and scales
DW_CFA_def_cfa_sf by the code alignment factor.  This module runs the CFA
instructions itself and keeps, for every rule, the instruction that set it, so
that a disagreement can name the line of CFI that caused it.

`get_dwarf_info()` is never called: it relocates every debug section in pure
Python (22 s on a large object).  The CFI sections are read directly, and in
relocatable objects an FDE's code section and start come from the relocation
against its initial_location field (with -ffunction-sections every FDE says
pc=0; only the relocation's symbol names the section).  In `.debug_frame` the
CIE pointers are relocated too; they are patched into a copy of the bytes
before parsing.  Linked files need no relocation: addresses map to sections.
"""
from __future__ import annotations

import bisect
import io
import struct
from dataclasses import dataclass
from typing import Callable

from . import dwarf_expr
from .elf import EM_AARCH64, ET_REL, SHF_EXECINSTR, ElfFile, Section

CFA_EXPR = -1            # CfaRule.reg when the CFA is a DWARF expression

# Register rule kinds.
SAME, UNDEF, OFFSET, VAL_OFFSET, REGISTER, EXPR, VAL_EXPR = (
    "same", "undefined", "offset", "val_offset", "register", "expression", "val_expression")


@dataclass(frozen=True)
class Origin:
    """The CFA instruction that set a rule, and the code offset where it took
    effect (-1: the CIE's initial instructions)."""
    text: str
    pc: int
    via: "Origin | None" = None      # restore_state: the origin of the rule it brought back

    def where(self, fmt: Callable[[int], str]) -> str:
        s = "CIE initial instructions: " + self.text if self.pc < 0 else \
            "%s at %s" % (self.text, fmt(self.pc))
        return s + (" (back to %s)" % self.via.where(fmt) if self.via is not None else "")


@dataclass(frozen=True)
class CfaRule:
    reg: int                 # DWARF register, or CFA_EXPR
    offset: int
    expr: bytes = b""


@dataclass(frozen=True)
class Rule:
    kind: str                # SAME, UNDEF, OFFSET, ...
    value: int = 0           # offset (OFFSET, VAL_OFFSET) or register (REGISTER)
    expr: bytes = b""


_SAME_RULE = Rule(SAME)


@dataclass(frozen=True)
class Loc:
    """Where a register's caller value is: "same" (still in the register),
    "at" CFA+off, "at_reg" reg+off (not translatable), "in" register `reg`,
    "val" (value is CFA+off), "undefined", or "expr" (not comparable)."""
    kind: str
    off: int = 0
    reg: int = 0


@dataclass(frozen=True)
class Row:
    """The unwind rules in force from `pc` (a section offset) to the next row."""
    pc: int
    cfa: CfaRule
    regs: tuple[tuple[int, Rule], ...]          # sorted by register; absent = same value
    ra_signed: bool                             # arm64: return address signed (PAC)
    args_size: int
    cfa_origin: Origin
    reg_origins: tuple[tuple[int, Origin], ...]
    ra_origin: Origin | None = None             # where ra_signed last changed

    def rule(self, reg: int) -> Rule:
        for r, rule in self.regs:
            if r == reg:
                return rule
        return _SAME_RULE

    def loc(self, reg: int, known: dict[int, int]) -> Loc:
        """Where this row says the caller's `reg` is, with register-based
        addresses (DW_CFA_expression `DW_OP_bregN k`) made CFA-relative through
        `known` ({reg: k} for registers whose value is CFA + k) where possible."""
        rule = self.rule(reg)
        k = rule.kind
        if k in (SAME, UNDEF):
            return Loc(k if k == UNDEF else "same")
        if k in (OFFSET, VAL_OFFSET):
            return Loc("at" if k == OFFSET else "val", rule.value)
        if k == REGISTER:
            return Loc("in", 0, rule.value)
        if k == EXPR:
            v = dwarf_expr.evaluate(rule.expr, dwarf_expr.Value(-2, 0))
            if v is not None and not v.deref:
                if v.reg == -2:
                    return Loc("at", v.offset)
                if v.reg in known:
                    return Loc("at", known[v.reg] + v.offset)
                return Loc("at_reg", v.offset, v.reg)
        return Loc("expr")

    def origin(self, reg: int) -> Origin | None:
        for r, o in self.reg_origins:
            if r == reg:
                return o
        return None


@dataclass(frozen=True)
class Fde:
    """One FDE, resolved to the code it covers: [start, end) of section `secno`."""
    source: str              # ".eh_frame" or ".debug_frame"
    offset: int              # of the FDE in its CFI section
    secno: int               # code section index, -1 if unresolved
    start: int
    end: int
    ra_column: int
    signal_frame: bool
    rows: tuple[Row, ...]
    problems: tuple[str, ...] = ()

    def row_at(self, off: int) -> Row | None:
        """The row in force before the instruction at `off`."""
        if not self.start <= off < self.end or not self.rows:
            return None
        k = bisect.bisect_right([r.pc for r in self.rows], off) - 1
        return self.rows[k] if k >= 0 else None


@dataclass(frozen=True)
class CfiTable:
    """All FDEs of one CFI section, sorted by (section, start, FDE offset)."""
    source: str | None       # None: the file has no CFI
    fdes: tuple[Fde, ...]
    problems: tuple[str, ...]


def decl_cfa_text(row: Row, rn) -> str:
    if row.cfa.reg == CFA_EXPR:
        v = dwarf_expr.evaluate(row.cfa.expr)
        if v is not None and v.deref:
            return "*(%s%+d)%s" % (rn(v.reg), v.offset, "%+d" % v.addend if v.addend else "")
        return "expr(%s)" % dwarf_expr.text(row.cfa.expr, rn)
    return "%s%+d" % (rn(row.cfa.reg), row.cfa.offset)


def row_text(row: Row | None, rn, ra_col: int) -> str:
    """Compact one-line row: `cfa=rsp+16 rbp=c-16 ra=c-8`."""
    if row is None:
        return "(no row)"
    parts = ["cfa=" + decl_cfa_text(row, rn)]
    for r, rule in row.regs:
        name = "ra" if r == ra_col else rn(r)
        short = {OFFSET: "c%+d" % rule.value, VAL_OFFSET: "v:c%+d" % rule.value,
                 REGISTER: "=" + rn(rule.value), UNDEF: "u", SAME: "s",
                 EXPR: "exp", VAL_EXPR: "vexp"}[rule.kind]
        if rule.kind == EXPR:
            v = dwarf_expr.evaluate(rule.expr, dwarf_expr.Value(-2, 0))
            if v is not None and not v.deref:
                short = "c%+d" % v.offset if v.reg == -2 else "%s%+d" % (rn(v.reg), v.offset)
        parts.append("%s=%s" % (name, short))
    if row.ra_signed:
        parts.append("ra:signed")
    return " ".join(parts)


# -- reading -------------------------------------------------------------------

def read_cfi(elf: ElfFile, prefer: str = "auto",
             reg_name: Callable[[int], str] | None = None) -> CfiTable:
    """The CFI of `elf`: `.eh_frame` if it has one (what unwinders use), else
    `.debug_frame`; `prefer` = "eh_frame" or "debug_frame" forces one."""
    names = {"auto": (".eh_frame", ".debug_frame"), "eh_frame": (".eh_frame",),
             "debug_frame": (".debug_frame",)}[prefer]
    for name in names:
        sec = elf.section_by_name(name)
        if sec is not None and sec.size and sec.type != 8:
            return read_section(elf, sec, reg_name or (lambda r: "r%d" % r))
    return CfiTable(None, (), ())


def _walk_entries(data: bytes, eh: bool):
    """(offset, id-field offset, id size, next offset) of every entry;
    a zero length ends `.eh_frame`."""
    off = 0
    while off + 4 <= len(data):
        length = struct.unpack_from("<I", data, off)[0]
        if length == 0:
            if eh:
                return
            off += 4
            continue
        if length == 0xFFFFFFFF:
            if off + 12 > len(data):
                return
            length = struct.unpack_from("<Q", data, off + 4)[0]
            idoff, idsize, nxt = off + 12, 8, off + 12 + length
        else:
            idoff, idsize, nxt = off + 4, 4, off + 4 + length
        yield off, idoff, idsize, min(nxt, len(data))
        off = nxt


def read_section(elf: ElfFile, sec: Section, reg_name: Callable[[int], str]) -> CfiTable:
    from elftools.dwarf.callframe import FDE, CallFrameInfo
    from elftools.dwarf.structs import DWARFStructs

    eh = sec.name == ".eh_frame"
    rel = elf.type == ET_REL
    data = bytearray(elf.section_data(sec))
    relocs = {r.offset: r for r in elf.relocs(sec).relocs} if rel else {}
    entries = list(_walk_entries(bytes(data), eh))
    if not eh and rel:
        # .debug_frame CIE pointers are section offsets, relocated in objects.
        for off, idoff, idsize, _ in entries:
            r = relocs.get(idoff)
            if r is not None and elf.symbol(r.sym).section == sec.index:
                val = elf.symbol(r.sym).offset + r.addend
                data[idoff:idoff + idsize] = val.to_bytes(idsize, "little", signed=val < 0)
    structs = DWARFStructs(little_endian=True, dwarf_format=32, address_size=8)
    cfi = CallFrameInfo(io.BytesIO(bytes(data)), len(data), 0 if rel else sec.addr,
                        structs, for_eh_frame=eh)
    problems: list[str] = []
    fdes: list[Fde] = []
    code = [s for s in elf.sections if s.flags & SHF_EXECINSTR and s.size]
    for off, idoff, idsize, _ in entries:
        try:
            entry = cfi._parse_entry_at(off)
        except Exception as e:          # pyelftools raises assorted types on bad input
            problems.append("%s entry at 0x%x: cannot parse (%s)" % (sec.name, off, e or type(e).__name__))
            continue
        if not isinstance(entry, FDE):
            continue
        loc_field = idoff + idsize
        r = relocs.get(loc_field)
        rng = entry.header["address_range"]
        if r is not None:
            s = elf.symbol(r.sym)
            secno, start = (s.section if s.section is not None else -1), s.offset + r.addend
        elif rel:
            secno, start = -1, entry.header["initial_location"]
        else:
            pc = entry.header["initial_location"]
            hit = next((c for c in code if c.addr <= pc < c.addr + c.size), None)
            secno, start = (hit.index, pc - hit.addr) if hit else (-1, pc)
        try:
            fdes.append(_decode(entry, sec.name, off, secno, start, rng, elf.machine, reg_name))
        except Exception as e:
            problems.append("%s FDE at 0x%x: cannot decode (%s)" % (sec.name, off, e))
    fdes.sort(key=lambda f: (f.secno, f.start, f.offset))
    return CfiTable(sec.name, tuple(fdes), tuple(problems))


# -- running the CFA instructions ------------------------------------------------

class _State:
    __slots__ = ("cfa", "regs", "ra_signed", "args_size", "cfa_org", "reg_org", "ra_org")

    def __init__(self) -> None:
        self.cfa = CfaRule(CFA_EXPR, 0, b"")
        self.regs: dict[int, Rule] = {}
        self.ra_signed = False
        self.args_size = 0
        self.cfa_org = Origin("no CFA rule", -1)
        self.reg_org: dict[int, Origin] = {}
        self.ra_org: Origin | None = None

    def copy(self) -> "_State":
        s = _State()
        s.cfa, s.regs, s.ra_signed, s.args_size = self.cfa, dict(self.regs), self.ra_signed, self.args_size
        s.cfa_org, s.reg_org, s.ra_org = self.cfa_org, dict(self.reg_org), self.ra_org
        return s

    def row(self, pc: int) -> Row:
        regs = tuple(sorted(self.regs.items()))
        orgs = tuple(sorted(self.reg_org.items()))
        return Row(pc, self.cfa, regs, self.ra_signed, self.args_size, self.cfa_org, orgs, self.ra_org)


def _decode(fde, source: str, off: int, secno: int, start: int, rng: int, machine: int,
            reg_name: Callable[[int], str]) -> Fde:
    cie = fde.cie
    caf, daf = cie["code_alignment_factor"], cie["data_alignment_factor"]
    ra_col = cie["return_address_register"]
    signal = bool(cie.augmentation_dict.get(True))      # 'S' augmentation
    problems: list[str] = []
    init = _State()
    _run(cie.instructions, init, None, -1, caf, daf, machine, reg_name, problems, None, 0)
    st = init.copy()
    rows: dict[int, Row] = {}
    raw_start = fde.header["initial_location"]
    _run(fde.instructions, st, init, start, caf, daf, machine, reg_name, problems, rows,
         start - raw_start)
    end = start + rng
    out = [r for pc, r in sorted(rows.items()) if pc < end]
    if any(pc > end for pc in rows):
        problems.append("CFA instructions advance past the end of the FDE")
    return Fde(source, off, secno, start, end, ra_col, signal, tuple(out), tuple(problems))


def _run(instrs, st: _State, init: _State | None, loc: int, caf: int, daf: int, machine: int,
         reg_name: Callable[[int], str], problems: list[str], rows: dict[int, Row] | None,
         set_loc_bias: int) -> None:
    """Execute CFA instructions on `st`; with `rows`, record a row at each location."""
    from elftools.dwarf.constants import DW_CFA
    stack: list[_State] = []
    rn = reg_name

    def org(text: str) -> Origin:
        return Origin(text, loc if rows is not None else -1)

    def set_reg(r: int, rule: Rule, text: str) -> None:
        st.regs[r] = rule
        st.reg_org[r] = org(text)

    for ins in instrs:
        op, a = ins.opcode, ins.args
        if op in (DW_CFA.advance_loc, DW_CFA.advance_loc1, DW_CFA.advance_loc2, DW_CFA.advance_loc4,
                  DW_CFA.set_loc):
            if rows is not None:
                rows[loc] = st.row(loc)
            loc = a[0] + set_loc_bias if op == DW_CFA.set_loc else loc + a[0] * caf
        elif op == DW_CFA.def_cfa:
            st.cfa, st.cfa_org = CfaRule(a[0], a[1]), org("DW_CFA_def_cfa: r%d (%s) ofs %d" % (a[0], rn(a[0]), a[1]))
        elif op == DW_CFA.def_cfa_sf:
            st.cfa = CfaRule(a[0], a[1] * daf)
            st.cfa_org = org("DW_CFA_def_cfa_sf: r%d (%s) ofs %d" % (a[0], rn(a[0]), a[1] * daf))
        elif op == DW_CFA.def_cfa_register:
            if st.cfa.reg == CFA_EXPR:
                problems.append("DW_CFA_def_cfa_register while the CFA is an expression")
            st.cfa = CfaRule(a[0], st.cfa.offset)
            st.cfa_org = org("DW_CFA_def_cfa_register: r%d (%s)" % (a[0], rn(a[0])))
        elif op in (DW_CFA.def_cfa_offset, DW_CFA.def_cfa_offset_sf):
            n = a[0] * daf if op == DW_CFA.def_cfa_offset_sf else a[0]
            if st.cfa.reg == CFA_EXPR:
                problems.append("DW_CFA_def_cfa_offset while the CFA is an expression")
            st.cfa = CfaRule(st.cfa.reg, n)
            st.cfa_org = org("%s: %d" % ("DW_CFA_def_cfa_offset_sf" if op == DW_CFA.def_cfa_offset_sf
                                         else "DW_CFA_def_cfa_offset", n))
        elif op == DW_CFA.def_cfa_expression:
            e = bytes(a[0])
            st.cfa = CfaRule(CFA_EXPR, 0, e)
            st.cfa_org = org("DW_CFA_def_cfa_expression (%s)" % dwarf_expr.text(e, rn))
        elif op in (DW_CFA.offset, DW_CFA.offset_extended, DW_CFA.offset_extended_sf):
            n = a[1] * daf
            name = {DW_CFA.offset: "DW_CFA_offset", DW_CFA.offset_extended: "DW_CFA_offset_extended",
                    DW_CFA.offset_extended_sf: "DW_CFA_offset_extended_sf"}[op]
            set_reg(a[0], Rule(OFFSET, n), "%s: r%d (%s) at cfa%+d" % (name, a[0], rn(a[0]), n))
        elif op in (DW_CFA.val_offset, DW_CFA.val_offset_sf):
            n = a[1] * daf
            set_reg(a[0], Rule(VAL_OFFSET, n), "DW_CFA_val_offset: r%d (%s) is cfa%+d" % (a[0], rn(a[0]), n))
        elif op == DW_CFA.register:
            set_reg(a[0], Rule(REGISTER, a[1]), "DW_CFA_register: r%d (%s) in r%d (%s)"
                    % (a[0], rn(a[0]), a[1], rn(a[1])))
        elif op == DW_CFA.undefined:
            set_reg(a[0], Rule(UNDEF), "DW_CFA_undefined: r%d (%s)" % (a[0], rn(a[0])))
        elif op == DW_CFA.same_value:
            set_reg(a[0], Rule(SAME), "DW_CFA_same_value: r%d (%s)" % (a[0], rn(a[0])))
        elif op in (DW_CFA.expression, DW_CFA.val_expression):
            e = bytes(a[1])
            kind, name = (EXPR, "DW_CFA_expression") if op == DW_CFA.expression else \
                (VAL_EXPR, "DW_CFA_val_expression")
            set_reg(a[0], Rule(kind, 0, e), "%s: r%d (%s) (%s)" % (name, a[0], rn(a[0]), dwarf_expr.text(e, rn)))
        elif op in (DW_CFA.restore, DW_CFA.restore_extended):
            r = a[0]
            text = "DW_CFA_restore%s: r%d (%s)" % ("" if op == DW_CFA.restore else "_extended", r, rn(r))
            if init is None:
                problems.append("DW_CFA_restore in a CIE")
            elif r in init.regs:
                set_reg(r, init.regs[r], text)
            else:
                st.regs.pop(r, None)
                st.reg_org[r] = org(text)
        elif op == DW_CFA.remember_state:
            stack.append(st.copy())
        elif op == DW_CFA.restore_state:
            if not stack:
                problems.append("DW_CFA_restore_state with nothing remembered")
                continue
            saved = stack.pop()
            cur_cfa, cur_regs = st.cfa, st.regs
            st.cfa, st.regs, st.ra_signed, st.ra_org = saved.cfa, saved.regs, saved.ra_signed, saved.ra_org
            if saved.cfa != cur_cfa:
                st.cfa_org = Origin("DW_CFA_restore_state", loc, saved.cfa_org)
            orgs: dict[int, Origin] = {}
            for r in set(saved.regs) | set(cur_regs) | set(saved.reg_org) | set(st.reg_org):
                if saved.regs.get(r) != cur_regs.get(r):
                    orgs[r] = Origin("DW_CFA_restore_state", loc, saved.reg_org.get(r))
                elif r in st.reg_org:
                    orgs[r] = st.reg_org[r]
                else:
                    orgs[r] = saved.reg_org[r]
            st.reg_org = orgs
        elif op == DW_CFA.GNU_args_size:
            st.args_size = a[0]
        elif op == DW_CFA.AARCH64_negate_ra_state:
            if machine == EM_AARCH64:
                st.ra_signed = not st.ra_signed
                st.ra_org = org("DW_CFA_AARCH64_negate_ra_state (return address now %s)"
                                % ("signed" if st.ra_signed else "unsigned"))
            else:
                problems.append("DW_CFA_GNU_window_save (0x2d) on a non-SPARC, non-arm64 target")
        elif op == DW_CFA.nop:
            continue
        else:
            problems.append("unhandled CFA instruction %s" % op)
    if rows is not None:
        rows[loc] = st.row(loc)
