# SPDX-License-Identifier: GPL-2.0-only
"""Analysis options, named and defaulted as objtool's command line names them.

Only options that change what is computed live here; output formatting belongs
to the command line.  `from_objtool_args` reads the argument list the kernel's
build passes to objtool (recorded in objtool-args.log) with objtool's own parser
(orcgen/objtool_args.py), so `orcgen check` runs with exactly the options objtool
ran with.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Options:
    orc: bool = True
    stackval: bool = False
    uaccess: bool = False
    retpoline: bool = False
    rethunk: bool = False
    sls: bool = False
    static_call: bool = False
    ibt: bool = False
    noinstr: bool = False
    unret: bool = False
    mcount: bool = False
    mnop: bool = False
    hack_jump_label: bool = False
    hack_noinstr: bool = False
    hack_skylake: bool = False
    prefix: int = 0
    module: bool = False
    link: bool = False
    no_unreachable: bool = False
    cfi: bool = False
    # orcgen's own (not objtool's): extra functions that never return, the
    # userspace ones (exit, abort, __assert_fail, ...), and walking on past a
    # finding so the rest of a function still gets states (for the DWARF diff).
    noreturns: frozenset = frozenset()
    userspace: bool = False
    keep_going: bool = False
    # orcgen's own refinements of objtool's model, which would change ORC, so
    # the DWARF diff turns them on and objtool's commands never: a callee-saved
    # register loaded back from its slot is restored, also through a register
    # that points into the frame (OpenSSL's `lea 0xc8(%rsp),%rax; mov
    # -0x10(%rax),%rbp`) and by `mov (%rbp),%rbp`; SP written in a way the model
    # cannot follow (Src.UNKNOWN) leaves an SP-based CFA unknown.
    precise: bool = False

    @classmethod
    def from_objtool_args(cls, args: list[str]) -> tuple["Options", list[str]]:
        """Parse objtool 6.12's `check` arguments; return the options and the files.

        The parsing is objtool's own (orcgen/objtool_args.py, the parser of
        `orcgen objtool` too), after taking out orcgen's options (`--noreturn=`,
        `--userspace`, `--keep-going`).  Options objtool would refuse raise
        ValueError naming them, so a build that passes something new fails
        loudly instead of being analysed differently.
        """
        from .objtool_args import parse
        own: dict[str, object] = {}
        rest: list[str] = []
        it = iter(args)
        for a in it:
            if a == "--noreturn":                       # --noreturn NAME as well as --noreturn=NAME
                a = "--noreturn=" + next(it, "")
            if a.startswith("--noreturn="):
                own["noreturns"] = frozenset(own.get("noreturns", frozenset())) | \
                    frozenset(n for n in a.split("=", 1)[1].split(",") if n)
            elif a == "--userspace":
                own["userspace"] = True
            elif a == "--keep-going":
                own["keep_going"] = True
            else:
                rest.append(a)
        parsed = parse(rest)
        return parsed.options(**own), parsed.files

    def with_(self, **kw: object) -> "Options":
        return replace(self, **kw)  # type: ignore[arg-type]
