"""Reading a dataset's files into canonical tables (used by :mod:`helpers.datasets`).

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
import numpy as np
import pandas as pd
import yaml
from pandas.api import types as ptypes

from helpers.datasets import (
    BIG_TABLES,
    FLAT_TABLE,
    PANEL_TABLES,
    REQUIRED_PANEL_TABLES,
    Dataset,
    DatasetSpec,
    DatasetSpecError,
    TableSpec,
    _Source,
    _sql_string,
)
from helpers.schema import KIND_WORDS, TABLE_COLUMNS, Problem

READER_OPTIONS = ("sep", "header", "skiprows", "sheet", "decimal", "thousands", "na_values")
TABLE_KEYS_ALLOWED = {"path", "format", "encoding", "columns", *READER_OPTIONS}
SPEC_KEYS = {"name", "mode", "tables", "table", "roles", "on_invalid", "quarantine_dir",
             "description"}  # fmt: skip
ROLE_KEYS = {"id", "duration", "duration_unit", "event", "value", "tier", "products",
             "treatment", "outcome", "features"}  # fmt: skip
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xlsm": "excel"}  # fmt: skip
DAYS_PER_MONTH = 365.25 / 12
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "是", "真", "有"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "否", "假", "无"}


# --------------------------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------------------------


def _table_spec(name: str, raw, base_dir: Path, where: str) -> TableSpec:
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, dict) or "path" not in raw:
        raise DatasetSpecError(f"{where}: needs at least 'path: <file>'")
    unknown = set(raw) - TABLE_KEYS_ALLOWED
    if unknown:
        raise DatasetSpecError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(TABLE_KEYS_ALLOWED)}"
        )
    path = Path(str(raw["path"])).expanduser()
    if not path.is_absolute():
        path = base_dir / path  # relative to the spec's folder, never the caller's cwd
    file_format = raw.get("format") or FORMATS.get(path.suffix.lower())
    if file_format not in {"csv", "parquet", "excel"}:
        raise DatasetSpecError(
            f"{where}: cannot tell the format of {path.name!r}; add 'format: csv|parquet|excel'"
        )
    columns = raw.get("columns") or {}
    if not isinstance(columns, dict):
        raise DatasetSpecError(f"{where}.columns: must map canonical names to source columns")
    if name in TABLE_COLUMNS:
        known = {c.name for c in TABLE_COLUMNS[name]}
        unknown_columns = sorted(set(columns) - known)
        if unknown_columns:
            raise DatasetSpecError(
                f"{where}.columns: unknown canonical column(s) {unknown_columns}; "
                f"{name} has {sorted(known)}"
            )
    options = {key: raw[key] for key in READER_OPTIONS if key in raw}
    return TableSpec(
        name=name,
        path=path,
        format=file_format,
        encoding=str(raw.get("encoding", "auto")),
        options=options,
        columns={str(k): str(v) for k, v in columns.items()},
    )


def parse_spec(path: Path) -> DatasetSpec:
    """Read and check a spec file; see :func:`helpers.datasets.load_spec`."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DatasetSpecError(f"dataset spec not found: {path}")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            raw = yaml.safe_load(handle)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DatasetSpecError(f"dataset spec {path} is not valid UTF-8 YAML: {error}") from None
    if not isinstance(raw, dict):
        raise DatasetSpecError(f"dataset spec {path} must be a YAML mapping (name:, mode:, ...)")
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise DatasetSpecError(
            f"dataset spec {path.name}: unknown key(s) {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}"
        )
    mode = raw.get("mode", "panel")
    if mode not in {"panel", "flat"}:
        raise DatasetSpecError(
            f"dataset spec {path.name}: mode must be panel or flat, not {mode!r}"
        )
    on_invalid = raw.get("on_invalid", "fail")
    if on_invalid not in {"fail", "quarantine"}:
        raise DatasetSpecError(
            f"dataset spec {path.name}: on_invalid must be fail or quarantine, not {on_invalid!r}"
        )
    base_dir = path.parent
    tables: dict[str, TableSpec] = {}
    roles: dict = {}
    if mode == "panel":
        raw_tables = raw.get("tables")
        if not isinstance(raw_tables, dict) or not raw_tables:
            raise DatasetSpecError(f"dataset spec {path.name}: panel mode needs 'tables:'")
        for name, table_raw in raw_tables.items():
            if name not in PANEL_TABLES:
                raise DatasetSpecError(
                    f"dataset spec {path.name}: unknown table {name!r}; tables are {list(PANEL_TABLES)}"
                )
            tables[name] = _table_spec(name, table_raw, base_dir, f"tables.{name}")
        missing = [t for t in REQUIRED_PANEL_TABLES if t not in tables]
        if missing:
            raise DatasetSpecError(f"dataset spec {path.name}: panel mode needs tables {missing}")
    else:
        if "table" not in raw:
            raise DatasetSpecError(f"dataset spec {path.name}: flat mode needs 'table:'")
        tables[FLAT_TABLE] = _table_spec(FLAT_TABLE, raw["table"], base_dir, "table")
        roles = raw.get("roles") or {}
        if not isinstance(roles, dict):
            raise DatasetSpecError(f"dataset spec {path.name}: 'roles:' must be a mapping")
        unknown_roles = set(roles) - ROLE_KEYS
        if unknown_roles:
            raise DatasetSpecError(
                f"dataset spec {path.name}: unknown role(s) {sorted(unknown_roles)}; "
                f"roles are {sorted(ROLE_KEYS)}"
            )
        unit = roles.get("duration_unit", "months")
        if unit not in {"days", "months", "years"}:
            raise DatasetSpecError(
                f"dataset spec {path.name}: duration_unit must be days, months or years, not {unit!r}"
            )
    quarantine_dir = raw.get("quarantine_dir")
    return DatasetSpec(
        name=str(raw.get("name") or path.parent.name),
        mode=mode,
        tables=tables,
        roles=roles,
        on_invalid=on_invalid,
        quarantine_dir=(base_dir / quarantine_dir) if quarantine_dir else None,
        path=path,
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


# --------------------------------------------------------------------------------------------
# Conversion to canonical kinds
# --------------------------------------------------------------------------------------------


def _text(series: pd.Series) -> pd.Series:
    """Strip whitespace; empty strings become missing."""
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _numbers(series: pd.Series, options: dict) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    text = _text(series)
    decimal = options.get("decimal", ".")
    # Thousands separators are removed by default (1,234.50) unless ',' is the decimal mark.
    thousands = options.get("thousands", "," if decimal != "," else None)
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    text = text.str.replace("¥", "", regex=False).str.replace("￥", "", regex=False)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(float)


def _dates(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.astype("datetime64[ns]")
    text = _text(series).astype(object)
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    retry = parsed.isna() & text.notna()
    if retry.any():  # other spellings (2024/1/31, 20240131) element by element, only where needed
        parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed")
    return parsed.astype("datetime64[ns]")


def _bools(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    text = _text(series).str.lower()
    result = pd.Series(pd.NA, index=series.index, dtype="boolean")
    result[text.isin(TRUE_WORDS).fillna(False).astype(bool)] = True
    result[text.isin(FALSE_WORDS).fillna(False).astype(bool)] = False
    return result


def _ids(series: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(series.dtype):
        # a float id column (from Parquet/Excel) prints 123.0: drop the spurious decimal
        whole = series.dropna() % 1 == 0
        if whole.all():
            series = series.astype("Int64")
    text = _text(series.astype(object).where(series.notna(), None))
    return text.astype(object).where(text.notna(), None)


def convert_column(
    series: pd.Series, kind: str, options: dict, typed: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Convert one column to a canonical kind.

    ``typed=True`` (Parquet) trusts text columns as they are; CSV/Excel text is stripped of
    surrounding blanks and empty cells become missing.

    Returns
    -------
    (converted, failed) : tuple of Series
        ``failed`` is a boolean mask of rows that had a value which did not convert.
    """
    dtype = series.dtype
    # Fast paths: a typed column (Parquet, Excel numbers) that already fits needs no parsing.
    if (
        kind in {"int", "float"}
        and ptypes.is_numeric_dtype(dtype)
        and not ptypes.is_bool_dtype(dtype)
    ):
        converted = series if kind == "int" and ptypes.is_integer_dtype(dtype) else None
        if converted is None:
            converted = series.astype(float)
            if kind == "int" and converted.notna().all() and (converted % 1 == 0).all():
                converted = converted.astype("int64")
        return converted, pd.Series(False, index=series.index)
    if kind == "date" and ptypes.is_datetime64_any_dtype(dtype):
        return series.astype("datetime64[ns]"), pd.Series(False, index=series.index)
    if kind == "bool" and ptypes.is_bool_dtype(dtype) and series.notna().all():
        return series.astype(bool), pd.Series(False, index=series.index)
    if kind in {"id", "str"} and typed and ptypes.is_object_dtype(dtype):
        if pd.api.types.infer_dtype(series, skipna=True) in {"string", "empty"}:
            return series, pd.Series(False, index=series.index)
    present = series.notna() & (series.astype("string").str.strip() != "").fillna(False)
    if kind in {"id", "str"}:
        converted = _ids(series) if kind == "id" else _text(series).astype(object)
        if kind == "str":
            converted = converted.where(converted.notna(), None)
        return converted, pd.Series(False, index=series.index)
    if kind in {"int", "float"}:
        converted = _numbers(series, options)
    elif kind == "date":
        converted = _dates(series)
    elif kind == "bool":
        converted = _bools(series)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    failed = present & converted.isna()
    if kind == "int" and not failed.any() and converted.notna().all():
        fractional = converted % 1 != 0
        if fractional.any():
            return converted, fractional
        converted = converted.astype("int64")
    if kind == "bool" and converted.notna().all():
        converted = converted.astype(bool)
    return converted, failed


def _wrong_type_problem(table, column, kind, raw: pd.Series, failed: pd.Series) -> Problem:
    positions = np.flatnonzero(failed.to_numpy()) + 1
    return Problem(
        table,
        column,
        "wrong type",
        KIND_WORDS[kind],
        rows=positions.tolist(),
        values=raw[failed].head(10).tolist(),
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
    the wrong type) are kept in ``dataset.load_problems_`` for :func:`helpers.schema.validate_dataset`.
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
            from helpers.readers_flat import build_flat

            frame = build_flat(raw, table, spec.roles, problems, notices)
        else:
            frame = canonical_frame(raw, table, problems)
        sources[name] = _Source(frame=frame)
    dataset = Dataset(spec, sources, notices=notices)
    dataset.load_problems_ = problems
    return dataset
