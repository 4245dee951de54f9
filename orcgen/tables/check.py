# SPDX-License-Identifier: GPL-2.0-only
"""Everything objtool's check() writes, in its order (check.c check(), 6.12):

  while resolving the code   jump-label NOPs, removed calls (jump_labels.py)
  --static-call              .static_call_sites
  --retpoline                .retpoline_sites
  --cfi                      .cfi_sites
  --rethunk                  .return_sites, and with --hacks=skylake .call_sites
  --mcount                   __mcount_loc (and with --mnop the __fentry__ calls NOPed)
  --prefix=N                 __pfx_ symbols
  --ibt                      .ibt_endbr_seal
  --orc                      .orc_unwind, .orc_unwind_ip

A table objtool gives up on (a static call whose key is missing) ends the list:
what was made before it is still written, as objtool writes a changed object
whatever check() met.  When the analysis itself gave up (a fatal finding),
only the code rewrites made up to that point are kept; if it gave up while
building ORC, every other table is written too.
"""
from __future__ import annotations

from typing import Callable

from .. import cfg
from ..options import Options
from ..pipeline import Result
from . import Edits
from .ibt import add_endbr_seal
from .jump_labels import jump_label_nops, rewrite
from .orc import add_orc
from .prefix import add_prefix_symbols
from .sites import SiteLists, add_cfi_sites, add_site_section, site_lists
from .static_calls import StaticCallError, add_static_call_sites


def plan(res: Result, opts: Options, say: Callable[[str], None]) -> Edits | None:
    """The changes for the analysed object `res` (analyze_elf(keep_program=True));
    `say` gets objtool's warnings about them (the text after `FILE: warning: `).
    None when there is nothing to do (the analysis did not get to the code)."""
    p = res.program
    if p is None or not p.insn:
        return None
    ed = Edits(p.elf)
    # the lists feed only these options' tables and rewrites (vmlinux.o's
    # link-time run has none of them: 0.6 s of its time had gone here)
    wanted = opts.static_call or opts.retpoline or opts.rethunk or opts.mcount or opts.hack_noinstr
    lists = site_lists(p) if wanted else SiteLists()
    for i in jump_label_nops(p):
        rewrite(ed, p, i, "nop")
    for i, what in lists.removed:
        rewrite(ed, p, i, what)
    fatal = [f for f in res.findings if f.fatal]
    if fatal and fatal[0].kind != "orc":
        return ed
    try:
        if opts.static_call:
            msg = add_static_call_sites(ed, p, lists.static_calls, lambda i: cfg.is_sibling_call(p, i))
            if msg:
                say(msg)
        if opts.retpoline and not add_site_section(ed, p, ".retpoline_sites", lists.retpolines):
            say("file already has .retpoline_sites, skipping")
        if opts.cfi and not add_cfi_sites(ed, p):
            say("file already has .cfi_sites section, skipping")
        if opts.rethunk:
            if not add_site_section(ed, p, ".return_sites", lists.returns):
                say("file already has .return_sites, skipping")
            if opts.hack_skylake and not add_site_section(ed, p, ".call_sites", lists.calls):
                say("file already has .call_sites section, skipping")
        if opts.mcount and not add_site_section(ed, p, "__mcount_loc", lists.mcount, entsize=8,
                                                rtype=ed.r_abs64, addralign=8):
            say("file already has __mcount_loc section, skipping")
    except StaticCallError as e:
        say(str(e))
        return ed
    if opts.prefix:
        add_prefix_symbols(ed, p, opts.prefix)
    if opts.ibt:
        add_endbr_seal(ed, p, opts.module, say)
    if opts.orc and not fatal and not add_orc(ed, res.orc):
        say("file already has .orc_unwind section, skipping")
    return ed
