# SPDX-License-Identifier: GPL-2.0-only
"""A kernel object's compile command, from the `.NAME.o.cmd` file kbuild keeps.

kbuild records how it built each object (`savedcmd_PATH.o := CC ARGS -c -o
PATH.o SRC ; objtool ...`), with paths relative to the build's object tree.
A reduction (orcgen/reduce.py) compiles candidates elsewhere, in a temporary
directory, so the command is made to work from anywhere: the objtool step
after `;` goes, and so do the dependency-file option (`-Wp,-MMD,...`), `-c`,
`-o`, the source and a compiler cache in front; relative include
directories, `-include` files and plugin paths become absolute; a bare
`-Werror` goes too (a reducer's candidates trip -Wall warnings on every step;
the warnings that mean undefined behaviour are made errors by reduce.py).
"""
from __future__ import annotations

import os
import shlex

_WRAPPERS = ("ccache", "sccache", "distcc")
# Options whose value (joined, or the next word) is a path.
_PATH_OPTS = ("-I", "-include", "-imacros", "-isystem", "-iquote", "-idirafter", "-fplugin=",
              "-fplugin-arg-", "-T", "--sysroot=")


class CmdError(ValueError):
    """The file is not a kbuild .cmd file of a C compile."""


def compile_command(cmd_file: str) -> tuple[list[str], str]:
    """(compile words without -c/-o/source, absolute source path) of `cmd_file`."""
    try:
        with open(cmd_file, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise CmdError(e.strerror or str(e)) from None
    saved = next((ln for ln in lines if ln.startswith("savedcmd_") or ln.startswith("cmd_")), None)
    if saved is None or ":=" not in saved:
        raise CmdError("no savedcmd_ line (not a kbuild .cmd file)")
    target, _, command = saved.partition(":=")
    target = target.split("_", 1)[1].strip()
    objtree = _objtree(os.path.abspath(cmd_file), target)
    try:
        words = shlex.split(command)
    except ValueError as e:
        raise CmdError("cannot split the command: %s" % e) from None
    words = _first_command(words)
    source = None
    out: list[str] = []
    it = iter(words)
    for w in it:
        if w == "-o":
            next(it, None)
        elif w == "-c" or w == "-Werror" or w.startswith(("-Wp,-MMD,", "-Wp,-MD,")):
            continue
        elif not w.startswith("-") and w.endswith((".c", ".S", ".i")):
            source = _absolute(w, objtree)
        elif w in ("-I", "-include", "-imacros", "-isystem", "-iquote", "-idirafter", "-T"):
            out += [w, _absolute(next(it, ""), objtree)]
        else:
            out.append(_joined_path(w, objtree))
    while out and os.path.basename(out[0]) in _WRAPPERS:
        out.pop(0)
    if not out or source is None:
        raise CmdError("the command compiles no C source")
    return out, source


def _first_command(words: list[str]) -> list[str]:
    """The words before the first `;`, `&&` or `||` (the objtool step follows)."""
    out = []
    for w in words:
        if w in (";", "&&", "||"):
            break
        if w.endswith(";"):
            out.append(w[:-1])
            break
        out.append(w)
    return [w for w in out if w]


def _objtree(cmd_file: str, target: str) -> str:
    """The directory the target path is relative to: the .cmd file sits next to it."""
    here = os.path.dirname(cmd_file)
    rel = os.path.dirname(target)
    if rel and here.endswith(os.sep + rel):
        return here[:-len(rel) - 1] or os.sep
    return here if not rel else os.path.normpath(os.path.join(here, *[".."] * len(rel.split("/"))))


def _absolute(path: str, base: str) -> str:
    return path if not path or os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def _joined_path(word: str, base: str) -> str:
    """-I./include -> -I/tree/include (and -include=..., -fplugin=...); others as they are."""
    for opt in _PATH_OPTS:
        if word.startswith(opt) and len(word) > len(opt):
            value = word[len(opt):]
            if opt == "-fplugin-arg-":
                name, eq, v = value.partition("=")
                return word if not eq or not v.startswith(".") else \
                    "%s%s=%s" % (opt, name, _absolute(v, base))
            if opt in ("-I", "-T") or value.startswith((".", "scripts/", "include/", "arch/")):
                return opt + _absolute(value, base)
            return word
    return word
