# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen report`: one disagreement as a bug report a compiler developer can act on.

Markdown that reads as plain text too (GCC's Bugzilla shows it raw, LLVM's
GitHub issues render it): the compiler and target, where the table is wrong,
what an unwinder standing at that PC actually computes (the slot it takes for
the return address and what the code keeps there), the instructions with both
rows side by side, and a reproducer (a reduced C file and the two commands)
when one was made.
"""
from __future__ import annotations

import re

from ..diff_model import ASM_ORIGIN, CFA_CLS, COVER_CLS, FP_CLS, RA_CLS, REG_CLS, Disagreement, FileReport
from ..toolchain import Toolchain
from .diff_text import sentence

TRACKERS = {
    "gcc": "GCC Bugzilla, https://gcc.gnu.org/bugzilla/ (product gcc, component debug or target)",
    "clang": "LLVM issues, https://github.com/llvm/llvm-project/issues (labels: debuginfo, backend:%s)",
    "": "the compiler's tracker (the compiler could not be identified from the object)",
}
_BACKEND = {"x86-64": "X86", "arm64": "AArch64"}
_SP = {"x86-64": "rsp", "arm64": "sp"}
_SLOT = {"x86-64": 8, "arm64": 8}


def parse_state(text: str) -> dict[str, str]:
    """A row or state as diff_model.state_text/dwarf.row_text print it
    ("cfa=rsp+16 rbx=c-16 ra=c-8") as {name: value}."""
    out = {}
    for w in text.split():
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v
    return out


def _off(v: str) -> int | None:
    """c-16 -> -16 (a save slot relative to the CFA)."""
    m = re.fullmatch(r"c([+-]\d+)", v or "")
    return int(m.group(1)) if m else None


def _reg_off(v: str) -> tuple[str, int] | None:
    m = re.fullmatch(r"([a-z]\w*)([+-]\d+)", v or "")
    return (m.group(1), int(m.group(2))) if m else None


def _at(reg: str, off: int) -> str:
    return "[%s]" % reg if off == 0 else "[%s%+d]" % (reg, off)


def _marker(d: Disagreement):
    return next((w for w in d.window if w.marker == "->"), None)


def slot_content(off: int, computed: dict[str, str], function: str, sp_at: int | None) -> str:
    """What the code keeps at CFA+off at this instruction, in words."""
    for name, v in computed.items():
        if name != "cfa" and _off(v) == off:
            return "holds the return address" if name == "ra" else "holds the saved %s" % name
    if off >= 0:
        return "is in the caller's frame (above %s's return address), not a return address" % function
    if sp_at is not None and off < sp_at:
        return "is below the stack pointer, memory nothing has written (garbage)"
    return "is a local or spill slot of %s, not a return address" % function


_USERSPACE_HARM = ("a wrong or truncated backtrace; a C++ exception or a pthread cancellation passing "
                   "through here fails or terminates the process")
_KERNEL_HARM = ("the kernel itself unwinds with ORC, but gdb on vmlinux or a crash dump, drgn and "
                "perf's DWARF unwinding read this table and get a wrong or truncated backtrace")


def unwinder_view(d: Disagreement, machine: str, flavour: str = "") -> list[str]:
    """What an unwinder at the disagreement's first PC computes, step by step."""
    w = _marker(d)
    decl = parse_state(w.declared) if w else {}
    comp = parse_state(w.computed) if w else {}
    pc = d.first
    sp = _SP.get(machine, "sp")
    ra_decl = _off(decl.get("ra", "")) if decl else None
    if d.cls == CFA_CLS and d.cfa_base and d.kind != "stack-switch":
        base = _reg_off(d.declared)
        if base is None:
            return ["At PC %s the table says CFA=%s; the code's CFA is %s." % (pc, d.declared, d.computed)]
        reg, off = base
        sp_at = d.cfa_base_at if reg == sp else None
        out = ["At PC %s the table says CFA=%s, but %s is at CFA%+d there (the CFA is %s%+d), so an unwinder "
               "computes a CFA %d bytes too %s." % (pc, d.declared, reg, d.cfa_base_at, reg, -d.cfa_base_at,
                                                   abs(d.cfa_delta), "high" if d.cfa_delta > 0 else "low")]
        if ra_decl is not None:
            slot = d.cfa_delta + ra_decl
            what = slot_content(slot, comp, d.function, sp_at)
            if slot == sp_at and d.cause.startswith("`push") and not what.startswith("holds"):
                what = "holds what %s pushed, not a return address" % d.cause      # the top of the stack
            out.append("It reads the return address from %s (its CFA%+d), which is the real CFA%+d "
                       "and %s." % (_at(reg, off + ra_decl), ra_decl, slot, what))
        out.append("It then takes %s%+d as the caller's stack pointer, %d bytes off, so every frame above "
                   "this one is unwound from the wrong place (%s)."
                   % (reg, off, abs(d.cfa_delta), _KERNEL_HARM if flavour == "kernel" else _USERSPACE_HARM))
        return out
    if d.cls == CFA_CLS:
        return ["At PC %s the table says CFA=%s, but the code's CFA is %s (%s): every address an unwinder "
                "derives from it is on the wrong stack." % (pc, d.declared, d.computed, d.kind or "different")]
    if d.cls == RA_CLS and d.kind == "signing":
        return ["At PC %s the table says the return address is %s; the code has it %s." % (
            pc, d.declared, d.computed)]
    if d.cls == RA_CLS:
        m = re.fullmatch(r"saved at cfa([+-]\d+)", d.declared)
        if m:
            slot = int(m.group(1))
            return ["At PC %s the table says the return address is at CFA%+d; an unwinder reads it there and "
                    "the slot %s, so it returns into the wrong place." % (pc, slot, slot_content(
                        slot, comp, d.function, None))]
        return ["At PC %s the table says the return address is %s; the code has it %s: an unwinder returns "
                "into the wrong place." % (pc, d.declared, d.computed)]
    if d.cls == COVER_CLS:
        return ["No FDE covers PC %s: a DWARF unwinder (libgcc's _Unwind_Backtrace, libunwind, gdb, perf "
                "--call-graph=dwarf) finds no row for it and stops the backtrace there, or guesses; a C++ "
                "exception thrown from a callee of this code calls std::terminate. (Code written in "
                "assembly, a `.S` file or a top-level `asm`, has no FDE unless its author wrote CFI "
                "directives: that is not the compiler's doing.)" % pc]
    if d.cls in (FP_CLS, REG_CLS) and d.kind == "restored-early":
        r = d.register.split()[0] if d.register else "the register"
        return ["At PC %s the table says the caller's %s is back in %s (DW_CFA_restore or no rule), but the "
                "code has not restored it yet: it is still %s, and %s holds %s's own value. An unwinder or "
                "debugger stopped here gives the caller that value for %s%s." % (
                    pc, r, r, d.computed, r, d.function, r,
                    ", and the caller's CFA, where it is %s-based, is wrong" % r if d.cls == FP_CLS else "")]
    if d.cls in (FP_CLS, REG_CLS):
        r = d.register.split()[0] if d.register else "the register"
        m = re.fullmatch(r"saved at cfa([+-]\d+)", d.declared)
        what = ("it loads the caller's %s from CFA%+d, which %s" % (
            r, int(m.group(1)), slot_content(int(m.group(1)), comp, d.function, None))) if m else \
            ("it takes the caller's %s to be %s, while the code has it %s" % (r, d.declared, d.computed))
        tail = (": the caller's CFA, where it is %s-based, is then wrong, and so is every frame above it" % r
                if d.cls == FP_CLS else ": a debugger shows a wrong value for %s in the callers" % r)
        return ["At PC %s %s%s." % (pc, what, tail)]
    return [sentence(d)]


def title(d: Disagreement, tc: Toolchain) -> str:
    what = {CFA_CLS: "wrong CFA", RA_CLS: "wrong return-address rule", FP_CLS: "wrong frame-pointer rule",
            REG_CLS: "wrong callee-saved register rule", COVER_CLS: "code without an FDE"}.get(d.cls, d.cls)
    comp = tc.compiler if tc.family else "unknown compiler"
    return "[%s, %s] %s in %s at %s%s" % (comp, tc.machine, what, d.function, d.first,
                                         " (breaks unwinding)" if d.breaks_unwinding else "")


_ASM = re.compile(r"\b(?:__)?asm(?:__)?\b")


def asm_note(reduction) -> list[str]:
    """What an SP excursion no CFI row describes means, given the source if there is one."""
    src = getattr(reduction, "source", None)
    if src is not None and not _ASM.search(src):
        return ["**The compiler's own code:** the stack pointer moves here with no CFI row describing it, "
                "as it would inside an inline `asm` statement, but the reproducer below has no asm: the "
                "compiler emitted these instructions (a builtin or an expansion) without the CFI notes its "
                "own pushes and pops get.", ""]
    return ["**Probably not a compiler bug:** the stack pointer moves here in a way no CFI row describes at all, "
            "which is what an inline `asm` statement does (the compiler cannot see inside it) or a builtin "
            "expanded like one. Check the source for asm at this place before filing: where it has none, the "
            "compiler emitted these instructions without CFI itself (GCC's `-pg -mfentry` push of the static "
            "chain is one) and it is a compiler bug.", ""]


def window_table(d: Disagreement) -> list[str]:
    if not d.window:
        return []
    rows = [("", "where", "instruction", "declared (CFI)", "computed (orcgen)")] + \
        [(w.marker, w.where, w.insn, w.declared, w.computed) for w in d.window]
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    return [("%-*s %-*s  %-*s  %-*s  %s" % (widths[0], r[0], widths[1], r[1], widths[2], r[2], widths[3], r[3],
                                          r[4])).rstrip() for r in rows]


def render(rep: FileReport, d: Disagreement, tc: Toolchain, cc: str | None = None, reduction=None,
           command: str = "") -> str:
    """The whole report as Markdown; `reduction` is an orcgen.reduce.Reduction or None."""
    tracker = TRACKERS[tc.family]
    if tc.family == "clang":
        tracker = tracker % _BACKEND.get(tc.machine, tc.machine)
    flags = tc.flags or (("%s (as given with --cc)" % cc) if cc else
                         "unknown (the object records none: build with -g, which makes GCC record them "
                         "(-grecord-gcc-switches), Clang with -grecord-command-line, or pass --cc)")
    o = ["# " + title(d, tc), "",
         "To be filed at: " + tracker + ".", "",
         "## Summary", "",
         "The %s CFI that %s emits for `%s` is wrong at %s (%d instruction%s, %s+0x%x..0x%x): %s." % (
             rep.cfi or "DWARF", tc.compiler if tc.family else "the compiler", d.function, d.first, d.instructions,
             "" if d.instructions == 1 else "s", d.section, d.start, d.end, sentence(d)), "",
         ] + (asm_note(reduction) if d.origin == ASM_ORIGIN else []) + [
         "## Compiler, target and flags", "",
         "- Compiler: " + tc.compiler,
         "- `.comment`: " + ("; ".join("`%s`" % c for c in tc.comment) if tc.comment else "(none)"),
         "- `DW_AT_producer`: " + ("`%s`" % tc.producer if tc.producer else "(none: the object has no DWARF "
                                                                            "debug info)"),
         "- Target: %s (ELF machine)" % tc.machine,
         "- Flags: " + ("`%s`" % flags if tc.flags or cc else flags), "",
         "## What is wrong", "",
         "- Object: `%s`, function `%s`, section `%s`, offsets 0x%x..0x%x" % (
             rep.file, d.function, d.section, d.start, d.end),
         "- Finding: %s%s%s, %s" % (d.cls, " " + d.kind if d.kind else "", " " + d.register if d.register else "",
                                   "breaks unwinding" if d.breaks_unwinding else "does not break unwinding"),
         "- Declared: `%s`, set by %s" % (d.declared or "-", d.declared_by),
         "- Actual (computed from the instructions): `%s`, set by %s" % (d.computed or "-", d.computed_by), "",
         "## What an unwinder computes there", ""]
    o += unwinder_view(d, tc.machine, rep.flavour) + [""]
    o += ["## Disassembly with the declared CFI rows and the computed state", "",
          "`->` marks the first instruction with the wrong row, `!` the rest of the range; a row applies "
          "before its instruction executes.", "", "```"] + window_table(d) + ["```", ""]
    o += ["## Reproducer", ""]
    if reduction is not None:
        r = reduction
        o += ["`%s` (%d line%s; reduced from %d lines by %s in %.0f s: %s; every candidate compiled "
              "without the warnings %s):" % (r.name, r.lines, "" if r.lines == 1 else "s", r.original_lines,
                                             r.tool, r.seconds, r.status, ", ".join(
                                                 "`%s`" % w for w in r.werror) or "(none)"), "",
              "```c", r.source.rstrip("\n"), "```", "",
              "Compile it, then show the disagreement with orcgen:", "",
              "```sh", r.compile, r.orcgen, "```", ""]
        if r.finding:
            o += ["orcgen says at %s: %s." % (r.where, r.finding), ""]
        o += ["The CFI can be checked by hand with `readelf --debug-dump=frames-interp` and `objdump -d`.", ""]
    else:
        o += ["No source was given (`--source F.c --cc \"...\"` reduces one automatically). The object shows it:", "",
              "```sh", command or "orcgen diff --only-breaking %s" % rep.file,
              "readelf --debug-dump=frames-interp %s; objdump -d %s" % (rep.file, rep.file), "```", ""]
    return "\n".join(o)
