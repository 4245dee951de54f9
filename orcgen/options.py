# SPDX-License-Identifier: GPL-2.0-only
"""Analysis options, named and defaulted as objtool's command line names them.

Only options that change what is computed live here; output formatting belongs
to the command line.  `from_objtool_args` reads the argument list the kernel's
build passes to objtool (recorded in objtool-args.log), so `orcgen check` can run
with exactly the options objtool ran with.
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

    @classmethod
    def from_objtool_args(cls, args: list[str]) -> tuple["Options", list[str]]:
        """Parse objtool 6.12's `check` arguments; return the options and the files.

        Unknown options raise ValueError naming them, so a build that passes
        something new fails loudly instead of being analysed differently.
        """
        kw: dict[str, object] = {"orc": False}
        files: list[str] = []
        # objtool 6.12's own options (builtin-check.c), not this dataclass's field names
        flags = {"ibt": "ibt", "mcount": "mcount", "noinstr": "noinstr", "orc": "orc",
                 "retpoline": "retpoline", "rethunk": "rethunk", "unret": "unret",
                 "sls": "sls", "stackval": "stackval", "static-call": "static_call",
                 "uaccess": "uaccess", "cfi": "cfi", "link": "link", "module": "module",
                 "mnop": "mnop", "no-unreachable": "no_unreachable"}
        short = {"i": "ibt", "m": "mcount", "n": "noinstr", "o": "orc", "r": "retpoline",
                 "l": "sls", "s": "stackval", "t": "static_call", "u": "uaccess", "v": None}
        ignored = {"backtrace", "backup", "dry-run", "sec-address", "stats", "verbose"}
        hacks = ("jump_label", "noinstr", "skylake")
        it = iter(args)
        for a in it:
            if a.startswith("--hacks") or a == "-h" or a.startswith("-h="):
                val = a.split("=", 1)[1] if "=" in a else ",".join(hacks)
                # objtool matches hack names as substrings (strstr), as here
                for h in hacks:
                    if h in val:
                        kw["hack_" + h] = True
            elif a.startswith("--prefix"):
                val = a.split("=", 1)[1] if "=" in a else next(it, "0")
                kw["prefix"] = int(val)
            elif a.startswith("--noreturn="):
                kw["noreturns"] = frozenset(kw.get("noreturns", frozenset())) | \
                    frozenset(n for n in a.split("=", 1)[1].split(",") if n)
            elif a == "--userspace":
                kw["userspace"] = True
            elif a == "--keep-going":
                kw["keep_going"] = True
            elif a.startswith("--") and a[2:] in flags:
                kw[flags[a[2:]]] = True
            elif a.startswith("--") and a[2:] in ignored:
                continue
            elif a.startswith("-") and len(a) == 2 and a[1] in short:
                if short[a[1]]:
                    kw[short[a[1]]] = True
            elif a.startswith("-"):
                raise ValueError("unknown objtool option %r" % a)
            else:
                files.append(a)
        return cls(**kw), files  # type: ignore[arg-type]

    def with_(self, **kw: object) -> "Options":
        return replace(self, **kw)  # type: ignore[arg-type]
