"""Reading, checking and loading a bank's dataset (spec, readers, flat mode, schema).

This face is the package's only public import: ``from helpers import data``.
"""

from helpers.data.convert import (
    DAYS_PER_MONTH,
    FALSE_WORDS,
    TRUE_WORDS,
    convert_column,
)
from helpers.data.dataset import (
    Dataset,
)
from helpers.data.flat import (
    build_flat,
    snake_case,
)
from helpers.data.load import (
    load_dataset,
)
from helpers.data.problems import (
    ABSURD_AMOUNT,
    AUM_PARTS,
    DATE_ORDER,
    EARLIEST_DATE,
    KIND_WORDS,
    MAX_EXAMPLES,
    PROBLEM_COLUMNS,
    REFERENCING_TABLES,
    TABLE_COLUMNS,
    TABLE_KEYS,
    Col,
    DataValidationError,
    Problem,
    ValidationReport,
    flat_columns,
    problems_frame,
    render_problems,
)
from helpers.data.quarantine import (
    quarantine_folder,
    write_quarantine,
)
from helpers.data.readers import (
    ReadFailure,
    canonical_frame,
    open_dataset,
    read_raw,
)
from helpers.data.readiness import (
    notebook_roles,
    readiness,
    role_words,
)
from helpers.data.schema import (
    validate_dataset,
)
from helpers.data.schema_pandas import (
    check_frame,
    kind_matches,
)
from helpers.data.schema_sql import (
    check_parquet_table,
    sql_type_matches,
)
from helpers.data.spec import (
    ALL_ROLES,
    BIG_TABLES,
    DEFAULT_MAX_QUARANTINE_SHARE,
    FLAT_TABLE,
    FORMATS,
    ID_COLUMNS,
    PANEL_TABLES,
    READER_OPTIONS,
    REQUIRED_PANEL_TABLES,
    SPEC_KEYS,
    TABLE_KEYS_ALLOWED,
    DatasetSpec,
    TableSpec,
    load_spec,
    parse_spec,
)
from helpers.data.spec_checks import (
    ROLE_KEYS,
    DatasetSpecError,
)
from helpers.data.validate_cli import (
    cli_validate,
)

__all__ = [
    "ALL_ROLES",
    "BIG_TABLES",
    "DEFAULT_MAX_QUARANTINE_SHARE",
    "EARLIEST_DATE",
    "FLAT_TABLE",
    "FORMATS",
    "ID_COLUMNS",
    "PANEL_TABLES",
    "READER_OPTIONS",
    "REQUIRED_PANEL_TABLES",
    "ROLE_KEYS",
    "SPEC_KEYS",
    "TABLE_KEYS_ALLOWED",
    "DatasetSpec",
    "DatasetSpecError",
    "load_spec",
    "parse_spec",
    "TableSpec",
    "ABSURD_AMOUNT",
    "AUM_PARTS",
    "DATE_ORDER",
    "KIND_WORDS",
    "MAX_EXAMPLES",
    "PROBLEM_COLUMNS",
    "REFERENCING_TABLES",
    "TABLE_COLUMNS",
    "TABLE_KEYS",
    "Col",
    "DataValidationError",
    "flat_columns",
    "Problem",
    "problems_frame",
    "render_problems",
    "ValidationReport",
    "DAYS_PER_MONTH",
    "FALSE_WORDS",
    "TRUE_WORDS",
    "convert_column",
    "build_flat",
    "snake_case",
    "Dataset",
    "canonical_frame",
    "open_dataset",
    "read_raw",
    "ReadFailure",
    "check_frame",
    "kind_matches",
    "check_parquet_table",
    "sql_type_matches",
    "cli_validate",
    "validate_dataset",
    "load_dataset",
    "notebook_roles",
    "readiness",
    "role_words",
    "quarantine_folder",
    "write_quarantine",
]
