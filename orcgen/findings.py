# SPDX-License-Identifier: GPL-2.0-only
"""Findings: what the analysis says about the code, with where and why.

A finding's `message` uses objtool's wording where objtool has one, so that
people and scripts that know objtool's warnings know orcgen's.  `fatal` marks
the findings after which objtool gives up on the whole file (it then writes no
ORC); orcgen does the same, so its output stays comparable.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    kind: str            # stable short identifier, e.g. "return-modified-frame"
    message: str         # objtool's text where it has one
    where: str = ""      # "func+0xOFF", or "" for file-level findings
    fatal: bool = False

    def line(self, filename: str) -> str:
        if self.where:
            return "%s: warning: orcgen: %s: %s" % (filename, self.where, self.message)
        return "%s: warning: orcgen: %s" % (filename, self.message)


class Fatal(Exception):
    """Raised where objtool stops analysing the file (its `return -1` paths)."""

    def __init__(self, kind: str, message: str, where: str = "") -> None:
        super().__init__(message)
        self.finding = Finding(kind, message, where, fatal=True)
