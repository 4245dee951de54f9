# SPDX-License-Identifier: GPL-2.0-only
""".ibt_endbr_seal (objtool's create_ibt_endbr_seal_sections(), check.c 6.12):
one s32 per ENDBR nothing takes the address of (orcgen/ibt.py found them), PC32
to the instruction against its section's symbol, in objtool's list order, so
that the kernel can turn them into NOPs at boot.  No section when there is none."""
from __future__ import annotations

from typing import Callable

from ..elf import STT_FUNC
from ..program import Program
from . import Edits
from .sites import add_site_section


def add_endbr_seal(ed: Edits, p: Program, module: bool, say: Callable[[str], None]) -> None:
    seal = getattr(p, "endbr_seal", [])
    if ed.has_section(".ibt_endbr_seal"):
        say("file already has .ibt_endbr_seal, skipping")
        return
    for i in seal:
        s = p.sym[i]
        if module and s is not None and s.type == STT_FUNC and p.insn.off[i] == s.offset \
                and s.name in ("init_module", "cleanup_module"):
            say("%s(): not an indirect call target" % s.name)
    add_site_section(ed, p, ".ibt_endbr_seal", seal)
