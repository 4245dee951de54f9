# SPDX-License-Identifier: GPL-2.0-only
"""The ORC sections through `Edits` (objtool's orc_create(), orc_gen.c).

The same three sections `orcgen orc --write` makes (commands/orc.py), built on
the shared Edits so that a code section's symbol made for an earlier table
(sites, static calls) is the one the ORC relocations use, as in objtool.
"""
from __future__ import annotations

from ..elf import SHF_ALLOC, SHT_PROGBITS
from ..elfwrite import NewSection
from . import Edits


def add_orc(ed: Edits, rows) -> bool:
    """Add .orc_unwind, .orc_unwind_ip and .rela.orc_unwind_ip for `rows`
    (orcgen.orc.OrcRow).  False if the object already has .orc_unwind."""
    if not rows:
        return True
    if ed.has_section(".orc_unwind"):
        return False
    entries = b"".join(r.entry.pack() for r in rows)
    entsize = len(entries) // len(rows)
    ed.add_section(NewSection(".orc_unwind", SHT_PROGBITS, SHF_ALLOC, entries, entsize=entsize))
    relocs = ed.text_relocs(4, [(r.secno, r.offset) for r in rows])
    ed.add_pair(".orc_unwind_ip", 4, bytes(4 * len(rows)), relocs)
    return True
