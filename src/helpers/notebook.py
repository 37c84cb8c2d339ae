"""Notebook side of a run: the context every notebook's setup cell starts.

:func:`start` loads and validates the dataset, resolves the report month, seeds the random
generators and knows where this run's artifacts go (the ``artifacts_dir`` parameter the batch
injects; a scratch folder in JupyterLab). The monthly summary and the runner's index read what
notebooks write here, so the formats are fixed: tables as Parquet, KPIs as
``kpis_<notebook>.json``, RM lists as CSV (UTF-8 with BOM, so Excel on a Chinese Windows PC
shows the characters) plus .xlsx.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n, privacy
from helpers.data import load_dataset
from helpers.formatting import kpi
from helpers.files import atomic_write
from helpers.months import check_month
from helpers.paths import SAMPLE_SPEC, SCRATCH_DIR
from helpers.provenance import git_commit, package_versions


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
        return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

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
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def save_list(self, frame: pd.DataFrame, name: str) -> tuple[Path, Path]:
        """Write an RM list as CSV (UTF-8 with BOM) and .xlsx, with PII masked."""
        masked = privacy.mask_frame(frame)
        csv_path = atomic_write(
            self.artifacts / f"{name}.csv",
            lambda tmp: masked.to_csv(tmp, index=False, encoding="utf-8-sig"),
        )
        xlsx_path = atomic_write(
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
    i18n.check_lang(lang)
    if month:
        check_month(month)
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
