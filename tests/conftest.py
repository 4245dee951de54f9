# SPDX-License-Identifier: GPL-2.0-only
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# The command line caches analyses on disk; tests use a cache of their own.
os.environ.setdefault("ORCGEN_CACHE_DIR", os.path.join(
    __import__("tempfile").mkdtemp(prefix="orcgen-test-cache-")))

# Under make, orcgen's commands hand themselves to the warm worker; tests choose
# that explicitly (ORCGEN_WORKER=1 in tests/test_worker.py), so a suite run from
# a Makefile behaves as one run from a shell.
for _v in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS"):
    os.environ.pop(_v, None)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
OBJTOOL = os.environ.get("OBJTOOL", "/usr/lib/linux-kbuild-6.12.117+deb12/tools/objtool/objtool")


def have_objtool() -> bool:
    return os.access(OBJTOOL, os.X_OK)


needs_objtool = pytest.mark.skipif(
    not have_objtool(),
    reason="the kernel's objtool is not installed (Debian package linux-kbuild-6.12.117+deb12)")
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
