"""Apache Spark as the engine of the feature SQL, for banks past one machine (``engine: spark``).

Fishpond keeps ONE source of its feature logic: the SQL in :mod:`helpers.features.sql` (and
the other modules that query :meth:`Dataset.connect`), written for DuckDB in a portable
subset. With ``engine: spark`` in the dataset spec, :meth:`Dataset.connect` returns a
:class:`SparkConnection` instead of a DuckDB connection: it has the few methods the code uses
(``sql``/``execute`` with ``.df()``, ``.fetchall()``, ``.fetchone()``; ``register``;
``close``) and turns each query into Spark SQL with ``sqlglot`` (DuckDB dialect in, Spark
dialect out) before Spark runs it. The heavy aggregation then runs on the cluster and only
the result (one row per customer) comes back to the driver.

Why sqlglot and not Ibis (both were evaluated, see ``docs/scale.md``): the feature logic
already exists as tested DuckDB SQL; sqlglot transpiles it unchanged (the sample's ABT came
out bit-identical on the first run), is pure Python with no dependencies, and the SQL stays
readable for a bank's data engineers. Ibis would have meant rewriting every query as Python
expressions, with two backends' type rules to reconcile.

Tables: each canonical table is a temporary view over its Parquet file (read by Spark, so the
path must be visible to the executors: a shared mount, or the same path on every node), with
the spec's column renames; tables the loader holds in pandas (CSV, Excel, quarantined) are
sent to Spark from the driver. Parquet timestamps in nanoseconds (pandas' default, which Spark
cannot read as timestamps) are read as integers and converted to microsecond timestamps.

Spark settings come from the spec's ``spark:`` block (``master``, ``config``); the session
time zone is UTC so dates never shift.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

#: Settings every Fishpond Spark session gets (the spec's ``spark.config`` may add more).
BASE_CONFIG = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}
ID_COLUMNS = ("customer_id", "branch_id", "rm_id", "campaign_id")


def spark_session(spark_spec: dict | None = None):
    """The process's Spark session, created on first use from a spec's ``spark:`` block.

    ``master`` defaults to ``local[2]`` (this machine's two cores); ``config`` entries are
    passed to the builder. A session that already exists in the process is reused (Spark
    allows one per driver).
    """
    from pyspark.sql import SparkSession

    spark_spec = dict(spark_spec or {})
    builder = SparkSession.builder.appName("fishpond").master(
        str(spark_spec.get("master") or "local[2]")
    )
    settings = {
        **BASE_CONFIG,
        **{str(k): str(v) for k, v in (spark_spec.get("config") or {}).items()},
    }
    if str(spark_spec.get("master") or "local[2]").startswith("local"):
        settings.setdefault("spark.sql.shuffle.partitions", "8")
        settings.setdefault("spark.ui.enabled", "false")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def to_spark_sql(query: str) -> str:
    """A query written for DuckDB, in Spark SQL (sqlglot)."""
    import sqlglot

    return sqlglot.transpile(query, read="duckdb", write="spark")[0]


def _quote(name: str) -> str:
    return "`" + str(name).replace("`", "``") + "`"


def _column_expression(canonical: str, source: str, arrow_type) -> str:
    expression = _quote(source)
    if str(arrow_type).startswith("timestamp[ns"):
        # read as int64 nanoseconds (spark.sql.legacy.parquet.nanosAsLong)
        expression = f"TIMESTAMP_MICROS(DIV({expression}, 1000))"
    elif canonical in ID_COLUMNS:
        expression = f"CAST({expression} AS STRING)"
    return f"{expression} AS {_quote(canonical)}"


def _literal(value) -> str:
    """A Python value as a SQL literal (dates, numbers, text)."""
    if isinstance(value, pd.Timestamp | dt.date):
        return f"DATE '{pd.Timestamp(value):%Y-%m-%d}'"
    if isinstance(value, bool) or value is None:
        return {True: "TRUE", False: "FALSE", None: "NULL"}[value]
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class SparkResult:
    """What ``SparkConnection.sql`` returns: DuckDB-relation-like accessors."""

    def __init__(self, frame):
        self._frame = frame

    def df(self) -> pd.DataFrame:
        """The result in pandas, with DuckDB's conventions for dates (datetime64)."""
        result = self._frame.toPandas()
        for field in self._frame.schema.fields:
            kind = field.dataType.typeName()
            if kind == "date" or kind.startswith("timestamp"):
                result[field.name] = pd.to_datetime(result[field.name])
        return result

    def fetchall(self) -> list[tuple]:
        return [tuple(row) for row in self._frame.collect()]

    def fetchone(self) -> tuple | None:
        rows = self._frame.take(1)
        return tuple(rows[0]) if rows else None


class SparkConnection:
    """A DuckDB-connection look-alike whose queries run on Spark (see the module docstring)."""

    def __init__(self, dataset, sources: dict[str, Any]):
        self.session = spark_session(dataset.spec.spark)
        self._views: list[str] = []
        for name, source in sources.items():
            path = getattr(source, "parquet_path", None)
            if source.frame is None and path is not None and source.excluded_rows is None:
                self._parquet_view(name, path, source.renames)
            else:
                self.register(name, dataset.table(name))

    def _parquet_view(self, name: str, path, renames: dict[str, str]) -> None:
        import pyarrow.parquet as pq

        schema = pq.read_schema(str(path))
        columns = ", ".join(
            _column_expression(canonical, source, schema.field(source).type)
            for canonical, source in renames.items()
        )
        raw = f"__fishpond_raw_{name}"
        self.session.read.parquet(str(path)).createOrReplaceTempView(raw)
        self.session.sql(
            f"CREATE OR REPLACE TEMP VIEW {_quote(name)} AS SELECT {columns} FROM {raw}"
        )
        self._views += [raw, name]

    def register(self, name: str, frame: pd.DataFrame) -> SparkConnection:
        """Make a pandas frame a temporary view (small tables, lookup frames)."""
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].astype("string")  # Arrow infers None columns badly
        self.session.createDataFrame(frame).createOrReplaceTempView(name)
        self._views.append(name)
        return self

    def unregister(self, name: str) -> SparkConnection:
        self.session.catalog.dropTempView(name)
        return self

    def sql(self, query: str, parameters: dict | list | tuple | None = None) -> SparkResult:
        """Run a DuckDB-dialect query on Spark; parameters become literals.

        ``parameters`` as in DuckDB: a dict for ``$name`` placeholders, or a list for ``?``
        placeholders in order (the queries here have no ``?`` inside string literals).
        """
        if isinstance(parameters, dict):
            for name, value in sorted(parameters.items(), key=lambda item: -len(item[0])):
                query = query.replace(f"${name}", _literal(value))
        elif parameters:
            pieces = query.split("?")
            if len(pieces) != len(parameters) + 1:
                raise ValueError(
                    f"the query has {len(pieces) - 1} '?' placeholders but {len(parameters)} "
                    "parameters were given"
                )
            query = pieces[0] + "".join(
                _literal(value) + piece for value, piece in zip(parameters, pieces[1:], strict=True)
            )
        return SparkResult(self.session.sql(to_spark_sql(query)))

    execute = sql

    def close(self) -> None:
        """Views stay for the session (cheap); the session lives as long as the process."""
