# SPDX-License-Identifier: GPL-2.0-only
"""The x86-64 back-end: decoding, ABI, the kernel's special sections and names, ORC.

What is here is what objtool keeps in tools/objtool/arch/x86/ (decode.c,
special.c, orc.c) plus the noreturn list (noreturns.h): facts about the
architecture and its kernel, none about control flow or reporting.
"""
from __future__ import annotations

from typing import Callable

from orcgen.backend import CFA, Abi, SpecialLayout
from orcgen.elf import EM_X86_64
from orcgen.insn import Decoded, DecodeFailure

from . import orc as orc_format

R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_GOTPCREL, R_X86_64_PC16 = 2, 4, 9, 13
R_X86_64_PC8, R_X86_64_PC64, R_X86_64_GOTPC32 = 15, 24, 26
_PC_RELATIVE = frozenset((R_X86_64_PC8, R_X86_64_PC16, R_X86_64_PC32, R_X86_64_PC64,
                          R_X86_64_PLT32, R_X86_64_GOTPC32, R_X86_64_GOTPCREL))
X86_FEATURE_POPCNT = 4 * 32 + 23
_PREFIXES = frozenset(list(range(0x40, 0x50)) + [0x66, 0x67, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65])
X86_FEATURE_SMAP = 9 * 32 + 20

REG_NAMES = {0: "rax", 1: "rdx", 2: "rcx", 3: "rbx", 4: "rsi", 5: "rdi", 6: "rbp", 7: "rsp",
             8: "r8", 9: "r9", 10: "r10", 11: "r11", 12: "r12", 13: "r13", 14: "r14",
             15: "r15", 16: "ra"}

# Global functions the kernel never returns from (tools/objtool/noreturns.h, 6.12).
NORETURNS = frozenset("""
__fortify_panic __ia32_sys_exit __ia32_sys_exit_group __kunit_abort
__module_put_and_kthread_exit __reiserfs_panic __stack_chk_fail __tdx_hypercall_failed
__ubsan_handle_builtin_unreachable __x64_sys_exit __x64_sys_exit_group arch_cpu_idle_dead
bch2_trans_in_restart_error bch2_trans_restart_error bch2_trans_unlocked_error
cpu_bringup_and_idle cpu_startup_entry do_exit do_group_exit do_task_dead
ex_handler_msr_mce hlt_play_dead hv_ghcb_terminate kthread_complete_and_exit kthread_exit
kunit_try_catch_throw machine_real_restart make_task_dead mpt_halt_firmware
nmi_panic_self_stop panic panic_smp_self_stop rest_init rewind_stack_and_make_dead
rust_begin_unwind rust_helper_BUG sev_es_terminate snp_abort start_kernel stop_this_cpu
usercopy_abort x86_64_start_kernel x86_64_start_reservations xen_cpu_bringup_again
xen_start_kernel
""".split())


class X86_64Backend:
    name = "x86-64"
    machine = EM_X86_64
    abi = Abi(sp=7, fp=6, ra=16, num_regs=17,
              callee_saved=frozenset((6, 3, 12, 13, 14, 15)),     # rbp rbx r12-r15
              cfa_offset_at_entry=8, ra_rule_at_entry=(CFA, -8), reg_names=REG_NAMES)
    special_sections = (
        SpecialLayout(".altinstructions", 14, orig=0, new=4, group=True, orig_len=12,
                      new_len=13, feature=8),
        SpecialLayout("__jump_table", 16, orig=0, new=4, jump_or_nop=True, key=8),
        SpecialLayout("__ex_table", 12, orig=0, new=4),
    )
    noreturns = NORETURNS
    orc = orc_format

    def __init__(self) -> None:
        self._decoder = None

    @property
    def decoder(self):
        if self._decoder is None:
            from .decode import X86Decoder
            self._decoder = X86Decoder()
        return self._decoder

    def decode_section(self, code: bytes, in_func: Callable[[int], bool]
                       ) -> tuple[Decoded, DecodeFailure | None]:
        return self.decoder.decode_section(code, in_func)

    def plt_stubs(self, sections) -> dict[int, int]:
        """{PLT stub address: the GOT slot it jumps through} (arch/x86_64/plt.py)."""
        from .plt import plt_stubs
        return plt_stubs(sections)

    def switch_targets(self, p, i: int) -> list[int] | None:
        """Linked files' PC-relative switch tables, read from their bytes
        (arch/x86_64/switch.py); objects keep objtool's relocation method."""
        from .switch import switch_targets
        return switch_targets(p, i)

    def disassemble(self, code: bytes, offset: int) -> list[tuple[int, int, str]]:
        return self.decoder.disassemble(code, offset)

    def is_retpoline(self, name: str) -> bool:
        return name.startswith("__x86_indirect_")

    def is_rethunk(self, name: str) -> bool:
        return name == "__x86_return_thunk"

    def is_embedded_insn(self, name: str) -> bool:
        return name in ("retbleed_return_thunk", "srso_safe_ret")

    def is_ftrace(self, name: str) -> bool:
        return name == "__fentry__"

    def is_pc_relative(self, rtype: int) -> bool:
        return rtype in _PC_RELATIVE

    def jump_reloc_offset(self, addend: int) -> int:
        return addend + 4

    def decode_hint_reg(self, reg: int) -> int | None:
        return orc_format.HINT_BASE.get(reg)

    def pv_store(self, code: bytes, offset: int, length: int) -> tuple[int, int, int] | None:
        """A store of an address into memory (`movq $imm32, disp32(%rip)`, opcode
        C7 with 4+4 bytes of operands) as objtool's decoder spots pv_ops[] writes:
        (where the memory reloc is, where the value's is, the PC32 addend's bias)."""
        if length != 11:
            return None
        k = offset
        while k < offset + 4 and code[k] in _PREFIXES:
            k += 1
        return (3, 7, 8) if code[k] == 0xC7 else None

    def switch_table_addend(self, rtype: int, addend: int) -> tuple[int, bool]:
        """Where a jump table starts, given the reloc that references it, and
        whether the reference is RIP-relative (GCC's copied-table quirk)."""
        if rtype == R_X86_64_PC32:
            return addend + 4, True
        return addend, False

    def alternative_flags(self, feature: int, uaccess: bool) -> tuple[bool, bool]:
        """(skip_orig, skip_alt) for an ALTERNATIVE keyed on `feature`."""
        if feature == X86_FEATURE_SMAP:
            return (True, False) if uaccess else (False, True)
        if feature == X86_FEATURE_POPCNT:
            return True, False
        return False, False


BACKEND = X86_64Backend()
