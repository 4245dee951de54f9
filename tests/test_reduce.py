# SPDX-License-Identifier: GPL-2.0-only
"""orcgen/reduce.py and `orcgen report --source --cc`: a real Clang CFI defect
(tests/fixtures/report/push-sched.c, padded with unrelated functions) reduced
with C-Vise to a short file that still shows it; the interestingness test's
pieces on their own (compile command, dangerous warnings, matching)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from orcgen.cli import main
from orcgen.reduce import ReduceError, Target, baseline_werror, check, compile_cmd, matching, reduce

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "fixtures", "report", "push-sched.c")
CLANG = "clang-19"
CC = CLANG + " -O2 -fasynchronous-unwind-tables"
TARGET = Target("cfa", "", True, "show", "userspace")
need_clang = pytest.mark.skipif(shutil.which(CLANG) is None, reason="%s not installed" % CLANG)
need_cvise = pytest.mark.skipif(shutil.which("cvise") is None and shutil.which("creduce") is None,
                                reason="neither cvise nor creduce installed")


def test_compile_cmd_drops_the_users_output_options():
    assert compile_cmd(["gcc", "-O2", "-c", "-o", "x.o", "-g", "-ofoo"], "a.c", "a.o", ["-Werror=return-type"]) \
        == ["gcc", "-O2", "-g", "-Werror=return-type", "-c", "a.c", "-o", "a.o"]


def test_matching_needs_class_kind_verdict_and_the_function_while_it_exists():
    d = {"class": "cfa", "kind": "", "breaks_unwinding": True, "function": "show"}
    doc = {"functions": [{"name": "show"}, {"name": "other"}], "disagreements": [dict(d, function="other")]}
    assert matching(doc, TARGET) is None                     # show exists but is fine now
    doc["functions"] = [{"name": "other"}]
    assert matching(doc, TARGET)["function"] == "other"      # renamed or inlined away: anywhere
    doc["disagreements"] = [dict(d, kind="stack-switch", function="other")]
    assert matching(doc, TARGET) is None
    doc["disagreements"] = [dict(d, breaks_unwinding=False, function="other")]
    assert matching(doc, TARGET) is None


@need_clang
def test_candidate_with_undefined_behaviour_is_not_interesting(tmp_path):
    ok = tmp_path / "ok.c"
    ok.write_text(open(SRC).read())
    w = baseline_werror("ok.c", CC.split(), str(tmp_path))
    assert "-Werror=return-type" in w and "-Werror=implicit-function-declaration" in w
    assert check("ok.c", CC.split(), TARGET, w, str(tmp_path))[0]
    # the same defect, but seq_printf undeclared: a reducer must not get there
    bad = tmp_path / "bad.c"
    bad.write_text(open(SRC).read().replace("int seq_printf(void *, const char *, ...);", ""))
    good, why = check("bad.c", CC.split(), TARGET, w, str(tmp_path))
    assert not good and "implicit-function-declaration" in why
    # a source without the defect
    plain = tmp_path / "plain.c"
    plain.write_text("int f(int x) { return x + 1; }\n")
    assert not check("plain.c", CC.split(), TARGET, w, str(tmp_path))[0]
    with pytest.raises(ReduceError, match="does not show the disagreement"):
        reduce(str(plain), CC, TARGET, timeout=60)


@need_clang
@need_cvise
def test_reduce_a_real_clang_defect(tmp_path):
    src = tmp_path / "push-sched.c"
    shutil.copy(SRC, src)
    before = src.read_text()
    # C-Vise drops the padding in its first passes; the budget (a loaded 2-core
    # machine) stops it there, keeping the best candidate, which must pass.
    r = reduce(str(src), CC, TARGET, timeout=float(os.environ.get("ORCGEN_REDUCE_TEST_TIMEOUT", "150")), jobs=2)
    assert src.read_text() == before                        # the user's file is never touched
    assert r.original_lines == sum(1 for ln in before.splitlines() if ln.strip())   # blank lines are not counted
    assert r.lines < r.original_lines and r.lines <= 40, (r.status, r.source)
    assert r.status == "reduced" or r.status.startswith("timed out")
    assert "declared CFA is rsp+" in r.finding and "8 bytes too low" in r.finding
    assert r.compile == CC + " -c push-sched.c -o push-sched.o"
    assert r.orcgen == "orcgen diff --userspace --only-breaking push-sched.o"
    # the reduced file, compiled with the reported command, shows it to orcgen diff
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / r.name).write_text(r.source)
    subprocess.run(r.compile.split(), cwd=tmp_path / "out", check=True)
    status = main(["diff", "--no-cache", "--userspace", "--only-breaking", str(tmp_path / "out" / "push-sched.o")])
    assert status == 1
