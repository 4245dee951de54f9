# SPDX-License-Identifier: GPL-2.0-only
"""Names of functions that never return, beyond the back-end's kernel list:
the C library's and language runtimes' (with --userspace) and Rust's panics.
A call to one ends its path (cfg.py's dead-end analysis)."""
from __future__ import annotations

import re

# C library and runtime functions that never return (with --userspace).
USERSPACE_NORETURNS = frozenset("""
exit _exit _Exit abort __assert_fail __assert_fail_base __assert_perror_fail __chk_fail
__fortify_fail __stack_chk_fail __libc_fatal __pthread_unwind __pthread_exit pthread_exit
_Unwind_Resume __cxa_throw __cxa_rethrow longjmp siglongjmp __longjmp_chk _dl_signal_error
_dl_signal_exception _dl_fatal_printf __run_exit_handlers err errx verr verrx quick_exit
__cxa_bad_cast __cxa_bad_typeid __cxa_throw_bad_array_new_length
_ZN11__sanitizer11CheckFailedEPKciS1_yy _ZN11__sanitizer3DieEv __ubsan_handle_builtin_unreachable
__ubsan_handle_missing_return
""".split())

_RUST_NORETURN_SUFFIXES = (
    "_4core3num22from_ascii_radix_panic", "_4core5sliceSp15copy_from_slice17len_mismatch_fail",
    "_4core6option13expect_failed", "_4core6option13unwrap_failed",
    "_4core6result13unwrap_failed", "_4core6result13unwrap_failed19unwrap_failed_inner",
    "_4core9panicking5panic", "_4core9panicking9panic_fmt", "_4core9panicking14panic_explicit",
    "_4core9panicking14panic_nounwind", "_4core9panicking18panic_bounds_check",
    "_4core9panicking18panic_nounwind_fmt", "_4core9panicking19assert_failed_inner",
    "_4core9panicking30panic_null_pointer_dereference",
    "_4core9panicking32panic_null_reference_constructed",
    "_4core9panicking36panic_misaligned_pointer_dereference", "_7___rustc17rust_begin_unwind")


# libstdc++'s std::__throw_* helpers (bits/functexcept.h: every one is
# __attribute__((__noreturn__)); a library built with it calls them through
# its PLT, e.g. std::__throw_bad_function_call after an empty std::function),
# and std::terminate.  Mangled: _ZSt25__throw_bad_function_callv.
_CXX_NORETURN = re.compile(r"_ZSt\d+__throw_[a-z_]+|_ZSt9terminatev$|_ZSt21__glibcxx_assert_fail")


def is_userspace_noreturn(name: str) -> bool:
    """A C or C++ runtime function that never returns."""
    return name in USERSPACE_NORETURNS or _CXX_NORETURN.match(name) is not None


def is_rust_noreturn(name: str) -> bool:
    """A Rust core-library function (v0 mangling) that panics and never returns."""
    if not name.startswith("_R"):
        return False
    return (name.endswith(_RUST_NORETURN_SUFFIXES)
            or "_4core9panicking13assert_failed" in name
            or "_4core9panicking11panic_const24panic_const_" in name
            or ("_4core5slice5index" in name and "slice_" in name and name.endswith("_fail")))
