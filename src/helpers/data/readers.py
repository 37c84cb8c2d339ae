"""Reading a dataset's files into canonical tables (used by :mod:`helpers.data.dataset`).

- Spec parsing (:func:`parse_spec`): YAML with a safe loader, unknown keys refused with the
  list of known ones, paths resolved against the spec's folder.
- CSV: every column read as text first (ids keep leading zeros and all 19 digits), encoding
  UTF-8 with or without BOM, then GB18030; never a silent replacement character.
- Excel via openpyxl, also as text. Parquet: small tables read into pandas, the big ones
  (``monthly_balances``, ``transactions``) left in the file for DuckDB.
- Text columns are converted to canonical kinds here; a value that does not convert is
  recorded as a "wrong type" problem with its row, never guessed.
- Flat mode (:func:`build_flat`): the spec's roles turn one customer table into the canonical
  flat frame (docs/architecture.md §2).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from helpers.data.convert import _wrong_type_problem, convert_column
from helpers.data.dataset import Dataset, _Source, _sql_string
from helpers.data.flat import build_flat
from helpers.data.problems import TABLE_COLUMNS, Problem
from helpers.data.spec import (
    BIG_TABLES,
    DatasetSpec,
    TableSpec,
)

# --------------------------------------------------------------------------------------------
# Raw reading
# --------------------------------------------------------------------------------------------


class ReadFailure(Exception):
    """A file could not be read; ``problem`` says why in words."""

    def __init__(self, problem: Problem):
        super().__init__(problem.check)
        self.problem = problem


def _csv_kwargs(table: TableSpec) -> dict:
    options = table.options
    kwargs = {"sep": options.get("sep", ","), "dtype": str, "keep_default_na": True}
    if "header" in options:
        kwargs["header"] = options["header"]
    if "skiprows" in options:
        kwargs["skiprows"] = options["skiprows"]
    if "na_values" in options:
        kwargs["na_values"] = options["na_values"]
    return kwargs


def read_raw(table: TableSpec, notices: list[str]) -> pd.DataFrame:
    """Read a CSV or Excel file with every column as text (Parquet keeps its types)."""
    path = table.path
    where = f"{path.name}"
    if not path.is_file():
        raise ReadFailure(
            Problem(table.name, "", "missing file", f"a file at {path} (set 'path' in the spec)")
        )
    if table.format == "parquet":
        try:
            return pd.read_parquet(path)
        except Exception as error:  # pyarrow raises many types for a broken file
            raise ReadFailure(
                Problem(table.name, "", "unreadable Parquet file", f"a Parquet file: {error}")
            ) from None
    if table.format == "excel":
        sheet = table.options.get("sheet", 0)
        try:
            return pd.read_excel(
                path,
                sheet_name=sheet,
                dtype=str,
                header=table.options.get("header", 0),
                skiprows=table.options.get("skiprows"),
                na_values=table.options.get("na_values"),
                engine="openpyxl",
            )
        except ValueError as error:
            raise ReadFailure(
                Problem(table.name, "", "sheet not found", f"sheet {sheet!r} in {where}: {error}")
            ) from None
        except Exception as error:
            raise ReadFailure(
                Problem(table.name, "", "unreadable Excel file", f"an .xlsx workbook: {error}")
            ) from None
    encodings = ["utf-8-sig", "gb18030"] if table.encoding == "auto" else [table.encoding]
    errors = []
    for encoding in encodings:
        try:
            frame = pd.read_csv(
                path, encoding=encoding, encoding_errors="strict", **_csv_kwargs(table)
            )
        except UnicodeDecodeError as error:
            errors.append(f"{encoding}: byte {error.start}")
            continue
        except LookupError:
            raise ReadFailure(
                Problem(
                    table.name, "", "unknown encoding", f"a Python codec name, not {encoding!r}"
                )
            ) from None
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except (pd.errors.ParserError, ValueError) as error:
            raise ReadFailure(
                Problem(table.name, "", "unreadable CSV", f"a well-formed CSV: {error}")
            ) from None
        if table.encoding == "auto" and encoding != "utf-8-sig":
            notices.append(f"{table.name}: {path.name} is not UTF-8; read it as {encoding.upper()}")
        return frame
    tried = ", ".join(errors)
    raise ReadFailure(
        Problem(
            table.name,
            "",
            "undecodable file",
            f"text in {' or '.join(e.upper() for e in encodings)} (failed at {tried}); "
            "save it as UTF-8 or GB18030, or set 'encoding:' in the spec",
        )
    )


def _missing_source_problem(table: TableSpec, canonical: str, found) -> Problem:
    source = table.source_of(canonical)
    listed = ", ".join(str(c) for c in list(found)[:15])
    if source != canonical:
        check = "spec maps to a nonexistent column"
        expected = (
            f"a column {source!r} in {table.path.name} (the spec maps {canonical} to it); "
            f"columns found: {listed}"
        )
    else:
        check = "missing column"
        expected = f"a column {canonical!r} in {table.path.name}, or a mapping under 'columns:'; columns found: {listed}"
    return Problem(table.name, canonical, check, expected)


def canonical_frame(raw: pd.DataFrame, table: TableSpec, problems: list[Problem]) -> pd.DataFrame:
    """Rename, order and convert a raw panel table to its canonical columns."""
    raw = raw.reset_index(drop=True)
    out = {}
    for column in TABLE_COLUMNS[table.name]:
        source = table.source_of(column.name)
        if source not in raw.columns:
            if column.required or source != column.name:
                problems.append(_missing_source_problem(table, column.name, raw.columns))
            elif column.nullable:
                out[column.name] = pd.Series(None, index=raw.index, dtype=object)
            continue
        converted, failed = convert_column(
            raw[source], column.kind, table.options, typed=table.format == "parquet"
        )
        if failed.any():
            problems.append(
                _wrong_type_problem(table.name, column.name, column.kind, raw[source], failed)
            )
        out[column.name] = converted
    return pd.DataFrame(out, index=raw.index)


# --------------------------------------------------------------------------------------------
# Opening a dataset
# --------------------------------------------------------------------------------------------


def _parquet_columns(path: Path) -> list[tuple[str, str]]:
    con = duckdb.connect()
    try:
        rows = con.sql(f"DESCRIBE SELECT * FROM read_parquet({_sql_string(path)})").fetchall()
    finally:
        con.close()
    return [(row[0], row[1]) for row in rows]


def open_dataset(spec: DatasetSpec) -> Dataset:
    """Read the files a spec names into a :class:`Dataset` (no validation yet).

    Problems met while reading (missing file, undecodable text, unmapped columns, values of
    the wrong type) are kept in ``dataset.load_problems_`` for :func:`helpers.data.schema.validate_dataset`.
    """
    problems: list[Problem] = []
    notices: list[str] = []
    sources: dict[str, _Source] = {}
    for name, table in spec.tables.items():
        if table.format == "parquet" and name in BIG_TABLES and table.path.is_file():
            # Leave big Parquet tables in the file: DuckDB reads them (larger than memory).
            try:
                found = [column for column, _ in _parquet_columns(table.path)]
            except duckdb.Error as error:
                problems.append(
                    Problem(name, "", "unreadable Parquet file", f"a Parquet file: {error}")
                )
                continue
            renames = {}
            for column in TABLE_COLUMNS[name]:
                source = table.source_of(column.name)
                if source in found:
                    renames[column.name] = source
                elif column.required or source != column.name:
                    problems.append(_missing_source_problem(table, column.name, found))
            sources[name] = _Source(parquet_path=table.path, renames=renames)
            continue
        try:
            raw = read_raw(table, notices)
        except ReadFailure as failure:
            problems.append(failure.problem)
            continue
        if spec.mode == "flat":
            frame = build_flat(raw, table, spec.roles, problems, notices)
        else:
            frame = canonical_frame(raw, table, problems)
        sources[name] = _Source(frame=frame)
    dataset = Dataset(spec, sources, notices=notices)
    dataset.load_problems_ = problems
    return dataset
