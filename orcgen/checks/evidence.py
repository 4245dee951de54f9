# SPDX-License-Identifier: GPL-2.0-only
"""Evidence for a finding at an instruction: the instructions that lead up to
it with the state computed before each, and a path from the function's entry.

The path is the shortest one through the function's control-flow graph
(networkx), which is the one a person reads fastest; the interpreter's own
first path may be longer, but any path that reaches the instruction shows that
it is reachable and which branches matter.  Computed only for findings, so the
clean objects of a build never pay for it.
"""
from __future__ import annotations

from ..findings import Evidence, Step
from ..program import Program

_BEFORE = 4                  # instructions shown before the one the finding is at
_MAX_GRAPH = 50000           # functions larger than this get no path (the graph would cost more than it says)


def at(p: Program, i: int, note: str = "") -> Evidence:
    """The evidence for a finding at instruction `i` of `p`."""
    from ..diff_model import state_text
    f = p.func(i)
    cs = p.sec_of[i]
    lo = i
    while lo > cs.first and i - lo < _BEFORE and p.func(lo - 1) is f:
        lo -= 1
    rn = p.abi.reg_name
    steps = tuple(Step(p.where(j), p.insn.off[j], p.disasm(j), state_text(p.cfi[j], rn, p.abi),
                       note if j == i else "") for j in range(lo, i + 1))
    return Evidence(steps, path_to(p, i))


def path_to(p: Program, i: int) -> tuple[str, ...]:
    """func+0xOFF of each taken branch on a shortest path from the entry of
    `i`'s function to `i` (empty when `i` is reached by falling through)."""
    f = p.func(i)
    if f is None:
        return ()
    insns = list(p.func_insns(f))
    first = insns[0] if insns else -1
    if first < 0 or first == i or len(insns) > _MAX_GRAPH:
        return ()
    import networkx as nx
    from ..cfg import function_graph
    g = function_graph(p, f)
    if i not in g or not nx.has_path(g, first, i):
        return ()
    nodes = nx.shortest_path(g, first, i)
    return tuple(p.where(a) for a, b in zip(nodes, nodes[1:]) if g.edges[a, b]["kind"] != "next")
