#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Does `orcgen objtool` leave objects exactly as objtool 6.12 does?

    python bench/objtool_tables_parity.py DIR [-j N] [--limit N] [--show N] [--baseline]

DIR is a kernel-object corpus (OUTDIR of kernel-objs.sh, or its src/): every
NAME.o.pre is the compiler's object, NAME.o the same after objtool, and
objtool-args.log has objtool's arguments for each.  For every object this
copies NAME.o.pre to a temporary file, runs `orcgen objtool ARGS tmp.o`
in-process, and compares the result with NAME.o:

  sections   the same sections by name (the n-th of a name with the n-th);
  headers    type, flags, entsize, addralign of each; for .symtab sh_info;
  contents   every section's bytes -- except SHT_RELA, compared as lists of
             (offset, type, symbol name, addend), and .symtab, compared as
             (name, value, size, type, bind, other, section name) in order
             ("symtab-order") and as a multiset ("symtab-set");
  order      the sections' names in index order ("section-order");
  strtab     string tables byte for byte too ("strtab-bytes": the same names
             appended in another order show only here).

One difference is orcgen's on purpose: clang's .llvm_addrsig lists symbol
indices, and objtool does not renumber them when a new local symbol moves a
global (so its list names the wrong symbols); orcgen does.  Where orcgen's
list names the same symbols as NAME.o.pre's and objtool's does not, the
difference is counted as "deliberate" and the object as identical otherwise.

It prints the count of objects with each kind of difference, a few examples
(--show), and "N/M objects identical".  --baseline compares NAME.o.pre with
NAME.o instead (what objtool changes).  Exit status 0 when all are identical.

    python bench/objtool_tables_parity.py --objtool OBJTOOL --args "ARGS" PATH...

runs the reference objtool itself (SRCARCH=x86 OBJTOOL ARGS copy.o) and
`orcgen objtool ARGS copy.o` on two copies of each object, so any argument
set can be compared on any object (an IBT build's objects are the compiler's
output, with no NAME.o.pre).  PATH is an object or a directory (every *.o
under it but *.mod.o, built-in*.o and the tools/ and scripts/ trees).  Besides
the objects, the warnings are compared ("warnings": objtool's stderr with
"objtool" read as "orcgen") and the exit statuses; --time reports both tools'
wall time and peak RSS (/usr/bin/time -v, orcgen as a subprocess then).
The ELF reading here is its own (not orcgen's), so the two cannot share a bug.
"""
from __future__ import annotations

import argparse
import collections
import io
import multiprocessing as mp
import os
import shlex
import shutil
import struct
import sys
import tempfile
import time
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
from orc_write_parity import corpus_paths, read_args  # noqa: E402  (one reading of a corpus for both benches)

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_SYMTAB_SHNDX = 2, 3, 4, 8, 18


class Obj:
    """The parts of an ELF64 relocatable object that the comparison looks at."""

    def __init__(self, data: bytes) -> None:
        eh = _EHDR.unpack_from(data, 0)
        shoff, shnum, shstrndx = eh[6], eh[12], eh[13]
        raw = [_SHDR.unpack_from(data, shoff + k * _SHDR.size) for k in range(shnum or 1)]
        if shnum == 0:
            shnum = raw[0][5]
            raw = [_SHDR.unpack_from(data, shoff + k * _SHDR.size) for k in range(shnum)]
        if shstrndx == 0xFFFF:
            shstrndx = raw[0][6]
        self.data = data
        self.sh = raw
        strs = self.contents(shstrndx)
        self.names = [_cstr(strs, h[0]) for h in raw]
        self.symtab = next((k for k, h in enumerate(raw) if h[1] == SHT_SYMTAB), None)
        self.syms: list[tuple] = []
        if self.symtab is not None:
            st = raw[self.symtab]
            strtab = self.contents(st[6])
            xsec = next((k for k, h in enumerate(raw) if h[1] == SHT_SYMTAB_SHNDX), None)
            xs = self.contents(xsec) if xsec is not None else b""
            for k, (name, info, other, shndx, value, size) in enumerate(_SYM.iter_unpack(self.contents(self.symtab))):
                if shndx == 0xFFFF and xs:
                    shndx = struct.unpack_from("<I", xs, 4 * k)[0]
                sec = self.names[shndx] if 0 < shndx < 0xFF00 or shndx >= 0x10000 else str(shndx)
                sname = _cstr(strtab, name)
                if info & 0xF == 3 and not sname:          # STT_SECTION: named by its section
                    sname = "[%s]" % sec
                self.syms.append((sname, value, size, info & 0xF, info >> 4, other, sec))

    def contents(self, k: int) -> bytes:
        h = self.sh[k]
        return b"" if h[1] == SHT_NOBITS else self.data[h[4]:h[4] + h[5]]

    def relocs(self, k: int) -> list[tuple]:
        out = []
        for off, info, addend in _RELA.iter_unpack(self.contents(k)):
            sym = info >> 32
            name = self.syms[sym][0] if sym < len(self.syms) else "#%d" % sym
            out.append((off, info & 0xFFFFFFFF, name, addend))
        return out

    def keyed(self) -> dict[tuple[str, int], int]:
        """(name, n-th of that name) -> section index."""
        seen: collections.Counter = collections.Counter()
        out = {}
        for k in range(1, len(self.sh)):
            out[(self.names[k], seen[self.names[k]])] = k
            seen[self.names[k]] += 1
        return out


def _cstr(b: bytes, off: int) -> str:
    end = b.find(b"\0", off)
    return b[off:end if end >= 0 else len(b)].decode("utf-8", "replace")


def _group(name: str) -> str:
    """A section name as a difference kind: per-function sections counted together."""
    for head in (".rela.text", ".text", ".rela.data", ".data", ".rela.rodata", ".rodata",
                 ".rela__patchable_function_entries", "__patchable_function_entries",
                 ".rela.init.text", ".init.text"):
        if name == head or name.startswith(head + "."):
            return head + "*"
    return name


SHT_LLVM_ADDRSIG = 0x6FFF4C03
DELIBERATE = "deliberate: .llvm_addrsig renumbered (objtool's names other symbols)"


def _uleb_list(raw: bytes) -> list[int]:
    out, v, shift = [], 0, 0
    for byte in raw:
        v |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(v)
            v, shift = 0, 0
    return out


def _addrsig(o: Obj, k: int) -> list:
    return [o.syms[i] if i < len(o.syms) else i for i in _uleb_list(o.contents(k))]


def compare(mine: bytes, ref: bytes, pre: bytes | None = None) -> list[tuple[str, str]]:
    """(kind, example) for every difference between two objects (`pre`: the
    object both started from, to tell orcgen's deliberate differences).
    Objects other than ELF64 (a 32-bit vDSO's) are compared byte for byte."""
    if mine[4:5] != b"\x02" or ref[4:5] != b"\x02":
        return [] if mine == ref else [("bytes (not ELF64)", "%d vs %d bytes" % (len(mine), len(ref)))]
    a, b = Obj(mine), Obj(ref)
    out: list[tuple[str, str]] = []
    ka, kb = a.keyed(), b.keyed()
    for key in kb.keys() - ka.keys():
        out.append(("missing " + _group(key[0]), key[0]))
    for key in ka.keys() - kb.keys():
        out.append(("extra " + _group(key[0]), key[0]))
    if not out and a.names != b.names:
        out.append(("section-order", "%s, objtool %s" % (a.names[-4:], b.names[-4:])))
    for key in sorted(ka.keys() & kb.keys()):
        i, j = ka[key], kb[key]
        ha, hb = a.sh[i], b.sh[j]
        name = key[0]
        g = _group(name)
        for field, pos in (("type", 1), ("flags", 2), ("addralign", 8), ("entsize", 9)):
            if ha[pos] != hb[pos]:
                out.append(("header %s %s" % (g, field), "%s: %#x, objtool %#x" % (name, ha[pos], hb[pos])))
        if ha[1] == SHT_RELA:
            if a.names[ha[7]] != b.names[hb[7]]:
                out.append(("header %s info" % g, name))
            ra, rb = a.relocs(i), b.relocs(j)
            if ra != rb:
                diff = next((k for k, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
                out.append(("relocs " + g, "%s #%d: %s, objtool %s (%d vs %d entries)"
                            % (name, diff, ra[diff] if diff < len(ra) else "-",
                               rb[diff] if diff < len(rb) else "-", len(ra), len(rb))))
        elif ha[1] == SHT_SYMTAB:
            if ha[7] != hb[7]:
                out.append(("header .symtab info", "%d, objtool %d" % (ha[7], hb[7])))
            if a.syms != b.syms:
                diff = next((k for k, (x, y) in enumerate(zip(a.syms, b.syms)) if x != y),
                            min(len(a.syms), len(b.syms)))
                out.append(("symtab-order", "#%d: %s, objtool %s" % (
                    diff, a.syms[diff] if diff < len(a.syms) else "-",
                    b.syms[diff] if diff < len(b.syms) else "-")))
            ca, cb = collections.Counter(a.syms), collections.Counter(b.syms)
            if ca != cb:
                out.append(("symtab-set", "only orcgen %s; only objtool %s" % (
                    list(ca - cb)[:2], list(cb - ca)[:2])))
        elif ha[1] == SHT_STRTAB:
            if a.contents(i) != b.contents(j):
                out.append(("strtab-bytes " + name, "%d vs %d bytes" % (len(a.contents(i)), len(b.contents(j)))))
        elif ha[1] == SHT_SYMTAB_SHNDX:
            continue               # compared through the section names of the symbols
        elif ha[1] == SHT_LLVM_ADDRSIG and a.contents(i) != b.contents(j) and pre is not None:
            o = Obj(pre)
            k = o.keyed().get(key)
            right = k is not None and _addrsig(a, i) == _addrsig(o, k)
            out.append((DELIBERATE if right and _addrsig(b, j) != _addrsig(o, k)
                        else "contents " + g, name))
        elif a.contents(i) != b.contents(j):
            ca, cb = a.contents(i), b.contents(j)
            diff = next((k for k, (x, y) in enumerate(zip(ca, cb)) if x != y), min(len(ca), len(cb)))
            out.append(("contents " + g, "%s+%#x (%d vs %d bytes)" % (name, diff, len(ca), len(cb))))
    return out


def run_orcgen(args: list[str], path: str) -> tuple[int, str]:
    """`orcgen objtool ARGS path` in this process: status and stderr."""
    from orcgen.commands.objtool import objtool
    err = io.StringIO()
    rc = objtool(list(args) + [path], io.StringIO(), err)
    return rc, err.getvalue()


def one(job: tuple[str, str, list[str], bool]) -> tuple[str, list[tuple[str, str]], str]:
    src, obj, args, baseline = job
    pre, ref = os.path.join(src, obj + ".pre"), os.path.join(src, obj)
    try:
        with open(ref, "rb") as f:
            want = f.read()
        with open(pre, "rb") as f:
            before = f.read()
        if baseline:
            return obj, compare(before, want), ""
        with tempfile.TemporaryDirectory(prefix="otp-") as tmp:
            path = os.path.join(tmp, os.path.basename(obj))
            shutil.copyfile(pre, path)
            rc, err = run_orcgen(args, path)
            with open(path, "rb") as f:
                got = f.read()
        diffs = compare(got, want, before)
        if rc:
            diffs.append(("exit %d" % rc, err.strip().splitlines()[-1] if err.strip() else ""))
        return obj, diffs, err
    except Exception as e:            # a crash is a difference too, with its reason
        return obj, [("crash " + type(e).__name__, str(e)[:200])], ""


def _objects(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in ("tools", "scripts"))
                out += [os.path.join(root, n) for n in sorted(files)
                        if n.endswith(".o") and not n.endswith(".mod.o") and not n.startswith("built-in")]
        else:
            out.append(p)
    return out


def _timed(cmd: list[str], cwd: str, env: dict, timed: bool) -> tuple[int, str, float, int]:
    """Run `cmd`: status, stderr, wall seconds, peak RSS in KiB (0 unless `timed`)."""
    import subprocess
    t0 = time.time()
    if timed:
        cmd = ["/usr/bin/time", "-v", "-o", os.path.join(cwd, ".time")] + cmd
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, errors="replace")
    wall, rss = time.time() - t0, 0
    if timed:
        with open(os.path.join(cwd, ".time")) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    rss = int(line.rsplit(":", 1)[1])
    return r.returncode, r.stderr, wall, rss


def one_live(job: tuple[str, str, list[str], bool]) -> tuple[str, list[tuple[str, str]], str]:
    """Both tools on copies of `obj`; the differences (objects, warnings, status)."""
    tool, obj, args, timed = job
    env = dict(os.environ, SRCARCH="x86")
    name = os.path.basename(obj)
    try:
        with tempfile.TemporaryDirectory(prefix="otp-") as tmp:
            runs = {}
            for who in ("objtool", "orcgen"):
                d = os.path.join(tmp, who)
                os.mkdir(d)
                shutil.copyfile(obj, os.path.join(d, name))
                if who == "objtool":
                    cmd = [tool] + args + [name]
                elif timed:
                    cmd = [sys.executable, "-m", "orcgen.commands.objtool"] + args + [name]
                else:
                    cmd = []
                if cmd:
                    runs[who] = _timed(cmd, d, env, timed)
                else:
                    cwd = os.getcwd()
                    os.chdir(d)
                    try:
                        t0 = time.time()
                        rc, err = run_orcgen(args, name)
                        runs[who] = (rc, err, time.time() - t0, 0)
                    finally:
                        os.chdir(cwd)
                with open(os.path.join(d, name), "rb") as f:
                    runs[who] += (f.read(),)
            with open(obj, "rb") as f:
                before = f.read()
        (rc_o, err_o, t_o, m_o, want), (rc_g, err_g, t_g, m_g, got) = runs["objtool"], runs["orcgen"]
        diffs = compare(got, want, before)
        if rc_o != rc_g:
            diffs.append(("exit %d, objtool %d" % (rc_g, rc_o), err_g.strip()[-200:]))
        wo = err_o.replace(": objtool: ", ": orcgen: ").replace("error: objtool:", "error: orcgen:")
        if wo.splitlines() != err_g.splitlines():
            lo, lg = wo.splitlines(), err_g.splitlines()
            k = next((k for k, (x, y) in enumerate(zip(lg, lo)) if x != y), min(len(lo), len(lg)))
            diffs.append(("warnings", "line %d: %s | objtool: %s (%d vs %d lines)" % (
                k, lg[k] if k < len(lg) else "-", lo[k] if k < len(lo) else "-", len(lg), len(lo))))
        stat = ""
        if timed:
            stat = "time objtool %.2f s %d KiB, orcgen %.2f s %d KiB" % (t_o, m_o, t_g, m_g)
        return obj, diffs, stat
    except Exception as e:            # a crash is a difference too, with its reason
        return obj, [("crash " + type(e).__name__, str(e)[:200])], ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="+", help="corpus (or, with --objtool, objects and directories)")
    ap.add_argument("--objtool", default="", help="run this objtool on a copy instead of reading NAME.o")
    ap.add_argument("--args", default="", help="with --objtool: the arguments for both tools")
    ap.add_argument("--time", action="store_true", help="with --objtool: wall time and peak RSS")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="only the first N objects")
    ap.add_argument("--show", type=int, default=3, help="examples per kind of difference")
    ap.add_argument("--baseline", action="store_true", help="compare NAME.o.pre with NAME.o")
    ap.add_argument("--only", default="", help="only objects whose path contains this")
    a = ap.parse_args()
    if a.objtool:
        objs = [o for o in _objects(a.dir) if a.only in o]
        if a.limit:
            objs = objs[:a.limit]
        jobs: list = [(a.objtool, o, shlex.split(a.args), a.time) for o in objs]
        fn = one_live
    else:
        src, log = corpus_paths(a.dir[0])
        args = read_args(log)
        objs = [o for o in args if os.path.exists(os.path.join(src, o + ".pre")) and a.only in o]
        if a.limit:
            objs = objs[:a.limit]
        jobs = [(src, o, args[o], a.baseline) for o in objs]
        fn = one
    t0 = time.time()
    if a.jobs > 1:
        with mp.Pool(a.jobs) as pool:
            results = list(pool.imap_unordered(fn, jobs, chunksize=2))
    else:
        results = [fn(j) for j in jobs]
    if a.objtool and a.time:
        for obj, _d, stat in sorted(results):
            print("%s: %s" % (obj, stat))
    kinds: dict[str, list[str]] = collections.defaultdict(list)
    same = deliberate = 0
    for obj, diffs, _err in sorted(results):
        if not diffs:
            same += 1
        elif all(k == DELIBERATE for k, _ in diffs):
            deliberate += 1
        for kind in sorted({k for k, _ in diffs}):
            example = next(e for k, e in diffs if k == kind)
            kinds[kind].append("%s: %s" % (obj, example))
    for kind in sorted(kinds, key=lambda k: (-len(kinds[k]), k)):
        print("%5d  %s" % (len(kinds[kind]), kind))
        for e in kinds[kind][:a.show]:
            print("         %s" % e)
    print("%d/%d objects identical%s (%.0f s)" % (
        same + deliberate, len(results),
        " (%d of them but for orcgen's deliberate differences)" % deliberate if deliberate else "",
        time.time() - t0))
    return 0 if same + deliberate == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
