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

``fishpond validate [--dataset SPEC]`` runs :func:`helpers.data.validate_cli.cli_validate`.
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
from helpers.data.quarantine import (
    quarantine_folder,
    quarantine_pandas,
    quarantine_parquet,
    would_quarantine,
)
from helpers.data.schema_pandas import check_frame
from helpers.data.schema_sql import check_parquet_table
from helpers.data.spec import FLAT_TABLE, PANEL_TABLES

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


#: Load problems whose rows became missing values: the "missing value" check must not report
#: the same rows again.
_LOAD_ROW_CHECKS = ("wrong type", "value outside the mapping", "ambiguous date",
                    "id digits lost in Excel")  # fmt: skip


def _merge_wrong_types(problems: list[Problem]) -> list[Problem]:
    """Drop what the loader already reported: a missing column found again by the table check,
    a column left empty or float by values that did not convert ('wrong type' with rows)."""
    wrong = {}
    missing = set()
    for problem in problems:
        if problem.check in _LOAD_ROW_CHECKS and problem.rows:
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


def validate_dataset(dataset, quarantine_dir: str | Path | None = None) -> ValidationReport:
    """Check every table of a dataset; return a report listing every problem.

    Parameters
    ----------
    dataset : helpers.data.dataset.Dataset
    quarantine_dir : str or Path, optional
        Where ``fishpond run`` writes quarantined rows when the spec says
        ``on_invalid: quarantine`` (default: the spec's ``quarantine_dir``, else a
        ``quarantine`` folder beside the spec; always inside the spec's folder). Validation
        itself writes nothing: it sets the rows aside in memory
        (:meth:`~helpers.data.Dataset.quarantine_summary`,
        :func:`helpers.data.write_quarantine`).

    Returns
    -------
    ValidationReport
        ``report.ok`` is true when nothing is wrong; ``report.raise_if_failed()`` raises
        :class:`DataValidationError`. In fail mode, ``report.would_quarantine`` says how many
        rows quarantine would set aside per table.
    """

    quarantine = dataset.spec.on_invalid == "quarantine"
    folder = quarantine_folder(dataset, quarantine_dir) if quarantine else None
    load_problems: list[Problem] = list(getattr(dataset, "load_problems_", []))
    all_problems: list[Problem] = []
    quarantined = []
    preview = []

    def finish(table: str, problems: list[Problem], sql_rows: str | None = None, con=None):
        problems = _merge_wrong_types([p for p in load_problems if p.table == table] + problems)
        if problems and dataset.has(table):
            record = None
            if quarantine and sql_rows is None:
                problems, record = quarantine_pandas(dataset, table, problems, folder)
            elif quarantine:
                problems, record = quarantine_parquet(
                    dataset, table, problems, sql_rows, con, folder
                )
            else:
                total = _rows(dataset, table, con)
                would = would_quarantine(table, problems, total, con, sql_rows)
                if would:
                    preview.append(would)
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
                        source,
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
    dataset.quarantine_records_ = quarantined
    report = ValidationReport(
        dataset.name,
        problems,
        pd.DataFrame(quarantined, columns=["table", "rows", "file", "reasons"]),
        notices=list(dataset.notices),
        would_quarantine=pd.DataFrame(preview, columns=["table", "rows", "total"]),
        max_quarantine_share=dataset.spec.max_quarantine_share,
    )
    dataset.validation_ = report
    for source in dataset._sources.values():
        source.raw = None  # the raw text was kept for quarantine only
    return report


def _rows(dataset, table: str, con) -> int:
    source = dataset._sources[table]
    if source.frame is not None or table in dataset._cache:
        return len(dataset.table(table))
    return int(con.sql(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])
