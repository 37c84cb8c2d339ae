"""Unit tests for helpers.retention.uplift: hand-computed curves and learners on simulated campaigns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LinearRegression

from helpers import retention as up


# ----------------------------------------------------------------------------- curves
def _tiny():
    score = [4, 3, 2, 1]
    treated = [True, False, True, False]
    outcome = [1, 0, 1, 1]
    return score, treated, outcome


def test_qini_curve_by_hand():
    curve = up.qini_curve(*_tiny(), n_points=5)
    # top 2: 1 treated stayer - 0 control stayers x 1/1 -> 1, per treated customer (2) -> .5
    # top 3: 2 - 0 -> 1.0; all 4: 2 - 1 x 2/2 = 1 -> .5 = the average effect (1 - .5)
    assert curve["qini"].tolist() == pytest.approx([0, 0, 0.5, 1.0, 0.5])
    # uplift curve: (mean_t - mean_c) x k / n -> .25, .5, .75, (1 - .5) x 1
    assert curve["uplift"].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 0.5])
    assert curve["random"].tolist() == pytest.approx([0, 0.125, 0.25, 0.375, 0.5])


def test_qini_coefficient_by_hand():
    result = up.qini_coefficient(*_tiny())
    # trapezoid over (0, .25, .5, .75, 1) of (0, 0, .5, 1, .5) = .4375; random area .25
    assert result["ate"] == pytest.approx(0.5)
    assert result["qini"] == pytest.approx(0.4375 - 0.25)
    assert result["auuc"] == pytest.approx(0.4375)
    # reversing the score ranks the one control stayer first: worse than random
    score, treated, outcome = _tiny()
    assert up.qini_coefficient([-s for s in score], treated, outcome)["qini"] < 0


def test_qini_ties_are_not_ordered_by_arm():
    # a constant score must look like random targeting even when rows are sorted by arm
    rng = np.random.default_rng(3)
    treated = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    outcome = rng.random(4000) < np.where(treated, 0.8, 0.7)
    result = up.qini_coefficient(np.zeros(4000), treated, outcome, seed=1)
    assert abs(result["qini"]) < 0.01


def test_uplift_by_decile_by_hand():
    score = np.arange(20, 0, -1)  # already in descending order
    treated = np.tile([True, False], 10)
    outcome = np.r_[[1, 0] * 2, [1, 1] * 8]  # first two deciles: treated stay, control leave
    table = up.uplift_by_decile(score, treated, outcome)
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["customers"].tolist() == [2] * 10
    assert table["observed_uplift"].tolist() == pytest.approx([1, 1] + [0] * 8)
    assert table.loc[0, "predicted_uplift"] == pytest.approx(19.5)


def test_response_types_and_targeting_mix_by_hand():
    types = up.response_types([0.6, 0.5], [0.8, 0.3])
    assert types.iloc[0].to_dict() == pytest.approx(
        {"persuadable": 0.2, "sure_thing": 0.6, "lost_cause": 0.2, "sleeping_dog": 0.0}
    )
    assert types.iloc[1]["sleeping_dog"] == pytest.approx(0.2)
    assert np.allclose(types.sum(axis=1), 1)
    p0, p1 = np.array([0.9, 0.1, 0.5]), np.array([0.92, 0.12, 0.8])
    mix = up.targeting_mix(p0, p1, {"risk": 1 - p0, "uplift": p1 - p0}, n_contacts=1)
    mix = mix.set_index("strategy")
    # risk picks the customer with p0 = .1: mostly a lost cause (1 - .12)
    assert mix.loc["risk", "lost_cause"] == pytest.approx(0.88)
    assert mix.loc["uplift", "persuadable"] == pytest.approx(0.3)
    assert mix.loc["uplift", "expected_saved"] > mix.loc["risk", "expected_saved"]


# ----------------------------------------------------------------------------- learners
def _simulated_campaign(n=6000, seed=11):
    """Two offers; coupon helps customers with x1 > 0, waiver helps everyone a little."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    arm = rng.choice(["control", "coupon", "waiver"], size=n)
    base = 1 / (1 + np.exp(-(0.8 + 0.8 * x2)))
    true_uplift = {
        "coupon": np.where(x1 > 0, 0.25, 0.0) * (1 - base) * 2,
        "waiver": np.full(n, 0.05),
    }
    p = base.copy()
    for offer, effect in true_uplift.items():
        p = np.where(arm == offer, np.clip(base + effect, 0, 1), p)
    stayed = rng.random(n) < p
    features = pd.DataFrame({"x1": x1, "x2": x2, "noise": rng.normal(size=n)})
    return features, arm, stayed, true_uplift, base


@pytest.mark.parametrize("learner", [up.TLearner, up.XLearner, up.DRLearner])
def test_learners_recover_heterogeneous_uplift(learner):
    features, arm, stayed, truth, base = _simulated_campaign()
    model = learner(n_folds=3, seed=0).fit(features, arm, stayed)
    assert model.offers_ == ["coupon", "waiver"]
    assert list(model.oof_uplift_.columns) == ["coupon", "waiver"]
    assert not model.oof_uplift_.isna().any().any()
    rho = spearmanr(model.oof_uplift_["coupon"], truth["coupon"]).statistic
    assert rho > 0.5
    # coupon's effect is large where x1 > 0 and nil elsewhere (true gap about .15); the
    # regularised learners shrink it but must keep most of it
    helped = features["x1"] > 0
    true_gap = truth["coupon"][helped].mean() - truth["coupon"][~helped].mean()
    gap = model.oof_uplift_["coupon"][helped].mean() - model.oof_uplift_["coupon"][~helped].mean()
    assert 0.5 * true_gap < gap < 1.3 * true_gap
    # the control-arm model is a churn-risk score: it tracks the true baseline
    assert spearmanr(model.oof_outcome_["control"], base).statistic > 0.6
    # fold-averaged predictions on new rows have the same shape
    predicted = model.predict(features.iloc[:10])
    assert predicted.shape == (10, 2) and predicted.index.equals(features.index[:10])
    # the learned score beats random targeting out of fold
    coupon = np.isin(arm, ["coupon", "control"])
    result = up.qini_coefficient(
        model.oof_uplift_["coupon"][coupon], arm[coupon] == "coupon", stayed[coupon]
    )
    assert result["qini"] > 0.01


@pytest.mark.parametrize("learner", [up.TLearner, up.XLearner, up.DRLearner])
def test_fit_cap_fits_on_a_stratified_sample_and_scores_everyone(learner):
    """At a bank's size each fold is fitted on at most fit_cap customers; arms and outcomes keep
    their shares, every customer still gets an out-of-fold uplift, and the signal survives."""
    features, arm, stayed, truth, _ = _simulated_campaign(n=12000, seed=5)
    seen = []

    model = learner(n_folds=3, seed=0, fit_cap=3000)
    fit_rows = []
    original = model._outcome_model

    def recording_model():
        estimator = original()
        fit = estimator.fit

        def counted(X, y, **kwargs):
            fit_rows.append(len(y))
            seen.append(float(np.mean(y)))
            return fit(X, y, **kwargs)

        estimator.fit = counted
        return estimator

    model._outcome_model = recording_model
    model.fit(features, arm, stayed)
    assert model.fitted_rows_ <= 3001
    # one outcome model per arm and fold (the X/DR-learners fit more on the same rows)
    assert max(fit_rows) < 3000 * 0.5  # an arm is about a third of the capped sample
    assert not model.oof_uplift_.isna().any().any() and len(model.oof_uplift_) == 12000
    assert abs(np.mean(seen) - float(np.mean(stayed))) < 0.03
    rho = spearmanr(model.oof_uplift_["coupon"], truth["coupon"]).statistic
    assert rho > 0.4
    # uncapped (cap above the fold size) is the same fit as no cap
    plain = learner(n_folds=3, seed=0).fit(features.iloc[:3000], arm[:3000], stayed[:3000])
    capped = learner(n_folds=3, seed=0, fit_cap=10**6).fit(
        features.iloc[:3000], arm[:3000], stayed[:3000]
    )
    pd.testing.assert_frame_equal(plain.oof_uplift_, capped.oof_uplift_)


def test_continuous_outcome_with_custom_estimator():
    rng = np.random.default_rng(5)
    n = 3000
    x = rng.normal(size=n)
    arm = rng.choice(["control", "offer"], size=n)
    aum = 1000 + 200 * x + np.where(arm == "offer", 100 + 100 * x, 0) + rng.normal(0, 50, n)
    model = up.TLearner(outcome="continuous", estimator=LinearRegression(), n_folds=4)
    model.fit(pd.DataFrame({"x": x}), arm, aum)
    # true uplift 100 + 100 x: a linear model recovers it almost exactly
    assert np.allclose(model.oof_uplift_["offer"], 100 + 100 * x, atol=15)
    xl = up.XLearner(outcome="continuous", estimator=LinearRegression(), n_folds=4)
    xl.effect_estimator = LinearRegression()
    xl.fit(pd.DataFrame({"x": x}), arm, aum)
    assert np.allclose(xl.oof_uplift_["offer"], 100 + 100 * x, atol=15)


def test_learner_input_errors_are_clear():
    features, arm, stayed, _, _ = _simulated_campaign(n=300)
    with pytest.raises(ValueError, match="no 'control' customers"):
        up.TLearner().fit(features, np.where(arm == "control", "coupon", arm), stayed)
    with pytest.raises(ValueError, match="no treated customers"):
        up.TLearner().fit(features, np.full(300, "control"), stayed)
    with pytest.raises(ValueError, match="same outcome"):
        up.TLearner().fit(features, arm, np.ones(300, bool))
    with pytest.raises(ValueError, match="missing outcomes"):
        up.TLearner().fit(features, arm, np.r_[np.nan, stayed[1:].astype(float)])
    with pytest.raises(ValueError, match="too small"):
        up.TLearner(n_folds=5).fit(features.iloc[:12], arm[:12], stayed[:12])
    with pytest.raises(ValueError, match="'binary' or 'continuous'"):
        up.TLearner(outcome="ordinal")


def test_qini_bootstrap_bands_and_pairwise_shares():
    features, arm, stayed, truth, base = _simulated_campaign(n=4000)
    keep = np.isin(arm, ["coupon", "control"])
    scores = {"truth": truth["coupon"][keep], "risk": (1 - base)[keep]}
    curves, coefficients = up.qini_bootstrap(
        scores, arm[keep] == "coupon", stayed[keep], n_boot=60, sample_cap=2000, seed=2
    )
    assert set(curves["score"]) == {"truth", "risk"}
    assert (curves["lower"] <= curves["upper"] + 1e-12).all()
    row = coefficients.set_index("score").loc["truth"]
    assert row["lower"] <= row["qini"] <= row["upper"]
    assert row["beats_random_share"] > 0.9 and "beats_risk" in coefficients.columns
    again, _ = up.qini_bootstrap(
        scores, arm[keep] == "coupon", stayed[keep], n_boot=60, sample_cap=2000, seed=2
    )
    pd.testing.assert_frame_equal(curves, again)  # seeded: same bands every run


def test_feature_matrix_drops_ids_and_labels():
    frame = pd.DataFrame(
        {
            "customer_id": ["001", "002"],
            "rm_id": ["r1", None],
            "aum": [1.0, 2.0],
            "payroll": [True, False],
            "channel": ["branch", "mobile"],
            "took_fund": [True, False],
            "churn_label": [False, True],
            "as_of": pd.to_datetime(["2026-10-31"] * 2),
        }
    )
    matrix = up.feature_matrix(frame)
    assert list(matrix.columns) == ["aum", "payroll", "channel_branch", "channel_mobile"]
    assert matrix["payroll"].tolist() == [1.0, 0.0]


def test_plots_return_axes_and_labels_translate():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.retention import plots as rp

    features, arm, stayed, truth, base = _simulated_campaign(n=1500)
    model = up.TLearner(n_folds=2, seed=0).fit(features, arm, stayed)
    curves, coefficients = up.qini_by_offer(model.oof_uplift_, arm, stayed, 1 - base, n_boot=5)
    assert set(coefficients["offer"]) == {"coupon", "waiver"}
    ax = rp.plot_qini(curves[curves["offer"] == "coupon"], "coupon", 100, 1000, lang="en")
    assert ax.get_xlabel() == "Share of customers contacted (%)"
    mix = up.targeting_mix_by_offer(model, 1 - base, share=0.3)
    assert set(mix["strategy"]) == {"uplift", "risk", "random"}
    assert rp.plot_targeting_mix(mix, "zh").get_title() == "钱花在了谁身上(模型预期,非实测)"
    deciles = up.deciles_by_offer(model.oof_uplift_, arm, stayed)
    assert rp.plot_uplift_deciles(deciles[deciles["offer"] == "waiver"], "waiver", "en")
    table = up.qini_table({"t": model.oof_uplift_}, arm, stayed, risk=1 - base)
    assert set(table["score"]) == {"t", "risk"}
    styled = rp.show_table(table, "en")
    assert "Targeting score" in styled.to_html() and "T-learner" in styled.to_html()
    plt.close("all")


def _three_arms(seed: int, n: int, effect_arm: str, feature: str):
    """A campaign with a control and two offers; ``effect_arm`` keeps more customers where
    ``feature`` is positive."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    arm = rng.choice(["control", "coupon", "waiver"], n)
    y = (rng.random(n) < 0.3 + 0.15 * (arm == effect_arm) * (X[feature] > 0)).astype(int)
    return X, arm, y


class _Nothing(dict):
    """A store of outcome models that never has one: every model is fitted."""

    def __contains__(self, key):
        return False


@pytest.mark.slow  # model recovery / equivalence: full suite only (make test-fast < 1 min)
def test_dr_learner_fits_each_inner_control_model_once_with_the_same_result():
    """The inner folds' control models do not depend on the offer: fitted once per fold and
    shared by the offers, the DR-learner gives what separate fits give."""
    X, arm, y = _three_arms(5, 2500, "coupon", "a")
    for cap in (None, 1200):
        shared = up.DRLearner(n_folds=3, seed=2, fit_cap=cap).fit(X, arm, y)
        separate = up.DRLearner(n_folds=3, seed=2, fit_cap=cap).fit(
            X, arm, y, outcome_models=_Nothing()
        )
        pd.testing.assert_frame_equal(shared.oof_uplift_, separate.oof_uplift_)
        pd.testing.assert_frame_equal(shared.oof_outcome_, separate.oof_outcome_)


@pytest.mark.parametrize("learner", [up.TLearner, up.XLearner, up.DRLearner])
def test_predicting_some_offers_gives_their_columns_of_the_full_prediction(learner):
    X, arm, y = _three_arms(8, 3000, "waiver", "b")
    model = learner(seed=1).fit(X, arm, y)
    new = X.iloc[:400] + 0.1
    full = model.predict(new)
    for offers in (["waiver"], ["coupon"], ["waiver", "coupon"]):
        pd.testing.assert_frame_equal(model.predict(new, offers=offers), full[offers])
    with pytest.raises(ValueError, match="not in the campaign"):
        model.predict(new, offers=["gift"])


@pytest.mark.slow  # model recovery / equivalence: full suite only (make test-fast < 1 min)
def test_learners_sharing_outcome_models_give_what_they_give_alone():
    """T-, X- and DR-learners on the same data fit the same per-arm outcome models in each
    fold; with a shared store each is fitted once and every learner's result is unchanged."""
    X, arm, y = _three_arms(9, 2500, "coupon", "a")
    for cap in (None, 1200):
        store: dict = {}
        for learner in (up.TLearner, up.XLearner, up.DRLearner):
            alone = learner(n_folds=3, seed=4, fit_cap=cap).fit(
                X, arm, y, outcome_models=_Nothing()
            )
            shared = learner(n_folds=3, seed=4, fit_cap=cap).fit(X, arm, y, outcome_models=store)
            pd.testing.assert_frame_equal(shared.oof_uplift_, alone.oof_uplift_)
            pd.testing.assert_frame_equal(shared.oof_outcome_, alone.oof_outcome_)
            pd.testing.assert_frame_equal(shared.predict(X.iloc[:300]), alone.predict(X.iloc[:300]))
        # T: 3 arms x 3 folds; X and the DR's outer control reuse them. The DR's nested models
        # (3 outer x 2 inner folds x 3 arms) are fitted on other customers; uncapped, outer k
        # with inner j and outer j with inner k train on the same folds: half of them
        assert len(store) == 9 + (3 * 2 * 3 // 2 if cap is None else 3 * 2 * 3)
