"""Each report's "what this means" box: three sentences with this month's numbers, then the
decision with its links. The report layers move the box to the top of the management page.

A box reads the run's artifacts (this notebook's KPIs and list, the history) and, where the
notebook has one, the sentences of its back-test. It never recomputes a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import Bullets, format_change, format_kpi, is_skipped
from helpers.summary.actions import Artifacts, actions, read_artifacts

NOTEBOOK_LIST = {
    "01_tiering": "tier_downgrade_watch_list",
    "02_lifecycle_survival": "churn_warning_list",
    "03_cross_sell_propensity": "cross_sell_call_list",
    "04_retention_roi": "retention_target_list",
}


def _money(value, lang: str) -> str:
    return format_kpi(value, "rmb", lang, compact=True)


def _history_facts(history, column: str, unit: str, lang: str) -> dict | None:
    """This month's value of a history column, its changes and its 12-month average."""
    if history is None or is_skipped(history) or column not in getattr(history, "columns", []):
        return None
    series = history.set_index("month")[column].astype(float)
    this = series.index[-1]
    period = pd.Period(this, freq="M")
    before = series.get(str(period - 1), np.nan)
    year = series.get(str(period - 12), np.nan)
    value = series.iloc[-1]
    return {
        "value": format_kpi(value, unit, lang, compact=True),
        "raw": value,
        "m": format_change(value - before, unit, lang) or i18n.t("mg_no_data", lang),
        "y": format_change(value - year, unit, lang) or i18n.t("mg_no_data", lang),
        "avg": format_kpi(series.tail(12).mean(), unit, lang, compact=True),
    }


def _sentence(key: str, lang: str, **values) -> str | None:
    if any(v is None for v in values.values()):
        return None
    return i18n.t(key, lang, **values)


def _kpi_text(data: Artifacts, notebook: str, key: str, lang: str, compact: bool = True):
    record = data.record(notebook, key)
    if record is None or record.get("value") is None:
        return None
    return format_kpi(
        record["value"],
        record["unit"],
        lang,
        compact=compact,
        significant=record.get("significant"),
    )


def _box_00(data: Artifacts, history, lang: str) -> list:
    customers = _history_facts(history, "customers", "count", lang)
    aum = _history_facts(history, "aum", "rmb", lang)
    churned = _history_facts(history, "churned", "count", lang)
    average = None
    if customers and aum and customers["raw"]:
        average = _money(aum["raw"] / customers["raw"], lang)
    return [
        customers and _sentence("mg_box_customers", lang, **_pick(customers)),
        aum and _sentence("mg_box_aum", lang, average=average, **_pick(aum)),
        churned
        and _sentence(
            "mg_box_flows",
            lang,
            new=_kpi_text(data, "00_data_overview", "ov_new_customers", lang) or "–",
            churned=churned["value"],
            avg=churned["avg"],
        ),
    ]


def _pick(facts: dict) -> dict:
    return {k: facts[k] for k in ("value", "m", "y", "avg")}


def _box_01(data: Artifacts, history, lang: str) -> list:
    top = None
    if history is not None and not is_skipped(history):
        columns = [c for c in ("share_wealth", "share_private") if c in history.columns]
        if columns:
            frame = history.assign(share_top=history[columns].sum(axis=1))
            top = _history_facts(frame, "share_top", "pct", lang)
    up = _history_facts(history, "upgrades", "count", lang)
    down = _history_facts(history, "downgrades", "count", lang)
    return [
        top and _sentence("mg_box_top_tiers", lang, value=top["value"], y=top["y"]),
        up
        and down
        and _sentence("mg_box_moves", lang, up=up["value"], down=down["value"], m=down["m"]),
        _sentence(
            "mg_box_net_aum",
            lang,
            net=_kpi_text(data, "01_tiering", "net_aum_change", lang),
        ),
    ]


def _box_02(data: Artifacts, history, lang: str) -> list:
    record = data.record("02_lifecycle_survival", "churn_rate")
    months = "".join(ch for ch in (record or {}).get("label_en", "") if ch.isdigit()) or "6"
    churned = _history_facts(history, "churned", "count", lang)
    return [
        _sentence(
            "mg_box_churn_forecast",
            lang,
            months=months,
            rate=_kpi_text(data, "02_lifecycle_survival", "churn_rate", lang),
            customers=_kpi_text(data, "02_lifecycle_survival", "surv_kpi_expected_churners", lang),
            at_risk=_kpi_text(data, "02_lifecycle_survival", "aum_at_risk", lang),
        ),
        churned
        and _sentence(
            "mg_box_churn_history", lang, value=churned["value"], y=churned["y"], avg=churned["avg"]
        ),
    ]


def _box_03(data: Artifacts, history, lang: str) -> list:
    facts = data.lists.get("cross_sell_call_list") or {}
    takeups = _history_facts(history, "takeups", "count", lang)
    return [
        _sentence(
            "mg_box_pipeline",
            lang,
            customers=format_kpi(facts.get("customers"), "count") if facts else None,
            value=_kpi_text(data, "03_cross_sell_propensity", "pipeline_value", lang),
        ),
        takeups
        and _sentence(
            "mg_box_takeups", lang, value=takeups["value"], y=takeups["y"], avg=takeups["avg"]
        ),
    ]


def _box_04(data: Artifacts, history, lang: str) -> list:
    record = data.record("04_retention_roi", "campaign_roi")
    roi = None
    if record is not None and record.get("value") is not None:
        roi_text = _kpi_text(data, "04_retention_roi", "campaign_roi", lang)
        key = "mg_box_roi_pays" if record["value"] > 0 else "mg_box_roi_loses"
        if record.get("significant") is False:
            key = "mg_box_roi_not_significant"
        roi = i18n.t(key, lang, roi=roi_text)
    return [
        roi,
        _sentence(
            "mg_box_next_campaign",
            lang,
            customers=_kpi_text(data, "04_retention_roi", "rr_kpi_next_contacts", lang),
            net=_kpi_text(data, "04_retention_roi", "next_campaign_value", lang),
            roi=_kpi_text(data, "04_retention_roi", "rr_kpi_next_roi", lang),
        ),
    ]


BUILDERS = {
    "00_data_overview": _box_00,
    "01_tiering": _box_01,
    "02_lifecycle_survival": _box_02,
    "03_cross_sell_propensity": _box_03,
    "04_retention_roi": _box_04,
}


def report_box(
    notebook: str,
    artifacts: str | Path,
    lang: str = "zh",
    history=None,
    backtest: Bullets | None = None,
) -> Bullets:
    """The "what this means" box of ``notebook``: up to three sentences with this month's
    numbers (the first of its back-test's sentences among them), then its decision with the
    links to its Excel list and to the list's section of the report."""
    data = read_artifacts(artifacts)
    history = data.history if history is None else history
    sentences = [s for s in BUILDERS[notebook](data, history, lang) if s]
    if backtest is not None and not is_skipped(backtest) and backtest.items:
        sentences.append(i18n.t("mg_box_backtest", lang, text=backtest.items[0]))
    name = NOTEBOOK_LIST.get(notebook)
    decision = [
        f"{i18n.t('mg_decision', lang)}{a['text']} [{i18n.t('mg_link_list', lang)}]({a['list']})"
        f" · [{i18n.t('mg_link_section', lang)}]({a['section']})"
        for a in actions(data, lang, current=notebook, with_backtest=False)
        if a["name"] == name
    ]
    if notebook == "00_data_overview":
        decision = [i18n.t("mg_customer_base", lang)]
    return Bullets(sentences[:3] + decision)


def summary_box(artifacts: str | Path, lang: str = "zh", history=None) -> Bullets:
    """The monthly summary's box: the book in one sentence, churn and value at stake, then
    every action of the month with its links."""
    data = read_artifacts(artifacts)
    history = data.history if history is None else history
    first = [s for s in _box_00(data, history, lang)[:2] if s]
    churn = [s for s in _box_02(data, history, lang)[:1] if s]
    items = first + churn
    items += [
        f"{i18n.t('mg_decision', lang)}{a['text']} [{i18n.t('mg_link_list', lang)}]({a['list']})"
        f" · [{i18n.t('mg_link_section', lang)}]({a['section']})"
        for a in actions(data, lang)
    ]
    return Bullets(items)
