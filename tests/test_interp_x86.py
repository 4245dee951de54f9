# SPDX-License-Identifier: GPL-2.0-only
"""The interpreter on hand-assembled x86-64 code: one state per instruction,
checked against what the instructions do, plus the findings objtool gives."""
from elfbuild import R_X86_64_64, R_X86_64_32S, R_X86_64_PLT32, ElfBuilder

from orcgen.backend import CFA, UNDEFINED
from orcgen.elf import ElfFile
from orcgen.options import Options
from orcgen.pipeline import analyze_elf

RSP, RBP, RBX, R10, RA = 7, 6, 3, 10, 16


def run(code_hex, funcs=(("f", 0, None),), relocs=(), rodata=None, externs=(), opts=None, extra=()):
    b = ElfBuilder()
    code = bytes.fromhex("".join(code_hex.split()))
    text = b.section(".text", code)
    text.relocs.extend(relocs)
    if rodata is not None:
        data, rrel = rodata
        b.section(".rodata", data, exec=False).relocs.extend(rrel)
    for name, off, size in funcs:
        b.func(name, ".text", off, size if size is not None else len(code) - off)
    for n in externs:
        b.extern(n)
    for name, data, rel in extra:
        b.section(name, data, exec=False).relocs.extend(rel)
    res = analyze_elf(ElfFile(b.build(), "t.o"), opts or Options(), keep_program=True)
    return res


def states(res):
    """offset -> (cfa base, cfa offset, where rbp is saved, where rbx is saved)"""
    p = res.program
    out = {}
    for i in range(len(p.insn)):
        c = p.cfi[i]
        out[p.insn[i].offset] = None if c is None else (c.cfa_base, c.cfa_offset, c.reg(RBP), c.reg(RBX))
    return out


def messages(res):
    return [(f.where, f.message) for f in res.findings]


UNDEF = (UNDEFINED, 0)


def test_frame_pointer_prologue_and_epilogue():
    res = run("""55        48 89 e5   53   48 83 ec 18   e8 00 00 00 00
                 48 83 c4 18   5b   5d   c3""",
              relocs=[(9, R_X86_64_PLT32, "g", -4)], externs=["g"])
    s = states(res)
    assert s[0] == (RSP, 8, UNDEF, UNDEF)
    assert s[1] == (RSP, 16, (CFA, -16), UNDEF)               # after push %rbp
    assert s[4] == (RBP, 16, (CFA, -16), UNDEF)               # after mov %rsp,%rbp
    assert s[5] == (RBP, 16, (CFA, -16), (CFA, -24))          # rbx saved
    assert s[0x12] == (RBP, 16, (CFA, -16), (CFA, -24))       # add to rsp: CFA is rbp-based
    assert s[0x13] == (RBP, 16, (CFA, -16), UNDEF)            # pop %rbx restored it
    assert s[0x14] == (RSP, 8, UNDEF, UNDEF)                  # pop %rbp
    assert messages(res) == []
    assert [r.text() for r in res.orc] == [
        ".text+0:type:call sp:sp+8 bp:(und) signal:0",
        ".text+1:type:call sp:sp+16 bp:prevsp-16 signal:0",
        ".text+4:type:call sp:bp+16 bp:prevsp-16 signal:0",
        ".text+14:type:call sp:sp+8 bp:(und) signal:0",
        ".text+15:type:(und) sp:(und) bp:(und) signal:0",
    ]


def test_leave():
    res = run("55 48 89 e5 c9 c3")
    s = states(res)
    assert s[4] == (RBP, 16, (CFA, -16), UNDEF)
    assert s[5] == (RSP, 8, UNDEF, UNDEF)
    assert messages(res) == []


def test_return_with_modified_stack_frame():
    res = run("48 83 ec 08 c3")
    assert messages(res) == [("f+0x4", "return with modified stack frame")]


def test_stack_state_mismatch_names_both_states():
    # je +1 skips a push: the taken path returns first, the other arrives with rsp 8 lower.
    res = run("74 01  50  c3")
    assert messages(res) == [("f+0x3", "stack state mismatch: cfa1=rsp+8 cfa2=rsp+16")]


def test_gcc_drap_realignment():
    # The DRAP pattern of objtool's check.c comment, with r10.
    code = """4c 8d 54 24 08   48 83 e4 c0   41 ff 72 f8   55   48 89 e5   41 52
              41 5a   5d   49 8d 62 f8   c3"""
    res = run(code)
    s = states(res)
    assert s[5][:2] == (RSP, 8)             # before the and
    assert s[9][:2] == (R10, 0)             # after and: CFA = r10 + 0
    assert s[0xe][:2] == (R10, 0)           # after push %rbp
    assert s[0x11][2] == (RBP, 0)           # mov %rsp,%rbp under DRAP: rbp saved at rbp+0
    p = res.program
    last = [i for i in range(len(p.insn)) if p.insn[i].offset == 0x1a][0]
    assert p.cfi[last].cfa_base == RSP and p.cfi[last].cfa_offset == 8
    assert messages(res) == []
    assert any("sp:r10+0" in r.text() for r in res.orc)


def test_unsupported_realignment_without_frame():
    res = run("48 83 e4 f0 c3")
    assert messages(res) == [("f+0x0", "unsupported stack pointer realignment")]


def test_local_noreturn_function_makes_a_dead_end():
    # f: call die; (unreachable ud2 is fine)  die: jmp die
    code = "e8 00 00 00 00   0f 0b   eb fe"
    res = run(code, funcs=(("f", 0, 7), ("die", 7, 2)), relocs=[(1, R_X86_64_PLT32, ".text", 3)])
    p = res.program
    call = 0
    assert p.dead_end[call] == 1
    assert messages(res) == []


def test_unreachable_instruction_after_known_noreturn():
    res = run("e8 00 00 00 00  48 89 c3  c3", relocs=[(1, R_X86_64_PLT32, "panic", -4)],
              externs=["panic"])
    # objtool's wording when a known noreturn callee is followed by code
    assert messages(res) == [("f+0x5", "panic() is missing a __noreturn annotation")]


def test_falls_through_to_next_function():
    res = run("50 58 90  c3", funcs=(("f", 0, 3), ("g", 3, 1)))
    assert messages(res) == [("", "f() falls through to next function g()")]


def test_kernel_jump_table():
    # jmp *table(,%rax,8) with the table in .rodata: both targets get visited.
    code = "ff 24 c5 00 00 00 00   55 5d c3   53 5b c3"
    rodata = (bytes(16), [(0, R_X86_64_64, ".text", 7), (8, R_X86_64_64, ".text", 10)])
    res = run(code, relocs=[(3, R_X86_64_32S, ".rodata", 0)], rodata=rodata)
    s = states(res)
    assert s[7] is not None and s[10] is not None
    assert s[8] == (RSP, 16, (CFA, -16), UNDEF)
    assert messages(res) == []


def test_call_without_frame_pointer_with_stackval():
    code = "e8 00 00 00 00 c3"
    rel = [(1, R_X86_64_PLT32, "g", -4)]
    assert messages(run(code, relocs=rel, externs=["g"])) == []
    res = run(code, relocs=rel, externs=["g"], opts=Options(stackval=True))
    assert messages(res) == [("f+0x0", "call without frame pointer save/setup")]


def test_unwind_hint_sets_the_state():
    # .discard.unwind_hints: ip=.text+1, sp_offset=8, sp_reg=SP(5), type=REGS(3)
    import struct
    hint = struct.pack("<IhBBB", 0, 8, 5, 3, 0) + b"\0\0\0"
    code = "0f 01 f8  c3"     # swapgs (context switch) then ret, outside any function
    res = run(code, funcs=(), extra=[(".discard.unwind_hints", hint, [(0, 2, ".text", 3)])])
    p = res.program
    assert p.cfi[1] is not None and p.cfi[1].type == 3 and p.cfi[1].cfa_offset == 8
    assert [r.text() for r in res.orc] == [".text+3:type:regs sp:sp+8 bp:(und) signal:0",
                                           ".text+4:type:(und) sp:(und) bp:(und) signal:0"]


def test_deep_branching_does_not_exhaust_the_python_stack():
    # 3000 conditional jumps in a row: objtool recurses once per jump.
    code = "74 00 " * 3000 + "c3"
    res = run(code)
    assert messages(res) == []
    assert res.program.cfi[2999] is not None


def test_userspace_noreturn_names():
    # call abort; then falls into the next function, unless abort is known not to return
    code = "e8 00 00 00 00   c3"
    kw = dict(funcs=(("f", 0, 5), ("g", 5, 1)), relocs=[(1, R_X86_64_PLT32, "abort", -4)],
              externs=["abort"])
    assert messages(run(code, **kw)) == [("", "f() falls through to next function g()")]
    assert messages(run(code, opts=Options(userspace=True), **kw)) == []
    assert messages(run(code, opts=Options(noreturns=frozenset({"abort"})), **kw)) == []


def test_keep_going_walks_past_a_finding():
    # 0: je 7 | 2: push | 3: je 7 (meets 7 with rsp 8 lower: mismatch) | 5: pop | 6: nop | 7: ret
    # objtool stops at the mismatch and never walks 5-6; --keep-going ends only that path.
    code = "74 05  50  74 02  58  90  c3"
    res = run(code)
    assert [m for _, m in messages(res)] == ["stack state mismatch: cfa1=rsp+8 cfa2=rsp+16"]
    assert res.program.cfi[3] is None
    res = run(code, opts=Options(keep_going=True))
    assert [m for _, m in messages(res)] == ["stack state mismatch: cfa1=rsp+8 cfa2=rsp+16"]
    assert res.program.cfi[3] is not None and res.program.cfi[3].cfa_offset == 16


def test_options_from_orcgen_flags():
    o, files = Options.from_objtool_args(["--userspace", "--keep-going", "--noreturn=a,b",
                                          "--noreturn=c", "x.o"])
    assert (o.userspace, o.keep_going, o.noreturns, files) == (True, True, frozenset("abc"), ["x.o"])
