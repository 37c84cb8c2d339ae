"""Loading a dataset: read its files, validate them, remember a clean validation.

>>> ds = load_dataset()                      # the bundled sample
>>> ds.table("customers").head()
>>> con = ds.connect()                       # DuckDB, one view per canonical table
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers import __version__, paths
from helpers.data.dataset import Dataset, sha256_file
from helpers.data.quarantine import write_quarantine as write_quarantine_files
from helpers.data.readers import open_dataset
from helpers.data.run_record import run_cache_dir
from helpers.data.schema import validate_dataset
from helpers.data.shared_tables import shared_tables
from helpers.data.spec import DatasetSpec, load_spec


def load_dataset(
    spec_or_path: DatasetSpec | str | Path | None = None,
    *,
    validate: bool = True,
    quarantine_dir: str | Path | None = None,
    write_quarantine: bool = False,
) -> Dataset:
    """Load a dataset and validate it.

    Parameters
    ----------
    spec_or_path : DatasetSpec, str or Path, optional
        A spec or a spec file; None -> the bundled sample.
    validate : bool
        Validate the tables (default). With ``on_invalid: fail`` in the spec, any problem
        raises :class:`helpers.data.DataValidationError` listing all of them; with
        ``quarantine``, rows that fail are left out and counted
        (:meth:`Dataset.quarantine_summary`), unless too many would go (the spec's
        ``max_quarantine_share``), which fails too.
    quarantine_dir : str or Path, optional
        Overrides the spec's quarantine folder (it must be inside the spec's folder).
    write_quarantine : bool
        Write the quarantined rows to ``<quarantine folder>/<table>.csv`` (raw values and
        reasons; files of an earlier run replaced). Only ``fishpond run`` does this, once per
        run; validation and notebooks never write.

    Returns
    -------
    Dataset
    """
    spec = spec_or_path if isinstance(spec_or_path, DatasetSpec) else load_spec(spec_or_path)
    # In a kernel of `fishpond run` the runner has validated these files and saved their small
    # tables (helpers.data.shared_tables): opened lazily, not read again, when the validation
    # is remembered below.
    lazy = validate and quarantine_dir is None and not write_quarantine
    shared = shared_tables(spec) if lazy else {}
    hashing = _hash_meanwhile(spec) if validate else None
    dataset = open_dataset(spec, shared=shared)
    if hashing is not None:
        dataset.hash_files_meanwhile(hashing)
    if validate:
        # A monthly run loads the same files in every notebook; at 1M customers validation
        # takes over a minute, so a clean result is remembered for these exact files (their
        # SHA-256: a file changed with the same size and time is validated again) and these
        # validation rules. Quarantine runs are not cached: they change the tables they return.
        cache = _validation_cache_path(spec, dataset) if spec.on_invalid == "fail" else None
        if cache is not None and cache.exists():
            saved = f"; {', '.join(sorted(shared))} as the runner saved them" if shared else ""
            dataset.notices.append(
                f"validation: passed earlier for these exact files ({cache.name}){saved}"
            )
            _drop_raw(dataset)
            dataset.validated = True
            return dataset
        if shared:  # validation reads every file itself
            dataset = open_dataset(spec)
        report = validate_dataset(
            dataset,
            quarantine_dir=Path(quarantine_dir) if quarantine_dir is not None else None,
        )
        report.raise_if_failed()
        dataset.validation_ = report
        dataset.validated = True
        if write_quarantine:
            write_quarantine_files(dataset)
        if cache is not None:
            _remember_validation(cache)
    return dataset


def _hash_meanwhile(spec: DatasetSpec):
    """The files' SHA-256, computed in a second thread while the tables are read (the
    remembered validation and the run's fingerprint need them: ~2.5 s for 1.2 GB of Parquet
    at a million customers, on the core that reading the small tables into pandas leaves
    idle); None inside a run's kernel, which takes the runner's digests instead."""
    if run_cache_dir() is not None:
        return None
    files = [path for path in spec.files() if Path(path).is_file()]
    if not files:
        return None
    pool = ThreadPoolExecutor(1, thread_name_prefix="fishpond-sha256")
    hashing = pool.submit(lambda: {str(path): sha256_file(path) for path in files})
    pool.shutdown(wait=False)
    return hashing


def _drop_raw(dataset: Dataset) -> None:
    for source in dataset._sources.values():
        source.raw = None


def _validation_cache_path(spec: DatasetSpec, dataset: Dataset) -> Path | None:
    """Where a passed validation of exactly these files is remembered; None when disabled."""
    files = dataset.files()
    if os.environ.get("FISHPOND_NO_VALIDATION_CACHE") or not files:
        return None
    if not all(Path(path).is_file() for path in files):
        return None  # validation will name the missing file
    digests = dataset.file_digests()
    rules = sorted((paths.PACKAGE_DIR / "data").glob("*.py"))
    stamp = {
        "version": __version__,
        "spec": repr(spec),
        "files": [[str(Path(path).resolve()), digests[str(path)]] for path in files],
        "rules": [[path.name, hashlib.sha256(path.read_bytes()).hexdigest()] for path in rules],
    }
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True, default=str).encode()).hexdigest()
    return paths.scratch_dir() / "validated" / f"{key[:32]}.ok"


def _remember_validation(cache: Path) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.touch()
    except OSError:  # a read-only checkout only loses the speed-up
        pass
