# SPDX-License-Identifier: GPL-2.0-only
"""A warm orcgen that per-object commands hand their work to (ORCGEN_WORKER=1).

A kernel build starts one checker process per object; a Python process that
imports orcgen's analysis (and capstone) pays tens of milliseconds before it
reads a byte.  With ORCGEN_WORKER=1 the command is a thin client instead
(orcgen/client.py, which imports nothing but the C socket module): it sends
its argv, working directory and ORCGEN_*/SRCARCH environment to a server over
a Unix socket, and prints what comes back.  Any failure to reach the server
falls back to running the command in-process.

The server is started by the first client (under a file lock, so `make -j`
starts one) and is three kinds of process, all forked from one that has
everything imported:

- the *front* accepts every connection and answers what the output cache
  already holds (commands run in cache-only mode, commands/__init__.py), in
  one long-lived process: no fork, a warm database connection, warm pages.
  It answers nothing else: no analysis, no write, ever runs in it.
- everything else is handed, as the connection's file descriptor, to a
  *pool* of forked children.  Each runs one request and exits, so requests
  run in parallel and in isolation, with output exactly what the same
  command prints in-process; the pool is forked ahead of requests, so no
  client waits for a fork.
- the *server* itself only keeps the pool full.

It all exits after ORCGEN_WORKER_IDLE seconds (default 600) without requests.
"""
from __future__ import annotations

import os
import sys

from . import client

_IDLE = float(os.environ.get("ORCGEN_WORKER_IDLE", "600"))
_PEEK_LIMIT = 1 << 16          # longer requests (far below a socket buffer) skip the front


def serve(sock_path: str) -> None:
    """The server: warm imports, then the front and the pool (see the module's text)."""
    os.environ.pop("ORCGEN_WORKER", None)     # its children run commands, never hand them on
    import gc
    import io
    import signal
    import socket
    import argparse  # noqa: F401  (warm the imports: children start with all of them)
    import importlib
    import marshal  # noqa: F401
    import sqlite3  # noqa: F401
    from . import batch, cache, cfg, cli, commands, elfwrite, interp, orc, pipeline  # noqa: F401
    from .backend import backend_for
    _cache_translations()
    for name in cli.COMMANDS:
        try:
            importlib.import_module("orcgen.commands." + name)
        except ImportError:
            pass
    for machine in (62, 183):
        be = backend_for(machine)
        getattr(be, "decoder", None)         # x86-64: imports capstone now
    _rehearse(cli, io)
    _rehearse_analysis(cli, io)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = sock_path + ".%d" % os.getpid()
    srv.bind(tmp)
    srv.listen(128)
    os.replace(tmp, sock_path)
    mine = os.stat(sock_path).st_ino
    # One message per handed-on connection; a pool child takes each whole.
    hand_out, hand_in = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # Children share the server's pages until they write to them, and a
    # collection would write to every object's header: freeze what exists now.
    gc.collect()
    gc.freeze()

    def fork(role) -> int:
        pid = os.fork()
        if pid == 0:
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                role()
            finally:
                os._exit(0)
        return pid

    def front() -> None:
        hand_in.close()
        _front(srv, hand_out, cli, commands, io, _source_stamps())

    def pool_child() -> None:
        srv.close()
        hand_out.close()
        fds: list[int] = []
        try:
            _, fds, _, _ = socket.recv_fds(hand_in, 16, 1)
        except OSError:
            pass
        # a request taken is finished even when the server stops meanwhile
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if fds:
            _handle(socket.socket(fileno=fds[0]), cli, io)

    front_pid = fork(front)
    pool = {fork(pool_child) for _ in range(max(2, os.cpu_count() or 2))}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))     # clean up below
    try:
        while True:
            pid, _ = os.wait()
            if pid == front_pid:             # idle (or broken): the server goes too
                break
            if pid in pool:
                pool.discard(pid)
                pool.add(fork(pool_child))
    finally:
        try:
            if os.stat(sock_path).st_ino == mine:      # not replaced by a newer server
                os.unlink(sock_path)
        except OSError:
            pass
        for pid in pool | {front_pid}:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass


def _cache_translations() -> None:
    """argparse looks its messages up with gettext, which searches the
    locale directories on every call: a tenth of a millisecond for each
    command line parsed.  The server's locale does not change (a request
    brings only ORCGEN_* and SRCARCH), so each lookup's answer is kept."""
    import argparse
    import functools
    import gettext
    argparse._ = functools.lru_cache(maxsize=None)(gettext.gettext)


def _source_stamps() -> dict[str, int]:
    """orcgen's loaded source files and their modification times."""
    stamps = {}
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if path and (name == "orcgen" or name.startswith("orcgen.")):
            try:
                stamps[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    return stamps


def _changed(stamps: dict[str, int]) -> bool:
    for path, mtime in stamps.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def _front(srv, hand_out, cli, commands, io, stamps: dict[str, int]) -> None:
    """Accept every request; answer cache hits here, hand the rest to the pool.

    When orcgen's source has changed since the server started (a developer
    editing it, an upgrade; looked at once a second at most), the request is
    left unanswered, which makes the client start a new server or work
    in-process, and this server stops."""
    import socket
    import time
    srv.settimeout(_IDLE)
    commands.set_cache_only(True)
    base_env = dict(os.environ)
    base_data = dict(os.environ._data) if hasattr(os.environ, "_data") else None
    checked = 0.0
    while True:
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            return                           # idle
        now = time.monotonic()
        if now - checked >= 1.0:             # at most once a second: ~40 stat calls
            checked = now
            if _changed(stamps):
                conn.close()
                return
        try:
            conn.settimeout(2)
            data = _peek_request(conn)
            if data == client.PING:
                conn.sendall(client.PONG)
                continue
            if data == b"":
                continue
            reply = None
            req = client.decode_request(data) if data else None
            if req is not None:
                try:
                    reply = _run(*req, cli, io)
                except commands.NotCached:
                    reply = None
                finally:
                    # as it was, if the command changed it (a build's requests
                    # all bring the same settings: then it had not)
                    if base_data is None or os.environ._data != base_data:
                        os.environ.clear()
                        os.environ.update(base_env)
            if reply is not None:
                client.recv_all(conn)              # consume what was only peeked at
                conn.sendall(reply)
            else:
                socket.send_fds(hand_out, [b"c"], [conn.fileno()])
        except OSError:
            pass                             # the client went away: nothing to answer
        except Exception:                    # never answer wrongly: the pool does it properly
            try:
                socket.send_fds(hand_out, [b"c"], [conn.fileno()])
            except OSError:
                pass
        finally:
            conn.close()


def _peek_request(conn) -> bytes | None:
    """The whole request, read without consuming it (the pool may need it);
    b"" when the client sent nothing, None when it is not a request or too
    long (or too slow) to peek at."""
    import socket
    import time
    deadline = time.monotonic() + 2
    want = 4096                              # a build's requests are a few hundred bytes
    while True:
        data = conn.recv(want, socket.MSG_PEEK)
        if not data:
            return b""
        if data == client.PING:
            return conn.recv(len(data))
        total = client.request_length(data[:40])
        if total is None and len(data) >= 40:
            return None
        if total is not None:
            if total > _PEEK_LIMIT:
                return None
            if len(data) >= total:
                return data[:total]
            want = total
        if time.monotonic() > deadline:      # the rest is slow to come: let the pool wait for it
            return None
        time.sleep(0.0002)


def _run(argv: list[str], cwd: str, env: dict[str, str], cli, io) -> bytes:
    """Run one command as `orcgen ARGV` would, in this process; the reply bytes."""
    os.chdir(cwd)
    for k in [k for k in os.environ if k.startswith("ORCGEN_") or k == "SRCARCH"]:
        del os.environ[k]                    # the client's settings, not the first client's
    os.environ.update(env)
    os.environ.pop("ORCGEN_WORKER", None)
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        status = cli.main(argv)
    except SystemExit as e:                  # argparse usage errors
        status = e.code if isinstance(e.code, int) else 2
    finally:
        sys.stdout.flush()
        sys.stdout, sys.stderr = saved
    return client.encode_reply(status, out.getvalue(), err.getvalue())


def _handle(conn, cli, io) -> None:
    """A pool child's one request."""
    req = client.decode_request(client.recv_all(conn))
    if req is None:                          # a ping (or garbage): prove we are alive
        conn.sendall(client.PONG)
        conn.close()
        return
    try:
        reply = _run(*req, cli, io)
    except BaseException as e:               # a bug: report it, never hang the client
        reply = client.encode_reply(70, "", "orcgen: error: internal error: %s: %s\n"
                                    % (type(e).__name__, e))
    conn.sendall(reply)
    conn.close()


def _rehearse(cli, io) -> None:
    """Run each command once on an empty input, so that what the first call
    builds (argparse's compiled patterns, gettext lookups, lazy imports) is
    in the server before it forks, not rebuilt in every child.  Without the
    cache: a database opened here would be shared by every child after fork."""
    for name in cli.COMMANDS:
        _run_quietly(cli, io, [name, os.devnull])


# objtool's arguments for a kernel object (x86-64 defconfig, no IBT)
_KERNEL_ARGS = ["--hacks=jump_label", "--hacks=noinstr", "--hacks=skylake", "--orc", "--retpoline",
                "--rethunk", "--static-call", "--uaccess", "--prefix=16"]
_ROUNDS = 16


def _rehearse_analysis(cli, io) -> None:
    """Analyse a small object (orcgen/data: tests/fixtures/src/switch.c, gcc
    -O2) a few times before forking.  Python specialises each function's
    bytecode as it runs, and a child forked from a server that had never
    analysed anything redid that for every request: on a small kernel object
    the child's analysis took 13 ms instead of 5 ms."""
    import shutil
    import tempfile
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "rehearsal-x86_64.o")
    if not os.path.exists(src):
        return
    tmp = tempfile.mkdtemp(prefix="orcgen-rehearsal-")
    try:
        obj = os.path.join(tmp, "rehearsal.o")
        for _ in range(_ROUNDS):
            shutil.copy(src, obj)          # `objtool` rewrites it
            for argv in (["orc", obj], ["check", obj], ["objtool"] + _KERNEL_ARGS + [obj]):
                _run_quietly(cli, io, argv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_quietly(cli, io, argv: list[str]) -> None:
    """One command in this process, its output dropped, without the cache."""
    saved = sys.stdout, sys.stderr, os.environ.get("ORCGEN_NO_CACHE")
    os.environ["ORCGEN_NO_CACHE"] = "1"
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        cli.main(argv)
    except BaseException:
        pass
    finally:
        sys.stdout, sys.stderr = saved[0], saved[1]
        if saved[2] is None:
            os.environ.pop("ORCGEN_NO_CACHE", None)
        else:
            os.environ["ORCGEN_NO_CACHE"] = saved[2]

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
