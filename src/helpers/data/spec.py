"""Dataset specs: the YAML that says where a bank's files are and what their columns mean.

A spec (read with a safe loader: it cannot run code) names each table's file and maps the
bank's column names to Fishpond's canonical names (``docs/architecture.md`` §1-2), or, in flat
mode, maps one customer table's columns to roles. :func:`load_spec` parses and checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from helpers.data.problems import TABLE_COLUMNS
from helpers.paths import SAMPLE_SPEC

#: Canonical panel tables, in the order they are validated and listed.
PANEL_TABLES = (
    "customers",
    "monthly_balances",
    "transactions",
    "holdings",
    "contacts",
    "campaigns",
)
#: Tables that may be large (customer x month, one row per transaction). They stay in their
#: files (DuckDB scans them) instead of being loaded into pandas when they are Parquet.
BIG_TABLES = ("monthly_balances", "transactions")
REQUIRED_PANEL_TABLES = ("customers", "monthly_balances")
FLAT_TABLE = "flat"
#: Role names (docs/architecture.md §3), used by the runner to decide notebook applicability.
ALL_ROLES = (
    "customers",
    "balances_history",
    "transactions",
    "holdings",
    "contacts",
    "campaigns",
    "duration",
    "event",
    "value",
    "tier",
    "products",
    "treatment",
    "outcome",
)
#: Columns that hold identifiers: always strings (leading zeros, 19-digit ids survive).
ID_COLUMNS = ("customer_id", "branch_id", "rm_id", "campaign_id")


class DatasetSpecError(ValueError):
    """The dataset spec itself is wrong (bad YAML, unknown keys, missing file or column)."""


# --------------------------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------------------------


@dataclass
class TableSpec:
    """How to read one table: file, format, encoding, reader options, column mapping.

    Attributes
    ----------
    name : str
        Canonical table name (``customers``, ..., or ``flat``).
    path : Path
        Absolute path (relative paths in the YAML resolve against the spec's folder).
    format : {"csv", "parquet", "excel"}
    encoding : str
        ``auto`` (UTF-8 with or without BOM, then GB18030) or a codec name.
    options : dict
        Reader options: ``sep``, ``header``, ``skiprows``, ``sheet``, ``decimal``,
        ``thousands``, ``na_values``.
    columns : dict
        Canonical name -> source column name. Canonical columns not listed are read under
        their own name if the file has them.
    """

    name: str
    path: Path
    format: str = "csv"
    encoding: str = "auto"
    options: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)

    def source_of(self, canonical: str) -> str:
        """Source column name for a canonical column (itself when not mapped)."""
        return self.columns.get(canonical, canonical)


@dataclass
class DatasetSpec:
    """A parsed dataset spec. Build it with :func:`load_spec`.

    Attributes
    ----------
    name : str
    mode : {"panel", "flat"}
    tables : dict[str, TableSpec]
        Panel mode: canonical table -> its spec. Flat mode: ``{"flat": TableSpec}``.
    roles : dict
        Flat mode role mapping, as written in the YAML (see ``data/sample/flat/dataset.yaml``).
    on_invalid : {"fail", "quarantine"}
    quarantine_dir : Path or None
        Where quarantined rows go; None -> a ``quarantine`` folder next to the spec.
    path : Path or None
        The spec file (None for in-memory datasets).
    engine : {"duckdb", "spark"}
        Where the feature SQL runs: embedded DuckDB (default) or Apache Spark
        (``docs/scale.md``).
    spark : dict
        With ``engine: spark``: ``master`` (e.g. ``local[2]``, ``yarn``, ``k8s://...``;
        default ``local[2]``) and ``config`` (Spark settings, e.g.
        ``spark.executor.memory: 8g``).
    """

    name: str
    mode: str = "panel"
    tables: dict[str, TableSpec] = field(default_factory=dict)
    roles: dict = field(default_factory=dict)
    on_invalid: str = "fail"
    quarantine_dir: Path | None = None
    path: Path | None = None
    engine: str = "duckdb"
    spark: dict = field(default_factory=dict)

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path is not None else None


READER_OPTIONS = ("sep", "header", "skiprows", "sheet", "decimal", "thousands", "na_values")
TABLE_KEYS_ALLOWED = {"path", "format", "encoding", "columns", *READER_OPTIONS}
SPEC_KEYS = {"name", "mode", "tables", "table", "roles", "on_invalid", "quarantine_dir",
             "description", "engine", "spark"}  # fmt: skip
ENGINES = ("duckdb", "spark")
SPARK_KEYS = {"master", "config"}
ROLE_KEYS = {"id", "duration", "duration_unit", "event", "value", "tier", "products",
             "treatment", "outcome", "features"}  # fmt: skip
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xlsm": "excel"}  # fmt: skip

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
    """Read and check a spec file; see :func:`helpers.data.dataset.load_spec`."""
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
    engine = raw.get("engine", "duckdb")
    if engine not in ENGINES:
        raise DatasetSpecError(
            f"dataset spec {path.name}: engine must be duckdb or spark, not {engine!r}"
        )
    spark = raw.get("spark") or {}
    if not isinstance(spark, dict) or set(spark) - SPARK_KEYS:
        raise DatasetSpecError(
            f"dataset spec {path.name}: 'spark:' takes {sorted(SPARK_KEYS)} "
            f"(e.g. master: local[2]), not {spark!r}"
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
        engine=engine,
        spark=dict(spark),
    )


def load_spec(path: str | Path | None = None) -> DatasetSpec:
    """Read a dataset spec YAML.

    Parameters
    ----------
    path : str or Path, optional
        The spec file. None -> the bundled sample, ``data/sample/dataset.yaml``.

    Returns
    -------
    DatasetSpec

    Raises
    ------
    DatasetSpecError
        The file is missing, is not valid YAML, or has unknown or missing keys; the message
        says which.
    """
    return parse_spec(Path(path) if path is not None else SAMPLE_SPEC)
