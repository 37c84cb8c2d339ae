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

from helpers.paths import RUN_CACHE_ENV

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


# --------------------------------------------------------------------------------------------
# The run's thread budget
# --------------------------------------------------------------------------------------------
#: File in the run's cache folder: how many threads each running kernel may use now.
THREADS_FILE = "threads"


def write_thread_budget(folder: str | Path, threads: int) -> None:
    """Record how many threads each running kernel may use (the runner, as kernels come and
    go: cores // kernels running). Written whole (a temporary file, then renamed)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    temporary = folder / f".{THREADS_FILE}.tmp"
    temporary.write_text(str(int(threads)), encoding="utf-8")
    os.replace(temporary, folder / THREADS_FILE)


def thread_budget() -> int | None:
    """The run's current thread budget for this kernel, or None outside a run (or unset)."""
    folder = run_cache_dir()
    if folder is None:
        return None
    try:
        value = int((folder / THREADS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if value >= 1 else None


class ThreadBudget:
    """Applies the run's thread budget to OpenMP (scikit-learn's gradient boosting, k-means)
    before each cell, when it changed.

    In a batch with several notebooks side by side each kernel starts capped at
    cores // jobs threads; when a kernel is left running alone, the runner raises the budget
    and the kernel's next cell uses the idle cores. Only OpenMP is raised: its results do not
    depend on the thread count (tested), while BLAS sums could change in the last digits.
    """

    def __init__(self) -> None:
        self.applied: int | None = None

    def __call__(self, *_args) -> None:
        threads = thread_budget()
        if threads is None or threads == self.applied:
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="openmp")
        self.applied = threads
