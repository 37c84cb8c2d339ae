"""Notebook side of a run: the context every notebook's setup cell starts.

:func:`start` loads and validates the dataset, resolves the report month, seeds the random
generators and knows where this run's artifacts go (the ``artifacts_dir`` parameter the batch
injects; a scratch folder in JupyterLab). The monthly summary and the runner's index read what
notebooks write here, so the formats are fixed: tables as Parquet, KPIs as
``kpis_<notebook>.json``, RM lists as CSV (UTF-8 with BOM, so Excel on a Chinese Windows PC
shows the characters) plus .xlsx.
"""

from __future__ import annotations

import fcntl
import json
import random
import resource
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import config, exports, features, formatting, i18n, paths, plotting, privacy
from helpers.data import load_dataset
from helpers.data.run_record import ThreadBudget, run_cache_dir
from helpers.files import atomic_write, write_text_atomic
from helpers.formatting import Bullets, Note, Skipped, kpi_table
from helpers.months import check_month
from helpers.parameters import declared_parameters, registry
from helpers.provenance import git_commit, package_versions

#: The run's model-quality artifact and its columns (``RunContext.save_metrics``).
METRICS_FILE = "model_metrics.csv"
METRIC_COLUMNS = ("notebook", "target", "model", "chosen", "metric", "value", "lower", "upper", "n")


@contextmanager
def _locked(lock_path: Path):
    """An exclusive lock on ``lock_path`` (POSIX ``flock``) for a read-modify-write."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- run context
@dataclass
class RunContext:
    """What a notebook knows about its run. Created by :func:`start`.

    The one dialect of every notebook: ``ctx.show(x)`` displays a table, figure, note or
    skipped step; ``ctx.save_table``, ``ctx.save_list`` and ``ctx.save_kpis`` write artifacts;
    ``ctx.say(key, ...)`` writes a sentence with this month's numbers; ``ctx.provenance()`` is
    the last cell.
    """

    notebook: str
    dataset: Any
    month: str | None
    lang: str
    artifacts: Path
    seed: int
    params: dict
    spec_path: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    upstream_used: dict = field(default_factory=dict)
    _shown: set = field(default_factory=set, repr=False)

    # ------------------------------------------------------------------ derived run values
    @property
    def rng(self) -> np.random.Generator:
        """A fresh generator seeded with the run's seed (same inputs, same results)."""
        return np.random.default_rng(self.seed)

    @property
    def flat(self) -> bool:
        return getattr(self.dataset, "mode", "panel") == "flat"

    @property
    def ladder(self) -> pd.DataFrame:
        """The pack's tier ladder, the same in every notebook.

        Precedence: the ``tier_thresholds`` parameter when set, else the spec's own ladder
        (``ds.spec_ladder()``: its ``tiers:``, names and currency), else the bundled default.
        (A mapped tier column still wins over any ladder for the customers' tiers.)
        """
        thresholds = self.params.get("tier_thresholds") or None
        if thresholds:
            return config.resolve_ladder(thresholds)
        spec_ladder = getattr(self.dataset, "spec_ladder", None)  # absent on stand-in datasets
        from_spec = spec_ladder() if callable(spec_ladder) else None
        return from_spec if from_spec is not None else config.resolve_ladder(None)

    @property
    def churn(self) -> config.ChurnDefinition:
        """The pack's churn definition (``churn_kind``, ``soft_*`` parameters, or the default)."""
        defaults = config.ChurnDefinition()
        return config.ChurnDefinition(
            kind=self.params.get("churn_kind", defaults.kind),
            soft_floor=float(self.params.get("soft_floor", defaults.soft_floor)),
            soft_drop=float(self.params.get("soft_drop", defaults.soft_drop)),
            soft_months=int(self.params.get("soft_months", defaults.soft_months)),
        )

    def t(self, key: str, **values: object) -> str:
        """Label in the run's language."""
        return i18n.t(key, self.lang, **values)

    def describe(self) -> pd.DataFrame:
        """What this run looks at: dataset, mode and report month, labelled in its language."""
        return pd.DataFrame(
            {
                "item": [self.t("item_dataset"), self.t("item_mode"), self.t("item_month")],
                "value": [
                    getattr(self.dataset, "name", "?"),
                    self.t(f"label.mode.{self.dataset.mode}"),
                    self.month or "-",
                ],
            }
        )

    # ------------------------------------------------------------------ showing
    def show(self, item: Any, **formats: Any) -> None:
        """Display one result: a table, a figure, a note, a skipped step, or a list of them.

        Tables (DataFrames) go through :func:`helpers.formatting.show` in the run's language
        (``money=``, ``pct=``, ``ints=``, ``decimals=``, ``caption=`` as there; every string is
        HTML-escaped). Figures and Axes are drawn once and closed. A :class:`Skipped` step is
        shown once per reason, however many later steps it skipped. ``None`` shows nothing.
        """
        from IPython.display import Markdown, display

        if item is None:
            return
        if isinstance(item, (list, tuple)) and all(
            isinstance(x, (Note, Skipped, type(None))) for x in item
        ):
            for element in item:
                self.show(element)
            return
        if isinstance(item, Skipped):
            if item in self._shown:
                return
            self._shown.add(item)
            display(Markdown(self._callout(self._literal_text(item.key, item.values))))
            return
        if isinstance(item, Note):
            display(Markdown(self._callout(self._literal_text(item.key, item.values))))
            return
        if isinstance(item, Bullets):
            display(Markdown(item.markdown()))
            return
        if isinstance(item, pd.DataFrame):
            display(formatting.show(item, lang=self.lang, **formats))
            return
        figure = getattr(item, "figure", None) or getattr(item, "get_figure", lambda: None)()
        if figure is None and hasattr(item, "savefig"):
            figure = item
        if figure is not None:
            self._show_figure(figure)
            return
        display(item)

    def _show_figure(self, figure) -> None:
        """Draw a figure once as PNG with alt text, its codes translated, then close it."""
        import io

        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        plotting.plain_number_axes(figure)
        plotting.translate_figure(figure, lambda text: formatting.translate_code(text, self.lang))
        # The chart's titles become the image's alt text (the page template escapes it),
        # taken after the codes in them became words.
        alt = plotting.chart_description(figure, self.lang) or self.t("fmt_chart")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(figure)
        display(Image(data=buffer.getvalue(), format="png"), metadata={"image/png": {"alt": alt}})

    def _callout(self, text: str) -> str:
        label = "说明" if self.lang == "zh" else "Note"
        return f"> **{label}:** {text}"

    def _literal_text(self, key: str, values: dict) -> str:
        """A label with its values filled in as literal text: markup in the label is kept,
        anything in a value from data or a spec (HTML, Markdown links) shows as typed."""
        words = {k: formatting.translate_code(v, self.lang) for k, v in values.items()}
        literal = {k: formatting.markdown_literal(v) for k, v in words.items()}
        return formatting.escape_markdown(self.t(key, **literal))

    def note(self, key: str, **values: object) -> None:
        """Show a highlighted remark (a label key of ``helpers.i18n`` and its values)."""
        self.show(Note(key, **values))

    def say(self, key: str, **values: object) -> None:
        """Show a sentence of the narrative with this run's numbers filled in."""
        from IPython.display import Markdown, display

        display(Markdown(self._literal_text(key, values)))

    # ------------------------------------------------------------------ artifacts
    def save_table(self, frame: pd.DataFrame | Skipped | None, name: str) -> Path | None:
        """Write ``frame`` as ``<artifacts>/<name>.parquet`` (atomically); skipped: nothing."""
        if frame is None or isinstance(frame, Skipped):
            return None
        path = self.artifacts / f"{name}.parquet"
        return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

    def save_kpis(self, records: list[dict]) -> None:
        """Write this notebook's KPI records to ``kpis_<notebook>.json`` and show them.

        ``records`` come from the domain's KPI helper (:func:`helpers.formatting.kpi`
        records), never from a dict typed in the notebook.
        """
        records = list(records)
        payload = {"notebook": self.notebook, "month": self.month, "kpis": records}
        text = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
        write_text_atomic(self.artifacts / f"kpis_{self.notebook}.json", text)
        self.show(kpi_table(records, self.lang))

    def save_metrics(self, records: list[dict] | Skipped | None) -> Path | None:
        """Write this notebook's model-quality rows to ``<artifacts>/model_metrics.csv``.

        One file for the whole run (columns :data:`METRIC_COLUMNS`): the rows this notebook
        wrote before are replaced, other notebooks' rows are kept, so notebooks running in
        parallel each add their own (the read-modify-write holds a file lock). ``records``
        come from the domain's helper (e.g. ``survival.metric_records``); an empty list or a
        Skipped removes this notebook's rows.
        """
        rows = [] if records is None or isinstance(records, Skipped) else list(records)
        for row in rows:
            missing = [c for c in METRIC_COLUMNS if c not in row]
            if missing:
                raise ValueError(f"model metric record lacks {missing}: {row}")
        path = self.artifacts / METRICS_FILE
        new = pd.DataFrame(
            [{c: r[c] for c in METRIC_COLUMNS} for r in rows], columns=METRIC_COLUMNS
        )
        new["notebook"] = self.notebook
        with _locked(path.with_suffix(".lock")):
            old = (
                pd.read_csv(path, dtype={"notebook": str, "target": str})
                if path.is_file()
                else None
            )
            if old is not None:
                old = old[old["notebook"] != self.notebook]
            frames = [f for f in (old, new) if f is not None and len(f)]
            table = pd.concat(frames, ignore_index=True) if frames else new
            atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        return path

    def save_list(self, frame: pd.DataFrame | Skipped | None, name: str):
        """Write an RM list as CSV (UTF-8 with BOM) and .xlsx: PII masked, formulas inert."""
        if frame is None or isinstance(frame, Skipped):
            return None
        masked = privacy.mask_frame(frame)
        ready, number_formats = rm_ready(masked, self.lang, self.params.get("currency"))
        csv_path = exports.write_csv(ready, self.artifacts / f"{name}.csv")
        sheet = self.t(f"list_{name}") if f"list_{name}" in i18n.catalogue() else name
        xlsx_path = exports.write_xlsx(
            ready, self.artifacts / f"{name}.xlsx", sheet=sheet, number_formats=number_formats
        )
        write_text_atomic(
            self.artifacts / f"list_{name}.json",
            json.dumps(list_facts(frame, name, self.notebook), ensure_ascii=False, indent=2),
        )
        return csv_path, xlsx_path

    # ------------------------------------------------------------------ upstream notebooks
    def _run_record_path(self, notebook: str | None = None) -> Path:
        return self.artifacts / f"run_{notebook or self.notebook}.json"

    def _shared_parameters(self) -> dict:
        known = registry()
        return {k: v for k, v in self.params.items() if known[k].scope == "pack"}

    def upstream(self, notebook: str, name: str) -> pd.DataFrame | Skipped:
        """Read artifact ``name`` that notebook ``notebook`` wrote in this run.

        The artifact is used only when that notebook finished (its run record exists) for this
        month and dataset with the same pack-level parameters; otherwise the result is a
        :class:`Skipped` saying why, and the caller computes the value itself.
        """
        record_path = self._run_record_path(notebook)
        path = self.artifacts / f"{name}.parquet"
        if not record_path.is_file() or not path.is_file():
            return Skipped("nb_upstream_missing", notebook=notebook, name=name)
        record = json.loads(record_path.read_text(encoding="utf-8"))
        mine = self._shared_parameters()
        theirs = record.get("parameters", {})
        different = sorted(k for k in mine if k in theirs and theirs[k] != _jsonable(mine[k]))
        if record.get("month") != self.month or record.get("dataset") != self.spec_path:
            return Skipped("nb_upstream_other_run", notebook=notebook, name=name)
        if different:
            return Skipped(
                "nb_upstream_other_parameters", notebook=notebook, name=name,
                parameters=", ".join(different),
            )  # fmt: skip
        self.upstream_used[notebook] = record.get("run_id")
        return pd.read_parquet(path)

    # ------------------------------------------------------------------ provenance
    def provenance(self) -> None:
        """Last cell: record that this notebook finished and show its provenance table.

        Provenance lists every parameter of the notebook's ``parameters`` cell, the data
        fingerprint, package versions and the git commit. The run record
        (``run_<notebook>.json``) lets later notebooks trust this run's artifacts.
        """
        record = {
            "notebook": self.notebook,
            "run_id": self.run_id,
            "month": self.month,
            "dataset": self.spec_path,
            "parameters": {k: _jsonable(v) for k, v in self.params.items()},
            "upstream": self.upstream_used,
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            # the kernel's own peak memory, for the runner's manifest and bench_pack
            "peak_rss_bytes": _peak_rss_bytes(),
        }
        write_text_atomic(
            self._run_record_path(), json.dumps(record, ensure_ascii=False, indent=2, default=str)
        )
        from IPython.display import display

        # Literals on purpose (parameter values as passed, versions, hashes): marked so the
        # formatting scan and the translation of codes leave them alone.
        table = self.provenance_table().rename(
            columns={"item": self.t("item"), "value": self.t("value")}
        )
        styler = table.style.format(escape="html").hide(axis="index")
        display(styler.set_table_attributes('class="fp-literal fp-provenance"'))

    def provenance_table(self) -> pd.DataFrame:
        """Run provenance: parameters, data fingerprint, versions, git SHA."""
        rows: list[tuple[str, str]] = [
            ("notebook", self.notebook),
            ("dataset", getattr(self.dataset, "name", "?")),
            ("dataset_spec", self.spec_path),
            ("month", str(self.month)),
        ]
        rows += [(f"param.{k}", repr(v)) for k, v in sorted(self.params.items())]
        fingerprint = getattr(self.dataset, "fingerprint", None)
        if callable(fingerprint):
            # In a batch run the runner already hashed these exact files: no second pass over
            # a gigabyte of Parquet per notebook.
            info = features.run_fingerprint(self.dataset) or fingerprint()
            for entry in info.get("files", []):
                rows.append((f"file.{Path(entry['path']).name}", str(entry.get("sha256", ""))[:16]))
        rows += [(f"upstream.{k}", str(v)) for k, v in sorted(self.upstream_used.items())]
        rows += [(f"version.{k}", v) for k, v in package_versions().items()]
        rows += [
            ("git_commit", git_commit()),
            ("run_id", self.run_id),
            ("started_utc", self.started.isoformat(timespec="seconds")),
            ("finished_utc", datetime.now(UTC).isoformat(timespec="seconds")),
        ]
        return pd.DataFrame(rows, columns=["item", "value"])


#: How RM list columns read in Excel, by canonical name (others: by the rules in rm_ready).
MONEY_WORDS = ("aum", "clv", "value", "cost", "amount", "balance", "margin", "spend")
SHARE_WORDS = ("p_churn", "probability", "uplift", "share", "rate")


def _column_kind(column: str, series: pd.Series) -> str:
    name = str(column).lower()
    if name in formatting.ID_COLUMNS or name.endswith("_id"):
        return "id"
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series):
        return "text"
    if any(word in name for word in SHARE_WORDS):
        return "share"
    if name.endswith("score") and pd.to_numeric(series, errors="coerce").between(0, 1).all():
        return "share"  # a calibrated probability (the churn ranking model's)
    if any(word in name for word in MONEY_WORDS):
        return "money"
    return "int" if pd.api.types.is_integer_dtype(series.dtype) else "number"


def list_header(column: str, lang: str) -> str:
    """The header of an RM list column in ``lang`` (``list_col.<column>``, else its label)."""
    key = f"list_col.{column}"
    return i18n.t(key, lang) if key in i18n.catalogue() else formatting.column_label(column, lang)


def rm_ready(frame: pd.DataFrame, lang: str, currency: str | None = None):
    """An RM list as RMs read it, and the Excel number format of each column.

    Codes become words (tiers, stages, offers, products), booleans 是/否 (Yes/No), money is
    rounded to the fen and formatted with the currency symbol, shares (probabilities,
    uplifts) to 4 decimals and shown as percentages, ids stay text, headers are in ``lang``.
    """
    kinds = {column: _column_kind(column, frame[column]) for column in frame.columns}
    ready = formatting.translate_frame(frame, lang)
    for column, kind in kinds.items():
        series = ready[column]
        if pd.api.types.is_bool_dtype(series.dtype):
            ready[column] = series.map(lambda v: formatting.format_bool(v, lang))
        elif kind == "money":
            ready[column] = pd.to_numeric(series, errors="coerce").round(2)
        elif kind == "share":
            ready[column] = pd.to_numeric(series, errors="coerce").round(4)
        elif kind == "number":
            ready[column] = pd.to_numeric(series, errors="coerce").round(2)
    symbol = formatting.currency_symbol(currency).replace('"', "")
    excel = {
        "money": f'"{symbol}"#,##0.00',
        "share": "0.0%",
        "int": "#,##0",
        "number": "#,##0.00",
        "id": "@",
    }
    labels = {column: list_header(str(column), lang) for column in frame.columns}
    number_formats = {labels[c]: excel[k] for c, k in kinds.items() if k in excel}
    return ready.rename(columns=labels), number_formats


#: Amount columns of an RM list whose totals the index and the summary quote.
LIST_SUM_COLUMNS = (
    "aum", "aum_at_risk", "expected_value", "incremental_value", "net_value", "cost", "clv",
    "aum_avg_12m",
)  # fmt: skip


def list_facts(frame: pd.DataFrame, name: str, notebook: str) -> dict:
    """What the index says about an RM list: rows, customers, RMs and the totals of its
    amount columns (``list_<name>.json`` beside the CSV and Excel files)."""
    sums = {
        column: float(pd.to_numeric(frame[column], errors="coerce").sum())
        for column in LIST_SUM_COLUMNS
        if column in frame.columns
    }
    if "aum_before" in frame.columns and "aum" not in sums:
        sums["aum"] = float(pd.to_numeric(frame["aum_before"], errors="coerce").sum())
    return {
        "name": name,
        "notebook": notebook,
        "rows": int(len(frame)),
        "customers": int(frame["customer_id"].nunique()) if "customer_id" in frame else len(frame),
        "rms": int(frame["rm_id"].nunique()) if "rm_id" in frame else None,
        "sums": sums,
    }


def _peak_rss_bytes() -> int:
    """Peak resident memory of this process (the kernel) so far, in bytes (Linux: KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def notebook_path(notebook: str) -> Path:
    """The ``.ipynb`` file of a pack notebook."""
    return paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"


def read_parameters(notebook: str, namespace: dict) -> dict:
    """The notebook's parameters (names from its ``parameters`` cell) with their values.

    Names come from the committed notebook's parameters cell; when the file cannot be found
    (a copy outside the project), from the registry names present in ``namespace``. Values
    are checked against the registry (type, choices, range).

    Raises
    ------
    ValueError
        Naming every parameter that is missing, unknown or of the wrong type.
    """
    path = notebook_path(notebook)
    known = registry()
    names = declared_parameters(path) if path.is_file() else [n for n in known if n in namespace]
    problems = []
    values = {}
    for name in names:
        if name not in namespace:
            problems.append(f"{name} is not set (run the parameters cell first)")
            continue
        entry = known.get(name)
        if entry is None:
            problems.append(f"{name} is not a registered parameter (resources/parameters.yaml)")
            continue
        problem = entry.problem(namespace[name])
        if problem:
            problems.append(problem)
        values[name] = namespace[name]
    if problems:
        raise ValueError(f"{notebook}: bad parameters: " + "; ".join(problems))
    return values


def vocabulary_for(dataset) -> i18n.Vocabulary:
    """The data's words (:class:`helpers.i18n.Vocabulary`): currency from the spec (CNY by
    default), balances only with a monthly balance history, offers only with campaigns."""
    roles = set(dataset.roles()) if hasattr(dataset, "roles") else set()
    currency = getattr(dataset, "currency", None) or "CNY"  # the spec's currency option
    return i18n.Vocabulary(
        currency=str(currency).upper(),
        balances="balances_history" in roles,
        campaigns="campaigns" in roles,
    )


def start(notebook: str, namespace: dict) -> RunContext:
    """Begin a notebook run: check parameters, load and validate data, seed, find artifacts.

    Call it in the setup cell as ``ctx = notebook.start("01_tiering", globals())``: it reads
    every parameter of the notebook's ``parameters`` cell from ``namespace`` (so provenance
    lists them all), loads and validates the dataset, resolves the report month, seeds the
    random generators, sets the plot theme (CJK font registered) and knows where artifacts go.

    Raises
    ------
    ValueError
        For a bad parameter (wrong type, unknown language, malformed month, month not in the
        data), with a message that says what was expected.
    """
    params = read_parameters(notebook, namespace)
    dataset = str(params.get("dataset", ""))
    month = str(params.get("month", ""))
    lang = str(params.get("lang", "zh"))
    artifacts_dir = str(params.get("artifacts_dir", ""))
    i18n.check_lang(lang)
    if month:
        check_month(month)
    if params.get("tier_thresholds"):
        config.resolve_ladder(params["tier_thresholds"])  # a bad ladder fails here, clearly
    spec_path = str(Path(dataset).resolve()) if dataset else str(paths.SAMPLE_SPEC)
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
    seed = int(params.get("seed", 0))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    artifacts = (
        Path(artifacts_dir).resolve() if artifacts_dir else paths.scratch_dir() / "artifacts"
    )
    artifacts.mkdir(parents=True, exist_ok=True)
    context = RunContext(
        notebook=notebook,
        dataset=data,
        month=resolved_month,
        lang=lang,
        artifacts=artifacts,
        seed=seed,
        params=params,
        spec_path=spec_path,
    )
    # This notebook's artifacts are being rewritten: until the last cell, nobody may trust them.
    context._run_record_path().unlink(missing_ok=True)
    i18n.use_vocabulary(vocabulary_for(data))
    plotting.set_theme()
    _follow_thread_budget()
    return context


def _follow_thread_budget() -> None:
    """In a batch run, apply the runner's thread budget before every cell (once per kernel).

    :class:`helpers.data.run_record.ThreadBudget`: a kernel left running alone uses the cores
    the finished notebooks freed. Outside a run, or outside IPython, nothing changes.
    """
    if run_cache_dir() is None:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with every kernel
        return
    shell = get_ipython()
    if shell is None:
        return
    callbacks = shell.events.callbacks.get("pre_run_cell", [])
    if not any(isinstance(callback, ThreadBudget) for callback in callbacks):
        budget = ThreadBudget()
        shell.events.register("pre_run_cell", budget)
        budget()
