# SPDX-License-Identifier: GPL-2.0-only
"""One parser of objtool's options (orcgen/objtool_args.py) for `orcgen objtool`
and for the Options of `orcgen check`/`orcgen orc`, following libsubcmd's
parse_options() as objtool 6.12 calls it.  The cases are those where the two
parsers orcgen had disagreed with each other or with objtool."""
import os
import shutil
import subprocess

import pytest

from conftest import FIXTURES, OBJTOOL, needs_objtool
from orcgen.objtool_args import UsageError, parse, strtol10
from orcgen.options import Options

OBJ = os.path.join(FIXTURES, "x86_64", "switch-gcc-O2-nofp.o")

# argv (before the file) -> (flags, prefix) objtool takes it as
ACCEPTED = [
    (["-os"], {"orc", "stackval"}, 0),                  # grouped short options
    (["-ustr"], {"uaccess", "stackval", "static-call", "retpoline"}, 0),
    (["--orc", "--prefix=16"], {"orc"}, 16),
    (["--orc", "--prefix=016"], {"orc"}, 16),            # strtol base 10: not octal
    (["--orc", "--prefix", "16"], {"orc"}, 16),
    (["--orc", "--prefix= 16"], {"orc"}, 16),            # strtol skips leading blanks
    (["--orc", "--prefix=+16"], {"orc"}, 16),
    (["--orc", "--prefix="], {"orc"}, 0),                # nothing converted, nothing left
    (["--stack"], {"stackval"}, 0),                      # an unambiguous abbreviation
    (["--orc", "--retp"], {"orc", "retpoline"}, 0),
    (["--orc", "--stackval", "--no-orc"], {"stackval"}, 0),   # negation
    (["--orc", "--no-unreachable"], {"orc", "no-unreachable"}, 0),
    (["--orc", "--no-unreachable", "--unreachable"], {"orc"}, 0),  # its negation
]

REFUSED = [
    (["--orc", "--prefix=0x10"], "option `prefix' expects a numerical value"),   # base 10 only
    (["--orc", "--prefix=16k"], "option `prefix' expects a numerical value"),
    (["--orc", "--prefix=16 "], "option `prefix' expects a numerical value"),
    (["-h"], ""),                                        # the built-in help, not --hacks
    (["-oh"], ""),
    (["-orc"], "did you mean `--orc` (with two dashes ?)"),
    (["-stackval"], "did you mean `--stackval` (with two dashes ?)"),
    (["--re"], "Ambiguous option: re (could be --retpoline or --rethunk)"),
    (["--no-orc=1"], "option `no-orc' takes no value"),
    (["-q"], "unknown switch `q'"),
    (["--orcs"], "unknown option `orcs'"),
]


@pytest.mark.parametrize("argv,flags,prefix", ACCEPTED)
def test_accepted(argv, flags, prefix):
    a = parse(argv + ["x.o"])
    assert (a.flags, a.prefix, a.files) == (flags, prefix, ["x.o"])
    # Options are built from the same parse, so the two paths cannot disagree.
    opts, files = Options.from_objtool_args(argv + ["x.o"])
    assert files == ["x.o"] and opts == a.options()
    assert opts.prefix == prefix and opts.stackval == ("stackval" in flags)
    assert opts.orc == ("orc" in flags) and opts.no_unreachable == ("no-unreachable" in flags)


@pytest.mark.parametrize("argv,message", REFUSED)
def test_refused(argv, message):
    with pytest.raises(UsageError) as e:
        parse(argv + ["x.o"])
    assert str(e.value) == message
    with pytest.raises(ValueError):
        Options.from_objtool_args(argv + ["x.o"])


def test_orcgen_own_options_and_objtool_args_env_words():
    opts, files = Options.from_objtool_args(["--userspace", "-os", "--noreturn=a,b", "f.o"])
    assert (opts.userspace, opts.orc, opts.stackval, opts.noreturns, files) == \
        (True, True, True, frozenset({"a", "b"}), ["f.o"])
    # OBJTOOL_ARGS: split at single spaces, options only (objtool ignores its other words).
    a = parse(["--orc", "x.o"], env="--stackval y.o --prefix 16")
    assert (a.flags, a.prefix, a.files) == ({"orc", "stackval"}, 16, ["x.o"])


def test_strtol10():
    assert [strtol10(s) for s in ("0", "-3", "\t7", "4294967312", "")] == [0, -3, 7, 16, 0]


@needs_objtool
@pytest.mark.parametrize("argv", [c[0] for c in ACCEPTED] + [c[0] for c in REFUSED])
def test_objtool_agrees_on_what_is_a_usage_error(argv, tmp_path):
    """The real objtool refuses (exit 129) exactly the command lines parse() refuses."""
    obj = str(tmp_path / "x.o")
    shutil.copyfile(OBJ, obj)
    env = dict(os.environ, SRCARCH="x86")
    env.pop("OBJTOOL_ARGS", None)
    run = subprocess.run([OBJTOOL, *argv, "--dry-run", obj], env=env, capture_output=True,
                         text=True, timeout=60)
    try:
        parse(argv + ["--dry-run", obj])
        refused = False
    except UsageError:
        refused = True
    assert (run.returncode == 129) == refused, run.stderr
