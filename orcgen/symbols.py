# SPDX-License-Identifier: GPL-2.0-only
"""Symbols as the analysis sees them: functions, their `.cold` parts, aliases.

The rules are objtool's (elf.c read_symbols/elf_add_symbol): a symbol covers
[offset, offset + size); zero-sized symbols cover nothing; of several symbols
with the same offset, type and size the last in the symbol table is the
canonical one (the others are aliases); a function `foo.cold` is the cold part
of `foo`, and when it sits at the end of `foo`'s extent it is cut out of it.
"""
from __future__ import annotations

import bisect
import operator
from itertools import accumulate

from .elf import STB_GLOBAL, STT_FUNC, STT_NOTYPE, STT_SECTION, ElfFile, Symbol
from .errors import InputError


class Sym:
    """One ELF symbol plus what the analysis learns about it."""
    __slots__ = ("index", "name", "type", "bind", "sec", "offset", "len", "value",
                 "pfunc", "cfunc", "alias", "warned", "local_label", "static_call_tramp",
                 "retpoline_thunk", "return_thunk", "embedded_insn", "fentry",
                 "profiling_func", "uaccess_safe")

    def __init__(self, s: Symbol) -> None:
        self.index, self.name, self.type, self.bind = s.index, s.name, s.type, s.bind
        self.sec = s.section if s.section is not None else 0
        self.offset, self.len, self.value = s.offset, s.size, s.value
        self.pfunc: Sym = self
        self.cfunc: Sym = self
        self.alias: Sym = self
        self.warned = False
        self.local_label = s.type == STT_NOTYPE and s.name.startswith(".L")
        self.static_call_tramp = self.retpoline_thunk = self.return_thunk = False
        self.embedded_insn = self.fentry = self.profiling_func = self.uaccess_safe = False

    @property
    def is_func(self) -> bool:
        return self.type == STT_FUNC

    def __repr__(self) -> str:
        return "<Sym %s sec=%d off=%#x len=%#x>" % (self.name, self.sec, self.offset, self.len)


def symbol_list(syms: list[Sym]) -> list[Sym]:
    """A section's symbols in the order of objtool's sec->symbol_list.

    elf_add_symbol() (in symbol-table order) puts each symbol into the interval
    tree (an equal offset goes after the ones already there), links it into the
    list right after its tree predecessor (or first, if it has none), and takes
    it out of the tree again if it has no size.  So the list is in address order
    except that a zero-size symbol is never anyone's predecessor: a later symbol
    at a higher address goes in before it.  `syms` is in symbol-table order.

    Replaying that with a sorted list costs an insertion in the middle per
    symbol (a second on vmlinux.o's .text, whose global symbols come after all
    the local ones).  But the tree's final order is known at the start (sized
    symbols by offset, then table order), so each symbol's predecessor, "the
    last symbol of that order at or below my offset already inserted", is
    found going backwards through the table, where insertions become
    removals: a union-find over the final order, each removed position
    pointing to the one before it."""
    sized = sorted((j for j, s in enumerate(syms) if s.len > 0), key=lambda j: syms[j].offset)
    offsets = [syms[j].offset for j in sized]
    rank = {j: k for k, j in enumerate(sized)}
    left = list(range(len(sized)))       # left[k] == k: position k is in the tree
    pred = [-1] * len(syms)               # tree predecessor on insertion, as a position
    find = bisect.bisect_right
    for j in range(len(syms) - 1, -1, -1):
        k = rank.get(j)
        if k is not None:
            left[k] = k - 1               # not in the tree before its own insertion
        x = find(offsets, syms[j].offset) - 1
        root = x
        while root >= 0 and left[root] != root:
            root = left[root]
        while x > root:                   # path compression
            up = left[x]
            left[x] = root
            x = up
        pred[j] = root
    head = -1
    nxt = [-1] * len(syms)
    for j, k in enumerate(pred):
        if k >= 0:
            p = sized[k]
            nxt[j], nxt[p] = nxt[p], j
        else:
            nxt[j], head = head, j
    out: list[Sym] = []
    node = head
    while node >= 0:
        out.append(syms[node])
        node = nxt[node]
    return out


_by_offset_then_index = operator.attrgetter("offset", "index")
_offset = operator.attrgetter("offset")
_len = operator.attrgetter("len")


class SectionSymbols:
    """The symbols of one section, for objtool's interval queries."""
    __slots__ = ("ordered", "tree", "starts", "max_end")

    def __init__(self, syms: list[Sym]) -> None:
        # sec_for_each_sym order (objtool's sec->symbol_list), not address order.
        self.ordered = symbol_list(syms)
        # The interval tree holds symbols with a size only, by offset.
        self.tree = sorted((s for s in syms if s.len > 0), key=_by_offset_then_index)
        self.starts = list(map(_offset, self.tree))
        # the furthest end among the symbols up to each one (in C: 120,000 in vmlinux.o's .text)
        self.max_end: list[int] = list(accumulate(map(operator.add, self.starts, map(_len, self.tree)), max))

    def _overlapping(self, offset: int):
        """Symbols containing `offset`, lowest start first (the tree's order)."""
        k = bisect.bisect_right(self.starts, offset)
        hits = []
        j = k - 1
        while j >= 0 and self.max_end[j] > offset:
            s = self.tree[j]
            if s.offset + s.len > offset:
                hits.append(s)
            j -= 1
        hits.reverse()
        return hits

    def containing(self, offset: int, func_only: bool = False) -> Sym | None:
        for s in self._overlapping(offset):
            if func_only:
                if s.type == STT_FUNC:
                    return s
            elif s.type != STT_SECTION:
                return s
        return None

    def at(self, offset: int, func_only: bool = False) -> Sym | None:
        for s in self._overlapping(offset):
            if s.offset == offset and (s.type == STT_FUNC if func_only else s.type != STT_SECTION):
                return s
        return None

    def hole_size(self, offset: int) -> int:
        """objtool's find_symbol_hole_containing(): 0 if a symbol covers `offset` or
        none precedes it, -1 if the hole runs to the end, else the hole's size."""
        if self._overlapping(offset):
            return 0
        k = bisect.bisect_right(self.starts, offset)
        if k == 0:
            return 0
        if k >= len(self.tree):
            return -1
        return self.tree[k].offset - offset


class SymbolTable:
    """All symbols of a file, indexed by section and by name."""

    def __init__(self, elf: ElfFile) -> None:
        self.syms = [Sym(s) for s in elf.symbols]
        self.by_sec: dict[int, list[Sym]] = {}
        self.by_name: dict[str, Sym] = {}
        for s in self.syms:
            self.by_sec.setdefault(s.sec, []).append(s)
            self.by_name[s.name] = s          # the last of a name wins, as in objtool's hash
        self._index: dict[int, SectionSymbols] = {}
        self._set_aliases()
        self._link_cold_parts()

    def section(self, secno: int) -> SectionSymbols:
        idx = self._index.get(secno)
        if idx is None:
            idx = self._index[secno] = SectionSymbols(self.by_sec.get(secno, []))
        return idx

    def _set_aliases(self) -> None:
        for syms in self.by_sec.values():
            seen: dict[tuple[int, int, int], list[Sym]] = {}
            for s in syms:                       # symbol-table order
                if s.len == 0:                   # not in objtool's interval tree
                    continue
                key = (s.offset, s.type, s.len)
                group = seen.setdefault(key, [])
                for other in group:
                    other.alias = s
                group.append(s)

    def _link_cold_parts(self) -> None:
        for secno in sorted(self.by_sec):
            if secno == 0:
                continue
            for s in self.section(secno).ordered:
                if s.type != STT_FUNC:
                    continue
                cut = s.name.find(".cold")
                if cut < 0:
                    continue
                parent = self.by_name.get(s.name[:cut])
                if parent is None:
                    raise InputError("%s(): can't find parent function" % s.name)
                s.pfunc = parent
                parent.cfunc = s
                if s.sec == parent.sec and s.offset >= parent.offset and \
                        s.offset + s.len == parent.offset + parent.len:
                    parent.len -= s.len

    def classify(self, be) -> None:
        """objtool's classify_symbols(): names the architecture gives special meaning."""
        for s in self.syms:
            if s.bind != STB_GLOBAL:
                continue
            n = s.name
            s.static_call_tramp = n.startswith("__SCT__")
            s.retpoline_thunk = be.is_retpoline(n)
            s.return_thunk = be.is_rethunk(n)
            s.embedded_insn = be.is_embedded_insn(n)
            s.fentry = be.is_ftrace(n)
            s.profiling_func = n.startswith("__sanitizer_cov_") or n.startswith("__tsan_func_") \
                or n == "__tsan_atomic_signal_fence"
