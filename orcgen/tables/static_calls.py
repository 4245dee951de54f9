# SPDX-License-Identifier: GPL-2.0-only
"""`.static_call_sites` (objtool's create_static_call_sections(), check.c).

One `struct static_call_site { s32 addr; s32 key; }` per call or tail call to a
static-call trampoline (`__SCT__NAME`), in objtool's static_call_list order
(sites.py).  Both fields are PC-relative relocations: `addr` to the
instruction (the code section's symbol + offset), `key` to the static-call key
`__SCK__NAME`, with STATIC_CALL_SITE_TAIL (1) in the addend for a tail call.
objtool sets no other bit: STATIC_CALL_SITE_INIT (2) is the kernel's, set when
it patches sites in init code.  A key that is not in the object is an error,
except for a module (--module), where the trampoline stands in for the key
until the module loader fixes it up.  The section is SHF_WRITE because the
loader rewrites the key's low bits.
"""
from __future__ import annotations

from ..elf import SHF_ALLOC, SHF_WRITE
from ..elfwrite import NewReloc
from ..program import Program
from . import Edits

TRAMP_PREFIX = "__SCT__"
KEY_PREFIX = "__SCK__"
SITE_TAIL = 1


class StaticCallError(Exception):
    """objtool's WARN() and `return -1`: the tables after this one are not made."""


def add_static_call_sites(ed: Edits, p: Program, sites: list[int], sibling) -> str | None:
    """Add the section for the instructions `sites`; `sibling(i)` says whether
    instruction i is a tail call.  Returns a warning objtool prints and goes on
    after (the section exists already), or None; raises StaticCallError when
    objtool gives up, after adding what it had made by then (objtool writes the
    object even so: a section whose later entries are zero)."""
    if ed.has_section(".static_call_sites"):
        return "file already has .static_call_sites section, skipping"
    if not sites:
        return None
    relocs: list[NewReloc] = []
    ed.add_pair(".static_call_sites", 8, bytes(8 * len(sites)), relocs, SHF_ALLOC | SHF_WRITE)
    for k, i in enumerate(sites):
        relocs.append(ed.text_reloc(8 * k, p.sec_of[i].sec.index, p.insn.off[i]))
        tramp = p.call_dest[i]
        if tramp is None or not tramp.name.startswith(TRAMP_PREFIX):
            _pad(relocs, 2 * len(sites))
            raise StaticCallError("static_call: trampoline name malformed: %s"
                                  % (tramp.name if tramp is not None else "?"))
        key_name = KEY_PREFIX + tramp.name[len(TRAMP_PREFIX):]
        key = p.symtab.by_name.get(key_name)
        if key is None:
            if not p.opts.module:
                _pad(relocs, 2 * len(sites))
                raise StaticCallError("static_call: can't find static_call_key symbol: %s" % key_name)
            key = tramp
        relocs.append(NewReloc(8 * k + 4, ed.r_data, key.index, SITE_TAIL if sibling(i) else 0))
    return None


def _pad(relocs: list[NewReloc], n: int) -> None:
    """The entries objtool never initialised: all zero."""
    relocs.extend(NewReloc(0, 0, 0, 0) for _ in range(n - len(relocs)))
