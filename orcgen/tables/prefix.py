# SPDX-License-Identifier: GPL-2.0-only
"""`__pfx_FUNC` symbols (--prefix=N; objtool's add_prefix_symbols(), check.c, and
elf_create_prefix_symbol(), elf.c).

For every STT_FUNC symbol of every code section, in section order and then in
objtool's sec->symbol_list order, objtool walks back from the function's first
instruction over NOPs only; if one starts exactly N bytes before the function,
it adds `__pfx_FUNC`: the function's st_info (type and binding), st_other 0,
value = the function's - N, size N, same section.  Where the symbol lands in
the table follows from its binding (elfwrite: a local takes the slot of the
first global), so the order of creation matters and is kept.
"""
from __future__ import annotations

from ..elf import STT_FUNC
from ..elfwrite import NewSymbol
from ..program import Program
from . import Edits


def prefix_functions(p: Program, size: int):
    """The functions that get a prefix symbol, in objtool's order."""
    for cs in p.code:
        for f in p.symtab.section(cs.sec.index).ordered:
            if f.type != STT_FUNC:
                continue
            i = p.find(f.sec, f.offset)
            if i >= 0 and p.padding_before(i, size) >= 0:
                yield f


def add_prefix_symbols(ed: Edits, p: Program, size: int) -> int:
    """Add the symbols; how many."""
    n = 0
    for f in prefix_functions(p, size):
        ed.add_symbol(NewSymbol("__pfx_" + f.name, f.type, f.bind, f.sec, f.value - size, size))
        n += 1
    return n
