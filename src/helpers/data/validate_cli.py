"""``fishpond validate``: the truth about a dataset before a run.

It prints every problem at once (table, column, rows, values, what was expected), what
quarantine would set aside (it never writes: only ``fishpond run`` writes quarantine files),
advice that offers quarantine only when it would help, and, for valid data, the readiness of
each notebook (will run / reduced / not applicable, in words; invalid data runs nothing). Exit code 0 when the data is valid, 1 when
not; never a traceback.
"""

from __future__ import annotations

from helpers.data.readers import open_dataset
from helpers.data.readiness import readiness
from helpers.data.schema import validate_dataset
from helpers.data.spec import load_spec
from helpers.data.spec_checks import DatasetSpecError


def cli_validate(args) -> int:
    """``fishpond validate [--dataset SPEC]``: print a readable report; 0 if valid, 1 if not.

    Never shows a traceback: a missing, empty or undecodable file, a bad spec or bad data all
    give a plain message and exit code 1. Nothing is written.
    """
    spec_path = getattr(args, "dataset", None)
    try:
        spec = load_spec(spec_path)
        dataset = open_dataset(spec)
        report = validate_dataset(dataset)
    except DatasetSpecError as error:
        print(f"Dataset spec problem: {error}")
        return 1
    except Exception as error:  # last resort: an analyst gets a sentence, not a traceback
        print(f"Could not validate the dataset ({type(error).__name__}): {error}")
        return 1
    print(f"Dataset {spec.name!r} ({spec.mode} mode) from {spec.path}")
    if spec.currency != "CNY" or spec.money_unit != 1.0:
        print(f"Amounts: {spec.currency}, file amounts x {spec.money_unit:g}")
    if dataset.mode == "panel":
        months = _months(dataset) if report.ok else []
        if months:
            print(f"Months: {months[0]} to {months[-1]} ({len(months)} months)")
    for table, rows in _row_counts(dataset).items():
        print(f"  {table}: {rows:,} rows")
    print(str(report))
    if report.ok:
        _print_readiness(dataset)
        print("Valid.")
        return 0
    print(report.advice())
    return 1


def _print_readiness(dataset) -> None:
    try:
        table = readiness(dataset)
    except Exception as error:  # readiness must not hide the validation result
        print(f"(notebook readiness unavailable: {error})")
        return
    if table.empty:
        return
    print("Notebooks on this data:")
    width = max(len(name) for name in table["notebook"])
    for row in table.itertuples(index=False):
        print(f"  {row.notebook:<{width}}  {row.detail}")


def _months(dataset) -> list[str]:
    try:
        return dataset.months()
    except Exception:  # a broken month column is reported by the table checks
        return []


def _row_counts(dataset) -> dict[str, int]:
    try:
        return dataset.fingerprint()["rows"]
    except Exception:  # counting must not hide the real problems
        return {}
