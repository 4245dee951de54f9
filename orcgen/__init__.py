# SPDX-License-Identifier: GPL-2.0-only
"""orcgen: stack-unwind information computed from machine code.

The pipeline runs one way: ELF -> decode -> CFG -> interpret -> consumers -> report.
"""
__version__ = "0.1.0"
