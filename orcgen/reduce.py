# SPDX-License-Identifier: GPL-2.0-only
"""Reduce a C file to the smallest one that still shows a CFI disagreement.

A compiler developer acts on a report whose reproducer is short; this drives
C-Vise (or C-Reduce where C-Vise is missing) with an interestingness test that
keeps exactly what the report is about:

- the candidate compiles with the user's command (`-c`), and with the warnings
  that mark undefined behaviour turned into errors (a reducer left alone
  happily deletes an initialisation or a return statement, and a report built
  on undefined behaviour is closed as invalid);
- `orcgen diff` of the object (the data of `--format json`) still has a
  disagreement of the same class, kind and breaks-unwinding verdict, in the
  named function while a function of that name exists, else in any function
  (the reducer renames and inlines).

The user's file is never touched: the reduction runs on a copy in a temporary
directory, each compile has a timeout, and the whole reduction has one
(`timeout`); at the deadline the best candidate so far is kept if it still
passes the test.  Warnings the original already triggers are not held
against the candidates (they are not new).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

# Warnings that mean the candidate's behaviour is undefined or its meaning changed.
_GCC_ERRORS = ("implicit-function-declaration", "implicit-int", "return-type", "uninitialized",
               "maybe-uninitialized", "int-conversion", "incompatible-pointer-types",
               "int-to-pointer-cast", "pointer-to-int-cast", "builtin-declaration-mismatch",
               "div-by-zero", "shift-count-overflow", "shift-count-negative", "array-bounds",
               "strict-prototypes", "old-style-definition")
_CLANG_ERRORS = ("implicit-function-declaration", "implicit-int", "return-type", "uninitialized",
                 "sometimes-uninitialized", "int-conversion", "incompatible-pointer-types",
                 "int-to-pointer-cast", "pointer-to-int-cast", "incompatible-library-redeclaration",
                 "division-by-zero", "shift-count-overflow", "shift-count-negative", "array-bounds",
                 "null-dereference", "strict-prototypes", "deprecated-non-prototype")
COMPILE_TIMEOUT = 30          # seconds, one compile of one candidate
_OBJ = "candidate.o"
_BEST = "best-candidate.c"        # the smallest interesting candidate the test has seen


class ReduceError(Exception):
    """The reduction cannot start (no reducer, the original is not interesting)."""


@dataclass(frozen=True)
class Target:
    """What must persist in every candidate."""
    cls: str
    kind: str
    breaks: bool
    function: str
    flavour: str = ""          # "kernel" / "userspace": the original object's, kept fixed
    cfi: str = "auto"
    objtool_args: tuple[str, ...] = ()     # the analysis options of the original diff


@dataclass(frozen=True)
class Reduction:
    source: str                # the reduced C text
    lines: int
    original_lines: int
    name: str                  # its file name in the report's commands
    compile: str               # the exact command that compiles it
    orcgen: str                # the command that shows the disagreement
    tool: str                  # "cvise 2.7.0", "creduce ...", or "none"
    status: str                # "reduced", "timed out (best candidate so far)", "not reduced: ..."
    seconds: float
    finding: str               # the matching disagreement in the reduced object, as orcgen words it
    where: str                 # its func+0xOFF
    werror: tuple[str, ...]    # the -Werror= options every candidate passed


def compiler_family(cc: list[str]) -> str:
    """"clang" or "gcc", from the command's --version (its name can mislead: cc)."""
    try:
        out = subprocess.run(cc[:1] + ["--version"], capture_output=True, text=True, timeout=COMPILE_TIMEOUT).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return "clang" if "clang" in out.lower() else "gcc"


def werror_flags(cc: list[str]) -> list[str]:
    names = _CLANG_ERRORS if compiler_family(cc) == "clang" else _GCC_ERRORS
    return ["-Werror=" + n for n in names]


def compile_cmd(cc: list[str], src: str, obj: str, werror: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The user's command with `-c SRC -o OBJ`; an -o or -c of theirs is dropped."""
    return _no_output(cc) + list(werror) + ["-c", src, "-o", obj]


def _no_output(cc: list[str]) -> list[str]:
    words, skip = [], False
    for w in cc:
        if skip:
            skip = False
            continue
        if w == "-o":
            skip = True
            continue
        if w == "-c" or w.startswith("-o"):
            continue
        words.append(w)
    return words


def _diff_json(obj: str, target: Target) -> dict | None:
    """`orcgen diff --format json` of one object, in this process (a reducer runs
    the test thousands of times; a fresh interpreter each time would double it)."""
    from .diff import diff_object
    from .elf import ElfFile
    from .errors import InputError
    from .options import Options
    from .report.diff_json import file_report
    try:
        elf = ElfFile.from_path(obj)
        opts, _ = Options.from_objtool_args(list(target.objtool_args))
        opts = opts.with_(orc=True, userspace=target.flavour == "userspace")
        rep = diff_object(elf, opts, target.cfi, target.flavour or None)
    except (InputError, RecursionError, ValueError):
        return None
    return file_report(rep)


def matching(doc: dict, target: Target) -> dict | None:
    """The disagreement of `doc` (orcgen-diff/1 file) that keeps the target alive."""
    names = {f["name"] for f in doc.get("functions", ())}
    cands = [d for d in doc.get("disagreements", ())
             if d["class"] == target.cls and d["kind"] == target.kind and d["breaks_unwinding"] == target.breaks]
    if target.function in names:
        cands = [d for d in cands if d["function"] == target.function]
    return cands[0] if cands else None


def check(src: str, cc: list[str], target: Target, werror, workdir: str = ".") -> tuple[bool, str]:
    """Is `src` interesting?  (ok, why not / the compile's complaint)."""
    obj = os.path.join(workdir, _OBJ)
    try:
        os.unlink(obj)
    except OSError:
        pass
    try:
        cp = subprocess.run(compile_cmd(cc, src, obj, werror), capture_output=True, text=True,
                            timeout=COMPILE_TIMEOUT, cwd=workdir)
    except subprocess.TimeoutExpired:
        return False, "compile timed out"
    except OSError as e:
        return False, "cannot run the compiler: %s" % e
    if cp.returncode != 0 or not os.path.exists(obj):
        return False, cp.stderr.strip() or "compile failed (status %d)" % cp.returncode
    doc = _diff_json(obj, target)
    if doc is None:
        return False, "orcgen cannot read the object"
    return (matching(doc, target) is not None), "no %s %s disagreement" % (target.cls, target.kind)


def test_main(config: str) -> int:
    """The interestingness test C-Vise runs (cwd = its copy of the candidate):
    0 interesting, 1 not."""
    with open(config) as f:
        c = json.load(f)
    ok, _ = check(c["name"], c["cc"], Target(**c["target"]), c["werror"])
    if ok and c.get("best"):
        _keep_if_smaller(c["name"], c["best"])
    return 0 if ok else 1


def _keep_if_smaller(name: str, best: str) -> None:
    """Keep the smallest interesting candidate seen, outside the reducer's hands:
    a reducer stopped at the deadline may leave its file in any state (C-Vise
    has been seen to leave one larger than the original)."""
    try:
        with open(name, "rb") as f:
            data = f.read()
        if os.path.exists(best) and os.path.getsize(best) <= len(data):
            return
        tmp = "%s.%d" % (best, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, best)
    except OSError:
        pass


def baseline_werror(src: str, cc: list[str], workdir: str) -> list[str]:
    """The -Werror= options the original passes: those it already fails are not new."""
    flags = werror_flags(cc)
    for _ in range(len(flags) + 1):
        try:
            cp = subprocess.run(compile_cmd(cc, src, _OBJ, flags), capture_output=True, text=True,
                                timeout=COMPILE_TIMEOUT, cwd=workdir)
        except subprocess.TimeoutExpired:
            raise ReduceError("compiling the original took over %d s" % COMPILE_TIMEOUT) from None
        except OSError as e:
            raise ReduceError("cannot run %s: %s" % (cc[0], e)) from None
        if cp.returncode == 0:
            return flags
        bad = set(re.findall(r"-Werror=([\w-]+)", cp.stderr))
        keep = [f for f in flags if f[len("-Werror="):] not in bad]
        if keep == flags:
            raise ReduceError("the original does not compile with `%s`:\n%s" % (
                shlex.join(compile_cmd(cc, src, _OBJ)), cp.stderr.strip()[-2000:]))
        flags = keep
    return flags


def find_reducer(tool: str = "auto") -> tuple[str, str] | None:
    """(path, "name version") of C-Vise, else C-Reduce."""
    names = ("cvise", "creduce") if tool == "auto" else (tool,)
    for n in names:
        path = shutil.which(n)
        if path:
            try:
                v = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                v = n
            return path, (v.splitlines() or [n])[0]
    return None


def _needs_preprocessing(text: str) -> bool:
    return any(line.lstrip().startswith("#") for line in text.splitlines())


def reduce(source: str, cc: str | list[str], target: Target, timeout: float = 600, tool: str = "auto",
           jobs: int = 1, name: str = "") -> Reduction:
    """Reduce `source` (a path, never written) for `target`; see the module docstring."""
    t0 = time.monotonic()
    words = shlex.split(cc) if isinstance(cc, str) else list(cc)
    if not words:
        raise ReduceError("empty compile command")
    with open(source, errors="replace") as f:
        text = f.read()
    name = name or os.path.basename(source)
    if not name.endswith(".c"):
        name += ".c"
    with tempfile.TemporaryDirectory(prefix="orcgen-reduce-") as tmp:
        work = os.path.join(tmp, name)
        with open(work, "w") as f:
            f.write(text)
        if _needs_preprocessing(text):          # headers and macros: the reducer works on what the compiler saw
            pre = _no_output(words) + ["-E", "-P", work, "-o", work + ".i"]
            try:
                cp = subprocess.run(pre, capture_output=True, text=True, timeout=COMPILE_TIMEOUT * 4,
                                    cwd=os.path.dirname(os.path.abspath(source)))
            except (OSError, subprocess.TimeoutExpired) as e:
                raise ReduceError("cannot preprocess %s: %s" % (source, e)) from None
            if cp.returncode != 0:
                raise ReduceError("cannot preprocess %s:\n%s" % (source, cp.stderr.strip()[-2000:]))
            os.replace(work + ".i", work)
        werror = baseline_werror(name, words, tmp)
        ok, why = check(name, words, target, werror, tmp)
        if not ok:
            raise ReduceError("the original does not show the disagreement when compiled with `%s`: %s"
                              % (shlex.join(compile_cmd(words, name, _OBJ, werror)), why))
        with open(work) as f:
            original = f.read()
        found = find_reducer(tool)
        status, tool_name = "not reduced: no C-Vise or C-Reduce found", "none"
        if found is not None:
            path, tool_name = found
            status = _run_reducer(path, tmp, name, words, target, werror, timeout - (time.monotonic() - t0), jobs)
            best = _best_candidate(work, original, os.path.join(tmp, _BEST), name, words, target, werror, tmp)
            with open(work, "w") as f:
                f.write(best)
            if best == original:
                status = "not reduced: no smaller candidate kept the disagreement (%s)" % status
            if status == "reduced" or status.startswith("timed out"):
                _tidy(work, name, words, target, werror, tmp)
        with open(work) as f:
            reduced = f.read()
        check(name, words, target, werror, tmp)
        doc = _diff_json(os.path.join(tmp, _OBJ), target) or {}
        d = matching(doc, target) or {}
    obj = name[:-2] + ".o"
    flav = {"kernel": " --kernel", "userspace": " --userspace"}.get(target.flavour, "")
    return Reduction(
        reduced, _lines(reduced), _lines(text), name, shlex.join(compile_cmd(words, name, obj)),
        "orcgen diff%s --only-breaking %s" % (flav, obj) if target.breaks else "orcgen diff%s %s" % (flav, obj),
        tool_name, status, time.monotonic() - t0, d.get("sentence", ""), d.get("first", ""), tuple(werror))


def _clang_format() -> str | None:
    found = shutil.which("clang-format")
    if found:
        return found
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = sorted((n for n in os.listdir(d) if re.fullmatch(r"clang-format-\d+", n)),
                           key=lambda n: int(n.rsplit("-", 1)[1]), reverse=True)
        except OSError:
            continue
        if names:
            return os.path.join(d, names[0])
    return None


def _tidy(work: str, name: str, cc: list[str], target: Target, werror, tmp: str) -> None:
    """Lay the reducer's output out one statement a line (C-Vise leaves odd
    indentation and joined lines); kept only if it still passes the test."""
    fmt = _clang_format()
    if fmt is None:
        return
    try:
        cp = subprocess.run([fmt, "--style={BasedOnStyle: LLVM, ColumnLimit: 100}", work],
                            capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return
    if cp.returncode != 0 or not cp.stdout.strip():
        return
    with open(work) as f:
        before = f.read()
    with open(work, "w") as f:
        f.write(cp.stdout if cp.stdout.endswith("\n") else cp.stdout + "\n")
    if not check(name, cc, target, werror, tmp)[0]:
        with open(work, "w") as f:
            f.write(before)


def _best_candidate(work: str, original: str, best: str, name: str, cc: list[str], target: Target,
                    werror, tmp: str) -> str:
    """The smallest of the reducer's final file and the test's kept candidate
    that passes the test again here; the original if none does."""
    texts = []
    for path in (work, best):
        try:
            with open(path, errors="replace") as f:
                texts.append(f.read())
        except OSError:
            pass
    for text in sorted((t for t in texts if len(t) < len(original)), key=len):
        with open(work, "w") as f:
            f.write(text)
        if check(name, cc, target, werror, tmp)[0]:
            return text
    return original


def _lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())     # blank lines are not code


def _run_reducer(path: str, tmp: str, name: str, cc: list[str], target: Target, werror: list[str],
                 budget: float, jobs: int) -> str:
    config = os.path.join(tmp, "orcgen-test.json")
    with open(config, "w") as f:
        json.dump({"name": name, "cc": cc, "target": asdict(target), "werror": werror,
                   "best": os.path.join(tmp, _BEST)}, f)
    script = os.path.join(tmp, "interesting.py")
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(script, "w") as f:
        f.write("#!%s\n# orcgen's interestingness test (orcgen/reduce.py)\nimport sys\n"
                "sys.path.insert(0, %r)\nfrom orcgen.reduce import test_main\nsys.exit(test_main(%r))\n"
                % (sys.executable, pkg_root, config))
    os.chmod(script, 0o755)
    cmd = [path, script, name]
    if os.path.basename(path).startswith("cvise"):
        cmd = [path, "--n", str(max(1, jobs)), "--timeout", str(COMPILE_TIMEOUT * 2), "--tidy",
               "--no-timing", "--shaddap", script, name]
    else:
        cmd = [path, "--n", str(max(1, jobs)), "--timeout", str(COMPILE_TIMEOUT * 2), "--tidy", script, name]
    env = dict(os.environ, ORCGEN_NO_CACHE="1")          # thousands of candidates: keep them out of the cache
    env.pop("ORCGEN_WORKER", None)
    if budget <= 0:
        return "not reduced: no time left (--reduce-timeout)"
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return "timed out after %d s (best candidate so far)" % budget
    except BaseException:
        _kill(proc)
        raise
    if proc.returncode != 0:
        return "reducer failed (status %d): %s" % (proc.returncode, (err or "").strip()[-500:])
    return "reduced"


def _kill(proc: subprocess.Popen) -> None:
    """Stop the reducer and its compiles (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
