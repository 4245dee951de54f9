# SPDX-License-Identifier: GPL-2.0-only
"""A stripped shared library keeps only .dynsym: its exported functions must
still be functions, or every instruction is reported on its own."""
import shutil
import subprocess

import pytest
from conftest import needs_gcc

from orcgen.elf import STT_FUNC, ElfFile

SRC = """
int g(int x);
__attribute__((noinline)) int exported_one(int x) { return g(x) + 1; }
__attribute__((noinline)) int exported_two(int x) { return exported_one(x) * 3; }
"""


def shared_from_asm(tmp_path, text: str):
    """A shared library (no C library) built by gcc from assembly `text`."""
    s = tmp_path / "lib.S"
    s.write_text(text)
    so = tmp_path / "lib.so"
    subprocess.run(["gcc", "-shared", "-nostdlib", "-o", str(so), str(s)], check=True)
    return so


@pytest.mark.skipif(not shutil.which("gcc") or not shutil.which("strip"),
                    reason="needs gcc and strip to build a shared library")
def test_stripped_library_functions_come_from_dynsym(tmp_path):
    c = tmp_path / "lib.c"
    c.write_text(SRC)
    so = tmp_path / "lib.so"
    subprocess.run(["gcc", "-O2", "-fPIC", "-shared", "-o", str(so), str(c)], check=True)
    subprocess.run(["strip", str(so)], check=True)
    elf = ElfFile(so.read_bytes())
    assert elf.symtab is None                      # nothing to write into
    funcs = {s.name for s in elf.symbols if s.type == STT_FUNC and s.size}
    assert {"exported_one", "exported_two"} <= funcs
    text = elf.section_by_name(".text")
    one = next(s for s in elf.symbols if s.name == "exported_one")
    assert one.section == text.index and one.offset == one.value - text.addr


DATA_IN_CODE = """
void tables(void) { asm volatile(".byte 0x8d, 0xc0, 0x8d, 0xc0"); }
int after(int x) { return x * 7; }
"""


@needs_gcc
def test_undecodable_bytes_in_a_library_are_one_finding_not_fatal(tmp_path, capsys):
    from orcgen.cli import main
    c = tmp_path / "data.c"
    c.write_text(DATA_IN_CODE)
    obj, so = tmp_path / "data.o", tmp_path / "data.so"
    subprocess.run(["gcc", "-O2", "-fPIC", "-c", "-o", str(obj), str(c)], check=True)
    subprocess.run(["gcc", "-shared", "-o", str(so), str(obj)], check=True)
    status = main(["check", str(so)])
    out = capsys.readouterr()
    assert status != 2, out.err
    assert "can't decode instruction; not analysed up to " in out.out + out.err
    # in an object, as for objtool, it stays fatal
    main(["check", str(obj)])
    out = capsys.readouterr()
    assert "can't decode instruction at .text:0x" in out.out + out.err


NORETURN_VIA_PLT = """
#include <stdlib.h>
void my_fail(const char *why);
__attribute__((noinline)) void my_fail(const char *why) { (void)why; abort(); }
__attribute__((noinline)) int checked(int x) { if (x < 0) my_fail("neg"); return x * 2; }
__attribute__((noinline)) int aborts(int x) { if (x) return x; abort(); }
__attribute__((noinline)) int after(int x) { return x + 5; }
"""


@pytest.mark.parametrize("flags", [[], ["-fcf-protection=full", "-Wl,-z,ibt"]])
@needs_gcc
def test_calls_through_the_plt_to_noreturn_functions_end_the_path(tmp_path, capsys, flags):
    """abort@plt is the C library's; my_fail@plt is this library's own, called
    through its PLT (it may be interposed) and judged by its body."""
    from orcgen.cli import main
    c = tmp_path / "nr.c"
    c.write_text(NORETURN_VIA_PLT)
    so = tmp_path / "nr.so"
    subprocess.run(["gcc", "-O2", "-fPIC", "-shared", "-o", str(so), str(c)] + flags, check=True)
    dis = subprocess.run(["objdump", "-d", str(so)], capture_output=True, text=True).stdout \
        if shutil.which("objdump") else ""
    if dis:
        assert "<my_fail@plt>" in dis and "<abort@plt>" in dis      # the calls are PLT calls
    for strip in (False, True):
        if strip and shutil.which("strip"):
            subprocess.run(["strip", str(so)], check=True)
        status = main(["check", "--no-cache", str(so)])
        out = capsys.readouterr()
        assert "falls through" not in out.out, out.out
        assert status in (0, 1), out.err


PADDING_ACROSS_A_START = """
    .text
    .globl pad_a
    .type pad_a, @function
pad_a:
    ret
    .size pad_a, 1
    .byte 0x00, 0x00, 0x00      # padding: `00 00`, then a `00` that swallows pad_b's push
    .globl pad_b
    .type pad_b, @function
pad_b:
    push %rbp
    mov %rsp, %rbp
    pop %rbp
    ret
    .size pad_b, .-pad_b
    .section .note.GNU-stack,"",@progbits
"""


@needs_gcc
def test_padding_that_decodes_across_a_function_start_is_resynced(tmp_path, capsys):
    """libLLVM pads with zeros after a nopl; one sweep then runs across the
    next function's start, which had been fatal ("can't find starting
    instruction").  A linked file is decoded function by function instead."""
    from orcgen.cli import main
    so = shared_from_asm(tmp_path, PADDING_ACROSS_A_START)
    assert main(["check", "--no-cache", str(so)]) == 0, capsys.readouterr()
    assert capsys.readouterr().out == ""
    assert main(["orc", "--no-cache", str(so)]) == 0
    out = capsys.readouterr().out
    assert "sp:sp+16" in out                   # pad_b's push %rbp was decoded at pad_b


RESYNC_MIX = """
    .text
    .globl m_a
    .type m_a, @function
m_a:
    push %rbx
    pop %rbx
    ret
    .size m_a, .-m_a
    .byte 0x06                  # not an instruction in 64-bit mode: the one sweep stops
    .globl m_b
    .type m_b, @function
m_b:
    push %rbp
    mov %rsp, %rbp
    pop %rbp
    ret
    .size m_b, .-m_b
    .byte 0x00, 0x00, 0x00      # decodes across m_c's start
    .globl m_c
    .type m_c, @function
m_c:
    push %r12
    .byte 0x06                  # inside a function: a finding
    pop %r12
    ret
    .size m_c, .-m_c
    .globl m_d
    .type m_d, @function
m_d:
    sub $8, %rsp
    add $8, %rsp
    ret
    .size m_d, .-m_d
    .byte 0x00, 0x00, 0x00      # zeros, then a function whose symbol was stripped:
    push %rbx                   # `00 00` `00 53 48` would swallow its push
    sub $0x30, %rsp
    add $0x30, %rsp
    pop %rbx
    ret
    .globl m_e
    .type m_e, @function
m_e:
    ret
    .size m_e, .-m_e
    .section .note.GNU-stack,"",@progbits
"""


@needs_gcc
def test_function_by_function_decode_is_each_function_decoded_alone(tmp_path, monkeypatch):
    """Program takes each function of a linked file from its one sweep (or
    the sweep resumed at the next function start after a stop) where that
    covers it exactly; the result must be what decoding every function on
    its own gives, which this test does directly."""
    from orcgen import linked_decode
    from orcgen import program as prog
    from orcgen.arch.x86_64 import BACKEND
    from orcgen.options import Options
    so = shared_from_asm(tmp_path, RESYNC_MIX)
    elf = ElfFile(so.read_bytes())
    monkeypatch.setattr(linked_decode, "_RESYNC_PIECE", 4)           # a piece per function or two
    p = prog.Program(elf, BACKEND, Options(), None)
    cs = next(c for c in p.code if c.name == ".text")
    got = [(p.insn.off[i], p.insn.size[i], p.insn[i].kind, p.insn[i].immediate, p.insn[i].ops)
           for i in range(cs.first, cs.end)]
    # the reference: each function's extent, then its padding if all of it decodes
    funcs = p.symtab.section(cs.sec.index)
    data = elf.section_data(cs.sec)
    starts = sorted({f.offset for f in funcs.ordered if f.type == STT_FUNC and 0 < f.offset < len(data)})
    bounds = [0] + starts + [len(data)]
    ends = {f.offset: f.offset + f.len for f in funcs.ordered if f.type == STT_FUNC}
    want = []
    for a, b in zip(bounds, bounds[1:]):
        end = min(ends[a], b) if ends.get(a, 0) > a else b
        piece, failure = BACKEND.decode_section(data[a:end], linked_decode.in_func(funcs, a))
        want += [(a + i.offset, i.length, i.kind, i.immediate, i.ops) for i in piece]
        if failure is None and end < b:
            at = end
            while at < b and data[at] == 0:          # zeros after a function: padding
                at += 1
            pad, pf = BACKEND.decode_section(data[at:b], linked_decode.in_func(funcs, at))
            if pf is None and at < b:
                want += [(at + i.offset, i.length, i.kind, i.immediate, i.ops) for i in pad]
    assert got == want
    # the stripped function's push %rbx (53) is decoded where it is
    push = data.index(b"\x53\x48\x83\xec\x30")
    assert any(o == push and n == 1 for o, n, *_ in got)
    assert len(p.findings) == 1 and "can't decode" in p.findings[0].message


UNNAMED_CODE = """
    .text
    .globl t_a
    .type t_a, @function
t_a:
    push %rbp
    pop %rbp
    jmp 1f                      # a tail call: the frame is gone
    .size t_a, .-t_a
1:  xor %eax, %eax              # a local function whose symbol was stripped, ending (as
    int3                        # far as orcgen can tell) as one calling a noreturn one does
    .globl t_b
    .type t_b, @function
t_b:
    push %rbx
    test %edi, %edi
    jne 2f                      # into its own unnamed .cold code: the frame is still there
    pop %rbx
    ret
    .size t_b, .-t_b
2:  pop %rbx
    mov $1, %eax
    ret
    .globl t_c
    .type t_c, @function
t_c:
    ret
    .size t_c, .-t_c
    .section .note.GNU-stack,"",@progbits
"""


@needs_gcc
def test_jumps_into_unnamed_code_of_a_library(tmp_path, capsys):
    """A stripped library's jump into code no symbol covers is a tail call
    when the frame is gone (the walk ends there), and the function's own
    code otherwise (followed, and checked)."""
    from orcgen.cli import main
    so = shared_from_asm(tmp_path, UNNAMED_CODE)
    main(["check", "--no-cache", str(so)])
    out = capsys.readouterr().out
    assert "falls through" not in out          # t_a's had walked on through the unnamed code into t_b
    assert "modified stack frame" not in out   # nor is t_b's jump a tail call
    # the cold part is followed: a wrong stack there is found
    so = shared_from_asm(tmp_path, UNNAMED_CODE.replace("2:  pop %rbx", "2:  nop"))
    main(["check", "--no-cache", str(so)])
    assert "return with modified stack frame" in capsys.readouterr().out


def test_cxx_runtime_helpers_do_not_return():
    from orcgen.noreturns import is_userspace_noreturn
    for name in ("_ZSt25__throw_bad_function_callv", "_ZSt20__throw_length_errorPKc",
                 "_ZSt9terminatev", "__cxa_throw", "abort"):
        assert is_userspace_noreturn(name), name
    for name in ("_ZSt4cout", "_ZNSt6vectorIiE9push_backEv", "_ZSt9terminatevx", "printf"):
        assert not is_userspace_noreturn(name), name


SWITCH = """
int g(int);
int pick(int x, int y)
{
    int r = g(y);               /* y lives on across the call: a frame */
    switch (x) {
    case 0: return r + y;
    case 1: return r * y;
    case 2: return r - y;
    case 3: return r << y;
    case 4: return r ^ y;
    case 5: return r / y;
    case 6: return r % y;
    default: return 0;
    }
}
"""


@pytest.mark.parametrize("cc", ["gcc", "clang-19"])
def test_pc_relative_switch_tables_of_a_library(tmp_path, capsys, cc):
    """A shared library's switch jumps through `.long case - table` entries
    the linker resolved (no relocations): the targets are read from the
    table, so the jump is no tail call through a register."""
    if not shutil.which(cc):
        pytest.skip("needs %s to build a shared library" % cc)
    from orcgen.arch.x86_64 import BACKEND
    from orcgen.cli import main
    from orcgen import cfg
    from orcgen.insn import Kind
    from orcgen.options import Options
    from orcgen.program import Program
    c = tmp_path / "sw.c"
    c.write_text(SWITCH)
    so = tmp_path / "sw.so"
    subprocess.run([cc, "-O2", "-fPIC", "-shared", "-o", str(so), str(c)], check=True)
    p = Program(ElfFile(so.read_bytes()), BACKEND, Options(), None)
    cfg.build(p)
    jumps = [i for i in range(len(p.kind)) if p.kind[i] == Kind.JUMP_DYNAMIC and p.func(i) is not None
             and p.func(i).name == "pick"]
    assert len(jumps) == 1
    table = p.jump_table[jumps[0]]
    assert table is not None and table[0] == "relative"
    assert len(table[1]) == 7                   # cases 0..6: the cmp's bound
    assert all(p.func(t).name == "pick" for t in table[1])
    main(["check", "--no-cache", str(so)])
    out = capsys.readouterr().out
    assert "pick" not in out                    # was "sibling call ... with modified stack frame"


STRIPPED_NEIGHBOURS = """
    .text
    .balign 16
1:  xor %eax, %eax              # functions whose symbols were stripped, before any named one
    ret
    .byte 0x00
    .balign 16, 0x00            # zeros up to the next function (an odd number of them)
2:  push %rbx
    sub $0x30, %rsp
    add $0x30, %rsp
    pop %rbx
    ret
    .balign 16, 0x00
    .globl n_a
    .type n_a, @function
n_a:
    ret
    .size n_a, .-n_a
    .section .note.GNU-stack,"",@progbits
"""


@needs_gcc
def test_zero_padding_between_stripped_functions(tmp_path, capsys):
    """Zeros after an instruction that ends a path, up to a 16-byte boundary,
    are padding: decoded, `00 00 ... 00 53 48 83 ec 30` hides the next
    function's `push %rbx` and leaves `sub $0x30,%esp` (libLLVM: 140 false
    "stack pointer changed" warnings)."""
    from orcgen.arch.x86_64 import BACKEND
    from orcgen.cli import main
    from orcgen import program as prog
    from orcgen.options import Options
    so = shared_from_asm(tmp_path, STRIPPED_NEIGHBOURS)
    elf = ElfFile(so.read_bytes())
    data = elf.section_data(elf.section_by_name(".text"))
    push = data.index(b"\x53\x48\x83\xec\x30")
    assert push % 16 == 0 and data[push - 3:push] == b"\0\0\0"
    p = prog.Program(elf, BACKEND, Options(), None)
    cs = next(c for c in p.code if c.name == ".text")
    assert cs.by_off.get(push) is not None             # push %rbx, where it is
    main(["check", "--no-cache", str(so)])
    assert "%esp" not in capsys.readouterr().out
