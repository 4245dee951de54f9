# SPDX-License-Identifier: GPL-2.0-only
"""Walking one large file's functions in several processes.

The walk of vmlinux.o's 60 k functions is most of orcgen's time there, and
each function's walk touches its own instructions: its body, its .cold part,
its alternatives' replacements, its jump tables' targets.  So the list of
functions is cut, in order, into one piece per process; the first piece is
walked here, the others in forked children (which share the program without
copying it), and each child sends back what its walk wrote: the visited
marks and states of the instructions it reached, the alternatives' states it
filled, its findings and the symbols it marked as warned.

The result is the one-process walk exactly, or it is not used.  The pieces
are merged in order, and a piece counts only if nothing it wrote or read was
written by an earlier piece: no instruction both reached, no alternative's
states both filled, no symbol both warned, no CFI save read that an earlier
piece reached.  Then the earlier pieces cannot have changed what its walk
saw, and it cannot have changed theirs (they come first in objtool's
order).  From the first piece that fails the test on, the functions are
walked here, one after the other, as without `-j`.
"""
from __future__ import annotations

import marshal
import os
import pickle
import re
from array import array

from .findings import Finding

# Below this many instructions, a process costs more than it saves (a fork,
# and the pickled states of half the instructions).
MIN_INSNS = 400_000

# Processes for one file's walk: set by the command line (-j N) or
# ORCGEN_JOBS; 0: one per CPU this process may run on (at most 8).
jobs = 0

_REACHED = re.compile(rb"[^\x00]+")
_SET = re.compile(rb"[^\x00]")


def processes(insns: int, linked: bool = False) -> int:
    """How many processes to walk a program of `insns` instructions with.
    A linked file (a library) is walked in one unless -j N says otherwise:
    there decoding dominates (libLLVM: 21 s of 37), the split saves 3 s and
    costs 35 MB, which the memory bound for libraries cannot spare."""
    from .pardecode import _env_jobs, _in_daemon
    if insns < MIN_INSNS or _in_daemon():
        return 1
    import threading
    if threading.active_count() > 1:       # a threaded process (the warm worker) does not fork
        return 1
    n = jobs or _env_jobs()
    if n or linked:
        return n or 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def pieces(tasks: list, n: int) -> list[list]:
    """`tasks` ((code section, function) in walk order) cut into `n` runs of
    about equal code size."""
    total = sum(f.len for _cs, f in tasks) or 1
    out: list[list] = [[]]
    done = 0
    for t in tasks:
        if done * n >= total * len(out) and len(out) < n:
            out.append([])
        out[-1].append(t)
        done += t[1].len
    return [p for p in out if p]


def walk(it, tasks: list, n: int) -> int | None:
    """Walk `tasks` with interpreter `it` in `n` processes; the warnings, or
    None where the program is not in a state to split (then the caller walks)."""
    p = it.p
    cut = pieces(tasks, n)
    if len(cut) < 2 or p.visited.count(0) != len(p.visited):
        return None
    before = _Before(p)
    if not before.undoable:
        return None
    children: list[tuple[int, int]] = []
    try:
        for piece in cut[1:]:
            try:
                children.append(_fork(it, piece, before))
            except OSError:                # no process left (a limit): one process, as without -j
                return None
        warnings = it.walk_tasks(cut[0])
        for k, (pid, fd) in enumerate(children):
            children[k] = (-1, -1)
            got = _receive(pid, fd)
            if got is None or not _merge(it, got, before):
                for piece in cut[k + 1:]:         # from here on: one after the other, here
                    warnings += it.walk_tasks(piece)
                break
            warnings += got.warnings
        return warnings
    finally:
        for pid, fd in children:
            if pid > 0:
                os.close(fd)
                os.kill(pid, 9)
                os.waitpid(pid, 0)


class _Before:
    """What the merge needs to know of the program as it was at the fork."""

    def __init__(self, p) -> None:
        self.findings = len(p.findings)
        self.warned = {k for k, s in enumerate(p.syms) if s.warned}     # by position: few are
        self.groups = {id(g.cfi): g.cfi for g in p.alt_group.values()}
        self.group_states = {k: tuple(c) for k, c in self.groups.items()}
        # where the walk has not been, only a hint's instruction has a state
        self.hint_states = {i: p.cfi[i] for i in (m.start() for m in _SET.finditer(p.hint))}
        self.undoable = p.cfi.count(None) + sum(c is not None for c in self.hint_states.values()) \
            == len(p.cfi)

    def changed_groups(self) -> list:
        """The alternatives' state lists the walk has changed since the fork, as (key, list)."""
        was = self.group_states
        return [(k, c) for k, c in self.groups.items() if tuple(c) != was[k]]


def _fork(it, piece: list, before: _Before) -> tuple[int, int]:
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        return pid, r
    status = 0
    try:
        os.close(r)
        with os.fdopen(w, "wb") as out:
            _walked(it, piece, before, out)
    except BaseException:                  # the parent walks this piece itself and meets it there
        status = 1
    os._exit(status)


# States go over the pipe this many reached stretches at a time, as numbers
# into the list of distinct states, so that neither side holds them all twice
# (libLLVM with -j 2: 6 M instructions a piece).
_SPANS_PER_CHUNK = 4096


def _send(out, obj) -> None:
    pickle.dump(obj, out, pickle.HIGHEST_PROTOCOL)


def _walked(it, piece: list, before: _Before, out) -> None:
    """In a child: walk `piece`, and send what the walk wrote: a header, the
    distinct states, then chunks of (spans, states new since, their states'
    numbers), then an empty chunk."""
    p = it.p
    it.save_reads = []
    warnings = it.walk_tasks(piece)
    findings = [f.to_tuple() for f in p.findings[before.findings:]]
    warned = [k for k, s in enumerate(p.syms) if s.warned and k not in before.warned]
    _send(out, (bytes(p.visited), before.changed_groups(),
                marshal.dumps((findings, p.finding_insn[before.findings:], warned, it.save_reads, warnings))))
    known: list = [None] + it.states.all()
    number = {id(c): k for k, c in enumerate(known)}
    _send(out, known)
    spans: list[tuple[int, int]] = []
    for m in _REACHED.finditer(p.visited):
        spans.append(m.span())
        if len(spans) == _SPANS_PER_CHUNK:
            _send(out, _chunk(p.cfi, spans, known, number))
            spans = []
    if spans:
        _send(out, _chunk(p.cfi, spans, known, number))
    _send(out, ([], [], None))


def _chunk(cfi: list, spans: list, known: list, number: dict) -> tuple:
    codes = array("i")
    new: list = []
    for a, b in spans:
        run = cfi[a:b]
        n = len(codes)
        try:
            codes.extend(map(number.__getitem__, map(id, run)))
        except KeyError:                   # a state the walk did not intern (a hint's)
            del codes[n:]
            for c in run:
                if id(c) not in number:
                    number[id(c)] = len(known)
                    known.append(c)
                    new.append(c)
            codes.extend(map(number.__getitem__, map(id, run)))
    return spans, new, codes


class _Received:
    """A child's walk as it arrives: the header at once, then the states."""

    def __init__(self, pid: int, file) -> None:
        self.pid, self.file = pid, file
        self.visited, self.groups, meta = pickle.load(self.file)
        self.findings, self.finding_insn, self.warned, self.reads, self.warnings = marshal.loads(meta)

    def states(self, intern):
        """(spans, their states) as they come, each state `intern`ed."""
        known = [None] + [intern(c) for c in pickle.load(self.file)[1:]]
        get = known.__getitem__
        while True:
            spans, new, codes = pickle.load(self.file)
            if not spans:
                return
            known += map(intern, new)
            at = 0
            for a, b in spans:
                yield a, b, map(get, codes[at:at + b - a])
                at += b - a

    def close(self) -> bool:
        """Whether the child ended well (a child not read to its end ends on a broken pipe)."""
        self.file.close()
        _pid, status = os.waitpid(self.pid, 0)
        return status == 0


def _receive(pid: int, fd: int) -> _Received | None:
    """The child's header, or None if it failed before sending one."""
    f = os.fdopen(fd, "rb")
    try:
        return _Received(pid, f)
    except Exception:
        f.close()
        os.waitpid(pid, 0)
        return None


def _independent(p, got: _Received, before: _Before) -> bool:
    """Nothing the child's walk wrote or read was written by an earlier piece."""
    visited = p.visited
    for m in _REACHED.finditer(got.visited):
        a, b = m.span()
        if visited.count(0, a, b) != b - a:
            return False
    if any(visited[s] for s in got.reads):
        return False
    if got.groups and {k for k, _c in got.groups} & {k for k, _c in before.changed_groups()}:
        return False
    return not any(p.syms[k].warned for k in got.warned)


def _merge(it, got: _Received, before: _Before) -> bool:
    """Add one child's walk to the program if it is independent of what is
    there; False, and the program as it was, if not (or if the child fails)."""
    p = it.p
    if not _independent(p, got, before):
        got.close()
        return False
    # the parent's own instance of each state (they are equal), so that the
    # child's copies are freed: libLLVM's walk keeps 160 k distinct states
    cfi, applied, end = p.cfi, 0, 0
    try:
        for a, b, states in got.states(it.states.kept):
            cfi[a:b] = states
            applied, end = applied + 1, b
    except Exception:
        pass
    theirs = got.visited
    if not got.close() or applied != sum(1 for _m in _REACHED.finditer(theirs)):
        for m in _REACHED.finditer(theirs, 0, end):     # as it was: a state only where a hint gave one
            a, b = m.span()
            cfi[a:b] = [None] * (b - a)
        for i, c in before.hint_states.items():
            cfi[i] = c
        return False
    visited = p.visited
    for m in _REACHED.finditer(theirs):
        a, b = m.span()
        visited[a:b] = theirs[a:b]
    for k, c in got.groups:
        before.groups[k][:] = c
    for k in got.warned:
        p.syms[k].warned = True
    p.findings.extend(Finding.from_tuple(f) for f in got.findings)
    p.finding_insn.extend(got.finding_insn)
    return True
