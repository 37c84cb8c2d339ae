"""Ground truth: the retention methods recover what the synthetic bank's campaign put in.

Why a larger generated bank for the uplift checks. The committed 10k sample's campaign has
about 650 customers per arm with a control retention near 92%: the smallest retention effect
it can detect with 80% power is about 4 points (``minimum_detectable_effect``; the notebook
prints it), while the true uplifts are 0 to 4 points, concentrated in segments. Even the
*true* uplift barely orders that campaign's observed outcomes better than random. So the
heterogeneity checks run on a bank generated here with the same generator and 60,000
customers (about 11,800 in the campaign, 3,900 per arm); the A/B coverage check runs on both.

Thresholds, and why:

- Spearman(predicted, true uplift) > 0.3 per offer. With no information the coefficient has a
  standard deviation of about 1/sqrt(n) = 0.009 here, so 0.3 is far beyond chance. It cannot
  be near 1 either: the true uplift's standard deviation is about 2 points against a Bernoulli
  noise of about 27 points per customer. Measured with the default learner on two generated
  banks (seeds 7 and 8): 0.48 / 0.48 and 0.53 / 0.61 (fee waiver / rate coupon); the same
  learner given only the generator's own effect drivers (AUM >= 50k, digital activity,
  contacts) reached 0.49 / 0.38 with the earlier, deeper defaults. 0.3 leaves room for seed
  noise while failing any model that has not found the segments.
- Qini, measured against the truth: the expected extra customers kept when targeting in
  score order is the cumulative *true* uplift, so the Qini area is computed without outcome
  noise. The model must beat random (area > 0) and risk-only targeting, and reach half the
  oracle's area (measured: 64% and 61% for seed 7, 71% and 74% for seed 8).
- Recommended offer: "material" = the two offers' true uplifts differ by more than 2
  points (about half the customers). The model's better offer must match the truly better one
  for at least 80% of them (measured 94% and 96%).
- A/B: the 95% interval of each offer's effect on retention and on AUM covers the true
  average effect (``truth.json["campaign"]["average_effect"]``), on the sample and here.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr

from helpers import paths, synth
from helpers import retention as rr
from helpers import retention as up
from helpers.data import load_dataset

OFFERS = ("fee_waiver", "rate_coupon")
TRUTH_COLUMN = {"fee_waiver": "true_uplift_fee_waiver", "rate_coupon": "true_uplift_rate_coupon"}
AUM_TRUTH_COLUMN = {
    "fee_waiver": "true_aum_uplift_fee_waiver",
    "rate_coupon": "true_aum_uplift_rate_coupon",
}

pytestmark = pytest.mark.slow


def _true_qini(score, true_uplift) -> float:
    """Area between the expected Qini curve (cumulative true uplift) and random targeting."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    cumulative = np.cumsum(np.asarray(true_uplift)[order]) / len(order)
    x = np.arange(len(order) + 1) / len(order)
    return float(np.trapezoid(np.r_[0.0, cumulative], x) - cumulative[-1] / 2)


def _campaign(ds, root):
    frame, info = rr.campaign_frame(ds)
    clv, _ = rr.load_clv(ds, info["assigned_month"])
    frame = rr.attach_value(frame, clv)
    truth = pd.read_parquet(root / "truth_customers.parquet").set_index("customer_id")
    truth = truth.loc[frame["customer_id"]].reset_index()
    campaign_truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))["campaign"]
    return frame, truth, campaign_truth


@pytest.fixture(scope="module")
def big_bank(tmp_path_factory):
    """A 60,000-customer bank from the same generator, its campaign and a fitted T-learner."""
    root = tmp_path_factory.mktemp("retention_bank")
    synth.generate(root, customers=60_000, seed=7, transactions=False)
    spec = yaml.safe_load(paths.SAMPLE_SPEC.read_text(encoding="utf-8"))
    spec["tables"].pop("transactions", None)
    (root / "dataset.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    frame, truth, campaign_truth = _campaign(load_dataset(root / "dataset.yaml"), root)
    features = up.feature_matrix(frame, exclude=["clv", "p_churn_h"])
    model = up.TLearner(n_folds=5, seed=1).fit(features, frame["arm"], frame["retained"])
    yield frame, truth, campaign_truth, model
    shutil.rmtree(root, ignore_errors=True)


def _assert_ab_covers_truth(frame, campaign_truth):
    evaluation = rr.evaluate_campaign(frame).set_index(["metric", "offer"])
    for offer in OFFERS:
        effect = campaign_truth["average_effect"][offer]
        retention = evaluation.loc[("retained", offer)]
        assert retention["ci_low"] <= effect["retention"] <= retention["ci_high"], offer
        aum = evaluation.loc[("aum_after", offer)]
        assert aum["ci_low"] <= effect["aum"] <= aum["ci_high"], offer


def test_ab_interval_covers_true_average_effect_on_the_sample():
    frame, _, campaign_truth = _campaign(load_dataset(paths.SAMPLE_SPEC), paths.SAMPLE_DIR)
    assert len(frame) == campaign_truth["customers"]
    _assert_ab_covers_truth(frame, campaign_truth)


def test_ab_interval_covers_true_average_effect_on_a_larger_bank(big_bank):
    frame, _, campaign_truth, _ = big_bank
    assert len(frame) > 10_000
    _assert_ab_covers_truth(frame, campaign_truth)


@pytest.mark.parametrize("offer", OFFERS)
def test_predicted_uplift_correlates_with_true_uplift(big_bank, offer):
    _, truth, _, model = big_bank
    rho = spearmanr(model.oof_uplift_[offer], truth[TRUTH_COLUMN[offer]]).statistic
    assert rho > 0.3


@pytest.mark.parametrize("offer", OFFERS)
def test_uplift_targeting_beats_random_and_risk_only(big_bank, offer):
    frame, truth, _, model = big_bank
    true_uplift = truth[TRUTH_COLUMN[offer]].to_numpy()
    by_model = _true_qini(model.oof_uplift_[offer], true_uplift)
    by_risk = _true_qini(frame["p_churn_h"], true_uplift)
    oracle = _true_qini(true_uplift, true_uplift)
    assert by_model > 0  # random targeting's area is 0 by construction
    assert by_model > by_risk
    assert by_model > 0.5 * oracle
    # the same ordering on the campaign's own (noisy) outcomes, as the notebook measures it
    keep = frame["arm"].isin([offer, "control"]).to_numpy()
    treated = (frame["arm"] == offer).to_numpy()[keep]
    retained = frame["retained"].to_numpy()[keep]
    observed = up.qini_coefficient(model.oof_uplift_[offer].to_numpy()[keep], treated, retained)
    observed_risk = up.qini_coefficient(frame["p_churn_h"].to_numpy()[keep], treated, retained)
    assert observed["qini"] > max(0.0, observed_risk["qini"])


def test_risk_only_targeting_spends_on_customers_the_offers_cannot_move(big_bank):
    frame, truth, _, model = big_bank
    top = int(0.3 * len(frame))
    by_risk = np.argsort(-frame["p_churn_h"].to_numpy(), kind="stable")[:top]
    by_uplift = np.argsort(-model.oof_uplift_["fee_waiver"].to_numpy(), kind="stable")[:top]
    unmoved = truth[TRUTH_COLUMN["fee_waiver"]].abs().to_numpy() < 0.005
    # the riskiest customers include more whom the offer does not move than the uplift picks
    assert unmoved[by_risk].mean() > unmoved[by_uplift].mean() + 0.1


def test_recommended_offer_matches_truly_better_offer_where_material(big_bank):
    _, truth, _, model = big_bank
    true_difference = (
        truth["true_uplift_rate_coupon"] - truth["true_uplift_fee_waiver"]
    ).to_numpy()
    material = np.abs(true_difference) > 0.02
    assert material.mean() > 0.2  # enough customers for the check to mean something
    predicted = model.oof_uplift_["rate_coupon"] - model.oof_uplift_["fee_waiver"]
    agree = np.sign(predicted.to_numpy()[material]) == np.sign(true_difference[material])
    assert agree.mean() >= 0.8


@pytest.mark.parametrize(("offer", "threshold"), [("rate_coupon", 0.4), ("fee_waiver", 0.1)])
def test_aum_uplift_model_ranks_true_aum_uplift(big_bank, offer, threshold):
    """AUM uplift as the notebook estimates it: a model of the share of AUM kept, times AUM.

    Measured (seed 7): 0.67 for the rate coupon (it grows high-AUM balances by 8%) and 0.20 for
    the fee waiver (small effects on small balances); the same learner on raw AUM reached
    only 0.14 and -0.06, which is why the notebook models the ratio.
    """
    frame, truth, _, _ = big_bank
    features = up.feature_matrix(frame, exclude=["clv", "p_churn_h"])
    model = up.TLearner(outcome="continuous", n_folds=3, seed=1)
    model.fit(features, frame["arm"], rr.aum_kept_ratio(frame))
    estimate = model.oof_uplift_[offer] * frame["aum_before"].to_numpy()
    assert spearmanr(estimate, truth[AUM_TRUTH_COLUMN[offer]]).statistic > threshold
