# SPDX-License-Identifier: GPL-2.0-only
"""Structure-aware mutations of real ELF objects, and the oracle that judges a run.

Shared by the suite's fuzz test (tests/test_fuzz.py, driven by hypothesis) and
the long fuzz run (bench/fuzz.py, driven by random.Random).  Both drive the
generator through a `Chooser`, so a hypothesis example and a numbered
bench/fuzz.py input are made by the same code.

An input is a seed (a fixture object; for x86-64 optionally "kernelized";
optionally wrapped with others in an `ar` archive) plus a stack of mutations,
all from tests/elfmutate.py.

The oracle (`exercise`) runs every command through `orcgen.cli.main`, the CLI's
own entry point, on [mutated input, a good fixture] and checks: exit status in
{0, 1, 2}; no traceback text; status 2 exactly when there are error lines, and
one `orcgen: error: FILE: reason` line per failed file; the good file's output
is exactly what it is when run alone (a bad file does not disturb the rest of
the run).  Exceptions escaping `main` propagate: that is a crash.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from typing import Sequence

from armutate import make_archive, mutate_archive
from elfmutate import kernelize, mutate_elf, weighted

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# -- inputs ---------------------------------------------------------------------

def fixture_paths(arches: Sequence[str] = ("x86_64", "arm64")) -> list[str]:
    out = []
    for a in arches:
        d = os.path.join(FIXTURES, a)
        if os.path.isdir(d):
            out += sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".o"))
    return out


@dataclass
class Case:
    data: bytes
    log: list[str]
    seed: str
    is_archive: bool = False

    def describe(self) -> str:
        return "seed %s: %s" % (os.path.relpath(self.seed, ROOT), "; ".join(self.log))


_SEED_CACHE: dict[str, bytes] = {}


def _read(path: str) -> bytes:
    b = _SEED_CACHE.get(path)
    if b is None:
        with open(path, "rb") as f:
            b = _SEED_CACHE[path] = f.read()
    return b


def generate(ch, seeds: Sequence[str]) -> Case:
    """One mutated input."""
    path = ch.choice(seeds)
    data = _read(path)
    log: list[str] = []
    x86 = len(data) > 20 and data[18:20] == b"\x3e\x00"
    shape = weighted(ch, [(6, "plain"), (3 if x86 else 0, "kernel"), (2, "archive")])
    if shape == "kernel":
        data, klog = kernelize(ch, data)
        log += klog
    if shape != "archive":
        data, mlog = mutate_elf(ch, data, ch.int(1, 4))
        return Case(data, log + mlog, path)
    members = [(os.path.basename(path), data)]
    for _ in range(ch.int(0, 2)):
        other = ch.choice(seeds)
        members.append((os.path.basename(other) + "-%d" % len(members), _read(other)))
    mutated = []
    for name, body in members:
        body, mlog = mutate_elf(ch, body, ch.int(0, 2))
        log += ["%s: %s" % (name, m) for m in mlog]
        mutated.append((name, body))
    bsd = ch.int(0, 3) == 0
    arch = make_archive(mutated, bsd=bsd)
    log.insert(0, "archive of %d%s" % (len(members), " (bsd names)" if bsd else ""))
    for _ in range(ch.int(0, 2)):
        arch, m = mutate_archive(ch, arch)
        log.append(m)
    return Case(arch, log, path, is_archive=True)


# -- running orcgen as the CLI does, and the oracle ----------------------------

def commands() -> list[str]:
    """The commands to exercise: the read-only ones the CLI has (diff when it exists)."""
    from orcgen import cli
    return [c for c in ("check", "orc", "dump", "diff") if c in cli.COMMANDS]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """orcgen.cli.main(argv) with stdout/stderr captured.  Exceptions propagate."""
    from orcgen import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return rc, out.getvalue(), err.getvalue()


class OracleError(AssertionError):
    pass


TRACEBACK = "Traceback (most recent call last)"


def judge(cmd: str, path: str, is_archive: bool, rc: int, out: str, err: str,
          good: tuple[int, str, str] | None = None, allow_oom: bool = False) -> None:
    """Check one run of `orcgen CMD path [good]` against the rules of issue 7.
    "out of memory" is a failure unless `allow_oom` (a huge input under a
    memory limit): the fuzz inputs are small, so running out is a bug."""
    def fail(msg: str) -> None:
        raise OracleError("orcgen %s: %s\n--- stdout ---\n%s--- stderr ---\n%s"
                          % (cmd, msg, out[-3000:], err[-3000:]))

    if rc not in (0, 1, 2):
        fail("exit status %r" % (rc,))
    if TRACEBACK in out or TRACEBACK in err:
        fail("traceback text in the output")
    errors = [ln for ln in err.split("\n") if ln.startswith("orcgen: error: ")]
    mine = [ln for ln in errors if ln.startswith("orcgen: error: %s: " % path)]
    members = [ln for ln in errors if ln.startswith("orcgen: error: %s(" % path)]
    if len(mine) + len(members) != len(errors):
        fail("error lines naming other files: %r" % errors)
    for ln in errors:
        if not re.fullmatch(r"orcgen: error: .+: \S.*", ln):
            fail("malformed error line %r" % ln)
    if not allow_oom and any(ln.endswith(": out of memory") for ln in errors):
        fail("out of memory on a %d-byte input" % os.path.getsize(path))
    if (rc == 2) != bool(errors):
        fail("exit status %d with %d error lines" % (rc, len(errors)))
    if len(mine) > 1:
        fail("%d error lines for one file" % len(mine))
    if mine and members:
        fail("error lines for the archive and for its members")
    if members and not is_archive:
        fail("member error lines for a file that is not an archive")
    if len(set(members)) != len(members):
        fail("duplicate member error lines")
    if good is not None:
        grc, gout, gerr = good
        if not out.endswith(gout) or not err.endswith(gerr):
            fail("the good file after the bad one did not give its own output")
        if rc < grc:
            fail("exit status %d below the good file's own %d" % (rc, grc))


def exercise(path: str, is_archive: bool, good_path: str | None = None,
             good_runs: dict[str, tuple[int, str, str]] | None = None,
             cmds: Sequence[str] | None = None) -> dict[str, int]:
    """Run every command on `path` (followed by `good_path` for the commands
    `good_runs` has an entry for) and judge each run; return {command: exit status}."""
    status = {}
    for cmd in cmds or commands():
        with_good = good_path is not None and good_runs is not None and cmd in good_runs
        argv = [cmd, path] + ([good_path] if with_good else [])
        rc, out, err = run_cli(argv)
        good = good_runs[cmd] if with_good else None
        judge(cmd, path, is_archive, rc, out, err, good)
        status[cmd] = rc
    return status


def can_write() -> bool:
    """Does `orcgen orc` have --write (the command that changes its input)?"""
    import argparse
    import importlib
    ap = argparse.ArgumentParser()
    importlib.import_module("orcgen.commands.orc").add_arguments(ap)
    return "--write" in ap._option_string_actions


def exercise_write(path: str, is_archive: bool) -> int:
    """`orcgen orc --write` on `path` (a scratch copy: it may be rewritten).  Judged
    like the other commands; besides, a run that did not succeed leaves the file
    byte for byte as it was, and a file orcgen wrote is one orcgen can read."""
    before = _read_file(path)
    rc, out, err = run_cli(["orc", "--write", path])
    judge("orc --write", path, is_archive, rc, out, err)
    _judge_written("orc --write", path, is_archive, before, rc, err)
    return rc


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _judge_written(cmd: str, path: str, is_archive: bool, before: bytes, rc: int, err: str) -> None:
    """A writer that did not succeed left the file as it was; what one wrote, orcgen can dump."""
    after = _read_file(path)
    if rc != 0 and after != before:
        raise OracleError("orcgen %s exited %d but changed the file\n%s" % (cmd, rc, err[-3000:]))
    if after != before:
        rc2, out2, err2 = run_cli(["dump", path])
        judge("dump (of what %s wrote)" % cmd, path, is_archive, rc2, out2, err2)
        if rc2 != 0:
            raise OracleError("orcgen cannot dump the ORC %s wrote:\n%s" % (cmd, err2[-3000:]))


MEMORY_HEADROOM = 2 << 30


@contextlib.contextmanager
def bounded_memory(headroom: int = MEMORY_HEADROOM):
    """Lower this process's address-space limit to what it uses now plus
    `headroom` for the duration, so that an input that makes orcgen allocate
    without bound ends in a MemoryError (a failed test) rather than in the
    machine's OOM killer."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = vm + headroom
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def exercise_objtool(path: str, is_archive: bool) -> int:
    """`orcgen objtool --orc` (objtool's command line, objtool's exit statuses:
    0, 1 for a file it cannot use, 255 for one it cannot write) on `path`, a
    scratch copy, and `orcgen objtool --dump`: no traceback, no other status,
    and the file unchanged unless the run succeeded."""
    before = _read_file(path)
    for argv in (["objtool", "--dump", path], ["objtool", "--orc", path]):
        rc, out, err = run_cli(argv)
        if rc not in (0, 1, 255) or TRACEBACK in out + err:
            raise OracleError("orcgen %s: exit status %r\n%s" % (" ".join(argv[:2]), rc, err[-3000:]))
    _judge_written("objtool --orc", path, is_archive, before, rc, err)
    return rc


def exercise_writers(path: str, is_archive: bool) -> dict[str, int]:
    """The commands that write, each on its own scratch copy of `path`."""
    from orcgen import cli
    status = {}
    with open(path, "rb") as f:
        data = f.read()
    for name, fn, present in (("orc --write", exercise_write, can_write()),
                              ("objtool --orc", exercise_objtool, "objtool" in cli.COMMANDS)):
        if not present:
            continue
        copy = path + ".scratch"
        with open(copy, "wb") as f:
            f.write(data)
        try:
            status[name] = fn(copy, is_archive)
        finally:
            os.unlink(copy)
    return status


def good_runs_for(good_path: str, cmds: Sequence[str] | None = None) -> dict[str, tuple[int, str, str]]:
    return {c: run_cli([c, good_path]) for c in cmds or commands()}
