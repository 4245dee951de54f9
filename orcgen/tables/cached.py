# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen objtool`'s result in the on-disk cache (orcgen/cache.py).

The tables need the whole Program (analyze_elf(keep_program=True)), which the
analysis' own result cache cannot give back, so a rebuild of an unchanged
object would pay for the whole analysis again.  Instead, the outcome of one
run -- the findings, objtool's other messages, and the edits -- is kept under
a key of the object's bytes, the options and orcgen's code, as plain tuples
for marshal: a new section or symbol is named by its position in the order of
creation, which is also the order the writer needs.
"""
from __future__ import annotations

import marshal
from typing import Union

from ..elfwrite import NewReloc, NewSection, NewSymbol, Patch
from ..findings import Finding
from . import Edits

_Ref = Union[int, str, tuple]


def save(findings: list[Finding], msgs: list[str], ed: Edits | None) -> bytes:
    """One run's outcome as bytes."""
    pos = {id(o): k for k, o in enumerate(ed.created)} if ed is not None else {}

    def ref(r) -> _Ref:
        return ("new", pos[id(r)]) if isinstance(r, (NewSection, NewSymbol)) else r

    created: list[tuple] = []
    patches: list[tuple] = []
    if ed is not None:
        for o in ed.created:
            if isinstance(o, NewSymbol):
                created.append(("sym", o.name, o.type, o.bind, ref(o.shndx), o.value, o.size,
                                o.other, o.special))
            else:
                relocs = None if o.relocs is None else \
                    [(r.offset, r.type, ref(r.sym), r.addend) for r in o.relocs]
                created.append(("sec", o.name, o.type, o.flags, o.data, o.entsize, o.addralign,
                                ref(o.link), ref(o.info), relocs, o.nobits_size))
        patches = [(pt.section, pt.offset, pt.data) for pt in ed.patches]
    return marshal.dumps(([f.to_tuple() for f in findings], msgs,
                          None if ed is None else (created, patches)))


def load(blob: bytes) -> tuple[list[Finding], list[str], tuple | None]:
    """(findings, messages, (created, patches) or None) from save()'s bytes; the
    created objects are rebuilt, so they can go to orcgen.elfwrite again."""
    findings, msgs, edits = marshal.loads(blob)
    out = [Finding.from_tuple(f) for f in findings]
    if edits is None:
        return out, msgs, None
    raw, patches = edits
    made: list = [None] * len(raw)

    def deref(r):
        return made[r[1]] if isinstance(r, tuple) and r[:1] == ("new",) else r

    for k, t in enumerate(raw):                # sections first: symbols and sections name them
        if t[0] == "sec":
            _, name, typ, flags, data, entsize, align, _link, _info, _relocs, nobits = t
            made[k] = NewSection(name, typ, flags, data, entsize, align, 0, 0, None, nobits)
    for k, t in enumerate(raw):
        if t[0] == "sym":
            _, name, typ, bind, shndx, value, size, other, special = t
            made[k] = NewSymbol(name, typ, bind, deref(shndx), value, size, other, special)
    for k, t in enumerate(raw):
        if t[0] == "sec":
            sec, (link, info, relocs) = made[k], t[7:10]
            sec.link, sec.info = deref(link), deref(info)
            if relocs is not None:
                sec.relocs = [NewReloc(o, ty, deref(sym), a) for o, ty, sym, a in relocs]
    return out, msgs, (made, [Patch(*pt) for pt in patches])
