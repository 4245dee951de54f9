# SPDX-License-Identifier: GPL-2.0-only
"""orcgen's own checks, as registered in pyproject.toml's [project.entry-points."orcgen.checks"]
(tests/test_checks.py keeps the two equal)."""

BUILTIN = {
    "stack": "orcgen.checks.walk:StackCheck",
    "frame-pointer": "orcgen.checks.walk:FramePointerCheck",
    "frame-record": "orcgen.checks.walk:FrameRecordCheck",
    "noinstr": "orcgen.checks.walk:NoinstrCheck",
    "ibt": "orcgen.checks.walk:IbtCheck",
    "unret": "orcgen.checks.walk:UnretCheck",
    "mcount": "orcgen.checks.walk:McountCheck",
    "uaccess": "orcgen.checks.walk:UaccessCheck",
    "retpoline": "orcgen.checks.walk:RetpolineCheck",
    "sls": "orcgen.checks.walk:SlsCheck",
    "unreachable": "orcgen.checks.walk:UnreachableCheck",
    "stack-writes": "orcgen.checks.stack_writes:StackWritesCheck",
    "dwarf-cfi": "orcgen.checks.dwarf_cfi:DwarfCfiCheck",
    "kcfi": "orcgen.checks.kcfi:KcfiCheck",
}
