# SPDX-License-Identifier: GPL-2.0-only
"""The cache is keyed by the content of orcgen's code, not by its version string:
an edited orcgen must never be answered with what the old code computed."""
import os
import shutil
import subprocess
import sys

from conftest import FIXTURES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBJ = os.path.join(FIXTURES, "x86_64", "switch-gcc-O2-nofp.o")


def _copy_tree(dst: str) -> str:
    """orcgen's source (orcgen/ and arch/) in `dst`, as a source tree."""
    ign = shutil.ignore_patterns("__pycache__")
    shutil.copytree(os.path.join(ROOT, "orcgen"), os.path.join(dst, "orcgen"), ignore=ign)
    shutil.copytree(os.path.join(ROOT, "arch"), os.path.join(dst, "arch"), ignore=ign)
    return dst


def _run(tree: str, cache: str, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ORCGEN_CACHE_DIR=cache, PYTHONPATH=tree, PYTHONDONTWRITEBYTECODE="1")
    env.pop("ORCGEN_WORKER", None)
    env.pop("ORCGEN_NO_CACHE", None)
    # orcgen.arch is a package-dir mapping when installed; in a bare source tree it is arch/
    boot = ("import sys, importlib.util as u; sys.path[:0] = [sys.argv[1]]; "
            "spec = u.spec_from_file_location('orcgen.arch', sys.argv[1] + '/arch/__init__.py', "
            "submodule_search_locations=[sys.argv[1] + '/arch']); import orcgen; "
            "m = u.module_from_spec(spec); sys.modules['orcgen.arch'] = m; spec.loader.exec_module(m); "
            "from orcgen.cli import main; sys.exit(main(sys.argv[2:]))")
    return subprocess.run([sys.executable, "-c", boot, tree] + list(argv), env=env,
                          capture_output=True, text=True, timeout=120)


def test_edited_code_is_not_answered_from_the_cache(tmp_path):
    tree = _copy_tree(str(tmp_path / "src"))
    cache = str(tmp_path / "cache")
    first = _run(tree, cache, "orc", OBJ)
    assert first.returncode == 0, first.stderr
    assert first.stdout and "EDITED" not in first.stdout
    # The same version string, different code: the table's text gets a marker.
    orc_cmd = os.path.join(tree, "orcgen", "commands", "orc.py")
    with open(orc_cmd) as f:
        text = f.read()
    marker = 'sys.stdout.write(row.text() + "\\n")'
    assert marker in text
    with open(orc_cmd, "w") as f:
        f.write(text.replace(marker, 'sys.stdout.write(row.text() + " EDITED\\n")'))
    second = _run(tree, cache, "orc", OBJ)
    assert second.returncode == 0, second.stderr
    assert "EDITED" in second.stdout, "a changed orcgen was answered from the cache"
    # And the edited code's own results are cached: a third run gives the same.
    assert _run(tree, cache, "orc", OBJ).stdout == second.stdout


def test_code_digest_follows_content_and_is_memoised(tmp_path, monkeypatch):
    from orcgen import cache
    monkeypatch.setenv("ORCGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cache, "_code", None)
    d1 = cache.code_digest()
    memo = os.listdir(tmp_path / "codehash")
    assert len(memo) == 1
    with open(tmp_path / "codehash" / memo[0], "rb") as f:
        assert f.read() == d1                        # kept by stat tuple for the next process
    monkeypatch.setattr(cache, "_code", None)
    assert cache.code_digest() == d1                 # read back, same answer
    # A different stat tuple (another tree) with different content gives another digest.
    tree = _copy_tree(str(tmp_path / "src"))
    with open(os.path.join(tree, "orcgen", "orc.py"), "a") as f:
        f.write("\n# changed\n")
    monkeypatch.setattr(cache, "__file__", os.path.join(tree, "orcgen", "cache.py"))
    monkeypatch.setattr(cache, "_code", None)
    monkeypatch.delitem(sys.modules, "orcgen.arch", raising=False)
    assert os.path.join(tree, "arch") in cache.source_dirs()
    assert cache.code_digest() != d1
    monkeypatch.setattr(cache, "_code", None)
