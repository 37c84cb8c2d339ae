"""Actions, KPI tiles and report boxes from hand-made artifacts: words, numbers and links."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers import summary
from helpers.formatting import kpi
from helpers.summary.actions import _backtest_sentence


@pytest.fixture()
def artifacts(tmp_path):
    folder = tmp_path / "artifacts"
    folder.mkdir()

    def kpis(notebook, records):
        payload = {"notebook": notebook, "month": "2026-10", "kpis": records}
        (folder / f"kpis_{notebook}.json").write_text(json.dumps(payload), encoding="utf-8")

    def facts(name, notebook, customers, sums, rms=None):
        payload = {"name": name, "notebook": notebook, "rows": customers,
                   "customers": customers, "rms": rms, "sums": sums}  # fmt: skip
        (folder / f"list_{name}.json").write_text(json.dumps(payload), encoding="utf-8")

    kpis(
        "02_lifecycle_survival",
        [
            kpi("churn_rate", 0.05, "pct", headline=True, months=6),
            kpi("aum_at_risk", 9.88e6, "rmb", headline=True),
            kpi("surv_kpi_expected_churners", 409.4, "count"),
        ],
    )
    kpis(
        "04_retention_roi",
        [kpi("campaign_roi", 0.25, "pct", headline=True, lower=-0.1, upper=0.6)],
    )
    facts("churn_warning_list", "02_lifecycle_survival", 500, {"aum_at_risk": 5.92e6}, 120)
    facts("cross_sell_call_list", "03_cross_sell_propensity", 1268, {"expected_value": 3.1e5}, 90)
    months = [str(p) for p in pd.period_range("2025-10", "2026-10", freq="M")]
    history = pd.DataFrame(
        {
            "month": months,
            "customers": [8360 - 14 * i for i in range(13)],
            "aum": [1.3e9 + 1.5e7 * i for i in range(13)],
            "downgrades": [90.0 - i for i in range(13)],
        }
    )
    history.to_parquet(folder / "kpi_history.parquet")
    pd.DataFrame(
        {"group": ["listed", "not_listed"], "customers": [500, 7714],
         "predicted": [0.026, 0.041], "observed": [0.024, 0.044]}
    ).to_parquet(folder / "backtest_churn.parquet")  # fmt: skip
    return folder


def test_actions_say_who_how_many_how_much_and_link_list_and_section(artifacts):
    found = summary.actions(summary.read_artifacts(artifacts), "zh")
    assert [a["name"] for a in found] == ["churn_warning_list", "cross_sell_call_list"]
    warning = found[0]
    assert "500 位客户" in warning["text"] and "¥592万" in warning["text"]
    assert "6 个月内" in warning["text"] and "2.4%" in warning["text"]  # back-test clause
    assert warning["list"] == "artifacts/churn_warning_list.xlsx"
    assert warning["section"] == "02_lifecycle_survival.html#warning-list"
    english = summary.actions(summary.read_artifacts(artifacts), "en")
    assert "¥5.92 million" in english[0]["text"] and "90 RMs" in english[1]["text"]


def test_customers_already_draining_get_their_own_action_without_the_backtest(artifacts):
    facts = {"name": "already_draining_list", "notebook": "02_lifecycle_survival", "rows": 37,
             "customers": 37, "rms": 20, "sums": {"aum": 4.1e5, "aum_avg_12m": 2.46e6}}  # fmt: skip
    (artifacts / "list_already_draining_list.json").write_text(json.dumps(facts), "utf-8")
    found = {a["name"]: a for a in summary.actions(summary.read_artifacts(artifacts), "en")}
    draining = found["already_draining_list"]
    assert "37 customers" in draining["text"] and "¥2.46 million" in draining["text"]
    assert "not on the warning list" in draining["text"] and "2.4%" not in draining["text"]
    assert draining["list"] == "artifacts/already_draining_list.xlsx"
    assert draining["section"] == "02_lifecycle_survival.html#warning-list"
    (artifacts / "list_already_draining_list.json").write_text(
        json.dumps(dict(facts, rows=0, customers=0)), "utf-8"
    )
    names = [a["name"] for a in summary.actions(summary.read_artifacts(artifacts), "zh")]
    assert "already_draining_list" not in names  # nobody draining: no action


def test_tiles_have_direction_against_last_month_and_last_year(artifacts):
    tiles = {t["key"]: t for t in summary.kpi_tiles(summary.read_artifacts(artifacts), "en")}
    customers = tiles["customers"]
    assert customers["display"] == "8,192" and customers["vs_last_month"] == "-14"
    assert customers["vs_last_year"] == "-168" and customers["direction_year"] == "down"
    assert tiles["aum"]["display"] == "¥1.48 billion"
    assert tiles["aum"]["vs_last_year"] == "+¥180 million"
    assert tiles["campaign_roi"]["display"] == "not significant"  # interval includes zero
    assert tiles["churn_rate"]["vs_last_month"] == ""  # no previous pack: nothing invented


def test_report_box_has_three_sentences_and_the_decision(artifacts):
    box = summary.report_box("02_lifecycle_survival", artifacts, "zh")
    assert "5.0%" in box.items[0] and "约 409 位" in box.items[0] and "¥988万" in box.items[0]
    decision = box.items[-1]
    assert decision.startswith("行动:") and "(artifacts/churn_warning_list.xlsx)" in decision
    assert "(#warning-list)" in decision  # on its own page the section link is an anchor
    overview = summary.backtest_overview(artifacts, "en")
    assert overview["mg_bt_verdict"].tolist() == ["within sampling error"]


def test_backtest_clause_compares_the_list_with_its_prediction():
    frame = pd.DataFrame(
        {"group": ["listed", "not_listed"], "observed": [0.25, 0.05], "predicted": [0.2, 0.04]}
    )
    churn = _backtest_sentence(frame, "02_lifecycle_survival", "en")
    assert "25.0%" in churn and "20.0%" in churn
    assert _backtest_sentence(frame.iloc[:1], "03_cross_sell_propensity", "en")
    assert _backtest_sentence(frame.iloc[:1], "02_lifecycle_survival", "en") == ""
    assert _backtest_sentence(frame, "00_data_overview", "en") == ""
