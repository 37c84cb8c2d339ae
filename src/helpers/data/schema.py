"""Validation of canonical tables: every problem listed at once, in words.

Each canonical table has a declared schema (:data:`TABLE_COLUMNS`: type, missing values,
allowed values, ranges, dates not after the as-of month) plus table rules (unique keys, close
date not before open date, AUM equal to its parts, customer ids known in ``customers``).

Two engines check the same declarations:

- tables held in pandas (customers, holdings, contacts, campaigns, flat tables, anything read
  from CSV/Excel) go through a pandera ``DataFrameSchema`` built from them
  (``validate(lazy=True)``; its ``failure_cases`` are turned into readable rows;
  :mod:`helpers.data.schema_pandas`);
- large Parquet tables (``monthly_balances``, ``transactions``) are checked with SQL in DuckDB
  over the file (:mod:`helpers.data.schema_sql`), so 24 million balance rows never enter pandas.

Problems are rows of a DataFrame with columns ``table, column, check, count, rows, values,
expected``. Row numbers are 1-based data rows: row 1 is the first row under the header (in a
CSV with one header line, that is line 2 of the file).

``fishpond validate [--dataset SPEC]`` runs :func:`cli_validate`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.data.problems import (
    TABLE_COLUMNS,
    TABLE_KEYS,
    Problem,
    ValidationReport,
    flat_columns,
    problems_frame,
)
from helpers.data.readers import open_dataset
from helpers.data.schema_pandas import check_frame
from helpers.data.schema_sql import check_parquet_table
from helpers.data.spec import FLAT_TABLE, PANEL_TABLES, DatasetSpecError, load_spec

# --------------------------------------------------------------------------------------------
# Whole dataset
# --------------------------------------------------------------------------------------------


def _as_of_end(dataset) -> pd.Timestamp | None:
    """End of the latest data month, or None when months cannot be read (reported elsewhere)."""
    try:
        latest = dataset.latest_month()
    except Exception:  # a broken month column is reported by the table checks
        return None
    if latest is None:
        return None
    return pd.Timestamp(latest) + pd.offsets.MonthEnd(0)


def _merge_wrong_types(problems: list[Problem]) -> list[Problem]:
    """Drop what the loader already reported: a missing column found again by the table check,
    a column left empty or float by values that did not convert ('wrong type' with rows)."""
    wrong = {}
    missing = set()
    for problem in problems:
        if problem.check == "wrong type" and problem.rows:
            wrong.setdefault((problem.table, problem.column), set()).update(problem.rows)
        if problem.check == "spec maps to a nonexistent column":
            missing.add((problem.table, problem.column))
    merged = []
    seen_missing = set()
    for problem in problems:
        key = (problem.table, problem.column)
        if problem.check == "missing column" or key in missing:
            if key in seen_missing or (problem.check == "missing column" and key in missing):
                continue
            seen_missing.add(key)
        if problem.check == "wrong type" and not problem.rows and key in wrong:
            continue
        if problem.check == "missing value" and key in wrong and problem.rows:
            rows = [r for r in problem.rows if r not in wrong[key]]
            if not rows:
                continue
            problem = Problem(problem.table, problem.column, problem.check, problem.expected, rows)
        merged.append(problem)
    return merged


def _quarantine_folder(dataset, quarantine_dir: Path | None) -> Path:
    if quarantine_dir is not None:
        return Path(quarantine_dir)
    if dataset.spec.quarantine_dir is not None:
        return dataset.spec.quarantine_dir
    if dataset.spec.base_dir is None:
        raise ValueError("quarantine needs a folder: pass quarantine_dir=")
    return dataset.spec.base_dir / "quarantine"


def _quarantine_frame(dataset, table: str, problems: list[Problem], folder: Path):
    """Move rows with row-level problems out of a pandas table; return (kept problems, record)."""
    row_problems = [p for p in problems if p.rows]
    table_problems = [p for p in problems if not p.rows]
    if not row_problems:
        return problems, None
    frame = dataset.table(table).reset_index(drop=True)
    reasons: dict[int, list[str]] = {}
    for problem in row_problems:
        for row in problem.rows:
            reasons.setdefault(int(row), []).append(f"{problem.column}: {problem.check}")
    rows = sorted(reasons)
    bad = frame.iloc[[r - 1 for r in rows]].copy()
    bad.insert(0, "reason", ["; ".join(reasons[r]) for r in rows])
    bad.insert(0, "row", rows)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    bad.to_csv(path, index=False, encoding="utf-8-sig")
    kept = frame.drop(index=[r - 1 for r in rows]).reset_index(drop=True)
    dataset._replace_frame(table, kept)
    summary = ", ".join(sorted({f"{p.column}: {p.check}" for p in row_problems}))
    return table_problems, {
        "table": table,
        "rows": len(rows),
        "file": str(path),
        "reasons": summary,
    }


def _quarantine_parquet(dataset, table: str, problems, bad_sql: str, con, folder: Path):
    row_problems = [p for p in problems if p.rows]
    table_problems = [p for p in problems if not p.rows]
    if not row_problems or not bad_sql:
        return problems, None
    bad = con.sql(
        f"SELECT __row, string_agg(DISTINCT reason, '; ') AS reason FROM ({bad_sql}) "
        "GROUP BY __row ORDER BY __row"
    ).df()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    source = dataset._sources[table]
    con.register("__bad_rows", bad)
    columns = ", ".join(f'"{src}" AS "{canonical}"' for canonical, src in source.renames.items())
    rows = con.sql(
        f"SELECT b.__row AS row, b.reason, {columns} FROM read_parquet("
        f"'{str(source.parquet_path).replace(chr(39), chr(39) * 2)}', file_row_number = true) AS p "
        "JOIN __bad_rows AS b ON p.file_row_number + 1 = b.__row ORDER BY b.__row"
    ).df()
    rows.to_csv(path, index=False, encoding="utf-8-sig")
    con.unregister("__bad_rows")
    source.excluded_rows = bad[["__row"]].astype("int64")
    dataset._cache.pop(table, None)
    dataset._fingerprint = None
    summary = ", ".join(sorted({f"{p.column}: {p.check}" for p in row_problems}))
    return table_problems, {"table": table, "rows": len(bad), "file": str(path), "reasons": summary}


def validate_dataset(dataset, quarantine_dir: str | Path | None = None) -> ValidationReport:
    """Check every table of a dataset; return a report listing every problem.

    Parameters
    ----------
    dataset : helpers.data.dataset.Dataset
    quarantine_dir : str or Path, optional
        Where quarantined rows are written when the spec says ``on_invalid: quarantine``
        (default: the spec's ``quarantine_dir``, else a ``quarantine`` folder beside the spec).
        Nothing is written in ``fail`` mode.

    Returns
    -------
    ValidationReport
        ``report.ok`` is true when nothing is wrong; ``report.raise_if_failed()`` raises
        :class:`DataValidationError`.
    """

    quarantine = dataset.spec.on_invalid == "quarantine"
    folder = _quarantine_folder(dataset, quarantine_dir) if quarantine else None
    load_problems: list[Problem] = list(getattr(dataset, "load_problems_", []))
    all_problems: list[Problem] = []
    quarantined = []

    def finish(table: str, problems: list[Problem], sql_rows: str | None = None, con=None):
        problems = _merge_wrong_types([p for p in load_problems if p.table == table] + problems)
        if quarantine and problems:
            if sql_rows is None:
                problems, record = _quarantine_frame(dataset, table, problems, folder)
            else:
                problems, record = _quarantine_parquet(
                    dataset, table, problems, sql_rows, con, folder
                )
            if record:
                quarantined.append(record)
        all_problems.extend(problems)

    if dataset.mode == "flat":
        if dataset.has(FLAT_TABLE):
            frame = dataset.table(FLAT_TABLE)
            problems = check_frame(
                frame, FLAT_TABLE, flat_columns(frame.columns), keys=("customer_id",)
            )
            finish(FLAT_TABLE, problems)
        else:
            finish(FLAT_TABLE, [])
    else:
        as_of_end = _as_of_end(dataset)
        customer_ids = None
        for table in PANEL_TABLES:
            if not dataset.has(table):
                finish(table, [])
                continue
            source = dataset._sources[table]
            if source.frame is None and table not in dataset._cache:
                con = dataset.connect(engine="duckdb")  # reads the Parquet files directly
                try:
                    problems, bad_sql = check_parquet_table(
                        con,
                        table,
                        source.parquet_path,
                        source.renames,
                        as_of_end=as_of_end,
                        check_customers=customer_ids is not None,
                    )
                    finish(table, problems, bad_sql, con)
                finally:
                    con.close()
                continue
            frame = dataset.table(table)
            problems = check_frame(
                frame,
                table,
                TABLE_COLUMNS[table],
                as_of_end=as_of_end,
                customer_ids=customer_ids if table != "customers" else None,
                keys=TABLE_KEYS.get(table),
            )
            finish(table, problems)
            if table == "customers" and "customer_id" in dataset.table(table).columns:
                customer_ids = pd.Index(dataset.table(table)["customer_id"].dropna().unique())
    problems = problems_frame(all_problems)
    quarantined_frame = pd.DataFrame(quarantined, columns=["table", "rows", "file", "reasons"])
    report = ValidationReport(
        dataset.name, problems, quarantined_frame, notices=list(dataset.notices)
    )
    dataset.validation_ = report
    return report


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def cli_validate(args) -> int:
    """``fishpond validate [--dataset SPEC]``: print a readable report; 0 if valid, 1 if not.

    Never shows a traceback: a missing or undecodable file, a bad spec or bad data all give a
    plain message and exit code 1.
    """
    spec_path = getattr(args, "dataset", None)
    try:
        spec = load_spec(spec_path)
        dataset = open_dataset(spec)
        report = validate_dataset(dataset)
    except DatasetSpecError as error:
        print(f"Dataset spec problem: {error}")
        return 1
    except Exception as error:  # last resort: an analyst gets a sentence, not a traceback
        print(f"Could not validate the dataset ({type(error).__name__}): {error}")
        return 1
    print(f"Dataset {spec.name!r} ({spec.mode} mode) from {spec.path}")
    if dataset.mode == "panel":
        months = dataset.months() if report.ok else []
        if months:
            print(f"Months: {months[0]} to {months[-1]} ({len(months)} months)")
    for table, rows in _row_counts(dataset).items():
        print(f"  {table}: {rows:,} rows")
    print(str(report))
    if report.ok:
        print("Valid.")
        return 0
    print("Not valid: fix the problems above (or set 'on_invalid: quarantine' in the spec).")
    return 1


def _row_counts(dataset) -> dict[str, int]:
    try:
        return dataset.fingerprint()["rows"]
    except Exception:  # counting must not hide the real problems
        return {}
