# SPDX-License-Identifier: GPL-2.0-only
"""A bounded on-disk cache shared by every orcgen process of a build.

A kernel build runs orcgen once per object, up to `make -j` at a time, so the
store is sqlite3 in WAL mode (many readers, one writer at a time, each write a
short transaction; a busy timeout instead of failures).  Keys are content
hashes that include a hash of orcgen's own code (code_digest()), not its version
string, so an edited or upgraded orcgen never serves what older code computed;
size is bounded by evicting the least recently used entries.

    ORCGEN_CACHE_DIR   where the cache lives (default $XDG_CACHE_HOME/orcgen or ~/.cache/orcgen)
    ORCGEN_NO_CACHE=1  disable it (as `--no-cache` does)
    ORCGEN_CACHE_MB    size bound in MiB (default 512)

A cache that cannot be opened or written (read-only home, full disk) is
silently skipped: it only ever saves time.
"""
from __future__ import annotations

import os
import time

from .client import cache_dir  # noqa: F401  (the client's: it must not import this module)

_MB = 1 << 20
_code: bytes | None = None


def source_dirs() -> list[str]:
    """The directories of orcgen's code: the orcgen package and its arch back-ends,
    which an installed orcgen holds under orcgen/arch and a source tree (an
    editable install) keeps beside it, in arch/."""
    import sys
    pkg = os.path.dirname(os.path.abspath(__file__))
    dirs = [pkg]
    mod = sys.modules.get("orcgen.arch")
    arch = list(getattr(mod, "__path__", ())) if mod is not None else []
    if not arch:
        for cand in (os.path.join(pkg, "arch"), os.path.join(os.path.dirname(pkg), "arch")):
            if os.path.isfile(os.path.join(cand, "__init__.py")):
                arch = [cand]
                break
    dirs += [os.path.abspath(d) for d in arch if os.path.abspath(d) != os.path.join(pkg, "arch")]
    return dirs


def _source_stats(dirs: list[str]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every .py file under `dirs`, sorted."""
    out = []
    stack = list(dirs)
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if e.name.endswith(".py"):
                try:
                    st = e.stat()
                except OSError:
                    continue
                out.append((e.path, st.st_size, st.st_mtime_ns))
            elif e.name != "__pycache__" and not e.name.startswith(".") and e.is_dir():
                stack.append(e.path)
    out.sort()
    return out


def code_digest() -> bytes:
    """A hash of the content of orcgen's source files, the part of every key that
    makes results of other code unreachable.

    A kernel build starts one orcgen per object, so the content is not read on
    every start: the files' (path, size, mtime_ns) are hashed, and the content
    hash computed for that stat tuple is kept on disk in the cache directory
    (codehash/STAT-HASH).  An edit changes a file's mtime, and so its stat tuple."""
    global _code
    if _code is not None:
        return _code
    import hashlib                           # here: the worker's thin client imports this module
    dirs = source_dirs()
    top = os.path.dirname(dirs[0])
    stats = _source_stats(dirs)
    sh = hashlib.blake2b(digest_size=16)
    for path, size, mtime in stats:
        sh.update(b"%s\0%d\0%d\n" % (path.encode("utf-8", "surrogateescape"), size, mtime))
    memo = os.path.join(cache_dir(), "codehash", sh.hexdigest())
    try:
        with open(memo, "rb") as f:
            got = f.read(64)
        if len(got) == 20:
            _code = got
            return _code
    except OSError:
        pass
    ch = hashlib.blake2b(digest_size=20)
    for path, _size, _mtime in stats:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = b"\xff unreadable"
        name = os.path.relpath(path, top).encode("utf-8", "surrogateescape")
        ch.update(len(name).to_bytes(8, "little") + name)
        ch.update(len(data).to_bytes(8, "little") + data)
    _code = ch.digest()
    try:
        os.makedirs(os.path.dirname(memo), exist_ok=True)
        tmp = "%s.%d.tmp" % (memo, os.getpid())
        with open(tmp, "wb") as f:
            f.write(_code)
        os.replace(tmp, memo)
    except OSError:
        pass
    return _code


def key(*parts: bytes | str) -> bytes:
    """A content key: the parts and orcgen's code (code_digest()), hashed."""
    import hashlib                           # here: the worker's thin client imports this module
    h = hashlib.blake2b(digest_size=20)
    h.update(code_digest())
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


class Cache:
    """get/put of bytes by key; every failure degrades to a miss."""

    def __init__(self, path: str | None = None, limit_mb: int | None = None) -> None:
        self.path = path or os.path.join(cache_dir(), "cache.sqlite")
        self.limit = (limit_mb or int(os.environ.get("ORCGEN_CACHE_MB", "512"))) * _MB
        self._db = None
        self._writes = 0
        try:
            import sqlite3
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS c (k BLOB PRIMARY KEY, v BLOB, t REAL)")
            self._db = db
        except Exception:
            self._db = None

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def get_many(self, keys: list[bytes]) -> dict[bytes, bytes]:
        if self._db is None or not keys:
            return {}
        out: dict[bytes, bytes] = {}
        try:
            for n in range(0, len(keys), 500):
                chunk = keys[n:n + 500]
                q = "SELECT k, v FROM c WHERE k IN (%s)" % ",".join("?" * len(chunk))
                out.update(self._db.execute(q, chunk).fetchall())
        except Exception:
            return {}
        return out

    def get(self, k: bytes) -> bytes | None:
        return self.get_many([k]).get(k)

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        if self._db is None or not items:
            return
        now = time.time()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO c (k, v, t) VALUES (?, ?, ?)",
                                 [(k, v, now) for k, v in items])
            self._db.execute("COMMIT")
            self._writes += 1
            if self._writes % 64 == 1:
                self._evict()
        except Exception:
            try:
                self._db.execute("ROLLBACK")
            except Exception:
                pass

    def put(self, k: bytes, v: bytes) -> None:
        self.put_many([(k, v)])

    def _evict(self) -> None:
        """Keep the store under its bound: drop the oldest entries beyond it."""
        total = self._db.execute("SELECT COALESCE(SUM(LENGTH(v)), 0), COUNT(*) FROM c").fetchone()
        size, count = total
        if size <= self.limit or not count:
            return
        excess_rows = int(count * (1 - 0.8 * self.limit / size)) + 1
        self._db.execute("DELETE FROM c WHERE k IN (SELECT k FROM c ORDER BY t LIMIT ?)",
                         (excess_rows,))

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except Exception:
                pass
            self._db = None


_shared: Cache | None = None
# The cache commands use (set by the command line on every call, None for library use).
default: Cache | None = None


def shared() -> Cache | None:
    """The process's cache, or None when caching is turned off."""
    global _shared
    if os.environ.get("ORCGEN_NO_CACHE") == "1":
        return None
    if _shared is None:
        _shared = Cache()
    return _shared if _shared.enabled else None
