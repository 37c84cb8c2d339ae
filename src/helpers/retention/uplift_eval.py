"""Evaluating uplift scores: Qini and uplift curves, AUUC, bootstrap bands, deciles.

A targeting score (predicted uplift, churn risk, anything) ranks campaign customers; these
functions measure, on a randomised campaign, how many more customers are kept by contacting
them in that order than at random, with seeded, capped bootstrap bands, and where the
contacts go (persuadables, sure things, lost causes, sleeping dogs). Re-exported by
:mod:`helpers.retention.uplift`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.retention.ab import CONTROL


# ----------------------------------------------------------------------------- evaluation
def _ordered(score, treated, outcome, seed: int):
    score = np.asarray(score, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    outcome = np.asarray(outcome, dtype=float)
    if not len(score) == len(treated) == len(outcome):
        raise ValueError("score, treated and outcome must have the same length")
    if treated.all() or (~treated).all():
        raise ValueError("Qini needs both treated and control customers")
    # Random tie-breaking (seeded): with a stable sort alone, tied scores would keep the input
    # order, which is often sorted by arm and would fake an effect.
    shuffle = np.random.default_rng(seed).permutation(len(score))
    order = shuffle[np.argsort(-score[shuffle], kind="stable")]
    return treated[order], outcome[order]


def _cumulative_curves(treated: np.ndarray, outcome: np.ndarray):
    """Qini and uplift curves at every cut-off k = 1..n (k customers targeted)."""
    n = len(treated)
    n_treated = np.cumsum(treated)
    n_control = np.cumsum(~treated)
    y_treated = np.cumsum(np.where(treated, outcome, 0.0))
    y_control = np.cumsum(np.where(treated, 0.0, outcome))
    with np.errstate(invalid="ignore", divide="ignore"):
        qini = np.where(n_control > 0, y_treated - y_control * n_treated / n_control, 0.0)
        mean_t = np.where(n_treated > 0, y_treated / n_treated, 0.0)
        mean_c = np.where(n_control > 0, y_control / n_control, 0.0)
    gain = (mean_t - mean_c) * np.arange(1, n + 1)
    # Per customer of the population: both end at the average effect at 100% targeted.
    return qini / n_treated[-1], gain / n


def _on_grid(curve: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A curve at every cut-off k = 1..n read at shares ``grid`` (0 at share 0)."""
    n = len(curve)
    position = np.clip(np.round(grid * n).astype(int) - 1, -1, n - 1)
    return np.where(position >= 0, curve[np.maximum(position, 0)], 0.0)


def _curve_on_grid(treated, outcome, grid: np.ndarray):
    qini, gain = _cumulative_curves(treated, outcome)
    return _on_grid(qini, grid), _on_grid(gain, grid)


def qini_curve(score, treated, outcome, n_points: int = 101, seed: int = 0) -> pd.DataFrame:
    """Qini and uplift curves of a targeting score, on a grid of shares targeted.

    Customers are ranked by ``score`` (highest first). At the top k:
    ``qini = (Y_t(k) - Y_c(k) N_t(k) / N_c(k)) / N_t`` (incremental outcomes among the treated
    of the top k, per treated customer) and
    ``uplift = (mean_t(k) - mean_c(k)) k / N`` (incremental outcomes if the top k were
    treated, per customer). Both end at the average effect; ``random`` is the straight line
    random targeting would give.

    Returns
    -------
    DataFrame: ``fraction`` (0-1), ``qini``, ``uplift``, ``random``.
    """
    treated_o, outcome_o = _ordered(score, treated, outcome, seed)
    grid = np.linspace(0, 1, n_points)
    qini, gain = _curve_on_grid(treated_o, outcome_o, grid)
    return pd.DataFrame({"fraction": grid, "qini": qini, "uplift": gain, "random": grid * qini[-1]})


def qini_coefficient(score, treated, outcome, seed: int = 0) -> dict:
    """Area between a score's curves and random targeting (0 = no better than random).

    Returns
    -------
    dict: ``qini`` (area between the Qini curve and the random line), ``auuc`` (area under the
    uplift curve), ``auuc_over_random`` (AUUC minus the random line's area), ``ate`` (average
    effect: the curves' end point).
    """
    return _coefficients(*_cumulative_curves(*_ordered(score, treated, outcome, seed)))


def _coefficients(qini: np.ndarray, gain: np.ndarray) -> dict:
    """:func:`qini_coefficient` from the curves at every cut-off."""
    x = np.arange(0, len(qini) + 1) / len(qini)
    qini_full, gain_full = np.r_[0.0, qini], np.r_[0.0, gain]
    ate = float(qini[-1])
    area_qini = float(np.trapezoid(qini_full, x))
    area_gain = float(np.trapezoid(gain_full, x))
    return {
        "qini": area_qini - ate / 2,
        "auuc": area_gain,
        "auuc_over_random": area_gain - ate / 2,
        "ate": ate,
    }


def qini_bootstrap(
    scores: dict[str, Sequence[float]],
    treated,
    outcome,
    n_boot: int = 200,
    sample_cap: int | None = 20000,
    confidence: float = 0.95,
    n_points: int = 51,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bootstrap bands for the Qini curves and coefficients of several scores.

    Customers are resampled with replacement (the same resamples for every score, so the
    comparison between scores is paired); the scores are held fixed, so the bands show the
    outcome noise of the evaluation campaign, not the model's fitting noise. At most
    ``sample_cap`` customers are used (a seeded subsample) to keep it fast at scale.

    Returns
    -------
    curves : ``score``, ``fraction``, ``qini``, ``lower``, ``upper``.
    coefficients : ``score``, ``qini``, ``lower``, ``upper``, ``beats_random_share`` and, for
    every other score, the share of resamples in which this score's Qini is higher
    (``beats_<name>``).
    """
    rng = np.random.default_rng(seed)
    treated = np.asarray(treated, dtype=bool)
    outcome = np.asarray(outcome, dtype=float)
    arrays = {name: np.asarray(values, dtype=float) for name, values in scores.items()}
    n = len(treated)
    keep = np.arange(n)
    if sample_cap is not None and n > sample_cap:
        keep = np.sort(rng.choice(n, sample_cap, replace=False))
    grid = np.linspace(0, 1, n_points)
    alpha = (1 - confidence) / 2
    boot_curves = {name: np.empty((n_boot, n_points)) for name in arrays}
    boot_coefs = {name: np.empty(n_boot) for name in arrays}
    for b in range(n_boot):
        sample = rng.choice(keep, len(keep), replace=True)
        treated_b, outcome_b = treated[sample], outcome[sample]
        for name, values in arrays.items():
            # one ordering and one pass of cumulative sums give both the curve and the area
            curves = _cumulative_curves(*_ordered(values[sample], treated_b, outcome_b, seed + b))
            boot_curves[name][b] = _on_grid(curves[0], grid)
            boot_coefs[name][b] = _coefficients(*curves)["qini"]
    curve_rows, coef_rows = [], []
    for name, values in arrays.items():
        point = qini_curve(values[keep], treated[keep], outcome[keep], n_points, seed)
        curve_rows.append(
            pd.DataFrame(
                {
                    "score": name,
                    "fraction": grid,
                    "qini": point["qini"].to_numpy(),
                    "lower": np.quantile(boot_curves[name], alpha, axis=0),
                    "upper": np.quantile(boot_curves[name], 1 - alpha, axis=0),
                }
            )
        )
        row = {
            "score": name,
            "qini": qini_coefficient(values[keep], treated[keep], outcome[keep], seed)["qini"],
            "lower": float(np.quantile(boot_coefs[name], alpha)),
            "upper": float(np.quantile(boot_coefs[name], 1 - alpha)),
            "beats_random_share": float((boot_coefs[name] > 0).mean()),
        }
        for other in arrays:
            if other != name:
                row[f"beats_{other}"] = float((boot_coefs[name] > boot_coefs[other]).mean())
        coef_rows.append(row)
    return pd.concat(curve_rows, ignore_index=True), pd.DataFrame(coef_rows)


def uplift_by_decile(score, treated, outcome, n_bins: int = 10, seed: int = 0) -> pd.DataFrame:
    """Observed effect in each score decile (decile 1 = highest predicted uplift).

    A good model shows observed uplift falling from decile 1 to 10 and close to the
    predicted mean; a flat profile means the score does not separate persuadables.

    Returns
    -------
    DataFrame: ``decile``, ``customers``, ``n_treated``, ``n_control``, ``outcome_treated``,
    ``outcome_control``, ``observed_uplift``, ``predicted_uplift``.
    """
    score = np.asarray(score, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    outcome = np.asarray(outcome, dtype=float)
    shuffle = np.random.default_rng(seed).permutation(len(score))
    rank = np.empty(len(score), dtype=np.int64)
    rank[shuffle[np.argsort(-score[shuffle], kind="stable")]] = np.arange(len(score))
    decile = rank * n_bins // len(score) + 1
    frame = pd.DataFrame(
        {
            "decile": decile,
            "treated": treated,
            "y_t": np.where(treated, outcome, np.nan),
            "y_c": np.where(treated, np.nan, outcome),
            "score": score,
        }
    )
    table = frame.groupby("decile").agg(
        customers=("score", "size"),
        n_treated=("treated", "sum"),
        outcome_treated=("y_t", "mean"),
        outcome_control=("y_c", "mean"),
        predicted_uplift=("score", "mean"),
    )
    table["n_control"] = table["customers"] - table["n_treated"]
    table["observed_uplift"] = table["outcome_treated"] - table["outcome_control"]
    columns = [
        "customers",
        "n_treated",
        "n_control",
        "outcome_treated",
        "outcome_control",
        "observed_uplift",
        "predicted_uplift",
    ]
    return table[columns].reset_index()


# ----------------------------------------------------------------------------- who gets money
def response_types(p_control, p_treated) -> pd.DataFrame:
    """Expected share of each response type per customer from predicted stay probabilities.

    With P(stay) ``p0`` without and ``p1`` with the offer: persuadables ``max(p1 - p0, 0)``
    (stay only because of the offer), sleeping dogs ``max(p0 - p1, 0)`` (leave because they
    were contacted), sure things ``min(p0, p1)`` (stay either way), lost causes
    ``1 - max(p0, p1)`` (leave either way). The four add up to one for every customer.
    """
    p0 = np.clip(np.asarray(p_control, dtype=float), 0, 1)
    p1 = np.clip(np.asarray(p_treated, dtype=float), 0, 1)
    return pd.DataFrame(
        {
            "persuadable": np.maximum(p1 - p0, 0),
            "sure_thing": np.minimum(p0, p1),
            "lost_cause": 1 - np.maximum(p0, p1),
            "sleeping_dog": np.maximum(p0 - p1, 0),
        }
    )


def targeting_mix(
    p_control, p_treated, strategies: dict[str, Sequence[float]], n_contacts: int, seed: int = 0
) -> pd.DataFrame:
    """Where the contacts go: expected response-type mix of the top ``n_contacts`` by each score.

    ``strategies`` maps a name (e.g. ``"uplift"``, ``"risk"``, ``"random"``) to a score
    (higher = contact first). Returns one row per strategy with the expected number of
    persuadables, sure things, lost causes and sleeping dogs among those contacted, and
    ``expected_saved`` = persuadables - sleeping dogs (net customers kept).
    """
    types = response_types(p_control, p_treated)
    rng = np.random.default_rng(seed)
    rows = []
    for name, score in strategies.items():
        score = np.asarray(score, dtype=float)
        shuffle = rng.permutation(len(score))
        top = shuffle[np.argsort(-score[shuffle], kind="stable")][:n_contacts]
        sums = types.iloc[top].sum()
        rows.append(
            {
                "strategy": name,
                "contacts": len(top),
                **sums.to_dict(),
                "expected_saved": sums["persuadable"] - sums["sleeping_dog"],
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- per offer
def _offer_rows(arm, offer: str, control: str = CONTROL) -> np.ndarray:
    arm = np.asarray(pd.Series(arm).astype(str))
    return np.isin(arm, [offer, control])


def qini_table(
    uplift_by_learner: dict[str, pd.DataFrame],
    arm,
    outcome,
    risk=None,
    control: str = CONTROL,
    seed: int = 0,
) -> pd.DataFrame:
    """Qini coefficient and AUUC of each learner's uplift (and of churn risk), per offer.

    Returns
    -------
    DataFrame: ``offer``, ``score`` (learner name or ``"risk"``), ``qini``, ``auuc``.
    """
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    rows = []
    offers = next(iter(uplift_by_learner.values())).columns
    for offer in offers:
        keep = _offer_rows(arm, offer, control)
        scores = {name: frame[offer].to_numpy() for name, frame in uplift_by_learner.items()}
        if risk is not None:
            scores["risk"] = np.asarray(risk, dtype=float)
        for name, score in scores.items():
            result = qini_coefficient(score[keep], arm[keep] == offer, outcome[keep], seed)
            rows.append(
                {"offer": offer, "score": name, "qini": result["qini"], "auuc": result["auuc"]}
            )
    return pd.DataFrame(rows)


def qini_by_offer(
    uplift: pd.DataFrame,
    arm,
    outcome,
    risk=None,
    n_boot: int = 200,
    sample_cap: int | None = 20000,
    seed: int = 0,
    control: str = CONTROL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`qini_bootstrap` of the uplift score (and churn risk) for every offer vs control.

    Returns ``(curves, coefficients)`` as :func:`qini_bootstrap`, each with an ``offer`` column.
    """
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    curves, coefficients = [], []
    for offer in uplift.columns:
        keep = _offer_rows(arm, offer, control)
        scores = {"uplift": uplift[offer].to_numpy()[keep]}
        if risk is not None:
            scores["risk"] = np.asarray(risk, dtype=float)[keep]
        curve, coefficient = qini_bootstrap(
            scores, arm[keep] == offer, outcome[keep], n_boot, sample_cap, seed=seed
        )
        curves.append(curve.assign(offer=offer))
        coefficients.append(coefficient.assign(offer=offer))
    return pd.concat(curves, ignore_index=True), pd.concat(coefficients, ignore_index=True)


def deciles_by_offer(
    uplift: pd.DataFrame, arm, outcome, n_bins: int = 10, seed: int = 0, control: str = CONTROL
) -> pd.DataFrame:
    """:func:`uplift_by_decile` for every offer vs control, with an ``offer`` column."""
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    tables = []
    for offer in uplift.columns:
        keep = _offer_rows(arm, offer, control)
        table = uplift_by_decile(
            uplift[offer].to_numpy()[keep], arm[keep] == offer, outcome[keep], n_bins, seed
        )
        tables.append(table.assign(offer=offer))
    return pd.concat(tables, ignore_index=True)


def targeting_mix_by_offer(model, risk, share: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """:func:`targeting_mix` of uplift, risk-only and random targeting for each offer.

    ``model`` is a fitted learner (its out-of-fold predicted outcomes give P(stay) with and
    without the offer); the top ``share`` of the campaign customers are contacted.
    """
    rng = np.random.default_rng(seed)
    p_control = model.oof_outcome_[model.control].to_numpy()
    n_contacts = int(round(share * len(p_control)))
    tables = []
    for offer in model.offers_:
        p_offer = model.oof_outcome_[offer].to_numpy()
        strategies = {
            "uplift": model.oof_uplift_[offer].to_numpy(),
            "risk": np.asarray(risk, dtype=float),
            "random": rng.random(len(p_control)),
        }
        mix = targeting_mix(p_control, p_offer, strategies, n_contacts, seed)
        tables.append(mix.assign(offer=offer))
    return pd.concat(tables, ignore_index=True)
