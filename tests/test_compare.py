# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen compare A B`: its figures against `orcgen diff --format json` on the
same objects, matching by relative path, the input kinds (directory, ar, tar),
-j, the text table, and the HTML page rendered in a real headless browser
(Debian's chromium; skipped when absent), with and without matplotlib.

The two builds are made in tmp_path from the committed DWARF fixtures
(tests/fixtures/dwarf/build.sh): ffs.c built by gcc and by clang, and two
hand-written objects with known CFA, coverage and register findings.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from contextlib import redirect_stderr, redirect_stdout

import pytest

from orcgen.cli import main
from orcgen.compare import _union
from orcgen.diff_model import CLASSES, Disagreement, WindowLine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DWARF = os.path.join(ROOT, "tests", "fixtures", "dwarf")
X86 = os.path.join(ROOT, "tests", "fixtures", "x86_64")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _put(path, src) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copyfile(src, path)


@pytest.fixture
def builds(tmp_path):
    """A (gcc-like) and B (clang-like): two matched objects, one only in each."""
    a, b = tmp_path / "A", tmp_path / "B"
    _put(str(a / "ffs.o"), os.path.join(DWARF, "ffs-gcc.o"))
    _put(str(b / "ffs.o"), os.path.join(DWARF, "ffs-clang.o"))
    _put(str(a / "sub" / "cfi.o"), os.path.join(DWARF, "cfi-x86.o"))
    _put(str(b / "sub" / "cfi.o"), os.path.join(DWARF, "debug-frame-x86.o"))
    _put(str(a / "only-a.o"), os.path.join(DWARF, "pac-arm64.o"))
    _put(str(b / "deep" / "only-b.o"), os.path.join(DWARF, "ffs-clang.o"))
    (a / "notes.txt").write_text("not an object\n")
    return str(a), str(b)


def run(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def compare_json(a, b, *more) -> dict:
    status, out, err = run(["compare", a, b, "--format", "json", *more])
    assert status == 0, err
    return json.loads(out)


def diff_json(files) -> dict:
    status, out, err = run(["diff", "--format", "json", *files])
    assert status in (0, 1), err
    return json.loads(out)


def expected(doc: dict) -> dict:
    """The compare figures, worked out independently from `orcgen diff`'s JSON."""
    funcs, brk_funcs, brk_cc, brk_insns, uncovered = 0, 0, 0, 0, 0
    per = {(c, b): [0, set()] for c in CLASSES for b in (True, False)}
    for f in doc["files"]:
        ds = f["disagreements"]
        for fn in f["functions"]:
            if fn["name"] == "(no function)":
                continue
            mine = [d for d in ds if d["function"] == fn["name"] and d["section"] == fn["section"]]
            no_fde = sum(d["instructions"] for d in mine if d["kind"] == "no-fde")
            has_fde = fn["summary"]["instructions"] > no_fde
            funcs += has_fde
            broken = [d for d in mine if d["breaks_unwinding"]]
            brk_funcs += has_fde and bool(broken)
            brk_cc += has_fde and any(d["origin"] != "asm" for d in broken)
            uncovered += no_fde
            offs = set()
            for d in broken:          # every run here is short: its window lists all its instructions
                own = {w["offset"] for w in d["window"] if d["start"] <= w["offset"] < d["end"]}
                assert len(own) == d["instructions"]
                if d["kind"] != "no-fde":      # never compared: counted on its own
                    offs |= own
            brk_insns += len(offs)
            for d in mine:
                if d["kind"] == "no-fde":
                    continue
                st = per[d["class"], d["breaks_unwinding"]]
                st[0] += d["instructions"]
                if has_fde:
                    st[1].add((f["file"], fn["name"]))
    return {"functions": funcs, "breaking_functions": brk_funcs, "breaking_instructions": brk_insns,
            "compiler": brk_cc, "uncovered": uncovered,
            "classes": {k: (v[0], len(v[1])) for k, v in per.items()}}


def test_figures_are_diffs_own(builds):
    a, b = builds
    doc = compare_json(a, b)
    assert doc["schema"] == "orcgen-compare/1"
    for side, root in (("a", a), ("b", b)):
        s = doc[side]
        d = diff_json([os.path.join(root, "ffs.o"), os.path.join(root, "sub", "cfi.o")])
        assert s["summary"] == d["total"]
        assert s["objects"] == 2 and s["instructions"] == d["total"]["instructions"]
        assert s["compared"] == d["total"]["compared"]
        for c in CLASSES:        # each class's instructions split by verdict, adding up to the diff's
            st = s["classes"][c]
            assert st["breaks"]["instructions"] + st["benign"]["instructions"] == \
                d["total"]["disagreeing"].get(c, 0) - (s["headline"]["per_instruction"]["uncovered"]
                                                       if c == "coverage" else 0)
        want = expected(d)
        for c in CLASSES:
            for b_, v in ((True, "breaks"), (False, "benign")):
                assert (s["classes"][c][v]["instructions"], s["classes"][c][v]["functions"]) == \
                    want["classes"][c, b_], (side, c, v)
        h = s["headline"]
        assert h["per_function"]["functions"] == want["functions"] == s["functions"]
        assert h["per_function"]["breaking"] == want["breaking_functions"]
        assert h["per_instruction"]["breaking"] == want["breaking_instructions"]
        assert h["per_instruction"]["estimated"] == 0
        assert h["per_instruction"]["uncovered"] == want["uncovered"]
        assert h["per_function"]["compiler"] == want["compiler"]
        assert h["per_function"]["rate"] == pytest.approx(want["breaking_functions"] / want["functions"])
        assert h["per_instruction"]["rate"] == pytest.approx(want["breaking_instructions"] / s["compared"])
    # the fixtures' known findings: cfi-x86.o has CFA and no-FDE coverage findings, the
    # hand-written .debug_frame one CFA finding and an overlap
    assert doc["a"]["classes"]["cfa"]["breaks"]["instructions"] > 0
    assert doc["a"]["functions_without_fde"] == 1
    assert doc["b"]["classes"]["coverage"]["breaks"]["list"][0]["kind"] == "overlap"
    assert doc["a"]["headline"]["per_function"]["breaking"] > 0
    assert doc["a"]["headline"]["per_instruction"]["uncovered"] > 0
    # cfi-x86.s has a pushf; pop excursion without CFI: a breaking CFA finding of asm origin
    assert doc["a"]["headline"]["per_function"]["compiler"] < doc["a"]["headline"]["per_function"]["breaking"]
    assert "asm" in {r["origin"] for r in doc["a"]["classes"]["cfa"]["breaks"]["list"]}
    assert sum(doc["a"]["distribution"]["functions"]) == doc["a"]["functions"]
    # pairs: ffs.o breaks nowhere; sub/cfi.o's functions differ by name between the two objects
    p = doc["pairs"]
    assert p["breaking_both"] + len(p["breaking_only_a"]) == doc["a"]["headline"]["per_function"]["breaking"]
    assert p["breaking_both"] + len(p["breaking_only_b"]) == doc["b"]["headline"]["per_function"]["breaking"]
    assert {x["object"] for x in p["breaking_only_a"] + p["breaking_only_b"]} == {"sub/cfi"}


def test_matching_by_relative_path(builds):
    a, b = builds
    doc = compare_json(a, b)
    o = doc["objects"]
    assert (o["matched"], o["only_a"], o["only_b"], o["errors"]) == (2, ["only-a"], ["deep/only-b"], [])
    names = {r["file"] for c in CLASSES for v in ("breaks", "benign") for r in doc["a"]["classes"][c][v]["list"]}
    assert names <= {os.path.join(a, "ffs.o"), os.path.join(a, "sub", "cfi.o")}
    # --glob instead of --suffix: only what it matches
    doc = compare_json(a, b, "--glob", "sub/*.o")
    assert doc["objects"]["matched"] == 1 and doc["a"]["objects"] == 1


def test_suffix(builds, tmp_path):
    a, b = builds
    pre = tmp_path / "pre"
    for dirpath, _, files in os.walk(a):
        for f in files:
            if f.endswith(".o"):
                rel = os.path.relpath(os.path.join(dirpath, f), a)
                _put(str(pre / (rel + ".pre")), os.path.join(dirpath, f))
                _put(str(pre / rel), os.path.join(DWARF, "ffs-clang.o"))   # as after objtool: not read
    want = compare_json(a, b)["a"]
    got = compare_json(str(pre), b, "--suffix", ".o.pre", "--suffix-b", ".o")
    assert got["objects"]["matched"] == 2
    assert {k: v for k, v in got["a"].items() if k not in ("label", "path", "classes")} == \
        {k: v for k, v in want.items() if k not in ("label", "path", "classes")}


def test_archives(builds, tmp_path):
    """A tar (below its one top directory) and an `ar` archive (by member name)
    give the same figures as the directory."""
    a, b = builds
    want = compare_json(a, b)
    tgz = str(tmp_path / "a.tgz")
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(a, arcname="build-gcc")
    got = compare_json(tgz, b)
    assert got["objects"] == want["objects"]
    assert got["a"]["headline"] == want["a"]["headline"] and got["a"]["summary"] == want["a"]["summary"]
    ar = shutil.which("ar")
    if ar is None:
        pytest.skip("binutils' ar is not installed")
    flat_a, flat_b = tmp_path / "fa", tmp_path / "fb"
    for flat, root in ((flat_a, a), (flat_b, b)):
        flat.mkdir()
        shutil.copyfile(os.path.join(root, "ffs.o"), flat / "ffs.o")
        shutil.copyfile(os.path.join(root, "sub", "cfi.o"), flat / "cfi.o")
    subprocess.run([ar, "rc", str(tmp_path / "liba.a"), "ffs.o", "cfi.o"], cwd=flat_a, check=True)
    got = compare_json(str(tmp_path / "liba.a"), str(flat_b), "--suffix", ".o")
    assert got["objects"]["matched"] == 0          # members are "ffs.o", directory keys "ffs"
    got = compare_json(str(tmp_path / "liba.a"), str(flat_b), "--glob", "*.o")
    assert got["objects"]["matched"] == 2
    assert got["a"]["headline"] == want["a"]["headline"]
    assert got["a"]["classes"]["cfa"]["breaks"]["list"][0]["file"].endswith("liba.a(cfi.o)")


def test_unreadable_and_status(builds):
    a, b = builds
    with open(os.path.join(a, "junk.o"), "wb") as f:
        f.write(b"\x7fELF garbage")
    shutil.copyfile(os.path.join(DWARF, "ffs-gcc.o"), os.path.join(b, "junk.o"))
    status, out, err = run(["compare", a, b, "--format", "json"])
    assert status == 2 and "orcgen: error: " in err and "junk.o" in err
    doc = json.loads(out)
    assert doc["objects"]["matched"] == 2 and [e["object"] for e in doc["objects"]["errors"]] == \
        [os.path.join(a, "junk.o")]
    status, out, err = run(["compare", a, os.path.join(a, "notes.txt")])
    assert status == 2 and "neither a directory" in err


def test_jobs_give_the_same_report(builds):
    a, b = builds
    one = subprocess.run([sys.executable, "-m", "orcgen.cli", "compare", a, b, "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT)
    two = subprocess.run([sys.executable, "-m", "orcgen.cli", "compare", "-j", "2", a, b, "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT)
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout


def test_text_table(builds):
    a, b = builds
    doc = compare_json(a, b, "--label-a", "gcc", "--label-b", "clang")
    status, out, _ = run(["compare", a, b, "--label-a", "gcc", "--label-b", "clang", "--functions"])
    assert status == 0
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()
            if line.split()[:1] and line.split()[0] in CLASSES + ("any",)}
    for c in CLASSES:
        for v, word in (("breaks", "breaks"), ("benign", "benign")):
            sa, sb = doc["a"]["classes"][c][v], doc["b"]["classes"][c][v]
            cells = rows[c, word]
            assert [int(cells[0]), int(cells[2]), int(cells[4]), int(cells[6])] == \
                [sa["instructions"], sa["functions"], sb["instructions"], sb["functions"]]
            assert cells[1] == "%.2f%%" % (100 * sa["rate_per_instruction"])
    hf = doc["a"]["headline"]["per_function"]
    assert "gcc: %d/%d functions with an FDE (%.2f%%)" % (hf["breaking"], hf["functions"], 100 * hf["rate"]) in out
    assert rows["any", "breaks"][0] == str(doc["a"]["headline"]["per_instruction"]["breaking"])
    assert "only in A (1):\n  only-a" in out
    assert re.search(r"cfi\.o: no_fde\+0x0 \(no-fde, no FDE, \d+ insns\)", out)


def test_union_of_runs():
    def run_(start, end, n, offsets=()):
        w = tuple(WindowLine("!", "f+0x%x" % o, o, "nop", "", "") for o in offsets)
        return Disagreement("x.o", "f", ".text", start, end, "f+0x%x" % start, "cfa", "", "cfa", "", True, n,
                            "", "", "", "", "", "", window=w)
    assert _union([]) == (0, 0)
    assert _union([run_(0, 4, 2, (0, 2)), run_(8, 9, 1, (8,))]) == (3, 0)           # apart: summed
    assert _union([run_(0, 4, 2, (0, 2)), run_(2, 6, 2, (2, 4))]) == (3, 0)         # exact from windows
    n, est = _union([run_(0, 40, 20), run_(20, 60, 20)])                            # long: estimated
    assert (n, est) == (30, 30)


# -- the HTML page, in a real browser ------------------------------------------------------

PROBE = """<script>
window.addEventListener('load', function () {
  var out = document.createElement('div'); out.id = 'probe';
  document.querySelectorAll('img').forEach(function (im) {
    var s = document.createElement('span'); s.className = 'img-width';
    s.textContent = im.id + '=' + im.naturalWidth; out.appendChild(s);
  });
  document.body.appendChild(out);
});
</script></body>"""


def browser(page: str, tmp_path, name: str) -> str:
    """Load the page (plus a probe that records each image's decoded width) in
    headless chromium; return the rendered DOM, leaving a screenshot beside it."""
    path = tmp_path / (name + ".html")
    path.write_text(page.replace("</body>", PROBE))
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
            "--user-data-dir=" + str(tmp_path / "chromium-profile")]
    shot = subprocess.run(base + ["--screenshot=" + str(tmp_path / (name + ".png")), "--window-size=1200,2000",
                                  "file://" + str(path)], capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0, shot.stderr
    assert os.path.getsize(tmp_path / (name + ".png")) > 10000
    dom = subprocess.run(base + ["--dump-dom", "file://" + str(path)], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr
    return dom.stdout


def html_page(a, b) -> str:
    status, out, err = run(["compare", a, b, "--format", "html", "--label-a", "gcc", "--label-b", "clang"])
    assert status == 0, err
    return out


def check_page(page: str, dom: str | None) -> None:
    for text in (page, dom) if dom is not None else (page,):
        assert '<table id="classes">' in text and "What the rates mean" in text
        assert "per-function rate" in text and "breaks unwinding" in text
        # every function behind a class links to an evidence block that is on the page
        links = set(re.findall(r'href="#(ev-[ab]-\d+)"', text))
        anchors = set(re.findall(r'<pre id="(ev-[ab]-\d+)"', text))
        assert links and links <= anchors
        for ref in re.findall(r'href="#(list-[^"]+)"', text):
            assert 'id="%s"' % ref in text
    assert "http://" not in page.replace("http://www.w3.org", "") and "<link" not in page    # self-contained


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_html_in_browser(builds, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (the compare extra) is not installed")
    a, b = builds
    page = html_page(a, b)
    assert page.count('src="data:image/png;base64,') == 2
    dom = browser(page, tmp_path, "compare")
    check_page(page, dom)
    widths = dict(s.split("=") for s in re.findall(r'<span class="img-width">([^<]*)</span>', dom))
    assert set(widths) == {"plot-rates", "plot-distribution"}
    assert all(int(w) >= 800 for w in widths.values()), widths        # decoded, at their size


def test_html_without_matplotlib(builds, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)          # import matplotlib... raises ImportError
    a, b = builds
    page = html_page(a, b)
    assert "<img" not in page and 'id="no-plots"' in page and "matplotlib is not installed" in page
    dom = browser(page, tmp_path, "no-plots") if CHROMIUM else None
    check_page(page, dom)
    if dom is not None:
        assert 'id="no-plots"' in dom and 'class="img-width"' not in dom
