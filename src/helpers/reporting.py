"""Notebook-side reporting: run context, artifacts, formatted tables, provenance.

Every notebook's setup cell calls :func:`start`, which loads and validates the dataset,
resolves the report month, seeds the random generators and knows where this run's artifacts
go (the ``artifacts_dir`` parameter the batch injects; a scratch folder in JupyterLab). The
monthly summary and the runner's index read what notebooks write here, so the formats are
fixed: tables as Parquet, KPIs as ``kpis_<notebook>.json``, RM lists as CSV (UTF-8 with BOM,
so Excel on a Chinese Windows PC shows the characters) plus .xlsx.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n, privacy
from helpers.paths import SAMPLE_SPEC, SCRATCH_DIR
from helpers.provenance import git_commit, package_versions  # noqa: F401 (re-exported)

KPI_UNITS = ("count", "rmb", "pct", "ratio", "months")


# ----------------------------------------------------------------------------- formatting
def round_half_up(value: float, decimals: int = 0) -> Decimal:
    """Round like a bank (half up), not like Python (half to even): 340.25 -> 340.3."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)


def format_number(value: Any, decimals: int = 0) -> str:
    """Thousands separators and half-up rounding; blanks for missing values."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    try:
        return f"{round_half_up(float(value), decimals):,.{decimals}f}"
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def format_pct(value: Any, decimals: int = 1) -> str:
    """A share (0.1234) as a percentage with half-up rounding ("12.3%")."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{format_number(float(value) * 100, decimals)}%"


def show(
    frame: pd.DataFrame,
    money: list[str] | tuple[str, ...] = (),
    pct: list[str] | tuple[str, ...] = (),
    ints: list[str] | tuple[str, ...] = (),
    decimals: int = 0,
    lang: str | None = None,
    index: bool = False,
    caption: str | None = None,
):
    """Return a styled table for display: money with thousands separators, shares as %.

    Parameters
    ----------
    frame : DataFrame
    money : columns shown as amounts with ``decimals`` decimals, half-up rounded.
    pct : columns holding shares (0-1) shown as percentages with one decimal.
    ints : columns shown as whole numbers with thousands separators.
    lang : when given, column names that are label keys (``helpers.i18n``) are translated.
    index : show the index (default hidden).
    caption : optional table caption.
    """
    formatters: dict[str, Any] = {}
    for column in money:
        formatters[column] = lambda v, d=decimals: format_number(v, d)
    for column in pct:
        formatters[column] = format_pct
    for column in ints:
        formatters[column] = lambda v: format_number(v, 0)
    missing = [column for column in formatters if column not in frame.columns]
    if missing:
        raise KeyError(f"show(): columns not in the table: {missing}")
    display_frame = frame
    if lang is not None:
        renames = {c: i18n.t(c, lang) for c in frame.columns if isinstance(c, str)}
        formatters = {renames.get(c, c): f for c, f in formatters.items()}
        display_frame = frame.rename(columns=renames)
    styler = display_frame.style.format(formatters, na_rep="")
    numeric = [c for c in display_frame.columns if pd.api.types.is_numeric_dtype(display_frame[c])]
    styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler


# ----------------------------------------------------------------------------- atomic files
def _atomic_write(path: Path, write) -> Path:
    """Write through ``write(tmp_path)`` into a temporary sibling, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def kpi(key: str, value: float, unit: str = "count", headline: bool = False) -> dict:
    """One KPI record with zh/en labels from ``helpers.i18n``."""
    if unit not in KPI_UNITS:
        raise ValueError(f"KPI unit must be one of {KPI_UNITS}, not {unit!r}")
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return {
        "key": key,
        "label_zh": i18n.t(key, "zh"),
        "label_en": i18n.t(key, "en"),
        "value": None if value is None or (isinstance(value, float) and np.isnan(value)) else value,
        "unit": unit,
        "headline": bool(headline),
    }


def format_kpi(value: Any, unit: str) -> str:
    """A KPI value as text by its unit: amounts and counts with separators, shares as %."""
    if unit == "pct":
        return format_pct(value)
    if unit == "ratio":
        return format_number(value, 2)
    if unit == "months":
        return format_number(value, 1)
    return format_number(value, 0)


def kpi_table(records: list[dict], lang: str = "zh") -> pd.DataFrame:
    """KPI records as a two-column display table (label, formatted value)."""
    label = "label_zh" if lang == "zh" else "label_en"
    return pd.DataFrame(
        {
            i18n.t("kpi_indicator", lang): [r[label] for r in records],
            i18n.t("kpi_value", lang): [format_kpi(r["value"], r["unit"]) for r in records],
        }
    )


def read_kpis(artifacts: str | Path, notebook: str) -> dict | None:
    """Read ``kpis_<notebook>.json`` from an artifacts folder; None when absent."""
    path = Path(artifacts) / f"kpis_{notebook}.json"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# ----------------------------------------------------------------------------- run context
@dataclass
class RunContext:
    """What a notebook knows about its run. Created by :func:`start`."""

    notebook: str
    dataset: Any
    month: str | None
    lang: str
    artifacts: Path
    seed: int
    params: dict
    spec_path: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def rng(self) -> np.random.Generator:
        """A fresh generator seeded with the run's seed (same inputs, same results)."""
        return np.random.default_rng(self.seed)

    @property
    def flat(self) -> bool:
        return getattr(self.dataset, "mode", "panel") == "flat"

    def t(self, key: str, **values: object) -> str:
        """Label in the run's language."""
        return i18n.t(key, self.lang, **values)

    def save_table(self, frame: pd.DataFrame, name: str) -> Path:
        """Write ``frame`` as ``<artifacts>/<name>.parquet`` (atomically)."""
        path = self.artifacts / f"{name}.parquet"
        return _atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

    def save_kpis(self, kpis: list[dict] | dict) -> Path:
        """Write this notebook's KPIs to ``kpis_<notebook>.json``.

        ``kpis`` is a list of :func:`kpi` records, or a dict ``key -> value`` (unit "count")
        or ``key -> {"value":..., "unit":..., "headline":...}``.
        """
        if isinstance(kpis, dict):
            records = []
            for key, value in kpis.items():
                if isinstance(value, dict):
                    records.append(kpi(key, **value))
                else:
                    records.append(kpi(key, value))
        else:
            records = list(kpis)
        payload = {"notebook": self.notebook, "month": self.month, "kpis": records}
        path = self.artifacts / f"kpis_{self.notebook}.json"
        text = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
        return _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def save_list(self, frame: pd.DataFrame, name: str) -> tuple[Path, Path]:
        """Write an RM list as CSV (UTF-8 with BOM) and .xlsx, with PII masked."""
        masked = privacy.mask_frame(frame)
        csv_path = _atomic_write(
            self.artifacts / f"{name}.csv",
            lambda tmp: masked.to_csv(tmp, index=False, encoding="utf-8-sig"),
        )
        xlsx_path = _atomic_write(
            self.artifacts / f"{name}.xlsx",
            lambda tmp: masked.to_excel(tmp, index=False, engine="openpyxl"),
        )
        return csv_path, xlsx_path

    def note(self, key: str, **values: object):
        """A highlighted markdown note (e.g. what flat mode skipped) in the run's language."""
        from IPython.display import Markdown

        return Markdown(f"> **{'说明' if self.lang == 'zh' else 'Note'}:** {self.t(key, **values)}")

    def provenance(self) -> pd.DataFrame:
        """Run provenance for the last cell: parameters, data fingerprint, versions, git SHA."""
        rows: list[tuple[str, str]] = [
            ("notebook", self.notebook),
            ("dataset", getattr(self.dataset, "name", "?")),
            ("dataset_spec", self.spec_path),
            ("month", str(self.month)),
            ("lang", self.lang),
            ("seed", str(self.seed)),
        ]
        rows += [(f"param.{k}", repr(v)) for k, v in sorted(self.params.items())]
        fingerprint = getattr(self.dataset, "fingerprint", None)
        if callable(fingerprint):
            info = fingerprint()
            for entry in info.get("files", []):
                rows.append((f"file.{Path(entry['path']).name}", str(entry.get("sha256", ""))[:16]))
        rows += [(f"version.{k}", v) for k, v in package_versions().items()]
        rows += [
            ("git_commit", git_commit()),
            ("started_utc", self.started.isoformat(timespec="seconds")),
            ("finished_utc", datetime.now(UTC).isoformat(timespec="seconds")),
        ]
        return pd.DataFrame(rows, columns=["item", "value"])


def start(
    notebook: str,
    dataset: str = "",
    month: str = "",
    lang: str = "zh",
    artifacts_dir: str = "",
    seed: int = 0,
    params: dict | None = None,
) -> RunContext:
    """Begin a notebook run: check parameters, load and validate data, seed, find artifacts.

    Parameters
    ----------
    notebook : the notebook's name, e.g. ``"01_tiering"``.
    dataset : dataset spec YAML path; ``""`` means the bundled sample.
    month : report month ``YYYY-MM``; ``""`` means the latest month in the data.
    lang : ``"zh"`` or ``"en"``.
    artifacts_dir : where to write artifacts; ``""`` means the scratch folder (JupyterLab).
    seed : seed for numpy's and Python's global generators and ``ctx.rng``.
    params : the notebook's own parameters, recorded in the provenance.

    Raises
    ------
    ValueError
        For a bad parameter (wrong language, malformed month, month not in the data), with a
        message that says what was expected.
    """
    import re

    from helpers.datasets import load_dataset

    i18n.check_lang(lang)
    if month and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month must look like 2026-10, not {month!r}")
    spec_path = str(Path(dataset).resolve()) if dataset else str(SAMPLE_SPEC)
    data = load_dataset(spec_path)
    resolved_month: str | None = month or None
    if data.mode == "panel":
        available = data.months()
        resolved_month = month or data.latest_month()
        if resolved_month not in available:
            raise ValueError(
                f"month {resolved_month} is not in the data; available months: "
                f"{available[0]} to {available[-1]}"
            )
    random.seed(seed)
    np.random.seed(seed % 2**32)
    artifacts = Path(artifacts_dir).resolve() if artifacts_dir else SCRATCH_DIR / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    return RunContext(
        notebook=notebook,
        dataset=data,
        month=resolved_month,
        lang=lang,
        artifacts=artifacts,
        seed=seed,
        params=dict(params or {}),
        spec_path=spec_path,
    )
