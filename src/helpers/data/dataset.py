"""A loaded dataset: canonical tables, cached, with DuckDB views over them.

Build one with :func:`helpers.data.load_dataset` (files and a spec) or
:meth:`Dataset.from_frames` (hand-made frames, for tests and notebooks).

>>> con = ds.connect()
>>> con.sql("SELECT count(*) FROM monthly_balances").fetchall()  # DuckDB 2: no fetchone()
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from helpers.config import resolve_ladder
from helpers.data.convert import DAYS_PER_MONTH, FALSE_WORDS, TRUE_WORDS
from helpers.data.problems import TABLE_COLUMNS, Col
from helpers.data.run_record import run_record
from helpers.data.spark import SparkConnection
from helpers.data.spec import (
    FLAT_TABLE,
    ID_COLUMNS,
    PANEL_TABLES,
    DatasetSpec,
)

# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


@dataclass
class _Source:
    """Where a canonical table comes from: an in-memory frame or Parquet file(s) with renames."""

    frame: pd.DataFrame | None = None
    parquet_paths: list = field(default_factory=list)
    # canonical -> source column, for Parquet views (only the columns present in the file)
    renames: dict[str, str] = field(default_factory=dict)
    # canonical -> {source value: canonical value} (spec {column, map} entries)
    value_maps: dict[str, dict] = field(default_factory=dict)
    # the spec's money_unit: amounts are multiplied by it
    scale: float = 1.0
    # 1-based rows set aside by quarantine (left out of the view)
    excluded_rows: pd.DataFrame | None = None
    # the text as read (CSV/Excel), kept until validation so quarantine keeps raw values
    raw: pd.DataFrame | None = None
    # (file name, rows) per file when several files make one table
    row_files: list | None = None
    # the canonical table as the runner validated it, saved for the run's kernels
    # (helpers.data.shared_tables): read into pandas only when a notebook asks for it
    shared_path: Path | None = None

    @property
    def parquet_path(self) -> Path | None:
        return self.parquet_paths[0] if self.parquet_paths else None


def _as_id_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with id columns as strings (missing values kept missing)."""
    needs = [c for c in ID_COLUMNS if c in frame.columns and frame[c].dtype != object]
    if not needs:
        return frame
    frame = frame.copy()
    for column in needs:
        values = frame[column]
        frame[column] = values.astype(str).where(values.notna(), None).astype(object)
    return frame


def _sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_name(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def parquet_files_sql(paths) -> str:
    """``'a.parquet'`` or ``['a.parquet', 'b.parquet']`` for ``read_parquet``."""
    paths = [str(p) for p in paths]
    if len(paths) == 1:
        return _sql_string(paths[0])
    return "[" + ", ".join(_sql_string(p) for p in paths) + "]"


def parquet_rows_sql(con: duckdb.DuckDBPyConnection, paths) -> str:
    """A relation over the file(s) with every column plus ``__row`` (1-based, through the
    files in order: row 1 of the second file follows the last row of the first)."""
    files = parquet_files_sql(paths)
    if len(paths) == 1:
        return (
            f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS __row "
            f"FROM read_parquet({files}, file_row_number = true))"
        )
    offsets, offset = [], 0
    for path in paths:
        offsets.append(f"WHEN {_sql_string(str(path))} THEN {offset}")
        offset += con.sql(
            f"SELECT count(*) FROM read_parquet({_sql_string(str(path))})"
        ).fetchall()[0][0]
    return (
        f"(SELECT * EXCLUDE (file_row_number, filename), file_row_number + 1 + "
        f"CASE filename {' '.join(offsets)} END AS __row "
        f"FROM read_parquet({files}, file_row_number = true, filename = true))"
    )


def _sql_value(value, kind: str) -> str:
    if value is None:
        return "NULL"
    if kind == "bool":
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return "TRUE"
        if word in FALSE_WORDS:
            return "FALSE"
        return "NULL"
    if kind in {"int", "float"}:
        try:
            return repr(float(value))
        except ValueError:
            return "NULL"
    return _sql_string(str(value))


def canonical_expression(column: Col, source: str, value_map: dict | None, scale: float) -> str:
    """SQL for one canonical column over its source column: value map, id text, money unit."""
    expression = _sql_name(source)
    if value_map:
        cases = " ".join(
            f"WHEN {_sql_string(str(key))} THEN {_sql_value(value, column.kind)}"
            for key, value in value_map.items()
        )
        return f"(CASE CAST({expression} AS VARCHAR) {cases} ELSE NULL END)"
    if column.kind == "id":
        return f"CAST({expression} AS VARCHAR)"
    if column.money and scale != 1.0:
        return f"(CAST({expression} AS DOUBLE) * {float(scale)!r})"
    return expression


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (hashlib releases the GIL on them)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Dataset:
    """Canonical tables of one dataset, loaded lazily and cached.

    Build one with :func:`load_dataset` (files + spec) or :meth:`from_frames` (hand-made
    frames, for tests). Attribute ``validation_`` holds the validation report when the dataset
    was validated in this process, ``validated`` is True when its tables passed validation
    (here, or earlier for these exact files: then the rules' guarantees hold, e.g. one row per
    key, without a report), and ``notices`` lists things the loader decided for you
    (generated ids, encodings detected, rows quarantined).
    """

    def __init__(self, spec: DatasetSpec, sources: dict[str, _Source], notices=None):
        self.spec = spec
        self._sources = dict(sources)
        self._cache: dict[str, pd.DataFrame] = {}
        self._fingerprint: dict | None = None
        self._months: list[str] | None = None
        self.notices: list[str] = list(notices or [])
        self.validation_ = None
        self.validated = False
        self._hashing = None  # the loader's future of the files' SHA-256, if it started one

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_frames(
        cls,
        tables: dict[str, pd.DataFrame],
        mode: str = "panel",
        name: str = "in-memory",
    ) -> Dataset:
        """Build a dataset from canonical pandas frames (no files, no validation).

        Parameters
        ----------
        tables : dict of str to DataFrame
            Panel mode: canonical table name -> frame with canonical columns (any subset of
            ``customers``, ``monthly_balances``, ``transactions``, ``holdings``, ``contacts``,
            ``campaigns``). Flat mode: ``{"flat": frame}`` with the canonical flat columns.
        mode : {"panel", "flat"}
        name : str

        Returns
        -------
        Dataset
            Id columns are converted to strings; nothing else is changed. Call
            :func:`helpers.data.schema.validate_dataset` to check the frames.
        """
        if mode not in {"panel", "flat"}:
            raise ValueError(f"mode must be 'panel' or 'flat', not {mode!r}")
        allowed = PANEL_TABLES if mode == "panel" else (FLAT_TABLE,)
        unknown = sorted(set(tables) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown table(s) {unknown} for a {mode} dataset; expected some of {list(allowed)}"
            )
        sources = {
            table_name: _Source(frame=_as_id_strings(frame)) for table_name, frame in tables.items()
        }
        spec = DatasetSpec(name=name, mode=mode)
        return cls(spec, sources)

    # -- basic facts ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The spec's name."""
        return self.spec.name

    @property
    def mode(self) -> str:
        """``"panel"`` or ``"flat"``."""
        return self.spec.mode

    def tables(self) -> list[str]:
        """Canonical tables this dataset has, in canonical order."""
        order = PANEL_TABLES + (FLAT_TABLE,)
        return [name for name in order if name in self._sources]

    def has(self, table: str) -> bool:
        """Whether the dataset has canonical table ``table``."""
        return table in self._sources

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, mode={self.mode!r}, tables={self.tables()})"

    # -- tables ---------------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        """Return canonical table ``name`` as a pandas DataFrame (cached; do not modify it).

        For a large Parquet table this reads the whole file; prefer :meth:`connect` and SQL
        for ``monthly_balances`` and ``transactions`` at scale.
        """
        if name not in self._sources:
            hint = " (this is a flat dataset: use table('flat'))" if self.mode == "flat" else ""
            raise KeyError(
                f"dataset {self.name!r} has no table {name!r}{hint}; it has {self.tables()}"
            )
        if name not in self._cache:
            source = self._sources[name]
            if source.frame is not None:
                self._cache[name] = source.frame
            elif source.shared_path is not None:
                self._cache[name] = pd.read_parquet(source.shared_path)
            else:
                self._cache[name] = self._read_parquet_source(name, source)
        return self._cache[name]

    def _read_parquet_source(self, name: str, source: _Source) -> pd.DataFrame:
        con = duckdb.connect()
        try:
            excluded = None
            if source.excluded_rows is not None:
                excluded = f"__excluded_{name}"
                con.register(excluded, source.excluded_rows)
            frame = con.sql(self._parquet_select(con, name, source, excluded)).df()
        finally:
            con.close()
        return _as_id_strings(frame)

    @staticmethod
    def _parquet_select(
        con: duckdb.DuckDBPyConnection, name: str, source: _Source, excluded_name: str | None
    ) -> str:
        declared = {column.name: column for column in TABLE_COLUMNS[name]}
        parts = [
            f"{canonical_expression(declared[canonical], src, source.value_maps.get(canonical), source.scale)}"
            f" AS {_sql_name(canonical)}"
            for canonical, src in source.renames.items()
        ]
        if excluded_name is None:
            relation = f"read_parquet({parquet_files_sql(source.parquet_paths)})"
            return f"SELECT {', '.join(parts)} FROM {relation}"
        return (
            f"SELECT {', '.join(parts)} FROM {parquet_rows_sql(con, source.parquet_paths)} "
            f"WHERE __row NOT IN (SELECT __row FROM {_sql_name(excluded_name)})"
        )

    def _replace_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Swap a table for a new frame (quarantine removes rows). Internal."""
        self._sources[name] = _Source(frame=frame)
        self._cache[name] = frame
        self._fingerprint = None
        self._months = None

    # -- DuckDB ---------------------------------------------------------------------------
    def connect(self, engine: str | None = None) -> duckdb.DuckDBPyConnection:
        """Return a new in-memory DuckDB connection with one view per canonical table.

        Parquet tables are views over ``read_parquet(path)`` with canonical column names, so
        DuckDB scans the file (larger than memory is fine); tables held in pandas (CSV, Excel,
        in-memory, quarantined) are registered frames. Close the connection when done.

        With ``engine: spark`` in the spec the same SQL runs on Apache Spark instead
        (:class:`helpers.data.spark.SparkConnection`, transpiled with sqlglot); ``engine``
        overrides the spec (``"duckdb"`` for the checks that read Parquet files directly).
        """
        if (engine or self.spec.engine) == "spark":
            return SparkConnection(self, self._sources)
        con = duckdb.connect()
        for name, source in self._sources.items():
            if name in self._cache or source.frame is not None:
                con.register(name, self.table(name))
            elif source.shared_path is not None:
                path = _sql_string(str(source.shared_path))
                con.execute(f"CREATE VIEW {_sql_name(name)} AS SELECT * FROM read_parquet({path})")
            else:
                excluded = None
                if source.excluded_rows is not None:
                    excluded = f"__excluded_{name}"
                    con.register(excluded, source.excluded_rows)
                select = self._parquet_select(con, name, source, excluded)
                con.execute(f"CREATE VIEW {_sql_name(name)} AS {select}")
        return con

    # -- months ---------------------------------------------------------------------------
    def months(self) -> list[str]:
        """Data months as ``YYYY-MM`` strings, ascending (panel); ``[]`` in flat mode.

        Read once per dataset object (a DISTINCT over every balance row: 1.5 s at a million
        customers, and a notebook asks a dozen times); a table swapped by quarantine
        forgets it.
        """
        if self.mode == "flat" or not self.has("monthly_balances"):
            return []
        if self._months is None:
            con = self.connect()
            try:
                rows = con.sql(
                    "SELECT DISTINCT strftime(CAST(month AS DATE), '%Y-%m') AS m "
                    "FROM monthly_balances WHERE month IS NOT NULL ORDER BY m"
                ).fetchall()
            finally:
                con.close()
            self._months = [row[0] for row in rows]
        return list(self._months)

    def latest_month(self) -> str | None:
        """The last data month ``YYYY-MM`` (the as-of month for validation); None in flat mode."""
        months = self.months()
        return months[-1] if months else None

    # -- roles ----------------------------------------------------------------------------
    def roles(self) -> set[str]:
        """Roles this dataset can serve (docs/architecture.md §3).

        Panel: a role per table present (``balances_history`` for ``monthly_balances``), plus
        ``duration, event, value, tier`` from customers + monthly balances, ``products`` from
        holdings, ``treatment, outcome`` from campaigns. Flat: ``customers`` (one row per
        customer) plus each role the spec maps.
        """
        if self.mode == "flat":
            roles = {"customers"}
            if self.has(FLAT_TABLE):
                columns = set(self.table(FLAT_TABLE).columns)
                for role, column in (
                    ("duration", "duration_months"),
                    ("event", "event"),
                    ("value", "value"),
                    ("tier", "tier"),
                    ("treatment", "treatment"),
                    ("outcome", "outcome"),
                ):
                    if column in columns:
                        roles.add(role)
                if any(c.startswith("held_") for c in columns):
                    roles.add("products")
            return roles
        roles = set()
        for table in PANEL_TABLES:
            if self.has(table):
                roles.add("balances_history" if table == "monthly_balances" else table)
        if self.has("customers") and self.has("monthly_balances"):
            roles |= {"duration", "event", "value", "tier"}
        if self.has("holdings"):
            roles.add("products")
        if self.has("campaigns"):
            roles |= {"treatment", "outcome"}
        return roles

    # -- spec options -----------------------------------------------------------------------
    @property
    def currency(self) -> str:
        """ISO 4217 code of the amounts (the spec's ``currency``; ``CNY`` by default)."""
        return self.spec.currency

    @property
    def money_unit(self) -> float:
        """The spec's ``money_unit``: one amount in the files was this many currency units.

        Amounts were multiplied by it when loaded, so canonical tables are in whole currency
        units whatever it is; it is informational (e.g. to say "the extract was in 万元").
        """
        return float(self.spec.money_unit)

    def spec_ladder(self) -> pd.DataFrame | None:
        """The spec's own tier ladder (``tiers:``), or None when the spec has none.

        Returns
        -------
        DataFrame or None
            ``code``, ``name_zh``, ``name_en``, ``lower`` (inclusive), ``upper`` (exclusive),
            lowest tier first, in the spec's currency.
        """
        if not self.spec.tiers:
            return None
        return resolve_ladder(ladder=pd.DataFrame(self.spec.tiers))

    @property
    def tenure_unit(self) -> str:
        """Unit tenure was recorded in: the flat spec's ``duration_unit``; ``months`` in panel."""
        if self.mode == "flat":
            return str(self.spec.roles.get("duration_unit", "months"))
        return "months"

    def tenure_step_months(self) -> float:
        """The smallest tenure step the data can show, in months.

        1 for months (panel mode always), 12 for years, about 0.03 for days. A flat tenure
        given in months whose every value is a whole number of years counts as 12: such data
        cannot tell a 3-month leaver from a 9-month one.
        """
        step = {"days": 1 / DAYS_PER_MONTH, "months": 1.0, "years": 12.0}[self.tenure_unit]
        if self.mode == "flat" and step == 1.0 and self.has(FLAT_TABLE):
            duration = self.table(FLAT_TABLE).get("duration_months")
            if duration is not None:
                values = duration.dropna()
                if len(values) >= 20 and (values % 12 == 0).all() and (values > 0).any():
                    return 12.0
        return step

    def horizon_warning(self, horizon_months: float) -> str | None:
        """A sentence when a churn horizon is finer than the tenure data can show, else None.

        Tenure in whole years cannot see churn within 6 months: every leaver's tenure jumps
        by 12, so a 6-month horizon finds (almost) nobody leaving.
        """
        if self.mode != "flat" or not self.has(FLAT_TABLE):
            return None  # panel tenure is counted in months from open_date
        if "duration_months" not in self.table(FLAT_TABLE):
            return None
        step = self.tenure_step_months()
        if horizon_months >= step:
            return None
        unit = "whole years" if step == 12.0 else self.tenure_unit
        return (
            f"the churn horizon ({horizon_months:g} months) is shorter than the tenure step of "
            f"the data ({unit}, {step:g} months): churn within the horizon cannot be seen; "
            f"set churn_horizon_months to {step:g} or more"
        )

    # -- quarantine -----------------------------------------------------------------------
    def quarantine_summary(self) -> pd.DataFrame:
        """What this load set aside: one row per table with quarantined rows.

        Returns
        -------
        DataFrame
            ``table``, ``rows`` (set aside), ``file`` (where ``fishpond run`` writes them, as
            CSV with the raw values and reasons), ``reasons``. Empty when nothing was set aside.
        """
        records = list(getattr(self, "quarantine_records_", []))
        return pd.DataFrame(records, columns=["table", "rows", "file", "reasons"])

    # -- provenance -----------------------------------------------------------------------
    def files(self) -> list[Path]:
        """Source files of this dataset (empty for in-memory datasets)."""
        return self.spec.files()

    def file_digests(self) -> dict[str, str]:
        """SHA-256 of each source file's bytes (computed once per dataset).

        Inside ``fishpond run`` the runner has hashed these very files (same paths, sizes and
        modification times, same spec): its digests are taken instead of reading the files
        again in every notebook.
        """
        digests = self.__dict__.setdefault("_digests", {})
        record = run_record(self) if not digests else None
        for entry in (record or {}).get("fingerprint", {}).get("files", []):
            if entry.get("sha256"):
                digests.setdefault(str(entry["path"]), str(entry["sha256"]))
        hashing, self._hashing = self._hashing, None
        if hashing is not None:
            for key, value in hashing.result().items():
                digests.setdefault(key, value)
        for path in self.files():
            key = str(path)
            if key not in digests:
                digests[key] = sha256_file(path)
        return dict(digests)

    def hash_files_meanwhile(self, hashing) -> None:
        """Take the SHA-256 of the files from ``hashing`` (a future of ``{path: digest}``,
        computed while the tables were read) when :meth:`file_digests` needs them. Internal."""
        self._hashing = hashing

    def fingerprint(self) -> dict[str, Any]:
        """Identify the data a run used: each file's path, size and SHA-256, and row counts.

        Returns
        -------
        dict
            ``{"name", "mode", "files": [{"path", "bytes", "sha256"}], "rows": {table: n}}``.
        """
        if self._fingerprint is None:
            digests = self.file_digests()
            files = [
                {"path": str(path), "bytes": path.stat().st_size, "sha256": digests[str(path)]}
                for path in self.files()
            ]
            con = self.connect()
            try:
                rows = {
                    name: int(con.sql(f"SELECT count(*) FROM {_sql_name(name)}").fetchall()[0][0])
                    for name in self.tables()
                }
            finally:
                con.close()
            self._fingerprint = {"name": self.name, "mode": self.mode, "files": files, "rows": rows}
        return self._fingerprint
