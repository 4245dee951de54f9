# SPDX-License-Identifier: GPL-2.0-only
"""The cyclic garbage collector, paused while a large file is read or analysed.

Reading vmlinux.o's 200,000 symbols and analysing its five million
instructions allocate millions of objects that all live until the file is
done; each allocation burst makes the collector walk every object made so
far again, and it reclaims nothing (0.6 s of vmlinux.o's time).  Reference
counting still frees everything that is not in a cycle; the collector runs
again when the file is done.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
