# SPDX-License-Identifier: GPL-2.0-only
"""The kcfi check on clang-19 objects (tests/fixtures/kcfi, recipe build.sh there)."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURES
from orcgen.checks import kcfi, select
from orcgen.checks.api import Context
from orcgen.elf import ElfFile
from orcgen.options import Options
from orcgen.pipeline import run_checks

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
import kcfi_survey  # noqa: E402

KDIR = os.path.join(FIXTURES, "kcfi")
SRC = os.path.join(FIXTURES, "src", "kcfi")


def obj(name: str) -> str:
    return os.path.join(KDIR, name)


def run(path: str, data: bytes | None = None) -> list:
    elf = ElfFile(data, path) if data is not None else ElfFile.from_path(path)
    return list(kcfi.KcfiCheck().run(Context(path, elf, Options())))


def kinds(findings) -> set:
    return {(f.kind, f.location.function) for f in findings}


# fixture -> (kind, function) of every finding it must give, and nothing else
EXPECTED = {
    "consistent-x86-11.o": set(),
    "consistent-x86-none.o": set(),
    "consistent-arm64-2.o": set(),
    "consistent-arm64-42.o": set(),
    "mixed_a-x86-11.o": set(),
    "mixed_b-x86-none.o": set(),
    "mixed_a-arm64-42.o": set(),
    "mixed_b-arm64-2.o": set(),
    "rust-x86-11.o": set(),
    "rust-x86-none.o": set(),
    # arm64's ftrace layout (2,0) has no prefix: `notrace`'s (0,0) changes nothing
    "override-arm64-2.o": set(),
    "override-x86-11.o": {("kcfi-tag-misplaced", "quiet_op"), ("kcfi-tag-misplaced", "quiet_apply"),
                          ("kcfi-caller-mismatch", "quiet_apply")},
    # 4,2 (ftrace CALL_OPS) is why arm64 does not offer CALL_OPS with CFI_CLANG
    "override-arm64-42.o": {("kcfi-tag-misplaced", "quiet_op"), ("kcfi-tag-misplaced", "quiet_apply"),
                            ("kcfi-caller-mismatch", "quiet_apply")},
    "asm-x86-11.o": {("kcfi-missing-tag", "asm_plain"), ("kcfi-entry-mismatch", "asm_broken")},
    "asm-arm64-2.o": {("kcfi-missing-tag", "asm_plain")},
    # ld -r of an 11,11 (4,2) object and a (0,0) (2,0) one: the majority's layout wins
    "mixed-x86.o": {("kcfi-tag-misplaced", "b_one")},
    "mixed-arm64.o": {("kcfi-tag-misplaced", "b_one")},
    "xref_def-x86-11.o": set(),
    "xref_use-x86-11.o": set(),
}


def test_every_fixture_has_an_expectation():
    objs = sorted(f for f in os.listdir(KDIR) if f.endswith(".o"))
    assert objs == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_findings(name):
    assert kinds(run(obj(name))) == EXPECTED[name]


def test_misplaced_message_says_where_the_tag_is_and_where_callers_look():
    f = next(f for f in run(obj("override-x86-11.o")) if f.location.function == "quiet_op")
    assert f.kind == "kcfi-tag-misplaced" and f.check == "kcfi" and f.where == "quiet_op+0x0"
    assert "quiet_op-0x4 (patchable entry 0,0)" in f.message
    assert "callers read quiet_op-0xf (the build's patchable entry 11,11)" in f.message
    assert f.location.section == ".text" and f.location.func_offset == 0
    assert [s.note for s in f.evidence.steps] == ["the hash", "where callers read", "entry"]
    f = next(f for f in run(obj("override-arm64-42.o")) if f.kind == "kcfi-caller-mismatch")
    assert "reads target-0x4" in f.message and "entry-0xc (patchable entry 4,2)" in f.message


def test_layout_facts_are_clangs():
    """Distances as clang-19 lays them out and as its callers read them."""
    fx = kcfi.facts(ElfFile.from_path(obj("consistent-x86-11.o")))
    assert {(f.name, f.before, f.after, f.distance) for f in fx.funcs} == \
        {(n, 11, 0, 15) for n in ("op_inc", "op_triple", "op_neg", "apply", "apply_all")}
    assert {c.distance for c in fx.calls} == {15} and len(fx.calls) == 4
    fx = kcfi.facts(ElfFile.from_path(obj("consistent-arm64-42.o")))
    assert {(f.before, f.after, f.distance) for f in fx.funcs} == {(2, 2, 12)}
    assert {c.distance for c in fx.calls} == {12}
    assert fx.layout() == (12, "4,2")
    fx = kcfi.facts(ElfFile.from_path(obj("consistent-x86-none.o")))
    assert {(f.record, f.distance) for f in fx.funcs} == {(False, 4)} and fx.layout() == (4, "0,0")
    fx = kcfi.facts(ElfFile.from_path(obj("override-x86-11.o")))
    assert {f.name: f.mn for f in fx.funcs} == {"loud_op": "11,11", "quiet_op": "0,0",
                                               "loud_apply": "11,11", "quiet_apply": "0,0"}
    assert sorted((c.func, c.distance) for c in fx.calls) == [("loud_apply", 15), ("quiet_apply", 4)]


@pytest.mark.parametrize("path", ["x86_64/basic-clang-O2-fp.o", "x86_64/indirect-gcc-O2-fp.o",
                                  "arm64/basic-clang-O2-fp-pfe.o", "arm64/indirect-gcc-O2-fp-pfe.o"])
def test_objects_without_kcfi_give_nothing(path):
    """Patchable entries alone (arm64 -pfe fixtures) are not KCFI."""
    elf = ElfFile.from_path(os.path.join(FIXTURES, path))
    assert kcfi.facts(elf) is None
    assert run(os.path.join(FIXTURES, path)) == []


def test_a_prefix_nop_turned_into_code_is_an_entry_mismatch():
    """The check can fail: one of op_inc's prefix NOPs overwritten with int3."""
    path = obj("consistent-x86-11.o")
    elf = ElfFile.from_path(path)
    f = next(f for f in kcfi.facts(elf).funcs if f.name == "op_inc")
    sec = elf.sections[f.secno]
    data = bytearray(elf.data)
    at = sec.offset + f.entry - 3
    assert data[at] == 0x90
    data[at] = 0xCC
    got = run(path, bytes(data))
    assert kinds(got) == {("kcfi-entry-mismatch", "op_inc")}
    assert "3 bytes that are not NOPs" in got[0].message


def test_a_hash_moved_is_misplaced():
    """op_neg's 11,11 prefix rewritten as (0,0): 11 NOPs, then the movl."""
    path = obj("consistent-x86-11.o")
    elf = ElfFile.from_path(path)
    f = next(f for f in kcfi.facts(elf).funcs if f.name == "op_neg")
    sec = elf.sections[f.secno]
    data = bytearray(elf.data)
    start = sec.offset + f.tag - 1                      # the movl
    movl = bytes(data[start:start + 5])
    data[start:start + 16] = b"\x90" * 11 + movl
    got = run(path, bytes(data))
    assert kinds(got) == {("kcfi-tag-misplaced", "op_neg")}


def test_registered_and_runs_on_elf_alone():
    names = [c.name for c in select("check")]
    assert "kcfi" in names
    check = next(c for c in select("check") if c.name == "kcfi")
    assert check.needs == frozenset({"elf"})
    path = obj("override-x86-11.o")
    ctx = Context(path, ElfFile.from_path(path), Options())      # no program: not decoded
    got = run_checks((check,), ctx, False)
    assert kinds(got) == EXPECTED["override-x86-11.o"]


def test_survey_build_wide():
    r = kcfi_survey.survey([obj("mixed_a-x86-11.o"), obj("mixed_b-x86-none.o")])
    assert r["kcfi_objects"] == 2 and r["layout"][62] == {"distance": 15, "mn": "11,11"}
    assert [(f.kind, os.path.basename(f.location.file)) for f in r["findings"]] == \
        [("kcfi-object-mismatch", "mixed_b-x86-none.o")]
    r = kcfi_survey.survey([obj("xref_def-x86-11.o"), obj("xref_use-x86-11.o")])
    assert [(f.kind, f.location.function) for f in r["findings"]] == [("kcfi-missing-tag", "ext_asm")]
    assert "xref_use-x86-11.o takes its address at .data+0x0" in r["findings"][0].message
    r = kcfi_survey.survey([obj("consistent-x86-11.o"), obj("rust-x86-none.o")])
    assert [(f.kind, os.path.basename(f.location.file)) for f in r["findings"]] == \
        [("kcfi-object-mismatch", "rust-x86-none.o")]
    consistent = [obj(n) for n in ("consistent-x86-11.o", "rust-x86-11.o", "xref_use-x86-11.o",
                                   "consistent-arm64-2.o", "override-arm64-2.o")]
    r = kcfi_survey.survey(consistent)
    assert r["findings"] == [] and r["layout"][183]["distance"] == 4


def test_survey_walks_directories_preferring_o_pre(tmp_path):
    for n in ("a.o", "a.o.pre", "b.o"):
        (tmp_path / n).write_bytes(b"")
    assert [os.path.basename(p) for p in kcfi_survey.objects([str(tmp_path)])] == ["a.o.pre", "b.o"]


def _rebuilt(tmp_path, env) -> str:
    """A copy of the recipe and sources, built; returns the output directory."""
    out = tmp_path / "fixtures"
    shutil.copytree(SRC, out / "src" / "kcfi")
    (out / "kcfi").mkdir()
    shutil.copy(os.path.join(KDIR, "build.sh"), out / "kcfi" / "build.sh")
    subprocess.run(["bash", str(out / "kcfi" / "build.sh")], check=True, env=env,
                   capture_output=True)
    return str(out / "kcfi")


def _report(path: str) -> list:
    return sorted((f.kind, f.where, f.message) for f in run(path))


@pytest.mark.skipif(shutil.which("clang-19") is None, reason="clang-19 is not installed")
def test_committed_objects_are_what_the_recipe_builds(tmp_path):
    """Rebuilt with the local clang-19: byte-identical, or at least reported identically."""
    env = dict(os.environ, RUSTC="/nonexistent")      # Rust: test_rust below
    out = _rebuilt(tmp_path, env)
    for name in sorted(EXPECTED):
        if name.startswith("rust-"):
            continue
        new = os.path.join(out, name)
        if not os.path.exists(new):               # mixed-*: ld.lld-19 missing
            continue
        with open(new, "rb") as a, open(obj(name), "rb") as b:
            if a.read() == b.read():
                continue
        assert _report(new) == _report(obj(name)), name


def _kcfi_rustc() -> list | None:
    """A rustc that compiles -Zsanitizer=kcfi (a nightly one), as build.sh probes it."""
    for cmd in (["rustc"], ["rustc", "+nightly"]):
        if shutil.which(cmd[0]) is None:
            return None
        try:
            p = subprocess.run(cmd + ["-Zsanitizer=kcfi", "-Cpanic=abort", "--print", "sysroot"],
                               capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if p.returncode == 0:
            return cmd
    return None


def test_rust(tmp_path):
    """Rust's KCFI (-Zsanitizer=kcfi) lays out hashes as clang does, and a Rust
    object built without the C build's -Zpatchable-function-entry stands out."""
    rustc = _kcfi_rustc()
    if rustc is None:
        pytest.skip("no rustc accepting -Zsanitizer=kcfi (needs a nightly toolchain); "
                    "the committed rust-x86-*.o are checked by test_fixture_findings")
    for layout, flags, d in (("11", ["-Zpatchable-function-entry=11,11"], 15), ("none", [], 4)):
        out = str(tmp_path / ("r-%s.o" % layout))
        subprocess.run(rustc + ["--edition", "2021", "-O", "--emit", "obj", "--target",
                                "x86_64-unknown-linux-gnu", "-Zsanitizer=kcfi",
                                "-Cunsafe-allow-abi-mismatch=sanitizer", "-Cpanic=abort",
                                "-Crelocation-model=static", *flags,
                                os.path.join(SRC, "rcfi.rs"), "-o", out],
                       check=True, capture_output=True, timeout=300)
        fx = kcfi.facts(ElfFile.from_path(out))
        assert {f.distance for f in fx.funcs if f.tag >= 0} == {d}
        assert {c.distance for c in fx.calls} == {d}
        assert run(out) == []
        assert _report(out) == _report(obj("rust-x86-%s.o" % layout))
    r = kcfi_survey.survey([obj("consistent-x86-11.o"), str(tmp_path / "r-none.o")])
    assert [f.kind for f in r["findings"]] == ["kcfi-object-mismatch"]
