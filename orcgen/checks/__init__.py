# SPDX-License-Identifier: GPL-2.0-only
"""The check registry: every check, built-in or third-party, is an entry point
of the group `orcgen.checks` (see orcgen/checks/api.py for the API).

Built-in checks are registered in orcgen's own pyproject.toml exactly as a
plugin registers its own, so that nothing distinguishes them: a check is a
package, not a patch.  Discovery reads entry-point metadata only; a check's
module is imported when the check is selected.
"""
from __future__ import annotations

from typing import Iterable

GROUP = "orcgen.checks"

_classes: dict | None = None


class CheckError(Exception):
    """A check that cannot be loaded or is named wrongly on the command line."""


def entry_points() -> list:
    """The registered entry points of GROUP, sorted by name, one per name: a
    third-party check cannot shadow a built-in one of the same name.

    orcgen's own checks are also listed in orcgen/checks/_builtin.py (a test
    keeps it equal to pyproject.toml), so that a source tree run without
    installing, or an install whose metadata predates a new check, still has them."""
    from importlib.metadata import entry_points as eps
    from ._builtin import BUILTIN
    found: dict[str, object] = {}
    for ep in eps(group=GROUP):
        if ep.name not in BUILTIN or ep.value == BUILTIN[ep.name]:
            found.setdefault(ep.name, ep)
    for n, v in BUILTIN.items():
        found.setdefault(n, _Builtin(n, v))
    return [found[n] for n in sorted(found)]


class _Builtin:
    """An entry point of the built-in table (when orcgen runs uninstalled)."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def load(self):
        import importlib
        mod, _, attr = self.value.partition(":")
        return getattr(importlib.import_module(mod), attr)


def available() -> dict:
    """name -> check class of every registered check."""
    global _classes
    if _classes is None:
        from .api import Check
        out = {}
        for ep in entry_points():
            try:
                cls = ep.load()
            except Exception as e:              # a broken plugin: say which, never a traceback
                raise CheckError("check %r (%s) cannot be loaded: %s" % (ep.name, ep.value, e)) from None
            if not (isinstance(cls, type) and issubclass(cls, Check)):
                raise CheckError("check %r (%s) is not an orcgen.checks.api.Check" % (ep.name, ep.value))
            if cls.name != ep.name:
                raise CheckError("check %r (%s) calls itself %r" % (ep.name, ep.value, cls.name))
            out[ep.name] = cls
        _classes = out
    return _classes


def plugin_modules() -> list[str]:
    """Top-level modules of third-party checks (their code is part of the cache key)."""
    mods = set()
    for ep in entry_points():
        mod = ep.value.partition(":")[0].split(".")[0]
        if mod != "orcgen":
            mods.add(mod)
    return sorted(mods)


def select(command: str, enable: Iterable[str] = (), disable: Iterable[str] = ()) -> tuple:
    """The check instances a command runs: its defaults, plus `enable`, less `disable`.

    `command` is "objtool" (only what objtool itself performs, so that
    orcgen-objtool's warnings stay objtool's), "check" (every default check),
    or "all"."""
    classes = available()
    enable, disable = list(enable), list(disable)
    for n in enable + disable:
        if n not in classes and n != "all":
            raise CheckError("no check named %r (orcgen check --list-checks lists them)" % n)
    if command == "objtool":
        names = {n for n, c in classes.items() if c.objtool}
    elif command == "all" or "all" in enable:
        names = set(classes)
    else:
        names = {n for n, c in classes.items() if c.default}
    names |= set(n for n in enable if n != "all")
    names -= set(disable) if "all" not in disable else set(classes)
    return tuple(classes[n]() for n in sorted(names))
