"""The run's small tables, validated once by the runner and shared with its kernels.

At a million customers every kernel read ``customers``, ``holdings``, ``contacts`` and
``campaigns`` into pandas at its start (4-7 s and about 2 GB per kernel, with two kernels side
by side) although most notebooks read them through DuckDB, or a few columns late in the
notebook. ``fishpond run`` has these canonical frames already (it validated them): it saves
them as Parquet in ``<run cache>/tables/`` with the spec and the files' size and modification
time. A kernel of the same run (same spec, same files, validation remembered for these exact
files) then opens each of them as a Parquet view for DuckDB and reads it into pandas only when
the notebook asks for the table (:meth:`helpers.data.dataset.Dataset.table`).

Not shared: quarantine runs (rows are removed per kernel), Spark datasets (their tables stay
where the cluster reads them), a table Parquet cannot hold (it is then read as before).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers.data.run_record import run_cache_dir, stamps

#: Subfolder of the run cache holding the shared tables, and its index file.
TABLES_DIR = "tables"
INDEX = "tables.json"


def shareable(spec) -> bool:
    """Whether a dataset's tables may be shared between a run's kernels."""
    return spec.on_invalid == "fail" and spec.engine != "spark"


def save_shared_tables(folder: str | Path, ds) -> list[str]:
    """Save ``ds``'s in-memory canonical tables under ``folder/tables`` (the runner calls this).

    Returns the names saved. Big Parquet tables are not copied (kernels read the source file).
    """
    spec = getattr(ds, "spec", None)
    files = stamps(ds)
    if spec is None or files is None or not shareable(spec):
        return []
    target = Path(folder) / TABLES_DIR
    target.mkdir(parents=True, exist_ok=True)
    saved: dict[str, str] = {}
    for name, source in ds._sources.items():
        if source.frame is None or source.excluded_rows is not None:
            continue
        path = target / f"{name}.parquet"
        temporary = target / f".{name}.parquet.tmp-{os.getpid()}"
        try:
            source.frame.to_parquet(temporary, index=False)
        except Exception:  # a column Parquet cannot hold: the kernels read this table as before
            temporary.unlink(missing_ok=True)
            continue
        os.replace(temporary, path)
        saved[name] = path.name
    index = {"spec": repr(spec), "stamps": files, "tables": saved}
    temporary = target / f".{INDEX}.tmp-{os.getpid()}"
    temporary.write_text(json.dumps(index, default=str), encoding="utf-8")
    os.replace(temporary, target / INDEX)
    return sorted(saved)


def shared_tables(spec) -> dict[str, Path]:
    """The tables this run's runner saved for exactly this spec and these files ({} if none)."""
    folder = run_cache_dir()
    if folder is None or not shareable(spec):
        return {}
    index_path = folder / TABLES_DIR / INDEX
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if index.get("spec") != repr(spec) or index.get("stamps") != stamps(spec):
        return {}
    found = {name: folder / TABLES_DIR / file for name, file in index.get("tables", {}).items()}
    return {name: path for name, path in found.items() if path.is_file()}
