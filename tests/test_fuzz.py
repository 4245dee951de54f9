# SPDX-License-Identifier: GPL-2.0-only
"""Issue 7, randomly: mutated fixtures never crash orcgen.

hypothesis drives tests/fuzzgen.py (structure-aware mutations of the x86-64 and
arm64 fixtures: field edits to boundary values, bit flips, truncation, code
clobbering, synthesized kernel sections, archives) and every input goes through
`orcgen.cli.main` for each command, followed by a good fixture, under the
oracle in fuzzgen.judge().  Derandomized, so CI sees the same inputs every run;
bench/fuzz.py runs the same generator for as long as you like.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import elfmutate
import fuzzgen


@pytest.fixture(autouse=True)
def _bounded_memory():
    """Runaway allocation fails the test instead of exhausting the machine."""
    with fuzzgen.bounded_memory():
        yield


SEEDS = fuzzgen.fixture_paths()
GOOD = os.path.join(fuzzgen.FIXTURES, "x86_64", "switch-gcc-O2-fp.o")
TIME_LIMIT = 10          # seconds per input: more is a hang
EXAMPLES = 300

_state: dict = {}


def _setup() -> dict:
    if not _state:
        _state["dir"] = tempfile.mkdtemp(prefix="orcgen-fuzz-")
        # The good file follows the bad one for every command but diff, which costs
        # ten times the others and reaches for_each_object() the same way.
        _state["good"] = fuzzgen.good_runs_for(GOOD, [c for c in fuzzgen.commands() if c != "diff"])
        _state["n"] = 0
    return _state


def teardown_module(module) -> None:
    if "dir" in _state:
        shutil.rmtree(_state["dir"], ignore_errors=True)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang("over %d s on one input" % TIME_LIMIT)


def run_case(case: fuzzgen.Case) -> None:
    s = _setup()
    s["n"] += 1
    path = os.path.join(s["dir"], "input-%d%s" % (s["n"], ".a" if case.is_archive else ".o"))
    with open(path, "wb") as f:
        f.write(case.data)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        fuzzgen.exercise(path, case.is_archive, GOOD, s["good"])
        fuzzgen.exercise_writers(path, case.is_archive)
    except BaseException as e:
        e.add_note("input: " + case.describe())
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        for name in os.listdir(s["dir"]):
            os.unlink(os.path.join(s["dir"], name))


@pytest.mark.skipif(not SEEDS, reason="no fixtures")
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_objects_never_crash_orcgen(data):
    run_case(fuzzgen.generate(elfmutate.DrawChooser(data.draw), SEEDS))


def test_generator_reaches_past_the_header():
    """Mutated inputs are not all rejected up front: a fair share is analysed
    (exit 0/1), and the errors are many different ones, so the fuzz test
    exercises the analysis and not only the ELF header checks."""
    seen_status, reasons = set(), set()
    tmp = tempfile.mkdtemp(prefix="orcgen-fuzzgen-")
    try:
        for n in range(120):
            case = fuzzgen.generate(elfmutate.RandomChooser(random.Random("gen:%d" % n)),
                                    fuzzgen.fixture_paths(["x86_64"]))
            path = os.path.join(tmp, "x")
            with open(path, "wb") as f:
                f.write(case.data)
            rc, out, err = fuzzgen.run_cli(["check", path])
            seen_status.add(rc)
            reasons |= {ln.split(": ", 3)[3].split(" ")[0] for ln in err.splitlines()
                        if ln.startswith("orcgen: error: ")}
            reasons |= {"finding: " + ln.split(": ")[-1][:20] for ln in out.splitlines()}
    finally:
        shutil.rmtree(tmp)
    assert seen_status == {0, 1, 2}
    assert len(reasons) >= 15, sorted(reasons)


def test_kernelized_seed_is_valid_before_mutation():
    """The synthesized ORC/alternatives/hint sections are well formed, so their
    readers see valid input until a mutation damages it."""
    with open(GOOD, "rb") as f:
        base = f.read()
    kinds = set()
    tmp = tempfile.mkdtemp(prefix="orcgen-kernelize-")
    try:
        for n in range(40):
            data, log = elfmutate.kernelize(elfmutate.RandomChooser(random.Random("k:%d" % n)), base)
            path = os.path.join(tmp, "k.o")
            with open(path, "wb") as f:
                f.write(data)
            kinds |= {w.split()[1] for w in log}
            for cmd in fuzzgen.commands():
                rc, out, err = fuzzgen.run_cli([cmd, path])
                assert rc in (0, 1) and "orcgen: error" not in err, (log, cmd, err)
                if cmd == "dump" and any(w.startswith("kernelize orc") for w in log):
                    assert out.count("\n") >= 1, log
    finally:
        shutil.rmtree(tmp)
    assert kinds == {"orc", "orc-linked", "alt", "jump", "ex", "hints", "discard"}


@pytest.mark.parametrize("rc,out,err,why", [
    (3, "", "", "exit status 3"),
    (1, "", "Traceback (most recent call last):\n  ...\nValueError: x\n", "traceback"),
    (2, "", "", "exit status 2 with 0 error lines"),
    (0, "", "orcgen: error: F: bad\n", "exit status 0 with 1 error lines"),
    (2, "", "orcgen: error: F: bad\norcgen: error: F: worse\n", "2 error lines for one file"),
    (2, "", "orcgen: error: G: bad\n", "error lines naming other files"),
    (2, "", "orcgen: error: F(m.o): bad\n", "member error lines for a file that is not an archive"),
])
def test_oracle_catches_what_it_must(rc, out, err, why):
    with pytest.raises(fuzzgen.OracleError, match=why.replace("(", r"\(")):
        fuzzgen.judge("check", "F", False, rc, out, err)


def test_oracle_checks_the_good_file_output():
    good = (1, "G: warning: orcgen: x\n", "")
    fuzzgen.judge("check", "F", False, 2, "G: warning: orcgen: x\n", "orcgen: error: F: bad\n", good)
    with pytest.raises(fuzzgen.OracleError, match="good file"):
        fuzzgen.judge("check", "F", False, 2, "", "orcgen: error: F: bad\n", good)
