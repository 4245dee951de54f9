# SPDX-License-Identifier: GPL-2.0-only
"""Kernel annotations that change what the analysis computes.

The kernel marks code objtool cannot work out by itself with entries in
`.discard.*` sections (the linker drops them): unwind hints for entry code,
functions with non-standard frames, reachable ud2s, intra-function calls,
alternatives to ignore.  Each reader here follows the matching objtool reader
(check.c), including its error texts.
"""
from __future__ import annotations

import struct

from . import cfi as C
from .elf import STT_FUNC, STT_SECTION
from .findings import Fatal
from .ibt import check_iret_regs_hint
from .insn import Kind
from .program import Program

UACCESS_SAFE = frozenset("""
kasan_report kasan_check_range __asan_loadN_noabort __asan_load1_noabort __asan_load2_noabort
__asan_load4_noabort __asan_load8_noabort __asan_load16_noabort __asan_storeN_noabort
__asan_store1_noabort __asan_store2_noabort __asan_store4_noabort __asan_store8_noabort
__asan_store16_noabort __kasan_check_read __kasan_check_write __asan_report_load_n_noabort
__asan_report_load1_noabort __asan_report_load2_noabort __asan_report_load4_noabort
__asan_report_load8_noabort __asan_report_load16_noabort __asan_report_store_n_noabort
__asan_report_store1_noabort __asan_report_store2_noabort __asan_report_store4_noabort
__asan_report_store8_noabort __asan_report_store16_noabort __kcsan_check_access __kcsan_mb
__kcsan_wmb __kcsan_rmb __kcsan_release kcsan_found_watchpoint kcsan_setup_watchpoint
kcsan_check_scoped_accesses kcsan_disable_current kcsan_enable_current_nowarn
__tsan_func_entry __tsan_func_exit __tsan_read_range __tsan_write_range __tsan_read1
__tsan_read2 __tsan_read4 __tsan_read8 __tsan_read16 __tsan_write1 __tsan_write2 __tsan_write4
__tsan_write8 __tsan_write16 __tsan_read_write1 __tsan_read_write2 __tsan_read_write4
__tsan_read_write8 __tsan_read_write16 __tsan_volatile_read1 __tsan_volatile_read2
__tsan_volatile_read4 __tsan_volatile_read8 __tsan_volatile_read16 __tsan_volatile_write1
__tsan_volatile_write2 __tsan_volatile_write4 __tsan_volatile_write8 __tsan_volatile_write16
__tsan_atomic8_load __tsan_atomic16_load __tsan_atomic32_load __tsan_atomic64_load
__tsan_atomic8_store __tsan_atomic16_store __tsan_atomic32_store __tsan_atomic64_store
__tsan_atomic8_exchange __tsan_atomic16_exchange __tsan_atomic32_exchange __tsan_atomic64_exchange
__tsan_atomic8_fetch_add __tsan_atomic16_fetch_add __tsan_atomic32_fetch_add __tsan_atomic64_fetch_add
__tsan_atomic8_fetch_sub __tsan_atomic16_fetch_sub __tsan_atomic32_fetch_sub __tsan_atomic64_fetch_sub
__tsan_atomic8_fetch_and __tsan_atomic16_fetch_and __tsan_atomic32_fetch_and __tsan_atomic64_fetch_and
__tsan_atomic8_fetch_or __tsan_atomic16_fetch_or __tsan_atomic32_fetch_or __tsan_atomic64_fetch_or
__tsan_atomic8_fetch_xor __tsan_atomic16_fetch_xor __tsan_atomic32_fetch_xor __tsan_atomic64_fetch_xor
__tsan_atomic8_fetch_nand __tsan_atomic16_fetch_nand __tsan_atomic32_fetch_nand __tsan_atomic64_fetch_nand
__tsan_atomic8_compare_exchange_strong __tsan_atomic16_compare_exchange_strong
__tsan_atomic32_compare_exchange_strong __tsan_atomic64_compare_exchange_strong
__tsan_atomic8_compare_exchange_weak __tsan_atomic16_compare_exchange_weak
__tsan_atomic32_compare_exchange_weak __tsan_atomic64_compare_exchange_weak
__tsan_atomic8_compare_exchange_val __tsan_atomic16_compare_exchange_val
__tsan_atomic32_compare_exchange_val __tsan_atomic64_compare_exchange_val
__tsan_atomic_thread_fence __tsan_atomic_signal_fence __tsan_unaligned_read16
__tsan_unaligned_write16 __sanitizer_cov_trace_pc __sanitizer_cov_trace_const_cmp1
__sanitizer_cov_trace_const_cmp2 __sanitizer_cov_trace_const_cmp4 __sanitizer_cov_trace_const_cmp8
__sanitizer_cov_trace_cmp1 __sanitizer_cov_trace_cmp2 __sanitizer_cov_trace_cmp4
__sanitizer_cov_trace_cmp8 __sanitizer_cov_trace_switch __msan_metadata_ptr_for_load_1
__msan_metadata_ptr_for_load_2 __msan_metadata_ptr_for_load_4 __msan_metadata_ptr_for_load_8
__msan_metadata_ptr_for_load_n __msan_metadata_ptr_for_store_1 __msan_metadata_ptr_for_store_2
__msan_metadata_ptr_for_store_4 __msan_metadata_ptr_for_store_8 __msan_metadata_ptr_for_store_n
__msan_chain_origin __msan_get_context_state __msan_instrument_asm_store __msan_poison_alloca
__msan_warning ubsan_type_mismatch_common __ubsan_handle_type_mismatch
__ubsan_handle_type_mismatch_v1 __ubsan_handle_shift_out_of_bounds
__ubsan_handle_load_invalid_value stackleak_track_stack ftrace_likely_update __stack_chk_fail
csum_partial_copy_generic copy_mc_fragile copy_mc_fragile_handle_tail
copy_mc_enhanced_fast_string rep_stos_alternative rep_movs_alternative copy_to_nontemporal
""".split())

HINT_SIZE = 12        # struct unwind_hint: u32 ip, s16 sp_offset, u8 sp_reg, u8 type, u8 signal (+pad)


def _target_offset(p: Program, r, what: str, allow_label: bool = False) -> tuple[int, int]:
    """(section, offset) a .discard.* relocation points at: section-symbol relocs,
    and local labels where objtool accepts them."""
    s = p.reloc_sym(r)
    if s.type == STT_SECTION:
        return s.sec, r.addend
    if allow_label and s.local_label:
        return s.sec, s.offset
    raise Fatal("annotation", "unexpected relocation symbol type in %s" % what)


def _target(p: Program, r, what: str, allow_label: bool = False) -> int:
    """The instruction a .discard.* relocation points at, or -1."""
    return p.find(*_target_offset(p, r, what, allow_label))


def add_ignores(p: Program) -> None:
    """STACK_FRAME_NON_STANDARD: functions the analysis must leave alone."""
    for r in p.rela_of(".discard.func_stack_frame_non_standard"):
        s = p.reloc_sym(r)
        if s.type == STT_FUNC:
            f = s
        elif s.type == STT_SECTION:
            f = p.symtab.section(s.sec).at(r.addend, func_only=True)
            if f is None:
                continue
        else:
            p.warn("annotation", "unexpected relocation symbol type in "
                   ".rela.discard.func_stack_frame_non_standard: %d" % s.type)
            continue
        for i in p.func_insns(f):
            p.ignore[i] = 1


def add_uaccess_safe(p: Program) -> None:
    for name in UACCESS_SAFE:
        s = p.symtab.by_name.get(name)
        if s is not None:
            s.uaccess_safe = True


def add_ignore_alternatives(p: Program) -> None:
    for r in p.rela_of(".discard.ignore_alts"):
        i = _target(p, r, ".rela.discard.ignore_alts")
        if i < 0:
            raise Fatal("annotation", "bad .discard.ignore_alts entry")
        p.ignore_alts[i] = 1


def read_intra_function_calls(p: Program) -> None:
    """Annotated calls to a label in the same function: jumps that push."""
    for r in p.rela_of(".discard.intra_function_calls"):
        i = _target(p, r, ".rela.discard.intra_function_calls")
        if i < 0:
            raise Fatal("annotation", "bad .discard.intra_function_call entry")
        if p.kind[i] != Kind.CALL:
            raise p.fatal_insn(i, "annotation", "intra_function_call not a direct call")
        p.kind[i] = Kind.JUMP_UNCOND
        ins = p.insn[i]
        d = p.find(p.sec_of[i].sec.index, ins.end + ins.immediate)
        if d < 0:
            raise p.fatal_insn(i, "annotation", "can't find call dest at %s+0x%x"
                               % (p.sec_of[i].name, ins.end + ins.immediate))
        p.jump_dest[i] = d


def add_dead_ends(p: Program) -> None:
    """ud2s annotated as reachable (WARN()) are not dead ends."""
    for r in p.rela_of(".discard.reachable"):
        sec, off = _target_offset(p, r, ".rela.discard.reachable", allow_label=True)
        i = p.find(sec, off)
        if i >= 0:
            i = p.prev_same_sec(i)
        else:
            cs = p.code_by_secno.get(sec)
            if cs is None or off != cs.sec.size or cs.end == cs.first:
                raise Fatal("annotation", "can't find reachable insn at %s+0x%x" % (p.secname(sec), off))
            i = cs.end - 1
        if i >= 0:
            p.dead_end[i] = 0


def read_bug_table(p: Program) -> None:
    """WARN()s: on architectures whose BUG and WARN both trap (arm64 `brk`) and
    that have no objtool annotations, the bug table's WARNING flag says which
    traps return."""
    layout = getattr(p.be, "bug_table", None)
    if layout is None:
        return
    name, size, addr_off, flags_off, warning = layout
    sec = p.section_named(name)
    if sec is None or sec.size % size:
        return
    data = p.elf.section_data(sec)
    relocs = p.elf.relocs(sec)
    for base in range(0, sec.size, size):
        if not struct.unpack_from("<H", data, base + flags_off)[0] & warning:
            continue
        r = relocs.at(base + addr_off)
        if r is None:
            continue
        s = p.reloc_sym(r)
        i = p.find(s.sec, s.offset + r.addend)
        if i >= 0:
            p.dead_end[i] = 0


def read_unwind_hints(p: Program) -> None:
    sec = p.section_named(".discard.unwind_hints")
    if sec is None:
        return
    relocs = p.elf.relocs(sec)
    if not len(relocs) and not p.elf.rela_sections_for(sec):
        raise Fatal("annotation", "missing .rela.discard.unwind_hints section")
    if sec.size % HINT_SIZE:
        raise Fatal("annotation", "struct unwind_hint size mismatch")
    p.has_hints = True
    data = p.elf.section_data(sec)
    abi = p.abi
    # objtool carries this struct from one hint to the next: hints that do not
    # start from an instruction's state inherit the previous hint's registers.
    cur = C.CfiState(abi.num_regs)
    for n in range(sec.size // HINT_SIZE):
        sp_offset, sp_reg, htype, signal = struct.unpack_from("<hBBB", data, n * HINT_SIZE + 4)
        r = relocs.at(n * HINT_SIZE)
        if r is None:
            raise Fatal("annotation", "can't find reloc for unwind_hints[%d]" % n)
        i = p.find(*_target_offset(p, r, ".rela.discard.unwind_hints", allow_label=True))
        if i < 0:
            raise Fatal("annotation", "can't find insn for unwind_hints[%d]" % n)
        p.hint[i] = 1
        if htype == C.HINT_UNDEFINED:
            p.cfi[i] = p.force_undefined_cfi
            continue
        if htype == C.HINT_SAVE:
            p.hint[i] = 0
            p.save[i] = 1
            continue
        if htype == C.HINT_RESTORE:
            p.restore[i] = 1
            continue
        if htype == C.HINT_REGS_PARTIAL:
            check_iret_regs_hint(p, i)
        if htype == C.HINT_FUNC:
            p.cfi[i] = p.func_cfi
            continue
        if p.cfi[i] is not None:
            cur = C.CfiState.from_cfi(p.cfi[i])
        base = p.be.decode_hint_reg(sp_reg)
        if base is None:
            raise p.fatal_insn(i, "annotation", "unsupported unwind_hint sp base reg %d" % sp_reg)
        cur.cfa_base, cur.cfa_offset = base, sp_offset
        cur.type, cur.signal = htype, bool(signal)
        cur.frozen = None
        p.cfi[i] = cur.freeze()


def read_retpoline_hints(p: Program) -> None:
    for r in p.rela_of(".discard.retpoline_safe"):
        i = _target(p, r, ".rela.discard.retpoline_safe")
        if i < 0:
            raise Fatal("annotation", "bad .discard.retpoline_safe entry")
        if p.kind[i] not in (Kind.JUMP_DYNAMIC, Kind.CALL_DYNAMIC, Kind.RETURN, Kind.NOP):
            raise p.fatal_insn(i, "annotation", "retpoline_safe hint not an indirect jump/call/ret/nop")
        p.retpoline_safe[i] = 1


def read_instr_hints(p: Program) -> None:
    for name, delta in ((".discard.instr_end", -1), (".discard.instr_begin", 1)):
        relocs = p.rela_of(name)
        if not relocs and delta == -1:
            return
        for r in relocs:
            i = _target(p, r, ".rela" + name)
            if i < 0:
                raise Fatal("annotation", "bad %s entry" % name)
            p.instr[i] += delta


def read_validate_unret_hints(p: Program) -> None:
    """read_validate_unret_hints(): the instructions VALIDATE_UNRET_BEGIN marks,
    as `p.unret_begin` (for --unret, orcgen/unret.py)."""
    out = []
    name = ".rela.discard.validate_unret"
    for r in p.rela_of(".discard.validate_unret"):
        s = p.reloc_sym(r)
        if s.type != STT_SECTION:
            raise Fatal("annotation", "unexpected relocation symbol type in %s" % name)
        i = p.find(s.sec, r.addend)
        if i < 0:
            raise Fatal("annotation", "bad .discard.instr_end entry")      # sic, objtool's text
        out.append(i)
    p.unret_begin = out
