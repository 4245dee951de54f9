# SPDX-License-Identifier: GPL-2.0-only
"""The thin client of the warm worker (ORCGEN_WORKER=1, or by default under make).

A kernel build starts one orcgen per object, so this module is the whole of
what such a process runs when the worker is up: it imports nothing beyond
what the interpreter has already loaded (os, sys) and the C socket module.
`socket.py` (enum, selectors), json and re would each cost more than the
round trip to the server.

The wire format is equally plain.  Request: `orcgen-1 LENGTH\\0`, then LENGTH
bytes of NUL-separated byte strings (argv, the environment and the working
directory cannot contain NUL on POSIX): the working directory, then
`A`+argument and `E`+NAME=VALUE items.  The length lets the server read a
request without consuming it (MSG_PEEK) and hand it on whole.  Reply:
`STATUS LEN_STDOUT\\n`, stdout's bytes, stderr's bytes.
"""
import os
import sys

import _socket

MAGIC = b"orcgen-1"
PING = b"ping"
PONG = b"pong"


def cache_dir() -> str:
    """Where the cache (and the worker's socket) lives.  Here, not in
    orcgen.cache, which the client must not import (0.2 ms of each start)."""
    d = os.environ.get("ORCGEN_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "orcgen")


def socket_paths() -> tuple[str, str]:
    """(the server's socket, the lock that lets one client start it)."""
    from . import __version__
    base = os.path.join(cache_dir(), "worker-%d-%s" % (os.getuid(), __version__))
    return base + ".sock", base + ".lock"


def encode_request(argv: list[str], cwd: str, env: dict[str, str]) -> bytes:
    items = [os.fsencode(cwd)]
    items += [b"A" + os.fsencode(a) for a in argv]
    items += [b"E" + os.fsencode(k) + b"=" + os.fsencode(v) for k, v in sorted(env.items())]
    body = b"\0".join(items)
    return b"%s %d\0" % (MAGIC, len(body)) + body


def request_length(head: bytes) -> int | None:
    """The whole length of the request that `head` starts, once its header is in."""
    magic, sp, rest = head.partition(b" ")
    n, nul, _ = rest.partition(b"\0")
    if magic != MAGIC or not sp or not nul or not n.isdigit():
        return None
    return len(magic) + 1 + len(n) + 1 + int(n)


def decode_request(data: bytes) -> tuple[list[str], str, dict[str, str]] | None:
    """(argv, cwd, env), or None for a ping or anything that is not a whole request."""
    total = request_length(data[:40])
    if total is None or total != len(data):
        return None
    items = data[data.index(b"\0") + 1:].split(b"\0")
    argv = [os.fsdecode(i[1:]) for i in items[1:] if i[:1] == b"A"]
    env = dict(os.fsdecode(i[1:]).partition("=")[::2] for i in items[1:] if i[:1] == b"E")
    return argv, os.fsdecode(items[0]), env


def encode_reply(status: int, out: str, err: str) -> bytes:
    o = out.encode("utf-8", "surrogateescape")
    e = err.encode("utf-8", "surrogateescape")
    return b"%d %d\n" % (status, len(o)) + o + e


def recv_all(s) -> bytes:
    """Everything the peer sends until it shuts its side down."""
    chunks = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def request(sock_path: str, payload: bytes, timeout: float) -> bytes | None:
    """The server's whole reply, or None when it cannot be reached."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(payload)
        s.shutdown(_socket.SHUT_WR)
        return recv_all(s) or None
    except OSError:
        return None
    finally:
        s.close()


def main(argv: list[str]) -> int:
    """Run `orcgen ARGV` in the warm server, starting it if needed; in-process if that fails."""
    sock_path, lock_path = socket_paths()
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("ORCGEN_") or k == "SRCARCH") and k != "ORCGEN_WORKER"}
    payload = encode_request(argv, os.getcwd(), env)
    reply = request(sock_path, payload, 3600) if os.path.exists(sock_path) else None
    if reply is None:
        try:
            started = _start_server(sock_path, lock_path)
        except OSError:                     # no cache directory, no sockets: work here
            started = False
        if started:
            reply = request(sock_path, payload, 3600)
    head, nl, body = (reply or b"").partition(b"\n")
    try:
        status, n_out = (int(x) for x in head.split(b" "))
    except ValueError:                      # no worker, or a reply cut short: work here
        os.environ.pop("ORCGEN_WORKER", None)
        from .cli import main as in_process
        return in_process(argv)
    sys.stdout.flush()
    out = sys.stdout.buffer
    out.write(body[:n_out])
    out.flush()
    sys.stderr.buffer.write(body[n_out:])
    sys.stderr.flush()
    return status


def _start_server(sock_path: str, lock_path: str) -> bool:
    import fcntl
    import subprocess
    import time
    os.makedirs(os.path.dirname(sock_path), exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if request(sock_path, PING, 5) == PONG:
            return True                      # another client started it meanwhile
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        env = {k: v for k, v in os.environ.items() if k != "ORCGEN_WORKER"}
        if "ORCGEN_WORKER" not in os.environ:
            # started on its own (under make): gone soon after the build, not in 10 minutes
            env.setdefault("ORCGEN_WORKER_IDLE", "60")
        # The server imports orcgen from this process's own sys.path: with
        # `-m`, the working directory would come first, and a directory named
        # orcgen there (a source tree) would be imported instead.
        boot = "import sys; sys.path[:] = sys.argv[3:]; from orcgen.worker import serve; serve(sys.argv[2])"
        subprocess.Popen([sys.executable, "-c", boot, "--serve", sock_path, *sys.path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                         env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.path.exists(sock_path) and request(sock_path, PING, 5) == PONG:
                return True
            time.sleep(0.02)
    return False
