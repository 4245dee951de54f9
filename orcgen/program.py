# SPDX-License-Identifier: GPL-2.0-only
"""One object's code, decoded, with the per-instruction facts the analysis adds.

Instructions of all code sections share one index space (section order, then
address order), so "the next instruction" is `i + 1` while it stays in the same
section.  What the decoder says is frozen in `insn[i]`; what the analysis learns
(jump and call destinations, alternatives, hints, the state computed at each
instruction) lives in parallel lists indexed the same way.  objtool keeps the
same things in `struct instruction`; parallel lists keep Python's per-instruction
cost low.
"""
from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field

from .backend import Backend
from .cfi import Cfi, CfiState
from .decodecache import decode_section
from .elf import ET_REL, SHF_EXECINSTR, STT_FUNC, STT_NOTYPE, ElfFile, Reloc, Section
from .errors import InputError
from .findings import Fatal, Finding
from .insn import Insn, Kind, kind_indices
from .insntable import InsnTable
from .linked_decode import crosses_a_start, decode_by_function, in_func
from .options import Options
from .symbols import Sym, SymbolTable


@dataclass
class CodeSection:
    """An executable section and the range of instruction indices it holds."""
    sec: Section
    first: int = 0
    end: int = 0
    by_off: "OffsetIndex | dict[int, int]" = field(default_factory=dict)
    relocs: "dict[int, int] | None" = None   # instruction index -> its first relocation's row (reloc_in)
    text: bool = True        # gets ORC (objtool: not .altinstr_replacement/.altinstr_aux/.discard.*)
    noinstr: bool = False
    init: bool = False

    @property
    def name(self) -> str:
        return self.sec.name


_BLOCK = 4          # log2 of OffsetIndex's block size


class Sparse(dict):
    """A per-instruction column that few instructions set: `col[i]` is None
    where unset.  Four such columns as lists had cost 32 bytes an instruction
    (libLLVM: 13 million instructions), for values most of them never have."""
    __slots__ = ()

    def __missing__(self, i: int) -> None:
        return None


class SparseFlags(dict):
    """A per-instruction number that few instructions set (an annotation's
    mark): `col[i]` is 0 where unset, as in a bytearray, which had cost a
    byte an instruction for a handful of marks."""
    __slots__ = ()

    def __missing__(self, i: int) -> int:
        return 0


class OffsetIndex:
    """Instruction start offset -> instruction index, for one code section.

    For each 16-byte block of the section, the index of the first instruction
    starting in or after it; a lookup searches the few instructions of one
    block in the table's offset column.  A quarter of a byte per byte of code:
    a dense array (4 bytes per byte) had been 235 MB of libLLVM's peak, and
    a dict about 70 bytes per instruction."""
    __slots__ = ("_blocks", "_off")

    def __init__(self, size: int, offsets, first: int, end: int) -> None:
        """`offsets[first:end]` are the section's instruction offsets, in order."""
        nblocks = (size >> _BLOCK) + 2
        blocks = array("i", [end]) * nblocks
        b = 0
        for k in range(first, end):
            o = offsets[k] >> _BLOCK
            if o == b:                      # the first instruction starting in block o
                blocks[b] = k
                b += 1
            elif o > b:                     # and the blocks before it, with none starting in them
                blocks[b:o + 1] = array("i", [k]) * (o + 1 - b)
                b = o + 1
        self._blocks, self._off = blocks, offsets

    def at_or_before(self, offset: int) -> int:
        """The index of the last instruction starting at or before `offset`
        (the one containing it, if any does), or `first` - 1 if none starts
        that early: a few reads in one block, where a binary search of the
        offsets reads about twenty."""
        b = offset >> _BLOCK
        blocks, off = self._blocks, self._off
        if b < 0:
            return blocks[0] - 1
        if b >= len(blocks) - 1:
            return blocks[-1] - 1
        k = blocks[b]
        end = blocks[-1]
        while k < end and off[k] <= offset:
            k += 1
        return k - 1

    def get(self, offset: int, default=None):
        b = offset >> _BLOCK
        if 0 <= b < len(self._blocks) - 1:
            lo, hi = self._blocks[b], self._blocks[b + 1]
            off = self._off
            while lo < hi:                  # at most a block's worth
                o = off[lo]
                if o >= offset:
                    return lo if o == offset else default
                lo += 1
        return default

    def __contains__(self, offset: int) -> bool:
        return self.get(offset) is not None

    def __getitem__(self, offset: int) -> int:
        k = self.get(offset)
        if k is None:
            raise KeyError(offset)
        return k


class SectionOf:
    """Instruction index -> its CodeSection.  A section's instructions are
    one run of indices, so a search of the sections' first indices answers
    it; a list had cost 8 bytes an instruction (libLLVM: 110 MB).  The
    analysis' padding NOPs come after every section's run, each in its own."""
    __slots__ = ("_firsts", "_sections", "_extra", "_end", "_last")

    def __init__(self) -> None:
        self._last: CodeSection | None = None      # the last answer: lookups come in runs
        self._firsts: list[int] = []
        self._sections: list[CodeSection] = []
        self._extra: dict[int, CodeSection] = {}
        self._end = 0

    def add_run(self, cs: CodeSection) -> None:
        """Indices cs.first..cs.end-1 are `cs`'s (sections come in index order)."""
        if cs.end > cs.first:
            self._firsts.append(cs.first)
            self._sections.append(cs)
            self._end = cs.end

    def append(self, i: int, cs: CodeSection) -> None:
        """Index i, after every run, is `cs`'s."""
        self._extra[i] = cs

    def __getitem__(self, i: int) -> CodeSection:
        cs = self._last
        if cs is not None and cs.first <= i < cs.end:
            return cs
        if i < 0 or i >= self._end:
            cs = self._extra.get(i)
            if cs is None:
                raise IndexError(i)
            return cs
        cs = self._last = self._sections[bisect.bisect_right(self._firsts, i) - 1]
        return cs


@dataclass
class AltGroup:
    """The instructions of one alternative (original or replacement) and the
    flattened per-byte states shared by all alternatives of one site."""
    orig_group: "AltGroup | None"
    first: int
    last: int
    nop: int = -1                       # index of the synthetic padding NOP, if any
    cfi: list = field(default_factory=list)


class Program:
    """The decoded code of one object file plus the analysis' per-instruction facts."""

    def __init__(self, elf: ElfFile, backend: Backend, opts: Options, cache=None) -> None:
        self.elf, self.be, self.opts, self.abi = elf, backend, opts, backend.abi
        self.cache = cache
        self.symtab = SymbolTable(elf)
        self.symtab.classify(backend)
        self.syms: list[Sym] = self.symtab.syms
        self.findings: list[Finding] = []
        self.noreturn_memo: dict | None = None    # cfg.dead_end_function's, while it may keep one
        self.finding_insn: list[int] = []       # the instruction of each finding, -1 for none
        self._code: dict[int, bytes] = {}
        self.ignore_unreachables = opts.no_unreachable
        self.has_hints = False
        # The three states objtool starts from: nothing known, a callable
        # function's entry, and "deliberately undefined" (UNWIND_HINT_UNDEFINED).
        self.init_cfi = CfiState(self.abi.num_regs).freeze()
        self.func_cfi = CfiState.function_entry(self.abi).freeze()
        undefined = CfiState(self.abi.num_regs)
        undefined.force_undefined = True
        self.force_undefined_cfi = undefined.freeze()
        self.rodata = {s.index for s in elf.sections
                       if (s.name.startswith(".rodata") and ".str1." not in s.name)
                       or s.name.startswith(".data.rel.ro")}
        self.code: list[CodeSection] = []
        self.code_by_secno: dict[int, CodeSection] = {}
        self.insn = InsnTable()
        self.sec_of = SectionOf()
        self.undecoded: dict[int, list[tuple[int, int]]] = {}   # secno -> byte ranges skipped
        self._plt: dict[int, str] | None = None                 # PLT stub address -> callee
        self._decode_all()
        n = len(self.insn)
        self.kind = bytearray(self.insn.kind_bytes())   # the analysis' own copy: passes change kinds
        self.ops: list[tuple] = self.insn.ops_list()
        self.sym: list[Sym | None] = [None] * n
        # Integer columns as arrays: 4 bytes an instruction and no int object
        # per value, where a list holds an 8-byte pointer to one (vmlinux.o: 5 M).
        self.jump_dest = array("i", [-1]) * n
        # Set for few instructions: index -> value, None where unset.
        self.call_dest: Sparse = Sparse()         # Sym
        self.jump_table: Sparse = Sparse()        # Reloc, or ("relative", targets)
        self.alts: Sparse = Sparse()              # list[tuple[int, bool]]
        self.alt_group: Sparse = Sparse()         # AltGroup
        self.first_jump_src = array("i", [-1]) * n
        self.dead_end = bytearray(n)
        self.ignore = bytearray(n)
        self.ignore_alts = bytearray(n)
        self.hint = bytearray(n)
        self.visited = bytearray(n)
        # annotations' marks (unwind hint save/restore, retpoline_safe,
        # instrumentation_begin/end's +1/-1)
        self.save, self.restore = SparseFlags(), SparseFlags()
        self.retpoline_safe, self.instr = SparseFlags(), SparseFlags()
        self.cfi: list[Cfi | None] = [None] * n
        for i in self.with_kind(Kind.BUG):     # ud2 is a dead end unless annotated reachable
            self.dead_end[i] = 1
        self._assign_symbols()

    # -- decoding --------------------------------------------------------------

    def _code_bytes(self, sec: Section, funcs) -> bytes:
        """A code section's bytes as the decoder sees them: where the ABI marks
        data inside code with mapping symbols (AArch64 ELF: `$d` until the next
        `$x`), the data is replaced by the back-end's NOP, so that a KCFI type
        hash or a literal pool is neither decoded as an instruction (nor
        reported as an unreachable one) nor able to make decoding fail."""
        data = self.section_bytes(sec)
        filler = getattr(self.be, "data_filler", None)
        if not filler:
            return data
        marks = sorted((m.offset, m.name[1]) for m in funcs.ordered
                       if m.name[:2] in ("$d", "$x") and (len(m.name) == 2 or m.name[2] == "."))
        if not any(k == "d" for _o, k in marks):
            return data
        out = bytearray(data)
        w = len(filler)
        for (off, k), (end, _k) in zip(marks, marks[1:] + [(len(data), "x")]):
            if k != "d":
                continue
            a, b = off - off % w, min(end, len(data))
            out[a:b] = filler * ((b - a) // w) + bytes((b - a) % w)
        return bytes(out)

    def _decode_all(self) -> None:
        elf = self.elf
        for sec in elf.sections:
            if not sec.flags & SHF_EXECINSTR or sec.type == 8:     # SHT_NOBITS
                continue
            cs = CodeSection(sec)
            cs.text = sec.name not in (".altinstr_replacement", ".altinstr_aux") and \
                not sec.name.startswith(".discard.")
            cs.noinstr = sec.name in (".noinstr.text", ".entry.text", ".cpuidle.text") or \
                sec.name.startswith(".text..__x86.")
            cs.init = sec.name == ".init.text" and not self.opts.module
            funcs = self.symtab.section(sec.index)
            data = self._code_bytes(sec, funcs)
            decoded, failure = decode_section(self.be, data, funcs, in_func(funcs, 0), self.cache)
            cs.first = len(self.insn)
            if failure is not None and elf.type == ET_REL:
                raise Fatal("decode", "can't decode instruction at %s:0x%x" % (sec.name, failure.offset))
            if elf.type != ET_REL and (failure is not None or crosses_a_start(decoded, funcs, len(data))):
                decoded = decode_by_function(self, sec, funcs, data, decoded)
            self.insn.extend(decoded)
            cs.by_off = OffsetIndex(sec.size, self.insn.off, cs.first, len(self.insn))
            del decoded
            cs.end = len(self.insn)
            self.sec_of.add_run(cs)
            self.code.append(cs)
            self.code_by_secno[sec.index] = cs

    def _assign_symbols(self) -> None:
        """Which function each instruction belongs to (objtool's decode_instructions)."""
        for cs in self.code:
            for f in self.symtab.section(cs.sec.index).ordered:
                if f.type not in (STT_NOTYPE, STT_FUNC):
                    continue
                if f.offset == cs.sec.size:
                    if f.type == STT_NOTYPE:
                        continue          # an "end" label
                    raise Fatal("symbol", "%s(): STT_FUNC at end of section" % f.name)
                if f.embedded_insn or f.alias is not f:
                    continue
                start = cs.by_off.get(f.offset)
                if start is None and any(a <= f.offset < b for a, b in self.undecoded.get(cs.sec.index, ())):
                    continue              # starts in bytes that did not decode: already reported
                if start is None:
                    raise Fatal("symbol", "%s(): can't find starting instruction" % f.name)
                stop = bisect.bisect_left(self.insn.off, f.offset + f.len, start, cs.end)
                self.sym[start:stop] = [f] * (stop - start)
        for f in self.syms:        # a damaged symbol table: a .cold part starting in other code
            c = f.cfunc
            j = self.find(c.sec, c.offset) if c is not f and f.type == STT_FUNC else -1
            if j >= 0 and self.sym[j] is not c.alias:
                raise Fatal("symbol", "%s(): cold part %s() does not start with an instruction "
                            "of its own" % (f.name, c.name))

    def add_fake_nop(self, cs: CodeSection, offset: int, length: int, sym: Sym | None) -> int:
        """A padding NOP that exists only in the analysis (objtool's alt_group->nop)."""
        self.insn.append(Insn(offset, length, Kind.NOP))       # and to self.ops, the same list
        self.sec_of.append(len(self.insn) - 1, cs)
        for lst, val in ((self.kind, Kind.NOP), (self.sym, sym),
                         (self.jump_dest, -1), (self.first_jump_src, -1),
                         (self.cfi, None)):
            lst.append(val)
        for arr in (self.dead_end, self.ignore, self.ignore_alts, self.hint, self.visited):
            arr.append(0)
        return len(self.insn) - 1

    # -- navigation --------------------------------------------------------------

    def find(self, secno: int, offset: int) -> int:
        cs = self.code_by_secno.get(secno)
        if cs is None:
            return -1
        return cs.by_off.get(offset, -1)

    def next_same_sec(self, i: int) -> int:
        j = i + 1
        return j if j < self.sec_of[i].end else -1

    def prev_same_sec(self, i: int) -> int:
        return i - 1 if i > self.sec_of[i].first else -1

    def padding_before(self, i: int, size: int) -> int:
        """The first of the NOPs that fill exactly the `size` bytes before
        instruction i in its section (a function's --prefix padding), or -1."""
        kind, off, nop = self.kind, self.insn.off, Kind.NOP
        first, at = self.sec_of[i].first, off[i]
        j = i - 1
        while j >= first and kind[j] == nop:
            gap = at - off[j]
            if gap >= size:
                return j if gap == size else -1
            j -= 1
        return -1

    def insn_call_dest(self, i: int) -> Sym | None:
        """objtool's insn_call_dest(): a direct call's or jump's destination symbol."""
        return None if self.kind[i] in (Kind.JUMP_DYNAMIC, Kind.CALL_DYNAMIC) else self.call_dest[i]

    def func(self, i: int) -> Sym | None:
        """objtool's insn_func(): the STT_FUNC symbol an instruction belongs to."""
        s = self.sym[i]
        return s if s is not None and s.type == STT_FUNC else None

    def prev_same_sym(self, i: int) -> int:
        j = self.prev_same_sec(i)
        return j if j >= 0 and self.func(j) is self.func(i) else -1

    def next_same_func(self, i: int) -> int:
        f = self.func(i)
        if f is None:
            return -1
        j = self.next_same_sec(i)
        if j >= 0 and self.func(j) is f:
            return j
        if f.cfunc is f:
            return -1
        return self.find(f.cfunc.sec, f.cfunc.offset)

    def func_ranges(self, f: Sym) -> list[tuple[int, int]]:
        """objtool's func_for_each_insn() as index ranges: the function, then its
        .cold part.  Each part is entered once, so overlapping symbols cannot
        make it loop.  Ranges, not a generator of indices: the passes over every
        function of vmlinux.o asked for 23 million indices one by one."""
        i = self.find(f.sec, f.offset)
        out: list[tuple[int, int]] = []
        entered = set()
        sym = self.sym
        while i >= 0 and i not in entered:
            entered.add(i)
            part = sym[i] if sym[i] is not None and sym[i].type == STT_FUNC else None
            if part is None:
                out.append((i, i + 1))     # objtool visits the first instruction even so
                break
            end = self.sec_of[i].end
            j = i
            while j < end and sym[j] is part:
                j += 1
            out.append((i, j))
            if part.cfunc is part:
                break
            i = self.find(part.cfunc.sec, part.cfunc.offset)
        return out

    def func_insns(self, f: Sym):
        """The indices of func_ranges(f), in order."""
        for a, b in self.func_ranges(f):
            yield from range(a, b)

    def section_insns(self, cs: CodeSection) -> range:
        return range(cs.first, cs.end)

    def with_kind(self, *kinds: Kind) -> array:
        """The instructions whose kind (now, after the passes so far) is one of `kinds`."""
        return kind_indices(self.kind, *kinds)

    def by_section(self, indices: list[int]):
        """(section, its share of `indices`) for each code section, in order;
        `indices` sorted.  The analysis' own padding NOPs (after every
        section's range) are left out, as section_insns leaves them."""
        lo = 0
        for cs in self.code:
            lo = bisect.bisect_left(indices, cs.first, lo)
            hi = bisect.bisect_left(indices, cs.end, lo)
            yield cs, indices[lo:hi]
            lo = hi

    # -- relocations and symbols -------------------------------------------------

    def reloc_in(self, i: int) -> Reloc | None:
        """objtool's insn_reloc(): the first relocation inside the instruction's bytes."""
        cs = self.sec_of[i]
        if cs.first <= i < cs.end:
            k = self.first_relocs(cs).get(i)
            return None if k is None else self.elf.relocs(cs.sec).get(k)
        ins = self.insn[i]                     # a padding NOP of the analysis' own
        return self.elf.relocs(cs.sec).in_range(ins.offset, ins.length)

    def insns_with_relocs(self, cs: CodeSection) -> list[int]:
        """The section's instructions that have a relocation, in order."""
        return list(self.first_relocs(cs))      # filled in offset order

    def first_relocs(self, cs: CodeSection) -> dict[int, int]:
        """Instruction index -> the row (in the section's RelocTable) of its
        first relocation, for the instructions that have one.  Found in one
        pass over the section's relocations (about one instruction in five
        has one) rather than a search per instruction, as vmlinux.o asks four
        million times; rows, not Relocs, because most askers only want to
        know whether there is one."""
        m = cs.relocs
        if m is None:
            m = cs.relocs = self._first_relocs(cs)
        return m

    def _first_relocs(self, cs: CodeSection) -> dict[int, int]:
        tab = self.elf.relocs(cs.sec)
        out: dict[int, int] = {}
        if not len(tab):
            return out
        off, size = self.insn.off, self.insn.size
        # OffsetIndex.at_or_before, in line: a million relocations in vmlinux.o
        blocks = cs.by_off._blocks
        nblocks, last = len(blocks) - 1, blocks[-1]
        end = -1                               # where the last instruction given a relocation ends
        for n, ro in enumerate(tab.offsets):   # sorted by offset: the first one in range wins
            if ro < end:
                continue                       # a later relocation of the same instruction
            b = ro >> _BLOCK
            if not 0 <= b < nblocks:
                continue                       # outside the section
            k = blocks[b]
            while k < last and off[k] <= ro:
                k += 1
            i = k - 1
            if i >= cs.first:
                e = off[i] + size[i]
                if ro < e:
                    out[i] = n
                    end = e
        return out

    def plt_callee(self, secno: int, offset: int) -> str | None:
        """The name of the function a PLT stub at (section, offset) calls, if
        it is one (linked files; the back-end reads the stubs)."""
        if self._plt is None:
            self._plt = {}
            stubs = getattr(self.be, "plt_stubs", None)
            got = self.elf.imported() if stubs is not None else {}
            if got:
                slots = stubs([(cs.sec.name, cs.sec.addr, self.elf.section_data(cs.sec)) for cs in self.code])
                self._plt = {a: got[s] for a, s in slots.items() if s in got}
        if not self._plt or not 0 <= secno < len(self.elf.sections):
            return None
        return self._plt.get(self.elf.sections[secno].addr + offset)

    def reloc_sym(self, r: Reloc) -> Sym:
        if not 0 <= r.sym < len(self.syms):
            raise InputError("relocation refers to missing symbol %d" % r.sym)
        return self.syms[r.sym]

    def section_named(self, name: str) -> Section | None:
        return self.elf.section_by_name(name)

    def rela_of(self, name: str) -> list[Reloc]:
        """Relocations of section `name`, in file order ([] if absent)."""
        sec = self.elf.section_by_name(name)
        if sec is None:
            return []
        return list(self.elf.relocs(sec).relocs)

    def secname(self, secno: int) -> str:
        return self.elf.sections[secno].name if 0 <= secno < len(self.elf.sections) else "?"

    # -- messages ----------------------------------------------------------------

    def offstr(self, secno: int, offset: int) -> str:
        """objtool's offstr(): func+0xOFF, else symbol+0xOFF, else section+0xOFF."""
        idx = self.symtab.section(secno)
        sym = None
        if self.elf.sections[secno].flags & SHF_EXECINSTR:
            sym = idx.containing(offset, func_only=True)
        if sym is None:
            sym = idx.containing(offset)
        if sym is not None:
            return "%s+0x%x" % (sym.name, offset - sym.offset)
        return "%s+0x%x" % (self.secname(secno), offset)

    def where(self, i: int) -> str:
        return self.offstr(self.sec_of[i].sec.index, self.insn.off[i])

    def warn_insn(self, i: int, kind: str, message: str) -> None:
        """A warning at an instruction; like objtool, one per symbol."""
        s = self.sym[i]
        if s is None or not s.warned:
            self.findings.append(Finding(kind, message, self.where(i)))
            self.finding_insn.append(i)
        if s is not None:
            s.warned = True

    def warn(self, kind: str, message: str) -> None:
        self.findings.append(Finding(kind, message))
        self.finding_insn.append(-1)

    def fatal_insn(self, i: int, kind: str, message: str) -> Fatal:
        return Fatal(kind, message, self.where(i), i)

    def section_bytes(self, sec: Section) -> bytes:
        """A section's bytes, read once (the ELF reader copies them on each call)."""
        code = self._code.get(sec.index)
        if code is None:
            code = self._code[sec.index] = self.elf.section_data(sec)
        return code

    def disasm(self, i: int) -> str:
        """Instruction `i` as text, for people (analysis never reads it)."""
        sec, ins = self.sec_of[i].sec, self.insn[i]
        b = self.section_bytes(sec)[ins.offset:ins.end]
        out = self.be.disassemble(b, ins.offset)
        return out[0][2] if out else "(bytes %s)" % b.hex()
