"""Multi-dimensional scores, named segments, the fish-pond grid and behavioural clusters.

Part of :mod:`helpers.tiering` (re-exported there). The business rules (score dimensions,
segment table, potential components, value bands, service strategy per grid cell) come from
``helpers/resources/config/tiering.yaml`` and can be replaced by the analyst's own.

Quantile scores and ties
------------------------
A score on ``n`` bands is ``1 + floor(n * below / count)``, where ``below`` is the number of
customers with a strictly worse value and ``count`` the customers with a value. Consequences:
equal values always get the same score (ten customers with zero transactions are all
scored 1, not spread over 1 and 2 by row order), the result does not depend on the row order,
and a band can be empty when a large tie straddles its boundary. Missing values get the worst
score (1): no recorded activity counts as no activity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from helpers.config import cross_sell_products
from helpers.paths import CONFIG_DIR

BANDS: tuple[str, ...] = ("low", "mid", "high")


@lru_cache(maxsize=4)
def _rules_yaml(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def tiering_rules(path: str | Path | None = None) -> dict:
    """Return the tiering business rules (a fresh copy of ``config/tiering.yaml``).

    Keys: ``score_dimensions``, ``segments`` (list of rules), ``potential`` (components),
    ``value_bands`` (tier code -> low/mid/high), ``strategies`` (one row per grid cell).
    """
    import copy

    return copy.deepcopy(_rules_yaml(str(path or CONFIG_DIR / "tiering.yaml")))


def _half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=float) + 0.5)


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


def quantile_scores(
    values: pd.Series,
    n: int = 5,
    *,
    higher_is_better: bool = True,
    missing_score: int = 1,
) -> pd.Series:
    """Score values 1..n by quantile band, ties sharing a score (see the module docstring).

    Parameters
    ----------
    values : Series
        Numeric (bool counts as 0/1).
    n : int
        Number of bands (5 for RFM-style quintiles, 3 for tertiles).
    higher_is_better : bool
        ``False`` for measures where less is better (days since the last transaction).
    missing_score : int
        Score for missing values.

    Returns
    -------
    Series
        int64 scores, same index as ``values``.

    Examples
    --------
    >>> quantile_scores(pd.Series([0, 0, 0, 0, 5, 6, 7, 8, 9, 10])).tolist()
    [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, not {n}")
    numeric = pd.to_numeric(values, errors="coerce").astype(float)
    if not higher_is_better:
        numeric = -numeric
    valid = numeric.notna().to_numpy()
    count = int(valid.sum())
    scores = np.full(len(numeric), missing_score, dtype=np.int64)
    if count:
        below = numeric[valid].rank(method="min").to_numpy(dtype=np.int64) - 1
        scores[valid] = 1 + (below * n) // count
    return pd.Series(scores, index=values.index, name=values.name)


def with_product_count(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``product_count`` (cross-sell products held), adding it if absent.

    Flat data has product flags ``held_<product>`` but no count: the count is the number of
    true flags, leaving out ``held_current_account`` (every customer holds one).
    """
    if "product_count" in frame:
        return frame
    flags = [c for c in frame.columns if c.startswith("held_") and c != "held_current_account"]
    if not flags:
        return frame
    result = frame.copy()
    result["product_count"] = (
        result[flags].astype("boolean").fillna(False).astype(bool).sum(axis=1).astype("int64")
    )
    return result


def score_customers(
    frame: pd.DataFrame,
    dimensions: Mapping[str, Mapping] | None = None,
    n: int = 5,
) -> pd.DataFrame:
    """Score customers 1..n on each dimension the data supports (RFM, depth, engagement).

    Parameters
    ----------
    frame : DataFrame
        ABT (panel) or canonical flat frame.
    dimensions : mapping, optional
        ``{dimension: {columns: [...], combine: first|mean, higher_is_better: bool}}``;
        default ``tiering_rules()["score_dimensions"]``.
    n : int
        Number of quantile bands.

    Returns
    -------
    DataFrame
        ``score_<dimension>`` int columns, same index as ``frame``, plus ``rfm_code`` (e.g.
        ``"545"``) when recency, frequency and monetary are all scored. ``attrs["columns"]``
        records which columns fed each dimension; ``attrs["missing"]`` the dimensions the data
        could not support.
    """
    dimensions = dimensions or tiering_rules()["score_dimensions"]
    frame = with_product_count(frame)
    scores = pd.DataFrame(index=frame.index)
    used: dict[str, list[str]] = {}
    missing: list[str] = []
    for dimension, rule in dimensions.items():
        present = [column for column in rule["columns"] if column in frame]
        if not present:
            missing.append(dimension)
            continue
        if rule.get("combine", "first") == "first":
            present = present[:1]
        parts = [
            quantile_scores(frame[column], n, higher_is_better=rule.get("higher_is_better", True))
            for column in present
        ]
        combined = _half_up(np.mean(np.column_stack(parts), axis=1)).astype(np.int64)
        scores[f"score_{dimension}"] = combined
        used[dimension] = present
    if {"score_recency", "score_frequency", "score_monetary"} <= set(scores.columns):
        scores["rfm_code"] = (
            scores["score_recency"].astype(str)
            + scores["score_frequency"].astype(str)
            + scores["score_monetary"].astype(str)
        )
    scores.attrs["columns"] = used
    scores.attrs["missing"] = missing
    return scores


def segment_dimensions(rules: Sequence[Mapping]) -> set[str]:
    """Dimensions that a segment rule table refers to."""
    names = {"recency", "frequency", "monetary", "depth", "engagement"}
    return {key for rule in rules for key in rule if key in names}


def missing_segment_dimensions(
    scores: pd.DataFrame, rules: Sequence[Mapping] | None = None
) -> list[str]:
    """Dimensions the segment rules need that ``scores`` lacks (empty list: segments possible)."""
    rules = rules or tiering_rules()["segments"]
    return sorted(d for d in segment_dimensions(rules) if f"score_{d}" not in scores)


def assign_segments(scores: pd.DataFrame, rules: Sequence[Mapping] | None = None) -> pd.Series:
    """Name each customer's segment from the rule table (first matching rule wins).

    Parameters
    ----------
    scores : DataFrame
        From :func:`score_customers` (``score_<dimension>`` columns).
    rules : sequence of mapping, optional
        ``[{code, name_zh, name_en, <dimension>: [min, max], ...}, ...]``; default
        ``tiering_rules()["segments"]``.

    Returns
    -------
    Series
        Categorical of segment codes in rule order; ``<NA>`` where no rule matched.
    """
    rules = rules or tiering_rules()["segments"]
    needed = segment_dimensions(rules)
    absent = sorted(d for d in needed if f"score_{d}" not in scores)
    if absent:
        raise ValueError(
            f"segment rules need score dimension(s) {absent}, which the data does not support "
            f"(scored: {[c[6:] for c in scores.columns if c.startswith('score_')]})"
        )
    codes = np.full(len(scores), None, dtype=object)
    open_rows = np.ones(len(scores), dtype=bool)
    for rule in rules:
        match = open_rows.copy()
        for dimension in needed & set(rule):
            low, high = rule[dimension]
            column = scores[f"score_{dimension}"].to_numpy()
            match &= (column >= low) & (column <= high)
        codes[match] = rule["code"]
        open_rows &= ~match
    categories = [rule["code"] for rule in rules]
    return pd.Series(
        pd.Categorical(codes, categories=categories), index=scores.index, name="segment"
    )


def segment_summary(
    frame: pd.DataFrame,
    segment: str = "segment",
    aum: str = "aum",
    rules: Sequence[Mapping] | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """Customers, share, AUM and AUM share per named segment, in rule order.

    Returns
    -------
    DataFrame
        ``segment`` (code), ``segment_name`` (in ``lang``), ``customers``, ``customer_share``, ``aum``,
        ``aum_share``, ``avg_aum``.
    """
    rules = rules or tiering_rules()["segments"]
    names = {rule["code"]: rule[f"name_{lang}"] for rule in rules}
    grouped = frame.groupby(segment, observed=False).agg(
        customers=(segment, "size"), aum=(aum, "sum")
    )
    grouped = grouped.reindex([rule["code"] for rule in rules], fill_value=0)
    total_aum = grouped["aum"].sum()
    table = pd.DataFrame(
        {
            "segment": grouped.index,
            "segment_name": grouped.index.map(names),
            "customers": grouped["customers"].astype("int64").to_numpy(),
            "customer_share": (grouped["customers"] / max(len(frame), 1)).to_numpy(),
            "aum": grouped["aum"].to_numpy(),
            "aum_share": (
                grouped["aum"] / total_aum if total_aum else grouped["aum"] * np.nan
            ).to_numpy(),
            "avg_aum": (grouped["aum"] / grouped["customers"].replace(0, np.nan)).to_numpy(),
        }
    )
    return table


# --------------------------------------------------------------------------------------------
# Value x potential (fish-pond) grid
# --------------------------------------------------------------------------------------------


def potential_scores(
    frame: pd.DataFrame,
    components: Sequence[Mapping] | None = None,
    cross_sell_count: int | None = None,
    required: bool = True,
) -> pd.DataFrame | None:
    """Potential (潜力) score: mean of the component scores the data supports, then tertiles.

    Parameters
    ----------
    frame : DataFrame
        ABT or flat frame.
    components : sequence of mapping, optional
        Default ``tiering_rules()["potential"]``; kinds ``quantile``, ``product_gap``,
        ``age_band``, ``flag`` (see the YAML file).
    cross_sell_count : int, optional
        Number of cross-sell products for the product gap; default: the ``held_*`` flags in
        ``frame`` (minus the current account), else the catalogue's cross-sell products.
    required : bool
        When no component can be computed: raise (True) or return None (False, for a report
        that then skips the grid with a note).

    Returns
    -------
    DataFrame
        ``potential_<component>`` scores (1..5), ``potential_index`` (their mean) and
        ``potential_band`` (``low``/``mid``/``high`` tertile of the index, ties sharing a
        band). ``attrs["components"]`` lists the components used.

    Raises
    ------
    ValueError
        When no component can be computed from the data and ``required`` is true.
    """
    components = components or tiering_rules()["potential"]
    frame = with_product_count(frame)
    parts = pd.DataFrame(index=frame.index)
    for component in components:
        name, kind = component["component"], component["kind"]
        column = component.get("column")
        if isinstance(column, list):  # candidates in order of preference
            column = next((candidate for candidate in column if candidate in frame), None)
        if kind == "quantile" and column in frame:
            parts[f"potential_{name}"] = quantile_scores(frame[column], 5)
        elif kind == "product_gap" and "product_count" in frame:
            if cross_sell_count is None:
                flags = [c for c in frame if c.startswith("held_") and c != "held_current_account"]
                if flags:
                    cross_sell_count = len(flags)
                else:
                    cross_sell_count = len(cross_sell_products())
            gap = (cross_sell_count - frame["product_count"].astype(float)).clip(lower=0)
            parts[f"potential_{name}"] = quantile_scores(gap, 5)
        elif kind == "age_band" and column in frame:
            age = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            score = np.full(len(frame), 1, dtype=np.int64)
            for band in component["bands"]:
                score[(age >= band["min"]) & (age <= band["max"])] = band["score"]
            parts[f"potential_{name}"] = score
        elif kind == "flag" and column in frame:
            flag = frame[column].fillna(False).astype(bool).to_numpy()
            parts[f"potential_{name}"] = np.where(flag, 5, 1).astype(np.int64)
    if parts.shape[1] == 0:
        if not required:
            return None
        wanted = [c.get("column") or c["kind"] for c in components]
        raise ValueError(f"no potential component can be computed: the data has none of {wanted}")
    parts["potential_index"] = parts.mean(axis=1)
    band = quantile_scores(parts["potential_index"], 3)
    parts["potential_band"] = pd.Categorical.from_codes(
        band.to_numpy() - 1, categories=list(BANDS), ordered=True
    )
    parts.attrs["components"] = [c[len("potential_") :] for c in parts.columns[:-2]]
    return parts


def value_bands(tiers: pd.Series, mapping: Mapping[str, str] | None = None) -> pd.Series:
    """Value band (low/mid/high) of each customer from their tier code; unmapped -> ``<NA>``."""
    mapping = mapping or tiering_rules()["value_bands"]
    bands = tiers.astype(object).map(mapping)
    return pd.Series(
        pd.Categorical(bands, categories=list(BANDS), ordered=True),
        index=tiers.index,
        name="value_band",
    )


def fishpond_grid(
    frame: pd.DataFrame,
    *,
    value: str = "value_band",
    potential: str = "potential_band",
    aum: str = "aum",
    strategies: Sequence[Mapping] | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """Value x potential (鱼塘) 3x3 grid with the recommended service strategy per cell.

    Returns
    -------
    DataFrame
        Nine rows (every value band x potential band, empty cells included): ``value_band``,
        ``potential_band``, ``customers``, ``customer_share``, ``aum`` (if the column exists),
        ``coverage`` (rm_dedicated / rm_shared / digital), ``retention_call`` (bool),
        ``action`` (in ``lang``).
    """
    strategies = strategies or tiering_rules()["strategies"]
    cells = pd.MultiIndex.from_product(
        [list(BANDS), list(BANDS)], names=["value_band", "potential_band"]
    )
    data = pd.DataFrame({"value_band": frame[value], "potential_band": frame[potential]})
    aggregations = {"customers": ("value_band", "size")}
    if aum in frame:
        data["aum"] = frame[aum].astype(float)
        aggregations["aum"] = ("aum", "sum")
    grid = data.groupby(["value_band", "potential_band"], observed=False).agg(**aggregations)
    grid = grid.reindex(cells, fill_value=0).reset_index()
    grid["value_band"] = grid["value_band"].astype(str)
    grid["potential_band"] = grid["potential_band"].astype(str)
    grid["customers"] = grid["customers"].astype("int64")
    grid.insert(
        3, "customer_share", grid["customers"] / max(int(data["value_band"].notna().sum()), 1)
    )
    table = pd.DataFrame(strategies).rename(
        columns={"value": "value_band", "potential": "potential_band"}
    )
    table["action"] = table[f"action_{lang}"]
    merged = grid.merge(
        table[["value_band", "potential_band", "coverage", "retention_call", "action"]],
        on=["value_band", "potential_band"],
        how="left",
    )
    if merged["coverage"].isna().any():
        lacking = merged.loc[merged["coverage"].isna(), ["value_band", "potential_band"]]
        raise ValueError(
            f"the strategy table has no row for grid cell(s) {lacking.values.tolist()}"
        )
    return merged


def strategy_for(
    value_band: pd.Series, potential_band: pd.Series, strategies: Sequence[Mapping] | None = None
) -> pd.DataFrame:
    """Per-customer service strategy (``coverage``, ``retention_call``) from the grid cell."""
    strategies = strategies or tiering_rules()["strategies"]
    table = pd.DataFrame(strategies).set_index(["value", "potential"])
    keys = pd.MultiIndex.from_arrays([value_band.astype(object), potential_band.astype(object)])
    found = table.reindex(keys)
    return pd.DataFrame(
        {
            "coverage": found["coverage"].to_numpy(),
            "retention_call": found["retention_call"].astype("boolean").to_numpy(),
        },
        index=value_band.index,
    )
