# SPDX-License-Identifier: GPL-2.0-only
"""Cache-only mode (the worker's front): answers from the output cache or
raises NotCached, and never analyses or writes anything."""
import io
import os
import shutil
import sys

import pytest
from conftest import FIXTURES

from orcgen import cache, cli, commands

OBJ = os.path.join(FIXTURES, "x86_64", "switch-gcc-O2-fp.o")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCGEN_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "_shared", None)
    monkeypatch.setattr(cache, "default", None)
    yield tmp_path
    commands.set_cache_only(False)
    if cache._shared is not None:
        cache._shared.close()


def run(argv, capsys):
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_cached_answer_is_the_same_a_miss_raises(cache_dir, capsys):
    commands.set_cache_only(True)
    with pytest.raises(commands.NotCached):
        cli.main(["orc", OBJ])
    commands.set_cache_only(False)
    first = run(["orc", OBJ], capsys)
    commands.set_cache_only(True)
    assert run(["orc", OBJ], capsys) == first
    with pytest.raises(commands.NotCached):
        cli.main(["check", OBJ])               # another command: another entry
    with pytest.raises(commands.NotCached):
        cli.main(["orc", "--no-cache", OBJ])


@pytest.mark.parametrize("argv", [["orc", "--write"], ["objtool", "--orc"]])
def test_nothing_is_written(cache_dir, argv):
    copy = cache_dir / "x.o"
    shutil.copy(OBJ, copy)
    before = copy.read_bytes()
    commands.set_cache_only(True)
    with pytest.raises(commands.NotCached):
        cli.main(argv + [str(copy)])
    assert copy.read_bytes() == before
