# SPDX-License-Identifier: GPL-2.0-only
"""Which A64 words write SP or x29, according to LLVM's disassembler: the
reference the arm64 decoder's write detection is compared with.

llvm-mc-19 knows every extension the decoder cares about (SVE2, SME2, MTE,
LSE/LSE128, RCpc3, MOPS, THE, GCS, LS64, TME, PAuth-LR).  A word it rejects is
not an instruction; for one it accepts, `written()` reads the text: which
operand positions an instruction writes follows from its mnemonic (stores
write only a written-back base, `ldadd x0, x29, [x1]` its second operand,
`cas x29, x1, [x0]` its first, `casp x28, x29, ...` both, `cpy*`/`set*` every
register with `!`, ...).  The rules are coarse but written independently of
the decoder's masks, so that a mask one bit too wide or too narrow shows up as a
difference on words near the real encodings.

    python tests/a64writes.py [SEED] [N]      # a survey of N words
"""
from __future__ import annotations

import collections
import random
import re
import subprocess
import sys

LLVM_MC = "llvm-mc-19"
ATTRS = ("+sve,+sve2,+sve2p1,+sme,+sme2,+mte,+lse,+rcpc,+rcpc-immo,+rcpc3,+mops,+lse128,+the,"
         "+d128,+gcs,+pauth,+pauth-lr,+ls64,+tme,+jsconv,+v9.4a,+fp-armv8,+neon,+crc,+rand,"
         "+predres,+sb,+ssbs,+flagm,+altnzcv,+cssc")
NAMES = {"x29": 29, "w29": 29, "sp": 31, "wsp": 31}

# first operand read, not written (stores other than the exclusive/ls64 ones, whose
# first operand is a status register; compares; branches; system; fmov/cvtf into FP)
_NO_FIRST = re.compile(
    r"^(st(?!xr|lxr|xp|lxp|64bv)[a-z0-9]*|cmp|cmn|tst|ccmp|ccmn|b|b\..*|bc\..*|bl|br.*|blr.*|cbz|"
    r"cbnz|tbz|tbnz|prf.*|msr|sys|sysp|dc|ic|at|tlbi.*|ret.*|wfet|wfit|setf.*|rmif|brk|hlt|hvc|"
    r"svc|smc|dcps.*|cfp|dvp|cpp|cosp|gcspushm|gcsss1|gcspushx|gcsstr|gcssttr|chkfeat|tcancel|"
    r"udf|trcit|scvtf|ucvtf|autiasppcr|autibsppcr)$")
_SECOND = re.compile(r"^(ld(add|clr|eor|set|smax|smin|umax|umin)[a-z]*|swp[a-z]*|rcw(?!cas|scas)[a-z]*)$")
_PAIR = ("ldp", "ldnp", "ldpsw", "ldxp", "ldaxp", "ldiapp", "mrrs", "casp", "ldclrp", "ldsetp",
         "swpp", "rcwcasp", "rcwscasp", "rcwswpp", "rcwclrp", "rcwsetp", "rcwsswpp", "rcwsclrp",
         "rcwssetp")


def _reg(o: str) -> int | None:
    return NAMES.get(o.strip("[]! "))


def written(text: str) -> set[int]:
    """The registers among SP (31) and x29 (29) the instruction `text` writes."""
    parts = text.split(None, 1)
    mn, ops = parts[0], parts[1] if len(parts) > 1 else ""
    regs = [o.strip() for o in re.split(r",(?![^{]*})", ops)]
    out = set()
    m = re.search(r"\[([a-z]\w*)[^\]]*\](!|, )", ops)
    if m and not mn.startswith("prf") and _reg(m.group(1)) is not None:
        out.add(_reg(m.group(1)))                   # written-back base
    if re.match(r"^(cpy|set)[a-z]*$", mn):
        return out | {_reg(o) for o in regs if "!" in o and _reg(o) is not None}
    pair = mn.startswith(_PAIR)
    if _SECOND.match(mn) and not pair:
        r = _reg(regs[1]) if len(regs) > 1 else None
        return out | ({r} if r == 29 else set())
    if mn == "ld64b":
        return out | ({29} if int(regs[0][1:]) <= 29 <= int(regs[0][1:]) + 7 else set())
    if mn == "msr" and regs[0].lower() == "spsel":
        return out | {31}                           # selects the other stack pointer
    if _NO_FIRST.match(mn):
        return out
    for o in regs[:2 if pair else 1]:
        if o.startswith(("[", "{")):
            break
        if _reg(o) is not None:
            out.add(_reg(o))
    return out


def disassemble(words: list[int]) -> list[str | None]:
    """llvm-mc-19's text for each word, None where it is no instruction."""
    inp = "".join(" ".join("0x%02x" % ((w >> (8 * b)) & 255) for b in range(4)) + "\n" for w in words)
    r = subprocess.run([LLVM_MC, "--disassemble", "-triple=aarch64", "-mattr=" + ATTRS],
                       input=inp, capture_output=True, text=True, check=True)
    bad = {int(n) for n in re.findall(r"<stdin>:(\d+):\d+: warning: invalid instruction", r.stderr)}
    lines = iter(t.split("//")[0].strip() for t in r.stdout.splitlines()
                 if t.strip() and not t.strip().startswith(".text"))
    return [None if k + 1 in bad else next(lines) for k in range(len(words))]


def near(base: list[int], n: int, seed: int) -> list[int]:
    """n words: random ones with a register field set to 29 or 31, and the `base`
    words with up to three bits flipped (the neighbours of real encodings)."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        if k % 2 and base:
            w = rng.choice(base)
            for _ in range(rng.randint(0, 3)):
                w ^= 1 << rng.randrange(32)
        else:
            f = rng.choice((0, 0, 5, 10, 16))
            w = (rng.getrandbits(32) & ~(31 << f)) | (rng.choice((29, 31)) << f)
        out.append(w)
    return out


def decoder_writes(w: int) -> tuple[set[int], set[int]]:
    """The SP/x29 writes the arm64 decoder sees in `w`: all of them, and those it
    marks Src.UNKNOWN.  A load into register 31 from a tracked base (`ldr xzr,
    [sp, #8]`: a load into XZR, which the decoder passes on as one into 31) is
    not a write."""
    from orcgen.arch.arm64.decode import decode_word
    from orcgen.insn import Dest, Src
    ops = decode_word(w, 0, [w], 0).ops
    every = {o.dest_reg for o in ops if o.dest == Dest.REG and o.dest_reg in (29, 31)
             and not (o.src == Src.REG_INDIRECT and o.dest_reg == 31)}
    return every, {o.dest_reg for o in ops if o.src == Src.UNKNOWN}


def compare(words: list[int]) -> dict[str, list]:
    """Differences between llvm's view and the decoder's, as {"missed": [(word,
    text, regs)], "extra": [...], "invalid": [words llvm rejects that the
    decoder gives a Src.UNKNOWN write]}."""
    res = collections.defaultdict(list)
    for w, text in zip(words, disassemble(words)):
        got, unknown = decoder_writes(w)
        if text is None:
            if unknown:
                res["invalid"].append(w)
            continue
        want = written(text)
        if want - got:
            res["missed"].append((w, text, sorted(want - got)))
        if got - want:
            res["extra"].append((w, text, sorted(got - want)))
    return res


def _main() -> int:
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    from test_stack_writes_arm64 import NOT_WRITES, WRITES
    res = compare(near([w for w, *_ in WRITES + NOT_WRITES], n, seed))
    for k in ("missed", "extra"):
        c = collections.Counter(t.split()[0] for _, t, _ in res[k])
        print(k, sum(c.values()), dict(c.most_common(20)))
    print("invalid words with unknown writes:", ["%08x" % w for w in res["invalid"][:20]])
    return 0


if __name__ == "__main__":
    sys.exit(_main())
