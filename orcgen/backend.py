# SPDX-License-Identifier: GPL-2.0-only
"""What an architecture back-end supplies, and how the core finds one.

The boundary follows objtool's arch/*/decode.c vs check.c split: the back-end
knows encodings, register conventions and the names its kernel gives to special
symbols; the core knows control flow and stack semantics.  Back-ends are found
through the `orcgen.arches` entry-point group, keyed by ELF e_machine, so a new
architecture is a package, not a patch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from .errors import InputError
from .insn import Decoded, DecodeFailure

# Register "bases" that are not registers (objtool's CFI_* pseudo registers).
UNDEFINED = -1      # not saved / not known
CFA = -2            # relative to the canonical frame address
SP_INDIRECT = -3    # CFA = *(sp) + offset (stack swizzle)
BP_INDIRECT = -4    # CFA = *(fp + offset) (DRAP saved on the stack)


def s16(x: int) -> int:
    """x wrapped to a signed 16-bit field, as C stores it (ORC offsets are s16)."""
    return ((x + 0x8000) & 0xFFFF) - 0x8000


@dataclass(frozen=True)
class Abi:
    """The calling convention facts the interpreter needs, in DWARF register numbers."""
    sp: int
    fp: int
    ra: int
    num_regs: int
    callee_saved: frozenset[int]
    cfa_offset_at_entry: int              # x86-64: CFA = SP + 8 at entry; arm64: SP + 0
    ra_rule_at_entry: tuple[int, int]     # (base, offset) where RA lives at entry
    reg_names: dict[int, str] = field(default_factory=dict)
    # Frame records {fp, ra} addressed by FP (AAPCS64): FP may be set to SP + n
    # pointing at the record, not only to SP right after the record is pushed.
    frame_records: bool = False
    # Which saved registers two paths must agree on where they meet.  objtool
    # (x86-64) requires all of them; an unwinder needs only the CFA, the frame
    # pointer and the return address, which is what arm64's validation checks.
    joins_compare_all_saved: bool = True
    # The shadow call stack's pointer (AArch64: x18, -fsanitize=shadow-call-stack):
    # a return address loaded through it is the caller's (Options.precise only).
    shadow_stack: int = -1

    def reg_name(self, reg: int) -> str:
        return {UNDEFINED: "undef", CFA: "cfa", SP_INDIRECT: "(sp)", BP_INDIRECT: "(fp)"}.get(
            reg, self.reg_names.get(reg, "r%d" % reg))


@dataclass(frozen=True)
class SpecialLayout:
    """Layout of one kernel "special section" entry (alternatives, jump labels,
    exception table): entry size and field offsets; -1 where a field is absent."""
    section: str
    size: int
    orig: int
    new: int
    group: bool = False
    jump_or_nop: bool = False
    orig_len: int = -1
    new_len: int = -1
    feature: int = -1
    key: int = -1


class Backend(Protocol):
    """An architecture back-end (see arch/x86_64 for the reference one)."""
    name: str
    machine: int
    abi: Abi
    special_sections: tuple[SpecialLayout, ...]
    noreturns: frozenset[str]
    # Where the ABI marks data in code with mapping symbols ($d/$x, AArch64 ELF):
    # the NOP encoding the data is decoded as.  None (or absent) elsewhere.
    data_filler: bytes | None

    def decode_section(self, code: bytes, in_func: Callable[[int], bool]
                       ) -> tuple[Decoded, DecodeFailure | None]:
        """Decode a whole code section from offset 0; stop at the first
        undecodable bytes and say where.  `in_func(offset)` tells whether an
        offset lies inside an STT_FUNC symbol (some encodings mean different
        things in callable code)."""
        ...

    def is_retpoline(self, name: str) -> bool: ...
    def is_rethunk(self, name: str) -> bool: ...
    def is_embedded_insn(self, name: str) -> bool: ...
    def is_ftrace(self, name: str) -> bool: ...
    def is_pc_relative(self, rtype: int) -> bool: ...
    def jump_reloc_offset(self, addend: int) -> int: ...
    def decode_hint_reg(self, reg: int) -> int | None: ...
    def switch_table_addend(self, rtype: int, addend: int) -> tuple[int, bool]: ...
    def alternative_flags(self, feature: int, uaccess: bool) -> tuple[bool, bool]: ...
    def disassemble(self, code: bytes, offset: int) -> list[tuple[int, int, str]]: ...


_cache: dict[int, Backend] = {}
# Back-ends that ship with orcgen, found without scanning installed packages'
# metadata (importlib.metadata costs tens of milliseconds per process, and a
# kernel build starts one process per object); others come from entry points.
_BUILTIN = {62: "orcgen.arch.x86_64", 183: "orcgen.arch.arm64"}


def backend_for(machine: int, machine_name: str = "") -> Backend:
    """The back-end registered for ELF e_machine `machine`, or an InputError."""
    be = _cache.get(machine)
    if be is not None:
        return be
    if machine in _BUILTIN:
        import importlib
        be = importlib.import_module(_BUILTIN[machine]).BACKEND
    else:
        from importlib import metadata
        for ep in metadata.entry_points(group="orcgen.arches"):
            if ep.name == str(machine):
                be = ep.load()
                break
    if be is None:
        raise InputError("unsupported architecture %s (no orcgen back-end registered for it)"
                         % (machine_name or "e_machine %d" % machine))
    _cache[machine] = be
    return be
