"""Reading a dataset's files into canonical tables (used by :mod:`helpers.data.dataset`).

- CSV: every column read as text first (ids keep leading zeros and all 19 digits), encoding
  UTF-8 with or without BOM, then GB18030; never a silent replacement character.
- Excel via openpyxl, also as text, ids through their cell format
  (:mod:`helpers.data.excel`). Parquet: small tables read into pandas, the big ones
  (``monthly_balances``, ``transactions``) left in the file(s) for DuckDB.
- Several files (a list or a glob in the spec) make one table; an empty file says so.
- Text columns are converted to canonical kinds here, after the spec's value maps
  (``{column, map}``) and with amounts multiplied by ``money_unit``; a value that does not
  convert is recorded as a "wrong type" problem with its row, never guessed (a day-month date
  such as 03-05-2019 without ``dayfirst``/``date_format`` is an "ambiguous date").
- Flat mode (:func:`build_flat`): the spec's roles turn one customer table into the canonical
  flat frame (docs/architecture.md §2).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers.data.convert import _text, _wrong_type_problem, ambiguous_dates, convert_column
from helpers.data.dataset import Dataset, _Source, _sql_string
from helpers.data.excel import SheetNotFound, read_excel_text
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


def _read_csv(table: TableSpec, path: Path, notices: list[str]) -> pd.DataFrame:
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
            raise ReadFailure(_empty_file(table, path)) from None
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


def _empty_file(table: TableSpec, path: Path) -> Problem:
    return Problem(
        table.name,
        "",
        "the file is empty",
        f"{path.name} has no content ({path.stat().st_size} bytes); export the table again",
    )


def _read_one(
    table: TableSpec, path: Path, notices: list[str], problems: list[Problem], id_columns
) -> pd.DataFrame:
    if not path.is_file():
        where = f"no file matches {table.pattern}" if table.pattern else f"a file at {path}"
        raise ReadFailure(
            Problem(table.name, "", "missing file", f"{where} (set 'path' in the spec)")
        )
    if path.stat().st_size == 0:
        raise ReadFailure(_empty_file(table, path))
    if table.format == "parquet":
        try:
            return pd.read_parquet(path)
        except Exception as error:  # pyarrow raises many types for a broken file
            raise ReadFailure(
                Problem(table.name, "", "unreadable Parquet file", f"a Parquet file: {error}")
            ) from None
    if table.format == "excel":
        try:
            return read_excel_text(path, table.name, table.options, id_columns, problems, notices)
        except SheetNotFound as error:
            raise ReadFailure(
                Problem(table.name, "", "sheet not found", f"{error} in {path.name}")
            ) from None
        except Exception as error:  # openpyxl raises many types for a broken workbook
            raise ReadFailure(
                Problem(table.name, "", "unreadable Excel file", f"an .xlsx workbook: {error}")
            ) from None
    return _read_csv(table, path, notices)


def read_raw(
    table: TableSpec,
    notices: list[str],
    problems: list[Problem] | None = None,
    id_columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Read a table's file(s): CSV and Excel with every column as text, Parquet as typed.

    Several files (a list or a glob in the spec) are read in order and stacked; they must
    have the same columns. ``skip_after_header`` rows are dropped under each file's header.
    ``frame.attrs["files"]`` lists ``(file name, rows)`` per file.

    Raises
    ------
    ReadFailure
        A file is missing, empty, undecodable or unreadable, or the files differ in columns.
    """
    problems = [] if problems is None else problems
    skip = int(table.options.get("skip_after_header", 0) or 0)
    frames = []
    offset = 0
    for path in table.paths:
        found: list[Problem] = []
        frame = _read_one(table, path, notices, found, id_columns or {})
        if skip:
            frame = frame.iloc[skip:].reset_index(drop=True)
        for problem in found:  # rows of this file -> rows of the stacked table
            shifted = [r - skip + offset for r in problem.rows or [] if r > skip]
            if shifted or not problem.rows:
                problem.rows = shifted or problem.rows
                problems.append(problem)
        offset += len(frame)
        frames.append((path, frame))
    if len(frames) == 1:
        frame = frames[0][1]
        frame.attrs["files"] = [(frames[0][0].name, len(frame))]
        return frame
    first_path, first = frames[0]
    for path, frame in frames[1:]:
        if list(frame.columns) != list(first.columns):
            missing = [c for c in first.columns if c not in frame.columns]
            extra = [c for c in frame.columns if c not in first.columns]
            raise ReadFailure(
                Problem(
                    table.name,
                    "",
                    "files differ in columns",
                    f"the same columns in every file of {table.label}: {path.name} differs from "
                    f"{first_path.name} (missing {missing[:10]}, extra {extra[:10]})",
                )
            )
    stacked = pd.concat([frame for _, frame in frames], ignore_index=True)
    stacked.attrs["files"] = [(path.name, len(frame)) for path, frame in frames]
    return stacked


def _missing_source_problem(table: TableSpec, canonical: str, found) -> Problem:
    source = table.source_of(canonical)
    listed = ", ".join(str(c) for c in list(found)[:15])
    if source != canonical:
        check = "spec maps to a nonexistent column"
        expected = (
            f"a column {source!r} in {table.label} (tables.{table.name}.columns.{canonical} "
            f"maps {canonical} to it); columns found: {listed}"
        )
    else:
        check = "missing column"
        expected = (
            f"a column {canonical!r} in {table.label}, or a mapping under "
            f"tables.{table.name}.columns; columns found: {listed}"
        )
    return Problem(table.name, canonical, check, expected)


def _mapped(raw: pd.Series, mapping: dict, table: TableSpec, canonical: str, problems):
    """Apply a spec value map ({男: M, 女: F}); values it does not list are problems."""
    text = _text(raw).astype(object)
    keys = {str(k).strip(): v for k, v in mapping.items()}
    mapped = text.map(keys)
    unmapped = text.notna() & ~text.isin(list(keys))
    if unmapped.any():
        source = table.source_of(canonical)
        problems.append(
            Problem(
                table.name,
                canonical,
                "value outside the mapping",
                f"{source} values {sorted(keys)} (tables.{table.name}.columns.{canonical}.map)",
                rows=(np.flatnonzero(unmapped.to_numpy()) + 1).tolist(),
                values=raw[unmapped].head(10).tolist(),
            )
        )
    return mapped.where(mapped.notna(), None)


def canonical_frame(
    raw: pd.DataFrame, table: TableSpec, problems: list[Problem], money_unit: float = 1.0
) -> pd.DataFrame:
    """Rename, map, order and convert a raw panel table to its canonical columns."""
    raw = raw.reset_index(drop=True)
    out = {}
    typed = table.format == "parquet"
    for column in TABLE_COLUMNS[table.name]:
        source = table.source_of(column.name)
        if source not in raw.columns:
            if column.required or source != column.name:
                problems.append(_missing_source_problem(table, column.name, raw.columns))
            elif column.nullable:
                out[column.name] = pd.Series(None, index=raw.index, dtype=object)
            continue
        values = raw[source]
        mapping = table.value_maps.get(column.name)
        if mapping:
            values = _mapped(values, mapping, table, column.name, problems)
        ambiguous = None
        if column.kind == "date":  # text dates only; typed dates are never ambiguous
            ambiguous = ambiguous_dates(values, table.options)
        converted, failed = convert_column(values, column.kind, table.options, typed=typed)
        if ambiguous is not None and ambiguous.any():
            problems.append(_ambiguous_date_problem(table, column.name, values, ambiguous))
            failed = failed & ~ambiguous
        if failed.any():
            problems.append(
                _wrong_type_problem(table.name, column.name, column.kind, values, failed)
            )
        if column.money and money_unit != 1.0:
            converted = converted * money_unit
        out[column.name] = converted
    return pd.DataFrame(out, index=raw.index)


def _ambiguous_date_problem(table: TableSpec, canonical: str, raw, ambiguous) -> Problem:
    return Problem(
        table.name,
        canonical,
        "ambiguous date",
        "a date whose order is known: 03-05-2019 may be 3 May or 5 March. Declare the order "
        f"under tables.{table.name} (or table: in flat mode): 'dayfirst: true' (day first), "
        "'dayfirst: false' (month first) or e.g. 'date_format: \"%d-%m-%Y\"'",
        rows=(np.flatnonzero(ambiguous.to_numpy()) + 1).tolist(),
        values=raw[ambiguous].head(10).tolist(),
    )


def _id_sources(spec: DatasetSpec, table: TableSpec) -> dict[str, str]:
    """Source column -> canonical column for the id columns of a table (for Excel)."""
    if spec.mode == "flat":
        id_role = spec.roles.get("id")
        column = id_role.get("column") if isinstance(id_role, dict) else id_role
        return {str(column): "customer_id"} if column is not None else {}
    return {table.source_of(c.name): c.name for c in TABLE_COLUMNS[table.name] if c.kind == "id"}


# --------------------------------------------------------------------------------------------
# Opening a dataset
# --------------------------------------------------------------------------------------------


def _parquet_columns(paths) -> list[list[tuple[str, str]]]:
    con = duckdb.connect()
    try:
        return [
            [
                (row[0], row[1])
                for row in con.sql(
                    f"DESCRIBE SELECT * FROM read_parquet({_sql_string(path)})"
                ).fetchall()
            ]
            for path in paths
        ]
    finally:
        con.close()


def _open_big_parquet(name: str, table: TableSpec, spec: DatasetSpec, problems) -> _Source | None:
    """A big Parquet table stays in its file(s): check the columns, build the renames."""
    for path in table.paths:
        if path.stat().st_size == 0:
            problems.append(_empty_file(table, path))
            return None
    try:
        described = _parquet_columns(table.paths)
    except duckdb.Error as error:
        problems.append(Problem(name, "", "unreadable Parquet file", f"a Parquet file: {error}"))
        return None
    for path, columns in zip(table.paths[1:], described[1:], strict=True):
        if columns != described[0]:
            problems.append(
                Problem(name, "", "files differ in columns",
                        f"the same columns and types in every file of {table.label}: "
                        f"{path.name} differs from {table.paths[0].name}")
            )  # fmt: skip
            return None
    found = [column for column, _ in described[0]]
    renames = {}
    for column in TABLE_COLUMNS[name]:
        source = table.source_of(column.name)
        if source in found:
            renames[column.name] = source
        elif column.required or source != column.name:
            problems.append(_missing_source_problem(table, column.name, found))
    return _Source(
        parquet_paths=list(table.paths),
        renames=renames,
        value_maps=dict(table.value_maps),
        scale=float(spec.money_unit),
    )


def open_dataset(spec: DatasetSpec, shared: dict[str, Path] | None = None) -> Dataset:
    """Read the files a spec names into a :class:`Dataset` (no validation yet).

    Problems met while reading (missing or empty file, undecodable text, unmapped columns,
    values of the wrong type or outside a value map, ambiguous dates, ids that lost digits in
    Excel) are kept in ``dataset.load_problems_`` for
    :func:`helpers.data.schema.validate_dataset`. ``shared`` maps tables to the canonical
    Parquet files the runner saved for this run (:mod:`helpers.data.shared_tables`): those
    are not read now.
    """
    problems: list[Problem] = []
    notices: list[str] = []
    sources: dict[str, _Source] = {}
    for name, table in spec.tables.items():
        if shared and name in shared:
            sources[name] = _Source(shared_path=Path(shared[name]))
            continue
        big = table.format == "parquet" and name in BIG_TABLES
        if big and all(path.is_file() for path in table.paths):
            # Leave big Parquet tables in the file: DuckDB reads them (larger than memory).
            source = _open_big_parquet(name, table, spec, problems)
            if source is not None:
                sources[name] = source
            continue
        try:
            raw = read_raw(table, notices, problems, _id_sources(spec, table))
        except ReadFailure as failure:
            problems.append(failure.problem)
            continue
        if spec.mode == "flat":
            frame = build_flat(raw, table, spec.roles, problems, notices, spec.money_unit)
        else:
            frame = canonical_frame(raw, table, problems, spec.money_unit)
        files = raw.attrs.get("files")
        sources[name] = _Source(
            frame=frame, raw=raw, row_files=files if files and len(files) > 1 else None
        )
    dataset = Dataset(spec, sources, notices=notices)
    dataset.load_problems_ = problems
    return dataset
