# SPDX-License-Identifier: GPL-2.0-only
"""One module per command; shared helpers for running the pipeline over files."""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterable

from ..errors import InputError


class NotCached(Exception):
    """Raised in cache-only mode where the answer needs real work (see need_work)."""


_cache_only = False


def set_cache_only(on: bool) -> None:
    """Cache-only mode: commands answer from the output cache or raise NotCached.

    The warm worker's front process answers repeated requests this way, in
    one long-lived process, and hands everything else to a fresh child."""
    global _cache_only
    _cache_only = on


def need_work() -> None:
    """Call before analysing or writing anything: refuses in cache-only mode."""
    if _cache_only:
        raise NotCached()


def options_from(extra: list[str], ap, objtool_args: str | None = None):
    """Options from objtool-style arguments; exits with usage on unknown ones."""
    from ..options import Options
    argv = list(extra) + (objtool_args.split() if objtool_args else [])
    try:
        opts, stray = Options.from_objtool_args(argv)
    except ValueError as e:              # objtool_args.UsageError; "" is objtool's -h (its help)
        ap.error(str(e) or "-h is objtool's help, not an option here (--hacks is)")
    if stray:
        ap.error("unrecognised arguments: %s" % " ".join(stray))
    return opts.with_(orc=True)        # checking and listing always walk the code, as objtool --orc


def for_each_object(files: Iterable[str], handle: Callable, cache_as: str | None = None,
                    errors: list | None = None) -> int:
    """Run `handle(elf) -> status` on every object in `files` (archives: every member).

    An unreadable file or member is reported as `orcgen: error: NAME: reason`
    (status 2) and the run goes on with the next one; with `errors`, each such
    (name, reason) is also appended there (for json and SARIF output).

    With `cache_as` (a read-only command and its options), a file's whole output
    is kept in the on-disk cache, keyed by its name, bytes and `cache_as`, and a
    repeated run prints it without importing any analysis code.
    """
    status = 0
    from .. import cache
    global _errors
    _errors = errors
    for path in files:
        try:
            if cache_as and cache.default is not None:
                status = max(status, _cached_output(cache.default, cache_as, path, handle))
            else:
                status = max(status, _one_file(path, handle))
        except MemoryError:
            # Caught out here, past _cached_output(), so that running out (which
            # depends on the machine, not the file) is never kept as the file's output.
            status = max(status, error(path, InputError("out of memory")))
    return status


def _cached_output(store, cache_as: str, path: str, handle: Callable) -> int:
    import io
    import marshal
    import stat
    from ..cache import key
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > (1 << 30):
            return _one_file(path, handle)      # devices, pipes, huge files: no caching
        with open(path, "rb") as f:
            data = f.read(st.st_size + 1)
    except OSError:
        return _one_file(path, handle)
    k = key("output", cache_as, path, data)
    del data            # the analysis reads the file again: two copies of a large library are 10% of its peak
    blob = store.get(k)
    if blob is not None:
        status, out, err = marshal.loads(blob)
    else:
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
        try:
            status = _one_file(path, handle)
            out, err = sys.stdout.getvalue(), sys.stderr.getvalue()
        finally:
            sys.stdout, sys.stderr = old
        store.put(k, marshal.dumps((status, out, err)))
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    return status


def _one_file(path: str, handle: Callable) -> int:
    need_work()
    from ..pipeline import load_each
    try:
        objs = load_each(path)
    except InputError as e:
        return error(path, e)
    status = 0
    for name, elf in objs:
        if isinstance(elf, InputError):
            status = max(status, error(name, elf))
            continue
        try:
            status = max(status, handle(elf))
        except InputError as e:
            status = max(status, error(elf.name, e))
        except RecursionError:
            status = max(status, error(elf.name, InputError("control flow too deeply nested")))
    return status


_errors: list | None = None      # for_each_object(errors=...) of the running command


def error(name: str, e: Exception) -> int:
    """Report an input error: one line, `orcgen: error: NAME: reason`; returns status 2."""
    sys.stdout.flush()
    reason = one_line(str(e) or type(e).__name__)
    sys.stderr.write("orcgen: error: %s: %s\n" % (one_line(name), reason))
    if _errors is not None:
        _errors.append((name, reason))
    return 2


def one_line(text: str) -> str:
    """`text` with control characters escaped, so that names read from a damaged
    file (a symbol name with a newline in it) cannot split a message in two."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
