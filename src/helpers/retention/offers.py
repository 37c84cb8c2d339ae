"""Offer terms: who the last campaign tested, what each offer costs a customer, whom it reaches.

The rules live in ``helpers/resources/config/offers.yaml`` (:func:`offer_rules`; an analyst passes
their own file). They are used three ways, always the same:

- :func:`campaign_population`: the next campaign's candidates meet the last campaign's
  eligibility rules, because its uplift estimates hold only for customers like those it tested;
- :func:`offer_cost_matrix`: the cost of each offer for each customer by the offer's rule
  (a rate coupon costs a share of the customer's balance, capped), used in values, ROI and the
  budget alike;
- :func:`reach_matrix`: an offer is an option only for the customers it can reach (a fee
  waiver on mobile banking reaches only digital customers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from helpers.formatting import Note
from helpers.paths import CONFIG_DIR

COST_KINDS = ("fixed", "aum_rate")


def offer_rules(path: str | Path | None = None) -> dict:
    """The offer rules (``offers.yaml``), checked: clear errors name the offer and the field.

    Returns
    -------
    dict with ``campaign_population`` (``min_aum``, ``at_risk_share``), ``uplift_features``
    (list) and ``offers`` (code -> ``cost``, ``reach``).
    """
    path = Path(path or CONFIG_DIR / "offers.yaml")
    with open(path, encoding="utf-8") as handle:
        rules = yaml.safe_load(handle) or {}
    problems = []
    population = rules.setdefault("campaign_population", {})
    population.setdefault("min_aum", 0.0)
    population.setdefault("at_risk_share", 1.0)
    if not 0 < float(population["at_risk_share"]) <= 1:
        problems.append("campaign_population.at_risk_share must be in (0, 1]")
    rules.setdefault("uplift_features", [])
    for code, offer in (rules.get("offers") or {}).items():
        cost = offer.get("cost") or {}
        kind = cost.get("kind")
        if kind not in COST_KINDS:
            problems.append(f"offers.{code}.cost.kind must be one of {COST_KINDS}, not {kind!r}")
        elif kind == "fixed" and not isinstance(cost.get("amount"), int | float):
            problems.append(f"offers.{code}.cost.amount (RMB) is missing or not a number")
        elif kind == "aum_rate":
            for field in ("annual_rate", "months", "cap"):
                if not isinstance(cost.get(field), int | float):
                    problems.append(f"offers.{code}.cost.{field} is missing or not a number")
        for i, condition in enumerate(offer.setdefault("reach", []) or []):
            if (
                not isinstance(condition, dict)
                or "column" not in condition
                or not {"min", "max"} & set(condition)
            ):
                problems.append(
                    f"offers.{code}.reach[{i}] must be {{column: <name>, min: value}} and/or max"
                )
    if not rules.get("offers"):
        problems.append("no offers defined (expected an 'offers:' block)")
    if problems:
        raise ValueError(f"offer rules {path}:\n- " + "\n- ".join(problems))
    return rules


def _rule(rules: Mapping, offer: str) -> dict | None:
    return (rules.get("offers") or {}).get(offer)


def offer_cost_matrix(
    frame: pd.DataFrame,
    offers: Sequence[str],
    rules: Mapping,
    overrides: Mapping[str, float] | None = None,
    default: float = 50.0,
) -> pd.DataFrame:
    """RMB each offer costs for each customer (rows of ``frame``), by the offer's cost rule.

    ``aum_rate``: ``min(annual_rate x aum x months / 12, cap)`` on the customer's ``aum``
    (a customer without one costs the cap: the dearest case, never a free coupon). ``fixed``:
    the amount. The analyst's ``overrides`` (RMB per customer) win; an offer without a rule
    costs ``default``.
    """
    overrides = dict(overrides or {})
    columns = {}
    for offer in offers:
        rule = (_rule(rules, offer) or {}).get("cost") or {}
        if offer in overrides:
            values = np.full(len(frame), float(overrides[offer]))
        elif rule.get("kind") == "aum_rate":
            aum = pd.to_numeric(frame.get("aum", pd.Series(np.nan, index=frame.index)))
            raw = float(rule["annual_rate"]) * aum.to_numpy(float) * float(rule["months"]) / 12
            values = np.where(
                np.isnan(raw), float(rule["cap"]), np.minimum(raw, float(rule["cap"]))
            )
        elif rule.get("kind") == "fixed":
            values = np.full(len(frame), float(rule["amount"]))
        else:
            values = np.full(len(frame), float(default))
        columns[offer] = np.maximum(values, 0.0)
    return pd.DataFrame(columns, index=frame.index)


def reach_matrix(frame: pd.DataFrame, offers: Sequence[str], rules: Mapping) -> pd.DataFrame:
    """Whether each offer can reach each customer (rows of ``frame``): every checkable condition
    (``min`` inclusive, ``max`` exclusive).

    A condition on a column ``frame`` lacks is skipped (see :func:`reach_notes`).
    """
    columns = {}
    for offer in offers:
        reach = np.ones(len(frame), dtype=bool)
        for condition in (_rule(rules, offer) or {}).get("reach", []) or []:
            if condition["column"] in frame.columns:
                values = pd.to_numeric(frame[condition["column"]], errors="coerce")
                if "min" in condition:
                    reach &= (values >= float(condition["min"])).fillna(False).to_numpy(bool)
                if "max" in condition:
                    reach &= (values < float(condition["max"])).fillna(False).to_numpy(bool)
        columns[offer] = reach
    return pd.DataFrame(columns, index=frame.index)


def reach_notes(frame: pd.DataFrame, offers: Sequence[str], rules: Mapping) -> list[Note]:
    """Which offers' reach could not be checked on this data (no column of its conditions)."""
    notes = []
    for offer in offers:
        conditions = (_rule(rules, offer) or {}).get("reach", []) or []
        if conditions and not any(c["column"] in frame.columns for c in conditions):
            notes.append(Note("rr_note_reach_unchecked", offer=offer))
    return notes


def campaign_population(frame: pd.DataFrame, rules: Mapping, risk: str = "p_churn_h") -> pd.Series:
    """Which rows meet the last campaign's eligibility rules (its tested population).

    ``aum >= min_aum`` and, when ``at_risk_share`` < 1, within the riskiest share of their tier
    (by ``risk``). Columns the frame lacks are not checked.
    """
    population = rules.get("campaign_population") or {}
    keep = pd.Series(True, index=frame.index)
    if "aum" in frame.columns:
        aum = pd.to_numeric(frame["aum"], errors="coerce")
        keep &= (aum >= float(population.get("min_aum", 0.0))).fillna(False)
    share = float(population.get("at_risk_share", 1.0))
    if share < 1 and risk in frame.columns:
        group = frame["tier"].astype(str) if "tier" in frame.columns else pd.Series("", frame.index)
        rank = frame[risk].where(keep).groupby(group).rank(ascending=False, method="first")
        size = keep.groupby(group).transform("sum")
        keep &= (rank <= np.ceil(share * size)).fillna(False)
    return keep


def uplift_feature_columns(frame: pd.DataFrame, rules: Mapping) -> list[str] | None:
    """The pre-registered uplift features the frame has; None (use all) when fewer than three."""
    listed = [c for c in rules.get("uplift_features") or [] if c in frame.columns]
    return listed if len(listed) >= 3 else None
