# SPDX-License-Identifier: GPL-2.0-only
"""A warm orcgen that per-object commands hand their work to (ORCGEN_WORKER=1).

A kernel build starts one checker process per object; a Python process that
imports orcgen's analysis (and capstone) pays tens of milliseconds before it
reads a byte.  With ORCGEN_WORKER=1 the command is a thin client instead: it
imports nothing but the standard library's socket code, sends its argv, working
directory and ORCGEN_*/SRCARCH environment to a server over a Unix socket, and
prints what comes back.  The server, started by the first client (under a file
lock, so `make -j` starts one), has everything imported and forks one child per
request: requests run in parallel and in isolation, and their output is exactly
what the same command prints in-process.  It exits after ORCGEN_WORKER_IDLE
seconds (default 600) without requests.  Any failure to reach it falls back to
running the command in-process.
"""
from __future__ import annotations

import json
import os
import socket
import sys

_IDLE = float(os.environ.get("ORCGEN_WORKER_IDLE", "600"))


def _paths() -> tuple[str, str]:
    from . import __version__
    from .cache import cache_dir
    d = cache_dir()
    base = os.path.join(d, "worker-%d-%s" % (os.getuid(), __version__))
    return base + ".sock", base + ".lock"


def _recv_all(s: socket.socket) -> bytes:
    chunks = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _request(sock_path: str, payload: bytes, timeout: float) -> dict | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = _recv_all(s)
        return json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    finally:
        s.close()


def client_main(argv: list[str]) -> int:
    """Run `orcgen ARGV` in the warm server, starting it if needed."""
    sock_path, lock_path = _paths()
    env = {k: v for k, v in os.environ.items() if k.startswith("ORCGEN_") or k == "SRCARCH"}
    env.pop("ORCGEN_WORKER", None)
    payload = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": env}).encode()
    reply = _request(sock_path, payload, 3600) if os.path.exists(sock_path) else None
    if reply is None:
        try:
            started = _start_server(sock_path, lock_path)
        except OSError:                     # no cache directory, no sockets: work here
            started = False
        if started:
            reply = _request(sock_path, payload, 3600)
    if reply is None:                       # no worker: do the work here
        os.environ.pop("ORCGEN_WORKER", None)
        from .cli import main
        return main(argv)
    sys.stdout.write(reply["stdout"])
    sys.stdout.flush()
    sys.stderr.write(reply["stderr"])
    return int(reply["status"])


def _start_server(sock_path: str, lock_path: str) -> bool:
    import fcntl
    import subprocess
    import time
    os.makedirs(os.path.dirname(sock_path), exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _request(sock_path, b'{"ping": 1}', 5) is not None:
            return True                      # another client started it meanwhile
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        env = {k: v for k, v in os.environ.items() if k != "ORCGEN_WORKER"}
        subprocess.Popen([sys.executable, "-m", "orcgen.worker", "--serve", sock_path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                         env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.path.exists(sock_path) and _request(sock_path, b'{"ping": 1}', 5) is not None:
                return True
            time.sleep(0.02)
    return False


def serve(sock_path: str) -> None:
    """The server: warm imports, then one forked child per request."""
    os.environ.pop("ORCGEN_WORKER", None)     # its children run commands, never hand them on
    import io
    import select
    import signal
    import argparse  # noqa: F401  (warm the imports: children start with all of them)
    import importlib
    import sqlite3  # noqa: F401
    from . import cfg, cli, interp, orc, pipeline  # noqa: F401
    from .backend import backend_for
    for name in cli.COMMANDS:
        try:
            importlib.import_module("orcgen.commands." + name)
        except ImportError:
            pass
    for machine in (62, 183):
        be = backend_for(machine)
        getattr(be, "decoder", None)         # x86-64: imports capstone now
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)      # children reap themselves
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = sock_path + ".%d" % os.getpid()
    srv.bind(tmp)
    srv.listen(64)
    os.replace(tmp, sock_path)
    mine = os.stat(sock_path).st_ino
    try:
        while True:
            ready, _, _ = select.select([srv], [], [], _IDLE)
            if not ready:
                break                        # idle: exit
            conn, _ = srv.accept()
            if os.fork() == 0:
                srv.close()
                _handle(conn, cli, io)
                os._exit(0)
            conn.close()
    finally:
        try:
            if os.stat(sock_path).st_ino == mine:      # not replaced by a newer server
                os.unlink(sock_path)
        except OSError:
            pass


def _handle(conn: socket.socket, cli, io) -> None:
    req = json.loads(_recv_all(conn) or b"{}")
    if "ping" in req:
        conn.sendall(b'{"pong": 1}')
        conn.close()
        return
    os.chdir(req["cwd"])
    os.environ.update(req.get("env", {}))
    os.environ.pop("ORCGEN_WORKER", None)
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        status = cli.main(list(req["argv"]))
    except SystemExit as e:                  # argparse usage errors
        status = e.code if isinstance(e.code, int) else 2
    except BaseException as e:               # a bug: report it, never hang the client
        err.write("orcgen: error: internal error: %s: %s\n" % (type(e).__name__, e))
        status = 70
    finally:
        sys.stdout.flush()
    conn.sendall(json.dumps({"status": status, "stdout": out.getvalue(),
                             "stderr": err.getvalue()}).encode())
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
