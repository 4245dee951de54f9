# SPDX-License-Identifier: GPL-2.0-only
"""The arm64 back-end: decoding, AAPCS64 facts, the arm64 kernel's special
sections, relative jump tables, and an ORC-like table.

AAPCS64: the CFA is SP at entry, the return address is in x30 (LR), and a
frame record {x29, x30} sits at the address x29 holds.  DWARF numbers: x0-x30
are 0-30, sp 31, v0-v31 64-95 (d8-d15, callee-saved, are 72-79).
"""
from __future__ import annotations

from typing import Callable

from orcgen.backend import UNDEFINED, Abi, SpecialLayout
from orcgen.elf import EM_AARCH64
from orcgen.insn import Decoded, DecodeFailure

from . import orc as orc_format
from .decode import Arm64Decoder

REG_NAMES = {**{n: "x%d" % n for n in range(29)}, 29: "x29", 30: "x30", 31: "sp",
             **{64 + n: "d%d" % n for n in range(32)}}
CALLEE_SAVED = frozenset(list(range(19, 31)) + list(range(72, 80)))   # x19-x30, d8-d15

# Global functions the kernel never returns from (generic part of objtool's noreturns.h)
NORETURNS = frozenset("""
__fortify_panic __kunit_abort __module_put_and_kthread_exit __stack_chk_fail
__ubsan_handle_builtin_unreachable arch_cpu_idle_dead cpu_startup_entry do_exit
do_group_exit do_task_dead kthread_complete_and_exit kthread_exit kunit_try_catch_throw
make_task_dead nmi_panic_self_stop panic panic_smp_self_stop rest_init start_kernel
usercopy_abort rust_begin_unwind rust_helper_BUG cpu_die_early __cpu_try_die
panic_bad_stack arm64_serror_panic __arm64_sys_exit __arm64_sys_exit_group cpu_park_loop cpu_die
""".split())


class Arm64Backend:
    name = "arm64"
    machine = EM_AARCH64
    # Data inside code (`$d` mapping symbols: KCFI type hashes, literal pools)
    # is decoded as this, a NOP (orcgen/program.py _code_bytes).
    data_filler = b"\x1f\x20\x03\xd5"
    abi = Abi(sp=31, fp=29, ra=30, num_regs=96, callee_saved=CALLEE_SAVED,
              cfa_offset_at_entry=0, ra_rule_at_entry=(UNDEFINED, 0), reg_names=REG_NAMES,
              frame_records=True, joins_compare_all_saved=False, shadow_stack=18)
    special_sections = (
        # struct alt_instr { s32 orig_offset; s32 alt_offset; u16 cpucap; u8 orig_len; u8 alt_len; }
        SpecialLayout(".altinstructions", 12, orig=0, new=4, group=True, orig_len=10,
                      new_len=11, feature=8),
        SpecialLayout("__jump_table", 16, orig=0, new=4, jump_or_nop=True, key=8),
        # struct exception_table_entry { int insn, fixup; short type, data; }
        SpecialLayout("__ex_table", 12, orig=0, new=4),
    )
    # struct bug_entry (GENERIC_BUG_RELATIVE_POINTERS, DEBUG_BUGVERBOSE):
    # { s32 bug_addr_disp; s32 file_disp; u16 line; u16 flags; }; BUGFLAG_WARNING = 1
    bug_table = ("__bug_table", 12, 0, 10, 1)
    noreturns = NORETURNS
    orc = orc_format

    def __init__(self) -> None:
        self._decoder = Arm64Decoder()

    def decode_section(self, code: bytes, in_func: Callable[[int], bool]
                       ) -> tuple[Decoded, DecodeFailure | None]:
        return self._decoder.decode_section(code, in_func)

    def disassemble(self, code: bytes, offset: int) -> list[tuple[int, int, str]]:
        return self._decoder.disassemble(code, offset)

    def is_retpoline(self, name: str) -> bool:
        return False

    def is_rethunk(self, name: str) -> bool:
        return False

    def is_embedded_insn(self, name: str) -> bool:
        return False

    def is_ftrace(self, name: str) -> bool:
        return name == "_mcount"

    def is_pc_relative(self, rtype: int) -> bool:
        return rtype in (260, 261, 262, 273, 274, 275, 276, 279, 280, 282, 283)

    def jump_reloc_offset(self, addend: int) -> int:
        return addend                     # R_AARCH64_JUMP26/CALL26: S + A - P, no bias

    def decode_hint_reg(self, reg: int) -> int | None:
        return None                       # the arm64 kernel has no unwind hints

    def switch_table_addend(self, rtype: int, addend: int) -> tuple[int, bool]:
        return addend, False

    def alternative_flags(self, feature: int, uaccess: bool) -> tuple[bool, bool]:
        return False, False

    def switch_targets(self, p, i: int) -> list[int] | None:
        from .switch import switch_targets
        return switch_targets(p, i)


BACKEND = Arm64Backend()
