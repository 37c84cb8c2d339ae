"""Business configuration: product catalogue, tier ladder, churn definition.

The YAML files under ``helpers/resources/config/`` are the defaults; analysts can pass their
own. The tier ladder and the rule that puts an AUM value on it live here, once, because the
ABT, the survival frames and every notebook tier customers the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from helpers.paths import CONFIG_DIR


def _read_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=4)
def _catalogue_yaml(path: str) -> dict:
    return _read_yaml(Path(path))


def product_catalogue(path: str | Path | None = None) -> pd.DataFrame:
    """Return the product catalogue.

    Columns: ``code``, ``name_zh``, ``name_en``, ``category``, ``margin_rate`` (annual, on
    balance), ``annual_value`` (RMB per new holder a year), ``balance_column``, ``cross_sell``.
    """
    raw = _catalogue_yaml(str(path or CONFIG_DIR / "products.yaml"))
    return pd.DataFrame(raw["products"])


def cross_sell_products(path: str | Path | None = None) -> list[str]:
    """Codes of the products that are cross-sell targets, in catalogue order."""
    catalogue = product_catalogue(path)
    return catalogue.loc[catalogue["cross_sell"], "code"].tolist()


def margin_rates(path: str | Path | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Return (balance_margins, flow_margins): annual rates on balances, rates on monthly flows."""
    raw = _catalogue_yaml(str(path or CONFIG_DIR / "products.yaml"))
    return dict(raw["balance_margins"]), dict(raw["flow_margins"])


def tier_ladder(path: str | Path | None = None) -> pd.DataFrame:
    """Return the AUM tier ladder: ``code``, ``name_zh``, ``name_en``, ``lower`` (inclusive).

    The upper bound of each tier is the next tier's lower bound (exclusive).
    """
    raw = _read_yaml(Path(path or CONFIG_DIR / "tiers.yaml"))
    ladder = pd.DataFrame(raw["tiers"]).sort_values("lower").reset_index(drop=True)
    ladder["upper"] = ladder["lower"].shift(-1).fillna(float("inf"))
    return ladder


@dataclass(frozen=True)
class ChurnDefinition:
    """What counts as a customer leaving (流失).

    Parameters
    ----------
    kind : {"hard", "soft", "either"}
        ``hard``: the account is closed (customers.close_date). ``soft``: AUM run-off, i.e. for
        ``soft_months`` consecutive months AUM is below ``soft_floor`` or below
        ``(1 - soft_drop)`` times its trailing 12-month average. ``either``: whichever comes first.
    soft_floor : float
        RMB floor for soft churn.
    soft_drop : float
        Fractional fall from the trailing 12-month average AUM that counts as run-off.
    soft_months : int
        Consecutive months the condition must hold. Soft churn is dated at the month the run
        is *confirmed* (its last month), so a label within (M, M+h] needs data up to M+h only.
    """

    kind: str = "either"
    soft_floor: float = 1000.0
    soft_drop: float = 0.8
    soft_months: int = 3

    def __post_init__(self) -> None:
        if self.kind not in {"hard", "soft", "either"}:
            raise ValueError(f"churn kind must be 'hard', 'soft' or 'either', not {self.kind!r}")
        if not 0 < self.soft_drop < 1:
            raise ValueError(f"soft_drop must be between 0 and 1, not {self.soft_drop}")
        if self.soft_months < 1:
            raise ValueError(f"soft_months must be at least 1, not {self.soft_months}")

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_ladder(
    thresholds: Sequence[float] | None = None,
    ladder: pd.DataFrame | str | Path | None = None,
) -> pd.DataFrame:
    """Return a tier ladder, optionally with its thresholds overridden.

    Parameters
    ----------
    thresholds : sequence of float, optional
        New lower bounds (RMB, inclusive) of every tier except the lowest, in ascending
        order: for the default 4-tier ladder, e.g. ``[50000, 500000, 6000000]``. ``None``
        or empty keeps the ladder's own bounds.
    ladder : DataFrame or path, optional
        A ladder as returned by :func:`helpers.config.tier_ladder` (``code``, ``name_zh``,
        ``name_en``, ``lower``), or the path of a YAML file in that format. Default: the
        bundled ladder.

    Returns
    -------
    DataFrame
        ``code``, ``name_zh``, ``name_en``, ``lower`` (inclusive), ``upper`` (exclusive), sorted
        by ``lower``.

    Raises
    ------
    ValueError
        When the thresholds do not match the number of tiers or are not strictly increasing.
    """
    if ladder is None or isinstance(ladder, str | Path):
        ladder = tier_ladder(ladder)
    ladder = ladder.sort_values("lower").reset_index(drop=True).copy()
    if thresholds is None or len(thresholds) == 0:
        ladder["upper"] = ladder["lower"].shift(-1).fillna(float("inf"))
        return ladder
    expected = len(ladder) - 1
    if len(thresholds) != expected:
        raise ValueError(
            f"tier_thresholds has {len(thresholds)} values {list(thresholds)}; the ladder has "
            f"{len(ladder)} tiers ({', '.join(ladder['code'])}), so it needs {expected} lower "
            f"bounds, one for every tier above the lowest, in ascending order"
        )
    try:
        bounds = np.asarray([float(value) for value in thresholds])
    except (TypeError, ValueError):
        raise ValueError(f"tier_thresholds must be numbers (RMB), not {list(thresholds)}") from None
    steps = np.diff(np.concatenate([[ladder["lower"].iloc[0]], bounds]))
    if not np.isfinite(bounds).all() or (steps <= 0).any():
        raise ValueError(
            f"tier_thresholds must be finite and strictly increasing, each above the lowest "
            f"tier's bound {ladder['lower'].iloc[0]:,.0f}; got {list(thresholds)}"
        )
    ladder.loc[1:, "lower"] = bounds
    ladder["lower"] = ladder["lower"].astype(float)
    ladder["upper"] = ladder["lower"].shift(-1).fillna(float("inf"))
    return ladder


def assign_tiers(
    values: pd.Series | Sequence[float],
    ladder: pd.DataFrame | None = None,
    *,
    missing: str = "na",
) -> pd.Series:
    """Assign each value to its tier on the ladder.

    Parameters
    ----------
    values : Series or sequence of float
        AUM (or another value measure) in RMB, one per customer.
    ladder : DataFrame, optional
        From :func:`resolve_ladder`; default the bundled ladder.
    missing : {"na", "raise"}
        What to do with missing values: leave the tier missing, or raise.

    Returns
    -------
    Series
        Ordered Categorical of tier codes, same index as ``values`` (a plain sequence gets a
        RangeIndex). A value equal to a lower bound belongs to that tier (``lower`` inclusive,
        ``upper`` exclusive); values below the lowest bound belong to the lowest tier.
    """
    if missing not in {"na", "raise"}:
        raise ValueError(f"missing must be 'na' or 'raise', not {missing!r}")
    ladder = resolve_ladder(ladder=ladder)
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    numeric = pd.to_numeric(series, errors="coerce").astype(float)
    not_numbers = numeric.isna() & series.notna()
    if not_numbers.any():
        rows = np.flatnonzero(not_numbers.to_numpy())[:10].tolist()
        examples = series[not_numbers].head(5).tolist()
        raise ValueError(
            f"tier values must be numbers (RMB); rows {rows} hold {examples}. "
            f"Convert them (thousands separators, currency signs) before tiering."
        )
    is_missing = numeric.isna().to_numpy()
    if missing == "raise" and is_missing.any():
        rows = np.flatnonzero(is_missing)[:10].tolist()
        raise ValueError(
            f"{int(is_missing.sum())} customers have no AUM value to tier (rows {rows}...); "
            f"fill or drop them, or call assign_tiers(..., missing='na')"
        )
    # The shared rule (architecture.md §9): lower bound inclusive, below the ladder -> lowest.
    tiers = _tiers_on(numeric, ladder)
    tiers.index = series.index
    return tiers


def _tiers_on(aum, ladder: pd.DataFrame) -> pd.Series:
    """Tier code for each AUM value on a ladder (lower bound inclusive, upper exclusive).

    Negative AUM falls in the lowest tier; missing AUM gives a missing tier. Returns an ordered
    categorical Series with the ladder's codes as categories.
    """
    values = pd.Series(aum, dtype="float64")
    lowers = ladder["lower"].to_numpy(dtype="float64")
    # searchsorted(side="right") - 1: a value equal to a lower bound belongs to that tier
    positions = np.searchsorted(lowers, values.to_numpy(), side="right") - 1
    positions = np.clip(positions, 0, len(lowers) - 1)
    codes = np.where(values.isna().to_numpy(), -1, positions)
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=list(ladder["code"]), ordered=True),
        index=values.index,
        name="tier",
    )
