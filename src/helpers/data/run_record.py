"""The runner's record of a run's data: which files, their size, time and SHA-256.

``fishpond run`` writes ``dataset.json`` into the run's cache folder (the folder is named by
:data:`RUN_CACHE_ENV` in every kernel's environment). Whatever needs to know "is this exactly
the data the runner hashed?" reads it here: the frame cache (``helpers.features.cache``) and
:meth:`helpers.data.dataset.Dataset.file_digests`, which then takes the runner's SHA-256
instead of reading a gigabyte of Parquet again in every notebook.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers.paths import KEEP_CACHE_ENV, RUN_CACHE_ENV

__all__ = ["DATASET_RECORD", "KEEP_CACHE_ENV", "RUN_CACHE_ENV", "run_cache_dir", "stamps"]
DATASET_RECORD = "dataset.json"


def run_cache_dir() -> Path | None:
    """The current run's cache folder, or None outside a run."""
    folder = os.environ.get(RUN_CACHE_ENV, "")
    return Path(folder) if folder and Path(folder).is_dir() else None


def stamps(ds) -> list[list] | None:
    """(path, size, mtime_ns) of each file of ``ds`` (a dataset or its spec); None for
    in-memory data."""
    files = ds.files() if hasattr(ds, "files") else []
    if not files:
        return None
    found = []
    for path in files:
        try:
            status = Path(path).stat()
        except OSError:
            return None
        found.append([str(Path(path).resolve()), status.st_size, status.st_mtime_ns])
    return found


def run_record(ds) -> dict | None:
    """The runner's record of this run's data when ``ds`` is exactly that data, else None."""
    folder = run_cache_dir()
    if folder is None or not (folder / DATASET_RECORD).is_file():
        return None
    try:
        record = json.loads((folder / DATASET_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    current = stamps(ds)
    if current is None or record.get("stamps") != current:
        return None
    if record.get("spec") != repr(getattr(ds, "spec", None)):
        return None
    return record
