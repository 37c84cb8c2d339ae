"""This month's actions and each report's "what this means" box, written from a run's artifacts.

A head of retail reads the pack for one minute. What they need first is not eleven numbers but
three to five sentences that say who to call, how many, how much is at stake and which list
to open, each linking to its Excel list and to the report section that explains it; then the
headline figures with their direction against last month and the same month last year.

Everything here is read from the artifacts a run writes (``kpis_<notebook>.json``, the RM
lists' ``list_<name>.json``, ``kpi_history.parquet``, the back-test tables), so the index, the
summary notebook and each report's box say the same thing in the same words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import Bullets, format_change, format_kpi, format_pct

#: Every RM list of the pack: file stem -> (notebook, anchor of its report section).
LISTS = {
    "churn_warning_list": ("02_lifecycle_survival", "warning-list"),
    "already_draining_list": ("02_lifecycle_survival", "warning-list"),
    "cross_sell_call_list": ("03_cross_sell_propensity", "call-list"),
    "retention_target_list": ("04_retention_roi", "target-list"),
    "tier_downgrade_watch_list": ("01_tiering", "watch-list"),
}
#: The back-test table of each notebook that has one (artifact name).
BACKTESTS = {
    "02_lifecycle_survival": "backtest_churn",
    "03_cross_sell_propensity": "backtest_cross_sell",
    "04_retention_roi": "backtest_retention",
}
HISTORY_ARTIFACT = "kpi_history"


@dataclass
class Artifacts:
    """What a run left: KPI records by (notebook, key), list facts, history, back-tests."""

    kpis: dict
    lists: dict
    history: pd.DataFrame | None
    backtests: dict

    def kpi(self, notebook: str, key: str):
        record = self.kpis.get((notebook, key))
        return None if record is None else record.get("value")

    def record(self, notebook: str, key: str) -> dict | None:
        return self.kpis.get((notebook, key))


def read_artifacts(artifacts: str | Path | None) -> Artifacts:
    """Read a run's artifacts folder (missing or unreadable files are simply absent)."""
    kpis: dict = {}
    lists: dict = {}
    backtests: dict = {}
    history = None
    if artifacts is None or not Path(artifacts).is_dir():
        return Artifacts(kpis, lists, history, backtests)
    folder = Path(artifacts)
    for path in sorted(folder.glob("kpis_*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            for record in payload.get("kpis", []):
                kpis[(payload["notebook"], record["key"])] = record
        except (OSError, ValueError, KeyError, TypeError):
            continue
    for path in sorted(folder.glob("list_*.json")):
        try:
            lists[path.stem.removeprefix("list_")] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    history_path = folder / f"{HISTORY_ARTIFACT}.parquet"
    if history_path.is_file():
        history = pd.read_parquet(history_path)
    for notebook, name in BACKTESTS.items():
        path = folder / f"{name}.parquet"
        if path.is_file():
            backtests[notebook] = pd.read_parquet(path)
    return Artifacts(kpis, lists, history, backtests)


# ----------------------------------------------------------------------------- links
def list_href(name: str) -> str:
    """Where an RM list's Excel file is, relative to the pack's pages."""
    return f"artifacts/{name}.xlsx"


def section_href(name: str, current: str | None = None) -> str:
    """Link to the report section of an RM list (``#anchor`` on its own page)."""
    notebook, anchor = LISTS[name]
    return f"#{anchor}" if notebook == current else f"{notebook}.html#{anchor}"


def _links(name: str, lang: str, current: str | None = None) -> str:
    return (
        f"[{i18n.t('mg_link_list', lang)}]({list_href(name)}) · "
        f"[{i18n.t('mg_link_section', lang)}]({section_href(name, current)})"
    )


# ----------------------------------------------------------------------------- actions
def _money(value, lang: str) -> str:
    return format_kpi(value, "rmb", lang, compact=True)


def _count(value) -> str:
    return format_kpi(value, "count")


def _list_sum(facts: dict, column: str):
    return (facts or {}).get("sums", {}).get(column)


#: Notebook -> (clause comparing its list's observed and predicted rates, groups it needs).
_BACKTEST_CLAUSES = {
    "02_lifecycle_survival": ("mg_action_bt_churn", {"listed", "not_listed"}),
    "03_cross_sell_propensity": ("mg_action_bt_cross_sell", {"listed"}),
}


def _backtest_sentence(frame: pd.DataFrame | None, notebook: str, lang: str) -> str:
    """A short clause on last time's list, from the notebook's back-test table."""
    if frame is None or frame.empty:
        return ""
    rows = frame.drop_duplicates("group").set_index("group")  # overall rows come first
    key, groups = _BACKTEST_CLAUSES.get(notebook, (None, set()))
    if key and groups <= set(rows.index):  # a list's rate against the model's prediction
        observed, predicted = rows.at["listed", "observed"], rows.at["listed", "predicted"]
        return i18n.t(key, lang, observed=format_pct(observed), predicted=format_pct(predicted))
    if notebook == "04_retention_roi" and "targeted" in rows.index:
        return i18n.t(
            "mg_action_bt_retention",
            lang,
            observed=format_change(rows.at["targeted", "observed"], "pp", lang),
        )
    return ""


def actions(
    artifacts: Artifacts,
    lang: str = "zh",
    current: str | None = None,
    with_backtest: bool = True,
) -> list[dict]:
    """This month's actions: one per RM list the run produced, biggest stake first.

    Each: ``text`` (a sentence: who, how many, how much, which list), ``list`` (Excel file),
    ``section`` (report section), ``notebook``, ``name``, ``stake`` (RMB, for the order).
    """
    items = []
    horizon = None
    record = artifacts.record("02_lifecycle_survival", "churn_rate")
    if record:
        horizon = "".join(ch for ch in record.get("label_en", "") if ch.isdigit()) or None
    builders = {
        "churn_warning_list": lambda f: (
            i18n.t(
                "mg_action_warning",
                lang,
                customers=_count(f.get("customers")),
                at_risk=_money(_list_sum(f, "aum_at_risk"), lang),
                months=horizon or "6",
            ),
            _list_sum(f, "aum_at_risk") or 0.0,
            "02_lifecycle_survival",
        ),
        "already_draining_list": lambda f: (
            i18n.t(
                "mg_action_draining",
                lang,
                customers=_count(f.get("customers")),
                aum=_money(_list_sum(f, "aum_avg_12m"), lang),
            ),
            _list_sum(f, "aum_avg_12m") or 0.0,
            "02_lifecycle_survival",
        ),
        "retention_target_list": lambda f: (
            i18n.t(
                "mg_action_retention",
                lang,
                customers=_count(f.get("customers")),
                net=_money(_list_sum(f, "net_value"), lang),
                spend=_money(_list_sum(f, "cost"), lang),
            ),
            _list_sum(f, "net_value") or 0.0,
            "04_retention_roi",
        ),
        # what the calls add over organic take-up (the pipeline KPI), else the expected value
        "cross_sell_call_list": lambda f: (
            i18n.t(
                "mg_action_cross_sell_added"
                if _list_sum(f, "incremental_value")
                else "mg_action_cross_sell",
                lang,
                customers=_count(f.get("customers")),
                value=_money(
                    _list_sum(f, "incremental_value") or _list_sum(f, "expected_value"), lang
                ),
                rms=_count(f.get("rms")),
            ),
            _list_sum(f, "incremental_value") or _list_sum(f, "expected_value") or 0.0,
            "03_cross_sell_propensity",
        ),
        "tier_downgrade_watch_list": lambda f: (
            i18n.t(
                "mg_action_watch",
                lang,
                customers=_count(f.get("customers")),
                aum=_money(_list_sum(f, "aum"), lang),
            ),
            0.0,
            "01_tiering",
        ),
    }
    for name, build in builders.items():
        facts = artifacts.lists.get(name)
        if not facts or (name == "already_draining_list" and not facts.get("customers")):
            continue
        text, stake, notebook = build(facts)
        extra = ""
        if with_backtest and name != "already_draining_list":  # 02's back-test: the warnings
            extra = _backtest_sentence(artifacts.backtests.get(notebook), notebook, lang)
        items.append(
            {
                "name": name,
                "notebook": notebook,
                "text": f"{text}{extra}",
                "list": list_href(name),
                "section": section_href(name, current),
                "stake": float(stake),
            }
        )
    order = {name: index for index, name in enumerate(builders)}
    return sorted(items, key=lambda item: order[item["name"]])


def actions_markdown(artifacts: Artifacts, lang: str = "zh", current: str | None = None) -> Bullets:
    """:func:`actions` as a bulleted list with the two links after each sentence."""
    return Bullets(
        [
            f"{a['text']} {_links(a['name'], lang, current)}"
            for a in actions(artifacts, lang, current)
        ]
        or [i18n.t("mg_no_actions", lang)]
    )


# ----------------------------------------------------------------------------- KPI tiles
#: Tiles where a rise is bad news: their arrows are coloured the other way round.
RISE_IS_BAD = frozenset({"churn_rate", "aum_at_risk", "downgrades", "churned"})
#: The index's tiles: (source, key, unit, meaning label). Source "history" reads the trend.
TILES = (
    ("history", "customers", "count", "mg_tile_customers"),
    ("history", "aum", "rmb", "mg_tile_aum"),
    ("02_lifecycle_survival", "churn_rate", "pct", "mg_tile_churn"),
    ("02_lifecycle_survival", "aum_at_risk", "rmb", "mg_tile_at_risk"),
    ("history", "downgrades", "count", "mg_tile_downgrades"),
    ("03_cross_sell_propensity", "pipeline_value", "rmb", "mg_tile_pipeline"),
    ("04_retention_roi", "campaign_roi", "pct", "mg_tile_roi"),
    ("04_retention_roi", "next_campaign_value", "rmb", "mg_tile_next"),
)
#: History tiles and the KPI record each one repeats (the index lists the record only
#: when its tile is not shown: a flat table has no history).
HISTORY_TWINS = {
    "customers": ("00_data_overview", "ov_active_customers"),
    "aum": ("00_data_overview", "ov_total_aum"),
    "downgrades": ("01_tiering", "tier_downgrades"),
}


def _direction(change, key: str = "") -> str:
    """``up`` / ``down`` / ``flat``; ``-bad`` or ``-good`` when the key's rise is bad news."""
    if change is None or (isinstance(change, float) and not np.isfinite(change)):
        return "flat"
    direction = "up" if change > 0 else "down" if change < 0 else "flat"
    if key in RISE_IS_BAD and direction != "flat":
        return f"{direction}-{'bad' if direction == 'up' else 'good'}"
    return direction


def kpi_tiles(artifacts: Artifacts, lang: str = "zh", previous: Artifacts | None = None) -> list:
    """The headline tiles: value, change vs last month and vs the same month last year (from
    the data's own history, or the previous pack for model outputs), and a one-line meaning.
    """
    tiles = []
    history = artifacts.history
    for source, key, unit, meaning in TILES:
        label = value = last_month = last_year = None
        significant = None
        if source == "history":
            if history is None or key not in history.columns or history.empty:
                continue
            series = history.set_index("month")[key]
            value = series.iloc[-1]
            this = series.index[-1]
            last_month = series.get(_shift(this, -1))
            last_year = series.get(_shift(this, -12))
            label = i18n.t(f"mg_measure_{key}", lang)
        else:
            record = artifacts.record(source, key)
            if record is None:
                continue
            value, significant = record.get("value"), record.get("significant")
            label = record.get(f"label_{lang}") or record.get("label_zh")
            if previous is not None:
                last_month = previous.kpi(source, key)
        month_change = None if last_month is None or value is None else value - last_month
        year_change = None if last_year is None or value is None else value - last_year
        tiles.append(
            {
                "key": key,
                "notebook": "00_data_overview" if source == "history" else source,
                "label": label,
                "value": value,
                "unit": unit,
                "display": format_kpi(value, unit, lang, compact=True, significant=significant),
                "vs_last_month": format_change(month_change, unit, lang)
                if month_change is not None
                else "",
                "vs_last_year": format_change(year_change, unit, lang)
                if year_change is not None
                else "",
                "direction_month": _direction(month_change, key),
                "direction_year": _direction(year_change, key),
                "meaning": i18n.t(meaning, lang),
            }
        )
    return tiles


def _shift(month: str, offset: int) -> str:
    period = pd.Period(month, freq="M") + offset
    return str(period)


# ----------------------------------------------------------------------------- back-tests
BACKTEST_ROWS = {
    "02_lifecycle_survival": ("listed", "mg_bt_overview_churn"),
    "03_cross_sell_propensity": ("listed", "mg_bt_overview_cross_sell"),
    "04_retention_roi": ("targeted", "mg_bt_overview_retention"),
}


def backtest_overview(artifacts: str | Path | Artifacts, lang: str = "zh") -> pd.DataFrame:
    """One row per back-test of the run: what the list predicted and what happened.

    Columns (label keys): the list, customers on it, predicted, observed, and whether the
    gap is within two standard errors ("可信" / "within sampling error").
    """
    data = artifacts if isinstance(artifacts, Artifacts) else read_artifacts(artifacts)
    rows = []
    for notebook, (group, label) in BACKTEST_ROWS.items():
        frame = data.backtests.get(notebook)
        if frame is None or frame.empty or group not in set(frame["group"]):
            continue
        row = frame.drop_duplicates("group").set_index("group").loc[group]
        predicted, observed = float(row["predicted"]), float(row["observed"])
        spread = row["standard_error"] if "standard_error" in row else _binomial_se(row)
        within = abs(observed - predicted) <= 2 * float(spread)
        rows.append(
            {
                "mg_bt_list": i18n.t(label, lang),
                "customers": int(row["customers"]),
                "mg_bt_ov_predicted": predicted,
                "mg_bt_ov_observed": observed,
                "mg_bt_verdict": i18n.t("mg_bt_within" if within else "mg_bt_outside", lang),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "mg_bt_list",
            "customers",
            "mg_bt_ov_predicted",
            "mg_bt_ov_observed",
            "mg_bt_verdict",
        ],
    )


def _binomial_se(row: pd.Series) -> float:
    p, n = float(row["predicted"]), max(int(row["customers"]), 1)
    return float(np.sqrt(max(p * (1 - p), 1e-9) / n))
