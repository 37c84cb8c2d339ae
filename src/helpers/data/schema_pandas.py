"""pandas engine for :mod:`helpers.data.schema`: a pandera ``DataFrameSchema`` per table.

Built from the declarations (:data:`helpers.data.schema.TABLE_COLUMNS`); ``validate(lazy=True)``
collects every failure and :func:`_problems_from_failures` turns pandera's ``failure_cases``
into readable :class:`helpers.data.schema.Problem` rows (1-based data rows, a few values, what was
expected). Column presence and dtypes are checked here first, so pandera only sees columns of
the right kind.
"""

from __future__ import annotations

import sys
import warnings

import pandas as pd

# pandera imports pyspark.pandas whenever PySpark is installed (for engine: spark): over a
# second in every notebook kernel, and pyspark.pandas patches pandas. Fishpond's Spark engine
# uses pyspark.sql only, so unless someone already imported it, pyspark.pandas is marked
# unavailable before pandera looks (an import of it then raises ImportError, which pandera
# expects when PySpark is absent).
if "pyspark.pandas" not in sys.modules:
    sys.modules["pyspark.pandas"] = None  # type: ignore[assignment]

import pandera.pandas as pa  # noqa: E402
from pandas.api import types as ptypes  # noqa: E402

from helpers.config import product_catalogue
from helpers.data.problems import (
    AUM_PARTS,
    DATE_ORDER,
    EARLIEST_DATE,
    KIND_WORDS,
    MAX_EXAMPLES,
    Col,
    Problem,
)


def kind_matches(series: pd.Series, kind: str) -> bool:
    """Whether a pandas column's dtype fits a canonical kind."""
    if kind in {"id", "str"}:
        if ptypes.is_string_dtype(series.dtype):
            return True
        # an all-empty object column is fine too
        return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in {
            "string",
            "empty",
        }
    if kind == "int":
        return ptypes.is_integer_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)
    if kind == "float":
        return ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)
    if kind == "date":
        return ptypes.is_datetime64_any_dtype(series.dtype)
    if kind == "bool":
        return ptypes.is_bool_dtype(series.dtype)
    raise ValueError(f"unknown kind {kind!r}")


def _value_checks(column: Col, as_of_end: pd.Timestamp | None, allowed_override=None):
    """pandera checks for one column, each with its (check label, expected text)."""
    checks = []
    allowed = allowed_override if allowed_override is not None else column.allowed
    if allowed is not None:
        checks.append(
            (
                pa.Check.isin(list(allowed)),
                "value not allowed",
                "one of " + ", ".join(str(a) for a in allowed),
            )
        )
    if column.minimum is not None:
        operator = ">" if column.minimum_strict else ">="
        check = (
            pa.Check.gt(column.minimum) if column.minimum_strict else pa.Check.ge(column.minimum)
        )
        label = "negative value" if column.minimum == 0 else "value too small"
        if column.minimum_strict and column.minimum == 0:
            label = "zero or negative value"
        checks.append((check, label, f"{operator} {column.minimum:g} ({column.why})".rstrip(" ()")))
    if column.maximum is not None:
        checks.append(
            (
                pa.Check.le(column.maximum),
                "absurdly large value",
                f"<= {column.maximum:,.0f} ({column.why or 'a plausible value'})",
            )
        )
    if column.kind == "date":
        checks.append(
            (
                pa.Check.ge(EARLIEST_DATE),
                "date before 1900",
                f"on or after {EARLIEST_DATE:%Y-%m-%d} (an older date is an export default, "
                "e.g. Excel's day zero 1899-12-31, not a real date)",
            )
        )
    if column.not_after_as_of and as_of_end is not None:
        checks.append(
            (
                pa.Check.le(as_of_end),
                "date after the as-of month",
                f"on or before {as_of_end:%Y-%m-%d} (end of the latest data month)",
            )
        )
    if column.name == "month":
        checks.append(
            (
                pa.Check(lambda s: s.dt.is_month_end),
                "month not a month end",
                "the last day of the month (month-end snapshots)",
            )
        )
    return checks


def _positions_of(frame: pd.DataFrame, index_values) -> list[int]:
    """1-based row numbers of index labels (the validation frame has a RangeIndex)."""
    return [int(i) + 1 for i in pd.unique(pd.Series(list(index_values)).dropna())]


def check_frame(
    frame: pd.DataFrame,
    table: str,
    columns: tuple[Col, ...],
    *,
    as_of_end: pd.Timestamp | None = None,
    customer_ids: pd.Index | None = None,
    keys: tuple[str, ...] | None = None,
) -> list[Problem]:
    """Check one pandas table against its declarations; return every problem found.

    Parameters
    ----------
    frame : DataFrame
        Canonical table (row ``i`` of the frame is reported as row ``i + 1``).
    table : str
        Table name used in messages.
    columns : tuple of Col
        Declarations (:data:`TABLE_COLUMNS` or :func:`flat_columns`).
    as_of_end : Timestamp, optional
        End of the latest data month; dates after it are problems.
    customer_ids : Index, optional
        Known customer ids; ``customer_id`` values outside it are problems.
    keys : tuple of str, optional
        Columns whose combination must be unique.
    """
    problems: list[Problem] = []
    frame = frame.reset_index(drop=True)
    if frame.empty:
        return [Problem(table, "", "empty table", "at least one row", count=0)]

    schema_columns: dict[str, pa.Column] = {}
    check_meta: dict[str, list] = {}
    product_codes = None
    for column in columns:
        if column.name not in frame.columns:
            if column.required:
                problems.append(
                    Problem(
                        table,
                        column.name,
                        "missing column",
                        f"a column {column.name!r} ({KIND_WORDS[column.kind]})",
                    )
                )
            continue
        series = frame[column.name]
        if series.isna().all() and column.nullable:
            continue
        if not kind_matches(series, column.kind):
            sample = series.dropna()
            problems.append(
                Problem(
                    table,
                    column.name,
                    "wrong type",
                    KIND_WORDS[column.kind],
                    values=[f"{sample.dtype} column"] + sample.head(3).tolist(),
                    count=len(sample),
                )
            )
            continue
        allowed_override = None
        if table == "holdings" and column.name == "product":
            if product_codes is None:
                product_codes = tuple(product_catalogue()["code"])
            allowed_override = product_codes
        value_checks = _value_checks(column, as_of_end, allowed_override)
        if column.name == "customer_id" and customer_ids is not None:
            value_checks.append(
                (
                    # a closure, not Check.isin: pandera deep-copies isin's value set per column
                    pa.Check(lambda s, ids=customer_ids: s.isin(ids)),
                    "unknown customer id",
                    "a customer_id that exists in customers",
                )
            )
        if table == "holdings" and column.name == "product":
            # say where the codes come from, so an analyst knows what to edit
            check, _, expected = value_checks[0]
            value_checks[0] = (
                check,
                "unknown product code",
                expected + " (helpers/resources/config/products.yaml)",
            )
        check_meta[column.name] = value_checks
        schema_columns[column.name] = pa.Column(
            None,
            checks=[c for c, _, _ in value_checks],
            nullable=column.nullable,
            required=False,
        )

    frame_checks = []
    frame_meta = {}
    for order_table, later, earlier in DATE_ORDER:
        if order_table == table and later in schema_columns and earlier in schema_columns:
            name = f"{later}_not_before_{earlier}"
            frame_checks.append(
                pa.Check(
                    lambda f, later=later, earlier=earlier: (
                        f[later].isna() | f[earlier].isna() | (f[later] >= f[earlier])
                    ),
                    name=name,
                )
            )
            frame_meta[name] = (
                later,
                f"{later} before {earlier}",
                f"{later} on or after {earlier}",
            )
    if table == "monthly_balances" and all(c in schema_columns for c in AUM_PARTS + ("aum_total",)):
        frame_checks.append(
            pa.Check(
                lambda f: (
                    (f["aum_total"] - f[list(AUM_PARTS)].sum(axis=1)).abs()
                    <= 0.01 + 1e-6 * f["aum_total"].abs()
                ),
                name="aum_total_is_sum",
            )
        )
        frame_meta["aum_total_is_sum"] = (
            "aum_total",
            "aum_total differs from its parts",
            "aum_total = " + " + ".join(AUM_PARTS),
        )
    key_columns = [k for k in (keys or ()) if k in schema_columns]
    unique = key_columns if keys and len(key_columns) == len(keys) else None

    schema = pa.DataFrameSchema(
        schema_columns, checks=frame_checks, unique=unique, report_duplicates="all"
    )
    try:
        with warnings.catch_warnings():
            # pandera's own error formatting trips a pandas FutureWarning (concat of empty frames)
            warnings.simplefilter("ignore", FutureWarning)
            schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        problems += _problems_from_failures(
            error.failure_cases, frame, table, check_meta, frame_meta, unique
        )
    return problems


def _problems_from_failures(cases, frame, table, check_meta, frame_meta, unique) -> list[Problem]:
    problems = []
    cases = cases.copy()
    cases["check_number"] = pd.to_numeric(cases["check_number"], errors="coerce")
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        if check in frame_meta or check == "multiple_fields_uniqueness":
            continue  # frame-level checks are reported once below, not once per column
        rows = _positions_of(frame, group["index"])
        if check == "not_nullable":
            problems.append(
                Problem(table, column, "missing value", "a value in every row", rows=rows)
            )
            continue
        for number, sub in group.groupby("check_number"):
            _, label, expected = check_meta[column][int(number)]
            problems.append(
                Problem(
                    table,
                    column,
                    label,
                    expected,
                    rows=_positions_of(frame, sub["index"]),
                    values=sub["failure_case"].tolist(),
                )
            )
    for check, group in cases[cases["check"].isin(list(frame_meta))].groupby("check", sort=False):
        column, label, expected = frame_meta[check]
        rows = _positions_of(frame, group["index"])
        values = frame.loc[[r - 1 for r in rows[:MAX_EXAMPLES]], column].tolist()
        problems.append(Problem(table, column, label, expected, rows=rows, values=values))
    duplicates = cases[cases["check"] == "multiple_fields_uniqueness"]
    if not duplicates.empty and unique:
        rows = _positions_of(frame, duplicates["index"])
        sample = frame.loc[[r - 1 for r in rows[:MAX_EXAMPLES]], unique]
        values = [" / ".join(str(v) for v in row) for row in sample.itertuples(index=False)]
        label = "duplicate customer ids" if unique == ["customer_id"] else "duplicate rows"
        problems.append(
            Problem(
                table,
                ", ".join(unique),
                label,
                f"each {' + '.join(unique)} only once",
                rows=rows,
                values=values,
            )
        )
    return problems
