"""Quarantine: rows that fail validation set aside, counted, and (by ``fishpond run`` only) written.

With ``on_invalid: quarantine`` in the spec, :func:`helpers.data.schema.validate_dataset` moves
every row that has a row-level problem out of its table and keeps it here, with its raw values
as read (text from CSV/Excel, the stored values from Parquet) and the reasons. Nothing is
written while validating: ``fishpond validate`` and every notebook only count what is set aside
(:meth:`helpers.data.Dataset.quarantine_summary`). ``fishpond run`` writes the files once per
run (:func:`write_quarantine`): ``<quarantine_dir>/<table>.csv``, always inside the spec's
folder, replacing the files of an earlier run (a table with nothing set aside this time loses
its old file).

Quarantine is a safety valve for a few bad rows, not a way to run on broken data: when it
would set aside every row of a table, or more than the spec's ``max_quarantine_share`` (5 % by
default), the table's problems are reported instead and the load fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from helpers.data.dataset import parquet_rows_sql
from helpers.data.problems import Problem
from helpers.data.spec import FLAT_TABLE, PANEL_TABLES
from helpers.files import atomic_write

_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9][0-9,]*(\.[0-9]+)?$")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def quarantine_folder(dataset, override: str | Path | None = None) -> Path | None:
    """Where quarantined rows go: ``override``, the spec's ``quarantine_dir``, or
    ``quarantine/`` beside the spec. None for a dataset without a spec file.

    Raises
    ------
    ValueError
        When the folder is not inside the spec's folder (quarantined rows are customer data).
    """
    base = dataset.spec.base_dir
    if override is not None:
        folder = Path(override)
    elif dataset.spec.quarantine_dir is not None:
        folder = dataset.spec.quarantine_dir
    elif base is not None:
        folder = base / "quarantine"
    else:
        return None
    if base is not None:
        folder = (base / folder).resolve()
        if not folder.is_relative_to(base.resolve()):
            raise ValueError(
                f"quarantine folder {folder} is outside the spec's folder {base}; quarantined "
                "rows are customer data, so they stay under the spec's folder"
            )
    return folder


def _reasons(problems: list[Problem]) -> str:
    return ", ".join(sorted({f"{p.column}: {p.check}" if p.column else p.check for p in problems}))


def _share_problem(table: str, bad: int, total: int, limit: float) -> Problem:
    if bad >= total:
        return Problem(
            table, "", "every row would be quarantined",
            f"rows that pass: all {total:,} rows have the problems above, so quarantine would "
            "leave nothing. This is usually the spec, not the data: check the column mapping "
            "and the value lists",
            count=bad,
        )  # fmt: skip
    return Problem(
        table, "", "too many rows to quarantine",
        f"at most {limit:.0%} of the rows set aside (max_quarantine_share in the spec); "
        f"{bad:,} of {total:,} rows ({bad / total:.1%}) have the problems above: fix the spec "
        "or the data, or raise max_quarantine_share if you accept losing them",
        count=bad,
    )  # fmt: skip


def quarantine_pandas(dataset, table: str, problems: list[Problem], folder: Path | None):
    """Move rows with row-level problems out of a pandas table.

    Returns ``(problems left, record or None)``: the table's problems that stay (table-level
    ones, or all of them when too many rows would go), and the summary record.
    """
    row_problems = [p for p in problems if p.rows]
    table_problems = [p for p in problems if not p.rows]
    if not row_problems:
        return problems, None
    frame = dataset.table(table).reset_index(drop=True)
    reasons: dict[int, list[str]] = {}
    for problem in row_problems:
        for row in problem.rows:
            reasons.setdefault(int(row), []).append(f"{problem.column}: {problem.check}")
    rows = sorted(r for r in reasons if 1 <= r <= len(frame))
    limit = dataset.spec.max_quarantine_share
    if len(rows) >= len(frame) or len(rows) > limit * len(frame):
        return problems + [_share_problem(table, len(rows), len(frame), limit)], None
    source = dataset._sources[table]
    raw = source.raw if source.raw is not None and len(source.raw) == len(frame) else frame
    bad = raw.iloc[[r - 1 for r in rows]].reset_index(drop=True).copy()
    if source.row_files:
        names, offsets = _file_positions(source.row_files, rows)
        bad.insert(0, "file_row", offsets)
        bad.insert(0, "file", names)
    bad.insert(0, "reason", ["; ".join(dict.fromkeys(reasons[r])) for r in rows])
    bad.insert(0, "row", rows)
    kept = frame.drop(index=[r - 1 for r in rows]).reset_index(drop=True)
    dataset._replace_frame(table, kept)
    return table_problems, _record(dataset, table, bad, row_problems, folder)


def _file_positions(row_files: list, rows: list[int]) -> tuple[list[str], list[int]]:
    """(file name, row within that file) for rows numbered through several files."""
    names, offsets = [], []
    for row in rows:
        start = 0
        for name, count in row_files:
            if row <= start + count:
                names.append(name)
                offsets.append(row - start)
                break
            start += count
    return names, offsets


def quarantine_parquet(dataset, table, problems, bad_sql: str, con, folder: Path | None):
    """Leave rows with row-level problems out of a Parquet-backed table (see
    :func:`quarantine_pandas`); the raw rows are read back from the file(s)."""
    row_problems = [p for p in problems if p.rows]
    table_problems = [p for p in problems if not p.rows]
    if not row_problems or not bad_sql:
        return problems, None
    bad = con.sql(
        f"SELECT __row, string_agg(DISTINCT reason, '; ') AS reason FROM ({bad_sql}) "
        "GROUP BY __row ORDER BY __row"
    ).df()
    source = dataset._sources[table]
    relation = parquet_rows_sql(con, source.parquet_paths)
    total = con.sql(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
    limit = dataset.spec.max_quarantine_share
    if len(bad) >= total or len(bad) > limit * total:
        return problems + [_share_problem(table, len(bad), total, limit)], None
    con.register("__bad_rows", bad)
    try:
        rows = con.sql(
            f"SELECT b.__row AS row, b.reason, p.* EXCLUDE (__row) FROM {relation} AS p "
            "JOIN __bad_rows AS b ON p.__row = b.__row ORDER BY b.__row"
        ).df()
    finally:
        con.unregister("__bad_rows")
    if len(source.parquet_paths) > 1:
        counts = [
            (
                path.name,
                con.sql(f"SELECT count(*) FROM read_parquet('{_quote(path)}')").fetchall()[0][0],
            )
            for path in source.parquet_paths
        ]
        names, offsets = _file_positions(counts, rows["row"].tolist())
        rows.insert(2, "file", names)
        rows.insert(3, "file_row", offsets)
    source.excluded_rows = bad[["__row"]].astype("int64")
    dataset._cache.pop(table, None)
    dataset._fingerprint = None
    return table_problems, _record(dataset, table, rows, row_problems, folder)


def _quote(path) -> str:
    return str(path).replace("'", "''")


def _record(dataset, table: str, rows: pd.DataFrame, problems, folder: Path | None) -> dict:
    dataset.__dict__.setdefault("quarantined_rows_", {})[table] = rows
    return {
        "table": table,
        "rows": len(rows),
        "file": str(folder / f"{table}.csv") if folder is not None else "",
        "reasons": _reasons(problems),
    }


def would_quarantine(table: str, problems: list[Problem], total: int, con=None, bad_sql=None):
    """Rows that quarantine would set aside (fail mode: for the advice), as a record."""
    row_problems = [p for p in problems if p.rows]
    if not row_problems:
        return None
    if bad_sql:
        bad = con.sql(f"SELECT count(DISTINCT __row) FROM ({bad_sql})").fetchall()[0][0]
    else:
        bad = len({int(r) for p in row_problems for r in p.rows})
    return {"table": table, "rows": int(bad), "total": int(total)}


def _inert(value):
    """A raw text value that a spreadsheet would run as a formula gets a leading quote (OWASP);
    plain numbers such as -5 stay as they were."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        if not _PLAIN_NUMBER.match(value.strip()):
            return "'" + value
    return value


def write_quarantine(dataset) -> list[Path]:
    """Write what this load set aside: ``<table>.csv`` per table (UTF-8 with BOM), in the
    quarantine folder inside the spec's folder; remove earlier runs' files of tables that have
    nothing set aside now. Called by ``fishpond run`` once per run; returns the files written.
    """
    if dataset.spec.on_invalid != "quarantine":
        return []
    folder = quarantine_folder(dataset)
    if folder is None:
        return []
    written = []
    quarantined = getattr(dataset, "quarantined_rows_", {})
    if quarantined:
        folder.mkdir(parents=True, exist_ok=True)
    for table, rows in quarantined.items():
        safe = rows.copy()
        for column in safe.columns:
            if safe[column].dtype == object:
                safe[column] = safe[column].map(_inert)
        path = folder / f"{table}.csv"
        atomic_write(
            path, lambda tmp, safe=safe: safe.to_csv(tmp, index=False, encoding="utf-8-sig")
        )
        written.append(path)
    for table in (*PANEL_TABLES, FLAT_TABLE):
        stale = folder / f"{table}.csv"
        if table not in quarantined and stale.is_file():
            stale.unlink()
    return written
