"""helpers.data.memory: freed memory goes back to the system (glibc), nothing breaks elsewhere."""

from __future__ import annotations

import sys

import numpy as np
import psutil
import pytest

from helpers.data import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_gives_back_freed_small_blocks():
    process = psutil.Process()
    # ~400 MB in blocks small enough to live in the heap (below glibc's mmap threshold), one
    # kept in every hundred: freeing the rest leaves holes that free() alone does not return
    blocks = [np.ones(10_000) for _ in range(5_000)]
    kept = blocks[::100]
    del blocks
    held = process.memory_info().rss
    assert memory.release_freed_memory() is True
    assert process.memory_info().rss < held - 100e6
    assert len(kept) == 50


def test_without_malloc_trim_it_says_so(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.release_freed_memory(collect=False) is False
