# SPDX-License-Identifier: GPL-2.0-only
"""Kernel or userspace: told from the object itself, for `orcgen diff`.

The diff needs to know which world an object was compiled for (userspace code
calls exit/abort/__assert_fail, which never return, and its switch tables are
PC-relative), and a compiler developer running `orcgen diff foo.o` should not
have to say so.  The rule, first match wins:

1. kernel markers: a section only the kernel's build makes (`__ex_table`,
   `.discard.*`, `__bug_table`, `__jump_table`, `.altinstructions`,
   `.init.text`, `.modinfo`, `__patchable_function_entries`, `.note.Linux`,
   `___ksymtab*`, `.static_call_sites`, `.return_sites`, ...) or an undefined
   symbol only kernel code references (`__fentry__`, `__x86_return_thunk`,
   `__x86_indirect_thunk_*`, `__SCT__*`, `pcpu_hot`) -> kernel;
2. userspace markers: a relocation through the GOT or a TLS model
   (x86-64 GOT32/GOTPCREL/GOTPCRELX/REX_GOTPCRELX/GOTPC*, TLSGD/TLSLD/DTPOFF/
   GOTTPOFF/TPOFF; arm64 ADR_GOT_PAGE/LD64_GOT_LO12_NC, TLS ones), a reference
   to `_GLOBAL_OFFSET_TABLE_`, or an x86-64 zero-extended absolute address
   (R_X86_64_32) in code, which the kernel's code model never emits -> userspace;
3. x86-64 code with a sign-extended absolute address (R_X86_64_32S), the
   kernel's code model (-mcmodel=kernel) -> kernel;
4. x86-64 code with relocations, none of them kernel-specific -> userspace: a
   real kernel build leaves a rule-1 marker in every object with code (ftrace's
   __patchable_function_entries or __fentry__, the return thunk, .discard.*
   annotations: 386 of the 386 such objects of the corpus below), so code
   without one is not from a kernel build (RIP-relative addressing itself is
   common to PIE and -mcmodel=kernel code and tells nothing);
5. x86-64 code without any relocation and no kernel marker -> userspace (a
   leaf function compiled alone: nothing in the analysis changes, but reports
   speak of the right unwinders);
6. otherwise (no code; or an architecture without rules 3-5) -> kernel,
   orcgen's historical default.

Measured on the 388 kernel/ and lib/ objects of an x86-64 gcc build (all
kernel, by rule 1 or, for objects without code, rule 5) and on glibc's crt1.o,
libz.a and libcrypto.a members and the tests' userspace fixtures (all userspace).
"""
from __future__ import annotations

from dataclasses import dataclass

KERNEL = "kernel"
USERSPACE = "userspace"

_KERNEL_SECTIONS = ("__ex_table", ".discard.", "__bug_table", "__jump_table", ".altinstructions",
                    ".altinstr_replacement", ".init.text", ".exit.text", ".modinfo", ".note.Linux",
                    "__patchable_function_entries", "___ksymtab", "__ksymtab", ".static_call_sites",
                    ".return_sites", ".retpoline_sites", ".call_sites", ".export_symbol",
                    ".data..percpu", "__mcount_loc", ".noinstr.text", ".entry.text")
_KERNEL_SYMBOLS = ("__fentry__", "__x86_return_thunk", "pcpu_hot", "__fortify_panic",
                   "__ubsan_handle_builtin_unreachable", "__sanitizer_cov_trace_pc")
_KERNEL_SYMBOL_PREFIXES = ("__x86_indirect_thunk_", "__SCT__", "__SCK__", "__tracepoint_",
                           "__kcfi_typeid_")

EM_X86_64, EM_AARCH64 = 62, 183
# x86-64: GOT32 3, GOTPCREL 9, TLSGD 19, TLSLD 20, DTPOFF32 21, GOTTPOFF 22,
# TPOFF32 23, GOTPC32 26, GOTOFF64 25, GOTPCREL64 28, GOTPC64 29, GOTPLT64 30,
# GOTPC32_TLSDESC 34, TLSDESC_CALL 35, GOTPCRELX 41, REX_GOTPCRELX 42, CODE_4_GOTPCRELX 43.
_X86_USER_RELOCS = frozenset((3, 9, 19, 20, 21, 22, 23, 25, 26, 28, 29, 30, 34, 35, 41, 42, 43))
_X86_32, _X86_32S = 10, 11
# arm64: ADR_GOT_PAGE 311, LD64_GOT_LO12_NC 312, LD64_GOTPAGE_LO15 313, and the
# TLS ones (512..573: TLSGD, TLSLD, TLSIE, TLSLE, TLSDESC).
_ARM_USER_RELOCS = frozenset(range(311, 314)) | frozenset(range(512, 574))


@dataclass(frozen=True)
class Flavour:
    """Which world an object is for, and the evidence that said so (for -v and tests)."""
    kind: str
    reason: str

    @property
    def userspace(self) -> bool:
        return self.kind == USERSPACE


def detect(elf) -> Flavour:
    """Classify `elf` by the rule in this module's docstring."""
    for sec in elf.sections:
        if any(sec.name.startswith(k) for k in _KERNEL_SECTIONS):
            return Flavour(KERNEL, "section %s" % sec.name)
    for s in elf.symbols:
        if s.section is None and s.name and (
                s.name in _KERNEL_SYMBOLS or s.name.startswith(_KERNEL_SYMBOL_PREFIXES)):
            return Flavour(KERNEL, "references %s" % s.name)
    for s in elf.symbols:
        if s.name == "_GLOBAL_OFFSET_TABLE_":
            return Flavour(USERSPACE, "references _GLOBAL_OFFSET_TABLE_")
    user_relocs = _X86_USER_RELOCS if elf.machine == EM_X86_64 else \
        _ARM_USER_RELOCS if elf.machine == EM_AARCH64 else frozenset()
    code_types: set[int] = set()
    for sec in elf.sections:
        if sec.type not in (4, 9) or not 0 < sec.info < len(elf.sections):   # SHT_RELA, SHT_REL
            continue
        in_code = elf.sections[sec.info].is_exec
        for r in elf.relocs_in_file_order(sec):
            if r.type in user_relocs:
                return Flavour(USERSPACE, "GOT/TLS relocation type %d in %s" % (r.type, sec.name))
            if in_code:
                code_types.add(r.type)
    if elf.machine == EM_X86_64:
        if _X86_32 in code_types:
            return Flavour(USERSPACE, "R_X86_64_32 in code (small code model)")
        if _X86_32S in code_types:
            return Flavour(KERNEL, "R_X86_64_32S in code (kernel code model)")
        if code_types:
            return Flavour(USERSPACE, "code without any kernel marker")
        if any(sec.is_exec and sec.size for sec in elf.sections):
            # a kernel build leaves a rule-1 marker in every object with code
            return Flavour(USERSPACE, "code without relocations or any kernel marker")
    return Flavour(KERNEL, "no evidence either way (the default)")


def resolve(elf, userspace: bool, force: str | None = None) -> Flavour:
    """The flavour to analyse with: --userspace / --kernel (`force`) win over detection."""
    if userspace or force == USERSPACE:
        return Flavour(USERSPACE, "--userspace")
    if force == KERNEL:
        return Flavour(KERNEL, "--kernel")
    return detect(elf)
