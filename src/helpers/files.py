"""Atomic file writes: a reader never sees half a file where a finished one belongs.

Every artifact, list, page and manifest Fishpond writes goes through :func:`atomic_write`:
the content is written to a hidden temporary sibling and renamed over the target, which is
atomic on one file system. A crash, a full disk or a kill leaves the previous file intact.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write through ``write(temporary_path)`` into a hidden sibling, then rename into place.

    The temporary name keeps the target's suffix, so writers that choose a format by suffix
    (``to_excel``, Papermill) behave as for the real name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
