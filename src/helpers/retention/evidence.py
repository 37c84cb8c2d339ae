"""Does the uplift model earn its place in the plan? Held-out evidence, learner choice, gate.

A customer-level uplift model is used to plan the next campaign only when the campaign's own
held-out outcomes support it (:func:`uplift_evidence`):

1. its Qini coefficient's bootstrap lower bound is above zero (it finds persuadables better
   than random, beyond the outcome noise), and
2. it beats targeting by churn risk alone on the same held-out outcomes.

Held-out means out-of-fold: each customer's score comes from models that never saw them
(:class:`~helpers.retention.uplift.TLearner` and friends). The learner is chosen per offer on
that held-out Qini (:func:`choose_learners`). Otherwise the plan falls back to the A/B effect
per offer and segment (:mod:`helpers.retention.segments`) and the notebook says so
(:func:`evidence_notes`). The targeting comparison (:func:`targeting_outcomes`) is measured
on held-out outcomes too, never on a model's own predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.formatting import Note
from helpers.retention.ab import CONTROL, proportion_difference
from helpers.retention.uplift_eval import qini_bootstrap

#: Learner codes in the order they are tried; ``"auto"`` picks among them per offer.
LEARNER_CODES = ("t", "x", "dr")
#: Name of the churn-risk score in the Qini tables.
RISK = "risk"


def qini_by_learner(
    uplift_by_learner: Mapping[str, pd.DataFrame],
    arm,
    outcome,
    risk=None,
    n_boot: int = 200,
    sample_cap: int | None = 20000,
    confidence: float = 0.95,
    seed: int = 0,
    control: str = CONTROL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired bootstrap Qini curves and coefficients of every learner (and risk), per offer.

    Returns ``(curves, coefficients)`` as :func:`qini_bootstrap`, with an ``offer`` column;
    ``coefficients`` has ``beats_<score>`` for every other score (share of resamples won).
    """
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    offers = list(next(iter(uplift_by_learner.values())).columns)
    curves, coefficients = [], []
    for offer in offers:
        keep = np.isin(arm, [offer, control])
        scores = {name: frame[offer].to_numpy()[keep] for name, frame in uplift_by_learner.items()}
        if risk is not None:
            scores[RISK] = np.asarray(risk, dtype=float)[keep]
        curve, coefficient = qini_bootstrap(
            scores, arm[keep] == offer, outcome[keep], n_boot, sample_cap, confidence, seed=seed
        )
        curves.append(curve.assign(offer=offer))
        coefficients.append(coefficient.assign(offer=offer))
    return pd.concat(curves, ignore_index=True), pd.concat(coefficients, ignore_index=True)


def choose_learners(coefficients: pd.DataFrame, learner: str = "auto") -> dict[str, str]:
    """The learner used for each offer: the highest held-out Qini (``"auto"``), or the one named."""
    chosen = {}
    for offer, rows in coefficients.groupby("offer", sort=False):
        learners = rows[rows["score"] != RISK]
        if learner != "auto" and learner in set(learners["score"]):
            chosen[offer] = learner
        else:
            chosen[offer] = str(learners.sort_values("qini", ascending=False)["score"].iloc[0])
    return chosen


def uplift_evidence(coefficients: pd.DataFrame, chosen: Mapping[str, str]) -> pd.DataFrame:
    """One row per offer: the chosen learner's held-out Qini, its interval, risk-only's, the gate.

    Columns: ``offer``, ``learner``, ``qini``, ``lower``, ``upper``, ``risk_qini``,
    ``beats_risk_share`` (share of bootstrap resamples where it beats risk-only),
    ``beats_random`` (lower bound > 0), ``beats_risk`` (Qini above risk-only's on the same
    outcomes), ``uses_model`` (both: the plan uses the model for this offer).
    """
    rows = []
    for offer, learner in chosen.items():
        table = coefficients[coefficients["offer"] == offer].set_index("score")
        own = table.loc[learner]
        risk_qini = float(table.loc[RISK, "qini"]) if RISK in table.index else float("-inf")
        beats_random = bool(own["lower"] > 0)
        beats_risk = bool(own["qini"] > risk_qini)
        rows.append(
            {
                "offer": offer,
                "learner": learner,
                "qini": float(own["qini"]),
                "lower": float(own["lower"]),
                "upper": float(own["upper"]),
                "risk_qini": risk_qini if np.isfinite(risk_qini) else np.nan,
                "beats_risk_share": float(own.get(f"beats_{RISK}", np.nan)),
                "beats_random": beats_random,
                "beats_risk": beats_risk,
                "uses_model": beats_random and beats_risk,
            }
        )
    return pd.DataFrame(rows)


def evidence_notes(evidence: pd.DataFrame) -> list[Note]:
    """In words, per offer: the plan uses the uplift model, or the A/B effects, and why."""
    notes = []
    for row in evidence.itertuples():
        values = dict(offer=row.offer, learner=row.learner.upper(), qini=row.qini,
                      lower=row.lower, risk=row.risk_qini)  # fmt: skip
        if row.uses_model:
            notes.append(Note("rr_evidence_model", **values))
        elif not row.beats_random:
            notes.append(Note("rr_evidence_not_above_random", **values))
        else:
            notes.append(Note("rr_evidence_not_above_risk", **values))
    return notes


def targeting_outcomes(
    scores: Mapping[str, Sequence[float]],
    arm,
    outcome,
    offer: str,
    share: float = 0.3,
    confidence: float = 0.95,
    seed: int = 0,
    control: str = CONTROL,
) -> pd.DataFrame:
    """What contacting the top ``share`` by each score achieved, from held-out outcomes.

    Among the campaign's ``offer`` and control customers, the top ``share`` by each strategy's
    score (out-of-fold: no customer scored by a model that saw them) is compared arm against
    arm: ``difference`` (retention of the offer's customers minus control's) with its interval,
    and ``saved`` = difference x ``contacts`` (extra customers kept per that many contacts),
    with ``saved_low`` / ``saved_high``. A ``"random"`` strategy (seeded) is added.
    """
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    keep = np.flatnonzero(np.isin(arm, [offer, control]))
    rng = np.random.default_rng(seed)
    strategies = dict(scores)
    strategies["random"] = rng.random(len(arm))
    contacts = int(round(share * len(keep)))
    rows = []
    for name, score in strategies.items():
        score = np.asarray(score, dtype=float)[keep]
        shuffle = rng.permutation(len(keep))
        top = keep[shuffle[np.argsort(-score[shuffle], kind="stable")][:contacts]]
        treated = arm[top] == offer
        if treated.all() or not treated.any():
            continue
        result = proportion_difference(
            outcome[top][treated].sum(), treated.sum(), outcome[top][~treated].sum(),
            (~treated).sum(), confidence,
        )  # fmt: skip
        rows.append(
            {
                "offer": offer,
                "strategy": name,
                "contacts": contacts,
                "difference": result["difference"],
                "ci_low": result["ci_low"],
                "ci_high": result["ci_high"],
                "saved": result["difference"] * contacts,
                "saved_low": result["ci_low"] * contacts,
                "saved_high": result["ci_high"] * contacts,
            }
        )
    return pd.DataFrame(rows)
