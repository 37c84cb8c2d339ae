"""Give freed memory back to the operating system.

A process that built and dropped large frames keeps much of that memory: glibc's allocator
holds freed blocks for reuse (``free`` does not shrink the heap below a block still in use)
and Arrow keeps its own pool. In the monthly batch the runner and several notebook kernels
share one machine, so memory one of them no longer uses but still holds counts against the
others (docs/traps.md: the runner held 0.8 GB after validation, 0.5 GB after a trim).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return library.malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory(collect: bool = True) -> bool:
    """Return memory freed by Python, Arrow and the C allocator to the system.

    Parameters
    ----------
    collect : bool
        Run the garbage collector first (frames caught in reference cycles are freed too).

    Returns
    -------
    bool
        True when the C allocator could be trimmed (glibc), False elsewhere: nothing breaks,
        the process just keeps what it holds.
    """
    if collect:
        gc.collect()
    arrow = sys.modules.get("pyarrow")  # only when already loaded: never an import for this
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
