# SPDX-License-Identifier: GPL-2.0-only
"""frame-size: report functions whose stack frame exceeds ORCGEN_FRAME_LIMIT
bytes (default 256), the objdump-level twin of GCC's -Wframe-larger-than.

It uses only orcgen's public check API: the computed state at every
instruction (the CFA's offset from SP is the frame size there).
"""
import os

from orcgen.checks.api import STATES, Check


class FrameSizeCheck(Check):
    name = "frame-size"
    description = "functions whose stack frame is larger than ORCGEN_FRAME_LIMIT bytes (default 256)"
    needs = frozenset({STATES})
    kinds = {"large-frame": "the stack frame is larger than the limit"}

    def run(self, ctx):
        p = ctx.program
        limit = int(os.environ.get("ORCGEN_FRAME_LIMIT", "256"))
        biggest = {}
        for i, c in enumerate(p.cfi):
            f = p.func(i)
            if c is None or f is None or c.cfa_base != p.abi.sp:
                continue
            if c.cfa_offset > biggest.get(f.name, (0, -1))[0]:
                biggest[f.name] = (c.cfa_offset, i)
        for name, (size, i) in sorted(biggest.items(), key=lambda kv: kv[1][1]):
            if size > limit:
                yield ctx.finding(self, "large-frame", "%s() has a %d-byte stack frame (limit %d)"
                                  % (name, size, limit), i)
