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


@pytest.fixture
def worker_env(tmp_path):
    env = dict(os.environ, ORCGEN_CACHE_DIR=str(tmp_path), ORCGEN_WORKER_IDLE="30")
    yield env
    # stop the server this test started (it would also exit by itself when idle)
    for proc in os.listdir("/proc"):
        if not proc.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % proc, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "orcgen.worker --serve %s" % tmp_path in cmd:
            try:
                os.kill(int(proc), signal.SIGTERM)
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
