"""The monthly management summary, built only from a run's artifacts.

``05_monthly_summary`` never recomputes anything: it reads the KPI files the other notebooks
wrote in this run (``kpis_<notebook>.json``), compares them with the previous month's pack
when one exists, and turns the numbers into a one-page view and plain sentences. An upstream
notebook that failed leaves no KPI file: the summary then fails, naming the missing file. One
that does not apply to the dataset (its data roles are absent) is reported as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import (
    Bullets,
    Skipped,
    format_change,
    format_kpi,
    format_kpi_record,
    format_money,
    kpi_is_fact,
)
from helpers.months import month_label
from helpers.paths import NOTEBOOKS_DIR
from helpers.plotting import tier_palette

UPSTREAM = (
    "00_data_overview",
    "01_tiering",
    "02_lifecycle_survival",
    "03_cross_sell_propensity",
    "04_retention_roi",
)

# (notebook, KPI key): the management view, in display order.
SUMMARY_ITEMS = (
    ("00_data_overview", "ov_active_customers"),
    ("00_data_overview", "ov_total_aum"),
    ("01_tiering", "tier_share_wealth"),
    ("01_tiering", "tier_share_private"),
    ("01_tiering", "tier_upgrades"),
    ("01_tiering", "tier_downgrades"),
    ("02_lifecycle_survival", "churn_rate"),
    ("02_lifecycle_survival", "aum_at_risk"),
    ("03_cross_sell_propensity", "pipeline_value"),
    ("04_retention_roi", "campaign_roi"),
    ("04_retention_roi", "next_campaign_value"),
)
TIER_KEYS = ("tier_share_mass", "tier_share_affluent", "tier_share_wealth", "tier_share_private")


class MissingArtifactError(RuntimeError):
    """An upstream notebook's artifact is missing: it failed or was not run."""


@dataclass
class UpstreamStatus:
    notebook: str
    status: str  # "ok" | "not_applicable" | "missing"
    reason: str = ""


def previous_artifacts(artifacts: Path, month: str | None, given: str = "") -> Path | None:
    """The previous month's artifacts folder: ``given`` when set, else the pack beside this run's.

    The batch builds ``reports/.YYYY-MM.tmp-*/`` next to ``reports/YYYY-MM/``, and a finished
    pack is ``reports/YYYY-MM/``; so the previous pack is ``<artifacts>/../../<prev>/artifacts``.
    """
    if given:
        return Path(given)
    if not month:
        return None
    candidate = Path(artifacts).resolve().parent.parent / month_label(month, -1) / "artifacts"
    return candidate if candidate.is_dir() else None


def status_table(statuses: list[UpstreamStatus], lang: str = "zh") -> pd.DataFrame:
    """One row per upstream notebook: section, status in words, reason."""
    return pd.DataFrame(
        {
            i18n.t("sm_section", lang): [s.notebook for s in statuses],
            i18n.t("sm_status", lang): [i18n.t(f"sm_status_{s.status}", lang) for s in statuses],
            i18n.t("sm_reason", lang): [s.reason for s in statuses],
        }
    )


def upstream_status(
    artifacts: Path, roles: set[str], notebooks_dir: Path = NOTEBOOKS_DIR
) -> list[UpstreamStatus]:
    """Whether each upstream notebook left its KPIs, does not apply, or is missing."""
    statuses = []
    for notebook in UPSTREAM:
        path = notebooks_dir / f"{notebook}.ipynb"
        requires: list[str] = []
        if path.exists():
            # Plain JSON, not nbformat: importing nbformat in a kernel costs ~3 s (its schema
            # validator builds grammars at import), more than the rest of this notebook's start.
            metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
            requires = list(metadata.get("fishpond", {}).get("requires", []))
        missing_roles = sorted(r for r in set(requires) if not set(r.split("|")) & roles)
        if (Path(artifacts) / f"kpis_{notebook}.json").exists():
            statuses.append(UpstreamStatus(notebook, "ok"))
        elif missing_roles:
            statuses.append(UpstreamStatus(notebook, "not_applicable", ", ".join(missing_roles)))
        else:
            statuses.append(UpstreamStatus(notebook, "missing", f"kpis_{notebook}.json"))
    return statuses


def require_upstream(statuses: list[UpstreamStatus], lang: str = "zh") -> None:
    """Raise :class:`MissingArtifactError` naming every missing KPI file."""
    missing = [s for s in statuses if s.status == "missing"]
    if missing:
        names = ", ".join(f"{s.notebook} ({s.reason})" for s in missing)
        message = (
            f"上游笔记本没有写出结果文件,可能运行失败:{names}。请先查看这些笔记本的报告。"
            if lang == "zh"
            else f"Upstream notebooks left no results (they probably failed): {names}. Check their reports first."
        )
        raise MissingArtifactError(message)


def read_kpis(artifacts: Path | None) -> dict[tuple[str, str], dict]:
    """All KPI records in an artifacts folder, keyed by (notebook, key)."""
    records: dict[tuple[str, str], dict] = {}
    if artifacts is None:
        return records
    for path in sorted(Path(artifacts).glob("kpis_*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        for record in payload.get("kpis", []):
            records[(payload["notebook"], record["key"])] = record
    return records


def summary_table(current: dict, previous: dict, lang: str = "zh") -> pd.DataFrame:
    """The management table: indicator, this month, last month, change (raw numbers)."""
    rows = []
    for notebook, key in SUMMARY_ITEMS:
        record = current.get((notebook, key))
        if record is None:
            continue
        before = previous.get((notebook, key), {}).get("value")
        value = record["value"]
        change = (
            value - before
            if isinstance(value, (int, float)) and isinstance(before, (int, float))
            else np.nan
        )
        rows.append(
            {
                "notebook": notebook,
                "key": key,
                "indicator": record["label_zh"] if lang == "zh" else record["label_en"],
                "unit": record["unit"],
                "value": value,
                "previous": before,
                "change": change,
                "lower": record.get("lower"),
                "upper": record.get("upper"),
                "significant": record.get("significant"),
            }
        )
    columns = ["notebook", "key", "indicator", "unit", "value", "previous", "change", "lower",
               "upper", "significant"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _record(row) -> dict:
    """A summary-table row as the KPI record :func:`format_kpi_record` reads."""
    record = {"value": row["value"], "unit": row["unit"]}
    for field in ("lower", "upper", "significant"):
        value = row.get(field)
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            record[field] = value
    return record


def display_table(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``summary_table`` formatted by unit, with translated headers."""

    return pd.DataFrame(
        {
            i18n.t("kpi_indicator", lang): table["indicator"],
            # an estimate whose interval crosses zero reads "not significant", never a number
            i18n.t("sm_this_month", lang): [
                # a KPI the data cannot give says so, instead of an empty number
                i18n.t("sm_not_in_data", lang)
                if _missing(row["value"])
                else format_kpi_record(_record(row), lang, compact=True)
                for _, row in table.iterrows()
            ],
            i18n.t("sm_last_month", lang): [
                ""
                if p is None or (isinstance(p, float) and np.isnan(p))
                else format_kpi(p, u, lang, compact=True)
                for p, u in zip(table["previous"], table["unit"], strict=True)
            ],
            i18n.t("sm_change", lang): [
                format_change(c, u, lang)
                for c, u in zip(table["change"], table["unit"], strict=True)
            ],
        }
    )


def tier_mix(current: dict, previous: dict) -> pd.DataFrame:
    """Share of customers per tier this month and last month (from 01_tiering's KPIs)."""
    rows = []
    for key in TIER_KEYS:
        record = current.get(("01_tiering", key))
        if record is None:
            continue
        rows.append(
            {
                "tier": key.removeprefix("tier_share_"),
                "share": record["value"],
                "previous": previous.get(("01_tiering", key), {}).get("value"),
            }
        )
    return pd.DataFrame(rows, columns=["tier", "share", "previous"])


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _value(table: pd.DataFrame, key: str):
    """(this month, last month) of a KPI; None for either when missing (never NaN, so a
    sentence is never written around an empty number)."""
    match = table.loc[table["key"] == key]
    if match.empty:
        return None, None
    row = match.iloc[0]
    value, previous = row["value"], row["previous"]
    return (None if _missing(value) else value), (None if _missing(previous) else previous)


def findings(table: pd.DataFrame, statuses: list[UpstreamStatus], lang: str = "zh") -> Bullets:
    """Plain sentences about this month, written from the numbers (never hard-coded)."""
    zh = lang == "zh"
    sentences: list[str] = []
    customers, customers_before = _value(table, "ov_active_customers")
    aum, aum_before = _value(table, "ov_total_aum")
    if customers is not None:
        if customers_before:
            change = customers / customers_before - 1
            sentences.append(
                f"本月活跃客户 {format_kpi(customers, 'count')} 位,较上月{'增加' if change >= 0 else '减少'} {format_kpi(abs(change), 'pct')}。"
                if zh
                else f"{format_kpi(customers, 'count')} active customers this month, {'up' if change >= 0 else 'down'} {format_kpi(abs(change), 'pct')} on last month."
            )
        else:
            sentences.append(
                f"本月活跃客户 {format_kpi(customers, 'count')} 位(没有上月报告包可供比较)。"
                if zh
                else f"{format_kpi(customers, 'count')} active customers this month (no previous pack to compare with)."
            )
    if aum is not None and customers:  # 万/亿 or million/billion, plain when small
        sentences.append(
            f"资产余额合计 {format_money(aum, lang)},户均 {format_money(aum / customers, lang)}。"
            if zh
            else f"Total AUM is {format_money(aum, lang)}, {format_money(aum / customers, lang)} per customer."
        )
    upgrades, _ = _value(table, "tier_upgrades")
    downgrades, _ = _value(table, "tier_downgrades")
    if upgrades is not None and downgrades is not None:
        net = upgrades - downgrades
        sentences.append(
            f"层级迁移:升级 {format_kpi(upgrades, 'count')} 位、降级 {format_kpi(downgrades, 'count')} 位,净{'升级' if net >= 0 else '降级'} {format_kpi(abs(net), 'count')} 位。"
            if zh
            else f"Tier moves: {format_kpi(upgrades, 'count')} up, {format_kpi(downgrades, 'count')} down, net {format_kpi(abs(net), 'count')} {'up' if net >= 0 else 'down'}."
        )
    churn, churn_before = _value(table, "churn_rate")
    at_risk, _ = _value(table, "aum_at_risk")
    if churn is not None:
        trend = ""
        if churn_before is not None:
            rising = churn > churn_before
            trend = (
                ("高于" if rising else "不高于") + "上月"
                if zh
                else (" (higher than" if rising else " (not higher than") + " last month)"
            )
        sentences.append(
            f"预计流失率 {format_kpi(churn, 'pct')}{',' + trend if trend and zh else ''},预期流失资产 {format_money(at_risk or 0, lang)},应优先安排回访。"
            if zh
            else f"Predicted churn is {format_kpi(churn, 'pct')}{trend}, with {format_money(at_risk or 0, lang)} of AUM expected to leave: prioritise follow-up calls."
        )
    pipeline, _ = _value(table, "pipeline_value")
    if pipeline is not None:
        sentences.append(
            f"客户经理名单上的交叉销售机会预期价值 {format_money(pipeline, lang)}。"
            if zh
            else f"The RM call lists carry an expected cross-sell value of {format_money(pipeline, lang)}."
        )
    roi, _ = _value(table, "campaign_roi")
    roi_row = table.loc[table["key"] == "campaign_roi"]
    if roi is not None and len(roi_row) and not kpi_is_fact(_record(roi_row.iloc[0])):
        text = format_kpi_record(_record(roi_row.iloc[0]), lang)
        sentences.append(
            f"上次挽留活动的投资回报率:{text};不能说它赚了还是亏了。"
            if zh
            else f"The last retention campaign's return on cost: {text}; it cannot be said to have paid or not."
        )
        roi = None
    if roi is not None:
        pays = roi > 0
        sentences.append(
            f"上次挽留活动的投资回报率为 {format_kpi(roi, 'pct')},{'收益覆盖了成本' if pays else '收益没有覆盖成本,下次应按增益精准投放'}。"
            if zh
            else f"The last retention campaign returned {format_kpi(roi, 'pct')} on its cost: {'it paid for itself' if pays else 'it did not pay; target the next one by uplift'}."
        )
    for status in statuses:
        if status.status == "not_applicable":
            sentences.append(
                f"{status.notebook} 不适用于本数据集(缺少:{status.reason})。"
                if zh
                else f"{status.notebook} does not apply to this dataset (missing: {status.reason})."
            )
    # The data's words: its currency; "value" for a table without balance history.
    return Bullets([i18n.apply_vocabulary(sentence, lang) for sentence in sentences])


def plot_headline_changes(table: pd.DataFrame, lang: str = "zh", ax=None):
    """Month-on-month change (%) of the headline indicators that have a previous value.

    Without a previous pack there is no change to draw: Skipped, saying so.
    """
    import matplotlib.pyplot as plt

    if not table["previous"].notna().any():
        return Skipped("sm_no_previous_note")

    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    usable = table[table["previous"].notna() & (table["unit"] != "pct")].copy()
    usable = usable[usable["previous"].astype(float) != 0]
    if usable.empty:
        ax.text(
            0.5,
            0.5,
            i18n.t("sm_no_previous", lang),
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return ax
    change = usable["value"].astype(float) / usable["previous"].astype(float) - 1
    colours = ["#2E7D32" if c >= 0 else "#B2182B" for c in change]
    ax.barh(usable["indicator"], change * 100, color=colours)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_xlabel(i18n.t("sm_change", lang) + " (%)")
    ax.set_title(i18n.t("sm_changes_title", lang))
    return ax


def plot_tier_mix(mix: pd.DataFrame, lang: str = "zh", ax=None):
    """Share of customers per tier, this month against last month (Skipped without tiers)."""
    import matplotlib.pyplot as plt

    if mix.empty:
        return Skipped("sm_no_tier_mix")

    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    names = [i18n.t(f"tier_{code}", lang) for code in mix["tier"]]
    positions = np.arange(len(mix))
    colours = list(tier_palette(list(mix["tier"])).values())
    ax.bar(
        positions + 0.2, mix["share"] * 100, 0.4, color=colours, label=i18n.t("sm_this_month", lang)
    )
    if mix["previous"].notna().any():
        ax.bar(
            positions - 0.2,
            mix["previous"].astype(float) * 100,
            0.4,
            color="#CCCCCC",
            label=i18n.t("sm_last_month", lang),
        )
    ax.set_xticks(positions, names)
    ax.set_ylabel(i18n.t("share", lang) + " (%)")
    ax.set_title(i18n.t("ov_tier_mix", lang))
    ax.legend()
    return ax
