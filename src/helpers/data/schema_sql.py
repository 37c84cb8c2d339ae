"""SQL engine for :mod:`helpers.data.schema`: checks large Parquet tables inside DuckDB.

``monthly_balances`` (customers x months) and ``transactions`` can hold tens of millions of
rows; loading them into pandas only to validate them would cost minutes and gigabytes. The same
declarations (:data:`helpers.data.schema.TABLE_COLUMNS`) become SQL predicates evaluated in one scan
of the file (``count_if`` per rule), and only the rules that fail are queried again for a few
example rows. Row numbers come from Parquet's ``file_row_number`` (row 1 = first row).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from helpers.data.dataset import canonical_expression, parquet_files_sql, parquet_rows_sql
from helpers.data.problems import (
    AUM_PARTS,
    EARLIEST_DATE,
    KIND_WORDS,
    MAX_EXAMPLES,
    REFERENCING_TABLES,
    TABLE_COLUMNS,
    TABLE_KEYS,
    Col,
    Problem,
)

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                  "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")  # fmt: skip
_NUMERIC_TYPES = _INTEGER_TYPES + ("FLOAT", "DOUBLE", "REAL", "DECIMAL")


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, pd.Timestamp):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"
    return repr(float(value))


def sql_type_matches(sql_type: str, kind: str) -> bool:
    """Whether a DuckDB column type fits a canonical kind."""
    base = sql_type.upper().split("(")[0]
    if kind == "id":
        return base == "VARCHAR" or base in _INTEGER_TYPES
    if kind == "str":
        return base == "VARCHAR"
    if kind == "int":
        return base in _NUMERIC_TYPES
    if kind == "float":
        return base in _NUMERIC_TYPES
    if kind == "date":
        return base == "DATE" or base.startswith("TIMESTAMP")
    if kind == "bool":
        return base == "BOOLEAN"
    raise ValueError(f"unknown kind {kind!r}")


def _rules(column: Col, as_of_end) -> list[tuple[str, str, str]]:
    """(bad-row predicate, check label, expected) for one column's value rules."""
    name = _q(column.name)
    rules = []
    if column.allowed is not None:
        values = ", ".join(_literal(v) for v in column.allowed)
        rules.append(
            (
                f"{name} NOT IN ({values})",
                "value not allowed",
                "one of " + ", ".join(column.allowed),
            )
        )
    if column.minimum is not None:
        operator = ">" if column.minimum_strict else ">="
        negated = "<=" if column.minimum_strict else "<"
        label = "negative value" if column.minimum == 0 else "value too small"
        if column.minimum_strict and column.minimum == 0:
            label = "zero or negative value"
        rules.append(
            (
                f"{name} {negated} {column.minimum!r}",
                label,
                f"{operator} {column.minimum:g} ({column.why})".rstrip(" ()"),
            )
        )
    if column.maximum is not None:
        rules.append(
            (
                f"{name} > {column.maximum!r}",
                "absurdly large value",
                f"<= {column.maximum:,.0f} ({column.why or 'a plausible value'})",
            )
        )
    if column.kind == "date":
        rules.append(
            (
                f"CAST({name} AS TIMESTAMP) < {_literal(EARLIEST_DATE)}",
                "date before 1900",
                f"on or after {EARLIEST_DATE:%Y-%m-%d} (an older date is an export default, "
                "e.g. Excel's day zero 1899-12-31, not a real date)",
            )
        )
    if column.not_after_as_of and as_of_end is not None:
        rules.append(
            (
                f"CAST({name} AS TIMESTAMP) > {_literal(as_of_end)}",
                "date after the as-of month",
                f"on or before {as_of_end:%Y-%m-%d} (end of the latest data month)",
            )
        )
    if column.name == "month":
        rules.append(
            (
                f"CAST({name} AS DATE) <> last_day(CAST({name} AS DATE))",
                "month not a month end",
                "the last day of the month (month-end snapshots)",
            )
        )
    if not column.nullable:
        rules.insert(0, (f"{name} IS NULL", "missing value", "a value in every row"))
    return rules


def check_parquet_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source,
    *,
    as_of_end: pd.Timestamp | None,
    check_customers: bool,
) -> tuple[list[Problem], str]:
    """Check one Parquet-backed table in DuckDB.

    Parameters
    ----------
    con : DuckDB connection
        Must have a ``customers`` view/table when ``check_customers`` is true.
    table : str
        Canonical table name.
    source : helpers.data.dataset._Source
        The table's file(s), renames (canonical -> source column, only columns present),
        value maps and money unit.
    as_of_end : Timestamp or None
    check_customers : bool
        Check that every customer id exists in ``customers``.

    Returns
    -------
    (problems, bad_rows_sql)
        ``bad_rows_sql`` selects ``__row, reason`` for every offending row (for quarantine;
        a row failing two rules appears twice).
    """
    files = parquet_files_sql(source.parquet_paths)
    types = dict(
        (row[0], row[1])
        for row in con.sql(f"DESCRIBE SELECT * FROM read_parquet({files})").fetchall()
    )
    problems: list[Problem] = []
    columns = {c.name: c for c in TABLE_COLUMNS[table]}
    select = ["__row"]
    usable: list[Col] = []
    mapped: dict[str, tuple[str, dict]] = {}
    for canonical, src in source.renames.items():
        column = columns[canonical]
        source_type = types[src]
        value_map = source.value_maps.get(canonical)
        if not value_map and not sql_type_matches(source_type, column.kind):
            sample = con.sql(
                f"SELECT {_q(src)} FROM read_parquet({files}) WHERE {_q(src)} IS NOT NULL LIMIT 3"
            ).fetchall()
            problems.append(
                Problem(
                    table,
                    canonical,
                    "wrong type",
                    KIND_WORDS[column.kind],
                    values=[f"{source_type} column"] + [row[0] for row in sample],
                )
            )
            continue
        expression = canonical_expression(column, src, value_map, source.scale)
        select.append(f"{expression} AS {_q(canonical)}")
        if value_map:
            select.append(f"CAST({_q(src)} AS VARCHAR) AS {_q('__raw_' + canonical)}")
            mapped[canonical] = (src, value_map)
        usable.append(column)
    relation = f"(SELECT {', '.join(select)} FROM {parquet_rows_sql(con, source.parquet_paths)})"
    count = con.sql(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
    if count == 0:
        return problems + [Problem(table, "", "empty table", "at least one row", count=0)], ""

    rules: list[tuple[str, str, str, str]] = []  # (column, predicate, label, expected)
    for column in usable:
        outside = None
        if column.name in mapped:
            src, value_map = mapped[column.name]
            raw = _q("__raw_" + column.name)
            keys = ", ".join(_literal(str(k)) for k in value_map)
            outside = f"({raw} IS NOT NULL AND {raw} NOT IN ({keys}))"
            rules.append(
                (
                    column.name,
                    outside,
                    "value outside the mapping",
                    f"{src} values {sorted(map(str, value_map))} "
                    f"(tables.{table}.columns.{column.name}.map)",
                )
            )
        for predicate, label, expected in _rules(column, as_of_end):
            if outside is not None and label == "missing value":
                predicate = f"({predicate} AND NOT {outside})"
            rules.append((column.name, predicate, label, expected))
    usable_names = {c.name for c in usable}
    if table == "monthly_balances" and usable_names >= set(AUM_PARTS) | {"aum_total"}:
        parts = " + ".join(_q(p) for p in AUM_PARTS)
        rules.append(
            (
                "aum_total",
                f'abs("aum_total" - ({parts})) > 0.01 + 1e-6 * abs("aum_total")',
                "aum_total differs from its parts",
                "aum_total = " + " + ".join(AUM_PARTS),
            )
        )
    bad_selects = []
    if rules:
        counts = con.sql(
            "SELECT "
            + ", ".join(f"CAST(count_if({predicate}) AS BIGINT)" for _, predicate, _, _ in rules)
            + f" FROM {relation}"
        ).fetchall()[0]
        for (column, predicate, label, expected), bad in zip(rules, counts, strict=True):
            if not bad:
                continue
            shown = _q("__raw_" + column) if label == "value outside the mapping" else _q(column)
            examples = con.sql(
                f"SELECT __row, {shown} FROM {relation} WHERE {predicate} "
                f"ORDER BY __row LIMIT {MAX_EXAMPLES}"
            ).fetchall()
            problems.append(
                Problem(
                    table,
                    column,
                    label,
                    expected,
                    rows=[row[0] for row in examples],
                    values=[row[1] for row in examples],
                    count=int(bad),
                )
            )
            reason = _literal(f"{column}: {label}")
            bad_selects.append(
                f"SELECT __row, {reason} AS reason FROM {relation} WHERE {predicate}"
            )

    key = TABLE_KEYS.get(table)
    if key and set(key) <= usable_names:
        key_list = ", ".join(_q(k) for k in key)
        label = f"concat_ws(' / ', {', '.join(f'CAST({_q(k)} AS VARCHAR)' for k in key)})"
        duplicated = (
            f"(SELECT __row, {label} AS label, count(*) OVER (PARTITION BY {key_list}) AS n, "
            f"row_number() OVER (PARTITION BY {key_list} ORDER BY __row) AS k "
            f"FROM {relation}) WHERE n > 1"
        )
        # cheap test first (no row numbers, no window); the window only when there are repeats
        renames = source.renames
        plain = all(renames.get(k) == k and k not in mapped for k in key)
        repeats = con.sql(
            f"SELECT CAST(count(*) - count(DISTINCT ({key_list})) AS BIGINT) "
            f"FROM read_parquet({files})"
            if plain
            else f"SELECT CAST(count(*) - count(DISTINCT ({key_list})) AS BIGINT) FROM {relation}"
        ).fetchall()[0][0]
        total = 0
        if repeats:
            total = con.sql(f"SELECT CAST(count(*) AS BIGINT) FROM {duplicated}").fetchall()[0][0]
        examples = (
            []
            if not total
            else con.sql(
                f"SELECT __row, label FROM {duplicated} ORDER BY __row LIMIT {MAX_EXAMPLES}"
            ).fetchall()
        )
        duplicates = (total, [row[0] for row in examples], [row[1] for row in examples])
        if duplicates[0]:
            problems.append(
                Problem(
                    table,
                    ", ".join(key),
                    "duplicate rows",
                    f"each {' + '.join(key)} only once",
                    rows=duplicates[1],
                    values=duplicates[2],
                    count=int(duplicates[0]),
                )
            )
            # keep the first of each duplicated key, set the repeats aside
            bad_selects.append(
                f"SELECT __row, 'duplicate rows' AS reason FROM {duplicated} AND k > 1"
            )
    if check_customers and table in REFERENCING_TABLES and "customer_id" in usable_names:
        unknown = (
            f"{relation} AS r ANTI JOIN customers AS c ON c.customer_id = r.customer_id "
            "WHERE r.customer_id IS NOT NULL"
        )
        bad = con.sql(f"SELECT CAST(count(*) AS BIGINT) FROM {unknown}").fetchall()[0][0]
        if bad:
            examples = con.sql(
                f"SELECT r.__row, r.customer_id FROM {unknown} ORDER BY r.__row LIMIT {MAX_EXAMPLES}"
            ).fetchall()
            problems.append(
                Problem(
                    table,
                    "customer_id",
                    "unknown customer id",
                    "a customer_id that exists in customers",
                    rows=[row[0] for row in examples],
                    values=[row[1] for row in examples],
                    count=int(bad),
                )
            )
            bad_selects.append(
                f"SELECT r.__row, 'customer_id: unknown customer id' AS reason FROM {unknown}"
            )
    return problems, " UNION ALL ".join(bad_selects)
