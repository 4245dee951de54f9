# SPDX-License-Identifier: GPL-2.0-only
"""The warm worker (ORCGEN_WORKER=1) prints exactly what the in-process command prints."""
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import FIXTURES

X86 = os.path.join(FIXTURES, "x86_64")
OBJS = [os.path.join(X86, n) for n in ("switch-gcc-O2-fp.o", "noreturn-gcc-O2-fp.o",
                                       "dynstack-clang-O2-nofp.o")]


def orcgen(args, env):
    return subprocess.run([sys.executable, "-m", "orcgen.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def servers(cache_dir) -> list[int]:
    """The worker processes (server, front, pool) serving this cache directory."""
    pids = []
    for proc in os.listdir("/proc"):
        if not proc.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % proc, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "--serve %s" % cache_dir in cmd:
            pids.append(int(proc))
    return pids


@pytest.fixture
def worker_env(tmp_path):
    env = dict(os.environ, ORCGEN_CACHE_DIR=str(tmp_path), ORCGEN_WORKER_IDLE="30")
    yield env
    # stop the server this test started (it would also exit by itself when idle)
    for pid in servers(tmp_path):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


@pytest.mark.parametrize("cmd", [["orc"], ["check"], ["check", "--stackval"]])
def test_same_output_as_in_process(worker_env, cmd):
    direct = [orcgen(cmd + [o], dict(worker_env, ORCGEN_NO_CACHE="1")) for o in OBJS]
    env = dict(worker_env, ORCGEN_WORKER="1")
    via = [orcgen(cmd + [o], env) for o in OBJS]
    for d, v in zip(direct, via):
        assert (v.returncode, v.stdout, v.stderr) == (d.returncode, d.stdout, d.stderr)
    assert any(f.suffix == ".sock" for f in os.scandir(worker_env["ORCGEN_CACHE_DIR"])
               for f in [__import__("pathlib").Path(f.path)])


def test_errors_and_parallel_clients(worker_env, tmp_path):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"junk")
    env = dict(worker_env, ORCGEN_WORKER="1")
    r = orcgen(["check", str(bad)], env)
    assert (r.returncode, r.stderr) == (2, "orcgen: error: %s: not an ELF file\n" % bad)
    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda o: orcgen(["orc", o], env), OBJS * 4))
    for o, r in zip(OBJS * 4, results):
        assert r.returncode == 0
        assert r.stdout == open(o[:-2] + ".orc.txt").read()


def test_falls_back_in_process_when_the_worker_cannot_start(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    env = dict(os.environ, ORCGEN_CACHE_DIR=str(blocked / "sub"), ORCGEN_WORKER="1")
    r = orcgen(["orc", OBJS[0]], env)
    assert r.returncode == 0 and r.stdout == open(OBJS[0][:-2] + ".orc.txt").read()


def test_server_imports_the_clients_orcgen_not_the_working_directorys(worker_env, tmp_path):
    """A directory named orcgen in the working directory (a source tree, a
    build directory) must not be what the server imports."""
    work = tmp_path / "work"
    (work / "orcgen").mkdir(parents=True)
    (work / "orcgen" / "__init__.py").write_text("raise SystemExit('the wrong orcgen')\n")
    env = dict(worker_env, ORCGEN_WORKER="1")
    # as an installed script runs: sys.path[0] is the script's directory, not the cwd
    script = "import sys; del sys.path[0]; from orcgen.cli import main; sys.exit(main())"
    r = subprocess.run([sys.executable, "-c", script, "orc", OBJS[0]], env=env, cwd=work,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == open(OBJS[0][:-2] + ".orc.txt").read()
    assert servers(tmp_path), "the request ran in-process: the server did not start"


def test_sigterm_stops_the_whole_server(worker_env, tmp_path):
    import time
    r = orcgen(["orc", OBJS[0]], dict(worker_env, ORCGEN_WORKER="1"))
    assert r.returncode == 0
    pids = servers(tmp_path)
    assert len(pids) >= 3                   # server, front, pool
    os.kill(min(pids), signal.SIGTERM)      # the server started first
    deadline = time.monotonic() + 10
    while servers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not servers(tmp_path)
    assert not any(f.name.endswith(".sock") for f in os.scandir(tmp_path))


def test_repeats_are_answered_by_the_front_misses_by_a_fresh_child(worker_env, tmp_path):
    """A cached answer costs no fork: the pool is untouched.  A new object
    (or --no-cache) takes one pool child, which the server replaces."""
    env = dict(worker_env, ORCGEN_WORKER="1")
    first = orcgen(["orc", OBJS[0]], env)
    before = set(servers(tmp_path))
    again = orcgen(["orc", OBJS[0]], env)
    assert (again.returncode, again.stdout, again.stderr) == \
        (first.returncode, first.stdout, first.stderr)
    assert set(servers(tmp_path)) == before
    fresh = orcgen(["orc", "--no-cache", OBJS[0]], env)
    assert fresh.stdout == first.stdout
    import time
    deadline = time.monotonic() + 10
    while set(servers(tmp_path)) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(servers(tmp_path)) != before


def test_each_request_has_its_own_settings_not_the_first_clients(worker_env, tmp_path):
    """The server inherits the environment of the client that started it;
    a later client's ORCGEN_* settings (here: caching on) must win."""
    orcgen(["orc", OBJS[1]], dict(worker_env, ORCGEN_WORKER="1", ORCGEN_NO_CACHE="1"))
    env = dict(worker_env, ORCGEN_WORKER="1")
    orcgen(["orc", OBJS[0]], env)
    before = set(servers(tmp_path))
    orcgen(["orc", OBJS[0]], env)
    assert set(servers(tmp_path)) == before   # cached, so answered by the front


def test_a_request_longer_than_the_front_peeks_at(worker_env):
    """A command line of tens of kilobytes (a batch) goes past the front to the pool whole."""
    files = [OBJS[0]] * (70_000 // len(OBJS[0]) + 1)
    direct = orcgen(["check"] + files, dict(worker_env, ORCGEN_NO_CACHE="1"))
    via = orcgen(["check"] + files, dict(worker_env, ORCGEN_WORKER="1"))
    assert (via.returncode, via.stdout, via.stderr) == (direct.returncode, direct.stdout, direct.stderr)


def test_a_server_whose_source_changed_stops_and_the_answer_stays_right(worker_env, tmp_path):
    """After orcgen's code changes (an edit, an upgrade), a running server must
    not answer with the old code: it stops, and the client starts a new one."""
    import time
    env = dict(worker_env, ORCGEN_WORKER="1")
    first = orcgen(["orc", OBJS[0]], env)
    old = set(servers(tmp_path))
    assert old
    import orcgen as pkg
    source = os.path.join(os.path.dirname(pkg.__file__), "options.py")
    st = os.stat(source)
    try:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        time.sleep(1.1)                      # the front looks at most once a second
        again = orcgen(["orc", OBJS[0]], env)
        deadline = time.monotonic() + 10
        while old & set(servers(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not old & set(servers(tmp_path))
    finally:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (again.returncode, again.stdout, again.stderr) == \
        (first.returncode, first.stdout, first.stderr)


def _bin(name):
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin", name)


def test_under_make_the_worker_is_the_default(worker_env, tmp_path):
    """A per-object run inside a kernel build needs no environment variable to be fast."""
    env = dict(worker_env, MAKELEVEL="1", MAKEFLAGS="-j2 --jobserver-auth=fifo:/nonexistent")
    env.pop("ORCGEN_WORKER", None)
    direct = orcgen(["orc", OBJS[0]], dict(worker_env, ORCGEN_NO_CACHE="1"))
    r = subprocess.run([sys.executable, _bin("orcgen"), "orc", OBJS[0]], env=env,
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (direct.returncode, direct.stdout, direct.stderr)
    assert servers(tmp_path), "under make, orcgen ran in-process instead of using the worker"


def test_orcgen_worker_0_keeps_it_in_process_under_make(worker_env, tmp_path):
    env = dict(worker_env, MAKELEVEL="1", ORCGEN_WORKER="0")
    r = subprocess.run([sys.executable, _bin("orcgen"), "orc", OBJS[0]], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not servers(tmp_path)


def test_the_rehearsal_object_is_shipped_and_analysed():
    """The server analyses orcgen/data's object before forking (so that its
    children start with the analysis' bytecode specialised); it must be the
    fixture it says it is, and give a real analysis, not an early error."""
    import orcgen
    from orcgen.elf import ElfFile
    from orcgen.options import Options
    from orcgen.pipeline import analyze_elf
    from orcgen import worker
    shipped = os.path.join(os.path.dirname(orcgen.__file__), "data", "rehearsal-x86_64.o")
    data = open(shipped, "rb").read()
    assert data == open(os.path.join(FIXTURES, "x86_64", "switch-gcc-O2-fp.o"), "rb").read()
    res = analyze_elf(ElfFile(data, shipped), Options(orc=True), cache=None)
    assert res.orc and not res.fatal
    assert "--orc" in worker._KERNEL_ARGS
