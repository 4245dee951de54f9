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

_classes: dict[bool, dict] = {}      # builtin_only -> name -> class


class CheckError(Exception):
    """A check that cannot be loaded or is named wrongly on the command line."""


def entry_points(builtin_only: bool = False) -> list:
    """The registered entry points of GROUP, sorted by name, one per name: a
    third-party check cannot shadow a built-in one of the same name.

    orcgen's own checks are also listed in orcgen/checks/_builtin.py (a test
    keeps it equal to pyproject.toml and to the installed metadata), so that a
    source tree run without installing, or an install whose metadata predates
    a new check, still has them, and so that orcgen-objtool, which runs only
    built-in checks, never scans for plugins."""
    from ._builtin import BUILTIN
    found: dict[str, object] = {}
    if not builtin_only:
        for name, value in _scan():
            if name not in BUILTIN or value == BUILTIN[name]:
                found.setdefault(name, _Builtin(name, value))
    for n, v in BUILTIN.items():
        found.setdefault(n, _Builtin(n, v))
    return [found[n] for n in sorted(found)]


def _scan() -> list[tuple[str, str]]:
    """(name, "module:attr") of GROUP in every distribution on sys.path.

    What importlib.metadata.entry_points(group=GROUP) answers (a test checks
    that), read directly: importing importlib.metadata costs more (about 20 ms)
    than a per-object run of a kernel build can spend on finding plugins."""
    import os
    import sys
    out, seen = [], set()
    for d in sys.path:
        try:
            names = sorted(os.listdir(d or "."))
        except OSError:
            continue
        for n in names:
            if not n.endswith((".dist-info", ".egg-info")):
                continue
            dist = n.rsplit("-", 1)[0] if n.endswith(".dist-info") else n[:-9]
            dist = dist.split("-")[0].lower().replace("_", "-")
            if dist in seen:
                continue                    # the first of a distribution on sys.path wins
            seen.add(dist)
            try:
                with open(os.path.join(d or ".", n, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if "[" + GROUP + "]" in text:
                out.extend(_group_entries(text))
    return out


def _group_entries(text: str) -> list[tuple[str, str]]:
    out, inside = [], False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == "[" + GROUP + "]"
        elif inside and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip()))
    return out


class _Builtin:
    """An entry point of the built-in table (when orcgen runs uninstalled)."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def load(self):
        import importlib
        mod, _, attr = self.value.partition(":")
        return getattr(importlib.import_module(mod), attr)


def available(builtin_only: bool = False) -> dict:
    """name -> check class of every registered check (or of orcgen's own only)."""
    got = _classes.get(builtin_only)
    if got is None:
        got = _classes[builtin_only] = _load(entry_points(builtin_only))
    return got


def _load(eps: list) -> dict:
    from .api import Check
    out = {}
    for ep in eps:
        try:
            cls = ep.load()
        except Exception as e:              # a broken plugin: say which, never a traceback
            raise CheckError("check %r (%s) cannot be loaded: %s" % (ep.name, ep.value, e)) from None
        if not (isinstance(cls, type) and issubclass(cls, Check)):
            raise CheckError("check %r (%s) is not an orcgen.checks.api.Check" % (ep.name, ep.value))
        if cls.name != ep.name:
            raise CheckError("check %r (%s) calls itself %r" % (ep.name, ep.value, cls.name))
        out[ep.name] = cls
    return out


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
    enable, disable = list(enable), list(disable)
    classes = available(builtin_only=command == "objtool" and not enable)
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


def plugin_digest(checks: Iterable) -> str:
    """A hash of the code of the third-party checks among `checks` ("" if none),
    for the cache keys of results they contribute to: a plugin's code is not
    under orcgen's own code hash (orcgen.cache.code_digest)."""
    import hashlib
    import os
    import sys
    from ._builtin import BUILTIN
    files = set()
    for c in checks:
        if c.name in BUILTIN:
            continue
        top = sys.modules.get(type(c).__module__.split(".")[0])
        path = getattr(top, "__file__", None) or ""
        if os.path.basename(path) == "__init__.py":
            d = os.path.dirname(path)
            files.update(os.path.join(r, f) for r, _ds, fs in os.walk(d) for f in fs if f.endswith(".py"))
        elif path:
            files.add(path)
        files.add("name:" + c.name)
    if not files:
        return ""
    h = hashlib.blake2b(digest_size=16)
    for f in sorted(files):
        h.update(f.encode("utf-8", "surrogateescape") + b"\0")
        if not f.startswith("name:"):
            try:
                with open(f, "rb") as fh:
                    h.update(fh.read())
            except OSError:
                h.update(b"\xff")
    return h.hexdigest()
