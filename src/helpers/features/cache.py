"""Run-scoped cache of shared frames: each ABT, survival frame and churn table built once per run.

The notebooks of a monthly run all start from the same few frames: the ABT at the report
month (01, 02, 03, 04), at ``month - horizon`` (02, 03), the survival frame and the churn
events (01, 02). At a million customers each ABT costs about 15 s of DuckDB work; built
separately in every notebook they were a third of the pack.

How it works:

- ``fishpond run`` creates ``<pack build folder>/cache/`` and writes ``dataset.json`` there:
  the dataset's files with their size and modification time, the spec, and the SHA-256 of
  each file (the fingerprint the runner computes anyway for the manifest). It hands the folder
  to every kernel in the environment variable :data:`RUN_CACHE_ENV`.
- In a kernel, :func:`cached_frame` keys a frame by the **content** of the data (the files'
  SHA-256, looked up through the recorded size and modification time, so nothing is re-hashed)
  plus the kind of frame and every parameter that shapes it (as-of month, horizon, churn
  definition, tier ladder, ...). The first notebook that needs a frame builds it and writes
  ``<kind>-<key>.arrow`` (Arrow IPC; atomically, under a file lock so a parallel notebook
  waits instead of building it twice); later notebooks read it.
- The runner also saves the dataset's small canonical tables (customers, holdings, contacts,
  campaigns), validated, in ``tables/`` (:mod:`helpers.data.shared_tables`): a kernel of the
  run opens them as Parquet views and reads one into pandas only when a notebook asks for it.
- A dataset whose files differ from the recorded ones (changed during the run, or another
  dataset) gets no key: the frame is built as if there were no cache.
- **Lifetime**: the cache belongs to one run. The runner deletes ``cache/`` before it moves
  the finished pack into place (it never reaches ``reports/``), and with the build folder when
  a run is interrupted. ``FISHPOND_KEEP_RUN_CACHE=1`` keeps it inside the pack for debugging.
  Without the runner (JupyterLab) there is no cache folder and nothing is cached.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from pyarrow import feather

from helpers.data.run_record import (
    DATASET_RECORD,
    run_cache_dir,
    run_record,
    stamps,
)
from helpers.data.shared_tables import save_shared_tables

# Frames are stored as Arrow IPC files (see _write); tables written by DuckDB (cached_file)
# stay Parquet.
FRAME_SUFFIX = ".arrow"


def prepare_run_cache(folder: str | Path, ds, fingerprint: dict) -> Path:
    """Create the run's cache folder and record which data it is for (called by the runner).

    Parameters
    ----------
    folder : path
        The cache folder (created).
    ds : helpers.data.dataset.Dataset
        The run's dataset as the runner loaded it.
    fingerprint : dict
        ``ds.fingerprint()`` (files with their SHA-256, row counts).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "spec": repr(getattr(ds, "spec", None)),
        "stamps": stamps(ds),
        "fingerprint": fingerprint,
    }
    temporary = folder / f".{DATASET_RECORD}.tmp-{os.getpid()}"
    temporary.write_text(json.dumps(record, default=str), encoding="utf-8")
    os.replace(temporary, folder / DATASET_RECORD)
    save_shared_tables(folder, ds)  # the small tables, validated, for the kernels
    return folder


def run_fingerprint(ds) -> dict | None:
    """The fingerprint the runner computed for ``ds`` (no re-hashing), or None."""
    record = run_record(ds)
    return None if record is None else record.get("fingerprint")


def dataset_key(ds) -> str | None:
    """Content key of ``ds`` in this run: SHA-256 of its files' hashes and spec; None = no cache."""
    record = run_record(ds)
    if record is None:
        return None
    files = record.get("fingerprint", {}).get("files", [])
    content = {"spec": record["spec"], "sha256": [entry.get("sha256") for entry in files]}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def frame_key(kind: str, data_key: str, parameters: dict[str, Any]) -> str:
    """Cache key of one frame: its kind, the data's content key and its parameters."""
    payload = {"kind": kind, "data": data_key, "parameters": parameters}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(frame: pd.DataFrame, path: Path) -> None:
    # Arrow IPC (Feather v2), uncompressed: a run-scoped file written once and read a few
    # times on the same disk, so no encoding or compression is worth its CPU. At a million
    # customers an ABT (830k x 56) takes 0.3 s to write and 0.4 s to read, against 0.9 s and
    # 1.1 s as Parquet; the frame read back is the same (values, dtypes, categoricals).
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    feather.write_feather(
        pa.Table.from_pandas(frame, preserve_index=False), temporary, compression="uncompressed"
    )
    attrs = path.with_suffix(".attrs.json")
    attrs.write_text(json.dumps(frame.attrs, default=str), encoding="utf-8")
    os.replace(temporary, path)


def _read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    frame = feather.read_table(path, columns=columns).to_pandas()
    attrs = path.with_suffix(".attrs.json")
    if attrs.is_file():
        frame.attrs.update(json.loads(attrs.read_text(encoding="utf-8")))
    return frame


def cached_frame(
    ds, kind: str, parameters: dict[str, Any], build: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """``build()``, or this run's stored result for the same data, kind and parameters.

    Parameters
    ----------
    ds : helpers.data.dataset.Dataset
    kind : str
        Name of the frame (``"abt"``, ``"survival_frame"``, ...): part of the file name.
    parameters : dict
        Everything besides the data that shapes the frame (JSON-serialisable, or turned into
        text with ``str``).
    build : callable
        Builds the frame when the run has not stored it yet.

    Returns
    -------
    pandas.DataFrame
        A fresh frame (never shared with another caller): dtypes, ordered categoricals and
        ``attrs`` as ``build`` returned them.
    """
    path = _frame_path(ds, kind, parameters)
    if path is None:
        return build()
    unstored = _store(path, build)
    return unstored if unstored is not None else _read(path)


def stored_frame(
    ds, kind: str, parameters: dict[str, Any], columns: list[str] | None = None
) -> pd.DataFrame | None:
    """This run's stored frame of ``kind`` and ``parameters`` if a step has built it already
    (only ``columns``, when given); None otherwise (and outside a run). Never builds anything."""
    path = _frame_path(ds, kind, parameters)
    return _read(path, columns) if path is not None and path.is_file() else None


def warm_frame(
    ds, kind: str, parameters: dict[str, Any], build: Callable[[], pd.DataFrame]
) -> bool:
    """Store ``build()`` for this run now, without reading it back (the caller needs it later,
    or another notebook does); nothing when the run already has it.

    Returns True when the run's cache holds the frame afterwards; False outside a run (there
    is no cache to warm, so nothing is built).
    """
    path = _frame_path(ds, kind, parameters)
    if path is None:
        return False
    _store(path, build)
    return path.is_file()


def cached_file(
    ds, kind: str, parameters: dict[str, Any], write: Callable[[Path], None]
) -> Path | None:
    """This run's Parquet file of ``kind`` for the same data and parameters, written by
    ``write(temporary_path)`` the first time (under the same lock as :func:`cached_frame`).

    For intermediate tables a query reads as a view and no notebook holds in memory. None
    outside a run, or when the file could not be written: the caller then works without it.
    """
    path = _frame_path(ds, kind, parameters, ".parquet")
    if path is None:
        return None

    def produce() -> bool:
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            write(temporary)
            os.replace(temporary, path)
        except Exception:  # noqa: BLE001 - any failure: work without the file
            temporary.unlink(missing_ok=True)
            return False
        return True

    return path if _once(path, produce) is not False else None


def stored_file(ds, kind: str, parameters: dict[str, Any]) -> Path | None:
    """This run's Parquet file of ``kind`` (:func:`cached_file`) if a step has written it
    already; None otherwise (and outside a run). Never writes anything."""
    path = _frame_path(ds, kind, parameters, ".parquet")
    return path if path is not None and path.is_file() else None


def _frame_path(
    ds, kind: str, parameters: dict[str, Any], suffix: str = FRAME_SUFFIX
) -> Path | None:
    """Where this run stores the frame, or None outside a run (or for other data)."""
    folder = run_cache_dir()
    data_key = dataset_key(ds) if folder is not None else None
    if data_key is None:
        return None
    return folder / f"{kind}-{frame_key(kind, data_key, parameters)}{suffix}"


def _once(path: Path, produce: Callable[[], Any]) -> Any:
    """``produce()`` unless the run has ``path`` (looked at again once the lock is ours: a
    parallel notebook may have made it while we waited); None when the file was there."""
    if path.is_file():
        return None
    with _locked(path.with_suffix(".lock")):
        if path.is_file():
            return None
        return produce()


def _store(path: Path, build: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
    """Build and store the frame unless the run has it; the built frame only when it could
    not be stored (the run then just loses the speed-up), else None."""

    def produce() -> pd.DataFrame | None:
        frame = build()
        try:
            _write(frame, path)
        except (OSError, ValueError, TypeError):  # unstorable
            return frame
        return None

    return _once(path, produce)
