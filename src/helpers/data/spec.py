"""Dataset specs: the YAML that says where a bank's files are and what their columns mean.

A spec (read with a safe loader: it cannot run code) names each table's file and maps the
bank's column names to Fishpond's canonical names (``docs/architecture.md`` §1-2), or, in flat
mode, maps one customer table's columns to roles. :func:`load_spec` parses it and checks every
key and the shape of every value at once; a problem names its full path in the spec
(``roles.products.phone.held``), so the analyst knows which line to edit.

YAML 1.1 turns unquoted ``Yes``, ``No``, ``On`` and ``Off`` into booleans, so a value list
``churned: [Yes]`` would never match the data's ``"Yes"``. The spec loader follows YAML 1.2
instead: only ``true`` and ``false`` are booleans, and ``Yes``/``No``/``On``/``Off`` stay the
text that was written (what an analyst copying values from the data means).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from helpers.data.problems import TABLE_COLUMNS
from helpers.data.spec_checks import (
    DatasetSpecError,
    SpecChecker,
    check_columns,
    check_reader_options,
    check_roles,
    check_tiers,
)
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
#: Default share of a table's rows that quarantine may set aside before the load fails.
DEFAULT_MAX_QUARANTINE_SHARE = 0.05


class _SpecLoader(yaml.SafeLoader):
    """Safe loader with YAML 1.2 booleans: only true/false; Yes/No/On/Off stay text."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def read_spec_yaml(text: str):
    """Parse spec YAML text with the spec loader (safe; YAML 1.2 booleans)."""
    return yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass


# --------------------------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------------------------


@dataclass
class TableSpec:
    """How to read one table: file(s), format, encoding, reader options, column mapping.

    Attributes
    ----------
    name : str
        Canonical table name (``customers``, ..., or ``flat``).
    path : Path
        The (first) file; absolute (relative paths in the YAML resolve against the spec's
        folder).
    format : {"csv", "parquet", "excel"}
    encoding : str
        ``auto`` (UTF-8 with or without BOM, then GB18030) or a codec name.
    options : dict
        Reader options: ``sep``, ``header``, ``skiprows``, ``skip_after_header``, ``sheet``,
        ``decimal``, ``thousands``, ``na_values``, ``date_format``, ``dayfirst``.
    columns : dict
        Canonical name -> source column name. Canonical columns not listed are read under
        their own name if the file has them.
    value_maps : dict
        Canonical name -> {source value: canonical value} (panel ``{column, map}`` entries).
    paths : list of Path
        Every file read as this one table, in order (a list or a glob in the spec: one file
        per month, say). ``[path]`` for one file.
    pattern : str or None
        The glob as written, when ``path`` was one.
    """

    name: str
    path: Path
    format: str = "csv"
    encoding: str = "auto"
    options: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    value_maps: dict = field(default_factory=dict)
    paths: list = field(default_factory=list)
    pattern: str | None = None

    def __post_init__(self) -> None:
        if not self.paths:
            self.paths = [self.path]

    def source_of(self, canonical: str) -> str:
        """Source column name for a canonical column (itself when not mapped)."""
        return self.columns.get(canonical, canonical)

    @property
    def label(self) -> str:
        """File name(s) for messages: ``customers.csv`` or ``balances_*.csv (24 files)``."""
        if self.pattern is not None:
            return f"{Path(self.pattern).name} ({len(self.paths)} files)"
        if len(self.paths) > 1:
            return f"{self.paths[0].name} ... {self.paths[-1].name} ({len(self.paths)} files)"
        return self.path.name


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
        Where quarantined rows go (always inside the spec's folder); None -> a ``quarantine``
        folder next to the spec.
    path : Path or None
        The spec file (None for in-memory datasets).
    currency : str
        ISO 4217 code of the amounts (``CNY`` by default).
    money_unit : float
        How many currency units one amount in the files is (1 by default; 10000 for amounts
        in 万元, 1000 for thousands). Amounts are multiplied by it when loaded, so canonical
        tables are always in whole currency units.
    tiers : list of dict or None
        The bank's own tier ladder (``code``, ``name_zh``, ``name_en``, ``lower``).
    engine : {"duckdb", "spark"}
        Where the feature SQL runs: embedded DuckDB (default) or Apache Spark
        (``docs/scale.md``).
    spark : dict
        With ``engine: spark``: ``master`` (e.g. ``local[2]``, ``yarn``, ``k8s://...``;
        default ``local[2]``) and ``config`` (Spark settings, e.g.
        ``spark.executor.memory: 8g``).
    max_quarantine_share : float
        Quarantine may set aside at most this share of a table's rows (default 0.05); beyond
        it, or when no row is left, the load fails.
    """

    name: str
    mode: str = "panel"
    tables: dict[str, TableSpec] = field(default_factory=dict)
    roles: dict = field(default_factory=dict)
    on_invalid: str = "fail"
    quarantine_dir: Path | None = None
    path: Path | None = None
    currency: str = "CNY"
    money_unit: float = 1.0
    tiers: list | None = None
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE
    engine: str = "duckdb"
    spark: dict = field(default_factory=dict)

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path is not None else None

    def files(self) -> list[Path]:
        """The source files the spec names, table by table."""
        return [path for table in self.tables.values() for path in table.paths]


READER_OPTIONS = ("sep", "header", "skiprows", "skip_after_header", "sheet", "decimal",
                  "thousands", "na_values", "date_format", "dayfirst")  # fmt: skip
TABLE_KEYS_ALLOWED = {"path", "format", "encoding", "columns", *READER_OPTIONS}
SPEC_KEYS = {"name", "mode", "tables", "table", "roles", "on_invalid", "quarantine_dir",
             "description", "currency", "money_unit", "tiers",
             "max_quarantine_share", "engine", "spark"}  # fmt: skip
ENGINES = ("duckdb", "spark")
SPARK_KEYS = {"master", "config"}
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xlsm": "excel"}  # fmt: skip
_GLOB_CHARACTERS = set("*?[")


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _resolve_paths(raw_path, base_dir: Path, where: str, check: SpecChecker):
    """(paths, pattern) from a path, a glob or a list of paths; relative to the spec folder."""
    entries = raw_path if isinstance(raw_path, list) else [raw_path]
    if not entries or not all(isinstance(e, str) and e.strip() for e in entries):
        check.problem(f"{where}.path", "needs a file name, a glob such as 'balances_*.csv', "
                      "or a list of file names")  # fmt: skip
        return [], None
    paths: list[Path] = []
    pattern = None
    for entry in entries:
        path = Path(entry).expanduser()
        if not path.is_absolute():
            path = base_dir / path  # relative to the spec's folder, never the caller's cwd
        if _GLOB_CHARACTERS & set(entry):
            pattern = str(path)
            found = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
            # no match: keep the pattern as a path; loading then reports the missing file
            paths.extend(found or [path])
        else:
            paths.append(path)
    if pattern is not None and len(entries) > 1:
        pattern = None  # a list mixing globs and names: messages name the files
    return paths, pattern


def _table_spec(name: str, raw, base_dir: Path, where: str, check: SpecChecker, mode: str):
    if isinstance(raw, str | list):
        raw = {"path": raw}
    if not isinstance(raw, dict) or "path" not in raw:
        check.problem(where, "needs at least 'path: <file>'")
        return None
    check.unknown_keys(raw, TABLE_KEYS_ALLOWED, where)
    paths, pattern = _resolve_paths(raw["path"], base_dir, where, check)
    if not paths:
        return None
    file_format = raw.get("format") or FORMATS.get(paths[0].suffix.lower())
    if file_format not in {"csv", "parquet", "excel"}:
        check.problem(
            f"{where}.format",
            f"cannot tell the format of {paths[0].name!r}; add 'format: csv|parquet|excel'",
        )
        return None
    columns: dict = {}
    value_maps: dict = {}
    if "columns" in raw:
        if mode == "flat":
            check.problem(f"{where}.columns", "flat mode maps its columns under roles:, "
                          "not under table.columns")  # fmt: skip
        else:
            known = [c.name for c in TABLE_COLUMNS[name]]
            columns, value_maps = check_columns(raw["columns"], known, f"{where}.columns", check)
    options = check_reader_options(raw, where, check)
    encoding = raw.get("encoding", "auto")
    if not isinstance(encoding, str):
        check.problem(f"{where}.encoding", "must be auto or a codec name such as gb18030")
        encoding = "auto"
    return TableSpec(
        name=name,
        path=paths[0],
        format=file_format,
        encoding=encoding,
        options=options,
        columns=columns,
        value_maps=value_maps,
        paths=paths,
        pattern=pattern,
    )


def _quarantine_folder(raw, base_dir: Path, check: SpecChecker) -> Path | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        check.problem("quarantine_dir", "must be a folder name under the spec's folder")
        return None
    folder = (base_dir / Path(raw).expanduser()).resolve()
    if not folder.is_relative_to(base_dir.resolve()):
        check.problem(
            "quarantine_dir",
            f"{raw!r} is outside the spec's folder {base_dir}; quarantined rows are customer "
            "data, so they stay under the spec's folder (e.g. quarantine_dir: quarantine)",
        )
        return None
    return folder


def _number(raw: dict, key: str, default: float, check: SpecChecker, low, high, words: str):
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        check.problem(key, f"must be a number ({words}), not {value!r}")
        return default
    if not (low(value) and high(value)):
        check.problem(key, f"must be {words}, not {value!r}")
        return default
    return float(value)


def parse_spec(path: Path) -> DatasetSpec:
    """Read and check a spec file; see :func:`load_spec`."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DatasetSpecError(f"dataset spec not found: {path}")
    try:
        raw = read_spec_yaml(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DatasetSpecError(f"dataset spec {path} is not valid UTF-8 YAML: {error}") from None
    if not isinstance(raw, dict):
        raise DatasetSpecError(f"dataset spec {path} must be a YAML mapping (name:, mode:, ...)")
    check = SpecChecker(path.name)
    check.unknown_keys(raw, SPEC_KEYS, "")
    mode = raw.get("mode", "panel")
    if mode not in {"panel", "flat"}:
        check.problem("mode", f"must be panel or flat, not {mode!r}")
        check.raise_if_any()
    on_invalid = raw.get("on_invalid", "fail")
    if on_invalid not in {"fail", "quarantine"}:
        check.problem("on_invalid", f"must be fail or quarantine, not {on_invalid!r}")
    base_dir = path.parent
    tables: dict[str, TableSpec] = {}
    roles: dict = {}
    if mode == "panel":
        raw_tables = raw.get("tables")
        if "table" in raw or "roles" in raw:
            check.problem("table" if "table" in raw else "roles",
                          "belongs to flat mode; panel mode lists its files under tables:")  # fmt: skip
        if not isinstance(raw_tables, dict) or not raw_tables:
            check.problem("tables", "panel mode needs 'tables:' (customers, monthly_balances, ...)")
            check.raise_if_any()
        for name, table_raw in raw_tables.items():
            if name not in PANEL_TABLES:
                check.unknown_keys({name: None}, set(PANEL_TABLES), "tables", what="table")
                continue
            table = _table_spec(name, table_raw, base_dir, f"tables.{name}", check, mode)
            if table is not None:
                tables[name] = table
        missing = [t for t in REQUIRED_PANEL_TABLES if t not in raw_tables]
        if missing:
            check.problem("tables", f"panel mode needs the tables {missing}")
    else:
        if "tables" in raw:
            check.problem("tables", "belongs to panel mode; flat mode names one file under table:")
        if "table" not in raw:
            check.problem("table", "flat mode needs 'table:' (the customer file)")
        else:
            table = _table_spec(FLAT_TABLE, raw["table"], base_dir, "table", check, mode)
            if table is not None:
                tables[FLAT_TABLE] = table
        roles = check_roles(raw.get("roles"), check)
    currency = raw.get("currency", "CNY")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        check.problem("currency", f"must be an ISO 4217 code such as CNY, EUR or USD, "
                      f"not {currency!r}")  # fmt: skip
        currency = "CNY"
    money_unit = _number(raw, "money_unit", 1.0, check, lambda v: v > 0, lambda v: True,
                         "a positive number: 1, or 10000 for amounts in 万元")  # fmt: skip
    share = _number(raw, "max_quarantine_share", DEFAULT_MAX_QUARANTINE_SHARE, check,
                    lambda v: v >= 0, lambda v: v <= 1, "a share between 0 and 1, e.g. 0.05")  # fmt: skip
    tiers = check_tiers(raw.get("tiers"), check) if "tiers" in raw else None
    if tiers and mode == "flat" and isinstance(roles.get("tier"), dict):
        mapped = roles["tier"].get("map") or {}
        codes = {tier["code"] for tier in tiers}
        unknown = sorted({str(v) for v in mapped.values()} - codes)
        if unknown:
            check.problem("roles.tier.map", f"maps to {unknown}, which are not codes of tiers: "
                          f"{sorted(codes)}")  # fmt: skip
    engine = raw.get("engine", "duckdb")
    if engine not in ENGINES:
        check.problem("engine", f"must be duckdb or spark, not {engine!r}")
    spark = raw.get("spark") or {}
    if not isinstance(spark, dict) or set(spark) - SPARK_KEYS:
        check.problem("spark", f"takes {sorted(SPARK_KEYS)} (e.g. master: local[2]), not {spark!r}")
        spark = {}
    quarantine_dir = _quarantine_folder(raw.get("quarantine_dir"), base_dir, check)
    name = raw.get("name") or path.parent.name
    check.raise_if_any()
    return DatasetSpec(
        name=str(name),
        mode=mode,
        tables=tables,
        roles=roles,
        on_invalid=on_invalid,
        quarantine_dir=quarantine_dir,
        path=path,
        currency=currency.upper(),
        money_unit=money_unit,
        tiers=tiers,
        max_quarantine_share=share,
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
        The file is missing or is not valid YAML, or keys are unknown, missing or of the
        wrong shape; the message lists every problem with its full path in the spec.
    """
    return parse_spec(Path(path) if path is not None else SAMPLE_SPEC)
