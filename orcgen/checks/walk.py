# SPDX-License-Identifier: GPL-2.0-only
"""objtool's validations, as checks.

objtool validates while it walks: a warning ends the path it is on and marks
the function as warned (one warning per function), so what is reported
depends on the order of the walk.  To keep orcgen's warnings identical to
objtool's, the interpreter keeps that walk and records each finding with its
kind; these checks own the kinds, claim the walk's findings of their kinds,
and attach evidence.  Disabling one of them drops its findings; it cannot
bring back a later warning that objtool's one-per-function rule suppressed.

`StackCheck` owns every kind no other walk check claims, so no finding of the
walk is ever lost.
"""
from __future__ import annotations

from typing import Iterable

from ..findings import Finding
from .api import STATES, Check, Context


class WalkCheck(Check):
    """A check whose findings the interpreter's walk makes."""
    needs = frozenset({STATES})
    objtool = True

    def run(self, ctx: Context) -> Iterable[Finding]:
        for f, i in ctx.walk_findings:
            if self.claims(f.kind):
                yield self.adopt(ctx, f, i)

    def adopt(self, ctx: Context, f: Finding, i: int) -> Finding:
        """The walk's finding `f` (at instruction `i`, -1 for none) as this check's."""
        if i >= 0 and ctx.program is not None:
            g = ctx.finding(self, f.kind, f.message, i, fatal=f.fatal,
                            evidence=ctx.evidence_at(i, self.kinds.get(f.kind, "")))
            return g.with_(where=f.where)
        return f.with_(check=self.name, severity=self.severity,
                       location=ctx.finding(self, f.kind, f.message).location)


class StackCheck(WalkCheck):
    name = "stack"
    description = "objtool's stack validation: every path agrees on the stack state, which ORC can describe"
    kinds = {
        "state-mismatch": "two paths reach an instruction with different stack states",
        "stack-op": "a stack operation that ORC cannot describe",
        "return-modified-frame": "a return with the stack frame not restored",
        "sibling-modified-frame": "a sibling call with the stack frame not restored",
        "hint": "an unwind hint that cannot be honoured",
        "fallthrough": "a function falls through into the next one",
        "end-of-section": "code runs off the end of its section",
        "missing-size": "a function symbol without an ELF size",
        "context-switch": "an unsupported instruction in a callable function",
        "alt-conflict": "alternatives disagree on the stack layout",
        "switch-table": "an indirect jump whose table cannot be found",
        "empty-alternative": "an empty alternative entry",
        "annotation": "a malformed annotation",
        "internal": "an inconsistency of the analysis itself",
        # where objtool gives up on the file (no ORC is written)
        "decode": "bytes that do not decode as instructions",
        "symbol": "a function symbol that does not start at an instruction",
        "special": "a malformed special section (alternatives, jump labels, exception tables)",
        "alternative": "an alternative that cannot be followed",
        "jump-label": "an unsupported instruction at a jump label",
        "jump-dest": "a jump to no instruction",
        "call-dest": "a call to no symbol",
        "call-non-function": "a call to something that is not a function",
        "intra-function-call": "an unannotated call inside a function",
        "orc": "a state ORC cannot encode",
    }

    def __init__(self) -> None:
        from . import available
        self._others = [c for n, c in available(builtin_only=True).items()
                        if n != self.name and issubclass(c, WalkCheck)]

    def claims(self, kind: str) -> bool:
        return not any(kind in c.kinds for c in self._others)


class FramePointerCheck(WalkCheck):
    name = "frame-pointer"
    description = "frame-pointer discipline: calls only with a frame set up, BP not a scratch register"
    kinds = {
        "no-frame-pointer": "a call before the frame pointer is saved and set up",
        "bp-scratch": "the frame pointer used as a scratch register",
    }


class FrameRecordCheck(WalkCheck):
    name = "frame-record"
    description = "arm64 frame records: x29 points at {x29, x30} saved by this function"
    machines = frozenset({183})
    kinds = {"frame-record": "x29 set where no frame record is, or overwritten while it is the CFA base"}


class NoinstrCheck(WalkCheck):
    name = "noinstr"
    description = "noinstr: no calls out of .noinstr.text, no instrumentation left enabled (--noinstr)"
    kinds = {"noinstr": "instrumentation or a call leaving the noinstr sections",
             "pvops": "a paravirt call target that cannot be resolved (noinstr validation of pv_ops)"}


class IbtCheck(WalkCheck):
    name = "ibt"
    description = "IBT: every indirect branch target starts with ENDBR (--ibt)"
    kinds = {"ibt": "a relocation or indirect-branch target without ENDBR"}


class UnretCheck(WalkCheck):
    name = "unret"
    description = "entry code untrains the return predictor before any RET or indirect call (--unret)"
    kinds = {"unret": "a RET or indirect call reachable from entry code before UNTRAIN_RET"}


class McountCheck(WalkCheck):
    name = "mcount"
    description = "ftrace: __fentry__ is called, never tail-called (--mcount)"
    kinds = {"mcount": "a tail call to __fentry__"}


class UaccessCheck(WalkCheck):
    name = "uaccess"
    description = "user access and direction flag: no calls or returns with UACCESS or DF set (--uaccess)"
    kinds = {"uaccess": "UACCESS enabled across a call or a return", "df": "DF set across a call or a return"}


class RetpolineCheck(WalkCheck):
    name = "retpoline"
    description = "retpoline and return-thunk builds have no indirect branches or returns (--retpoline, --rethunk)"
    kinds = {"retpoline": "an indirect branch in a retpoline build", "rethunk": "a bare return in a rethunk build"}


class SlsCheck(WalkCheck):
    name = "sls"
    description = "straight-line speculation: an int3 after every return and indirect jump (--sls)"
    kinds = {"sls": "a return or indirect jump not followed by int3"}


class UnreachableCheck(WalkCheck):
    name = "unreachable"
    description = "unreachable instructions, and calls to functions missing __noreturn"
    kinds = {"unreachable": "an instruction no path reaches",
             "noreturn": "a call to a function that does not return, without __noreturn"}
