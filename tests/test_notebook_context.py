"""Run context pieces added for real data: metrics artifact, ladder precedence, the data's words."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from helpers import config, i18n, notebook
from helpers.formatting import Skipped


class _Dataset:
    name = "fake"
    mode = "flat"

    def __init__(self, ladder=None, currency=None, roles=("duration", "event", "value")):
        self._ladder, self._roles = ladder, set(roles)
        if currency:
            self.currency = currency

    def spec_ladder(self):
        return self._ladder

    def roles(self):
        return self._roles


def _context(tmp_path, name="02_lifecycle_survival", dataset=None, params=None):
    return notebook.RunContext(
        notebook=name, dataset=dataset or _Dataset(), month=None, lang="en",
        artifacts=tmp_path, seed=1, params=params or {}, spec_path="/x/dataset.yaml",
    )  # fmt: skip


def _record(model, value, notebook_name="02_lifecycle_survival"):
    return {"notebook": notebook_name, "target": "churn", "model": model, "chosen": True,
            "metric": "roc_auc", "value": value, "lower": value - 0.01, "upper": value + 0.01,
            "n": 100}  # fmt: skip


def test_save_metrics_replaces_only_this_notebooks_rows(tmp_path):
    _context(tmp_path).save_metrics([_record("logistic", 0.8)])
    propensity = _context(tmp_path, "03_cross_sell_propensity")
    propensity.save_metrics([_record("hgb", 0.7, "03_cross_sell_propensity")])
    _context(tmp_path).save_metrics([_record("cox", 0.75), _record("logistic", 0.81)])
    table = pd.read_csv(tmp_path / "model_metrics.csv")
    assert list(table.columns) == list(notebook.METRIC_COLUMNS)
    assert sorted(table["model"]) == ["cox", "hgb", "logistic"]
    assert table.loc[table["model"] == "logistic", "value"].item() == 0.81
    _context(tmp_path).save_metrics(Skipped("surv_ranking_skipped", reason="x"))
    assert pd.read_csv(tmp_path / "model_metrics.csv")["notebook"].tolist() == [
        "03_cross_sell_propensity"
    ]


def test_save_metrics_from_parallel_notebooks_keeps_every_row(tmp_path):
    names = [f"0{i}_nb" for i in range(8)]
    threads = [
        threading.Thread(target=_context(tmp_path, n).save_metrics, args=([_record("m", 0.5, n)],))
        for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(pd.read_csv(tmp_path / "model_metrics.csv")["notebook"]) == names


def test_save_metrics_names_a_missing_column(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        _context(tmp_path).save_metrics([{"model": "x"}])


def test_ladder_precedence_parameter_then_spec_then_default(tmp_path):
    spec_ladder = config.resolve_ladder([10, 100, 1000])
    default = config.resolve_ladder(None)
    assert _context(tmp_path).ladder.equals(default)
    with_spec = _context(tmp_path, dataset=_Dataset(ladder=spec_ladder))
    assert with_spec.ladder.equals(spec_ladder)
    both = _context(
        tmp_path, dataset=_Dataset(ladder=spec_ladder), params={"tier_thresholds": [5, 50, 500]}
    )
    assert list(both.ladder["lower"])[1:] == [5, 50, 500]


def test_vocabulary_follows_the_data():
    flat_usd = notebook.vocabulary_for(_Dataset(currency="usd"))
    assert flat_usd == i18n.Vocabulary(currency="USD", balances=False, campaigns=False)
    bank = notebook.vocabulary_for(_Dataset(roles=("balances_history", "campaigns")))
    assert bank.is_default


@pytest.fixture
def telecom_words():
    previous = i18n.use_vocabulary(i18n.Vocabulary("USD", balances=False, campaigns=False))
    yield
    i18n.use_vocabulary(previous)


def test_labels_use_the_data_words(telecom_words):
    assert i18n.t("ov_total_aum", "en") == "Total value"
    assert "AUM" not in i18n.t("surv_aum_at_risk", "en")
    assert i18n.t("rmb", "en") == "USD" and i18n.t("rmb", "zh") == "美元"
    text = "Total AUM is RMB 5 hundred million: ¥3 per customer, rate coupon. AUM drops."
    assert i18n.apply_vocabulary(text, "en") == (
        "Total value is USD 5 hundred million: $3 per customer, offer A. Value drops."
    )
    assert i18n.apply_vocabulary("资产余额合计 3 亿元,户均 4 元。加息券", "zh") == (
        "金额合计 3 亿美元,户均 4 美元。方案甲"
    )


def test_default_vocabulary_changes_nothing():
    assert i18n.vocabulary().is_default
    assert i18n.apply_vocabulary("Total AUM is RMB 5", "en") == "Total AUM is RMB 5"
