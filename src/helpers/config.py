"""Business configuration: product catalogue, tier ladder, churn definition.

The YAML files under ``helpers/config/`` are the defaults; analysts can pass their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

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


def assign_tiers(aum, ladder: pd.DataFrame | None = None) -> pd.Series:
    """Tier code for each AUM value on a ladder (lower bound inclusive, upper exclusive).

    Negative AUM falls in the lowest tier; missing AUM gives a missing tier. Returns an ordered
    categorical Series with the ladder's codes as categories.
    """
    import numpy as np

    ladder = tier_ladder() if ladder is None else ladder
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
